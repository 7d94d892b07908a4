# SPDX-License-Identifier: MIT
"""XEP-0313 (MAM) on the JIDs of WhatsApp groups as rooms (issue 14): the
room's store (texts, reactions, the user's own messages) served to its
user by time and with XEP-0059 paging on the room's stanza-ids, whether or
not a resource is joined; results from the room with the groupchat as
a resource got it.  Every test runs against Prosody and ejabberd."""

import time

from test_team_history import NS_CLIENT, NS_MAM, bodies, mam, rsm_of
from test_waha_groups import (ANA, CHIARA, GROUP, NS_OCCUPANT_ID, NS_SID,
                              WAIT, _from_room, _groupchat, _joined, _login,
                              _room, gw)  # noqa: F401

CHAT = GROUP + "@g.us"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
NS_REACTIONS = "urn:xmpp:reactions:0"


def _stamp(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def test_room_mam_paging_on_stanza_ids(gw):
    c = _login(gw)
    room = _joined(gw, c)
    session = gw.session_of(c)
    sent = []
    for i in range(7):
        sent.append(gw.inbound(session, (ANA, CHIARA)[i % 2], "m%d" % i,
                               chat=CHAT))
        _groupchat(c, room, "m%d" % i)
    gw.ctl.post("reaction", {"session": session, "from": CHIARA,
                             "chat": CHAT, "message_id": sent[0]["id"],
                             "text": "\U0001F44D"})
    c.wait_message(lambda m: _from_room(room)(m)
                   and m.child(NS_REACTIONS, "reactions") is not None, WAIT)
    reply, page, fin = mam(c, room, rsm="<max>3</max>")
    assert reply.type == "result", reply.xml
    assert bodies(page) == ["m0", "m1", "m2"]
    assert [rid for rid, _, _ in page] == [s["id"] for s in sent[:3]]
    first, last, count = rsm_of(fin)
    assert (first, last, count) == (sent[0]["id"], sent[2]["id"], 8)
    assert fin.get("complete") is None, reply.xml
    _, msg, stamp = page[0]
    assert msg.get("type") == "groupchat" and stamp, msg
    assert msg.get("from") == room + "/+15550003331", msg.get("from")
    assert msg.get("to") is None
    assert msg.find("{%s}stanza-id" % NS_SID).get("id") == sent[0]["id"]
    assert msg.find("{%s}occupant-id" % NS_OCCUPANT_ID) is not None
    item = msg.find("{%s}x/{%s}item" % (NS_MUC_USER, NS_MUC_USER))
    assert item is not None and item.get("jid") == "+15550003331@" + gw.gw
    _, page, fin = mam(c, room, rsm="<max>3</max><after>%s</after>" % last)
    assert bodies(page) == ["m3", "m4", "m5"]
    _, page, fin = mam(c, room, rsm="<max>3</max><after>%s</after>"
                       % rsm_of(fin)[1])
    assert bodies(page[:1]) == ["m6"] and len(page) == 2
    react = page[1][1].find("{%s}reactions" % NS_REACTIONS)
    assert react is not None and react.get("id") == sent[0]["id"]
    assert fin.get("complete") == "true"
    # the last page, as a client that never saw the room asks for it
    _, page, fin = mam(c, room, rsm="<max>2</max><before/>")
    assert bodies(page[:1]) == ["m6"] and len(page) == 2
    _, page, fin = mam(c, room, rsm="<max>2</max><before>%s</before>"
                       % sent[6]["id"])
    assert bodies(page) == ["m4", "m5"]


def test_room_mam_by_time_and_unknown_id(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _room(gw)
    now = int(time.time())
    gw.inbound(session, ANA, "an hour ago", chat=CHAT, timestamp=now - 3600)
    gw.inbound(session, ANA, "just now", chat=CHAT, timestamp=now - 5)
    # not joined: the archive is there all the same
    _, page, fin = mam(c, room, {"start": _stamp(now - 600)})
    assert bodies(page) == ["just now"] and fin.get("complete") == "true"
    _, page, _ = mam(c, room, {"end": _stamp(now - 600)})
    assert bodies(page) == ["an hour ago"]
    reply, _, _ = mam(c, room, rsm="<after>false_nothing@g.us_XX</after>")
    assert reply.type == "error", reply.xml
    assert reply.error_condition == "item-not-found", reply.xml
    reply, _, _ = mam(c, room, {"flavour": "x"})
    assert reply.error_condition == "feature-not-implemented", reply.xml
    # another user's view: not theirs
    other = gw.connect()
    reply, _, _ = mam(other, room)
    assert reply.error_condition == "registration-required", reply.xml


def test_room_mam_own_message_keeps_ids(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _joined(gw, c, "me")
    mid = c.send_message(room, "mine", mtype="groupchat", id="own-1",
                         extra_xml="<origin-id xmlns='%s' id='origin-own'/>"
                         % NS_SID)
    gw.wait_sent(1, session)
    c.wait_message(lambda m: _from_room(room)(m) and m.id == mid, WAIT)
    _, page, _ = mam(c, room)
    assert bodies(page) == ["mine"]
    _, msg, _ = page[0]
    assert msg.get("id") == "own-1" and msg.get("from") == room + "/me"
    assert msg.find("{%s}origin-id" % NS_SID).get("id") == "origin-own"
    item = msg.find("{%s}x/{%s}item" % (NS_MUC_USER, NS_MUC_USER))
    assert item is not None and item.get("jid") == c.jid
    assert msg.tag == "{%s}message" % NS_CLIENT and NS_MAM
