# SPDX-License-Identifier: MIT
"""Faults for the chaos run, on a seeded timeline.

Kinds (each recorded with wall-clock times for the ledger):
  kill          ferry SIGKILLed, started again after 0-2 s (same store);
                two kills in three come while every Graph answer is 300 or
                800 ms late, so that requests are in flight when it dies;
                one in four is killed again 0.05-0.6 s into its start-up
  xmpp_restart  the XMPP server stopped and started (data kept), at once
                or after 2-6 s down; ferry and the users reconnect by
                themselves
  api_down      every Graph request has its connection dropped for 1.5-4 s
                (the fake's `transient: "drop"`)
  slow          every Graph request answered 16 s late, after its side
                effects, for 0.3-1 s: past ferry's 15 s timeout
  5xx           the next 2-8 sends fail: 131000 (500), 2 (503), 131016
                (500), an HTML 502, an empty 500, a cut-off body; or the
                account in maintenance (131057, 500) for 1-3 s
  429           the next 2-8 sends fail with 130429 as HTTP 400 (the Cloud
                API's way), 130429 as HTTP 429, or 80007 as HTTP 429 with
                Retry-After
  away          a member of the team account logs out for 3-6 s (not a
                disruption: nothing of it may be lost or doubled)
  waha_down     the WAHA server down for 1.5-4 s: every connection to its
                API dropped, its webhooks held until it is back
  waha_5xx      the next 2-6 sendTexts fail: 500 (an engine crash), 502
                (nginx's HTML), 503, 422 (session not WORKING), an empty
                500, a cut-off body, the connection dropped; or, after the
                send was done, a 500 or a dropped connection (ferry cannot
                know it went: a second copy is allowed)
  waha_fail     a personal account's session FAILED (1-2 s later its user
                sends `login` to the gateway) or logged out from the phone
                (WAHA shows a new QR code at once), each once before
                repeats; the phone scans the new QR code (what the user
                wrote meanwhile waits)
Webhook faults (duplicates, batches, reordering, retries while ferry is
down) are part of the inbound plan (chaos_inject.py).
"""

import asyncio
import threading
import time
import traceback

FIVE_XX = [131000, 2, 131016, "html502", "empty", "truncated",
           "maintenance"]
RATE_LIMITS = [{"code": 130429}, {"code": 130429, "http": 429},
               {"code": 80007, "http": 429, "retry_after": 1}]
SLOW_MS = 16000
# refused before the send, or (taken in turn with those) after it was done
WAHA_5XX = [500, "html502", 503, 422, "empty", "truncated", "drop"]
WAHA_5XX_AFTER = [{"status": 500, "after": True},
                  {"kind": "drop", "after": True}]


def schedule(rng, duration, counts):
    """[(offset seconds, kind)] for counts {kind: n}, spread over the
    middle of the run (never in the first or last 8%)."""
    out = []
    for kind, n in counts.items():
        for i in range(n):
            # stratified: one fault of a kind per slice, so they spread out
            lo = 0.08 + 0.84 * i / n
            hi = 0.08 + 0.84 * (i + 1) / n
            out.append((duration * rng.uniform(lo, hi), kind))
    out.sort()
    return out


class Faults:
    """Runs a fault schedule in a thread against an env (chaos.Env).

    events: [{kind, t0, t1, ...}] wall-clock times: t0 when the fault
    began, t1 when it was over (ferry connected again, the server up again,
    the switch turned off).
    """

    def __init__(self, env, plan, rng):
        self.env = env
        self.plan = plan
        self.rng = rng
        self.events = []
        self.errors = []
        self.done = threading.Event()
        self.thread = None
        self.t_start = None
        self.pending_off = []      # [(monotonic due, fn, event)]
        self.executed = 0
        # each variant once before any repeats (in a seeded order)
        self._variants = {}

    def _variant(self, kind, choices):
        left = self._variants.get(kind)
        if not left:
            left = list(range(len(choices)))
            self.rng.shuffle(left)
            self._variants[kind] = left
        return choices[left.pop()]

    def start(self):
        self.t_start = time.monotonic()
        self.thread = threading.Thread(target=self._run, name="chaos-faults",
                                       daemon=True)
        self.thread.start()

    def _switch_offs(self, everything=False):
        """Turn off windowed faults whose time has come (everything: all
        of them, each at its time)."""
        now = time.monotonic()
        keep = []
        for due, fn, ev in sorted(self.pending_off, key=lambda p: p[0]):
            if everything or due <= now:
                if due > now:
                    time.sleep(due - now)
                fn()
                ev["t1"] = time.time()
            else:
                keep.append((due, fn, ev))
        self.pending_off = keep

    def _sleep_until(self, t):
        while True:
            self._switch_offs()
            now = time.monotonic()
            if now >= t:
                return
            nxt = min([t] + [d for d, _, _ in self.pending_off])
            time.sleep(max(0.0, min(nxt - now, 0.2)))

    def _run(self):
        try:
            for offset, kind in self.plan:
                self._sleep_until(self.t_start + offset)
                try:
                    getattr(self, "do_" + kind)()
                except Exception:
                    self.errors.append("%s: %s" % (kind,
                                                   traceback.format_exc()))
                self.executed += 1
            self._switch_offs(everything=True)
        finally:
            self.done.set()

    # --- the faults ------------------------------------------------------------

    def _window(self, ev, seconds, on, off):
        on()
        ev["t0"] = time.time()
        self.events.append(ev)
        self.pending_off.append((time.monotonic() + seconds, off, ev))

    def do_kill(self):
        env = self.env
        ev = {"kind": "kill", "pid": env.ferry.pid}
        slow_on = any(e["kind"] == "slow" for _, _, e in self.pending_off)
        inflight = 0 if slow_on else self.rng.choice([0, 300, 800])
        if inflight:
            # answers a little late (after their side effects), so that
            # some requests are surely in flight when ferry dies: their
            # outcome is unknown to it
            env.ctl.post("config", {"slow_ms": inflight})
            if env.waha_ctl:
                env.waha_ctl.post("config", {"slow_ms": inflight})
            ev["inflight_ms"] = inflight
            time.sleep(self.rng.uniform(0.3, 1.0))
        ev["t0"] = time.time()
        env.bridge.kill_ferry()
        self.events.append(ev)
        if inflight:
            env.ctl.post("config", {"slow_ms": 0})
            if env.waha_ctl:
                env.waha_ctl.post("config", {"slow_ms": 0})
        pause = self.rng.uniform(0, 2)
        ev["down"] = round(pause, 2)
        self._sleep_until(time.monotonic() + pause)
        if self.rng.random() < 0.25:
            # killed again while it starts up: opening the store,
            # connecting, sending again what it had not finished
            env.bridge.start_ferry(wait=None)
            time.sleep(self.rng.uniform(0.05, 0.6))
            ev2 = {"kind": "kill", "pid": env.ferry.pid, "t0": time.time(),
                   "during_startup": True}
            env.bridge.kill_ferry()
            self.events.append(ev2)
            pause2 = self.rng.uniform(0, 0.5)
            ev2["down"] = round(pause2, 2)
            time.sleep(pause2)
            ev["t1"] = time.time()
            env.bridge.start_ferry(wait="connected", timeout=60)
            ev2["t1"] = time.time()
            return
        env.bridge.start_ferry(wait="connected", timeout=60)
        ev["t1"] = time.time()

    def do_xmpp_restart(self):
        env = self.env
        ev = {"kind": "xmpp_restart", "t0": time.time()}
        self.events.append(ev)
        if self.rng.random() < 0.5:
            env.server.restart()
        else:
            # down for a while: webhooks pile up in ferry's inbox
            env.server.stop()
            ev["held_down"] = round(self.rng.uniform(2, 6), 1)
            self._sleep_until(time.monotonic() + ev["held_down"])
            env.server.start()
        ev["t_up"] = time.time()
        env.ferry.wait_health("connected", 60)
        ev["t1"] = time.time()

    def do_away(self):
        env = self.env
        if not env.team:
            return
        user = env.users[self.rng.choice(env.team["members"])]
        seconds = round(self.rng.uniform(3, 6), 1)
        self._window({"kind": "away", "user": user.index,
                      "seconds": seconds}, seconds,
                     lambda: env.hub.call(user.go_away, seconds),
                     lambda: None)

    def do_api_down(self):
        ctl = self.env.ctl
        self._window({"kind": "api_down"}, self.rng.uniform(1.5, 4),
                     lambda: ctl.post("config", {"transient": "drop"}),
                     lambda: ctl.post("config", {"transient": None}))

    def do_slow(self):
        ctl = self.env.ctl
        ev = {"kind": "slow", "slow_ms": SLOW_MS}
        self._window(ev, self.rng.uniform(0.3, 1.0),
                     lambda: ctl.post("config", {"slow_ms": SLOW_MS}),
                     lambda: ctl.post("config", {"slow_ms": 0}))

    def do_5xx(self):
        ctl = self.env.ctl
        err = self._variant("5xx", FIVE_XX)
        if err == "maintenance":
            self._window({"kind": "5xx", "error": "maintenance 131057"},
                         self.rng.uniform(1, 3),
                         lambda: ctl.post("config", {"maintenance": True}),
                         lambda: ctl.post("config", {"maintenance": False}))
            return
        n = self.rng.randint(2, 8)
        ctl.post("fail", {"count": n, "error": err,
                          "path_contains": "/messages", "method": "POST"})
        self.events.append({"kind": "5xx", "t0": time.time(),
                            "t1": time.time(), "error": err, "count": n})

    def do_429(self):
        ctl = self.env.ctl
        err = self._variant("429", RATE_LIMITS)
        n = self.rng.randint(2, 8)
        ctl.post("fail", {"count": n, "error": err,
                          "path_contains": "/messages", "method": "POST"})
        self.events.append({"kind": "429", "t0": time.time(),
                            "t1": time.time(), "error": err, "count": n})

    # --- WAHA -----------------------------------------------------------------

    def do_waha_down(self):
        ctl = self.env.waha_ctl
        if not ctl:
            return
        seconds = self.rng.uniform(1.5, 4)
        self._window({"kind": "waha_down", "seconds": round(seconds, 2)},
                     seconds, lambda: ctl.post("down", {"on": True}),
                     lambda: ctl.post("down", {"on": False}))

    def do_waha_5xx(self):
        ctl = self.env.waha_ctl
        if not ctl:
            return
        after = sum(1 for e in self.events if e["kind"] == "waha_5xx") % 2
        err = self._variant("waha_5xx after", WAHA_5XX_AFTER) if after \
            else self._variant("waha_5xx", WAHA_5XX)
        n = self.rng.randint(2, 6)
        ctl.post("fail", {"count": n, "error": err,
                          "path_contains": "/api/sendText",
                          "method": "POST"})
        self.events.append({"kind": "waha_5xx", "t0": time.time(),
                            "t1": time.time(), "error": err, "count": n})

    def do_waha_fail(self):
        """A session FAILED (its user sends 'login') or logged out from
        the phone; the phone scans the QR code that follows."""
        env = self.env
        if not env.waha_users:
            return
        u = self.rng.choice(env.waha_users)
        user, session = env.users[u], env.pnids[u]
        ctl = env.waha_ctl
        how = self._variant("waha_fail", ["failed", "logged out"])
        ev = {"kind": "waha_fail", "user": u, "session": session, "how": how}
        if how == "failed":
            ctl.post("fail_session", {"session": session})
        else:
            ctl.post("logout", {"session": session, "then": "SCAN_QR_CODE"})
        ev["t0"] = time.time()
        self.events.append(ev)
        self._sleep_until(time.monotonic() + self.rng.uniform(1, 2))
        deadline = time.monotonic() + 60
        asked, n = 0.0, 0
        while time.monotonic() < deadline:
            status = [s["status"] for s in ctl.get("state")["sessions"]
                      if s["name"] == session][0]
            if status == "WORKING":
                ev["t1"] = time.time()
                ev["logins"] = n
                return
            if status == "SCAN_QR_CODE":
                ctl.post("scan", {"session": session,
                                  "phone": env.waha_phone[u],
                                  "push_name": "Chaos %d" % u})
            elif status in ("FAILED", "STOPPED") and \
                    time.monotonic() - asked > 8:
                # the user asks again if ferry did not take it (killed)
                n += 1
                mid = "chaos-login-%d-%d" % (u, n)
                env.hub.run(_say(user, env.gw, "login", mid), 60)
                asked = time.monotonic()
            self._sleep_until(time.monotonic() + 0.1)
        raise RuntimeError("session %s not WORKING again within 60 s"
                           % session)


async def _say(user, to, body, mid):
    """user writes body to `to` as soon as its session is up."""
    while not user.send_chat(to, body, mid, receipt=False, markable=False):
        await asyncio.sleep(0.1)
