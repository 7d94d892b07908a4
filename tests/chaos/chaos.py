#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Chaos run with a ledger (issue 6 point 1; DESIGN.md section 4).

Several XMPP users, each registered with its own business number (and
a team's number, and personal accounts through a fake WAHA), write
numbered messages to several WhatsApp contacts each (slixmpp clients,
unique ids, a per-contact sequence number in every body), and the contacts
write back through the fake Cloud API's (or the fake WAHA's) webhooks,
while faults hit at seeded random times: ferry SIGKILLed and restarted,
the XMPP server restarted, the API down (connections dropped), answers
slower than ferry's 15 s timeout, 5xx and 429 answers (130429 as HTTP 400
and as 429), webhooks duplicated, batched and reordered, statuses
replayed; WAHA down, its sendTexts refused or their answers lost, a
session failed or logged out and linked again.  Then a
ledger (chaos_ledger.py) proves, per message, that nothing was lost or
doubled, that order held per contact and that statuses never went
backwards, prints the counts and exits 1 on any violation.

    /usr/bin/python3 tests/chaos/chaos.py --short            # ~1 min/server
    /usr/bin/python3 tests/chaos/chaos.py                    # long form
    /usr/bin/python3 tests/chaos/chaos.py --seed 1234 --servers prosody

The seed is printed first; --seed replays the same plan (messages, batches,
fault kinds and times).  Thread timing is not replayed, so a replay hits
the same faults at the same moments of the plan, not the same instants of
ferry's work.  FERRY_BIN (default: build/werror/ferry, build/dev/ferry,
build/asan/ferry or ferry of the checkout, the first that exists) is the
binary tested.
The XMPP servers come from tests/e2e/harness (offline storage is on in
both, so messages for a user who is away while the server restarts wait
for it; the users reconnect by themselves).  Everything a run makes goes
to --workdir (default: a fresh /tmp/ferry-chaos-*): server and ferry logs,
ferry's store, and ledger-<server>.json with every record and check.
"""

import argparse
import collections
import calendar
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.normpath(os.path.join(HERE, "..", "e2e"))
for p in (HERE, E2E):
    if p not in sys.path:
        sys.path.insert(0, p)

from harness import clients as hclients  # noqa: E402
from harness import ferryproc, servers  # noqa: E402
from harness.network import Bridge  # noqa: E402
from harness.waha import WahaGateway  # noqa: E402
from harness.util import wait_for  # noqa: E402

import chaos_clients  # noqa: E402
import chaos_faults  # noqa: E402
import chaos_inject  # noqa: E402
import chaos_ledger  # noqa: E402

SERVER_BINARIES = {"prosody": "prosody", "ejabberd": "ejabberdctl"}

PRESETS = {
    # ~240 messages each way, a few faults: about a minute per server
    "short": dict(users=3, contacts=3, messages=240, rate=12.0,
                  faults={"kill": 2, "xmpp_restart": 1, "api_down": 1,
                          "slow": 0, "5xx": 2, "429": 3, "away": 1,
                          "waha_down": 1, "waha_5xx": 2, "waha_fail": 1},
                  replays=20, drain=150, team=dict(members=2, contacts=2),
                  waha=dict(users=2, contacts=3)),
    # 3,000 messages each way, every fault kind several times: about 5
    # minutes per server
    "long": dict(users=4, contacts=5, messages=3000, rate=12.0,
                 faults={"kill": 8, "xmpp_restart": 4, "api_down": 4,
                         "slow": 2, "5xx": 7, "429": 6, "away": 4,
                         "waha_down": 3, "waha_5xx": 9, "waha_fail": 2},
                 replays=200, drain=420, team=dict(members=2, contacts=3),
                 waha=dict(users=2, contacts=3)),
}

INBOUND_MIX = {"single": 5, "dup": 2, "batch": 2, "reorder": 1}
# WAHA: message and message.any (always, as ferry subscribes to both),
# with identical extra POSTs, or only one of the two events
WAHA_MIX = {"both": 5, "dup": 2, "message": 1, "any": 1}

FAKE_CONFIG = {
    "status_delay_ms": 20,
    # Meta retries webhooks for days; here 0.25 s, 0.5 s, 1 s ... 8.5 min
    "webhook_backoff": 0.25, "webhook_max_attempts": 12,
    "webhook_timeout": 10,
    # the fake's own limits stay out of the way: 429s are injected
    "mps": 10000, "pair_interval": 0.001, "pair_burst": 100000,
}

# The fake WAHA: WAHA's own webhook retries (ferry asks for 15 attempts 2 s
# apart: 30 s, longer than any kill), quick start-up and acks, the QR
# rotated only when told, a send to a session not WORKING refused (422)
# after 0.2 s.
WAHA_CONFIG = {"starting_seconds": 0.05, "ack_delay_ms": 10,
               "not_working_wait": 0.2, "retry_delay_scale": 1.0,
               "qr_rotate_seconds": 0, "webhook_timeout": 10}


def log(msg):
    print("%s %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


# --- the environment: server, fake API, ferry, users ------------------------------

class Env:
    """One XMPP server, one fake Cloud API, one ferry, the users.

    team: {members, contacts} adds a business number answered by a team
    after the single users: its owner and `members` members are users
    too (team: {owner, members: [index], pnid}), all three with the
    number's contacts; claims are off ([team] autoclaim), so every
    customer message reaches every one of them.

    waha: {users, contacts} adds personal accounts after those, each
    logged in through a fake WAHA (the QR code scanned through its
    control API); pnids[u] is then the user's session name."""

    def __init__(self, server_name, workdir, ferry_bin, rng, users, contacts,
                 ferry_overrides=None, team=None, waha=None):
        self.name = server_name
        self.workdir = workdir
        self.rng = rng
        os.makedirs(workdir, exist_ok=True)
        self.server = servers.make_server(server_name,
                                          os.path.join(workdir, "srv"))
        self.server.start()
        self.ferry_bin = ferry_bin
        self._n_ferry = 0
        overrides = dict(ferry_overrides or {})
        if team:
            overrides.setdefault("team_autoclaim", "off")
        self.waha = None
        if waha:
            self.waha = WahaGateway(self.server, self._start_ferry,
                                    self._connect_client,
                                    waha_config=WAHA_CONFIG, start=False,
                                    fake_config=FAKE_CONFIG, **overrides)
            self.bridge = self.waha.cloud
        else:
            self.bridge = Bridge(self.server, self._start_ferry,
                                 self._connect_client,
                                 fake_config=FAKE_CONFIG, start=False,
                                 **overrides)
        self.waha_ctl = chaos_inject.Control(self.waha.waha_url) \
            if waha else None
        self.waha_users, self.waha_phone = [], {}
        self.ferry = self.bridge.ferry
        self.ferry.start(timeout=30)
        self.ctl = chaos_inject.Control(self.bridge.api_url)
        self.gw = self.server.component_jid
        self.pnids, self.jids, creds = [], [], []
        self.contacts_of = []
        for u in range(users):
            pnid = "10654035%07d" % (u + 1)
            self.bridge.add_account(pnid=pnid, display="1555%07d" % (u + 1))
            c = hclients.connect_client(self.server)
            try:
                self.bridge.register_ok(c, pnid=pnid)
            finally:
                c.disconnect()
            self.pnids.append(pnid)
            self.jids.append(c.jid)
            creds.append((c.user, c.password))
            wa = ["4915%03d%05d" % (u, k) for k in range(contacts)]
            for w in wa:
                self.bridge.open_window(w)
            self.contacts_of.append(wa)
        self.team = self._make_team(team, creds) if team else None
        if waha:
            self._make_waha(waha, creds)
        self.hub = chaos_clients.Hub()
        self.users = chaos_clients.connect_users(self.hub, self.server, creds)

    def _make_team(self, team, creds):
        """The team's business number, its owner (registered) and members
        (added by the owner); they join the users. The team dict."""
        u = len(self.pnids)
        pnid = "10654035%07d" % (u + 1)
        self.bridge.add_account(pnid=pnid, display="1555%07d" % (u + 1))
        people = [hclients.connect_client(self.server)
                  for _ in range(1 + team["members"])]
        try:
            self.bridge.register_ok(people[0], pnid=pnid)
            for m in people[1:]:
                people[0].send_message(self.gw, "team add " + m.jid)
                answer = people[0].wait_message(
                    lambda st: st.frm == self.gw and st.body, timeout=30)
                if "is now a member" not in answer.body:
                    raise RuntimeError("team add %s: %s" % (m.jid,
                                                            answer.body))
        finally:
            for c in people:
                c.disconnect()
        wa = ["4915%03d%05d" % (u, k) for k in range(team["contacts"])]
        for w in wa:
            self.bridge.open_window(w)
        for c in people:
            self.pnids.append(pnid)
            self.jids.append(c.jid)
            creds.append((c.user, c.password))
            self.contacts_of.append(wa)
        return {"owner": u, "members": list(range(u + 1, u + len(people))),
                "pnid": pnid}

    def _make_waha(self, waha, creds):
        """Personal accounts: each user registers with network = waha,
        gets its QR code and has it scanned; they join the users."""
        for _ in range(waha["users"]):
            u = len(self.pnids)
            phone = "1555077%04d" % u
            c = hclients.connect_client(self.server)
            try:
                reply = self.waha.register(c)
                if reply.type != "result":
                    raise RuntimeError("WAHA registration: %s" % reply.xml)
                wait_for(lambda: self.waha.session_of(c), 30, 0.1,
                         "the WAHA account")
                session = self.waha.session_of(c)
                self.waha.wait_qr(c)
                self.waha.scan(session, phone=phone,
                               push_name="Chaos %d" % u)
                self.waha.wait_text(c, "Connected to WhatsApp as")
            finally:
                c.disconnect()
            self.pnids.append(session)
            self.jids.append(c.jid)
            creds.append((c.user, c.password))
            self.contacts_of.append(["4915%03d%05d" % (u, k)
                                     for k in range(waha["contacts"])])
            self.waha_users.append(u)
            self.waha_phone[u] = phone

    def vary_statuses(self):
        """Some contacts' statuses come out of order (read before
        delivered), without delivered, or before the send's HTTP answer."""
        profiles, early, seen = {}, [], set()
        for u, was in enumerate(self.contacts_of):
            if u in self.waha_users:
                continue
            for wa in was:
                if wa in seen:
                    continue        # a team's, seen with its owner
                seen.add(wa)
                r = self.rng.random()
                if r < 0.15:
                    profiles[wa] = "read_before_delivered"
                elif r < 0.3:
                    profiles[wa] = "skip_delivered"
                elif r < 0.45:
                    early.append(wa)
        self.ctl.post("config", {"number_statuses": profiles,
                                 "early_statuses": early})
        # WAHA: some contacts' acks READ before DEVICE, without DEVICE, or
        # each ack twice
        acks = {}
        for u in self.waha_users:
            for wa in self.contacts_of[u]:
                r = self.rng.random()
                if r < 0.15:
                    acks[wa] = "out_of_order"
                elif r < 0.3:
                    acks[wa] = "skip_device"
                elif r < 0.45:
                    acks[wa] = "duplicates"
        if self.waha_ctl:
            # in one run of two, every send's message.any and acks reach
            # ferry before the send's answer
            self.waha_early = self.rng.random() < 0.5 \
                if os.environ.get("FERRY_CHAOS_WAHA_EARLY") is None \
                else os.environ["FERRY_CHAOS_WAHA_EARLY"] == "1"
            self.waha_ctl.post("config", {"number_acks": acks,
                                          "early_events": self.waha_early})
        return profiles, early, acks

    def _start_ferry(self, server, start=True, **overrides):
        self._n_ferry += 1
        f = ferryproc.make_ferry(self.ferry_bin, os.path.join(
            self.workdir, "ferry%d" % self._n_ferry), server, **overrides)
        if start:
            f.start()
        return f

    @staticmethod
    def _connect_client(server, **kw):
        return hclients.connect_client(server, **kw)

    def close(self):
        problems = []
        try:
            chaos_clients.close_users(self.hub, self.users)
            self.hub.stop()
        except Exception as e:
            problems.append("closing users: %s" % e)
        try:
            problems += (self.waha or self.bridge).close()
        except Exception as e:
            problems.append("closing bridge: %s" % e)
        try:
            self.server.stop()
        except Exception as e:
            problems.append("stopping %s: %s" % (self.name, e))
        return problems

    # --- ferry's side, for the ledger -------------------------------------------

    def db_state(self):
        b = self.bridge
        msgs = [dict(zip(("id", "jid", "wa_id", "direction", "stanza_id",
                          "network_id", "status"), r)) for r in b.db(
            "SELECT m.id, a.jid, c.network_id, m.direction, m.stanza_id, "
            "m.network_id, m.status FROM message m JOIN account a ON "
            "a.id = m.account_id JOIN contact c ON c.id = m.contact_id "
            "ORDER BY m.id")]
        outbox = [dict(zip(("id", "kind", "state", "attempts", "last_error",
                            "message_id"), r)) for r in b.db(
            "SELECT id, kind, state, attempts, last_error, message_id "
            "FROM outbox ORDER BY id")]
        inbox = b.db("SELECT count(*) FROM inbox WHERE state <> 1")[0][0]
        return msgs, outbox, inbox


LOG_MSG_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z debug: "
                        r"component: <message type=\S+ from=\S+ id=(\S+)>")


def ferry_seen(log_text):
    """stanza id -> [wall time] of every message stanza ferry read."""
    out = collections.defaultdict(list)
    for line in log_text.splitlines():
        m = LOG_MSG_RE.match(line)
        if m:
            t = calendar.timegm(time.strptime(m.group(1),
                                              "%Y-%m-%dT%H:%M:%S"))
            out[m.group(3)].append(t + int(m.group(2)) / 1000.0)
    return out


class ReplaySource:
    """Picks statuses to replay: a duplicate or late sent/delivered/read
    of something ferry sent, or `failed` for a message already read (it
    must be ignored: failed after delivered never undoes anything); for a
    WAHA send its ack (SERVER, DEVICE, READ, or ERROR when read), as
    {"network": "waha", "session", "wamid", "ack"}."""

    def __init__(self, env, sender, plan):
        self.env = env
        self.sender = sender
        self.by_id = {m["id"]: m for m in plan}
        self.cache = []
        self.since = 0
        self.waha_since = 0
        self.lock = threading.Lock()

    def _refresh(self):
        new = self.env.ctl.get("sent", since=self.since) if self.since \
            else self.env.ctl.get("sent")
        for s in new:
            self.since = max(self.since, s["seq"])
            if chaos_ledger.tag_of((s.get("payload") or {}).get("body")):
                self.cache.append(s)
        for s in waha_sent(self.env, self.waha_since):
            self.waha_since = max(self.waha_since, s["seq"])
            if chaos_ledger.tag_of(s["payload"]["body"]):
                self.cache.append(s)

    @staticmethod
    def _pick(s, status):
        if s.get("network") != "waha":
            return s["wamid"], status
        return {"network": "waha", "session": s["pnid"], "wamid": s["wamid"],
                "ack": {"sent": "SERVER", "delivered": "DEVICE",
                        "read": "READ", "failed": "ERROR"}[status]}

    def __call__(self, rng):
        with self.lock:
            self._refresh()
            if not self.cache:
                return None
            if rng.random() < 0.25:
                read = []
                for u in self.env.users:
                    recs, _ = u.snapshot()
                    read += [r["displayed"] for r in recs if r["displayed"]]
                if read:
                    m = self.by_id.get(rng.choice(read))
                    tag = m and m["key"]
                    w = [s for s in self.cache
                         if chaos_ledger.tag_of(s["payload"].get("body")) ==
                         tag]
                    if w:
                        return self._pick(w[-1], "failed")
            s = rng.choice(self.cache)
            return self._pick(s, rng.choice(["sent", "delivered", "read",
                                             "delivered"]))


# --- one run ------------------------------------------------------------------------

def drain(env, sender, injector, deadline, what, expect_ids=None):
    """Wait until everything in flight has landed, or the deadline.
    expect_ids: only these outgoing messages (sent again) are waited for,
    stored and with their markers; inbound ones are not waited for again."""
    in_wamids = {(r, m["wamid"]) for a in injector.plan for m in a["items"]
                 for r in chaos_ledger.recipients(env.team, m["user"])}
    by_id = {m["id"]: m for m in sender.plan}
    last = None
    while True:
        reasons = []
        try:
            if env.ctl.post("idle", {"timeout": 0}).get("pending"):
                reasons.append("fake busy")
            if env.waha_ctl and not env.waha_ctl.post(
                    "idle", {"timeout": 0}).get("idle"):
                reasons.append("fake WAHA busy")
            msgs, outbox, inbox = env.db_state()
        except Exception as e:
            reasons.append("db/fake: %s" % e)
            msgs, outbox, inbox = [], [1], 1
        if outbox:
            reasons.append("outbox %d" % len(outbox))
        if inbox:
            reasons.append("inbox %d" % inbox)
        if sender.pending_resends():
            reasons.append("bounces to resend %d" % sender.pending_resends())
        got_ids, markers = set(), collections.defaultdict(set)
        for u in env.users:
            recs, _ = u.snapshot()
            for r in recs:
                got_ids.add((u.index, r["id"]))
                for kind in ("received", "displayed"):
                    if r[kind]:
                        markers[r[kind]].add(kind)
        missing_in = len(in_wamids - got_ids) if expect_ids is None else 0
        if missing_in:
            reasons.append("inbound not received %d" % missing_in)
        taken = {r["stanza_id"] for r in msgs if r["direction"] == "o"}
        not_yet = [i for i in expect_ids or () if i not in taken]
        if not_yet:
            reasons.append("sent again, not stored yet %d" % len(not_yet))
        # a stanza written in the last seconds may still be on its way
        now = time.time()
        with sender.lock:
            recent = [k for k, att in sender.attempts.items()
                      if att and now - att[-1][0] < 3.0]
        if recent:
            reasons.append("just written %d" % len(recent))
        no_marks = [i for i in taken if i in by_id and
                    (expect_ids is None or i in expect_ids) and
                    markers.get(i) != {"received", "displayed"}]
        if no_marks:
            reasons.append("receipts/markers missing %d" % len(no_marks))
        if not reasons:
            return True
        if reasons != last:
            log("  %s: waiting: %s" % (what, ", ".join(reasons)))
            last = reasons
        if time.monotonic() > deadline:
            log("  %s: gave up waiting: %s" % (what, ", ".join(reasons)))
            return False
        time.sleep(1.0)


def relogin(env, settle=3.0):
    """Every user logs out and in once more, as a user would the next day:
    whatever the XMPP server kept in offline storage comes now (ejabberd
    can store a message for a user whose session is up but has not sent
    its initial presence yet, after it handed over what it had stored:
    that message waits for the next login)."""
    env.relogin_start = time.time()
    before = {u.index: u.session for u in env.users}
    for u in env.users:
        env.hub.call(u.relogin)
    try:
        wait_for(lambda: all(u.session > before[u.index] and u.online
                             for u in env.users), 60, 0.1,
                 "the users to log in again")
    except TimeoutError as e:
        log("   %s" % e)
    time.sleep(settle)


def waha_sent(env, since=0):
    """The fake WAHA's accepted sendTexts in the fake Cloud API's shape
    (seq, time, wamid, pnid = the session, wa_id, payload.body), with
    "network": "waha" and the key id ferry chose."""
    if not env.waha_ctl:
        return []
    if since:
        return [s for s in waha_sent(env) if s["seq"] > since]
    return [{"seq": s["seq"], "time": s["time"], "wamid": s["id"],
             "pnid": s["session"], "wa_id": s["chat_id"].split("@")[0],
             "payload": {"body": s["body"].get("text")}, "network": "waha",
             "key_id": s["key_id"]}
            for s in env.waha_ctl.get("sent") if s["type"] == "sendText"]


def waha_requests(env):
    """Every sendText request the fake WAHA read: what it answered (None:
    the connection dropped), and handled_status when a fault replaced the
    answer of a send it did."""
    if not env.waha_ctl:
        return []
    return [dict((k, r.get(k)) for k in ("seq", "time", "status",
                                         "handled_status", "json"))
            for r in env.waha_ctl.get("requests",
                                      path_contains="/api/sendText",
                                      method="POST")]


def waha_deliveries(env):
    """The fake WAHA's webhook deliveries of messages (no bodies)."""
    if not env.waha_ctl:
        return []
    return [{"id": d["id"], "event": d["event"], "session": d["session"],
             "payload_id": d["payload_id"], "ok": d["ok"],
             "attempts": [a["status"] for a in d["attempts"]]}
            for d in env.waha_ctl.get("deliveries")
            if d["event"] in ("message", "message.any")]


def collect(env, sender, injector, faults, not_taken, resent):
    users = env.users
    received, events = {}, {}
    for u in users:
        received[u.index], events[u.index] = u.snapshot()
    rc, secs = env.ferry.stop(signal.SIGTERM, timeout=20)
    msgs, outbox, inbox = env.db_state()
    log_text = env.ferry.log_text()
    requests = [dict((k, r.get(k)) for k in ("seq", "time", "method", "path",
                                             "status", "response", "json"))
                for r in env.ctl.get("requests", path_contains="/messages",
                                     method="POST")]
    return {
        "waha_users": env.waha_users,
        "waha_requests": waha_requests(env),
        "waha_deliveries": waha_deliveries(env),
        "server": env.name, "gw": env.gw, "pnids": env.pnids,
        "domain": env.server.domain,
        "relogin_start": getattr(env, "relogin_start", None),
        "jids": env.jids, "contacts_of": env.contacts_of, "team": env.team,
        "out_plan": sender.plan,
        "attempts": dict(sender.attempts), "bounces": dict(sender.bounces),
        "not_taken": not_taken, "resent": resent,
        "in_plan": injector.plan,
        "in_order": {"u%d c%d" % k: v for k, v in injector.order.items()},
        "in_results": injector.results, "in_errors": injector.errors,
        "replays": injector.replays,
        "received": received, "user_events": events,
        "sent": env.ctl.get("sent") + waha_sent(env), "requests": requests,
        "faults": faults.events, "fault_errors": faults.errors,
        "db_messages": msgs, "db_outbox": outbox, "db_inbox": inbox,
        "ferry_seen": ferry_seen(log_text),
        "ferry_exit": rc, "ferry_stop_seconds": secs,
        "sanitizer": env.ferry.sanitizer_reports(),
        "log_errors": [l for l in log_text.splitlines() if " error: " in l],
    }


def run_one(server_name, opts, seed, workdir):
    """One chaos run against one server; returns (failed checks, ledger)."""
    rng = random.Random("%s-%s" % (seed, server_name))
    p = opts
    log("== %s: %d users x %d contacts, %d messages each way at %.0f/s, "
        "faults %s" % (server_name, p["users"], p["contacts"], p["messages"],
                       p["rate"], p["faults"]))
    env = Env(server_name, os.path.join(workdir, server_name),
              opts["ferry_bin"], rng, p["users"], p["contacts"],
              team=p.get("team"), waha=p.get("waha"))
    closed = False
    try:
        log("   ferry pid %s, store %s, log %s" % (
            env.ferry.pid, env.ferry.store_path, env.ferry.log_path))
        profiles, early, acks = env.vary_statuses()
        log("   statuses: %d contact(s) read before delivered, %d without "
            "delivered, %d before the send's answer" % (
                sum(1 for v in profiles.values()
                    if v == "read_before_delivered"),
                sum(1 for v in profiles.values() if v == "skip_delivered"),
                len(early)))
        if env.waha_users:
            log("   WAHA: users %s (sessions %s); acks: %s; events of a send "
                "%s its answer" % (
                    env.waha_users, [env.pnids[u] for u in env.waha_users],
                    ", ".join("%s %d" % (k, list(acks.values()).count(k))
                              for k in sorted(set(acks.values()))) or "all",
                    "before" if env.waha_early else "after"))
        out_plan = chaos_clients.numbered_plan(
            rng, p["messages"], env.users, env.contacts_of, env.gw, "co")
        for m in out_plan:
            m["pnid"] = env.pnids[m["user"]]
        # a team's customers write to its number: under its owner's index
        members = set(env.team["members"]) if env.team else set()
        contacts = [(u, c, wa, env.pnids[u])
                    for u, was in enumerate(env.contacts_of)
                    if u not in members and u not in env.waha_users
                    for c, wa in enumerate(was)]
        waha_contacts = [(u, c, wa, env.pnids[u]) for u in env.waha_users
                         for c, wa in enumerate(env.contacts_of[u])]
        n_waha = round(p["messages"] * len(waha_contacts) /
                       (len(contacts) + len(waha_contacts)))
        if env.team:
            log("   team: number %s, owner user %d, members %s" % (
                env.team["pnid"], env.team["owner"], env.team["members"]))
        in_plan = chaos_inject.inbound_plan(rng, p["messages"] - n_waha,
                                            contacts, INBOUND_MIX)
        if waha_contacts:
            in_plan = chaos_inject.merge_plans(
                rng, in_plan, chaos_inject.waha_plan(
                    rng, n_waha, waha_contacts, WAHA_MIX))
        duration = p["messages"] / p["rate"]
        fault_plan = chaos_faults.schedule(rng, duration, p["faults"])
        log("   fault plan: " + ", ".join("%.1fs %s" % f for f in fault_plan))
        sender = chaos_clients.Sender(env.hub, env.users, out_plan,
                                      p["rate"], random.Random(rng.random()))
        replay = ReplaySource(env, sender, out_plan)
        injector = chaos_inject.Injector(
            env.ctl, in_plan, p["rate"], random.Random(rng.random()),
            status_replays=p["replays"], replay_source=replay,
            waha_ctl=env.waha_ctl)
        faults = chaos_faults.Faults(env, fault_plan,
                                     random.Random(rng.random()))
        t0 = time.monotonic()
        sender.start()
        injector.start()
        faults.start()
        while not (sender.done.is_set() and injector.done.is_set()
                   and faults.done.is_set()):
            time.sleep(1)
            el = time.monotonic() - t0
            if int(el) % 15 == 0:
                log("   %3.0fs: XMPP->WA written %d/%d, WA->XMPP injected "
                    "%d/%d, faults %d/%d" % (
                        el, sender.sent_first, len(out_plan),
                        injector.injected, p["messages"],
                        faults.executed, len(fault_plan)))
            if el > duration * 6 + 300:
                log("   traffic phase overran; going on to the ledger")
                break
        log("   traffic done in %.0fs; draining" % (time.monotonic() - t0))
        drain(env, sender, injector, time.monotonic() + p["drain"], "drain")
        # what ferry never took: explained (in transit) or lost; the
        # client sends all of it again (same id), as a user would
        pre = {"db_messages": env.db_state()[0], "out_plan": out_plan,
               "attempts": dict(sender.attempts),
               "bounces": dict(sender.bounces), "sent": env.ctl.get("sent")
               + waha_sent(env),
               "faults": faults.events, "user_events": {
                   u.index: u.snapshot()[1] for u in env.users},
               "ferry_seen": ferry_seen(env.ferry.log_text())}
        not_taken = chaos_ledger.classify_not_taken(pre)
        resent = sorted(not_taken)
        if resent:
            log("   %d message(s) never reached ferry; sending them again: %s"
                % (len(resent), ", ".join(resent[:10])))
            sender.resend(resent)
            drain(env, sender, injector, time.monotonic() + p["drain"],
                  "drain after resend",
                  expect_ids={m["id"] for m in out_plan
                              if m["key"] in not_taken})
        relogin(env)
        sender.stop()
        data = collect(env, sender, injector, faults, not_taken, resent)
        data["seed"] = seed
        data["elapsed"] = time.monotonic() - t0
        ledger, checks = chaos_ledger.evaluate(data)
        data.pop("_index", None)
        problems = env.close()
        closed = True
        for pr in problems:
            checks.append(chaos_ledger.Check("teardown"))
            checks[-1].fail(pr)
        log("== %s ledger (seed %s, %.0fs):" % (server_name, seed,
                                                data["elapsed"]))
        failed = chaos_ledger.report(ledger, checks, data["faults"],
                                     lambda s: print("   " + s, flush=True))
        data["ledger"] = ledger
        data["checks"] = [{"name": c.name, "ok": c.ok, "problems": c.problems,
                           "notes": c.notes} for c in checks]
        path = os.path.join(workdir, "ledger-%s.json" % server_name)
        with open(path, "w") as f:
            json.dump(data, f, default=str)
        log("   ledger written to %s" % path)
        return failed, ledger
    finally:
        if not closed:
            env.close()


def parse_faults(text, base):
    out = dict(base)
    for part in (text or "").split(","):
        if part.strip():
            k, v = part.split("=")
            if k.strip() not in out:
                raise SystemExit("unknown fault kind %r (known: %s)"
                                 % (k, ", ".join(out)))
            out[k.strip()] = int(v)
    return out


def options(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seed", type=int, default=None,
                    help="replay this seed (default: a random one, printed)")
    ap.add_argument("--short", action="store_const", dest="preset",
                    const="short", help="the short form (CI): ~200 messages"
                    " each way, a few faults")
    ap.add_argument("--servers", default=os.environ.get(
        "FERRY_E2E_SERVERS", "prosody,ejabberd"),
        help="comma-separated: prosody, ejabberd (default both)")
    ap.add_argument("--messages", type=int, help="messages each way")
    ap.add_argument("--users", type=int)
    ap.add_argument("--contacts", type=int, help="contacts per user")
    ap.add_argument("--rate", type=float, help="messages/s each way")
    ap.add_argument("--faults", help="e.g. kill=6,xmpp_restart=3,api_down=3,"
                    "slow=2,5xx=5,429=5,away=2,\nwaha_down=2,waha_5xx=4,"
                    "waha_fail=2")
    ap.add_argument("--waha-users", type=int, help="personal accounts "
                    "through the fake WAHA (0: none)")
    ap.add_argument("--waha-contacts", type=int, help="contacts per "
                    "personal account")
    ap.add_argument("--replays", type=int, help="status replays")
    ap.add_argument("--drain", type=float, help="seconds to wait for the "
                    "last messages")
    ap.add_argument("--workdir", help="default: a fresh /tmp/ferry-chaos-*")
    ap.add_argument("--ferry-bin", default=ferryproc.ferry_bin())
    ap.add_argument("--ledger", metavar="JSON",
                    help="no run: check a recorded run (ledger-*.json) "
                    "again")
    ap.set_defaults(preset="long")
    a = ap.parse_args(argv)
    if a.ledger:
        return {"ledger": a.ledger}
    opts = dict(PRESETS[a.preset])
    for k in ("messages", "users", "contacts", "rate", "replays", "drain"):
        if getattr(a, k) is not None:
            opts[k] = getattr(a, k)
    opts["faults"] = parse_faults(a.faults, opts["faults"])
    if a.waha_users is not None or a.waha_contacts is not None:
        w = dict(opts["waha"])
        if a.waha_users is not None:
            w["users"] = a.waha_users
        if a.waha_contacts is not None:
            w["contacts"] = a.waha_contacts
        opts["waha"] = w if w["users"] > 0 else None
    opts["ferry_bin"] = a.ferry_bin
    opts["servers"] = [s.strip() for s in a.servers.split(",") if s.strip()]
    opts["seed"] = a.seed if a.seed is not None else \
        random.SystemRandom().randrange(1, 10 ** 6)
    opts["workdir"] = a.workdir
    opts["preset"] = a.preset
    return opts


def recheck(path):
    """Run the ledger's checks again on a recorded run."""
    with open(path) as f:
        data = json.load(f)
    for k in ("ledger", "checks", "_index", "_server_check"):
        data.pop(k, None)
    ledger, checks = chaos_ledger.evaluate(data)
    failed = chaos_ledger.report(ledger, checks, data["faults"], print)
    return 1 if failed else 0


def main(argv=None):
    opts = options(argv)
    if "ledger" in opts:
        return recheck(opts["ledger"])
    seed = opts["seed"]
    # ferry's default, store.synchronous = full (the WAL syncer), as in
    # the harness: the SIGKILLs land mid-commit and mid-sync
    # (FERRY_E2E_SYNCHRONOUS=normal runs the documented alternative)
    os.environ.setdefault("FERRY_E2E_SYNCHRONOUS", "full")
    chaos_clients.quiet_slixmpp()
    print("chaos: seed %d (replay with --seed %d)" % (seed, seed), flush=True)
    if not os.access(opts["ferry_bin"], os.X_OK):
        print("chaos: no ferry binary at %s (set FERRY_BIN)"
              % opts["ferry_bin"], file=sys.stderr)
        return 2
    workdir = opts["workdir"] or tempfile.mkdtemp(prefix="ferry-chaos-")
    os.makedirs(workdir, exist_ok=True)
    print("chaos: %s form, ferry %s, work directory %s" % (
        opts["preset"], opts["ferry_bin"], workdir), flush=True)
    total_failed, results = 0, {}
    t0 = time.monotonic()
    for name in opts["servers"]:
        if name not in SERVER_BINARIES:
            print("chaos: unknown server %r" % name, file=sys.stderr)
            return 2
        if not shutil.which(SERVER_BINARIES[name]):
            print("chaos: %s is not installed; skipped" % name, flush=True)
            continue
        try:
            failed, ledger = run_one(name, opts, seed, workdir)
        except Exception:
            traceback.print_exc()
            failed, ledger = 1, {}
            print("chaos: %s: the run itself failed (see above)" % name)
        total_failed += failed
        results[name] = (failed, ledger)
    print("chaos: seed %d, %.0fs" % (seed, time.monotonic() - t0))
    for name, (failed, ledger) in results.items():
        o, i = ledger.get("out", {}), ledger.get("in", {})
        print("chaos: %-8s XMPP->WA sent %d delivered %d duplicates %d lost "
              "%d | WA->XMPP sent %d delivered %d duplicates %d raw/%d by id "
              "lost %d | %s" % (
                  name, o.get("sent", 0), o.get("delivered", 0),
                  o.get("duplicates", 0), o.get("lost", 0), i.get("sent", 0),
                  i.get("delivered", 0), i.get("raw duplicates", 0),
                  i.get("duplicates by id", 0), i.get("lost", 0),
                  "ok" if not failed else "%d check(s) FAILED" % failed))
        if o.get("waha sent") or i.get("waha sent"):
            print("chaos: %-8s of which WAHA: XMPP->WA sent %d delivered %d "
                  "duplicates %d | WA->XMPP sent %d delivered %d raw "
                  "duplicates %d" % (
                      "", o.get("waha sent", 0), o.get("waha delivered", 0),
                      o.get("waha duplicates", 0), i.get("waha sent", 0),
                      i.get("waha delivered", 0),
                      i.get("waha raw duplicates", 0)))
    print("chaos: %s (seed %d)" % ("PASSED" if total_failed == 0 and results
                                   else "FAILED", seed), flush=True)
    return 0 if total_failed == 0 and results else 1


if __name__ == "__main__":
    sys.exit(main())
