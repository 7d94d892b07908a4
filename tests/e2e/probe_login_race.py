# SPDX-License-Identifier: MIT
"""Probe (not collected by pytest): does the XMPP server strand a message
sent to a bare JID while its user logs in?  A raw component sends a steady
stream of chat messages to one user while the user logs in and out; every
message sent more than a second before a session ended must have reached
that session.  Run:
  /usr/bin/python3 -m pytest -q -s tests/e2e/probe_login_race.py
"""

import time
import threading

import pytest

from harness.rawcomponent import RawComponent

pytestmark = pytest.mark.parametrize("xmpp_server", ["ejabberd", "prosody"],
                                     indirect=True)


def test_probe(xmpp_server, connect_client):
    srv = xmpp_server
    c = connect_client(srv)
    user, password, bare = c.user, c.password, c.jid.split("/")[0]
    c.disconnect()
    comp = RawComponent.for_server(srv).connect()
    sent = []  # (n, monotonic)
    stop = threading.Event()

    def pump():
        n = 0
        while not stop.is_set():
            comp.send("<message to='%s' from='%s' type='chat' id='p%d'>"
                      "<body>p%d</body></message>"
                      % (bare, comp.jid, n, n))
            sent.append((n, time.monotonic()))
            n += 1
            time.sleep(0.002)
    t = threading.Thread(target=pump, daemon=True)
    t.start()
    sessions = []
    events = []
    try:
        for k in range(12):
            time.sleep(0.3)
            events.append(("login-start", time.monotonic()))
            c = connect_client(srv, user, password)
            events.append(("login-done", time.monotonic()))
            time.sleep(1.5)
            end = time.monotonic()
            got = {m.body for m in c.messages.history}
            events.append(("logout-start", time.monotonic()))
            c.disconnect()
            events.append(("logout-done", time.monotonic()))
            sessions.append((end, got))
    finally:
        stop.set()
        t.join()
    time.sleep(0.5)
    c = connect_client(srv, user, password)
    time.sleep(3)
    final = {m.body for m in c.messages.history}
    c.disconnect()
    comp.close()
    stranded = []
    for end, got in sessions:
        before = {"p%d" % n for n, ts in sent if ts < end - 1.0}
        seen_by_then = set().union(*[g for e, g in sessions if e <= end])
        stranded += sorted(before - seen_by_then)
    all_got = set().union(final, *[g for _, g in sessions])
    lost = {"p%d" % n for n, _ in sent} - all_got
    print("\n%s: sent %d, sessions %d, stranded until a later login %d %s, "
          "never delivered %d" % (srv.name, len(sent), len(sessions),
                                  len(set(stranded)), sorted(set(stranded))[:10],
                                  len(lost)))
    when = dict(sent)
    for name in sorted(lost, key=lambda x: int(x[1:])):
        ts = when[int(name[1:])]
        ev, evts = min(events, key=lambda e: abs(e[1] - ts))
        print("  lost %s: %+.0f ms from %s" % (name, (ts - evts) * 1000, ev))
