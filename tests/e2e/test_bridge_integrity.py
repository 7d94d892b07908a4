# SPDX-License-Identifier: MIT
"""Nothing lost, nothing twice, in order (issue 11, points 4, 9, 11 and
12(d); docs/behaviour.md): an audio file's caption goes exactly once
whatever the retries, and only once the file went; a store that cannot
write makes the webhook answer 500 (Meta delivers again, and that delivery
is not dropped as a duplicate) and bounces a user's message with an error;
accounts of a domain no longer allowed are refused, not deleted; a text
written after a picture reaches the user after the picture.  Every test
runs against Prosody and ejabberd."""

import base64
import os
import signal
import sqlite3

from harness.network import Tracker, error_text
from harness.util import wait_for
from test_media import CONTACT, CONTACT2, _send_file, _upload


# --- point 4: a caption apart from its file goes exactly once ------------------

def _audio(bridge, c, xmpp_server):
    ogg = b"OggS" + os.urandom(900)
    return _upload(c, xmpp_server, ogg, "note.ogg", "audio/ogg")


def test_audio_caption_sent_once_whatever_the_retries(bridge, xmpp_server):
    """Two transient errors (131000) on the audio's send: three uploads,
    one audio message, and the caption once, after it."""
    c = bridge.client()
    bridge.open_window(CONTACT)
    url = _audio(bridge, c, xmpp_server)
    bridge.fail(131000, count=2)
    _send_file(bridge, c, url, caption="listen")
    sent = bridge.wait_sent(2, CONTACT, timeout=30)
    bridge.send(c, CONTACT, "after the file")
    sent = bridge.wait_sent(3, CONTACT)
    bridge.idle()
    sent = bridge.sent(CONTACT)
    assert [s["type"] for s in sent] == ["audio", "text", "text"], sent
    assert [s["payload"].get("body") for s in sent[1:]] == \
        ["listen", "after the file"], sent
    assert len(bridge.requests("/%s/media" % bridge.pnid, "POST")) == 3


def test_audio_caption_folded_into_the_bounce(bridge, xmpp_server):
    """The audio fails for good: no caption reaches WhatsApp, and the
    bounce names it."""
    c = bridge.client()
    bridge.open_window(CONTACT)
    url = _audio(bridge, c, xmpp_server)
    bridge.fail(100)
    mid = _send_file(bridge, c, url, caption="listen to this")
    e = bridge.wait_error(c, mid)
    assert 'caption "listen to this" was not sent' in error_text(e), e.xml
    bridge.send(c, CONTACT, "next")
    sent = bridge.wait_sent(1, CONTACT)
    assert [s["payload"].get("body") for s in sent] == ["next"], sent


# --- point 9: a store that cannot write loses nothing silently -----------------

BIG = "\u00e9" * 4000       # 8 KB: needs pages a full store cannot add


def _store_limited(b, limited):
    """Restart ferry with its store unable to grow past its size (VACUUMed,
    so no free page is left: FERRY_TEST_MAX_PAGES), or without the limit."""
    rc, _ = b.ferry.stop(signal.SIGTERM, timeout=10)
    assert rc == 0, rc
    b.ferry.env.pop("FERRY_TEST_MAX_PAGES", None)
    if limited:
        con = sqlite3.connect(b.ferry.store_path)
        try:
            con.execute("VACUUM")
            pages = con.execute("PRAGMA page_count").fetchone()[0]
        finally:
            con.close()
        b.ferry.env["FERRY_TEST_MAX_PAGES"] = str(pages)
    b.start_ferry()


def test_store_full_webhook_answers_500_and_redelivery_is_kept(bridge):
    """The message row that dedupes must not commit without the stanza:
    500, and Meta's next delivery (once the store has room) reaches the
    user."""
    c = bridge.client()
    bridge.wait_chat(c, bridge.inbound_text(CONTACT, "hello", name="Ana"))
    _store_limited(bridge, True)
    r = bridge.inbound(CONTACT, BIG, name="Ana", wait="first")
    wamid = r["wamids"][0]
    first = bridge.deliveries(wamid=wamid)[0]["attempts"][0]
    assert first["status"] == 500, first
    assert bridge.count("message", "network_id = ?", wamid) == 0
    assert bridge.ferry.wait_log(r"not stored \(store error\)")
    _store_limited(bridge, False)
    m = bridge.wait_chat(c, wamid, timeout=60)
    assert m.body == BIG
    d = bridge.deliveries(wamid=wamid)[0]
    assert d["ok"] and d["attempts"][-1]["status"] == 200, d


def test_store_full_user_message_bounces(bridge):
    """A message the store cannot hold bounces (wait, resource-constraint)
    instead of vanishing; the next one, with room again, goes."""
    c = bridge.client()
    bridge.open_window(CONTACT)
    bridge.send(c, CONTACT, "warm up")
    bridge.wait_sent(1, CONTACT)
    _store_limited(bridge, True)
    mid = bridge.send(c, CONTACT, BIG)
    e = bridge.wait_error(c, mid)
    assert "resource-constraint" in e.xml and "type=\"wait\"" in \
        e.xml.replace("'", '"'), e.xml
    assert "could not store this message" in error_text(e), e.xml
    _store_limited(bridge, False)
    bridge.send(c, CONTACT, "after")
    bridge.wait_sent(2, CONTACT)
    assert bridge.sent_bodies(CONTACT) == ["warm up", "after"]


# --- point 12(d): a file keeps its place in its contact's order ---------------

def test_text_after_a_slow_picture_waits_for_it(bridge):
    """The fake serves the picture slowly (1.5 s per Graph request): the
    texts written after it reach the user after it and its caption, and
    another contact's text does not wait."""
    c = bridge.client()
    t = Tracker(c)
    bridge.wait_chat(c, bridge.inbound_text(CONTACT, "before", name="Ana"))
    bridge.config(slow_ms=1500)
    r = bridge.inbound(CONTACT, type="image", name="Ana", caption="look",
                       data_b64=base64.b64encode(os.urandom(2000)).decode())
    pic = r["wamids"][0]
    after = bridge.inbound_text(CONTACT, "after the picture", name="Ana")
    other = bridge.inbound_text(CONTACT2, "meanwhile", name="Bo")
    bridge.wait_chat(c, other)
    assert t.index(lambda s: s.id == pic) is None, "picture came too fast"
    bridge.wait_chat(c, after)
    order = [s.id for _, s in t.snapshot() if s.id in
             (pic, pic + "-caption", after)]
    assert order == [pic, pic + "-caption", after], order
    assert bridge.wait_chat(c, pic).body.startswith(bridge.ferry.url)


# --- point 11: allowed_domains as an admin expects; the chat Register --------

def test_allowed_domains_compared_case_insensitively(make_bridge,
                                                    xmpp_server):
    b = make_bridge(gateway_allowed_domains="other.test "
                    + xmpp_server.domain.upper())
    c = b.client(register=False)
    r = b.register(c)
    assert r.type == "result", r.xml


def test_account_of_a_domain_no_longer_allowed_is_refused_and_kept(bridge):
    c = bridge.client()
    bridge.open_window(CONTACT)
    bridge.send(c, CONTACT, "while allowed")
    bridge.wait_sent(1, CONTACT)
    f = bridge.ferry
    f.cfg["gateway"]["allowed_domains"] = "other.test"
    f.write_config()
    f.signal(signal.SIGHUP)
    f.wait_log(r"configuration reloaded")
    mid = bridge.send(c, CONTACT, "after the change")
    e = bridge.wait_error(c, mid)
    assert "forbidden" in e.xml, e.xml
    assert "no longer allowed" in error_text(e), e.xml
    assert "kept" in error_text(e), e.xml
    r = bridge.register(c)
    assert r.type == "error" and "forbidden" in r.xml, r.xml
    assert bridge.count("account", "jid = ?", c.jid.split("/")[0]) == 1
    # after a restart too; nothing reached WhatsApp
    bridge.restart_ferry()
    mid = bridge.send(c, CONTACT, "after the restart")
    assert "no longer allowed" in error_text(bridge.wait_error(c, mid))
    assert bridge.sent_bodies(CONTACT) == ["while allowed"]
    # allowed again: the kept account works as before
    n = len(f.log_lines(r"configuration reloaded"))
    f.cfg["gateway"]["allowed_domains"] = bridge.server.domain
    f.write_config()
    f.signal(signal.SIGHUP)
    wait_for(lambda: len(f.log_lines(r"configuration reloaded")) > n, 20)
    bridge.send(c, CONTACT, "back")
    bridge.wait_sent(2, CONTACT)


def test_chat_register_warns_the_token_stays_in_the_history(bridge):
    c = bridge.client(register=False)
    gw = bridge.gw
    c.send_message(gw, "help")
    m = c.wait_message(lambda m: m.frm == gw and m.body, timeout=20)
    assert "stays in your chat history" in m.body, m.body
    assert "registration form" in m.body, m.body
    c.send_message(gw, "register %s %s" % (bridge.pnid, bridge.token))
    m = c.wait_message(lambda m: m.frm == gw and m.body
                       and "Registered" in m.body, timeout=20)
    assert "access token is now in this chat's history" in m.body, m.body
    assert "registration form" in m.body, m.body


def _store_sql(b, sql):
    """Run sql on ferry's store while ferry is stopped, then start it."""
    rc, _ = b.ferry.stop(signal.SIGTERM, timeout=10)
    assert rc == 0, rc
    con = sqlite3.connect(b.ferry.store_path)
    try:
        con.executescript(sql)
        con.commit()
    finally:
        con.close()
    b.start_ferry()


def test_unregister_store_error_is_reported_and_keeps_the_account(bridge):
    """<remove/> whose delete the store refuses: internal-server-error
    (not a result that says it is gone), the account and its roster kept;
    once the store takes it, the removal goes through."""
    c = bridge.client()
    bridge.wait_chat(c, bridge.inbound_text(CONTACT, "hello", name="Ana"))
    _store_sql(bridge, "CREATE TRIGGER ferry_test_no_delete BEFORE DELETE ON"
               " account BEGIN SELECT RAISE(FAIL, 'test: no delete'); END;")
    reply = bridge.unregister(c)
    assert reply.type == "error", reply.xml
    assert reply.error_condition == "internal-server-error", reply.xml
    assert "could not delete" in error_text(reply), reply.xml
    assert bridge.count("account", "jid = ?", c.jid.split("/")[0]) == 1
    assert bridge.ferry.wait_log(r"not unregistered: the store failed")
    _store_sql(bridge, "DROP TRIGGER ferry_test_no_delete;")
    reply = bridge.unregister(c)
    assert reply.type == "result", reply.xml
    assert bridge.count("account", "jid = ?", c.jid.split("/")[0]) == 0
