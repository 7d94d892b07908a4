# SPDX-License-Identifier: MIT
"""What the user sends to a WhatsApp group from XMPP or from the phone
(issue 14, item 4): a file (XEP-0066, uploaded through the server's
XEP-0363 service) goes to the group as WhatsApp media and is reflected
with its URL; "@nick" of a member becomes a WhatsApp mention; a message
the user wrote on the phone comes to every joined resource from the
user's own nick, once, and is in the room's archive; ferry's own send,
which some engines report like the phone's, is not shown twice.  The fake
WAHA's sandbox group as in test_waha_groups.  Every test runs against
Prosody and ejabberd."""

import base64
import os
from xml.sax.saxutils import escape

from harness.util import wait_for
from harness.waha import ME_PHONE
from test_team_history import mam
from test_waha import _upload, _wait_sends
from test_waha_groups import (ANA, CHIARA, GROUP, NS_SID, WAIT, _codes,
                              _from_room, _groupchat, _join, _joined, _login,
                              gw)  # noqa: F401

CHAT = GROUP + "@g.us"
NS_OOB = "jabber:x:oob"


def _oob(m):
    x = m.child(NS_OOB, "x")
    return None if x is None else x.findtext("{%s}url" % NS_OOB)


def _texts(page):
    """The bodies of a MAM page (the sandbox's members also react)."""
    return [msg.findtext("{jabber:client}body") for _, msg, _ in page]


def _two(gw):
    """A user with two resources in the room, as "me" and "tablet"."""
    c = _login(gw)
    c2 = gw.connect(user=c.user, password=c.password)
    room = _joined(gw, c, "me")
    _join(c2, room, "tablet", "join-2")
    c2.wait_presence(lambda p: _from_room(room)(p)
                     and "110" in _codes(p), WAIT)
    return c, c2, room


def test_file_to_group_sent_as_media_and_reflected(gw, xmpp_server):
    c, c2, room = _two(gw)
    session = gw.session_of(c)
    jpg = b"\xff\xd8\xff\xe0" + os.urandom(2000)
    url = first = _upload(c, xmpp_server, jpg, "cake.jpg", "image/jpeg")
    mid = c.send_message(
        room, url, mtype="groupchat", id="file-1",
        extra_xml=["<x xmlns='%s'><url>%s</url></x>" % (NS_OOB, escape(url)),
                   "<origin-id xmlns='%s' id='origin-file'/>" % NS_SID])
    s = _wait_sends(gw, session, 1)[0]
    assert s["path"] == "/api/sendImage" and s["chat_id"] == CHAT, s
    assert base64.b64decode(s["body"]["file"]["data"]) == jpg
    assert not s["body"].get("caption"), s["body"]   # the body was the URL
    for client, nick in ((c, "me"), (c2, "tablet")):
        m = client.wait_message(lambda m: _from_room(room)(m)
                                and m.id == mid, WAIT)
        assert m.type == "groupchat" and m.frm == "%s/%s" % (room, nick), \
            m.xml
        assert m.body == url and _oob(m) == url, m.xml
        assert m.child(NS_SID, "origin-id").get("id") == "origin-file", m.xml
        assert m.child(NS_SID, "stanza-id").get("id") == s["id"], m.xml
    # a document with a caption: sendFile, the caption with it
    pdf = b"%PDF-1.4\n" + os.urandom(800)
    url = _upload(c, xmpp_server, pdf, "agenda.pdf", "application/pdf")
    c.send_message(room, "the agenda", mtype="groupchat", id="file-2",
                   extra_xml="<x xmlns='%s'><url>%s</url></x>"
                   % (NS_OOB, escape(url)))
    s = _wait_sends(gw, session, 2)[1]
    assert s["path"] == "/api/sendFile" and s["chat_id"] == CHAT, s
    assert s["body"]["caption"] == "the agenda", s["body"]
    m = c.wait_message(lambda m: _from_room(room)(m) and m.id == "file-2",
                       WAIT)
    assert m.body == "the agenda" and _oob(m) == url, m.xml
    # the archive keeps the file's link
    _, page, _ = mam(c, room)
    urls = [msg.findtext("{%s}x/{%s}url" % (NS_OOB, NS_OOB))
            for _, msg, _ in page]
    assert urls == [first, url], urls
    assert len(gw.sent(session)) == 2
    assert not [m for m in c.messages.history if m.type == "error"]


def test_mentions_out(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _joined(gw, c)
    text = "@+15550003331 and @+15550003333, cake at mail@+15550003333"
    mid = c.send_message(room, text, mtype="groupchat")
    s = gw.wait_sent(1, session)[0]
    assert s["chat_id"] == CHAT, s
    assert s["body"]["text"] == \
        "@15550003331 and @15550003333, cake at mail@+15550003333", s
    assert sorted(s["mentions"]) == ["15550003331@c.us",
                                     "15550003333@c.us"], s
    # reflected as written: the numbers shown as the members' nicks
    m = c.wait_message(lambda m: _from_room(room)(m) and m.id == mid, WAIT)
    assert m.body == text, m.xml
    # no one named: no mentions
    c.send_message(room, "@nobody here?", mtype="groupchat")
    s = gw.wait_sent(2, session)[1]
    assert s["body"]["text"] == "@nobody here?", s
    assert s["mentions"] == [] and "mentions" not in s["body"], s


def test_phone_message_reflected_once_from_own_nick(gw):
    c, c2, room = _two(gw)
    session = gw.session_of(c)
    sent = gw.inbound(session, ME_PHONE, "typed on the phone", chat=CHAT,
                      from_me=True)
    m1 = _groupchat(c, room, "typed on the phone")
    m2 = _groupchat(c2, room, "typed on the phone")
    assert m1.frm == room + "/me" and m2.frm == room + "/tablet", \
        (m1.xml, m2.xml)
    assert m1.child(NS_SID, "stanza-id").get("id") == sent["id"], m1.xml
    # WAHA tells it again (a retried webhook; an engine whose id names the
    # user too): still once
    assert sent["payload"]["fromMe"] and sent["payload"]["source"] == "app"
    gw.ctl.post("event", {"session": session, "event": "message.any",
                          "payload": sent["payload"]})
    again = dict(sent["payload"], id=sent["id"] + "_%s@c.us" % ME_PHONE)
    gw.ctl.post("event", {"session": session, "event": "message.any",
                          "payload": again})
    gw.inbound(session, CHIARA, "after it", chat=CHAT)
    _groupchat(c, room, "after it")
    assert [x.body for x in c.messages.history
            if x.body == "typed on the phone"] == ["typed on the phone"]
    # kept in the room's archive, as the user's
    _, page, _ = mam(c, room)
    assert _texts(page).count("typed on the phone") == 1, _texts(page)
    assert not gw.sent(session)


def test_own_send_told_again_not_reflected_twice(gw):
    """An engine that reports ferry's own send like a message written on
    the phone (source app, an id naming the user), before it answers the
    send: reflected once."""
    c, c2, room = _two(gw)
    session = gw.session_of(c)
    gw.ctl.post("config", {"api_source": "app", "early_events": True})
    mid = c.send_message(room, "only once", mtype="groupchat")
    s = gw.wait_sent(1, session)[0]
    for client in (c, c2):
        client.wait_message(lambda m: _from_room(room)(m) and m.id == mid,
                            WAIT)

    def echo_taken():
        return [d for d in gw.deliveries(event="message.any")
                if s["key_id"] in d["body"] and d["ok"]]
    # WAHA told ferry of it again, and ferry took that webhook
    wait_for(echo_taken, WAIT, 0.1, "the send's message.any delivered")
    gw.inbound(session, ANA, "next one", chat=CHAT)
    _groupchat(c, room, "next one")
    _groupchat(c2, room, "next one")
    for client in (c, c2):
        assert len([x for x in client.messages.history
                    if x.body == "only once"]) == 1, \
            [x.xml for x in client.messages.history]
    _, page, _ = mam(c, room)
    assert _texts(page).count("only once") == 1, _texts(page)
