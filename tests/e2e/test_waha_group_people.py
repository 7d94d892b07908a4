# SPDX-License-Identifier: MIT
"""The people of a WhatsApp group's room (issue 14): an occupant's vCard
(XEP-0054 on room@gateway/nick: the member's name and number, and its
picture when the account has the member as a contact), a member known by a
lid alone who gets its number (from a group event carrying it, or from
WAHA's lid map) shown as the same occupant (occupant-id) with its real
JID, and the one notice per silent period when a group message mentions
the user while none of their resources is in the room ([groups]
mention_notice).  The fake WAHA's sandbox group as in test_waha_groups:
Ana (a lid whose number is known), Bruno (a lid alone), Chiara (a
number).  Every test runs against Prosody and ejabberd."""

import base64
import time

import pytest

from harness.util import wait_for
from harness.waha import ME_PHONE, WahaGateway
from test_waha_groups import (ANA, CHIARA, GROUP, NS_OCCUPANT_ID, SUBJECT,
                              WAIT, _codes, _from_room, _item, _join,
                              _joined, _login, _room, gw)  # noqa: F401

NS_VCARD = "vcard-temp"
CHAT = GROUP + "@g.us"
BRUNO_LID = "201000000000002"
BRUNO_PHONE = "15550003332"
ANA_NICK = "+15550003331"


def _vcard_iq(c, jid):
    return c.iq(jid, "<vCard xmlns='%s'/>" % NS_VCARD)


def _vcard(c, jid):
    r = _vcard_iq(c, jid)
    assert r.type == "result", r.xml
    v = r.el.find("{%s}vCard" % NS_VCARD)
    assert v is not None, r.xml
    return v


def _photo(v):
    return v.findtext("{%s}PHOTO/{%s}BINVAL" % (NS_VCARD, NS_VCARD))


# --- occupants' vCards -----------------------------------------------------

def test_occupant_vcard_name_number_and_photo(gw):
    gw.ctl.post("contact", {"phone": CHIARA, "picture": True})
    c = _login(gw)
    room = _room(gw)
    occupant = "%s/+%s" % (room, CHIARA)
    v = _vcard(c, occupant)
    assert v.findtext("{%s}FN" % NS_VCARD) == "+" + CHIARA
    assert v.findtext("{%s}TEL" % NS_VCARD) == "+" + CHIARA
    assert _photo(v) is None  # not a contact of the account: no picture
    # a lid member: its nick, no number
    v = _vcard(c, "%s/~%s" % (room, BRUNO_LID))
    assert v.findtext("{%s}FN" % NS_VCARD) == "~" + BRUNO_LID
    assert v.find("{%s}TEL" % NS_VCARD) is None
    # once Chiara is a contact, her picture is the occupant's too (the
    # occupant's vCard asks WhatsApp for it)
    contact = "+%s@%s" % (CHIARA, gw.gw)
    c.send_message(contact, "hello Chiara")
    wait_for(lambda: gw.cloud.db(
        "SELECT count(*) FROM contact c JOIN account a ON a.id = "
        "c.account_id WHERE a.jid = ? AND c.network_id = ?", c.jid,
        CHIARA)[0][0] == 1, WAIT, 0.1, "Chiara a contact")
    wait_for(lambda: _photo(_vcard(c, occupant)) is not None, WAIT, 0.5,
             "the occupant's vCard with a picture")
    photo = base64.b64decode(_photo(_vcard(c, occupant)))
    assert photo.startswith(b"\x89PNG"), photo[:8]
    assert _photo(_vcard(c, contact)) == _photo(_vcard(c, occupant))


def test_occupant_vcard_unknown_nick_and_other_users(gw):
    c = _login(gw)
    room = _room(gw)
    r = _vcard_iq(c, room + "/nobody")
    assert r.type == "error" and r.error_condition == "item-not-found", \
        r.xml
    # a group the user is not in
    r = _vcard_iq(c, "120363999999999999@%s/%s" % (gw.gw, ANA_NICK))
    assert r.error_condition == "item-not-found", r.xml
    # someone else (not registered) learns nothing of the user's room
    other = gw.connect()
    r = _vcard_iq(other, "%s/%s" % (room, ANA_NICK))
    assert r.type == "error", r.xml
    assert r.el.find("{%s}vCard" % NS_VCARD) is None, r.xml
    # a set is refused
    r = c.iq("%s/%s" % (room, ANA_NICK), "<vCard xmlns='%s'/>" % NS_VCARD,
             "set")
    assert r.error_condition == "not-allowed", r.xml


# --- a lid's number learnt ---------------------------------------------------

def _bruno_before(c, room):
    p = c.wait_presence(lambda p: p.frm == "%s/~%s" % (room, BRUNO_LID),
                        WAIT)
    assert _item(p).get("jid") is None, p.xml
    return p.child(NS_OCCUPANT_ID, "occupant-id").get("id")


def _bruno_renamed(gw, c, room, oid):
    """The nick change (303) and the new presence: the same occupant."""
    gone = c.wait_presence(lambda p: p.frm == "%s/~%s" % (room, BRUNO_LID)
                           and p.type == "unavailable", WAIT)
    assert _codes(gone) == ["303"], gone.xml
    assert _item(gone).get("nick") == "+" + BRUNO_PHONE, gone.xml
    assert gone.child(NS_OCCUPANT_ID, "occupant-id").get("id") == oid
    p = c.wait_presence(lambda p: p.frm == "%s/+%s" % (room, BRUNO_PHONE)
                        and p.type is None, WAIT)
    assert gone.seq < p.seq
    assert _item(p).get("jid") == "+%s@%s" % (BRUNO_PHONE, gw.gw), p.xml
    assert _item(p).get("affiliation") == "admin", p.xml
    assert p.child(NS_OCCUPANT_ID, "occupant-id").get("id") == oid, p.xml
    assert gw.cloud.db("SELECT phone FROM room_member WHERE lid = ?",
                       BRUNO_LID) == [(BRUNO_PHONE,)]


def _joined_with_bruno(gw):
    """The user logged in and joined the room (its subject seen), where
    Bruno is known by his lid alone: (client, room, Bruno's occupant-id)."""
    c = _login(gw)
    room = _room(gw)
    _join(c, room, "me")
    oid = _bruno_before(c, room)
    c.wait_message(lambda m: _from_room(room)(m)
                   and m.find("{jabber:client}subject") is not None, WAIT)
    return c, room, oid


def test_lid_member_gets_its_number_from_a_group_event(gw):
    c, room, oid = _joined_with_bruno(gw)
    gw.ctl.post("group/participants", {
        "session": gw.session_of(c), "group": CHAT, "type": "promote",
        "participants": [{"lid": BRUNO_LID, "phone": BRUNO_PHONE,
                          "pn": True}]})
    _bruno_renamed(gw, c, room, oid)
    # what Bruno writes now comes from the new nick, the same occupant
    gw.inbound(gw.session_of(c), BRUNO_LID + "@lid", "hello again",
               chat=CHAT)
    m = c.wait_message(lambda m: _from_room(room)(m)
                       and m.body == "hello again", WAIT)
    assert m.frm == "%s/+%s" % (room, BRUNO_PHONE), m.xml
    assert m.child(NS_OCCUPANT_ID, "occupant-id").get("id") == oid


def test_lid_member_gets_its_number_from_the_lid_map(gw):
    """A 1:1 message from Bruno's lid makes ferry ask WAHA's lid map; the
    number it learns is the room member's too."""
    c, room, oid = _joined_with_bruno(gw)
    gw.ctl.post("lid", {"lid": BRUNO_LID + "@lid",
                        "pn": BRUNO_PHONE + "@c.us"})
    gw.inbound(gw.session_of(c), BRUNO_LID + "@lid", "psst, it's Bruno")
    _bruno_renamed(gw, c, room, oid)
    asks = gw.ctl.get("requests", path_contains="/lids/")
    assert asks, "ferry asked WAHA for the lid's number"


def test_lid_member_gets_its_number_when_the_session_works_again(gw):
    """At login ferry reads WAHA's lid map and the groups again: a number
    the map has now reaches the member once, whichever comes first."""
    c, room, oid = _joined_with_bruno(gw)
    gw.ctl.post("lid", {"lid": BRUNO_LID + "@lid",
                        "pn": BRUNO_PHONE + "@c.us"})

    def asked(part):
        return len(gw.ctl.get("requests", path_contains=part))
    groups, lids = asked("/groups"), asked("/lids")
    gw.ctl.post("status", {"session": gw.session_of(c), "status": "WORKING"})
    _bruno_renamed(gw, c, room, oid)
    wait_for(lambda: asked("/groups") > groups and asked("/lids") > lids,
             WAIT, 0.1, "the groups and the lid map read again")
    time.sleep(1.5)  # let both answers land
    again = [p for p in c.presences.pending()
             if (p.frm or "").startswith(room + "/")
             and BRUNO_PHONE in p.frm + str(_item(p).get("nick"))]
    assert again == [], [p.xml for p in again]


# --- mentions while away -----------------------------------------------------

def _notice(c, room):
    return lambda m: (m.frm == room and m.type in (None, "normal")
                      and "mentioned you" in (m.body or ""))


def _kept(gw, sent):
    wait_for(lambda: gw.cloud.db("SELECT count(*) FROM room_message WHERE "
                                 "network_id = ?", sent["id"])[0][0] == 1,
             WAIT, 0.1, "the group message kept")


def _my_lid(gw, c):
    rows = gw.cloud.db("SELECT m.lid FROM room_member m JOIN room r ON "
                       "r.id = m.room_id JOIN account a ON a.id = "
                       "r.account_id WHERE a.jid = ? AND m.self = 1", c.jid)
    assert rows and rows[0][0], rows
    return rows[0][0]


def _leave(c, room, nick="me"):
    c.send_raw("<presence to='%s/%s' type='unavailable'/>" % (room, nick))
    c.wait_presence(lambda p: _from_room(room)(p)
                    and p.type == "unavailable" and "110" in _codes(p), WAIT)


def test_mention_notice_once_per_silent_period(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _room(gw)
    # no mention: no notice
    _kept(gw, gw.inbound(session, CHIARA, "nothing for you", chat=CHAT))
    text = "@%s are you coming tonight?" % ME_PHONE
    gw.inbound(session, ANA, text, chat=CHAT, mentions=[ME_PHONE])
    m = c.wait_message(_notice(c, room), WAIT)
    assert m.body == "%s mentioned you in %s: %s" % (ANA_NICK, SUBJECT,
                                                     text), m.body
    assert m.to.split("/")[0] == c.jid, m.xml
    # the same silent period: no other notice (by number or by lid)
    lid = _my_lid(gw, c)
    _kept(gw, gw.inbound(session, CHIARA, "@%s hello?" % lid, chat=CHAT,
                         mentions=[lid + "@lid"]))
    _kept(gw, gw.inbound(session, ANA, "@%s again" % ME_PHONE, chat=CHAT))
    c.assert_no_message(_notice(c, room), 2.0)
    # the user joins (and gets what was said), leaves: a new period, and
    # a mention by lid counts
    _joined(gw, c)
    _leave(c, room)
    gw.inbound(session, CHIARA, "@%s and now?" % lid, chat=CHAT)
    m = c.wait_message(_notice(c, room), WAIT)
    assert m.body == "+%s mentioned you in %s: @%s and now?" % (
        CHIARA, SUBJECT, lid), m.body
    c.assert_no_message(_notice(c, room), 1.0)


def test_no_mention_notice_when_joined(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _joined(gw, c)
    text = "@%s look here" % ME_PHONE
    gw.inbound(session, ANA, text, chat=CHAT, mentions=[ME_PHONE])
    c.wait_message(lambda m: _from_room(room)(m) and m.type == "groupchat"
                   and (m.body or "").endswith("look here"), WAIT)
    # a second resource of the user that is not in the room: the user is
    # in it all the same
    c2 = gw.connect(user=c.user, password=c.password)
    gw.inbound(session, CHIARA, "@%s and here" % ME_PHONE, chat=CHAT)
    c.wait_message(lambda m: _from_room(room)(m) and m.type == "groupchat"
                   and (m.body or "").endswith("and here"), WAIT)
    c.assert_no_message(_notice(c, room), 1.5)
    c2.assert_no_message(_notice(c2, room), 0.5)


@pytest.fixture
def gw_quiet(xmpp_server, start_ferry, connect_client):
    g = WahaGateway(xmpp_server, start_ferry, connect_client,
                    waha_config={"sandbox_groups": True},
                    groups_mention_notice="false")
    g.connect = lambda **kw: connect_client(xmpp_server, **kw)
    yield g
    problems = g.close()
    if problems:
        pytest.fail("\n".join(problems) + "\n" + g.ferry.log_tail(60),
                    pytrace=False)


def test_no_mention_notice_when_turned_off(gw_quiet):
    gw = gw_quiet
    c = _login(gw)
    session = gw.session_of(c)
    room = _room(gw)
    sent = gw.inbound(session, ANA, "@%s ping" % ME_PHONE, chat=CHAT,
                      mentions=[ME_PHONE])
    _kept(gw, sent)
    c.assert_no_message(_notice(c, room), 2.0)
    # the message waits for the join all the same
    _join(c, room, "me")
    c.wait_message(lambda m: _from_room(room)(m) and m.type == "groupchat"
                   and (m.body or "").endswith("ping"), WAIT)
