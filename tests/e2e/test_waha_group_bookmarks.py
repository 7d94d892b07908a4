# SPDX-License-Identifier: MIT
"""Finding the rooms (issue 14): where the user's server lets the gateway
publish as its users (XEP-0356 iq permission for pubsub set: Prosody with
contrib/prosody.cfg.lua), ferry writes an XEP-0402 bookmark with autojoin
of each new group's room to the user's PEP, and sends no invitation; where
it does not (ejabberd 23.01 has no iq permission), or when the publish is
refused, the user gets an XEP-0249 invitation instead.  Every test runs
against Prosody and ejabberd."""

from harness.util import wait_for
from test_waha_groups import SUBJECT, WAIT, _login, _room, gw  # noqa: F401

NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_BOOKMARKS = "urn:xmpp:bookmarks:1"
NS_CONFERENCE = "jabber:x:conference"
NEW_GROUP = "120363000000000088"
NEW_SUBJECT = "Offline club"


def _bookmarks_expected(gw):
    """Whether the server grants the pubsub iq permission (Prosody)."""
    return gw.server.name == "prosody"


def _bookmarks(c):
    """The user's XEP-0402 bookmarks: room JID -> <conference/>."""
    r = c.iq(c.jid, "<pubsub xmlns='%s'><items node='%s'/></pubsub>"
             % (NS_PUBSUB, NS_BOOKMARKS))
    if r.type == "error":  # no node yet; no PEP at all (the test ejabberd)
        assert r.error_condition in ("item-not-found",
                                     "service-unavailable"), r.xml
        return {}
    return {item.get("id"): item.find("{%s}conference" % NS_BOOKMARKS)
            for item in r.el.iter("{%s}item" % NS_PUBSUB)}


def _bookmark(c, room):
    return wait_for(lambda: _bookmarks(c).get(room), WAIT, 0.2,
                    "the bookmark of %s" % room)


def _is_invitation(gw, room):
    return lambda m: (m.frm == gw.gw
                      and m.child(NS_CONFERENCE, "x") is not None
                      and m.child(NS_CONFERENCE, "x").get("jid") == room)


def _new_group(gw, session):
    gw.ctl.post("group", {"session": session, "id": NEW_GROUP + "@g.us",
                          "subject": NEW_SUBJECT, "announce": True,
                          "participants": [{"phone": "15550005555",
                                            "role": "superadmin"}]})


def _room_stored(gw, c, group):
    wait_for(lambda: gw.cloud.db(
        "SELECT count(*) FROM room r JOIN account a ON a.id = r.account_id "
        "WHERE a.jid = ? AND r.group_id = ?", c.jid, group + "@g.us")[0][0],
        WAIT, 0.1, "the room of %s in the store" % group)


def test_groups_learnt_at_login_are_bookmarked_or_invited(gw):
    c = _login(gw)
    room = _room(gw)
    if not _bookmarks_expected(gw):
        m = c.wait_message(_is_invitation(gw, room), WAIT)
        assert SUBJECT in m.child(NS_CONFERENCE, "x").get("reason"), m.xml
        assert room not in _bookmarks(c)
        return
    conf = _bookmark(c, room)
    assert conf.get("name") == SUBJECT, conf
    assert conf.get("autojoin") in ("true", "1"), conf
    assert conf.findtext("{%s}nick" % NS_BOOKMARKS) == c.user, conf
    assert list(_bookmarks(c)) == [room]
    c.assert_no_message(lambda m: m.child(NS_CONFERENCE, "x") is not None,
                        2.0)


def test_group_created_while_offline(gw, xmpp_server, connect_client):
    c = _login(gw)
    room, new_room = _room(gw), "%s@%s" % (NEW_GROUP, gw.gw)
    if _bookmarks_expected(gw):
        _bookmark(c, room)
    else:
        c.wait_message(_is_invitation(gw, room), WAIT)
    session = gw.session_of(c)
    user, password = c.user, c.password
    c.disconnect()
    _new_group(gw, session)
    _room_stored(gw, c, NEW_GROUP)
    c = connect_client(xmpp_server, user, password)
    if not _bookmarks_expected(gw):
        m = c.wait_message(_is_invitation(gw, new_room), WAIT)
        assert NEW_SUBJECT in m.child(NS_CONFERENCE, "x").get("reason"), \
            m.xml
        return
    conf = _bookmark(c, new_room)
    assert conf.get("name") == NEW_SUBJECT, conf
    assert conf.get("autojoin") in ("true", "1"), conf
    assert sorted(_bookmarks(c)) == sorted([room, new_room])
    c.assert_no_message(lambda m: m.child(NS_CONFERENCE, "x") is not None,
                        2.0)


def test_refused_bookmark_falls_back_to_an_invitation(gw):
    """The user's bookmarks node already exists with another configuration
    (an open access model): the server refuses ferry's publish
    (precondition-not-met) and the user gets an invitation instead."""
    c = _login(gw)
    if _bookmarks_expected(gw):
        _bookmark(c, _room(gw))
        r = c.iq(c.jid, "<pubsub xmlns='%s#owner'><configure node='%s'>"
                 "<x xmlns='jabber:x:data' type='submit'>"
                 "<field var='FORM_TYPE' type='hidden'><value>%s#node_config"
                 "</value></field><field var='pubsub#access_model'>"
                 "<value>open</value></field></x></configure></pubsub>"
                 % (NS_PUBSUB, NS_BOOKMARKS, NS_PUBSUB), "set")
        assert r.type == "result", r.xml
    _new_group(gw, gw.session_of(c))
    new_room = "%s@%s" % (NEW_GROUP, gw.gw)
    m = c.wait_message(_is_invitation(gw, new_room), WAIT)
    assert NEW_SUBJECT in m.child(NS_CONFERENCE, "x").get("reason"), m.xml
    assert new_room not in _bookmarks(c)


def test_leaving_the_group_removes_the_bookmark(gw):
    """The account removed from a group (group.v2.leave): its room's
    bookmark goes, the others stay (Prosody); ejabberd has none to
    remove."""
    c = _login(gw)
    room, new_room = _room(gw), "%s@%s" % (NEW_GROUP, gw.gw)
    session = gw.session_of(c)
    _new_group(gw, session)
    if _bookmarks_expected(gw):
        _bookmark(c, new_room)
    else:
        c.wait_message(_is_invitation(gw, new_room), WAIT)
    gw.ctl.post("group/leave", {"session": session,
                                "group": NEW_GROUP + "@g.us"})
    wait_for(lambda: not gw.cloud.db(
        "SELECT count(*) FROM room r JOIN account a ON a.id = r.account_id "
        "WHERE a.jid = ? AND r.group_id = ?", c.jid,
        NEW_GROUP + "@g.us")[0][0], WAIT, 0.1, "the room forgotten")
    if _bookmarks_expected(gw):
        wait_for(lambda: new_room not in _bookmarks(c), WAIT, 0.2,
                 "the bookmark of the group left removed")
        assert list(_bookmarks(c)) == [room]
    else:
        assert _bookmarks(c) == {}
