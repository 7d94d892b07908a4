# SPDX-License-Identifier: MIT
"""The WAHA server down for 10 seconds (issue 13, item 8): the fake aborts
every connection to its API and holds its webhooks meanwhile.  What the
user writes is held (no error comes back) and sent once, in order, when
WAHA answers again; what the contact wrote arrives once, in order; the
session is not reported as failed.  Every test runs against Prosody and
ejabberd."""

import time

import pytest

from harness.util import scaled, wait_for

CONTACT = "4915112345678"
OUTAGE = 10.0
N = 5


@pytest.fixture
def gw(waha):
    return waha


def test_waha_down_ten_seconds_nothing_lost(gw):
    c = gw.connect()
    session = gw.login(c)
    cj = gw.contact_jid(CONTACT)
    gw.ctl.post("down", {"seconds": OUTAGE})
    down_at = time.monotonic()
    mids = [gw.cloud.send(c, CONTACT, "out %d" % i) for i in range(N)]
    for i in range(N):
        gw.inbound(session, CONTACT, "in %d" % i, wait="none")
    # Down: nothing reached WAHA, nothing came back as an error.
    time.sleep(2)
    assert gw.ctl.get("state")["down"], "the outage ended too early"
    assert not [s for s in gw.sent(session) if s["type"] == "sendText"]
    assert not [m for m in c.messages.history if m.type == "error"]
    # Up again: everything goes, once and in order, both ways.
    sent = gw.wait_sent(N, session, timeout=OUTAGE + scaled(60))
    assert time.monotonic() - down_at >= OUTAGE - 0.5
    wait_for(lambda: len([m for m in c.messages.history
                          if m.frm and m.frm.startswith(cj)
                          and m.type == "chat" and m.body
                          and m.body.startswith("in ")]) >= N,
             scaled(60), 0.1, "%d messages from the contact" % N)
    gw.ctl.post("idle", {"timeout": 5})
    time.sleep(1)  # a doubled send or stanza would show by now
    texts = [s["body"]["text"] for s in gw.sent(session)
             if s["type"] == "sendText"]
    assert texts == ["out %d" % i for i in range(N)], texts
    assert len(sent) == N
    got = [m.body for m in c.messages.history
           if m.frm and m.frm.startswith(cj) and m.type == "chat"
           and m.body and m.body.startswith("in ")]
    assert got == ["in %d" % i for i in range(N)], got
    errors = [m for m in c.messages.history
              if m.type == "error" and m.id in mids]
    assert not errors, [m.xml for m in errors]
    told = [m.body for m in c.messages.history
            if m.frm == gw.gw and m.body and ("failed" in m.body.lower()
                                              or "log in" in m.body.lower())]
    assert not told, told
