# SPDX-License-Identifier: MIT
"""Replies, reactions, corrections and retractions in WhatsApp groups as
XEP-0045 rooms (issue 14): from WhatsApp to the room (XEP-0461 replies
naming the quoted author's occupant JID and the room's stanza-id, XEP-0444
reactions, XEP-0308 corrections, XEP-0424 retractions and XEP-0425
moderation when an admin deleted someone else's message) and from the
room to WhatsApp (replies, reactions, corrections and retractions of the
user's own messages, reflected to every joined resource).  The fake WAHA's sandbox group as in test_waha_groups:
Ana is its superadmin, Chiara a member.  Every test runs against Prosody
and ejabberd."""

from harness.util import wait_for
from test_waha_groups import (ANA, CHIARA, GROUP, NS_DELAY, NS_OCCUPANT_ID,
                              NS_SID, WAIT, _codes, _from_room, _groupchat,
                              _news_from_room,
                              _join, _joined, _login, _room, gw)  # noqa: F401

NS_REPLY = "urn:xmpp:reply:0"
NS_FALLBACK = "urn:xmpp:fallback:0"
NS_REACTIONS = "urn:xmpp:reactions:0"
NS_CORRECT = "urn:xmpp:message-correct:0"
NS_RETRACT = "urn:xmpp:message-retract:1"
NS_MODERATE = "urn:xmpp:message-moderate:1"
ANA_NICK = "+15550003331"
CHAT = GROUP + "@g.us"


def _sid(m):
    return m.child(NS_SID, "stanza-id").get("id")


def _oid(m):
    return m.child(NS_OCCUPANT_ID, "occupant-id").get("id")


def _with(c, room, ns, name):
    return c.wait_message(lambda m: _from_room(room)(m)
                          and m.type == "groupchat"
                          and m.child(ns, name) is not None, WAIT)


# --- from WhatsApp -----------------------------------------------------------------

def test_reply_in_names_author_occupant_and_stanza_id(gw):
    c = _login(gw)
    room = _joined(gw, c)
    session = gw.session_of(c)
    first = gw.inbound(session, ANA, "lunch at one?", chat=CHAT)
    _groupchat(c, room, "lunch at one?")
    # a full id, then a bare one (GOWS): both name Ana's message
    for form, text in (("full", "yes please"), ("bare", "me too")):
        gw.inbound(session, CHIARA, text, chat=CHAT, reply_form=form,
                   reply_to={"id": first["id"], "participant": ANA,
                             "body": "lunch at one?"})
        m = c.wait_message(lambda m: _from_room(room)(m)
                           and (m.body or "").endswith(text), WAIT)
        reply = m.child(NS_REPLY, "reply")
        assert reply is not None, m.xml
        assert reply.get("id") == first["id"], (form, m.xml)
        assert reply.get("to") == "%s/%s" % (room, ANA_NICK), m.xml
        quote = "> %s: lunch at one?\n" % ANA_NICK
        assert m.body == quote + text, m.xml
        fb = m.child(NS_FALLBACK, "fallback")
        assert fb is not None and fb.get("for") == NS_REPLY, m.xml
        body = fb.find("{%s}body" % NS_FALLBACK)
        assert (body.get("start"), body.get("end")) == \
            ("0", str(len(quote))), m.xml


def test_reaction_in_and_removed(gw):
    c = _login(gw)
    room = _joined(gw, c)
    session = gw.session_of(c)
    first = gw.inbound(session, ANA, "react to this", chat=CHAT)
    _groupchat(c, room, "react to this")
    gw.ctl.post("reaction", {"session": session, "from": CHIARA,
                             "chat": CHAT, "message_id": first["id"],
                             "text": "\U0001F44D"})
    m = _with(c, room, NS_REACTIONS, "reactions")
    assert m.frm == "%s/+%s" % (room, CHIARA), m.xml
    r = m.child(NS_REACTIONS, "reactions")
    assert r.get("id") == first["id"], m.xml
    assert [e.text for e in r] == ["\U0001F44D"], m.xml
    assert m.child(NS_SID, "stanza-id").get("by") == room, m.xml
    gw.ctl.post("reaction", {"session": session, "from": CHIARA,
                             "chat": CHAT, "message_id": first["id"],
                             "text": ""})
    m = _with(c, room, NS_REACTIONS, "reactions")
    r = m.child(NS_REACTIONS, "reactions")
    assert r.get("id") == first["id"] and len(r) == 0, m.xml


def test_correction_in_from_the_same_occupant(gw):
    c = _login(gw)
    room = _joined(gw, c)
    session = gw.session_of(c)
    first = gw.inbound(session, ANA, "see you at 5", chat=CHAT)
    orig = _groupchat(c, room, "see you at 5")
    gw.ctl.post("edit", {"session": session, "from": ANA, "chat": CHAT,
                         "message_id": first["id"], "text": "see you at 6"})
    m = _with(c, room, NS_CORRECT, "replace")
    assert m.body == "see you at 6", m.xml
    assert m.child(NS_CORRECT, "replace").get("id") == orig.id, m.xml
    assert m.frm == orig.frm and _oid(m) == _oid(orig), (m.xml, orig.xml)


def test_retraction_in_by_author(gw):
    c = _login(gw)
    room = _joined(gw, c)
    session = gw.session_of(c)
    first = gw.inbound(session, CHIARA, "oops", chat=CHAT)
    orig = _groupchat(c, room, "oops")
    gw.ctl.post("revoke", {"session": session, "from": CHIARA, "chat": CHAT,
                           "message_id": first["id"]})
    m = _with(c, room, NS_RETRACT, "retract")
    assert m.frm == orig.frm, m.xml
    r = m.child(NS_RETRACT, "retract")
    assert r.get("id") == _sid(orig), m.xml
    assert r.find("{%s}moderated" % NS_MODERATE) is None, m.xml
    assert m.child(NS_FALLBACK, "fallback").get("for") == NS_RETRACT, m.xml
    assert m.child("urn:xmpp:hints", "store") is not None, m.xml
    # the deleted text is no longer kept (join history and MAM)
    assert gw.cloud.db("SELECT body FROM room_message WHERE network_id = ?",
                       first["id"])[0][0] == "(a deleted message)"


def test_retraction_in_by_admin_is_moderation(gw):
    c = _login(gw)
    room = _joined(gw, c)
    session = gw.session_of(c)
    first = gw.inbound(session, CHIARA, "spam", chat=CHAT)
    orig = _groupchat(c, room, "spam")
    ana = gw.inbound(session, ANA, "I am Ana", chat=CHAT)
    ana_m = _groupchat(c, room, "I am Ana")
    assert ana["id"]
    # Ana (an admin) deletes Chiara's message for everyone
    gw.ctl.post("revoke", {"session": session, "from": CHIARA, "chat": CHAT,
                           "message_id": first["id"], "by": ANA})
    m = _with(c, room, NS_RETRACT, "retract")
    assert m.frm == room, m.xml  # from the room itself
    r = m.child(NS_RETRACT, "retract")
    assert r.get("id") == _sid(orig), m.xml
    mod = r.find("{%s}moderated" % NS_MODERATE)
    assert mod is not None, m.xml
    assert mod.get("by") == "%s/%s" % (room, ANA_NICK), m.xml
    oid = mod.find("{%s}occupant-id" % NS_OCCUPANT_ID)
    assert oid is not None and oid.get("id") == _oid(ana_m), m.xml


def test_actions_while_not_joined_come_at_join(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _room(gw)
    first = gw.inbound(session, ANA, "held", chat=CHAT)
    gw.ctl.post("reaction", {"session": session, "from": CHIARA,
                             "chat": CHAT, "message_id": first["id"],
                             "text": "\u2764\ufe0f"})
    wait_for(lambda: gw.cloud.db("SELECT count(*) FROM room_message WHERE "
                                 "pending = 1 AND kind = 'reaction'")[0][0]
             == 1, WAIT, 0.1, "the reaction held for the next join")
    _join(c, room)
    m = _groupchat(c, room, "held")
    r = _with(c, room, NS_REACTIONS, "reactions")
    assert m.seq < r.seq, "the message before its reaction"
    assert r.child(NS_REACTIONS, "reactions").get("id") == first["id"]
    assert r.child(NS_DELAY, "delay").get("from") == room, r.xml


# --- to WhatsApp -------------------------------------------------------------------

def test_reply_out_quotes_the_message(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _joined(gw, c)
    first = gw.inbound(session, ANA, "who brings cake?", chat=CHAT)
    orig = _groupchat(c, room, "who brings cake?")
    quote = "> who brings cake?\n"
    mid = c.send_message(
        room, quote + "I do", mtype="groupchat", extra_xml=[
            "<reply xmlns='%s' to='%s' id='%s'/>" % (NS_REPLY, orig.frm,
                                                     _sid(orig)),
            "<fallback xmlns='%s' for='%s'><body start='0' end='%d'/>"
            "</fallback>" % (NS_FALLBACK, NS_REPLY, len(quote))])
    sent = gw.wait_sent(1, session)
    assert sent[0]["chat_id"] == CHAT, sent
    assert sent[0]["body"]["text"] == "I do", sent
    assert sent[0]["body"]["reply_to"] == first["id"], sent
    m = c.wait_message(lambda m: _from_room(room)(m) and m.id == mid, WAIT)
    reply = m.child(NS_REPLY, "reply")
    assert reply is not None and reply.get("id") == first["id"], m.xml
    assert reply.get("to") == "%s/%s" % (room, ANA_NICK), m.xml
    assert m.body.endswith("I do"), m.xml


def test_reaction_out_sent_and_reflected(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _joined(gw, c)
    first = gw.inbound(session, CHIARA, "like me", chat=CHAT)
    orig = _groupchat(c, room, "like me")
    mid = c.send_message(room, None, mtype="groupchat", extra_xml=(
        "<reactions xmlns='%s' id='%s'><reaction>\U0001F389</reaction>"
        "</reactions>" % (NS_REACTIONS, _sid(orig))))

    def reaction():
        return [s for s in gw.sent(session) if s["type"] == "reaction"]
    wait_for(lambda: reaction(), WAIT, 0.1, "the reaction sent")
    body = reaction()[0]["body"]
    assert body["messageId"] == first["id"], body
    assert body["reaction"] == "\U0001F389", body
    m = c.wait_message(lambda m: _from_room(room)(m) and m.id == mid, WAIT)
    assert m.frm == room + "/me", m.xml
    r = m.child(NS_REACTIONS, "reactions")
    assert r is not None and r.get("id") == first["id"], m.xml
    assert [e.text for e in r] == ["\U0001F389"], m.xml


def _changes(gw, session, kind):
    return [s for s in gw.sent(session) if s["type"] == kind]


def test_correction_out_sent_and_reflected(gw):
    c = _login(gw)
    other = gw.connect(user=c.user, password=c.password)
    session = gw.session_of(c)
    room = _joined(gw, c)
    _join(other, room, "tablet", "join-2")
    other.wait_presence(lambda p: _from_room(room)(p)
                        and "110" in _codes(p), WAIT)
    c.send_message(room, "typo", mtype="groupchat", id="corr-1")
    orig = c.wait_message(lambda m: _from_room(room)(m) and m.id == "corr-1",
                          WAIT)
    full = gw.wait_sent(1, session)[0]["id"]
    assert _sid(orig) == full, orig.xml
    c.send_message(room, "typo fixed", mtype="groupchat", id="corr-2",
                   extra_xml="<replace xmlns='%s' id='corr-1'/>" % NS_CORRECT)
    wait_for(lambda: _changes(gw, session, "edit"), WAIT, 0.1, "the edit")
    edit = _changes(gw, session, "edit")[0]
    assert edit["id"] == full and edit["chat_id"] == CHAT, edit
    assert edit["body"]["text"] == "typo fixed", edit
    # reflected to both resources: a correction of the original's id
    for client in (c, other):
        m = client.wait_message(lambda m: _from_room(room)(m)
                                and m.id == "corr-2", WAIT)
        assert m.type == "groupchat", m.xml
        assert m.body == "typo fixed", m.xml
        assert m.child(NS_CORRECT, "replace").get("id") == "corr-1", m.xml
    assert [s["body"]["text"] for s in gw.sent(session)
            if s["type"] == "sendText"] == ["typo"]
    # another's message, or one the gateway does not know: an error
    first = gw.inbound(session, ANA, "not yours", chat=CHAT)
    theirs = _groupchat(c, room, "not yours")
    for n, target in enumerate((theirs.id, "nope")):
        c.send_message(room, "x", mtype="groupchat", id="bad-%d" % n,
                       extra_xml="<replace xmlns='%s' id='%s'/>"
                       % (NS_CORRECT, target))
        err = c.wait_message(lambda m: _from_room(room)(m)
                             and m.id == "bad-%d" % n, WAIT)
        assert err.type == "error", err.xml
        assert err.error_condition == "item-not-found", err.xml
    assert len(_changes(gw, session, "edit")) == 1, first


def test_retraction_out_sent_and_reflected(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _joined(gw, c)
    c.send_message(room, "oops", mtype="groupchat", id="ret-1")
    orig = c.wait_message(lambda m: _from_room(room)(m) and m.id == "ret-1",
                          WAIT)
    full = gw.wait_sent(1, session)[0]["id"]
    # XEP-0424 in a room names the room's stanza-id
    c.send_message(room, "This person attempted to retract a previous "
                   "message, but it's unsupported by your client.",
                   mtype="groupchat", id="ret-2", extra_xml=[
                       "<retract xmlns='%s' id='%s'/>" % (NS_RETRACT,
                                                          _sid(orig)),
                       "<fallback xmlns='%s' for='%s'/>" % (NS_FALLBACK,
                                                            NS_RETRACT)])
    wait_for(lambda: _changes(gw, session, "revoke"), WAIT, 0.1,
             "the deletion")
    revoke = _changes(gw, session, "revoke")
    assert len(revoke) == 1 and revoke[0]["id"] == full, revoke
    m = c.wait_message(lambda m: _from_room(room)(m) and m.id == "ret-2",
                       WAIT)
    assert m.child(NS_RETRACT, "retract").get("id") == _sid(orig), m.xml
    # the fallback body never went to the group, and the text is not kept
    assert [s["body"]["text"] for s in gw.sent(session)
            if s["type"] == "sendText"] == ["oops"]
    assert gw.cloud.db("SELECT count(*) FROM room_message WHERE "
                       "body = 'oops'")[0][0] == 0


def test_reaction_or_reply_to_unknown_message(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _joined(gw, c)
    c.send_message(room, None, mtype="groupchat", id="react-x", extra_xml=(
        "<reactions xmlns='%s' id='not-a-message'><reaction>\U0001F44D"
        "</reaction></reactions>" % NS_REACTIONS))
    err = c.wait_message(lambda m: _from_room(room)(m)
                         and m.id == "react-x", WAIT)
    assert err.type == "error", err.xml
    assert err.error_condition == "item-not-found", err.xml
    # a reply to a message WhatsApp never had goes as written, no reply_to
    quote = "> something\n"
    c.send_message(room, quote + "answer", mtype="groupchat", extra_xml=[
        "<reply xmlns='%s' id='not-a-message'/>" % NS_REPLY,
        "<fallback xmlns='%s' for='%s'><body start='0' end='%d'/>"
        "</fallback>" % (NS_FALLBACK, NS_REPLY, len(quote))])
    sent = gw.wait_sent(1, session)
    assert sent[0]["body"]["text"] == quote + "answer", sent
    assert "reply_to" not in sent[0]["body"], sent
    assert not [s for s in gw.sent(session) if s["type"] == "reaction"]


def test_displayed_marks_the_group_read(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _joined(gw, c)
    first = gw.inbound(session, CHIARA, "read me", chat=CHAT)
    m = _groupchat(c, room, "read me")
    c.send_message(room, None, mtype="groupchat", extra_xml=(
        "<displayed xmlns='urn:xmpp:chat-markers:0' id='%s'/>" % _sid(m)))

    def seen():
        return [r for r in gw.reads(session) if r.get("type") == "seen"]
    wait_for(seen, WAIT, 0.1, "sendSeen for the group")
    r = seen()[-1]
    assert r["chat_id"] == CHAT, r
    assert r["message_ids"] == [first["id"]], r
    assert r["participant"] == CHIARA + "@c.us", r
    # a marker is not shown in the room
    c.assert_no_message(_news_from_room(room), 1.0)


def test_mentions_in_become_nicks(gw):
    """WhatsApp writes a mention as @<number> (or @<lid>): the room shows
    the member's nick, and the user's own as the nick they joined with, so
    that clients highlight it."""
    from harness.waha import ME_PHONE
    c = _login(gw)
    session = gw.session_of(c)
    room = _joined(gw, c, "alice")
    me = ME_PHONE.lstrip("+")
    text = "@%s look, @%s and @201000000000002 agree; call 0123456789" % (
        me, CHIARA)
    gw.inbound(session, ANA, text, chat=CHAT, mentions=[me, CHIARA])
    m = c.wait_message(lambda m: _from_room(room)(m)
                       and (m.body or "").endswith("0123456789"), WAIT)
    assert m.body == ("@alice look, @+%s and @~201000000000002 agree; "
                      "call 0123456789" % CHIARA), m.body


def test_subject_and_encrypted_messages_refused(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _joined(gw, c)
    c.send_message(room, None, mtype="groupchat", id="subj-1",
                   extra_xml="<subject>New name</subject>")
    err = c.wait_message(lambda m: _from_room(room)(m) and m.id == "subj-1",
                         WAIT)
    assert err.type == "error" and err.error_condition == "forbidden", \
        err.xml
    # OMEMO (as Conversations sends it): its fallback body never reaches
    # the group
    c.send_message(room, "I sent you an OMEMO encrypted message but your "
                   "client doesn't seem to support that.", mtype="groupchat",
                   id="omemo-1", extra_xml=(
                       "<encrypted xmlns='eu.siacs.conversations.axolotl'>"
                       "<header sid='1'><iv>AAAA</iv></header>"
                       "<payload>AAAA</payload></encrypted>"))
    err = c.wait_message(lambda m: _from_room(room)(m) and m.id == "omemo-1",
                         WAIT)
    assert err.type == "error", err.xml
    assert err.error_condition == "feature-not-implemented", err.xml
    assert not [s for s in gw.sent(session) if s["type"] == "sendText"]
