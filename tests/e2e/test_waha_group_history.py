# SPDX-License-Identifier: MIT
"""Join history of WhatsApp groups as XEP-0045 rooms (issue 14): a join's
<history> (maxstanzas, maxchars, seconds, since; XEP-0045 7.2.14) served
from ferry's store of the room's messages (whole stanzas, oldest first,
with XEP-0203 delays, between the self-presence and the subject), none
when it asks for none, and the store's expiry after [groups]
history_days.  Every test runs against Prosody and ejabberd."""

import time

import pytest

from harness.util import wait_for
from harness.waha import WahaGateway
from test_waha_groups import (ANA, CHIARA, GROUP, NS_DELAY, NS_MUC, WAIT,
                              _codes, _from_room, _groupchat, _joined,
                              _login, _news_from_room, _room,
                              gw)  # noqa: F401

CHAT = GROUP + "@g.us"


def _join_with(c, room, history, nick="me", pid="join-h"):
    c.send_raw("<presence to='%s/%s' id='%s'><x xmlns='%s'>%s</x>"
               "</presence>" % (room, nick, pid, NS_MUC, history))


def _history(c, room):
    """The groupchats between the self-presence and the subject."""
    self_p = c.wait_presence(lambda p: _from_room(room)(p)
                             and "110" in _codes(p), WAIT)
    subject = c.wait_message(lambda m: _from_room(room)(m)
                             and m.find("{jabber:client}subject")
                             is not None, WAIT)
    got = []
    while True:
        try:
            m = c.messages.wait(lambda m: _news_from_room(room)(m)
                                and m.seq < subject.seq, 0.2)
        except TimeoutError:
            break
        got.append(m)
    assert all(self_p.seq < m.seq for m in got), "history after 110"
    return sorted(got, key=lambda m: m.seq)


def _leave(c, room, nick="me"):
    c.send_raw("<presence to='%s/%s' type='unavailable'/>" % (room, nick))
    c.wait_presence(lambda p: _from_room(room)(p)
                    and p.type == "unavailable", WAIT)


def _three(gw, c, room):
    """Three messages seen live by a joined resource, which then leaves."""
    session = gw.session_of(c)
    for i, who in enumerate((ANA, CHIARA, ANA)):
        gw.inbound(session, who, "line %d" % i, chat=CHAT)
        _groupchat(c, room, "line %d" % i)
    _leave(c, room)


def test_history_maxstanzas_from_the_store(gw):
    c = _login(gw)
    room = _joined(gw, c)
    _three(gw, c, room)
    for _ in range(2):  # served from the store each time, not only once
        _join_with(c, room, "<history maxstanzas='2'/>")
        got = _history(c, room)
        assert [m.body for m in got] == ["line 1", "line 2"], \
            [m.xml for m in got]
        for m in got:
            assert m.child(NS_DELAY, "delay").get("from") == room, m.xml
        _leave(c, room)


def test_history_none_asked(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _room(gw)
    gw.inbound(session, ANA, "held one", chat=CHAT)
    wait_for(lambda: gw.cloud.db("SELECT count(*) FROM room_message WHERE "
                                 "pending = 1")[0][0] == 1,
             WAIT, 0.1, "the message held")
    for history in ("<history maxstanzas='0'/>", "<history maxchars='0'/>"):
        _join_with(c, room, history)
        assert _history(c, room) == []
        _leave(c, room)
    # asked for none: no longer held for a join without <history> either
    _joined(gw, c)
    c.assert_no_message(lambda m: m.body == "held one", 1.0)


def test_history_maxchars_whole_stanzas(gw):
    c = _login(gw)
    room = _joined(gw, c)
    session = gw.session_of(c)
    for text in ("x" * 2000, "short one", "short two"):
        gw.inbound(session, CHIARA, text, chat=CHAT)
        _groupchat(c, room, text)
    _leave(c, room)
    _join_with(c, room, "<history maxchars='2000'/>")
    assert [m.body for m in _history(c, room)] == ["short one", "short two"]
    _leave(c, room)
    _join_with(c, room, "<history maxchars='20000'/>")
    assert [m.body for m in _history(c, room)] == \
        ["x" * 2000, "short one", "short two"]


def test_history_seconds_and_since(gw):
    c = _login(gw)
    session = gw.session_of(c)
    room = _joined(gw, c)
    now = int(time.time())
    gw.inbound(session, ANA, "an hour ago", chat=CHAT, timestamp=now - 3600)
    _groupchat(c, room, "an hour ago")
    gw.inbound(session, ANA, "just now", chat=CHAT, timestamp=now - 5)
    _groupchat(c, room, "just now")
    _leave(c, room)
    _join_with(c, room, "<history seconds='600'/>")
    assert [m.body for m in _history(c, room)] == ["just now"]
    _leave(c, room)
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 7200))
    _join_with(c, room, "<history since='%s'/>" % since)
    assert [m.body for m in _history(c, room)] == ["an hour ago", "just now"]
    _leave(c, room)
    # both: the later bound wins
    _join_with(c, room, "<history since='%s' seconds='600'/>" % since)
    assert [m.body for m in _history(c, room)] == ["just now"]


@pytest.fixture
def gw_short(xmpp_server, start_ferry, connect_client):
    g = WahaGateway(xmpp_server, start_ferry, connect_client,
                    waha_config={"sandbox_groups": True}, start=False,
                    groups_history_days=1)
    g.connect = lambda **kw: connect_client(xmpp_server, **kw)
    g.ferry.env["FERRY_HOUSEKEEPING_MS"] = "300"
    g.ferry.start(timeout=20)
    yield g
    problems = g.close()
    if problems:
        pytest.fail("\n".join(problems) + "\n" + g.ferry.log_tail(60),
                    pytrace=False)


def test_room_messages_expire_after_history_days(gw_short):
    gw = gw_short
    c = _login(gw)
    session = gw.session_of(c)
    old = gw.inbound(session, ANA, "two days old", chat=CHAT,
                     timestamp=int(time.time()) - 2 * 86400)
    new = gw.inbound(session, ANA, "fresh", chat=CHAT)
    wait_for(lambda: gw.cloud.db("SELECT count(*) FROM room_message WHERE "
                                 "network_id = ?", new["id"])[0][0] == 1,
             WAIT, 0.1, "the fresh message kept")
    wait_for(lambda: gw.cloud.db("SELECT count(*) FROM room_message WHERE "
                                 "network_id = ?", old["id"])[0][0] == 0,
             WAIT, 0.1, "the old message forgotten")
    room = _room(gw)
    _join_with(c, room, "<history maxstanzas='10'/>")
    assert [m.body for m in _history(c, room)] == ["fresh"]
