# SPDX-License-Identifier: MIT
"""Finding rooms and following their members (issue 14): an XEP-0402
bookmark (Prosody) or an XEP-0249 invitation from the gateway (ejabberd)
for each group the user did not have yet (at login, and when the account
is added to a group: group.v2.join; test_waha_group_bookmarks has the
details), members added, removed, promoted and demoted
(group.v2.participants) as occupant presences to the user's resources in
the room, and the account removed from a group (group.v2.leave: 110 and
321, the room gone).  Every test runs against Prosody and ejabberd."""

from harness.util import wait_for
from test_waha_groups import (GROUP, NS_MUC_USER, SUBJECT, WAIT, _codes,
                              _from_room, _item, _news_from_room, _join, _joined, _login,
                              _room, gw)  # noqa: F401
from test_waha_group_bookmarks import (_bookmark, _bookmarks_expected,
                                       _is_invitation)

NS_CONFERENCE = "jabber:x:conference"
CHAT = GROUP + "@g.us"


def _invitation(c, gw, room):
    """How the user learnt of room: the bookmark's name, or the
    invitation's reason."""
    if _bookmarks_expected(gw):
        return _bookmark(c, room).get("name")
    m = c.wait_message(_is_invitation(gw, room), WAIT)
    return m.child(NS_CONFERENCE, "x").get("reason") or ""


def test_invitation_for_groups_learnt_at_login(gw):
    c = _login(gw)
    room = _room(gw)
    assert SUBJECT in _invitation(c, gw, room)
    # once per group: the session WORKING again (groups read again) does
    # not invite again
    n = len(gw.ctl.get("requests", path_contains="/groups"))
    gw.ctl.post("status", {"session": gw.session_of(c), "status": "WORKING"})
    wait_for(lambda: len(gw.ctl.get("requests", path_contains="/groups")) > n,
             WAIT, 0.1, "the groups read again")
    c.assert_no_message(lambda m: m.child(NS_CONFERENCE, "x") is not None,
                        2.0)


def test_added_to_a_group_brings_an_invitation(gw):
    c = _login(gw)
    _invitation(c, gw, _room(gw))
    session = gw.session_of(c)
    gw.ctl.post("group", {"session": session, "id": "120363000000000077@g.us",
                          "subject": "Book club", "announce": True,
                          "participants": [{"phone": "15550005555",
                                            "role": "superadmin"}]})
    room = "120363000000000077@" + gw.gw
    assert "Book club" in _invitation(c, gw, room)
    assert (room, None, "Book club") in c.disco_items(gw.gw)
    _join(c, room, "me", "join-new")
    p = c.wait_presence(lambda p: _from_room(room)(p)
                        and p.frm == room + "/+15550005555", WAIT)
    assert _item(p).get("affiliation") == "owner", p.xml


def _presence_of(c, room, nick):
    return c.wait_presence(lambda p: p.frm == "%s/%s" % (room, nick), WAIT)


def test_members_added_promoted_and_removed(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _joined(gw, c)
    c.presences.clear()
    gw.ctl.post("group/participants", {
        "session": session, "group": CHAT, "type": "join",
        "participants": [{"phone": "15550004444", "role": "participant"}]})
    p = _presence_of(c, room, "+15550004444")
    assert p.type is None, p.xml
    assert _item(p).get("affiliation") == "member", p.xml
    assert _item(p).get("jid") == "+15550004444@" + gw.gw, p.xml
    gw.ctl.post("group/participants", {
        "session": session, "group": CHAT, "type": "promote",
        "participants": [{"phone": "15550003333"}]})
    p = _presence_of(c, room, "+15550003333")
    assert (_item(p).get("affiliation"), _item(p).get("role")) == \
        ("admin", "moderator"), p.xml
    gw.ctl.post("group/participants", {
        "session": session, "group": CHAT, "type": "demote",
        "participants": [{"phone": "15550003333"}]})
    p = _presence_of(c, room, "+15550003333")
    assert _item(p).get("affiliation") == "member", p.xml
    gw.ctl.post("group/participants", {
        "session": session, "group": CHAT, "type": "leave",
        "participants": [{"phone": "15550003333"}]})
    p = _presence_of(c, room, "+15550003333")
    assert p.type == "unavailable", p.xml
    assert _item(p).get("role") == "none", p.xml
    # the store follows: a new join shows the new member, not the one gone
    wait_for(lambda: gw.cloud.db("SELECT count(*) FROM room_member WHERE "
                                 "phone = '15550003333'")[0][0] == 0,
             WAIT, 0.1, "Chiara gone from the members")
    c.send_raw("<presence to='%s/me' type='unavailable'/>" % room)
    c.wait_presence(lambda p: _from_room(room)(p)
                    and p.type == "unavailable" and "110" in _codes(p), WAIT)
    c.presences.clear()
    _join(c, room, "me", "join-again")
    c.wait_presence(lambda p: _from_room(room)(p) and "110" in _codes(p),
                    WAIT)
    nicks = [p.frm.split("/", 1)[1] for p in c.presences.pending()
             if _from_room(room)(p) and "110" not in _codes(p)]
    assert "+15550004444" in nicks and "+15550003333" not in nicks, nicks


def test_removed_from_the_group(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _joined(gw, c)
    gw.ctl.post("group/leave", {"session": session, "group": CHAT})
    p = c.wait_presence(lambda p: _from_room(room)(p)
                        and p.type == "unavailable", WAIT)
    assert _codes(p) == ["110", "321"], p.xml
    assert p.child(NS_MUC_USER, "x") is not None
    _join(c, room, "me", "join-gone")
    err = c.wait_presence(lambda p: _from_room(room)(p)
                          and p.type == "error", WAIT)
    assert err.error_condition == "item-not-found", err.xml


def test_subject_change(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _joined(gw, c)
    gw.ctl.post("group/update", {"session": session, "group": CHAT,
                                 "subject": "Renamed"})
    m = c.wait_message(lambda m: _from_room(room)(m)
                       and m.find("{jabber:client}subject") is not None,
                       WAIT)
    assert m.frm == room and m.type == "groupchat", m.xml
    assert m.find("{jabber:client}subject").text == "Renamed", m.xml
    assert m.body is None, m.xml
    m = c.wait_message(lambda m: _from_room(room)(m)
                       and "104" in _codes(m), WAIT)
    assert m.frm == room, m.xml
    assert c.disco_info(room).has_identity("conference", "text", "Renamed")
    # a change ferry does not show (the picture): nothing
    gw.ctl.post("group/update", {"session": session, "group": CHAT,
                                 "picture": True})
    c.assert_no_message(_news_from_room(room), 1.5)


NS_MUC_ADMIN = "http://jabber.org/protocol/muc#admin"


def _admin_list(c, room, aff):
    r = c.iq(room, "<query xmlns='%s'><item affiliation='%s'/></query>"
             % (NS_MUC_ADMIN, aff))
    assert r.type == "result", r.xml
    q = r.child(NS_MUC_ADMIN, "query")
    return sorted((i.get("jid"), i.get("nick"))
                  for i in q.findall("{%s}item" % NS_MUC_ADMIN))


def test_member_list_by_affiliation(gw):
    """Members-only, non-anonymous rooms: Conversations and Dino read the
    member list (muc#admin) to know who is in the group."""
    c = _login(gw)
    room = _room(gw)
    assert _admin_list(c, room, "owner") == \
        [("+15550003331@" + gw.gw, "+15550003331")]
    assert _admin_list(c, room, "admin") == [(None, "~201000000000002")]
    assert _admin_list(c, room, "member") == \
        sorted([("+15550003333@" + gw.gw, "+15550003333"), (c.jid, None)])
    r = c.iq(room, "<query xmlns='%s'><item affiliation='none' "
             "jid='+15550003333@%s'/></query>" % (NS_MUC_ADMIN, gw.gw),
             "set")
    assert r.error_condition == "forbidden", r.xml
