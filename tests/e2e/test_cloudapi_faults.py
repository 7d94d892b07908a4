# SPDX-License-Identifier: MIT
"""Cloud API bridge under faults (issue 3, points 4, 6 and 7;
docs/behaviour.md and DESIGN.md section 4): ferry SIGKILLed while messages
flow both ways, the XMPP server gone for 10 s while webhooks arrive, the
API answering 500 and then 429, the pair rate limit of one recipient, and
dropped connections and unusable bodies.  Every test runs against Prosody
and ejabberd; the message counts are printed (see them with -s or -rA)."""

import calendar
import collections
import re
import threading
import time

from harness.network import NS_DELAY, WAIT
from harness.util import wait_for

A, B, C = "4915100000001", "4915100000002", "4915100000003"
X, Y = "4915100000011", "4915100000012"


def _inbound_ids(client, ids):
    """{id: [(arrival time, Stanza)]} of the chat messages with these ids
    in the client's history."""
    got = collections.defaultdict(list)
    for t, st in client._tracker.snapshot():
        if st.kind == "message" and st.id in ids and st.type != "error":
            got[st.id].append((t, st))
    return got


def _track(client):
    from harness.network import Tracker
    client._tracker = Tracker(client)
    return client._tracker


# --- ferry killed -------------------------------------------------------------

def test_sigkill_while_messages_flow_both_ways(make_bridge):
    # every Graph request is answered 150 ms late (after its side effects),
    # so some sends are in flight when ferry dies: their outcome is unknown
    b = make_bridge(fake_config={"slow_ms": 150})
    c = b.client()
    tracker = _track(c)
    for n in (A, B, C):
        b.open_window(n)
    # WhatsApp users write all along (the fake retries what ferry misses)
    inbound = []          # (wamid, body)
    inbound_done = threading.Event()
    problems = []

    def writer():
        try:
            for i in range(40):
                frm = (X, Y)[i % 2]
                body = "in %02d from %s" % (i, frm[-2:])
                r = b.inbound(frm, body, name="Writer %s" % frm[-2:],
                              wait="none")
                inbound.append((r["wamids"][0], body))
                time.sleep(0.06)
        except Exception as e:  # reported by the main thread
            problems.append(e)
        finally:
            inbound_done.set()
    th = threading.Thread(target=writer, daemon=True)
    th.start()
    # the user writes to three contacts
    out = {}              # stanza id -> (contact, body)
    for i in range(10):
        for n in (A, B, C):
            body = "out %02d to %s" % (i, n[-1])
            out[b.send(c, n, body, receipt=True)] = (n, body)

    def committed():
        rows = b.db("SELECT stanza_id FROM message WHERE direction = 'o'")
        return set(out) <= {r[0] for r in rows}
    wait_for(committed, WAIT, 0.05, "ferry to store the 30 messages")
    wait_for(lambda: len(b.sent()) >= 6, WAIT, 0.02, "sends under way")
    wait_for(lambda: len(inbound) >= 12, WAIT, 0.02, "webhooks under way")
    t_kill = time.monotonic()
    b.kill_ferry()
    sent_before = len(b.sent())
    assert inbound_done.wait(30), "the writer thread is stuck"
    assert not problems, problems
    th.join(5)
    # what arrives before this was written by the ferry that died
    t_restart, wall_restart = time.monotonic(), time.time()
    b.start_ferry()

    # every inbound message reaches the client (count by id)
    ids = {w for w, _ in inbound}
    bodies = dict(inbound)

    def all_in():
        return set(_inbound_ids(c, ids)) == ids
    try:
        wait_for(all_in, 60, 0.1, "all inbound messages")
    except TimeoutError:
        missing = sorted(bodies[i] for i in ids - set(_inbound_ids(c, ids)))
        raise AssertionError("inbound messages lost: %s" % missing) from None
    # every outbound message reaches the fake, and gets its receipt
    want = collections.defaultdict(list)
    for n, body in out.values():
        want[n].append(body)
    for n in (A, B, C):
        wait_for(lambda n=n: set(want[n]) <= set(b.sent_bodies(n)), 60,
                 0.1, "every message to %s" % n)
    for mid in out:
        b.wait_receipt(c, mid, timeout=60)
    b.idle()
    b.flush(c)

    # duplicates only where the earlier attempt's outcome was unknown
    got = _inbound_ids(c, ids)
    in_dups = 0
    for wamid, copies in got.items():
        assert all(st.body == bodies[wamid] for _, st in copies), copies
        if len(copies) > 1:
            in_dups += len(copies) - 1
            # a copy is resent only when ferry died before the server's
            # confirmation: the first copy came from the ferry that died
            assert len(copies) == 2 and copies[0][0] < t_restart < \
                copies[1][0], "duplicate of %s not explained by the kill: " \
                "%s" % (bodies[wamid], [t - t_kill for t, _ in copies])
    strays = [st.xml for t, st in tracker.snapshot() if st.kind == "message"
              and st.frm in (b.contact_jid(X), b.contact_jid(Y))
              and st.id not in ids and st.type != "error"]
    assert not strays, strays
    out_dups = 0
    sent = b.sent()
    for n in (A, B, C):
        seq = [s["payload"]["body"] for s in sent if s["wa_id"] == n]
        firsts = list(dict.fromkeys(seq))
        assert firsts == want[n], "order to %s: %s" % (n, seq)
        counts = collections.Counter(seq)
        dups = [body for body, k in counts.items() if k > 1]
        out_dups += sum(counts[d] - 1 for d in dups)
        before = [s["payload"]["body"] for s in sent
                  if s["wa_id"] == n and s["time"] < wall_restart]
        assert len(dups) <= 1 and all(k <= 2 for k in counts.values()), \
            "duplicates to %s: %s" % (n, counts)
        for d in dups:
            # only the request in flight at the kill: the last one sent
            assert before and before[-1] == d, \
                "%r sent twice but was not in flight at the kill (%s)" \
                % (d, before[-3:])
    assert not [m for m in c.messages.pending() if m.type == "error"], \
        [m.xml for m in c.messages.pending() if m.type == "error"]
    print("kill -9: inbound sent=%d delivered=%d dup=%d lost=0; outbound "
          "sent=%d accepted=%d (before the kill %d) dup=%d lost=0"
          % (len(ids), len(got), in_dups, len(out), len(sent), sent_before,
             out_dups))


# --- XMPP server gone -------------------------------------------------------------

def test_xmpp_server_down_while_webhooks_arrive(bridge, xmpp_server,
                                                connect_client):
    c = bridge.client()
    first = bridge.inbound_text(X, "before the outage", name="Xena")
    bridge.wait_chat(c, first)
    user, password = c.user, c.password
    injected = []          # (wamid, body, monotonic, wall)
    c.disconnect()
    # The outage starts once the server has ended the session: a message the
    # server routes to a resource that is closing its stream (no XEP-0198) is
    # the server's and the client's to lose, not the gateway's.
    bridge.ferry.wait_log(r"<presence type=unavailable from=%s/"
                          % re.escape(c.jid), timeout=10)
    try:
        xmpp_server.stop()
        t0 = time.monotonic()
        i = 0
        while True:
            body = "while the server is down %d" % i
            r = bridge.inbound(X, body, name="Xena")
            assert r["delivery"]["status"] == 200, \
                "ferry must take webhooks while XMPP is down: %r" % r
            injected.append((r["wamids"][0], body, time.monotonic(),
                             time.time()))
            i += 1
            if time.monotonic() - t0 >= 10:
                break
            time.sleep(max(0, t0 + i - time.monotonic()))
    finally:
        xmpp_server.start()
    t_up = time.monotonic()
    c2 = connect_client(xmpp_server, user, password)
    ids = [w for w, *_ in injected]
    sessions = [c2]

    def received():
        return [m for s in sessions for m in s.messages.history]
    try:
        wait_for(lambda: {m.id for m in received()} >= set(ids),
                 60, 0.1, "the messages written during the outage")
    except TimeoutError:
        # ferry writes the queue as soon as it is back, so a message can
        # reach the server just as c2's initial presence does. ejabberd
        # then decides "no available resource" and stores it offline, but
        # c2's presence has already emptied the offline spool: the message
        # waits there for the next login (seen once in CI, 1 of 11). That
        # is the server's race, not a loss; a message ferry dropped would
        # not come with the next login either.
        c2.disconnect()
        sessions.append(connect_client(xmpp_server, user, password))
        try:
            wait_for(lambda: {m.id for m in received()} >= set(ids),
                     20, 0.1, "the rest from the offline spool")
        except TimeoutError:
            have = {m.id for m in received()}
            raise AssertionError("lost: %s" % [b for w, b, *_ in injected
                                               if w not in have]) from None
    t_done = time.monotonic()
    bridge.ferry.wait_health("connected", 20)
    got = collections.defaultdict(list)
    for m in received():
        if m.id in ids:
            got[m.id].append(m)
    delayed = 0
    for wamid, body, t_in, wall_in in injected:
        m = got[wamid][0]
        assert m.body == body, m.xml
        assert all(x.body == body for x in got[wamid]), got[wamid]
        ours = [d for d in m.findall("{%s}delay" % NS_DELAY)
                if d.get("from") != xmpp_server.domain]
        if t_up - t_in > 6:
            # written more than 5 s after the webhook came: XEP-0203
            assert ours, "no delay stamp from the gateway on %s" % m.xml
        if ours:
            delayed += 1
            stamp = calendar.timegm(time.strptime(
                ours[0].get("stamp")[:19], "%Y-%m-%dT%H:%M:%S"))
            assert wall_in - 2 <= stamp <= wall_in + 2, \
                "delay stamp %s is not the webhook's arrival (%s)" \
                % (ours[0].get("stamp"), time.strftime(
                    "%H:%M:%S", time.gmtime(wall_in)))
    dups = sum(len(v) - 1 for v in got.values())
    print("server down 10s: webhooks=%d delivered=%d delayed=%d dup=%d "
          "lost=0 (%d sessions); delivered %.1fs after the server returned"
          % (len(ids), len(got), delayed, dups, len(sessions),
             t_done - t_up))


# --- API errors ---------------------------------------------------------------------

def test_api_500_then_429_storm(bridge):
    c = bridge.client()
    for n in (A, B, C):
        bridge.open_window(n)
    bridge.config(transient=131000)           # HTTP 500 on every request
    want = {A: [], B: []}
    for i in range(4):
        for n in (A, B):
            body = "storm %d to %s" % (i, n[-1])
            want[n].append(body)
            bridge.send(c, n, body)
    wait_for(lambda: bridge.message_posts(), WAIT, 0.05, "a first attempt")
    t0 = time.monotonic()
    time.sleep(10)                             # the outage lasts 10 s
    n500 = len(bridge.message_posts())
    bridge.config(transient={"code": 130429, "http": 429})
    # a second wave, written as the 429 storm starts, meets it at once
    for i in range(2):
        body = "wave %d to %s" % (i, C[-2:])
        want.setdefault(C, []).append(body)
        bridge.send(c, C, body)
    # the storm: every request gets 429 until three of them did
    wait_for(lambda: len(bridge.message_posts()) >= n500 + 3, 60, 0.05,
             "three requests during the 429 storm")
    bridge.config(transient=None)
    t_clear = time.monotonic()
    for n in want:
        bridge.wait_sent(len(want[n]), n, timeout=90)
    t_done = time.monotonic()
    bridge.idle()
    for n in want:
        assert bridge.sent_bodies(n) == want[n], \
            "to %s: %s" % (n, bridge.sent_bodies(n))
    posts = bridge.message_posts()
    statuses = collections.Counter(p["status"] for p in posts)
    assert statuses[429] >= 3, statuses
    # retried with backoff, not in a hot loop: two heads in 10 s
    assert 2 <= n500 <= 2 * 8, "requests during 10 s of 500s: %d" % n500
    assert not [m for m in c.messages.pending() if m.type == "error"], \
        "nothing may bounce"
    print("500 for 10s then 429 storm: messages=%d sent=%d in order, "
          "requests=%d (500: %d, 429: %d), all sent %.1fs after the storm "
          "(%.1fs in all)" % (sum(len(v) for v in want.values()),
                              len(bridge.sent()), len(posts),
                              statuses[500], statuses[429],
                              t_done - t_clear, t_done - t0))


def test_pair_limit_delays_only_that_recipient(bridge):
    c = bridge.client()
    for n in (A, B):
        bridge.open_window(n)
    # one message per recipient per minute, no burst
    bridge.config(pair_burst=1, pair_interval=60)
    bridge.send(c, A, "a1")
    bridge.wait_sent(1, A)
    bridge.send(c, A, "a2")

    def refused():
        return [p for p in bridge.message_posts() if p["status"] == 400
                and (p.get("response") or {}).get("error", {}).get("code")
                == 131056]
    first = wait_for(refused, WAIT, 0.02, "131056 for a2")[0]
    t_refused = time.time()
    t_b = time.monotonic()
    bridge.send(c, B, "b1")
    bridge.wait_sent(1, B, timeout=WAIT)
    b_delay = time.monotonic() - t_b
    bridge.config(pair_interval=0.01, pair_burst=45)
    bridge.wait_sent(2, A, timeout=40)
    retry = [p for p in bridge.message_posts() if p["seq"] > first["seq"]
             and p["json"]["to"] == "+" + A][0]
    a_delay = retry["time"] - first["time"]
    assert b_delay < 2.5, "b1 waited %.1fs behind a2's pair limit" % b_delay
    assert a_delay >= 2.5, "a2 retried %.1fs after 131056" % a_delay
    assert bridge.sent_bodies(A) == ["a1", "a2"]
    assert bridge.sent_bodies(B) == ["b1"]
    assert t_refused
    print("pair limit: b1 sent after %.2fs, a2 retried after %.2fs"
          % (b_delay, a_delay))


def test_transient_failures_retried(bridge):
    # a dropped connection (what a timeout looks like, without waiting
    # 15 s), unusable bodies, and every retryable error code: each hits one
    # request, and every message still goes out exactly once
    faults = ["drop", "html502", "truncated", "empty", 1, 2, 131000, 131016,
              131057, {"code": 503, "http": 503}, 4, 80007, 131048]
    numbers = ["49151000001%02d" % i for i in range(len(faults))]
    c = bridge.client()
    bridge.config(window_enforce=False)
    for f in faults:
        bridge.fail(f)
    mids = {}
    for n in numbers:
        mids[bridge.send(c, n, "through %s" % n[-2:], receipt=True)] = n
    for mid, n in mids.items():
        bridge.wait_receipt(c, mid, timeout=60)
        assert bridge.sent_bodies(n) == ["through %s" % n[-2:]], \
            bridge.sent(n)
    posts = bridge.message_posts()
    failed = [p for p in posts if p["status"] != 200]
    assert len(failed) == len(faults), \
        [(p["json"]["to"], p["status"]) for p in posts]
    assert len(posts) == len(numbers) + len(faults), \
        [(p["json"]["to"], p["status"]) for p in posts]
    assert len([p for p in posts if p["status"] is None]) == 1, \
        "the dropped request was not retried"
    assert not [m for m in c.messages.pending() if m.type == "error"], \
        [m.xml for m in c.messages.pending() if m.type == "error"]
    print("transient faults %s: each retried; requests=%d, sent=%d"
          % (faults, len(posts), len(bridge.sent())))
