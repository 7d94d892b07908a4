# SPDX-License-Identifier: MIT
"""Cloud API rich messaging end to end (issue 4, points 1-4, 7, 8, 9; the
files and pictures of points 5 and 6 are in test_media.py): replies both
ways (XEP-0461 with the XEP-0428 quote fallback), reactions both ways
(XEP-0444, removal with an empty and an absent emoji, a failed reaction),
typing (XEP-0085 composing -> typing indicator, the 20 s limit, the
per-account setting), edits and deletions from WhatsApp (XEP-0308,
XEP-0424), the user's own corrections and retractions (refused), locations,
contact cards, button and interactive replies, unsupported messages, a
changed number, formatting, and the contact JIDs' caps and disco#info.
Every test runs against Prosody and ejabberd."""

import base64
import hashlib
import json
import time
from xml.sax.saxutils import escape, quoteattr

from harness.network import DISPLAY, PNID, WAIT, Tracker, error_text
from harness.util import wait_for

CONTACT = "4915112345678"
CONTACT2 = "4915198765432"
NEW_NUMBER = "4915711122233"

NS_REPLY = "urn:xmpp:reply:0"
NS_FALLBACK = "urn:xmpp:fallback:0"
NS_REACTIONS = "urn:xmpp:reactions:0"
NS_CHATSTATES = "http://jabber.org/protocol/chatstates"
NS_CORRECT = "urn:xmpp:message-correct:0"
NS_RETRACT = "urn:xmpp:message-retract:1"
NS_RETRACT0 = "urn:xmpp:message-retract:0"
NS_FASTEN = "urn:xmpp:fasten:0"
NS_HINTS = "urn:xmpp:hints"
NS_CAPS = "http://jabber.org/protocol/caps"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_PING = "urn:xmpp:ping"
NS_MAM = "urn:xmpp:mam:2"  # a team's history (test_team_history.py)

# what a Cloud API contact JID must advertise (the back end's capability
# table), besides disco#info, ping and MAM which every contact JID answers
CLOUDAPI_FEATURES = {
    "urn:xmpp:receipts", "urn:xmpp:chat-markers:0", NS_CHATSTATES, NS_REPLY,
    NS_REACTIONS, NS_CORRECT, NS_RETRACT, NS_RETRACT0, "jabber:x:oob"}


# --- helpers -------------------------------------------------------------------

def incoming(bridge, c, wa_id, text, name="Ana", **spec):
    """A text from wa_id, received by c; (wamid, Stanza)."""
    wamid = bridge.inbound_text(wa_id, text, name=name, **spec)
    return wamid, bridge.wait_chat(c, wamid)


def sent_by_user(bridge, c, wa_id, text):
    """c sends text to wa_id (asking for a receipt) and WhatsApp delivers
    it; (stanza id, wamid).  After the receipt ferry knows the wamid."""
    bridge.open_window(wa_id)
    mid = bridge.send(c, wa_id, text, receipt=True)
    bridge.wait_receipt(c, mid)
    mine = [s for s in bridge.sent(wa_id) if s["type"] == "text"
            and s["payload"].get("body") == text]
    assert len(mine) == 1, bridge.sent(wa_id)
    return mid, mine[0]["wamid"]


def sends_of(bridge, wa_id, mtype):
    return [s for s in bridge.sent(wa_id) if s["type"] == mtype]


def wait_sends_of(bridge, wa_id, mtype, n):
    got = []

    def enough():
        got[:] = sends_of(bridge, wa_id, mtype)
        return len(got) >= n
    wait_for(enough, WAIT, 0.1, "%d %s send(s) to %s" % (n, mtype, wa_id))
    return got


def reply_xml(reply_id, to=None):
    return "<reply xmlns='%s' id=%s%s/>" % (
        NS_REPLY, quoteattr(reply_id), " to=%s" % quoteattr(to) if to else "")


def fallback_xml(start, end):
    return ("<fallback xmlns='%s' for='%s'><body start='%d' end='%d'/>"
            "</fallback>" % (NS_FALLBACK, NS_REPLY, start, end))


def reactions_xml(target, *emojis):
    return "<reactions xmlns='%s' id=%s>%s</reactions>" % (
        NS_REACTIONS, quoteattr(target),
        "".join("<reaction>%s</reaction>" % escape(e) for e in emojis))


def react(bridge, c, wa_id, target, *emojis):
    """The user's XEP-0444 reaction (no emoji: removal); its stanza id."""
    return bridge.send(c, wa_id, None, extra=[
        reactions_xml(target, *emojis), "<store xmlns='%s'/>" % NS_HINTS])


def composing(bridge, c, wa_id):
    return bridge.send(c, wa_id, None,
                       extra=["<composing xmlns='%s'/>" % NS_CHATSTATES])


def split_reply(m):
    """(reply element, quote, rest) of an XEP-0461 reply with its XEP-0428
    fallback; checks that the offsets cut exactly one '> ' quote."""
    r = m.child(NS_REPLY, "reply")
    assert r is not None, "no <reply/>: %s" % m.xml
    fb = m.child(NS_FALLBACK, "fallback")
    assert fb is not None and fb.get("for") == NS_REPLY, m.xml
    b = fb.find("{%s}body" % NS_FALLBACK)
    assert b is not None, m.xml
    start, end = int(b.get("start")), int(b.get("end"))
    body = m.body
    assert 0 == start < end <= len(body), (start, end, body)
    quote, rest = body[start:end], body[end:]
    assert quote.endswith("\n"), (quote, m.xml)
    assert all(line.startswith("> ") for line in quote[:-1].split("\n")), \
        ("the fallback must cut exactly the quote", quote, rest)
    assert not rest.startswith("> "), ("quote longer than the fallback",
                                       quote, rest)
    return r, quote, rest


def no_more(bridge, c, pred, what):
    """After flush(), nothing matching pred may be pending for c."""
    bridge.flush(c)
    extra = [m for m in c.messages.pending() if pred(m)]
    assert not extra, "unexpected %s: %s" % (what, [m.xml for m in extra])


def chat_gateway(bridge, c, text):
    """A chat command to the gateway JID; the answer's body."""
    c.send_message(bridge.gw, text)
    m = c.wait_message(lambda m: m.frm == bridge.gw and m.type != "error"
                       and m.body, timeout=WAIT)
    return m.body


def typing_reads(bridge):
    return [r for r in bridge.reads() if r["typing"]]


# --- replies ---------------------------------------------------------------------

def test_user_replies_to_incoming_message(bridge):
    c = bridge.client()
    cj = bridge.contact_jid(CONTACT)
    original = "Grüße 😀 aus Berlin\nzweite Zeile"
    wamid, _ = incoming(bridge, c, CONTACT, original)
    # a client's reply: the quote as fallback in front of the answer; the
    # offsets count characters (code points), not bytes
    quote = "> Grüße 😀 aus Berlin\n> zweite Zeile\n"
    answer = "Danke 👍 *sehr* gut"
    mid = bridge.send(c, CONTACT, quote + answer,
                      extra=[reply_xml(wamid, cj),
                             fallback_xml(0, len(quote))])
    s = wait_sends_of(bridge, CONTACT, "text", 1)[0]
    assert s["payload"]["body"] == answer, s
    assert s["context"] == {"message_id": wamid}, s
    assert s["body"]["context"] == {"message_id": wamid}, s["body"]
    # a reply without a fallback: the body goes as it is
    bridge.send(c, CONTACT, "no quote here", extra=[reply_xml(wamid, cj)])
    s = wait_sends_of(bridge, CONTACT, "text", 2)[1]
    assert s["payload"]["body"] == "no quote here", s
    assert s["context"] == {"message_id": wamid}, s
    # a reply to an id ferry does not know: a plain message
    bridge.send(c, CONTACT, "> what?\nplain", extra=[
        reply_xml("e2e-never-seen"), fallback_xml(0, len("> what?\n"))])
    s = wait_sends_of(bridge, CONTACT, "text", 3)[2]
    assert s["payload"]["body"] == "plain", s
    assert not s["context"], s
    assert mid


def test_user_replies_to_own_message(bridge):
    c = bridge.client()
    mid, wamid = sent_by_user(bridge, c, CONTACT, "my first message")
    quote = "> my first message\n"
    mid2 = bridge.send(c, CONTACT, quote + "and a follow-up", receipt=True,
                       extra=[reply_xml(mid, c.jid),
                              fallback_xml(0, len(quote))])
    s = wait_sends_of(bridge, CONTACT, "text", 2)[1]
    assert s["payload"]["body"] == "and a follow-up", s
    assert s["context"] == {"message_id": wamid}, s
    # WhatsApp quoting that reply: the quote is its text, not the nested
    # fallback
    bridge.wait_receipt(c, mid2)
    rw = bridge.inbound_text(CONTACT, "ok", name="Ana", reply_to=s["wamid"])
    r, q, rest = split_reply(bridge.wait_chat(c, rw))
    assert r.get("id") == mid2 and q == "> and a follow-up\n", (r.attrib, q)


def test_whatsapp_reply_to_users_message(bridge):
    c = bridge.client()
    cj = bridge.contact_jid(CONTACT)
    text = "Ist das Paket schon da? 📦"
    mid, wamid = sent_by_user(bridge, c, CONTACT, text)
    rwamid = bridge.inbound_text(CONTACT, "Ja, seit gestern", name="Ana",
                                 reply_to=wamid)
    m = bridge.wait_chat(c, rwamid)
    assert m.frm == cj, m.xml
    r, quote, rest = split_reply(m)
    assert r.get("id") == mid, ("reply id must be the XMPP stanza id of the "
                                "quoted message", m.xml)
    assert r.get("to") in (None, c.jid), m.xml
    assert quote == "> %s\n" % text, quote
    assert rest == "Ja, seit gestern", rest


def test_whatsapp_reply_to_incoming_message(bridge):
    c = bridge.client()
    cj = bridge.contact_jid(CONTACT)
    first, _ = incoming(bridge, c, CONTACT, "line one\nline two ünïcödé")
    rwamid = bridge.inbound_text(CONTACT, "replying to myself", name="Ana",
                                 reply_to=first)
    m = bridge.wait_chat(c, rwamid)
    r, quote, rest = split_reply(m)
    assert r.get("id") == first, m.xml
    assert r.get("to") in (None, cj), m.xml
    assert quote == "> line one\n> line two ünïcödé\n", quote
    assert rest == "replying to myself"
    # a long original is quoted shortened
    long_text = "x" * 60 + " " + "y" * 200
    second, _ = incoming(bridge, c, CONTACT, long_text)
    r2 = bridge.inbound_text(CONTACT, "long one", name="Ana",
                             reply_to=second)
    m = bridge.wait_chat(c, r2)
    r, quote, rest = split_reply(m)
    assert r.get("id") == second and rest == "long one", m.xml
    assert quote.startswith("> " + "x" * 60) and len(quote) < 200, quote


def test_whatsapp_reply_to_unknown_message(bridge):
    c = bridge.client()
    incoming(bridge, c, CONTACT, "hello")
    unknown = "wamid.HBgLNDkxNTExMjM0NTY3OBUCABIYFjNFQjBEMEQ4QUFBQUFBQUFBQUFBAA=="
    rwamid = bridge.inbound_text(CONTACT, "did you get this?", name="Ana",
                                 reply_to=unknown)
    m = bridge.wait_chat(c, rwamid)
    r, quote, rest = split_reply(m)
    assert r.get("id") == unknown, m.xml
    assert "not seen" in quote or "unknown" in quote, quote
    assert rest == "did you get this?", rest


# --- reactions -------------------------------------------------------------------

def test_user_reactions_to_whatsapp(bridge):
    c = bridge.client()
    wamid, _ = incoming(bridge, c, CONTACT, "react to me")
    react(bridge, c, CONTACT, wamid, "👍")
    s = wait_sends_of(bridge, CONTACT, "reaction", 1)[0]
    assert s["payload"] == {"message_id": wamid, "emoji": "👍"}, s
    assert s["to"] == "+" + CONTACT and not s["context"], s
    # change
    react(bridge, c, CONTACT, wamid, "❤️")
    s = wait_sends_of(bridge, CONTACT, "reaction", 2)[1]
    assert s["payload"] == {"message_id": wamid, "emoji": "❤️"}, s
    # remove: an empty set -> emoji ""
    react(bridge, c, CONTACT, wamid)
    s = wait_sends_of(bridge, CONTACT, "reaction", 3)[2]
    assert s["payload"] == {"message_id": wamid, "emoji": ""}, s
    # a reaction to the user's own message
    mid, own = sent_by_user(bridge, c, CONTACT, "mine")
    react(bridge, c, CONTACT, mid, "😂")
    s = wait_sends_of(bridge, CONTACT, "reaction", 4)[3]
    assert s["payload"] == {"message_id": own, "emoji": "😂"}, s
    # no error came back for any of them
    no_more(bridge, c, lambda m: m.type == "error", "error")


def test_user_reaction_to_unknown_message(bridge):
    c = bridge.client()
    incoming(bridge, c, CONTACT, "hello")
    rid = react(bridge, c, CONTACT, "e2e-no-such-message", "👍")
    e = bridge.wait_error(c, rid)
    assert e.frm == bridge.contact_jid(CONTACT), e.xml
    assert e.error_condition == "item-not-found", e.xml
    assert error_text(e), e.xml
    assert sends_of(bridge, CONTACT, "reaction") == []


def test_user_reaction_failed_131009(bridge):
    c = bridge.client()
    cj = bridge.contact_jid(CONTACT)
    wamid, _ = incoming(bridge, c, CONTACT, "an old message")
    rid = react(bridge, c, CONTACT, wamid, "👍")
    s = wait_sends_of(bridge, CONTACT, "reaction", 1)[0]
    bridge.status(s["wamid"], "failed", error=131009)
    e = bridge.wait_error(c, rid)
    assert e.frm == cj, e.xml
    assert e.error[0] == "cancel", e.xml
    assert "131009" in error_text(e), e.xml
    # and once only (the fake's own 'sent' status changes nothing)
    bridge.idle()
    no_more(bridge, c, lambda m: m.type == "error" and m.id == rid,
            "second error for the failed reaction")


def test_user_reaction_to_message_whatsapp_forgot(bridge):
    """A message ferry has, WhatsApp no longer knows (deleted, too old):
    the fake answers the reaction with a failed status carrying 131009."""
    c = bridge.client()
    wamid = "wamid.HBgLNDkxNTExMjM0NTY3OBUCABEYEjdGMkM5RTY4QkNCQjAwRDE0AA=="
    body = {"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": DISPLAY,
                         "phone_number_id": PNID},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": CONTACT}],
            "messages": [{"from": CONTACT, "id": wamid,
                          "timestamp": str(int(time.time()) - 40 * 86400),
                          "type": "text", "text": {"body": "very old"}}]}}]}]}
    r = bridge.raw_webhook(json.dumps(body))
    assert r["delivery"]["ok"], r
    bridge.wait_chat(c, wamid)
    # the customer writes again today: the window is open (for ferry, which
    # refuses anything past 24 hours after the last message, and the fake)
    bridge.wait_chat(c, bridge.inbound_text(CONTACT, "still there?"))
    rid = react(bridge, c, CONTACT, wamid, "😮")
    e = bridge.wait_error(c, rid)
    assert "131009" in error_text(e), e.xml
    assert e.frm == bridge.contact_jid(CONTACT), e.xml


def test_whatsapp_reactions_to_user(bridge):
    c = bridge.client()
    cj = bridge.contact_jid(CONTACT)
    mid, wamid = sent_by_user(bridge, c, CONTACT, "react to this")

    def reaction(**spec):
        rw = bridge.inbound(CONTACT, type="reaction", message_id=wamid,
                            name="Ana", **spec)["wamids"][0]
        m = bridge.wait_chat(c, rw)
        assert m.frm == cj, m.xml
        r = m.child(NS_REACTIONS, "reactions")
        assert r is not None and r.get("id") == mid, m.xml
        assert m.body is None, ("a reaction is not a text", m.xml)
        return [e.text for e in r.findall("{%s}reaction" % NS_REACTIONS)]

    assert reaction(emoji="😮") == ["😮"]
    assert reaction(emoji="👍🏽") == ["👍🏽"]       # change (skin tone kept)
    assert reaction(emoji="") == []               # removal, empty emoji
    assert reaction(emoji="🙏") == ["🙏"]
    assert reaction() == []                       # removal, emoji absent
    # a reaction to the contact's own (incoming) message
    own, _ = incoming(bridge, c, CONTACT, "mine")
    rw = bridge.inbound(CONTACT, type="reaction", message_id=own, emoji="🎉",
                        name="Ana")["wamids"][0]
    m = bridge.wait_chat(c, rw)
    assert m.child(NS_REACTIONS, "reactions").get("id") == own, m.xml


def test_whatsapp_reaction_to_unknown_message(bridge):
    c = bridge.client()
    cj = bridge.contact_jid(CONTACT)
    incoming(bridge, c, CONTACT, "hi")
    unknown = "wamid.HBgLNDkxNTExMjM0NTY3OBUCABEYEkJBRDAwMDAwMDAwMDAwMDAA"
    rw = bridge.inbound(CONTACT, type="reaction", message_id=unknown,
                        emoji="😮", name="Ana")["wamids"][0]
    m = bridge.wait_chat(c, rw)
    assert m.frm == cj and m.child(NS_REACTIONS, "reactions") is None, m.xml
    assert m.body and "😮" in m.body and m.body.startswith("["), m.xml
    for spec in ({"emoji": ""}, {}):
        rw = bridge.inbound(CONTACT, type="reaction", message_id=unknown,
                            name="Ana", **spec)["wamids"][0]
        m = bridge.wait_chat(c, rw)
        assert m.body and m.body.startswith("[") and "reaction" in m.body, \
            (spec, m.xml)


# --- typing ----------------------------------------------------------------------

def test_typing_indicator(bridge):
    c = bridge.client()
    incoming(bridge, c, CONTACT, "first")
    latest, _ = incoming(bridge, c, CONTACT, "second")
    since = bridge.seq()
    composing(bridge, c, CONTACT)
    reads = bridge.wait_reads(1)
    assert len(reads) == 1 and reads[0]["typing"], reads
    assert reads[0]["message_id"] == latest, (reads, latest)
    req = [r for r in bridge.requests("/messages", "POST", since)
           if (r.get("json") or {}).get("typing_indicator")]
    assert len(req) == 1, req
    assert req[0]["json"] == {
        "messaging_product": "whatsapp", "status": "read",
        "message_id": latest, "typing_indicator": {"type": "text"}}, req[0]
    assert req[0]["status"] == 200, req[0]
    # right away again: no second indicator (one per 20 s); a text with
    # <active/> (what clients send with a body) is no indicator either.
    # The text leaves after anything queued before it for this contact.
    composing(bridge, c, CONTACT)
    bridge.send(c, CONTACT, "typed it",
                extra=["<active xmlns='%s'/>" % NS_CHATSTATES])
    wait_sends_of(bridge, CONTACT, "text", 1)
    assert len(typing_reads(bridge)) == 1, bridge.reads()


def test_typing_none_when_contact_never_wrote(bridge):
    c = bridge.client()
    incoming(bridge, c, CONTACT, "someone else wrote")
    composing(bridge, c, CONTACT2)
    bridge.open_window(CONTACT2)
    bridge.send(c, CONTACT2, "hello stranger")
    wait_sends_of(bridge, CONTACT2, "text", 1)
    assert bridge.reads() == [], bridge.reads()


def test_typing_setting_off(bridge):
    c = bridge.client()
    answer = chat_gateway(bridge, c, "settings typing off")
    assert "off" in answer.lower(), answer
    incoming(bridge, c, CONTACT, "are you typing?")
    composing(bridge, c, CONTACT)
    bridge.send(c, CONTACT, "no indicator wanted")
    wait_sends_of(bridge, CONTACT, "text", 1)
    assert bridge.reads() == [], bridge.reads()
    # on again
    answer = chat_gateway(bridge, c, "settings typing on")
    composing(bridge, c, CONTACT)
    reads = bridge.wait_reads(1)
    assert reads[0]["typing"], reads


# --- edits and deletions from WhatsApp -------------------------------------------

def test_whatsapp_edit(bridge):
    c = bridge.client()
    cj = bridge.contact_jid(CONTACT)
    orig, _ = incoming(bridge, c, CONTACT, "Treffen um 5")
    ew = bridge.inbound(CONTACT, type="edit", original_message_id=orig,
                        message={"type": "text", "text": "Treffen um 6 ✅"},
                        name="Ana")["wamids"][0]
    m = bridge.wait_chat(c, ew)
    assert m.frm == cj, m.xml
    rep = m.child(NS_CORRECT, "replace")
    assert rep is not None and rep.get("id") == orig, m.xml
    assert m.body == "Treffen um 6 ✅", m.xml
    # a second edit corrects the original again (XEP-0308: the id of the
    # first message, not of the previous correction)
    ew = bridge.inbound(CONTACT, type="edit", original_message_id=orig,
                        message={"type": "text", "text": "Treffen um 7"},
                        name="Ana")["wamids"][0]
    m = bridge.wait_chat(c, ew)
    assert m.child(NS_CORRECT, "replace").get("id") == orig, m.xml
    assert m.body == "Treffen um 7", m.xml
    # an edit of a message ferry never saw: a readable notice with the text
    ew = bridge.inbound(CONTACT, type="edit",
                        original_message_id="wamid.UNKNOWN-EDIT",
                        message={"type": "text", "text": "neuer Text"},
                        name="Ana")["wamids"][0]
    m = bridge.wait_chat(c, ew)
    assert m.child(NS_CORRECT, "replace") is None, m.xml
    assert m.body and "neuer Text" in m.body and m.body.startswith("["), \
        m.xml
    # an edit whose new content is a captioned picture: the caption arrives
    ew = bridge.inbound(CONTACT, type="edit", original_message_id=orig,
                        message={"type": "image",
                                 "caption": "Updated image caption"},
                        name="Ana")["wamids"][0]
    m = bridge.wait_chat(c, ew)
    assert m.body and "Updated image caption" in m.body, m.xml


def test_reply_quotes_edited_and_deleted_messages_as_they_are_now(bridge):
    c = bridge.client()
    orig, _ = incoming(bridge, c, CONTACT, "old text")
    ew = bridge.inbound(CONTACT, type="edit", original_message_id=orig,
                        message={"type": "text", "text": "new text"},
                        name="Ana")["wamids"][0]
    bridge.wait_chat(c, ew)
    rw = bridge.inbound_text(CONTACT, "about that", name="Ana", reply_to=orig)
    _, quote, rest = split_reply(bridge.wait_chat(c, rw))
    assert quote == "> new text\n" and rest == "about that", quote
    gone, _ = incoming(bridge, c, CONTACT, "secret plans")
    rv = bridge.inbound(CONTACT, type="revoke", original_message_id=gone,
                        name="Ana")["wamids"][0]
    bridge.wait_chat(c, rv)
    rw = bridge.inbound_text(CONTACT, "forget it", name="Ana", reply_to=gone)
    _, quote, _ = split_reply(bridge.wait_chat(c, rw))
    assert "secret plans" not in quote and "deleted" in quote, quote


def test_whatsapp_revoke(bridge):
    c = bridge.client()
    cj = bridge.contact_jid(CONTACT)
    orig, _ = incoming(bridge, c, CONTACT, "oops, wrong chat")
    rw = bridge.inbound(CONTACT, type="revoke", original_message_id=orig,
                        name="Ana")["wamids"][0]
    m = bridge.wait_chat(c, rw)
    assert m.frm == cj, m.xml
    r1 = m.child(NS_RETRACT, "retract")
    assert r1 is not None and r1.get("id") == orig, m.xml
    fasten = m.child(NS_FASTEN, "apply-to")
    assert fasten is not None and fasten.get("id") == orig, m.xml
    assert fasten.find("{%s}retract" % NS_RETRACT0) is not None, m.xml
    fb = m.child(NS_FALLBACK, "fallback")
    assert fb is not None and fb.get("for") == NS_RETRACT, m.xml
    assert m.body, "a fallback body for clients without XEP-0424: " + m.xml
    assert m.has(NS_HINTS, "store"), m.xml
    # unknown original: a notice
    rw = bridge.inbound(CONTACT, type="revoke",
                        original_message_id="wamid.UNKNOWN-REVOKE",
                        name="Ana")["wamids"][0]
    m = bridge.wait_chat(c, rw)
    assert m.child(NS_RETRACT, "retract") is None, m.xml
    assert m.body and m.body.startswith("[") and "delete" in m.body, m.xml


# --- corrections and retractions from the user: refused ----------------------------

def test_user_correction_and_retraction_refused(bridge):
    c = bridge.client()
    cj = bridge.contact_jid(CONTACT)
    mid, _ = sent_by_user(bridge, c, CONTACT, "a typo hree")
    cases = [
        ("here", ["<replace xmlns='%s' id=%s/>" % (NS_CORRECT,
                                                   quoteattr(mid))], "edit"),
        ("deleted", ["<retract xmlns='%s' id=%s/>" % (NS_RETRACT,
                                                      quoteattr(mid)),
                     "<fallback xmlns='%s' for='%s'/>" % (NS_FALLBACK,
                                                          NS_RETRACT)],
         "delete"),
        (None, ["<apply-to xmlns='%s' id=%s><retract xmlns='%s'/>"
                "</apply-to>" % (NS_FASTEN, quoteattr(mid), NS_RETRACT0)],
         "delete"),
    ]
    for body, extra, word in cases:
        sid = bridge.send(c, CONTACT, body, extra=extra)
        e = bridge.wait_error(c, sid)
        assert e.frm == cj, e.xml
        assert e.error_condition == "not-acceptable", e.xml
        assert word in error_text(e).lower(), e.xml
    # nothing of it reached WhatsApp; the next message goes as usual
    bridge.send(c, CONTACT, "plain again")
    sent = wait_sends_of(bridge, CONTACT, "text", 2)
    assert [s["payload"]["body"] for s in bridge.sent(CONTACT)] == \
        ["a typo hree", "plain again"], sent


# --- other inbound types -----------------------------------------------------------

def test_location(bridge):
    c = bridge.client()
    cj = bridge.contact_jid(CONTACT)
    t = Tracker(c)
    lat, lon = 52.5162746, 13.3777041
    geo = "geo:%.7f,%.7f" % (lat, lon)
    w = bridge.inbound(CONTACT, type="location", latitude=lat, longitude=lon,
                       name_of_place="Brandenburger Tor",
                       address="Pariser Platz, 10117 Berlin",
                       url="https://maps.example/?q=1", name="Ana")["wamids"][0]
    m = bridge.wait_chat(c, w)
    assert m.frm == cj and m.body == geo, m.xml
    p = bridge.wait_chat(c, w + "-place")
    assert p.frm == cj, p.xml
    assert p.body == "Brandenburger Tor\nPariser Platz, 10117 Berlin", p.xml
    assert t.index(lambda s: s.id == w) < t.index(
        lambda s: s.id == w + "-place"), "the place before the geo: URI"
    # name only
    w2 = bridge.inbound(CONTACT, type="location", latitude=-33.8567844,
                        longitude=151.213108, name_of_place="Opera House",
                        name="Ana")["wamids"][0]
    m = bridge.wait_chat(c, w2)
    assert m.body == "geo:%.7f,%.7f" % (-33.8567844, 151.213108), m.xml
    assert bridge.wait_chat(c, w2 + "-place").body == "Opera House"
    # a current-location share: coordinates only, no second message
    w3 = bridge.inbound(CONTACT, type="location", latitude=0.5,
                        longitude=-0.25, name="Ana")["wamids"][0]
    assert bridge.wait_chat(c, w3).body == "geo:0.5000000,-0.2500000"
    no_more(bridge, c, lambda m: m.id == w3 + "-place",
            "place message for a location without name or address")


def test_contact_cards(bridge):
    c = bridge.client()
    gw = bridge.gw
    cards = [
        {"name": {"first_name": "Chandler", "last_name": "Bing",
                  "formatted_name": "Chandler Bing"},
         "phones": [{"phone": "+1 555-555-5555", "wa_id": "15555555555",
                     "type": "CELL"},
                    {"phone": "+1 555-000-0000", "type": "HOME"}]},
        {"name": {"formatted_name": "Mónica Geller"},
         "phones": [{"phone": "+1 555-111-2222", "wa_id": "15551112222",
                     "type": "WORK"}]},
    ]
    w = bridge.inbound(CONTACT, type="contacts", contacts=cards,
                       name="Ana")["wamids"][0]
    m = bridge.wait_chat(c, w)
    body = m.body
    assert body.startswith("Contact: Chandler Bing"), body
    assert "Contact: Mónica Geller" in body, body
    for number in ("15555555555", "15551112222"):
        assert "xmpp:+%s@%s" % (number, gw) in body, body
    assert "+1 555-000-0000" in body, body
    assert "xmpp:+15550000000" not in body, body
    assert body.index("Chandler") < body.index("+15555555555@") < \
        body.index("Mónica") < body.index("+15551112222@"), body


def test_button_and_interactive_replies(bridge):
    c = bridge.client()
    cases = [
        ({"type": "button", "button_text": "Yes, please",
          "payload": "YES_PAYLOAD"}, lambda b: b == "Yes, please"),
        ({"type": "interactive",
          "button_reply": {"id": "opt-a", "title": "Option A"}},
         lambda b: b == "Option A"),
        ({"type": "interactive",
          "list_reply": {"id": "row-1", "title": "Row one",
                         "description": "The first row"}},
         lambda b: b.startswith("Row one") and "The first row" in b
         and "row-1" not in b),
        # one WhatsApp could not parse: no body, value-level errors
        ({"type": "interactive", "interactive": None,
          "errors": [{"code": 131000, "title": "Something went wrong",
                      "message": "Something went wrong",
                      "error_data": {"details": "Unsupported webhook "
                                                "payload"}}]},
         lambda b: b.startswith("[")),
    ]
    for spec, ok in cases:
        w = bridge.inbound(CONTACT, name="Ana", **spec)["wamids"][0]
        m = bridge.wait_chat(c, w)
        assert m.frm == bridge.contact_jid(CONTACT), m.xml
        assert m.body and ok(m.body), (spec, m.xml)


def test_unsupported(bridge):
    c = bridge.client()
    for spec in ({}, {"unsupported_type": None}):
        w = bridge.inbound(CONTACT, type="unsupported", name="Ana",
                           **spec)["wamids"][0]
        m = bridge.wait_chat(c, w)
        assert m.body.startswith("[WhatsApp did not pass"), m.xml
        assert "Message type is currently not supported" in m.body, m.xml


def test_user_changed_number(bridge):
    c = bridge.client()
    old_jid = bridge.contact_jid(CONTACT)
    new_jid = bridge.contact_jid(NEW_NUMBER)
    incoming(bridge, c, CONTACT, "hi from my old number")
    sw = bridge.inbound(CONTACT, type="system", new_wa_id=NEW_NUMBER,
                        name="Ana")["wamids"][0]
    m = bridge.wait_chat(c, sw)
    assert m.frm == old_jid, m.xml
    assert m.body.startswith("[") and CONTACT in m.body \
        and NEW_NUMBER in m.body, m.xml
    # the new number writes: same contact JID, no new subscription
    w, m = incoming(bridge, c, NEW_NUMBER, "hi from my new number")
    assert m.frm == old_jid, m.xml
    # the old number still reaches the same contact
    w, m = incoming(bridge, c, CONTACT, "an old message, delivered late")
    assert m.frm == old_jid, m.xml
    bridge.flush(c)
    assert not [p for p in c.presences.history if p.frm == new_jid], \
        [p.xml for p in c.presences.history if p.frm == new_jid]
    assert not [x for x in c.messages.history if x.frm == new_jid]
    # the user writes to the old JID: it goes to the new number
    bridge.send(c, CONTACT, "which number is this?")
    s = wait_sends_of(bridge, NEW_NUMBER, "text", 1)[0]
    assert s["to"] == "+" + NEW_NUMBER, s
    assert s["payload"]["body"] == "which number is this?"
    assert sends_of(bridge, CONTACT, "text") == []
    # and typing goes on the latest message, from the new number
    composing(bridge, c, CONTACT)
    reads = bridge.wait_reads(1)
    assert reads[0]["typing"] and reads[0]["message_id"] == w, (reads, w)


# --- formatting --------------------------------------------------------------------

FORMATTED = ("*bold* _italic_ ~strike~ ```mono``` `code`\n"
             "> a quote line\n"
             "```\nblock *not bold*\n  indented\n```\n"
             "- item one\n1. item two")


def test_formatting_passes_through(bridge):
    c = bridge.client()
    w, m = incoming(bridge, c, CONTACT, FORMATTED)
    assert m.body == FORMATTED, (m.body, FORMATTED)
    bridge.send(c, CONTACT, FORMATTED)
    s = wait_sends_of(bridge, CONTACT, "text", 1)[0]
    assert s["payload"]["body"] == FORMATTED, s


# --- capabilities ------------------------------------------------------------------

def caps_ver(info):
    """XEP-0115 section 5.1 verification string of a disco#info answer
    (no extended forms here)."""
    s = ""
    for cat, typ, lang, name in sorted(
            info.identities, key=lambda i: (i[0] or "", i[1] or "",
                                            i[2] or "", i[3] or "")):
        s += "%s/%s/%s/%s<" % (cat or "", typ or "", lang or "", name or "")
    for f in sorted(info.features):
        s += f + "<"
    return base64.b64encode(hashlib.sha1(s.encode("utf-8")).digest()) \
        .decode()


def test_contact_caps_and_disco(bridge):
    c = bridge.client()
    cj = bridge.contact_jid(CONTACT)
    c.send_presence(cj, "subscribe")
    p = c.wait_presence(lambda p: p.frm == cj and p.type is None,
                        timeout=WAIT)
    caps = p.child(NS_CAPS, "c")
    assert caps is not None, "no XEP-0115 <c/> on available presence: " \
        + p.xml
    assert caps.get("hash") == "sha-1", p.xml
    node, ver = caps.get("node"), caps.get("ver")
    assert node and ver, p.xml
    info = c.disco_info(cj)
    assert info.has_identity("client", "phone") or \
        [i for i in info.identities if i[0] == "client"], info
    feats = info.features
    assert len(feats) == len(set(feats)), ("duplicate features", feats)
    # vcard-temp: every contact answers its vCard (a name; a picture where
    # the network gives one)
    every = {NS_DISCO_INFO, NS_PING, NS_MAM, "vcard-temp"}
    assert set(feats) == CLOUDAPI_FEATURES | every, \
        sorted(set(feats) ^ (CLOUDAPI_FEATURES | every))
    assert caps_ver(info) == ver, ("caps ver does not match disco#info",
                                   caps_ver(info), ver, info)
    # the caps node#ver is answered the same way
    info2 = c.disco_info(cj, node="%s#%s" % (node, ver))
    assert info2.node == "%s#%s" % (node, ver), info2.stanza.xml
    assert sorted(info2.features) == sorted(feats), info2
    assert info2.identities == info.identities, info2
    # any other contact JID: the same features
    other = c.disco_info(bridge.contact_jid(CONTACT2))
    assert sorted(other.features) == sorted(feats), other
    # a second session's probe is answered with the same caps
    c2 = bridge._connect_client(bridge.server, c.user, c.password)
    p2 = c2.wait_presence(lambda p: p.frm == cj and p.type is None,
                          timeout=WAIT)
    caps2 = p2.child(NS_CAPS, "c")
    assert caps2 is not None and caps2.get("ver") == ver \
        and caps2.get("node") == node, p2.xml
