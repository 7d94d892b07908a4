# SPDX-License-Identifier: MIT
"""Personal WhatsApp accounts through WAHA (issue 13), beside Cloud API
users on the same gateway: registration with the network choice, the
asynchronous login (a QR code that rotates, a pairing code), 1:1 texts both
ways with receipts and markers, signed webhooks, duplicates, a session that
fails while messages wait.  Every test runs against Prosody and ejabberd,
with a fake WAHA (tests/fakes/fake_waha.py) and a fake Cloud API."""

import base64
import hashlib
import os
import re
import time
import urllib.request
from xml.sax.saxutils import escape, quoteattr

import pytest

from harness.fakeserver import FakeXmppServer
from harness.network import (NS_DATA, NS_REGISTER, WAIT, is_displayed,
                             is_receipt, register_form_xml)
from harness.util import random_name, wait_for
from harness.waha import ME_NAME, ME_PHONE, WahaGateway, register_waha_xml

CONTACT = "4915112345678"
FAKE_HMAC = "0" * 128


@pytest.fixture
def gw(xmpp_server, start_ferry, connect_client):
    g = WahaGateway(xmpp_server, start_ferry, connect_client)
    g.connect = lambda **kw: connect_client(xmpp_server, **kw)
    yield g
    problems = g.close()
    if problems:
        pytest.fail("\n".join(problems) + "\n" + g.ferry.log_tail(60),
                    pytrace=False)


def _fields(reply):
    q = reply.child(NS_REGISTER, "query")
    x = q.find("{%s}x" % NS_DATA)
    return {f.get("var"): f for f in x.findall("{%s}field" % NS_DATA)}


def _chat_from(client, jid, pred=lambda m: True, timeout=WAIT):
    return client.wait_message(lambda m: m.frm and m.frm.startswith(jid)
                               and m.type == "chat" and m.body is not None
                               and pred(m), timeout=timeout)


# --- registration and login ----------------------------------------------------

def test_form_asks_network(gw):
    c = gw.connect()
    reply = c.iq(gw.gw, "<query xmlns='%s'/>" % NS_REGISTER)
    assert reply.type == "result", reply.xml
    fields = _fields(reply)
    net = fields["network"]
    assert net.get("type") == "list-single", reply.xml
    options = [o.findtext("{%s}value" % NS_DATA)
               for o in net.findall("{%s}option" % NS_DATA)]
    assert options == ["cloudapi", "waha"], reply.xml
    assert fields["phone"].get("type") == "text-single", reply.xml
    assert "phone_number_id" in fields and "access_token" in fields


def test_qr_rotates_twice_then_connected(gw):
    c = gw.connect()
    reply = gw.register(c)
    assert reply.type == "result", reply.xml
    wait_for(lambda: gw.session_of(c), WAIT, 0.1, "the account row")
    session = gw.session_of(c)
    assert re.fullmatch(r"ferry-[0-9a-f]{24}", session), session
    # the session was created with ferry's signed webhook
    info = [s for s in gw.get("state")["sessions"]
            if s["name"] == session][0]
    hook = info["config"]["webhooks"][0]
    assert hook["url"] == gw.webhook_url
    assert hook["hmac"]["key"] == gw.hmac_key
    images = []
    for i in range(3):
        st, png = gw.wait_qr(c)
        assert png.startswith(b"\x89PNG"), png[:8]
        images.append(png)
        gw.wait_text(c, "Scan this QR code")
        if i < 2:
            gw.rotate(session)
    assert len(set(images)) == 3          # each rotation, a new image
    gw.scan(session)
    st = gw.wait_text(c, "Connected to WhatsApp as")
    assert "+%s (%s)" % (ME_PHONE, ME_NAME) in st.body, st.xml


def test_pairing_code(gw):
    c = gw.connect()
    assert gw.register(c, phone="+1 555 000 1111").type == "result"
    st = gw.wait_text(c, "pairing code")
    code = re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}", st.body)
    assert code, st.xml
    session = gw.session_of(c)
    reqs = gw.get("requests", path_contains="/auth/request-code")
    assert reqs and reqs[-1]["json"]["phoneNumber"] == "15550001111", reqs
    gw.scan(session)
    gw.wait_text(c, "Connected to WhatsApp as")


def test_bad_phone_refused(gw):
    c = gw.connect()
    reply = gw.register(c, phone="call me maybe")
    assert reply.type == "error", reply.xml
    assert gw.session_of(c) is None


# --- messages --------------------------------------------------------------------

def test_text_both_ways_with_receipts_and_markers(gw):
    c = gw.connect()
    session = gw.login(c)
    cj = gw.contact_jid(CONTACT)
    # in: a text from the contact
    gw.inbound(session, CONTACT, "Hi from WhatsApp", name="Ana")
    m = _chat_from(c, cj)
    assert m.body == "Hi from WhatsApp", m.xml
    # the user reads it: sendSeen for that message
    gw.cloud.send_displayed(c, CONTACT, m.id)
    wait_for(lambda: [r for r in gw.reads(session)
                      if r.get("type") == "seen"], WAIT, 0.1, "sendSeen")
    seen = [r for r in gw.reads(session) if r.get("type") == "seen"]
    assert m.id in seen[-1]["message_ids"], seen
    # out: receipt (DEVICE) and displayed (READ) come back
    mid = gw.cloud.send(c, CONTACT, "Hi from XMPP", receipt=True,
                        markable=True)
    sent = gw.wait_sent(1, session)
    assert sent[0]["chat_id"] == CONTACT + "@c.us", sent
    assert sent[0]["body"]["text"] == "Hi from XMPP", sent
    c.wait_message(lambda s: is_receipt(s, mid), timeout=WAIT)
    c.wait_message(lambda s: is_displayed(s, mid), timeout=WAIT)


def test_duplicate_and_overlap_give_one_stanza(gw):
    c = gw.connect()
    session = gw.login(c)
    cj = gw.contact_jid(CONTACT)
    mid = gw.inbound(session, CONTACT, "only once", overlap="both",
                     duplicate=2)["id"]
    m = _chat_from(c, cj, lambda s: s.body == "only once")
    gw.inbound(session, CONTACT, "after")
    _chat_from(c, cj, lambda s: s.body == "after")
    again = [s for s in c.messages.history
             if s.body == "only once" and s.type == "chat"]
    assert len(again) == 1, [s.xml for s in again]
    assert m.id == mid, (m.id, mid)


@pytest.mark.parametrize("signature", ["bad", "none", "tamper"])
def test_forged_or_unsigned_webhook_refused(gw, signature):
    c = gw.connect()
    session = gw.login(c)
    cj = gw.contact_jid(CONTACT)
    d = gw.inbound(session, CONTACT, "forged " + signature,
                   signature=signature, retry=False, overlap="message")
    statuses = [a["status"] for dl in gw.deliveries(event="message")
                for a in dl["attempts"] if "forged" in dl["body"]]
    assert statuses and set(statuses) == {401}, (statuses, d)
    gw.inbound(session, CONTACT, "genuine")
    _chat_from(c, cj, lambda s: s.body == "genuine")
    assert not [s for s in c.messages.history
                if (s.body or "").startswith("forged")]


def test_session_fails_while_messages_wait(gw):
    c = gw.connect()
    session = gw.login(c)
    gw.ctl.post("fail_session", {"session": session})
    gw.wait_text(c, "session failed")
    mids = [gw.cloud.send(c, CONTACT, "queued %d" % i) for i in range(3)]
    # held, not failed: no error comes back while the session is down
    wait_for(lambda: gw.get("requests", path_contains="/api/sendText"),
             WAIT, 0.1, "a send tried while FAILED")
    c.send_message(gw.gw, "login")
    gw.wait_text(c, "new login started")
    gw.wait_qr(c)
    gw.scan(session)
    gw.wait_text(c, "Connected to WhatsApp as")
    sent = gw.wait_sent(3, session, timeout=60)
    assert [s["body"]["text"] for s in sent] == \
        ["queued 0", "queued 1", "queued 2"], sent
    assert not [s for s in c.messages.history
                if s.type == "error" and s.id in mids]


def test_passkey_steps_told_and_nothing_lost(gw):
    """GOWS asks for a passkey after the scan: one message per step from
    the gateway (the code of the confirmation step in it); what the user
    writes meanwhile is held and goes once the session works."""
    gw.ctl.post("config", {"engine": "GOWS", "passkey": True})
    c = gw.connect()
    assert gw.register(c).type == "result"
    wait_for(lambda: gw.session_of(c), WAIT, 0.1, "the account")
    session = gw.session_of(c)
    gw.wait_qr(c)
    gw.scan(session)
    first = gw.wait_text(c, "passkey")
    assert "phone" in first.body and "XMPP client" in first.body, first.body
    mid = gw.cloud.send(c, CONTACT, "written during the passkey step")
    wait_for(lambda: gw.get("requests", path_contains="/api/sendText"),
             WAIT, 0.1, "a send tried while the passkey was asked for")
    step = gw.ctl.post("passkey", {"session": session})
    code = step["data"]["code"]
    second = gw.wait_text(c, code)
    assert "confirm" in second.body, second.body
    gw.ctl.post("passkey", {"session": session})
    gw.wait_text(c, "Connected to WhatsApp as")
    sent = gw.wait_sent(1, session, timeout=60)
    assert [s["body"]["text"] for s in sent] == \
        ["written during the passkey step"], sent
    told = [m for m in c.messages.history
            if m.frm == gw.gw and ("passkey" in (m.body or "")
                                   or code in (m.body or ""))]
    assert len(told) == 2, [m.body for m in told]
    assert not [m for m in c.messages.history
                if m.type == "error" and m.id == mid]


def test_silent_working_session_is_restarted(xmpp_server, start_ferry,
                                            connect_client):
    """A session that stays WORKING while WAHA stops passing its events on
    (the fake's silent mode): waha.idle_restart seconds after a send with
    no webhook, ferry asks for the status and restarts the session, quietly;
    what was held comes, and traffic resumes."""
    g = WahaGateway(xmpp_server, start_ferry, connect_client,
                    waha_idle_restart="2")
    try:
        c = connect_client(xmpp_server)
        session = g.login(c)
        cj = g.contact_jid(CONTACT)
        # events flowing: a send is answered by events, no restart
        mid = g.cloud.send(c, CONTACT, "before", receipt=True)
        c.wait_message(lambda m: is_receipt(m, mid), timeout=WAIT)
        g.inbound(session, CONTACT, "still here")
        _chat_from(c, cj, lambda m: m.body == "still here")
        restart = "/api/sessions/%s/restart" % session
        time.sleep(3)
        assert not g.get("requests", path_contains=restart)
        # WORKING, but the events stop
        g.ctl.post("silent", {"session": session, "on": True})
        mid = g.cloud.send(c, CONTACT, "into the silence", receipt=True)
        wait_for(lambda: g.get("requests", path_contains=restart), 20, 0.2,
                 "the restart")
        status = [r for r in g.get("requests",
                                   path_contains="/api/sessions/" + session)
                  if r["method"] == "GET"]
        assert status, "the status was not asked for first"
        # the held events come after the restart: the receipt
        c.wait_message(lambda m: is_receipt(m, mid), timeout=WAIT)
        g.inbound(session, CONTACT, "after the restart")
        _chat_from(c, cj, lambda m: m.body == "after the restart")
        assert len(g.get("requests", path_contains=restart)) == 1
        told = [m.body for m in c.messages.history if m.frm == g.gw
                and m.body and ("Connected" in m.body or "stopped" in m.body)]
        assert len(told) == 1, told   # the login's only
        sends = [s["body"]["text"] for s in g.sent(session)]
        assert sends == ["before", "into the silence"], sends
    finally:
        problems = g.close()
    assert not problems, problems


def test_unregister_deletes_the_session(gw):
    c = gw.connect()
    session = gw.login(c)
    reply = gw.cloud.unregister(c)
    assert reply.type == "result", reply.xml
    wait_for(lambda: session not in [s["name"] for s in
                                     gw.get("state")["sessions"]],
             WAIT, 0.1, "the session deleted")


def test_cloud_and_waha_users_side_by_side(gw):
    cloud_user = gw.cloud.client()
    waha_user = gw.connect()
    session = gw.login(waha_user)
    # each gets their own contact's message
    wamid = gw.cloud.inbound(CONTACT, "from the business side")["wamids"][0]
    gw.inbound(session, CONTACT, "from the personal side")
    m = cloud_user.wait_message(lambda s: s.id == wamid, timeout=WAIT)
    assert m.body == "from the business side"
    _chat_from(waha_user, gw.contact_jid(CONTACT),
               lambda s: s.body == "from the personal side")
    # and sends go to each one's network
    gw.cloud.send(cloud_user, CONTACT, "to the business side")
    gw.cloud.send(waha_user, CONTACT, "to the personal side")
    gw.cloud.wait_sent(1, to=CONTACT)
    assert gw.wait_sent(1, session)[0]["body"]["text"] == \
        "to the personal side"
    assert gw.cloud.sent_bodies(CONTACT) == ["to the business side"]
    # contacts advertise what each user's network does
    feats_cloud = cloud_user.disco_info(gw.contact_jid(CONTACT)).features
    feats_waha = waha_user.disco_info(gw.contact_jid(CONTACT)).features
    assert "urn:xmpp:reply:0" in feats_cloud
    assert "urn:xmpp:reply:0" in feats_waha
    assert "urn:xmpp:message-correct:0" in feats_waha
    assert "urn:xmpp:message-retract:1" in feats_waha
    assert "jabber:x:oob" in feats_cloud
    assert "jabber:x:oob" in feats_waha   # files go both ways
    assert "urn:xmpp:receipts" in feats_waha


def test_typing_goes_to_waha(gw):
    c = gw.connect()
    session = gw.login(c)
    gw.inbound(session, CONTACT, "are you there?")
    _chat_from(c, gw.contact_jid(CONTACT))
    c.send_message(gw.contact_jid(CONTACT), None, extra_xml=(
        "<composing xmlns='http://jabber.org/protocol/chatstates'/>"))
    wait_for(lambda: [r for r in gw.reads(session)
                      if r.get("type") == "presence"
                      and r.get("presence") == "typing"
                      and r.get("chat_id") == CONTACT + "@c.us"],
             WAIT, 0.1, "presence typing")


def test_status_names_the_session(gw):
    c = gw.connect()
    gw.login(c)
    c.send_message(gw.gw, "status")
    st = gw.wait_text(c, "Account state")
    assert "WhatsApp session:" in st.body, st.xml
    assert "Business number" not in st.body, st.xml


# --- WhatsApp to XMPP: what else a chat carries (issue 13, item 4) --------------

def _oob(st):
    x = st.el.find("{jabber:x:oob}x")
    return None if x is None else x.findtext("{jabber:x:oob}url")


def _fetch(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read(), r.headers.get("Content-Type")


def _file_requests(gw):
    return gw.get("requests", path_contains="/api/files/")


def test_media_with_caption_fetched_with_the_key(gw):
    c = gw.connect()
    session = gw.login(c)
    cj = gw.contact_jid(CONTACT)
    data = bytes(range(256)) * 20
    r = gw.inbound(session, CONTACT, "", type="image", caption="look at this",
                   data_b64=base64.b64encode(data).decode(), name="Ana")
    mid = r["id"]
    m = _chat_from(c, cj, lambda s: s.id == mid)
    url = _oob(m)
    assert url and m.body == url, m.xml
    assert url.startswith(gw.ferry.url + "/media/"), url
    assert _fetch(url)[:2] == (200, data)
    cap = _chat_from(c, cj, lambda s: s.id == mid + "-caption")
    assert cap.body == "look at this" and _oob(cap) is None, cap.xml
    order = [s.id for s in c.messages.history if s.id in (mid, mid +
                                                          "-caption")]
    assert order == [mid, mid + "-caption"], order
    reqs = _file_requests(gw)
    assert len(reqs) == 1 and reqs[0]["status"] == 200, reqs
    assert reqs[0]["headers"].get("X-Api-Key") == gw.api_key, reqs
    # a voice note (ptt) and a named document, without captions
    voice = os.urandom(1500)
    r = gw.inbound(session, CONTACT, "", type="voice",
                   data_b64=base64.b64encode(voice).decode())
    m = _chat_from(c, cj, lambda s: s.id == r["id"])
    status, body, ctype = _fetch(_oob(m))
    assert (status, body, ctype) == (200, voice, "audio/ogg"), ctype
    pdf = b"%PDF-1.4\n" + os.urandom(800)
    r = gw.inbound(session, CONTACT, "", type="document",
                   filename="report.pdf",
                   data_b64=base64.b64encode(pdf).decode())
    m = _chat_from(c, cj, lambda s: s.id == r["id"])
    assert _fetch(_oob(m))[:3] == (200, pdf, "application/pdf")
    assert not [s for s in c.messages.history
                if s.id in (r["id"] + "-caption",)]


def test_media_elsewhere_gets_no_key_and_missing_media_is_a_notice(gw):
    c = gw.connect()
    session = gw.login(c)
    cj = gw.contact_jid(CONTACT)
    # WAHA_BASE_URL names another host: the API key must not go there
    gw.ctl.post("config", {"base_url": "http://localhost:%d" % gw.waha_port})
    r = gw.inbound(session, CONTACT, "", type="video", caption="elsewhere")
    m = _chat_from(c, cj, lambda s: s.id == r["id"])
    assert _oob(m) is None, m.xml
    assert m.body.startswith("[A video from WhatsApp could not be passed "
                             "on: "), m.body
    reqs = _file_requests(gw)
    assert reqs and reqs[0]["status"] == 401, reqs
    assert all("X-Api-Key" not in q["headers"] for q in reqs), reqs
    gw.ctl.post("config", {"base_url": ""})
    # hasMedia with media null (WAHA did not download it)
    r = gw.inbound(session, CONTACT, "", type="image", media="null")
    m = _chat_from(c, cj, lambda s: s.id == r["id"])
    assert m.body == ("[a file the WAHA server did not download, so the "
                      "gateway cannot pass it on; it is on the phone]"), m.xml


def test_media_over_whatsapps_limit_is_a_notice(gw):
    c = gw.connect()
    session = gw.login(c)
    r = gw.inbound(session, CONTACT, "", type="sticker",
                   data_b64=base64.b64encode(os.urandom(600 * 1024)).decode())
    m = _chat_from(c, gw.contact_jid(CONTACT), lambda s: s.id == r["id"])
    assert m.body.startswith("[A sticker from WhatsApp could not be passed "
                             "on: it is larger than the 500 KB"), m.body


# --- XMPP to WhatsApp: the user's files (issue 13, item 4) ---------------------

NS_UPLOAD = "urn:xmpp:http:upload:0"


def _upload(client, server, data, filename, ctype):
    """Upload data as the client through the server's XEP-0363 service;
    returns the GET URL."""
    r = client.iq(server.upload_jid,
                  "<request xmlns='%s' filename=%s size='%d' "
                  "content-type=%s/>" % (NS_UPLOAD, quoteattr(filename),
                                         len(data), quoteattr(ctype)))
    assert r.type == "result", r.xml
    slot = r.child(NS_UPLOAD, "slot")
    put = slot.find("{%s}put" % NS_UPLOAD)
    headers = {"Content-Type": ctype}
    for h in put.findall("{%s}header" % NS_UPLOAD):
        headers[h.get("name")] = h.text
    req = urllib.request.Request(put.get("url"), data=data, method="PUT",
                                 headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status in (200, 201), resp.status
    return slot.find("{%s}get" % NS_UPLOAD).get("url")


def _send_file(gw, client, url, caption=None):
    """An XEP-0066 message; the body is the caption or the URL."""
    oob = "<x xmlns='jabber:x:oob'><url>%s</url></x>" % escape(url)
    return gw.cloud.send(client, CONTACT, caption or url, receipt=True,
                         extra=[oob])


def _wait_sends(gw, session, n):
    got = []

    def enough():
        got[:] = gw.sent(session)
        return len(got) >= n
    wait_for(enough, WAIT, 0.1, "%d sends" % n)
    return got


def test_files_to_a_contact_image_document_and_voice(gw, xmpp_server):
    c = gw.connect()
    session = gw.login(c)
    # a picture with its caption: sendImage, the bytes inline as base64
    jpg = b"\xff\xd8\xff\xe0" + os.urandom(3000)
    mid = _send_file(gw, c, _upload(c, xmpp_server, jpg, "holiday.jpg",
                                    "image/jpeg"), caption="the beach")
    s = _wait_sends(gw, session, 1)[0]
    assert s["path"] == "/api/sendImage" and s["chat_id"] == \
        CONTACT + "@c.us", s
    f = s["body"]["file"]
    assert f["mimetype"] == "image/jpeg" and "url" not in f, f
    assert base64.b64decode(f["data"]) == jpg
    assert s["body"]["caption"] == "the beach", s["body"]
    assert s["body"]["id"] == s["key_id"], s   # ferry chose the id
    c.wait_message(lambda m: is_receipt(m, mid), timeout=WAIT)
    # a document keeps its name and caption: sendFile
    pdf = b"%PDF-1.4\n" + os.urandom(1000)
    mid = _send_file(gw, c, _upload(c, xmpp_server, pdf, "minutes.pdf",
                                    "application/pdf"), caption="minutes")
    s = _wait_sends(gw, session, 2)[1]
    assert s["path"] == "/api/sendFile", s
    f = s["body"]["file"]
    assert (f["mimetype"], f["filename"]) == ("application/pdf",
                                              "minutes.pdf"), f
    assert base64.b64decode(f["data"]) == pdf
    assert s["body"]["caption"] == "minutes", s["body"]
    c.wait_message(lambda m: is_receipt(m, mid), timeout=WAIT)
    # a voice note (Ogg Opus): sendVoice, not converted; its caption follows
    # as a text
    ogg = b"OggS" + os.urandom(900)
    mid = _send_file(gw, c, _upload(c, xmpp_server, ogg, "note.ogg",
                                    "audio/ogg"), caption="listen")
    sends = _wait_sends(gw, session, 4)
    s = sends[2]
    assert s["path"] == "/api/sendVoice", s
    f = s["body"]["file"]
    assert f["mimetype"] == "audio/ogg; codecs=opus", f
    assert base64.b64decode(f["data"]) == ogg
    assert s["body"]["convert"] is False and "caption" not in s["body"], s
    assert sends[3]["path"] == "/api/sendText" and \
        sends[3]["body"]["text"] == "listen", sends[3]
    c.wait_message(lambda m: is_receipt(m, mid), timeout=WAIT)
    # other audio: a voice note that WAHA converts
    mp3 = b"ID3" + os.urandom(700)
    mid = _send_file(gw, c, _upload(c, xmpp_server, mp3, "song.mp3",
                                    "audio/mpeg"))
    s = _wait_sends(gw, session, 5)[4]
    assert s["path"] == "/api/sendVoice", s
    assert s["body"]["file"]["mimetype"] == "audio/mpeg", s["body"]["file"]
    assert s["body"]["convert"] is True, s["body"]
    c.wait_message(lambda m: is_receipt(m, mid), timeout=WAIT)
    assert len(gw.sent(session)) == 5
    assert not [m for m in c.messages.history if m.type == "error"]


@pytest.mark.parametrize("fault", [503, "drop"])
def test_file_send_retried_like_a_text(gw, xmpp_server, fault):
    """A file send that WAHA fails (a 5xx, or the connection dropped before
    it was taken) is tried again: the file fetched and sent again, once."""
    c = gw.connect()
    session = gw.login(c)
    gw.ctl.post("fail", {"count": 1, "error": fault,
                         "path_contains": "/api/sendImage"})
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
    mid = _send_file(gw, c, _upload(c, xmpp_server, png, "shot.png",
                                    "image/png"))
    c.wait_message(lambda m: is_receipt(m, mid), timeout=60)
    tries = gw.get("requests", path_contains="/api/sendImage")
    assert len(tries) == 2, tries
    sent = gw.sent(session)
    assert len(sent) == 1 and sent[0]["path"] == "/api/sendImage", sent
    assert base64.b64decode(sent[0]["body"]["file"]["data"]) == png
    assert "caption" not in sent[0]["body"], sent[0]["body"]
    assert not [m for m in c.messages.history if m.type == "error"]


def test_location_as_geo_uri_then_the_place(gw):
    c = gw.connect()
    session = gw.login(c)
    cj = gw.contact_jid(CONTACT)
    r = gw.inbound(session, CONTACT, "", type="location",
                   latitude="52.5162746", longitude="13.3777041",
                   name_of_place="Brandenburger Tor",
                   address="Pariser Platz, 10117 Berlin")
    m = _chat_from(c, cj, lambda s: s.id == r["id"])
    assert m.body == "geo:52.5162746,13.3777041", m.xml
    p = _chat_from(c, cj, lambda s: s.id == r["id"] + "-place")
    assert p.body == "Brandenburger Tor\nPariser Platz, 10117 Berlin", p.xml
    # only the engine's _data form (GOWS: locationMessage), no place
    r = gw.inbound(session, CONTACT, "", type="location",
                   location_form="data", latitude=-33.8567844,
                   longitude=151.213108)
    m = _chat_from(c, cj, lambda s: s.id == r["id"])
    assert m.body == "geo:-33.8567844,151.2131080", m.xml
    gw.inbound(session, CONTACT, "after the places")
    _chat_from(c, cj, lambda s: s.body == "after the places")
    assert not [s for s in c.messages.history
                if s.id == r["id"] + "-place"]


def test_location_in_webjs_data_form(gw):
    c = gw.connect()
    session = gw.login(c)
    gw.ctl.post("config", {"engine": "WEBJS"})
    r = gw.inbound(session, CONTACT, "", type="location",
                   location_form="data", latitude=0.5, longitude=-0.25,
                   name_of_place="Null Island")
    m = _chat_from(c, gw.contact_jid(CONTACT), lambda s: s.id == r["id"])
    assert m.body == "geo:0.5000000,-0.2500000", m.xml


def test_contact_card_as_text(gw):
    c = gw.connect()
    session = gw.login(c)
    vcard = ("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;Jane;;;\r\nFN:Jane Doe\r\n"
             "item1.TEL;waid=15551234567:+1 555 123 4567\r\n"
             "item1.X-ABLabel:Mobile\r\nTEL;type=HOME:+1 555 000 0000\r\n"
             "END:VCARD")
    r = gw.inbound(session, CONTACT, "", type="vcard", vcard=vcard)
    m = _chat_from(c, gw.contact_jid(CONTACT), lambda s: s.id == r["id"])
    assert m.body == ("Contact: Jane Doe\n+1 555 123 4567\n  xmpp:+15551234567@"
                      "%s\n+1 555 000 0000 (HOME) (not on WhatsApp)\n"
                      % gw.gw), repr(m.body)
    # the fake's default card: a type and a waid on one TEL line
    r = gw.inbound(session, CONTACT, "", type="vcard")
    m = _chat_from(c, gw.contact_jid(CONTACT), lambda s: s.id == r["id"])
    assert m.body == ("Contact: Jane Doe\n+1 555 123 4567 (CELL)\n"
                      "  xmpp:+15551234567@%s\n" % gw.gw), repr(m.body)


NS_REPLY = "urn:xmpp:reply:0"
NS_FALLBACK = "urn:xmpp:fallback:0"
NS_CORRECT = "urn:xmpp:message-correct:0"
NS_RETRACT = "urn:xmpp:message-retract:1"
NS_REACTIONS = "urn:xmpp:reactions:0"


def _reply(m):
    """(reply id, quote, rest) of an XEP-0461 reply with its fallback."""
    r = m.el.find("{%s}reply" % NS_REPLY)
    assert r is not None, "no <reply/>: %s" % m.xml
    b = m.el.find("{%s}fallback/{%s}body" % (NS_FALLBACK, NS_FALLBACK))
    assert b is not None, m.xml
    end = int(b.get("end"))
    return r.get("id"), m.body[:end], m.body[end:]


def _sent_by_user(gw, c, session, text):
    """The user's text to the contact: (stanza id, WAHA's full id)."""
    before = len(gw.wait_sent(0, session))
    mid = gw.cloud.send(c, CONTACT, text)
    sent = gw.wait_sent(before + 1, session)
    wait_for(lambda: gw.cloud.db("SELECT network_id FROM message WHERE "
                                 "stanza_id = ? AND network_id IS NOT NULL",
                                 mid), WAIT, 0.1, "the send's id")
    return mid, sent[before]["id"]


def test_replies_full_bare_and_absent_ids(gw):
    c = gw.connect()
    session = gw.login(c)
    cj = gw.contact_jid(CONTACT)
    first = gw.inbound(session, CONTACT, "first")["id"]
    _chat_from(c, cj, lambda s: s.id == first)
    mid, full = _sent_by_user(gw, c, session, "from me")
    me = ME_PHONE + "@c.us"
    # full id, quoting the contact's message
    r = gw.inbound(session, CONTACT, "re one", reply_to={
        "id": first, "participant": CONTACT + "@c.us", "body": "first"})
    assert _reply(_chat_from(c, cj, lambda s: s.id == r["id"])) == \
        (first, "> first\n", "re one")
    # a bare id (GOWS), quoting the user's message: its XMPP stanza id
    r = gw.inbound(session, CONTACT, "re two", reply_form="bare", reply_to={
        "id": full, "participant": me, "body": "from me"})
    assert _reply(_chat_from(c, cj, lambda s: s.id == r["id"])) == \
        (mid, "> from me\n", "re two")
    # a bare id quoting the contact's own message
    r = gw.inbound(session, CONTACT, "re three", reply_form="bare", reply_to={
        "id": first, "participant": CONTACT + "@c.us"})
    assert _reply(_chat_from(c, cj, lambda s: s.id == r["id"]))[0] == first
    # a message ferry never saw: quoted as such
    unknown = "false_%s@c.us_3EB0FFFFFFFFFFFFFFFFFFFF" % CONTACT
    r = gw.inbound(session, CONTACT, "re four", reply_to={"id": unknown})
    assert _reply(_chat_from(c, cj, lambda s: s.id == r["id"])) == \
        (unknown, "> (a message the gateway has not seen)\n", "re four")
    # no replyTo.id: a plain message
    r = gw.inbound(session, CONTACT, "re five", reply_form="absent",
                   reply_to={"id": first, "body": "first"})
    m = _chat_from(c, cj, lambda s: s.id == r["id"])
    assert m.body == "re five" and m.el.find("{%s}reply" % NS_REPLY) is None


def test_edit_is_a_correction(gw):
    c = gw.connect()
    session = gw.login(c)
    cj = gw.contact_jid(CONTACT)
    orig = gw.inbound(session, CONTACT, "Treffen um 5")["id"]
    _chat_from(c, cj, lambda s: s.id == orig)
    for text in ("Treffen um 6 \u2705", "Treffen um 7"):
        gw.ctl.post("edit", {"session": session, "from": CONTACT,
                             "message_id": orig, "text": text})
        m = _chat_from(c, cj, lambda s: s.body == text)
        rep = m.el.find("{%s}replace" % NS_CORRECT)
        assert rep is not None and rep.get("id") == orig, m.xml
    # a message ferry never saw: a notice with the text
    gw.ctl.post("edit", {"session": session, "from": CONTACT,
                         "message_id": "false_%s@c.us_3EB0AAAA" % CONTACT,
                         "text": "neuer Text"})
    m = _chat_from(c, cj, lambda s: "neuer Text" in s.body)
    assert m.body == "[edited] neuer Text", m.xml
    assert m.el.find("{%s}replace" % NS_CORRECT) is None, m.xml


def test_revoke_is_a_retraction(gw):
    c = gw.connect()
    session = gw.login(c)
    cj = gw.contact_jid(CONTACT)
    orig = gw.inbound(session, CONTACT, "oops, wrong chat")["id"]
    _chat_from(c, cj, lambda s: s.id == orig)
    gw.ctl.post("revoke", {"session": session, "from": CONTACT,
                           "message_id": orig})
    m = c.wait_message(lambda s: s.frm and s.frm.startswith(cj) and
                       s.el.find("{%s}retract" % NS_RETRACT) is not None,
                       timeout=WAIT)
    assert m.el.find("{%s}retract" % NS_RETRACT).get("id") == orig, m.xml
    gw.ctl.post("revoke", {"session": session, "from": CONTACT,
                           "message_id": "false_%s@c.us_3EB0BBBB" % CONTACT})
    m = _chat_from(c, cj, lambda s: s.body == "[deleted a message]")
    assert m.el.find("{%s}retract" % NS_RETRACT) is None, m.xml


def test_reactions_from_the_contact(gw):
    c = gw.connect()
    session = gw.login(c)
    cj = gw.contact_jid(CONTACT)
    gw.inbound(session, CONTACT, "hi")
    _chat_from(c, cj)
    mid, full = _sent_by_user(gw, c, session, "react to this")

    def reaction(text):
        gw.ctl.post("reaction", {"session": session, "from": CONTACT,
                                 "message_id": full, "text": text})
        m = c.wait_message(lambda s: s.frm and s.frm.startswith(cj) and
                           s.el.find("{%s}reactions" % NS_REACTIONS)
                           is not None, timeout=WAIT)
        r = m.el.find("{%s}reactions" % NS_REACTIONS)
        assert r.get("id") == mid, m.xml
        return [e.text for e in r]

    assert reaction("\U0001F62E") == ["\U0001F62E"]
    assert reaction("") == []


NS_CHATSTATES = "http://jabber.org/protocol/chatstates"


def test_typing_from_the_contact_as_chat_states(gw):
    c = gw.connect()
    session = gw.login(c)
    cj = gw.contact_jid(CONTACT)
    gw.inbound(session, CONTACT, "hello")
    m = _chat_from(c, cj)
    # WAHA sends presence.update only for chats subscribed to: ferry does
    # at the first thing the user sends to the chat (here: read)
    gw.cloud.send_displayed(c, CONTACT, m.id)
    wait_for(lambda: [r for r in gw.reads(session)
                      if r.get("type") == "subscribe"
                      and r.get("chat_id") == CONTACT + "@c.us"],
             WAIT, 0.1, "the presence subscription")

    def state(presence):
        r = gw.ctl.post("presence", {"session": session, "from": CONTACT,
                                     "presence": presence})
        assert r["ids"], r
        m = c.wait_message(lambda s: s.frm and s.frm.startswith(cj) and
                           any(ch.tag.startswith("{%s}" % NS_CHATSTATES)
                               for ch in s.el), timeout=WAIT)
        assert m.body is None and m.type == "chat", m.xml
        assert m.el.find("{urn:xmpp:hints}no-store") is not None, m.xml
        return [ch.tag.split("}")[1] for ch in m.el
                if ch.tag.startswith("{%s}" % NS_CHATSTATES)]

    def inbox_seq():  # AUTOINCREMENT: grows with every row ever stored
        return gw.cloud.db("SELECT seq FROM sqlite_sequence WHERE name = "
                           "'inbox'")[0][0]

    inbox = inbox_seq()
    assert state("typing") == ["composing"]
    assert state("paused") == ["paused"]
    assert state("recording") == ["composing"]
    assert state("online") == ["active"]
    # passed on, never stored
    assert inbox_seq() == inbox
    # only one subscription however many sends
    gw.cloud.send(c, CONTACT, "typing back")
    gw.wait_sent(1, session)
    subs = [r for r in gw.reads(session) if r.get("type") == "subscribe"]
    assert len(subs) == 1, subs


def test_polls_view_once_and_calls_are_notices(gw):
    c = gw.connect()
    session = gw.login(c)
    cj = gw.contact_jid(CONTACT)
    hook = [s for s in gw.get("state")["sessions"]
            if s["name"] == session][0]["config"]["webhooks"][0]
    assert "call.received" in hook["events"], hook
    r = gw.inbound(session, CONTACT, "Lunch?", type="poll")
    m = _chat_from(c, cj, lambda s: s.id == r["id"])
    assert m.body == ("[a poll, which the gateway cannot show: answer it on "
                      "the phone]"), m.xml
    r = gw.inbound(session, CONTACT, "", type="view_once")
    m = _chat_from(c, cj, lambda s: s.id == r["id"])
    assert m.body == ("[a view-once message, which can only be opened on "
                      "the phone]"), m.xml
    r = gw.ctl.post("call", {"session": session, "from": CONTACT,
                             "duplicate": 1})
    m = _chat_from(c, cj, lambda s: "call" in s.body)
    assert m.body == ("[missed call: WhatsApp calls can only be answered on "
                      "the phone]"), m.xml
    assert m.id == r["payload"]["id"], m.xml
    gw.ctl.post("call", {"session": session, "from": CONTACT, "video": True})
    m = _chat_from(c, cj, lambda s: "call" in s.body)
    assert m.body == ("[missed video call: WhatsApp calls can only be "
                      "answered on the phone]"), m.xml
    # the duplicate of the first call gave nothing more
    assert len([s for s in c.messages.history
                if s.body and "missed call" in s.body]) == 1


# --- hidden linked ids (@lid) ------------------------------------------------

def _lid_of(phone):
    """The lid the fake gives a sender of phone (fake_waha Payloads.sender)."""
    return "%d@lid" % (2 * 10 ** 14 + int(phone[-9:]))


def test_lid_sender_whose_phone_appears_later(gw):
    c = gw.connect()
    session = gw.login(c)
    phone = "4915177700011"
    lid = _lid_of(phone)
    lid_jid = "%s\\40lid@%s" % (lid.split("@")[0], gw.gw)
    pj = gw.contact_jid(phone)
    got = []

    def from_either(m):
        return (m.type == "chat" and m.body is not None and m.frm
                and m.frm.split("/")[0] in (lid_jid, pj))

    def next_chat():
        m = c.wait_message(from_either)
        got.append((m.frm.split("/")[0], m.body))
        return got[-1]

    # WhatsApp hides the number and WAHA does not know it: the lid's JID
    gw.inbound(session, phone, "one, number hidden", lid=True, pn=False,
               name="Lia")
    assert next_chat() == (lid_jid, "one, number hidden"), got
    wait_for(lambda: gw.get("requests", path_contains="/lids/"), WAIT, 0.1,
             "a lid lookup")
    req = gw.get("requests", path_contains="/lids/")[-1]
    assert req["method"] == "GET", req
    assert req["path"] == "/api/%s/lids/%s" % (session, lid), req
    wait_for(lambda: gw.cloud.db("SELECT asked FROM lid WHERE lid = ?", lid),
             WAIT, 0.1, "the lookup's answer")
    assert gw.cloud.db("SELECT phone FROM lid WHERE lid = ?", lid) == \
        [(None,)]
    # the user answers the lid's JID: sent to the lid's chat
    c.send_message(lid_jid, "answer to the hidden number")
    sent = gw.wait_sent(1, session)
    assert sent[0]["chat_id"] == lid, sent
    wait_for(lambda: [r for r in gw.reads(session) if r["type"] == "subscribe"
                      and r["chat_id"] == lid], WAIT, 0.1,
             "the lid chat's presence subscribed")
    # the number becomes known to WAHA; the next message makes ferry ask
    gw.ctl.post("lid", {"lid": lid, "pn": phone})
    gw.inbound(session, phone, "two", lid=True, pn=False)
    assert next_chat() == (lid_jid, "two"), got
    who, note = next_chat()
    assert who == pj and "goes on here" in note and lid_jid in note, got
    # the lid's JID leaves the roster
    c.wait_presence(lambda p: p.frm and p.frm.split("/")[0] == lid_jid
                    and p.type == "unsubscribe")
    # from now on the number's JID, for the lid's messages too
    gw.inbound(session, phone, "three", lid=True, pn=False)
    assert next_chat() == (pj, "three"), got
    gw.inbound(session, phone, "four, from the number")
    assert next_chat() == (pj, "four, from the number"), got
    # the user writes to either JID: the number's chat
    c.send_message(pj, "to the number")
    c.send_message(lid_jid, "to the old JID")
    sent = gw.wait_sent(3, session)
    assert [(s["chat_id"], s["body"]["text"]) for s in sent[1:]] == [
        (phone + "@c.us", "to the number"),
        (phone + "@c.us", "to the old JID")], sent
    # nothing doubled: one contact, the lid its alias, the mapping kept
    c.assert_no_message(from_either, timeout=1.0)
    assert len(got) == 5, got
    rows = gw.cloud.db("SELECT network_id, localpart FROM contact")
    assert rows == [(phone, "+" + phone)], rows
    assert gw.cloud.db("SELECT network_id FROM alias") == [(lid,)]
    assert gw.cloud.db("SELECT phone FROM lid WHERE lid = ?", lid) == \
        [(phone,)]


def test_lid_known_to_waha_at_login_writes_from_the_number(gw):
    """At WORKING ferry reads WAHA's lid map (GET /api/{s}/lids, paged): a
    lid WAHA knows writes from its number's JID from the first message."""
    c = gw.connect()
    phone = "4915177700055"
    lid = _lid_of(phone)
    gw.ctl.post("lid", {"lid": lid, "pn": phone})
    gw.ctl.post("lid", {"lid": "3000000000001@lid", "pn": None})
    session = gw.login(c)
    wait_for(lambda: gw.cloud.db("SELECT phone FROM lid WHERE lid = ?", lid)
             == [(phone,)], WAIT, 0.1, "the lid map read")
    assert not gw.cloud.db("SELECT phone FROM lid WHERE lid = ?",
                           "3000000000001@lid")
    listed = [r for r in gw.get("requests", path_contains="/lids")
              if r["method"] == "GET"]
    assert [(r["path"], r["query"]) for r in listed] == [
        ("/api/%s/lids" % session, {"limit": "200", "offset": "0"})], listed
    gw.inbound(session, phone, "hidden, but WAHA knows", lid=True, pn=True)
    m = _chat_from(c, gw.contact_jid(phone))
    assert m.body == "hidden, but WAHA knows", m.xml
    assert not gw.get("requests", path_contains="/lids/"), "no lookup"
    # the lid reaches the number's contact (typing, reactions, the old JID)
    assert gw.cloud.db("SELECT c.network_id FROM alias a JOIN contact c ON "
                       "c.id = a.contact_id WHERE a.network_id = ?", lid) == \
        [(phone,)]
    c.assert_no_message(lambda s: s.frm and "\\40lid@" in s.frm,
                        timeout=1.0)


def test_lid_of_a_known_number_merges_into_its_contact(gw):
    """A contact who wrote from the number switches to a hidden lid (the
    reference's mid-conversation switch): the lid's contact is merged into
    the number's once WAHA tells it; one contact, nothing doubled."""
    c = gw.connect()
    session = gw.login(c)
    phone = "4915177700033"
    lid = _lid_of(phone)
    lid_jid = "%s\\40lid@%s" % (lid.split("@")[0], gw.gw)
    pj = gw.contact_jid(phone)
    first = gw.inbound(session, phone, "from the number", name="Mia")["id"]
    _chat_from(c, pj, lambda m: m.body == "from the number")
    hidden = gw.inbound(session, phone, "now hidden", lid=True,
                        pn=False)["id"]
    _chat_from(c, lid_jid, lambda m: m.body == "now hidden")
    wait_for(lambda: gw.cloud.db("SELECT asked FROM lid WHERE lid = ?", lid),
             WAIT, 0.1, "the lookup's answer")
    gw.ctl.post("lid", {"lid": lid, "pn": phone})
    gw.inbound(session, phone, "still hidden", lid=True, pn=False)
    _chat_from(c, lid_jid, lambda m: m.body == "still hidden")
    note = _chat_from(c, pj, lambda m: "goes on here" in m.body)
    assert "Mia" in note.body and lid_jid in note.body, note.xml
    # the contact quotes the lid-era message: found, from the number's JID
    r = gw.inbound(session, phone, "re", lid=True, pn=False, reply_to={
        "id": hidden, "participant": lid, "body": "now hidden"})
    assert _reply(_chat_from(c, pj, lambda m: m.id == r["id"])) == \
        (hidden, "> now hidden\n", "re")
    assert gw.cloud.db("SELECT network_id, localpart FROM contact") == \
        [(phone, "+" + phone)]
    assert gw.cloud.db("SELECT count(DISTINCT contact_id), count(*) FROM "
                       "message WHERE direction = 'i'") == [(1, 4)]
    assert gw.cloud.db("SELECT network_id FROM alias") == [(lid,)]
    # the user answers the lid's old JID: the number's chat
    c.send_message(lid_jid, "answer")
    assert gw.wait_sent(1, session)[0]["chat_id"] == phone + "@c.us"
    c.assert_no_message(lambda m: m.type == "chat" and m.body and (
        m.body in ("from the number", "now hidden", "still hidden")),
        timeout=1.0)
    assert first


# --- corrections and retractions to WhatsApp ----------------------------------

def test_corrections_and_retractions_go_to_whatsapp(gw):
    c = gw.connect()
    session = gw.login(c)
    cj = gw.contact_jid(CONTACT)
    mid, full = _sent_by_user(gw, c, session, "Helo")

    def changes(kind):
        return [s for s in gw.sent(session) if s["type"] == kind]

    # XEP-0308: PUT .../chats/<chat>/messages/<full id> with the new text
    c.send_message(cj, "Hello", extra_xml="<replace xmlns='%s' id=%s/>"
                   % (NS_CORRECT, quoteattr(mid)))
    wait_for(lambda: changes("edit"), WAIT, 0.1, "the edit")
    edit = changes("edit")[0]
    assert edit["id"] == full and edit["chat_id"] == CONTACT + "@c.us", edit
    assert edit["body"] == {"text": "Hello", "linkPreview": False}, edit
    req = [r for r in gw.get("requests", path_contains="/messages/")
           if r["method"] == "PUT"][-1]
    assert req["raw_path"] == "/api/%s/chats/%s%%40c.us/messages/%s" % (
        session, CONTACT, full.replace("@", "%40")), req
    # XEP-0424, the first DELETE answered 500 (an engine crash): retried,
    # deleted once, and its fallback body never sent as a text
    gw.ctl.post("fail", {"count": 1, "error": 500, "method": "DELETE",
                         "path_contains": "/messages/"})
    c.send_message(cj, "This person attempted to retract a previous "
                   "message, but it's unsupported by your client.",
                   extra_xml=["<retract xmlns='%s' id=%s/>"
                              % (NS_RETRACT, quoteattr(mid)),
                              "<fallback xmlns='urn:xmpp:fallback:0' "
                              "for='%s'/>" % NS_RETRACT])
    wait_for(lambda: changes("revoke"), 2 * WAIT, 0.1, "the deletion")
    tries = [r for r in gw.get("requests", path_contains="/messages/")
             if r["method"] == "DELETE"]
    assert len(tries) == 2 and tries[0]["status"] == 500, tries
    revoke = changes("revoke")
    assert len(revoke) == 1 and revoke[0]["id"] == full, revoke
    assert [s["body"]["text"] for s in gw.sent(session)
            if s["type"] == "sendText"] == ["Helo"]
    # a message the gateway does not know (or another's): an error, no call
    bad = c.send_message(cj, "x", extra_xml="<replace xmlns='%s' id='nope'/>"
                         % NS_CORRECT)
    err = gw.cloud.wait_error(c, bad)
    assert err.error_condition == "item-not-found", err.xml
    c.send_message(cj, "y", extra_xml="<retract xmlns='%s' id='nope'/>"
                   % NS_RETRACT)
    time.sleep(1)
    assert len(changes("edit")) == 1 and len(changes("revoke")) == 1
    # a correction right after the message waits for its send, then edits
    mid2 = gw.cloud.send(c, CONTACT, "quick")
    c.send_message(cj, "quick fix", extra_xml="<replace xmlns='%s' id=%s/>"
                   % (NS_CORRECT, quoteattr(mid2)))
    wait_for(lambda: len(changes("edit")) == 2, WAIT, 0.1, "the second edit")
    assert changes("edit")[1]["body"]["text"] == "quick fix"
    assert changes("edit")[1]["id"] == gw.wait_sent(2, session)[1]["id"]


def test_cloudapi_users_still_cannot_edit(gw):
    cloud_user = gw.cloud.client()
    wamid = gw.cloud.inbound(CONTACT, "hello business")["wamids"][0]
    cloud_user.wait_message(lambda s: s.id == wamid, timeout=WAIT)
    mid = gw.cloud.send(cloud_user, CONTACT, "Helo")
    gw.cloud.wait_sent(1, to=CONTACT)
    for extra in ("<replace xmlns='%s' id=%s/>" % (NS_CORRECT, quoteattr(mid)),
                  "<retract xmlns='%s' id=%s/>" % (NS_RETRACT, quoteattr(mid))):
        bad = gw.cloud.send(cloud_user, CONTACT, "Hello", extra=[extra])
        err = gw.cloud.wait_error(cloud_user, bad)
        assert err.error_condition == "not-acceptable", err.xml
    assert gw.cloud.sent_bodies(CONTACT) == ["Helo"]


# --- what the user writes on the phone ------------------------------------------

NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"


def _carbon(m):
    """The message inside an XEP-0280 <sent/> carbon, or None."""
    return m.el.find("{%s}sent/{%s}forwarded/{jabber:client}message"
                     % (NS_CARBONS, NS_FORWARD))


def test_messages_from_the_phone_are_carbons(gw):
    c = gw.connect()
    session = gw.login(c)
    cj = gw.contact_jid(CONTACT)
    gw.inbound(session, CONTACT, "hi there", name="Ana")
    _chat_from(c, cj)

    def carbons(m):
        return m.frm == c.jid and _carbon(m) is not None

    # written on the phone (message.any only, source app, fromMe): a <sent/>
    # carbon from the user's own JID, through XEP-0356 (both servers grant
    # it here)
    r = gw.inbound(session, CONTACT, "written on the phone", from_me=True,
                   duplicate=1)
    m = c.wait_message(carbons)
    inner = _carbon(m)
    assert inner.get("from") == c.jid and inner.get("to") == cj, m.xml
    assert inner.get("id") == r["id"], m.xml
    assert inner.findtext("{jabber:client}body") == "written on the phone"
    # what the user sends through ferry comes back as message.any (source
    # api): no carbon; the duplicate above: none either
    mid, full = _sent_by_user(gw, c, session, "through the gateway")
    # an engine that calls ferry's own send "app": known by its id, no carbon
    gw.ctl.post("event", {"session": session, "event": "message.any",
                          "payload": {"id": full, "timestamp": 1750143884,
                                      "from": ME_PHONE + "@c.us",
                                      "fromMe": True, "source": "app",
                                      "to": CONTACT + "@c.us",
                                      "body": "through the gateway"}})
    c.assert_no_message(carbons, timeout=2.0)
    # the phone's message is the user's: the contact's reply quotes it
    rr = gw.inbound(session, CONTACT, "re: phone", reply_to={
        "id": r["id"], "participant": ME_PHONE + "@c.us"})
    assert _reply(_chat_from(c, cj, lambda s: s.id == rr["id"])) == \
        (r["id"], "> written on the phone\n", "re: phone")
    # to a new contact: the contact comes with it
    other = "4915199900022"
    gw.inbound(session, other, "first words, from the phone", from_me=True)
    m = c.wait_message(carbons)
    assert _carbon(m).get("to") == gw.contact_jid(other), m.xml


# --- files by URL -----------------------------------------------------------------

def test_files_by_url_when_configured(xmpp_server, start_ferry, connect_client):
    """[waha] files = url: WAHA gets a link to the file on ferry's /media/
    and fetches it (the fake does, and checks the bytes); a 5xx is retried
    with a fresh link, sent once."""
    g = WahaGateway(xmpp_server, start_ferry, connect_client,
                    waha_files="url")
    try:
        c = connect_client(xmpp_server)
        session = g.login(c)
        jpg = b"\xff\xd8\xff\xe0" + os.urandom(5000)
        mid = _send_file(g, c, _upload(c, xmpp_server, jpg, "holiday.jpg",
                                       "image/jpeg"), caption="the beach")
        s = _wait_sends(g, session, 1)[0]
        assert s["path"] == "/api/sendImage", s
        f = s["body"]["file"]
        assert "data" not in f and f["mimetype"] == "image/jpeg", f
        assert f["url"].startswith(g.ferry.url + "/media/"), f
        assert f["_sha256"] == hashlib.sha256(jpg).hexdigest(), f
        assert s["body"]["caption"] == "the beach", s["body"]
        c.wait_message(lambda m: is_receipt(m, mid), timeout=WAIT)
        # a document, its first send answered 503: sent again, once
        g.ctl.post("fail", {"count": 1, "error": 503,
                            "path_contains": "/api/sendFile"})
        pdf = b"%PDF-1.4\n" + os.urandom(1500)
        mid = _send_file(g, c, _upload(c, xmpp_server, pdf, "minutes.pdf",
                                       "application/pdf"))
        c.wait_message(lambda m: is_receipt(m, mid), timeout=60)
        sent = g.sent(session)
        assert [x["path"] for x in sent] == ["/api/sendImage",
                                             "/api/sendFile"], sent
        f = sent[1]["body"]["file"]
        assert f["filename"] == "minutes.pdf" and "data" not in f, f
        assert f["_sha256"] == hashlib.sha256(pdf).hexdigest(), f
        tries = g.get("requests", path_contains="/api/sendFile")
        assert len(tries) == 2, tries
        assert not [m for m in c.messages.history if m.type == "error"]
    finally:
        problems = g.close()
    assert not problems, problems


def test_messages_from_the_phone_without_the_privilege(start_ferry):
    """A server that grants no XEP-0356 message permission (here a fake
    one, which grants nothing): what the user wrote on the phone comes as a
    message from the contact's JID, marked as the user's, once."""
    srv = FakeXmppServer().start()
    g = WahaGateway(srv, start_ferry, None, start=False)
    try:
        g.ferry.start(timeout=20)
        srv.wait_connected(1)
        user = "%s@%s" % (random_name("wu"), srv.domain)
        srv.send("<iq type='set' id='reg1' from='%s/r' to='%s'>%s</iq>"
                 % (user, g.gw, register_waha_xml()))
        reply = srv.wait(lambda r: r.kind == "iq" and r.id == "reg1", WAIT,
                         "the registration's answer")
        assert reply.type == "result", reply.xml
        wait_for(lambda: g.cloud.db("SELECT network_id FROM account WHERE "
                                    "jid = ?", user), WAIT, 0.1, "the account")
        session = g.cloud.db("SELECT network_id FROM account WHERE jid = ?",
                             user)[0][0]
        srv.wait(lambda r: "Scan this QR code" in (_body(r) or ""), WAIT,
                 "the QR code's help")
        g.scan(session)
        srv.wait(lambda r: "Connected to WhatsApp" in (_body(r) or ""), WAIT,
                 "connected")
        r = g.inbound(session, CONTACT, "from the phone", from_me=True,
                      duplicate=1)
        cj = g.contact_jid(CONTACT)
        m = srv.wait(lambda x: x.kind == "message" and x.frm == cj and
                     _body(x) is not None, WAIT, "the marked message")
        assert _body(m) == "[you wrote, on your phone:] from the phone", m.xml
        assert m.to == user and m.id == r["id"], m.xml
        assert m.child("urn:xmpp:privilege:2") is None, m.xml
        time.sleep(1)
        assert len(srv.matching(lambda x: x.kind == "message" and
                                x.frm == cj and _body(x))) == 1
    finally:
        problems = g.close()
        srv.stop()
    assert not problems, problems


def _body(r):
    """The body of a stanza the fake server got, or None."""
    for c in r.el:
        if c.tag.endswith("}body") or c.tag == "body":
            return c.text
    return None
