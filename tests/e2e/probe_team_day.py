# SPDX-License-Identifier: MIT
"""Probe (not collected by pytest): a scripted day of a team's traffic,
then what its lead sees (issue 16, "Done when").  The owner and two
members (bob, amy) answer one business number; 24 customers wrote over the
last 24 hours (their messages carry those times), some twice.  Bob answers
the even ones, amy those divisible by 3 that bob left, one conversation is
handed over, two get a note, half of the answered ones are released
(resolved); the rest wait.  Prints `team status` and the `ferry_team_*`
series of /metrics, and checks that they add up to the script.  Run:
  FERRY_BIN=build/werror/ferry /usr/bin/python3 -m pytest -q -s \\
      tests/e2e/probe_team_day.py
"""

import time
import urllib.request

import pytest

from harness.network import WAIT

pytestmark = pytest.mark.parametrize("xmpp_server", ["prosody"],
                                     indirect=True)

CUSTOMERS = 24


def _chat(client, gw, text):
    client.send_message(gw, text)
    m = client.wait_message(lambda m: m.frm == gw and m.type != "error"
                            and m.body, timeout=WAIT)
    return m.body


def _metrics(bridge):
    with urllib.request.urlopen(bridge.ferry.url + "/metrics",
                                timeout=10) as r:
        return [line for line in r.read().decode().splitlines()
                if line.startswith("ferry_team_")]


def _said(client, cj, start):
    return client.wait_message(lambda m: m.frm == cj and m.body is not None
                               and m.body.startswith(start), timeout=WAIT)


def test_team_day(bridge):
    gw = bridge.gw
    owner = bridge.client()
    bob = bridge.client(register=False)
    amy = bridge.client(register=False)
    for m in (bob, amy):
        assert "is now a member" in _chat(owner, gw, "team add " + m.jid)
    now = int(time.time())
    phones = ["49151%07d" % (1000000 + i) for i in range(CUSTOMERS)]
    last = {}
    for i, phone in enumerate(phones):
        # customer i first wrote (24 - i) hours ago, every third one twice
        t = now - (CUSTOMERS - i) * 3600
        last[phone] = bridge.inbound_text(phone, "question %d" % i,
                                          name="Customer %d" % i,
                                          timestamp=t)
        if i % 3 == 0:
            last[phone] = bridge.inbound_text(phone, "any news? %d" % i,
                                              timestamp=t + 600)
    for phone in phones:
        bridge.wait_chat(bob, last[phone])
        bridge.wait_chat(amy, last[phone])
    bob_wrote = amy_wrote = 0
    answered = []
    for i, phone in enumerate(phones):
        bridge.open_window(phone)
        if i % 2 == 0:
            bridge.send(bob, phone, "hello from bob, %d" % i)
            bob_wrote += 1
            answered.append((bob, phone))
        elif i % 3 == 0:
            bridge.send(amy, phone, "hello from amy, %d" % i)
            amy_wrote += 1
            answered.append((amy, phone))
    bridge.wait_sent(bob_wrote + amy_wrote, timeout=60)
    # a hand-over and two notes
    cj0 = bridge.contact_jid(phones[0])
    bridge.send(bob, phones[0], "/assign " + amy.jid)
    _said(amy, cj0, "[team]")
    bridge.send(amy, phones[0], "/note the parcel is in Hamburg")
    bridge.send(bob, phones[2], "/note called back, no answer")
    # half of the answered conversations are resolved by their holder
    resolved = 0
    for k, (who, phone) in enumerate(answered):
        if k % 2 == 1:
            holder = amy if phone == phones[0] else who
            bridge.send(holder, phone, "/release")
            _said(holder, bridge.contact_jid(phone), "[team] Released")
            resolved += 1
    status = _chat(owner, gw, "team status")
    listing = _chat(owner, gw, "team")
    series = _metrics(bridge)
    print("\n--- a scripted day: %d customers, %d answered (bob %d, amy %d),"
          " %d resolved" % (CUSTOMERS, len(answered), bob_wrote, amy_wrote,
                            resolved))
    print("--- team status\n" + status)
    print("--- team\n" + listing)
    print("--- /metrics (ferry_team_*)\n" + "\n".join(series))
    waiting = CUSTOMERS - len(answered)
    assert "Waiting for a reply: %d conversation(s)" % waiting in status, \
        status
    assert "First replies: %d" % len(answered) in status, status
    assert "Resolved (released): %d" % resolved in status, status
    assert "Messages to customers by %s: %d" % (bob.jid, bob_wrote) \
        in status, status
    assert "Messages to customers by %s: %d" % (amy.jid, amy_wrote) \
        in status, status
