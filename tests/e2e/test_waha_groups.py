# SPDX-License-Identifier: MIT
"""WhatsApp groups as XEP-0045 rooms (issue 14) for personal accounts
through WAHA: the groups learnt when the session is WORKING, disco#info on
a room and disco#items on the gateway, the `groups` command, the join
sequence (occupants, self-presence, subject) and leaving.  The fake WAHA's
sandbox group "ferry sandbox" has Ana (superadmin, a lid with its phone
known), Bruno (admin, a lid only) and Chiara (a phone number), and the
account itself.  Every test runs against Prosody and ejabberd."""

import pytest

from harness.util import wait_for
from harness.waha import WahaGateway

NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
NS_OCCUPANT_ID = "urn:xmpp:occupant-id:0"
GROUP = "120363000000000001"
SUBJECT = "ferry sandbox"
WAIT = 20


@pytest.fixture
def gw(xmpp_server, start_ferry, connect_client):
    g = WahaGateway(xmpp_server, start_ferry, connect_client,
                    waha_config={"sandbox_groups": True})
    g.connect = lambda **kw: connect_client(xmpp_server, **kw)
    yield g
    problems = g.close()
    if problems:
        pytest.fail("\n".join(problems) + "\n" + g.ferry.log_tail(60),
                    pytrace=False)


def _login(gw):
    """A client logged in to WAHA, once ferry has learnt its groups."""
    c = gw.connect()
    gw.login(c)
    wait_for(lambda: gw.cloud.db("SELECT count(*) FROM room_member m JOIN "
                                 "room r ON r.id = m.room_id JOIN account a "
                                 "ON a.id = r.account_id WHERE a.jid = ?",
                                 c.jid)[0][0] == 4,
             WAIT, 0.1, "the group and its four members in the store")
    return c


def _room(gw):
    return "%s@%s" % (GROUP, gw.gw)


def _x(st):
    return st.child(NS_MUC_USER, "x")


def _codes(st):
    x = _x(st)
    return sorted(s.get("code") for s in
                  x.findall("{%s}status" % NS_MUC_USER)) if x is not None \
        else []


def _item(st):
    return _x(st).find("{%s}item" % NS_MUC_USER)


def _join(c, room, nick="me", pid="join-1"):
    c.send_raw("<presence to='%s/%s' id='%s'><x xmlns='%s'/></presence>"
               % (room, nick, pid, NS_MUC))


def _from_room(room):
    return lambda st: (st.frm or "").split("/")[0] == room


def _news_from_room(room):
    """Stanzas from the room other than status 104 (its configuration, e.g.
    the group's picture, changed), which may come at any time."""
    return lambda st: _from_room(room)(st) and not (
        st.kind == "message" and st.body is None and _codes(st) == ["104"]
        and st.child("jabber:client", "subject") is None)


# --- disco and listing ----------------------------------------------------------

def test_room_disco_info(gw):
    c = _login(gw)
    info = c.disco_info(_room(gw))
    assert info.has_identity("conference", "text", SUBJECT), info
    for var in (NS_MUC, "muc_persistent", "muc_membersonly",
                "muc_nonanonymous", NS_MUC + "#stable_id", NS_OCCUPANT_ID,
                "urn:xmpp:ping", NS_MUC + "#self-ping-optimization"):
        assert var in info.features, (var, info)
    assert "urn:xmpp:mam:2" in info.features, info


def test_room_disco_forms(gw):
    c = _login(gw)
    r = c.iq(_room(gw), "<query xmlns='http://jabber.org/protocol/"
             "disco#info'/>")
    forms = {}
    for x in r.el.iter("{jabber:x:data}x"):
        fields = {f.get("var"): [v.text for v in
                                 f.findall("{jabber:x:data}value")]
                  for f in x.findall("{jabber:x:data}field")}
        forms[fields["FORM_TYPE"][0]] = fields
    info = forms[NS_MUC + "#roominfo"]
    assert info["muc#roomconfig_roomname"] == [SUBJECT], info
    assert info["muc#roomconfig_changesubject"] == ["0"], info
    assert info["muc#maxhistoryfetch"] == ["100"], info
    assert forms["urn:xmpp:reactions:0:restrictions"][
        "max_reactions_per_user"] == ["1"], forms


def test_gateway_items_list_rooms(gw):
    c = _login(gw)
    items = c.disco_items(gw.gw)
    assert (_room(gw), None, SUBJECT) in items, items


def test_groups_command(gw):
    c = _login(gw)
    c.send_message(gw.gw, "groups")
    reply = gw.wait_text(c, SUBJECT)
    assert "%s: xmpp:%s?join" % (SUBJECT, _room(gw)) in reply.body, reply.body


def test_disco_of_group_not_joined_is_item_not_found(gw):
    c = _login(gw)
    reply = c.iq("120363999999999999@%s" % gw.gw,
                 "<query xmlns='http://jabber.org/protocol/disco#info'/>")
    assert reply.type == "error", reply.xml
    assert reply.error_condition == "item-not-found", reply.xml


# --- joining ----------------------------------------------------------------------

def test_join_sequence(gw):
    c = _login(gw)
    room = _room(gw)
    _join(c, room, "me", "join-seq")
    occupants = [c.wait_presence(lambda p, n=n: _from_room(room)(p)
                                 and _x(p) is not None
                                 and "110" not in _codes(p), WAIT)
                 for n in range(3)]
    self_p = c.wait_presence(lambda p: _from_room(room)(p)
                             and "110" in _codes(p), WAIT)
    subject = c.wait_message(lambda m: _from_room(room)(m)
                             and m.type == "groupchat", WAIT)
    # order: the others, then the user, then the subject
    assert max(p.seq for p in occupants) < self_p.seq < subject.seq
    by_nick = {p.frm.split("/", 1)[1]: p for p in occupants}
    assert sorted(by_nick) == ["+15550003331", "+15550003333",
                               "~201000000000002"], by_nick
    ana, bruno, chiara = (by_nick["+15550003331"], by_nick["~201000000000002"],
                          by_nick["+15550003333"])
    assert _item(ana).get("affiliation") == "owner", ana.xml
    assert _item(ana).get("role") == "moderator", ana.xml
    assert _item(ana).get("jid") == "+15550003331@%s" % gw.gw, ana.xml
    assert _item(bruno).get("affiliation") == "admin", bruno.xml
    assert _item(bruno).get("jid") is None, bruno.xml  # no number known
    assert _item(chiara).get("affiliation") == "member", chiara.xml
    assert _item(chiara).get("role") == "participant", chiara.xml
    ids = set()
    for p in occupants + [self_p]:
        oid = p.child(NS_OCCUPANT_ID, "occupant-id")
        assert oid is not None and oid.get("id"), p.xml
        ids.add(oid.get("id"))
    assert len(ids) == 4, ids
    # the self-presence: the join's id, codes 100 and 110, the real JID
    assert self_p.frm == room + "/me", self_p.xml
    assert self_p.id == "join-seq", self_p.xml
    assert _codes(self_p) == ["100", "110"], self_p.xml
    assert (_item(self_p).get("jid") or "").startswith(c.jid + "/"), \
        self_p.xml
    # the subject: no body
    sub = subject.find("{jabber:client}subject")
    assert sub is not None and sub.text == SUBJECT, subject.xml
    assert subject.body is None, subject.xml


def test_join_nick_taken_gets_210(gw):
    c = _login(gw)
    room = _room(gw)
    _join(c, room, "+15550003331", "join-210")
    self_p = c.wait_presence(lambda p: _from_room(room)(p)
                             and "110" in _codes(p), WAIT)
    assert _codes(self_p) == ["100", "110", "210"], self_p.xml
    assert self_p.frm != room + "/+15550003331", self_p.xml


def test_join_group_not_in_is_item_not_found(gw):
    c = _login(gw)
    room = "120363999999999999@%s" % gw.gw
    _join(c, room, "me", "join-404")
    err = c.wait_presence(lambda p: _from_room(room)(p), WAIT)
    assert err.type == "error", err.xml
    assert err.id == "join-404", err.xml
    assert err.error_condition == "item-not-found", err.xml
    assert err.child(NS_MUC, "x") is not None, err.xml


def test_leave(gw):
    c = _login(gw)
    room = _room(gw)
    _join(c, room)
    c.wait_message(lambda m: _from_room(room)(m) and m.type == "groupchat",
                   WAIT)
    c.send_raw("<presence to='%s/me' type='unavailable'/>" % room)
    gone = c.wait_presence(lambda p: _from_room(room)(p)
                           and p.type == "unavailable", WAIT)
    assert gone.frm == room + "/me", gone.xml
    assert _codes(gone) == ["110"], gone.xml
    assert _item(gone).get("role") == "none", gone.xml


# --- self-ping (XEP-0410) ----------------------------------------------------------

PING = "<ping xmlns='urn:xmpp:ping'/>"


def test_self_ping_joined_and_not(gw):
    c = _login(gw)
    room = _room(gw)
    # not (or no longer, as after a restart) in the room: not-acceptable,
    # which makes clients join again
    r = c.iq(room + "/me", PING)
    assert r.type == "error", r.xml
    assert r.error_condition == "not-acceptable", r.xml
    _join(c, room, "me")
    c.wait_message(lambda m: _from_room(room)(m)
                   and m.find("{jabber:client}subject") is not None, WAIT)
    r = c.iq(room + "/me", PING)
    assert r.type == "result", r.xml
    assert r.frm == room + "/me", r.xml
    # another occupant's nick: a result; a nick nobody has: item-not-found
    assert c.iq(room + "/+15550003331", PING).type == "result"
    r = c.iq(room + "/nobody", PING)
    assert r.error_condition == "item-not-found", r.xml
    # a second resource of the same user that did not join
    c2 = gw.connect(user=c.user, password=c.password)
    r = c2.iq(room + "/me", PING)
    assert r.error_condition == "not-acceptable", r.xml
    # the gateway and contacts still answer pings
    assert c.iq(gw.gw, PING).type == "result"
    c.send_raw("<presence to='%s/me' type='unavailable'/>" % room)
    c.wait_presence(lambda p: _from_room(room)(p)
                    and p.type == "unavailable", WAIT)
    r = c.iq(room + "/me", PING)
    assert r.error_condition == "not-acceptable", r.xml


def test_restart_while_joined(gw):
    """A clean stop tells the resources in rooms (110, 332); after the
    restart a self-ping says not-acceptable, the client joins again, and
    a message from the group written meanwhile is not lost."""
    c = _login(gw)
    session = gw.session_of(c)
    room = _room(gw)
    _join(c, room, "me")
    c.wait_message(lambda m: _from_room(room)(m)
                   and m.find("{jabber:client}subject") is not None, WAIT)
    gw.ferry.stop()
    p = c.wait_presence(lambda p: _from_room(room)(p)
                        and p.type == "unavailable", WAIT)
    assert _codes(p) == ["110", "332"], p.xml
    assert p.frm == room + "/me", p.xml
    gw.inbound(session, CHIARA, "while ferry was down", chat=GROUP + "@g.us",
               wait="none")
    gw.ferry.start(timeout=20)
    wait_for(lambda: c.iq(room + "/me", PING).error_condition
             == "not-acceptable", WAIT, 0.5, "self-ping refused")
    _join(c, room, "me", "join-after")
    # held for the join, or live when WAHA's retry comes after it: once
    _groupchat(c, room, "while ferry was down")
    c.assert_no_message(lambda m: m.body == "while ferry was down", 1.0)


# --- messages from the group -------------------------------------------------------

NS_SID = "urn:xmpp:sid:0"
NS_DELAY = "urn:xmpp:delay"
ANA = "201000000000001@lid"    # a lid whose number the group knows
CHIARA = "15550003333"


def _joined(gw, c, nick="me"):
    room = _room(gw)
    _join(c, room, nick)
    c.wait_message(lambda m: _from_room(room)(m) and m.type == "groupchat"
                   and m.find("{jabber:client}subject") is not None, WAIT)
    return room


def _groupchat(c, room, text):
    return c.wait_message(lambda m: _from_room(room)(m)
                          and m.type == "groupchat" and m.body == text, WAIT)


def test_group_message_to_joined_resource(gw):
    c = _login(gw)
    room = _joined(gw, c)
    session = gw.session_of(c)
    sent = gw.inbound(session, ANA, "hello room", chat=GROUP + "@g.us")
    m = _groupchat(c, room, "hello room")
    assert m.frm == room + "/+15550003331", m.xml
    sid = m.child(NS_SID, "stanza-id")
    assert sid is not None and sid.get("by") == room, m.xml
    assert sid.get("id") == sent["id"], (sent, m.xml)
    assert m.child(NS_OCCUPANT_ID, "occupant-id") is not None, m.xml
    assert m.child(NS_DELAY, "delay") is None, m.xml
    # message and message.any carry the same id: shown once
    gw.inbound(session, CHIARA, "second", chat=GROUP + "@g.us")
    m2 = _groupchat(c, room, "second")
    assert m2.frm == room + "/+" + CHIARA, m2.xml
    c.assert_no_message(lambda m: m.body in ("hello room", "second"), 1.0)


def test_group_message_while_not_joined_comes_at_join(gw):
    c = _login(gw)
    session = gw.session_of(c)
    sent = gw.inbound(session, ANA, "while away", chat=GROUP + "@g.us")
    wait_for(lambda: gw.cloud.db("SELECT count(*) FROM room_message WHERE "
                                 "network_id = ? AND pending = 1",
                                 sent["id"])[0][0] == 1,
             WAIT, 0.1, "the message kept for the next join")
    c.assert_no_message(lambda m: m.body == "while away", 0.5)
    room = _room(gw)
    _join(c, room, "me")
    self_p = c.wait_presence(lambda p: _from_room(room)(p)
                             and "110" in _codes(p), WAIT)
    m = _groupchat(c, room, "while away")
    subject = c.wait_message(lambda m: _from_room(room)(m)
                             and m.find("{jabber:client}subject")
                             is not None, WAIT)
    assert self_p.seq < m.seq < subject.seq, "history between 110 and subject"
    delay = m.child(NS_DELAY, "delay")
    assert delay is not None and delay.get("from") == room, m.xml
    assert m.child(NS_SID, "stanza-id").get("id") == sent["id"], m.xml
    # once delivered, a second join does not repeat it
    c.send_raw("<presence to='%s/me' type='unavailable'/>" % room)
    c.wait_presence(lambda p: _from_room(room)(p)
                    and p.type == "unavailable", WAIT)
    _joined(gw, c)
    c.assert_no_message(lambda m: m.body == "while away", 1.0)


# --- messages to the group ---------------------------------------------------------

def test_message_out_reflected_with_same_id(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _joined(gw, c, "me")
    mid = c.send_message(room, "hello from XMPP", mtype="groupchat",
                         id="out-1",
                         extra_xml="<origin-id xmlns='%s' id='origin-1'/>"
                         % NS_SID)
    sent = gw.wait_sent(1, session)
    assert sent[0]["chat_id"] == GROUP + "@g.us", sent
    assert sent[0]["body"]["text"] == "hello from XMPP", sent
    m = c.wait_message(lambda m: _from_room(room)(m) and m.id == mid, WAIT)
    assert m.type == "groupchat" and m.frm == room + "/me", m.xml
    assert m.body == "hello from XMPP", m.xml
    oid = m.child(NS_SID, "origin-id")
    assert oid is not None and oid.get("id") == "origin-1", m.xml
    sid = m.child(NS_SID, "stanza-id")
    assert sid is not None and sid.get("by") == room and sid.get("id"), m.xml


def test_message_out_not_joined_refused(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _room(gw)
    c.send_message(room, "not in the room", mtype="groupchat", id="out-2")
    err = c.wait_message(lambda m: _from_room(room)(m) and m.id == "out-2",
                         WAIT)
    assert err.type == "error" and err.error_condition == "not-acceptable", \
        err.xml
    assert not [s for s in gw.sent(session) if s["type"] == "sendText"]


def test_message_out_refused_by_whatsapp_gets_error(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _joined(gw, c, "me")
    gw.ctl.post("fail", {"count": 1, "error": 404,
                         "path_contains": "sendText"})
    c.send_message(room, "refused", mtype="groupchat", id="out-3")
    err = c.wait_message(lambda m: _from_room(room)(m) and m.id == "out-3",
                         WAIT)
    assert err.type == "error", err.xml
    assert err.error_condition == "service-unavailable", err.xml
    c.assert_no_message(lambda m: m.body == "refused", 1.0)
    assert not [s for s in gw.sent(session) if s["type"] == "sendText"]


def test_two_resources_join_apart_and_both_get_messages(gw):
    c = _login(gw)
    session = gw.session_of(c)
    c2 = gw.connect(user=c.user, password=c.password)
    room = _joined(gw, c, "me")
    c.presences.clear()  # its own join's
    _join(c2, room, "tablet", "join-2")
    self2 = c2.wait_presence(lambda p: _from_room(room)(p)
                             and "110" in _codes(p), WAIT)
    assert self2.frm == room + "/tablet", self2.xml
    assert _item(self2).get("jid") == c2.full_jid, self2.xml
    # the first resource sees nothing of the second one's join
    c.assert_no_message(_news_from_room(room), 0.5)
    assert not [p for p in c.presences.pending() if _from_room(room)(p)], \
        "the other resource's join seen by the first"
    gw.inbound(session, CHIARA, "to both", chat=GROUP + "@g.us")
    _groupchat(c, room, "to both")
    _groupchat(c2, room, "to both")
    # what one resource writes is reflected to both, each from its nick
    mid = c2.send_message(room, "from the tablet", mtype="groupchat")
    r1 = c.wait_message(lambda m: _from_room(room)(m) and m.id == mid, WAIT)
    r2 = c2.wait_message(lambda m: _from_room(room)(m) and m.id == mid, WAIT)
    assert r1.frm == room + "/me" and r2.frm == room + "/tablet", \
        (r1.xml, r2.xml)
    assert gw.wait_sent(1, session)[0]["body"]["text"] == "from the tablet"
    # the second one leaves; the first still gets messages
    c2.send_raw("<presence to='%s/tablet' type='unavailable'/>" % room)
    c2.wait_presence(lambda p: _from_room(room)(p)
                     and p.type == "unavailable", WAIT)
    gw.inbound(session, CHIARA, "only the phone", chat=GROUP + "@g.us")
    _groupchat(c, room, "only the phone")
    c2.assert_no_message(lambda m: m.body == "only the phone", 1.0)


def test_rooms_are_per_account(gw):
    """Two users in the same WhatsApp group each see it through their own
    session: a message to one session reaches only that user's room."""
    c1 = _login(gw)
    c2 = _login(gw)
    s1, s2 = gw.session_of(c1), gw.session_of(c2)
    assert s1 != s2
    room = _joined(gw, c1, "one")
    _joined(gw, c2, "two")
    gw.inbound(s1, CHIARA, "for the first", chat=GROUP + "@g.us")
    _groupchat(c1, room, "for the first")
    c2.assert_no_message(lambda m: m.body == "for the first", 1.5)
    gw.inbound(s2, CHIARA, "for the second", chat=GROUP + "@g.us")
    _groupchat(c2, room, "for the second")
    c1.assert_no_message(lambda m: m.body == "for the second", 1.5)
