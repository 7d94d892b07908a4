# SPDX-License-Identifier: MIT
"""Forged iq replies, a silent domain and the barrier (issue 11, points 1,
2, 3, 10 and 12 b; docs/behaviour.md).

A second external component on the test server (harness.rawcomponent,
`silent.example.test`) stands in for a remote domain: it records what is
routed to it and answers nothing unless told, so the barrier pings to its
domain are never answered.  Its users register with ferry like any other
(the component sends their registration).  The attacker is an ordinary
XMPP user of the server.  Every test runs against Prosody and ejabberd."""

import os
import re
import sqlite3
import time

import pytest

from harness.ferryproc import http_get
from harness.network import DISPLAY2, PNID2, WAIT, register_form_xml
from harness.rawcomponent import RawComponent
from harness.util import random_name, wait_for

X, Y = "4915100000011", "4915100000012"
NS_PING = "urn:xmpp:ping"
NS_ROSTER = "jabber:iq:roster"


def _metric(bridge, name):
    status, body, _ = http_get(bridge.ferry.url + "/metrics")
    assert status == 200, status
    for line in body.decode().splitlines():
        key, _, value = line.rpartition(" ")
        if key == name:
            return float(value)
    return None


def _forged(bridge):
    return _metric(bridge, "ferry_xmpp_forged_replies_total")


@pytest.fixture
def silent(xmpp_server):
    comp = RawComponent.for_server(xmpp_server).connect()
    yield comp
    comp.close()


def _silent_user(bridge, comp):
    """Registers a user of the silent domain (PNID2) through the
    component; returns its bare JID."""
    user = "%s@%s" % (random_name("sam"), comp.jid)
    token = bridge.add_account(PNID2, display=DISPLAY2)
    iq_id = random_name("reg")
    comp.send("<iq type='set' id='%s' from='%s' to='%s'>%s</iq>"
              % (iq_id, user, bridge.gw, register_form_xml(PNID2, token)))
    reply = comp.wait(lambda r: r.kind == "iq" and r.id == iq_id, WAIT,
                      "the answer to the registration")
    assert reply.type == "result", reply.xml
    return user


def _ferry(make_bridge, xmpp_server, **kw):
    domains = "%s %s" % (xmpp_server.domain, xmpp_server.silent_jid)
    return make_bridge(gateway_allowed_domains=domains, **kw)


def _is_ping(r):
    return r.kind == "iq" and r.type == "get" and r.child(NS_PING, "ping") \
        is not None


# --- point 1: roster-push errors from anyone --------------------------------

def test_forged_roster_push_error_reveals_no_contact(bridge, xmpp_server,
                                                     connect_client):
    """An iq error named like a roster push, from a user who is not the
    one the push went to, makes ferry send nothing: before the fix it
    reset the contact of another account and sent the attacker a
    subscription request with the contact's profile name."""
    victim = bridge.client()
    wamid = bridge.inbound_text(X, "a secret friend", name="Secret Name")
    bridge.wait_chat(victim, wamid)
    ids = [r[0] for r in bridge.db("SELECT id FROM contact")]
    assert ids
    attacker = connect_client(xmpp_server)
    before = _forged(bridge) or 0
    # the old ids (roster-push-<contact id>) and one of the new shape
    guesses = ["roster-push-%d" % i for i in range(1, max(ids) + 3)]
    guesses.append("roster-push-1-%s-%s-%s" % (X, "0" * 24, "0" * 16))
    for g in guesses:
        attacker.send_raw("<iq type='error' id='%s' to='%s'><error "
                          "type='cancel'><item-not-found xmlns='urn:ietf:"
                          "params:xml:ns:xmpp-stanzas'/></error></iq>"
                          % (g, bridge.gw))
    time.sleep(1.5)  # what ferry would send comes within a round trip
    leaked = [p for p in attacker.presences.history
              if p.frm and p.frm.endswith("@" + bridge.gw)]
    assert leaked == [], "a contact leaked to the attacker: %s" % leaked
    wait_for(lambda: (_forged(bridge) or 0) >= before + len(guesses), WAIT,
             0.1, "the forged replies counted")
    print("forged roster-push errors: %d sent, %d counted, 0 leaked"
          % (len(guesses), _forged(bridge) - before))


# --- point 3: iq replies matched by id alone, predictable ids ------------------

def test_forged_ping_result_confirms_nothing(make_bridge, xmpp_server,
                                             connect_client, silent):
    """A result to a barrier ping from someone else than the domain it went
    to does not mark the rows delivered; iq ids share no prefix."""
    bridge = _ferry(make_bridge, xmpp_server)
    sam = _silent_user(bridge, silent)
    attacker = connect_client(xmpp_server)
    before = _forged(bridge) or 0
    bridge.inbound_text(X, "for sam", name="Xena", pnid=PNID2)
    bridge.inbound_text(Y, "for sam again", name="Yves", pnid=PNID2)
    wait_for(lambda: len(silent.matching(_is_ping)) >= 2, WAIT, 0.05,
             "two barrier pings to the silent domain")
    pings = silent.matching(_is_ping)
    for p in pings:
        attacker.send_raw("<iq type='result' id='%s' to='%s'/>"
                          % (p.id, bridge.gw))
    time.sleep(1)
    rows = bridge.db("SELECT state FROM inbox WHERE recipient = ?", sam)
    assert rows and all(s == 0 for s, in rows), \
        "rows confirmed by a forged ping result: %s" % rows
    wait_for(lambda: (_forged(bridge) or 0) >= before + len(pings), WAIT,
             0.1, "the forged results counted")
    a, b = pings[0].id, pings[1].id
    common = len(os.path.commonprefix([a, b]))
    assert len(a) >= 16 and common < 8, \
        "iq ids are predictable: %s then %s" % (a, b)
    print("forged ping results: %d ignored, rows kept: %d; ids %s %s"
          % (len(pings), len(rows), a, b))


# --- point 2: one silent domain and everyone else -----------------------------

def test_silent_domain_does_not_stall_others(make_bridge, xmpp_server,
                                             silent):
    """100 messages to a user of a domain that never answers pings, then
    one to a local user: it arrives at once; the silent domain's pings
    time out, its rows are held and sent again later."""
    bridge = _ferry(make_bridge, xmpp_server,
                    env={"FERRY_PING_TIMEOUT_MS": "1500"})
    local = bridge.client()
    _silent_user(bridge, silent)
    t0 = time.monotonic()
    for i in range(100):
        bridge.inbound(X, "to the silent one %d" % i, name="Xena",
                       pnid=PNID2)
    pings = len(silent.matching(_is_ping))
    wamid = bridge.inbound_text(Y, "for the local user", name="Yves")
    t1 = time.monotonic()
    bridge.wait_chat(local, wamid, timeout=10)
    took = time.monotonic() - t1
    wait_for(lambda: (_metric(bridge, "ferry_xmpp_ping_timeouts_total")
                      or 0) >= 1, WAIT, 0.1, "a ping timeout")
    # the rows it covered come again (held, then retried after a backoff)
    first = silent.wait(lambda r: r.kind == "message", WAIT)

    def again():
        return len([r for r in silent.matching() if r.kind == "message"
                    and r.id == first.id]) >= 2
    wait_for(again, WAIT, 0.1, "the silent domain's message sent again")
    # before the first timeout every ping to it is outstanding
    p0 = silent.matching(_is_ping)[0].t
    outstanding = len(silent.matching(lambda r: _is_ping(r)
                                      and r.t < p0 + 1.4))
    assert outstanding <= 8, outstanding
    print("silent domain: 100 messages, %d pings seen while they came in "
          "%.1fs, at most %d outstanding; local message after %.2fs"
          % (pings, t1 - t0, outstanding, took))


# --- point 10: privilege advertisements from elsewhere -----------------------

def test_privilege_from_another_domain_is_ignored(make_bridge, xmpp_server,
                                                  silent):
    """An XEP-0356 advertisement from a domain other than the server's
    grants nothing: new contacts of its users are announced with a
    subscription request, not a roster push."""
    bridge = _ferry(make_bridge, xmpp_server)
    # to a contact JID: Prosody's mod_privilege drops one to the bare
    # domain from an entity it did not grant anything (ferry read both)
    silent.send("<message from='%s' to='%s'><privilege xmlns='urn:xmpp:"
                "privilege:2'><perm access='roster' type='both'/>"
                "<perm access='message' type='outgoing'/></privilege>"
                "</message>" % (silent.jid, bridge.contact_jid(Y)))
    sam = _silent_user(bridge, silent)
    bridge.inbound_text(X, "hello sam", name="Xena", pnid=PNID2)
    cj = bridge.contact_jid(X)
    ann = silent.wait(lambda r: (r.kind == "presence" and r.frm == cj
                                 and r.type == "subscribe")
                      or (r.kind == "iq" and r.type == "set"
                          and r.child(NS_ROSTER, "query") is not None),
                      WAIT, "the new contact's announcement")
    assert ann.kind == "presence", \
        "a roster push to %s on a remote domain's word: %s" % (sam, ann.xml)
    assert bridge.ferry.log_lines(r"ignored a privilege advertisement from "
                                  + re.escape(silent.jid))


# --- point 12 b: held messages and a user who stays online --------------------

def test_held_messages_reach_a_user_who_stays_online(bridge, xmpp_server):
    """A message held for a user (a bounce while offline) reaches that user
    after ferry restarts although the user sends no new presence: ferry
    probes the users with held messages."""
    c = bridge.client()
    wamid = bridge.inbound_text(X, "first", name="Xena")
    bridge.wait_chat(c, wamid)
    bridge.ferry.stop()
    aid = bridge.db("SELECT id FROM account WHERE jid = ?", c.jid)[0][0]
    mid = "held-" + random_name("m")
    stanza = ("<message to='%s' from='%s' type='chat' id='%s'><body>held "
              "for you</body></message>" % (c.jid, bridge.contact_jid(X),
                                            mid))
    con = sqlite3.connect(bridge.ferry.store_path)
    con.execute("INSERT INTO inbox (account_id, recipient, stanza, created,"
                " stanza_id, state, settled, bounces) VALUES (?, ?, ?, ?,"
                " ?, 2, ?, 1)", (aid, c.jid, stanza, int(time.time() * 1000),
                                 mid, int(time.time() * 1000)))
    con.commit()
    con.close()
    bridge.start_ferry()
    m = c.wait_message(lambda s: s.id == mid, WAIT)
    assert m.body == "held for you"
