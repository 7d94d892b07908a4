# SPDX-License-Identifier: MIT
"""Cloud API bridge, messages both ways (issue 3, points 3-6;
docs/behaviour.md "Presence", "XMPP to WhatsApp", "WhatsApp to XMPP"):
the exact send request, receipts and markers, mark-read, splitting, order,
error bounces, inbound texts and placeholders, webhook verification and
signatures, duplicates, out-of-order and early statuses, batches, and
presence.  Every test runs against Prosody and ejabberd."""

import urllib.parse

from harness.ferryproc import http_get
from harness.network import (NS_MARKERS, NS_SID, PNID2, WAIT, Tracker,
                             error_text, is_displayed, is_receipt,
                             new_contact_announcement,
                             readable_placeholder)
from harness.util import wait_for

CONTACT = "4915112345678"
CONTACT2 = "4915198765432"
CONTACT3 = "16505551234"


def _no_more(client, pred, bridge, what):
    """After flush(), no message matching pred may be pending."""
    bridge.flush(client)
    extra = [m for m in client.messages.pending() if pred(m)]
    assert not extra, "unexpected %s: %s" % (what, [m.xml for m in extra])


# --- XMPP to WhatsApp ----------------------------------------------------------

def test_text_to_whatsapp_exact_request(bridge):
    c = bridge.client()
    bridge.open_window(CONTACT)
    body = "Hello from XMPP <&> \"quoted\" 'single'"
    bridge.send(c, CONTACT, body)
    sent = bridge.wait_sent(1, CONTACT)
    assert len(sent) == 1, sent
    posts = bridge.message_posts()
    assert len(posts) == 1, posts
    req = posts[0]
    assert req["path"] == "/v21.0/%s/messages" % bridge.pnid, req["path"]
    assert req["headers"].get("Authorization") == "Bearer " + bridge.token
    assert req["headers"].get("Content-Type", "").startswith(
        "application/json"), req["headers"]
    j = req["json"]
    assert j["messaging_product"] == "whatsapp", j
    assert j["to"] == "+" + CONTACT, j
    assert j["type"] == "text", j
    assert j["text"]["body"] == body, j
    assert j.get("recipient_type", "individual") == "individual", j
    assert req["status"] == 200
    # a 'normal' message is sent the same way
    bridge.send(c, CONTACT, "a normal one", mtype="normal")
    sent = bridge.wait_sent(2, CONTACT)
    assert [s["payload"]["body"] for s in sent] == [body, "a normal one"]


def test_receipt_and_displayed_marker(bridge):
    c = bridge.client()
    t = Tracker(c)
    bridge.open_window(CONTACT)
    mid = bridge.send(c, CONTACT, "please confirm", receipt=True,
                      markable=True)
    cj = bridge.contact_jid(CONTACT)
    r = bridge.wait_receipt(c, mid)
    assert r.frm == cj, r.xml
    d = bridge.wait_displayed(c, mid)
    assert d.frm == cj, d.xml
    assert t.index(lambda s: is_receipt(s, mid)) < \
        t.index(lambda s: is_displayed(s, mid)), "displayed before received"
    # a message that asked for neither gets neither
    plain = bridge.send(c, CONTACT, "no receipt wanted")
    sent = bridge.wait_sent(2, CONTACT)
    bridge.idle()
    _no_more(c, lambda m: is_receipt(m) or is_displayed(m), bridge,
             "receipts/markers (%s asked for none; %s already got its own)"
             % (plain, mid))
    assert sent[1]["payload"]["body"] == "no receipt wanted"


def test_user_displayed_marker_marks_read(bridge):
    c = bridge.client()
    wamid = bridge.inbound_text(CONTACT, "did you read this?", name="Ana")
    m = bridge.wait_chat(c, wamid)
    assert m.has(NS_MARKERS, "markable"), m.xml
    bridge.send_displayed(c, CONTACT, wamid)
    reads = bridge.wait_reads(1)
    assert [r["message_id"] for r in reads] == [wamid], reads
    assert reads[0]["known"] and not reads[0]["typing"], reads
    req = [r for r in bridge.requests("/messages", "POST")
           if r["json"].get("status") == "read"]
    assert req and req[0]["json"] == {"messaging_product": "whatsapp",
                                      "status": "read",
                                      "message_id": wamid}, req
    assert bridge.sent() == [], "a marker must not send a text"


def test_long_body_is_split_in_order(bridge):
    c = bridge.client()
    bridge.open_window(CONTACT)
    words, i = [], 0
    while sum(len(w) + 1 for w in words) < 10500:
        i += 1
        w = ["word%d" % i, "caf\u00e9", "\U0001F600x", "na\u00efve",
             "line\nbreak", "\u00fcber%d" % i][i % 6]
        words.append(w)
    body = " ".join(words)
    assert len(body) > 2 * 4096
    mid = bridge.send(c, CONTACT, body, receipt=True)
    # the receipt comes with the last part, so all parts were sent by then
    bridge.wait_receipt(c, mid, timeout=30)
    parts = bridge.sent_bodies(CONTACT)
    assert 3 <= len(parts) <= 4, [len(p) for p in parts]
    for p in parts:
        assert len(p) <= 4096, len(p)
    for p in parts[:-1]:
        assert len(p) >= 3900, "split far from the limit: %d" % len(p)
    # (the whitespace at a cut may stay or go; a word must not be cut)
    assert " ".join(parts).split() == body.split(), \
        "the parts are not the body, in order, cut between words"
    _no_more(c, lambda m: is_receipt(m), bridge, "second receipt")


def test_order_kept_for_quick_messages(bridge):
    c = bridge.client()
    bridge.open_window(CONTACT)
    bridge.open_window(CONTACT2)
    # each answer takes 60 ms: the next message to a contact may only go
    # out once the previous request has finished
    bridge.config(slow_ms=60)
    want1 = ["msg %02d" % i for i in range(1, 21)]
    want2 = ["other %02d" % i for i in range(1, 6)]
    for i, b in enumerate(want1):
        bridge.send(c, CONTACT, b)
        if i % 4 == 0:
            bridge.send(c, CONTACT2, want2[i // 4])
    bridge.wait_sent(20, CONTACT)
    bridge.wait_sent(5, CONTACT2)
    assert bridge.sent_bodies(CONTACT) == want1
    assert bridge.sent_bodies(CONTACT2) == want2
    times = [p["time"] for p in bridge.message_posts()
             if p["json"]["to"] == "+" + CONTACT]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.05, \
        "a message to the contact left before the previous one's request " \
        "finished (gaps %s)" % ["%.3f" % g for g in gaps]


def test_throughput_token_bucket(make_bridge):
    # 5 requests a second per business number, to 15 different contacts
    # (so that per-contact ordering does not pace them)
    b = make_bridge(cloudapi_throughput=5,
                    fake_config={"window_enforce": False})
    c = b.client()
    numbers = ["4915200000%03d" % i for i in range(15)]
    for n in numbers:
        b.send(c, n, "paced")
    wait_for(lambda: len(b.sent()) >= 15, 30, 0.1, "15 sends")
    times = sorted(p["time"] for p in b.message_posts())
    span = times[-1] - times[0]
    busiest = max(sum(1 for t in times if t0 <= t < t0 + 1.0)
                  for t0 in times)
    print("throughput 5/s: 15 sends over %.2fs, at most %d in one second"
          % (span, busiest))
    assert span >= 1.5, "15 sends at 5/s took only %.2fs" % span
    assert busiest <= 11, "%d sends within one second at 5/s" % busiest


def _one_error(bridge, c, mid, cj):
    """Exactly one error stanza for mid, from the contact JID."""
    e = bridge.wait_error(c, mid)
    assert e.frm == cj, e.xml
    _no_more(c, lambda m: m.type == "error" and m.id == mid, bridge,
             "second error stanza for %s" % mid)
    return e


def test_error_131047_window_async(bridge):
    c = bridge.client()
    # the window is closed: accepted (200), then a failed status
    mid = bridge.send(c, CONTACT, "out of the window")
    e = _one_error(bridge, c, mid, bridge.contact_jid(CONTACT))
    assert "24 hours" in error_text(e), e.xml
    sent = bridge.sent(CONTACT)
    assert len(sent) == 1 and sent[0]["outcome"] == "failed:131047", sent
    # the same failed status again (Meta retries) changes nothing
    bridge.status(sent[0]["wamid"], "failed", error=131047)
    _no_more(c, lambda m: m.type == "error", bridge, "error after a "
             "duplicate failed status")
    assert len(bridge.message_posts()) == 1, "131047 must not be retried"


def test_error_131047_window_sync(bridge):
    c = bridge.client()
    bridge.config(window_sync=True)
    mid = bridge.send(c, CONTACT, "out of the window, refused at once")
    e = _one_error(bridge, c, mid, bridge.contact_jid(CONTACT))
    assert "24 hours" in error_text(e), e.xml
    posts = bridge.message_posts()
    assert len(posts) == 1, "131047 must not be retried: %r" % posts
    assert posts[0]["status"] == 400


def test_error_131026_undeliverable(bridge):
    c = bridge.client()
    bridge.config(undeliverable=[CONTACT])
    bridge.open_window(CONTACT)
    mid = bridge.send(c, CONTACT, "to nobody")
    e = _one_error(bridge, c, mid, bridge.contact_jid(CONTACT))
    assert "deliver" in error_text(e).lower(), e.xml
    assert len(bridge.message_posts()) == 1


def test_error_190_token_rejected(bridge):
    c = bridge.client()
    cj = bridge.contact_jid(CONTACT)
    bridge.open_window(CONTACT)
    bridge.config(expired_token=True)
    mid1 = bridge.send(c, CONTACT, "token has expired")
    e = bridge.wait_error(c, mid1)
    assert e.frm == cj, e.xml
    assert e.error_condition == "not-authorized", e.xml
    assert error_text(e).strip(), e.xml
    notice = c.wait_message(lambda m: m.frm == bridge.gw and m.body,
                            timeout=WAIT)
    assert notice.type in ("chat", "normal", None), notice.xml
    assert "token" in notice.body.lower(), notice.body
    assert "regist" in notice.body.lower(), notice.body
    posts = len(bridge.message_posts())
    assert posts == 1, "190 must not be retried"
    # paused: the next message bounces at once, without asking WhatsApp
    mid2 = bridge.send(c, CONTACT, "still paused")
    e2 = bridge.wait_error(c, mid2)
    assert e2.error_condition == "not-authorized", e2.xml
    _no_more(c, lambda m: m.frm == bridge.gw and m.body, bridge,
             "second notice from the gateway")
    _no_more(c, lambda m: m.type == "error", bridge, "extra error")
    assert len(bridge.message_posts()) == posts, \
        "a paused account must not send"
    # registering again (with a working token) resumes
    bridge.config(expired_token=False)
    bridge.register_ok(c, subscribe=False)
    mid3 = bridge.send(c, CONTACT, "back again", receipt=True)
    bridge.wait_receipt(c, mid3)
    assert bridge.sent_bodies(CONTACT) == ["back again"], \
        "bounced messages must not be sent later"


def test_error_invalid_and_unknown_codes(bridge):
    c = bridge.client()
    cj = bridge.contact_jid(CONTACT)
    bridge.open_window(CONTACT)
    for code in (100, 131008, 131009, 131049):
        before = len(bridge.message_posts())
        bridge.fail(code)
        mid = bridge.send(c, CONTACT, "refused with %d" % code)
        e = bridge.wait_error(c, mid)
        assert e.frm == cj, e.xml
        assert error_text(e).strip(), e.xml
        assert len(bridge.message_posts()) == before + 1, \
            "%d is permanent: it must not be retried" % code
    _no_more(c, lambda m: m.type == "error", bridge, "extra error")
    assert bridge.sent() == []


def test_unregistered_sender_registration_required(bridge, connect_client,
                                                   xmpp_server):
    c = connect_client(xmpp_server)
    mid = bridge.send(c, CONTACT, "I never registered")
    e = bridge.wait_error(c, mid)
    assert e.error_condition == "registration-required", e.xml
    assert bridge.requests("/messages") == []


def test_bad_recipient_big_body_and_gateway_help(bridge):
    c = bridge.client()
    for to in ("abc@" + bridge.gw, "+123@" + bridge.gw,
               "+1234567890123456@" + bridge.gw):
        mid = c.send_message(to, "where does this go?")
        e = bridge.wait_error(c, mid)
        assert e.error_condition == "jid-malformed", (to, e.xml)
    mid = bridge.send(c, CONTACT, "x" * (64 * 1024 + 10))
    e = bridge.wait_error(c, mid)
    assert e.error_condition == "not-acceptable", e.xml
    c.send_message(bridge.gw, "help?")
    help_ = c.wait_message(lambda m: m.frm == bridge.gw and m.body
                           and m.type != "error", timeout=WAIT)
    assert len(help_.body) > 10, help_.xml
    assert bridge.requests("/messages") == []


# --- WhatsApp to XMPP ----------------------------------------------------------

def _announced(t, cj, name, wamid):
    """The new contact cj was announced with its profile name before the
    message wamid: `subscribe` with an XEP-0172 nick (docs/behaviour.md),
    or a privileged roster push naming it (DESIGN.md section 7)."""
    how = new_contact_announcement(t, cj)
    first = t.index(lambda s: s.kind == "message" and s.id == wamid)
    assert how is not None, "the new contact was not announced: %s" % [
        st.xml[:200] for _, st in t.snapshot()]
    kind, i, shown = how
    assert shown == name, "%s names the contact %r, not %r" % (kind, shown,
                                                                name)
    assert first is not None and i < first, \
        "the %s for the new contact came after its first message: %s" % (
            kind, [st.xml[:160] for _, st in t.snapshot()])
    return kind


def test_inbound_text_from_new_contact(bridge):
    c = bridge.client()
    t = Tracker(c)
    cj = bridge.contact_jid(CONTACT)
    wamid = bridge.inbound_text(CONTACT, "Hallo from WhatsApp",
                                name="Ana Example")
    m = bridge.wait_chat(c, wamid)
    wait_for(lambda: new_contact_announcement(t, cj), WAIT, 0.1,
             "the new contact to be announced")
    kind = _announced(t, cj, "Ana Example", wamid)
    assert m.frm == cj, m.xml
    assert m.to == c.jid, "not sent to the bare JID: %s" % m.xml
    assert m.type == "chat", m.xml
    assert m.body == "Hallo from WhatsApp", m.xml
    assert m.has(NS_MARKERS, "markable"), m.xml
    assert m.has(NS_SID, "origin-id"), m.xml
    # the contact ends up in the roster, both ways
    wait_for(lambda: c.roster.get(cj, {}).get("subscription") == "both",
             WAIT, 0.1, "roster item of the contact: both (%s)" % kind)
    # a second message: no new subscription request
    n = len(t.matching(lambda s: s.kind == "presence" and s.frm == cj
                       and s.type == "subscribe"))
    wamid2 = bridge.inbound_text(CONTACT, "second", name="Ana Example")
    assert bridge.wait_chat(c, wamid2).body == "second"
    bridge.flush(c)
    assert len(t.matching(lambda s: s.kind == "presence" and s.frm == cj
                          and s.type == "subscribe")) == n, \
        "the contact asked for a subscription again"


def test_inbound_non_ascii_intact(bridge):
    c = bridge.client()
    t = Tracker(c)
    text = ("caf\u00e9 na\u00efve \u00e9\u00e8 \U0001F600\U0001F44D\U0001F3FD "
            "\u4f60\u597d \U0001D11E \u2014 <&> \"'")
    name = "Jos\u00e9 \u00d1and\u00fa \U0001F31F"
    r = bridge.inbound(CONTACT, text, name=name)
    wamid = r["wamids"][0]
    # the fake sent it as Meta does: ASCII with \\uXXXX (surrogate pairs)
    d = bridge.deliveries(wamid=wamid)[0]
    assert "\\ud83d\\ude00" in d["body"] and "\\u00e9" in d["body"], d["body"]
    m = bridge.wait_chat(c, wamid)
    assert m.body == text, (m.body, text)
    wait_for(lambda: new_contact_announcement(t, bridge.contact_jid(CONTACT)),
             WAIT, 0.1, "the new contact to be announced")
    _announced(t, bridge.contact_jid(CONTACT), name, wamid)


def test_inbound_other_types_get_placeholders(bridge):
    c = bridge.client()
    wamid = bridge.inbound(CONTACT, type="image", caption="look at this",
                           name="Ana")["wamids"][0]
    m = bridge.wait_chat(c, wamid)
    # "[image received on WhatsApp: ...]" until images are bridged natively,
    # then the URL as the body and in an XEP-0066 <x/>
    assert readable_placeholder(m) == "oob" or \
        m.body.startswith("[image received on WhatsApp"), m.xml
    # media (until files are bridged) and unsupported types: a readable
    # notice in brackets; locations: a geo: URI; contact cards: text
    for spec, start in (({"type": "sticker"}, "[sticker"),
                        ({"type": "voice"}, "[voice"),
                        ({"type": "document", "filename": "a.pdf"},
                         "[document received on WhatsApp: a.pdf"),
                        ({"type": "location", "name_of_place": "HQ"}, "geo:"),
                        ({"type": "contacts"}, "Contact: "),
                        ({"type": "unsupported"}, "[WhatsApp did not pass")):
        wamid = bridge.inbound(CONTACT, name="Ana", **spec)["wamids"][0]
        m = bridge.wait_chat(c, wamid)
        if spec["type"] in ("sticker", "voice", "document") and \
                readable_placeholder(m) == "oob":
            continue        # bridged natively by now
        assert m.body and m.body.startswith(start) and len(m.body) > 5, \
            (spec, m.xml)


# --- webhook security ------------------------------------------------------------

def test_webhook_verification_get(bridge):
    r = bridge.verify(challenge="1158201444")
    assert r["status"] == 200 and r["body"] == "1158201444", r
    r = bridge.verify(verify_token="wrong-token")
    assert r["status"] == 403, r
    r = bridge.verify(verify_token=bridge.verify_token + "x")
    assert r["status"] == 403, r
    # the bare challenge, as text, not JSON (checked on the raw bytes: the
    # fake decodes with a guessed charset)
    for challenge in ("987654321", "abc-DEF_123.~"):
        q = urllib.parse.urlencode({"hub.mode": "subscribe",
                                    "hub.verify_token": bridge.verify_token,
                                    "hub.challenge": challenge})
        status, body, _ = http_get(bridge.webhook_url + "?" + q)
        assert (status, body) == (200, challenge.encode()), (status, body)
        q = urllib.parse.urlencode({"hub.mode": "subscribe",
                                    "hub.verify_token": "nope",
                                    "hub.challenge": challenge})
        status, body, _ = http_get(bridge.webhook_url + "?" + q)
        assert status == 403, (status, body)


def test_forged_signatures_rejected(bridge):
    c = bridge.client()
    forged = {"bad": "4915100000001", "none": "4915100000002",
              "upper": "4915100000003", "tamper": "4915100000004",
              "upperhex": "4915100000005"}
    wamids = {}
    for mode, number in forged.items():
        if mode == "upperhex":
            continue     # not in the contract (Meta sends lower-case hex)
        r = bridge.inbound(number, "forged %s" % mode, name="Mallory",
                           signature=mode, retry=False)
        wamids[mode] = r["wamids"][0]
        assert r["delivery"]["status"] == 403, (mode, r)
    # a forged status is not applied either
    bridge.config(statuses="none")
    bridge.open_window(CONTACT)
    mid = bridge.send(c, CONTACT, "status me", receipt=True)
    wamid = bridge.wait_sent(1, CONTACT)[0]["wamid"]
    r = bridge.status(wamid, "delivered", signature="bad", retry=False)
    assert r["delivery"]["status"] == 403, r
    # the real thing works
    good = bridge.inbound_text(CONTACT, "genuine", name="Ana")
    bridge.wait_chat(c, good)
    _no_more(c, lambda m: m.id in wamids.values() or is_receipt(m)
             or "forged" in (m.body or ""), bridge, "forged delivery")
    for number in forged.values():
        cj = bridge.contact_jid(number)
        assert not [p for p in c.presences.history if p.frm == cj], cj
    rows = bridge.db("SELECT network_id FROM contact")
    assert not set(r[0] for r in rows) & set(forged.values()), rows
    assert bridge.count("message", "network_id IN (%s)" % ",".join(
        "?" * len(wamids)), *wamids.values()) == 0
    assert bridge.ferry.log_lines(r"webhook rejected"), \
        "rejected webhooks should be logged"
    # and the genuine status still applies afterwards
    bridge.status(wamid, "delivered")
    bridge.wait_receipt(c, mid)


def test_unknown_phone_number_id_ignored(bridge):
    c = bridge.client()
    bridge.add_account(PNID2)       # known to the fake, not to ferry
    r = bridge.inbound(CONTACT, "for somebody else", name="Ana", pnid=PNID2)
    assert r["delivery"]["status"] == 200, r
    bridge.idle()
    d = bridge.deliveries(wamid=r["wamids"][0])
    assert len(d) == 1 and len(d[0]["attempts"]) == 1, \
        "an unknown number id must get 200 at once (no retries): %r" % d
    _no_more(c, lambda m: m.id == r["wamids"][0]
             or "somebody else" in (m.body or ""), bridge,
             "message for an unknown number id")
    assert bridge.ferry.log_lines(PNID2), "the unknown id should be logged"


def test_webhook_big_body_and_malformed_json(bridge):
    c = bridge.client()
    # 3.5 MB (Meta: up to 3 MB), the bulk in a field ferry ignores
    r = bridge.inbound(CONTACT, "big envelope", name="Ana",
                       extra={"padding": "x" * (3500 * 1024)})
    assert r["delivery"]["status"] == 200, r
    assert bridge.wait_chat(c, r["wamids"][0]).body == "big envelope"
    # signed, but not JSON: 400, nothing processed
    r = bridge.raw_webhook('{"object":"whatsapp_business_account","entry":[',
                           retry=False)
    assert r["delivery"]["status"] == 400, r
    r = bridge.raw_webhook("not json at all", retry=False)
    assert r["delivery"]["status"] == 400, r
    assert ferry_alive(bridge)


def ferry_alive(bridge):
    st, js = bridge.ferry.health()
    return st == 200 and js and js.get("component") == "connected"


# --- duplicates, order, batches ----------------------------------------------------

def test_duplicate_webhooks_one_stanza(bridge):
    c = bridge.client()
    r = bridge.inbound(CONTACT, "only once", name="Ana", duplicate=2,
                       wait="final")
    wamid = r["wamids"][0]
    assert r["delivery"]["statuses"] == [200, 200, 200], r
    bridge.wait_chat(c, wamid)
    # duplicate statuses: one receipt
    bridge.config(statuses="none")
    bridge.open_window(CONTACT)
    mid = bridge.send(c, CONTACT, "receipt once", receipt=True)
    sent_wamid = bridge.wait_sent(1, CONTACT)[0]["wamid"]
    r = bridge.status(sent_wamid, "delivered", duplicate=2, wait="final")
    assert r["delivery"]["statuses"] == [200, 200, 200], r
    bridge.wait_receipt(c, mid)
    _no_more(c, lambda m: m.id == wamid or is_receipt(m), bridge,
             "duplicate stanza")
    # a duplicate after a restart is still a duplicate (the store knows)
    bridge.restart_ferry()
    r = bridge.inbound(CONTACT, "only once", name="Ana", id=wamid)
    assert r["delivery"]["status"] == 200, r
    r = bridge.status(sent_wamid, "delivered")
    assert r["delivery"]["status"] == 200, r
    _no_more(c, lambda m: m.id == wamid or is_receipt(m), bridge,
             "duplicate stanza after a restart")


def test_statuses_out_of_order(bridge):
    c = bridge.client()
    bridge.config(statuses="none")
    bridge.open_window(CONTACT)
    m1 = bridge.send(c, CONTACT, "one", receipt=True, markable=True)
    m2 = bridge.send(c, CONTACT, "two", receipt=True, markable=True)
    sent = bridge.wait_sent(2, CONTACT)
    w1, w2 = sent[0]["wamid"], sent[1]["wamid"]
    # read before delivered (delivered skipped): receipt and marker
    bridge.status(w1, "read")
    bridge.wait_receipt(c, m1)
    bridge.wait_displayed(c, m1)
    # late statuses never move it back; failed after read is ignored
    for st in ("delivered", "sent", "failed"):
        kw = {"error": 131026} if st == "failed" else {}
        bridge.status(w1, st, **kw)
    # failed is final
    bridge.status(w2, "failed", error=131026)
    bridge.wait_error(c, m2)
    bridge.status(w2, "delivered")
    bridge.status(w2, "read")
    _no_more(c, lambda m: is_receipt(m) or is_displayed(m)
             or m.type == "error", bridge, "status went backwards")


def test_status_profile_read_before_delivered(bridge):
    c = bridge.client()
    bridge.config(number_statuses={CONTACT: "read_before_delivered"})
    bridge.open_window(CONTACT)
    mid = bridge.send(c, CONTACT, "fast reader", receipt=True, markable=True)
    bridge.wait_receipt(c, mid)
    bridge.wait_displayed(c, mid)
    bridge.idle()
    _no_more(c, lambda m: is_receipt(m) or is_displayed(m), bridge,
             "second receipt/marker")


def test_batched_webhook(bridge):
    token2 = bridge.add_account(PNID2)
    c1 = bridge.client()
    c2 = bridge.client(pnid=PNID2, token=token2)
    bridge.config(statuses="none")
    bridge.open_window(CONTACT)
    bridge.open_window(CONTACT2, pnid=PNID2)
    m1 = bridge.send(c1, CONTACT, "from c1", receipt=True, markable=True)
    m2 = bridge.send(c2, CONTACT2, "from c2", receipt=True)
    w1 = bridge.wait_sent(1, CONTACT)[0]["wamid"]
    w2 = bridge.wait_sent(1, CONTACT2)[0]["wamid"]
    items = [
        {"from": CONTACT, "name": "Ana", "text": "batch one"},
        {"from": CONTACT3, "name": "Bob", "text": "batch two"},
        {"wamid": w1, "status": "delivered"},
        {"from": CONTACT, "name": "Ana", "text": "batch three"},
        {"from": CONTACT2, "name": "Cy", "text": "for c2", "pnid": PNID2},
        {"wamid": w2, "status": "read", "pnid": PNID2},
        {"wamid": w1, "status": "read"},
    ]
    r = bridge.batch(items)
    assert r["delivery"]["status"] == 200, r
    assert len(bridge.deliveries(kind="batch")) == 1
    wam = r["wamids"]
    got1 = [bridge.wait_chat(c1, w) for w in (wam[0], wam[1], wam[3])]
    assert [m.body for m in got1] == ["batch one", "batch two",
                                      "batch three"]
    assert got1[0].frm == got1[2].frm == bridge.contact_jid(CONTACT)
    assert got1[1].frm == bridge.contact_jid(CONTACT3)
    bridge.wait_receipt(c1, m1)
    bridge.wait_displayed(c1, m1)
    assert bridge.wait_chat(c2, wam[4]).body == "for c2"
    bridge.wait_receipt(c2, m2)
    # nothing crossed over
    _no_more(c1, lambda m: m.id == wam[4] or is_receipt(m, m2), bridge,
             "c2's stanza at c1")
    _no_more(c2, lambda m: m.id in (wam[0], wam[1], wam[3])
             or is_receipt(m, m1), bridge, "c1's stanza at c2")
    # messages of one contact in order, also with one entry per item
    r = bridge.batch([{"from": CONTACT, "name": "Ana", "text": "e%d" % i}
                      for i in range(5)], layout="entries")
    assert r["delivery"]["status"] == 200, r
    got = [bridge.wait_chat(c1, w).body for w in r["wamids"]]
    assert got == ["e%d" % i for i in range(5)]
    t = [m.id for m in c1.messages.history if m.id in r["wamids"]]
    assert t == r["wamids"], "batched messages arrived out of order"


def test_status_before_send_response(bridge):
    c = bridge.client()
    bridge.config(early_statuses=True)
    bridge.open_window(CONTACT)
    mid = bridge.send(c, CONTACT, "racing statuses", receipt=True,
                      markable=True)
    bridge.wait_receipt(c, mid)
    bridge.wait_displayed(c, mid)
    w = bridge.sent(CONTACT)[0]["wamid"]
    d = bridge.deliveries(wamid=w)
    assert d and all(x["status"] == 200 for x in d), d
    _no_more(c, lambda m: is_receipt(m) or is_displayed(m), bridge,
             "second receipt/marker")


# --- presence ----------------------------------------------------------------------

def test_presence_contact_subscription_and_probe(bridge, xmpp_server,
                                                 connect_client):
    c = bridge.client()
    cj = bridge.contact_jid(CONTACT)
    c.send_presence(cj, "subscribe")
    c.wait_presence(lambda p: p.frm == cj and p.type == "subscribed",
                    timeout=WAIT)
    c.wait_presence(lambda p: p.frm == cj and p.type == "subscribe",
                    timeout=WAIT)
    c.wait_presence(lambda p: p.frm == cj and p.type is None, timeout=WAIT)
    wait_for(lambda: c.roster.get(cj, {}).get("subscription") == "both",
             WAIT, 0.1, "roster item of the contact: both")
    assert bridge.db("SELECT network_id FROM contact") == [(CONTACT,)]
    # a new session probes: the contact and the gateway answer available
    c2 = connect_client(xmpp_server, c.user, c.password)
    c2.wait_presence(lambda p: p.frm == cj and p.type is None, timeout=WAIT)
    c2.wait_presence(lambda p: p.frm == bridge.gw and p.type is None,
                     timeout=WAIT)
    # SIGTERM: unavailable from both; start: available again
    rc, _ = bridge.ferry.stop()
    assert rc == 0
    for frm in (bridge.gw, cj):
        c2.wait_presence(lambda p, f=frm: p.frm == f
                         and p.type == "unavailable", timeout=WAIT)
    bridge.start_ferry()
    for frm in (bridge.gw, cj):
        c2.wait_presence(lambda p, f=frm: p.frm == f and p.type is None,
                         timeout=WAIT)
    # and messages flow again (to the bare JID: either session may get it)
    wamid = bridge.inbound_text(CONTACT, "to your bare JID", name="Ana")
    wait_for(lambda: [m for cl in (c, c2) for m in cl.messages.pending()
                      if m.id == wamid], WAIT, 0.1, "the message after the "
             "restart")
