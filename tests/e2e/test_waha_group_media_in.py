# SPDX-License-Identifier: MIT
"""Files and push names from a WhatsApp group (issue 14, items 4 and 5): a
file a member sends is downloaded from WAHA, served on ferry's /media/ URL
and comes to the joined resources as a groupchat whose body is the URL
(after the caption, if any) with XEP-0066 out-of-band data; a text sent
after it in the room waits for it; the room's archive has the URL; a file
WAHA cannot give becomes a notice.  A message's push name becomes its
author's nick: a joined resource sees the XEP-0045 nick change (303, same
occupant-id).  The fake WAHA's sandbox group as in test_waha_groups.
Every test runs against Prosody and ejabberd."""

import base64
import os

from harness.util import wait_for
from test_media import _fetch
from test_team_history import mam
from test_waha_groups import (CHIARA, GROUP, NS_MUC_USER, NS_OCCUPANT_ID,
                              WAIT, _codes, _from_room, _groupchat, _joined,
                              _login, gw)  # noqa: F401

CHAT = GROUP + "@g.us"
NS_OOB = "jabber:x:oob"


def _oob(m):
    x = m.child(NS_OOB, "x")
    return None if x is None else x.findtext("{%s}url" % NS_OOB)


def _by_id(c, room, mid):
    return c.wait_message(lambda m: _from_room(room)(m)
                          and m.type == "groupchat"
                          and m.child("urn:xmpp:sid:0", "stanza-id")
                          is not None
                          and m.child("urn:xmpp:sid:0", "stanza-id")
                          .get("id") == mid, WAIT)


def test_image_in_group_comes_with_its_url_before_later_text(gw):
    c = _login(gw)
    room = _joined(gw, c)
    session = gw.session_of(c)
    jpg = b"\xff\xd8\xff\xe0" + os.urandom(3000)
    # the file takes a while at WAHA: the text after it waits for it
    gw.ctl.post("config", {"file_delay_ms": 1500})
    r = gw.inbound(session, CHIARA, "", chat=CHAT, type="image",
                   data_b64=base64.b64encode(jpg).decode())
    gw.inbound(session, CHIARA, "did you see the cake?", chat=CHAT)
    m = _by_id(c, room, r["id"])
    url = _oob(m)
    assert url and m.body == url, m.xml
    assert url.startswith(gw.ferry.url + "/media/"), url
    assert m.frm == "%s/+%s" % (room, CHIARA), m.xml
    assert _fetch(url)[:2] == (200, jpg)
    _groupchat(c, room, "did you see the cake?")
    mine = [x for x in c.messages.history if _from_room(room)(x)
            and x.body in (url, "did you see the cake?")]
    assert [x.body for x in mine] == [url, "did you see the cake?"], \
        [x.body for x in mine]
    # with a caption: the caption, then the URL
    gw.ctl.post("config", {"file_delay_ms": 0})
    pdf = b"%PDF-1.4\n" + os.urandom(900)
    r2 = gw.inbound(session, CHIARA, "", chat=CHAT, type="document",
                    filename="agenda.pdf", caption="the agenda",
                    data_b64=base64.b64encode(pdf).decode())
    m2 = _by_id(c, room, r2["id"])
    url2 = _oob(m2)
    assert m2.body == "the agenda\n" + url2, m2.xml
    assert _fetch(url2)[:2] == (200, pdf)
    # the archive has both files with their links, in order
    _, page, _ = mam(c, room)
    got = [(msg.findtext("{jabber:client}body"),
            msg.findtext("{%s}x/{%s}url" % (NS_OOB, NS_OOB)))
           for _, msg, _ in page]
    files = [g for g in got if g[1] is not None]
    assert files == [(url, url), ("the agenda\n" + url2, url2)], got
    bodies = [b for b, _ in got]
    assert bodies.index(url) < bodies.index("did you see the cake?"), got


def test_file_waha_cannot_give_is_a_notice(gw):
    c = _login(gw)
    room = _joined(gw, c)
    session = gw.session_of(c)
    gw.ctl.post("fail", {"count": 100, "error": 404,
                         "path_contains": "/api/files/"})
    r = gw.inbound(session, CHIARA, "", chat=CHAT, type="video",
                   caption="the party")
    m = _by_id(c, room, r["id"])
    assert _oob(m) is None, m.xml
    assert m.body.startswith("[A video from WhatsApp could not be passed "
                             "on: "), m.body


def test_push_name_changes_the_nick_of_a_joined_occupant(gw):
    c = _login(gw)
    room = _joined(gw, c)
    session = gw.session_of(c)
    old = "%s/+%s" % (room, CHIARA)
    before = [p for p in c.presences.history if p.frm == old]
    assert before, "Chiara's occupant presence at the join"
    oid = before[-1].child(NS_OCCUPANT_ID, "occupant-id").get("id")
    gw.inbound(session, CHIARA, "I have a name now", chat=CHAT,
               name="Chiara Neri")
    gone = c.wait_presence(lambda p: p.frm == old
                           and p.type == "unavailable", WAIT)
    assert "303" in _codes(gone), gone.xml
    item = gone.child(NS_MUC_USER, "x").find("{%s}item" % NS_MUC_USER)
    assert item.get("nick") == "Chiara Neri", gone.xml
    assert gone.child(NS_OCCUPANT_ID, "occupant-id").get("id") == oid
    new = room + "/Chiara Neri"
    back = c.wait_presence(lambda p: p.frm == new and p.type is None, WAIT)
    assert back.child(NS_OCCUPANT_ID, "occupant-id").get("id") == oid
    m = _groupchat(c, room, "I have a name now")
    assert m.frm == new, m.xml
    # the same name again: no second nick change
    gw.inbound(session, CHIARA, "still me", chat=CHAT, name="Chiara Neri")
    assert _groupchat(c, room, "still me").frm == new
    assert len([p for p in c.presences.history if p.frm == old
                and p.type == "unavailable"]) == 1
    wait_for(lambda: gw.cloud.db(
        "SELECT push_name FROM room_member WHERE phone = ?", CHIARA)[0][0]
        == "Chiara Neri", WAIT, 0.1, "the push name kept")
