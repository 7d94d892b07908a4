# SPDX-License-Identifier: MIT
"""After each connect, WhatsApp messages wait for the server's disco#info
result (docs/behaviour.md, "XMPP server faults"; src/queue.c).

ejabberd 23.01 starts its listeners, the component port among them, before
ejabberd_sm, ejabberd_service and its modules (mod_offline): just after a
restart a component can connect and send messages the server cannot yet
store for offline users, and a message was once lost that way.  So ferry
asks the server's domain for disco#info after every (re)connect and writes
no inbox row until a result comes back; an error is asked again a little
later.

A real server answers at once, so these tests run ferry against a fake one
(harness.fakeserver): it records what ferry sends with the time it came,
answers pings, and answers the disco#info to its domain as the test says
(held until the test releases it, or an error first).  Ferry's first stream
is answered at once; the server then drops it, as a restart does, and the
next stream's answer is held while a WhatsApp message comes in through the
fake Cloud API.  No <message> to the user may reach the server before the
result; after it, the message comes.
"""

import sqlite3
import time

import pytest

from harness.fakeserver import FakeXmppServer
from harness.network import WAIT, Bridge, register_form_xml
from harness.util import random_name, wait_for

X = "4915100000021"
HOLD = 2.0          # how long the server keeps ferry waiting


@pytest.fixture
def fake_server():
    srv = FakeXmppServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def gate(request, fake_server, start_ferry):
    """A fake Cloud API and a ferry connected to the fake server; the
    first stream's disco#info is answered at once."""
    bridge = Bridge(fake_server, start_ferry, None, start=False)
    request.node._e2e_bridges = [bridge]
    try:
        bridge.ferry.start(timeout=20)
        fake_server.wait_connected(1)
        yield fake_server, bridge
    finally:
        problems = bridge.close()
    if problems:
        pytest.fail("\n".join(problems) + "\n--- ferry log tail ---\n"
                    + bridge.ferry.log_tail(60), pytrace=False)


def _register(srv, bridge):
    """Registers a user of the fake server's domain with ferry (the server
    sends the registration, as it routes a client's); returns its JID."""
    user = "%s@%s" % (random_name("ann"), srv.domain)
    iq_id = random_name("reg")
    srv.send("<iq type='set' id='%s' from='%s' to='%s'>%s</iq>"
             % (iq_id, user, bridge.gw,
                register_form_xml(bridge.pnid, bridge.token)))
    reply = srv.wait(lambda r: r.kind == "iq" and r.id == iq_id, WAIT,
                     "the answer to the registration")
    assert reply.type == "result", reply.xml
    bridge.user_pnid[user] = bridge.pnid
    return user


def _to_user(user, conn=None):
    def pred(r):
        return r.kind == "message" and r.to is not None and \
            r.to.split("/")[0] == user and (conn is None or r.conn == conn)
    return pred


def _show(stanzas):
    return "; ".join("stream %d, %s: %r" % (
        r.conn, r.id, r.el.findtext("{jabber:component:accept}body"))
        for r in stanzas)


def _stored(bridge, wamid):
    """The inbox row of wamid is committed in ferry's store."""
    try:
        return bridge.count("inbox", "stanza LIKE ?", "%" + wamid + "%")
    except sqlite3.OperationalError:  # busy: ask again
        return 0


def _restart_with(srv, bridge, user, *plan):
    """A message reaches user on the first stream; then the server drops
    the stream with the next disco#info answers planned."""
    first = bridge.inbound_text(X, "before the restart", name="Xena")
    srv.wait(lambda r: _to_user(user, 1)(r) and r.id == first, WAIT,
             "the first message on the first stream")
    srv.plan(*plan)
    srv.drop()


def _held_then_released(srv, bridge, user, conn, wamid):
    """With ferry's disco#info on stream conn held and wamid stored: nothing
    to user for HOLD seconds; then the result, and the message after it.
    Returns (the result's time, the message)."""
    wait_for(lambda: _stored(bridge, wamid), WAIT, 0.05,
             "the WhatsApp message in ferry's inbox")
    wait_for(lambda: [r for r in srv.held() if r.conn == conn], WAIT, 0.05,
             "ferry's disco#info to %s, held" % srv.domain)
    t_end = time.monotonic() + HOLD
    while time.monotonic() < t_end:
        early = srv.matching(_to_user(user, conn))
        assert not early, "a message reached the server before its " \
            "disco#info result: %s" % _show(early)
        time.sleep(0.05)
    queries = len(srv.ready_queries(conn))
    t_result = srv.release()
    assert t_result is not None, "no disco#info was held"
    msg = srv.wait(lambda r: _to_user(user, conn)(r) and r.id == wamid, 10,
                   "the message after the disco#info result")
    early = [r for r in srv.matching(_to_user(user, conn)) if r.t < t_result]
    assert not early, "a message reached the server before its disco#info " \
        "result: %s" % _show(early)
    # while one query waits for its answer, ferry asks nothing more
    assert queries == len(srv.ready_queries(conn)), srv.ready_queries(conn)
    return t_result, msg


def test_messages_wait_for_disco_result_after_reconnect(gate):
    """The server takes HOLD seconds to answer disco#info after a
    restart: a WhatsApp message stored meanwhile is written only after the
    result."""
    srv, bridge = gate
    user = _register(srv, bridge)
    _restart_with(srv, bridge, user, "hold")
    conn = srv.wait_connected(2, timeout=WAIT)
    wamid = bridge.inbound_text(X, "while the server starts", name="Xena")
    t_result, msg = _held_then_released(srv, bridge, user, conn, wamid)
    print("stream %d: disco#info held %.1fs; the message came %.3fs after "
          "the result" % (conn, HOLD, msg.t - t_result))


def test_disco_error_is_asked_again(gate):
    """The first disco#info answers after the restart are errors (the
    first one comes after a WhatsApp message was stored): ferry asks
    again, and holds the message until a result comes."""
    srv, bridge = gate
    user = _register(srv, bridge)
    _restart_with(srv, bridge, user, "hold", "error", "hold")
    conn = srv.wait_connected(2, timeout=WAIT)
    wamid = bridge.inbound_text(X, "while the server fails", name="Xena")
    wait_for(lambda: _stored(bridge, wamid), WAIT, 0.05,
             "the WhatsApp message in ferry's inbox")
    wait_for(lambda: [r for r in srv.held() if r.conn == conn], WAIT, 0.05,
             "ferry's first disco#info to %s, held" % srv.domain)
    srv.release("error")
    wait_for(lambda: len(srv.ready_queries(conn)) >= 3, WAIT, 0.05,
             "ferry's third disco#info after two errors")
    errors = [a for a in srv.answers if a[1] == conn and a[3] == "error"]
    assert len(errors) == 2, srv.answers
    early = srv.matching(_to_user(user, conn))
    assert not early, "a message reached the server after a disco#info " \
        "error: %s" % _show(early)
    t_result, msg = _held_then_released(srv, bridge, user, conn, wamid)
    q = srv.ready_queries(conn)
    gaps = ["%.2f" % (b.t - a[0]) for a, b in zip(errors, q[1:])]
    print("stream %d: %d disco#info (%s s after each error), the message "
          "%.3fs after the result" % (conn, len(q), ", ".join(gaps),
                                      msg.t - t_result))
