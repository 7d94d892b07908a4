# SPDX-License-Identifier: MIT
"""WhatsApp to XMPP traffic for the chaos run: numbered messages injected
through the fake Cloud API's webhooks, one at a time, duplicated, batched
(several users and contacts in one POST, in each layout) and reordered
(the later message of a contact delivered first), plus replays of the
statuses of messages ferry sent (duplicate and late statuses).  Contacts
of personal (WAHA) accounts write through the fake WAHA instead: each
message is a `message` and a `message.any` event with the same payload id
(the overlap ferry deduplicates), sometimes with 1-3 identical extra
POSTs of each, sometimes only one of the two events.

Per contact the webhooks are strictly sequential: the next POST about a
contact starts only when the previous one was answered 200 (the fake's
wait="final" follows its retries), so the order in which ferry accepted a
contact's messages is known: it is the plan order.
"""

import collections
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor


class Control:
    """A urllib client for the fake's /_control/ API, with long timeouts
    (wait="final" follows webhook retries for minutes if it must)."""

    def __init__(self, base_url, timeout=900):
        self.base = base_url.rstrip("/")
        self.timeout = timeout

    def request(self, verb, path, body=None, **query):
        url = "%s/_control/%s" % (self.base, path)
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=verb,
                                     headers={"Content-Type":
                                              "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError("fake %s %s: HTTP %s %s" % (
                verb, path, e.code, e.read()[:300])) from None

    def get(self, path, **query):
        return self.request("GET", path, **query)

    def post(self, path, body):
        return self.request("POST", path, body)



def wamid_for(rng, prefix):
    """A wamid-like id, unique, XML-safe."""
    return "wamid.HBgN%s%016X" % (prefix, rng.getrandbits(64))


def inbound_plan(rng, n, contacts, mix):
    """A list of webhook actions carrying n messages.

    contacts: [(user index, contact index, wa_id, pnid)].
    mix: weights {"single", "dup", "batch", "reorder"}.
    An action: {"kind", "items": [message], "layout", "duplicate"}; a
    message: {"key", "user", "contact", "wa_id", "pnid", "seq", "wamid",
    "body", "name", "ts"}.  "reorder" is two POSTs for one contact, the
    later message first.
    """
    seq = collections.Counter()
    made = 0
    actions = []
    kinds = list(mix)
    weights = [mix[k] for k in kinds]

    def message(ci):
        u, c, wa, pnid = contacts[ci]
        seq[(u, c)] += 1
        s = seq[(u, c)]
        key = "ci u%d c%d s%d" % (u, c, s)
        return {"key": key, "user": u, "contact": c, "wa_id": wa,
                "pnid": pnid, "seq": s, "wamid": wamid_for(rng, "%d%d" % (
                    u, c)), "body": "%s %s" % (key, rng.choice(BODIES)),
                "name": "Contact %d.%d" % (u, c)}

    while made < n:
        kind = rng.choices(kinds, weights)[0]
        left = n - made
        if kind == "batch" and left >= 2:
            k = min(left, rng.randint(2, 8))
            items = [message(rng.randrange(len(contacts))) for _ in range(k)]
            actions.append({"kind": "batch", "items": items,
                            "layout": rng.choice(["grouped", "changes",
                                                  "entries"])})
        elif kind == "reorder" and left >= 2:
            ci = rng.randrange(len(contacts))
            first, second = message(ci), message(ci)
            now = int(time.time())
            first["ts"], second["ts"] = now - 2, now - 1
            actions.append({"kind": "reorder", "items": [second, first]})
        elif kind == "dup":
            actions.append({"kind": "dup", "items": [message(
                rng.randrange(len(contacts)))],
                "duplicate": rng.randint(1, 3)})
        else:
            actions.append({"kind": "single", "items": [message(
                rng.randrange(len(contacts)))]})
        made += len(actions[-1]["items"])
    return actions


def waha_plan(rng, n, contacts, mix):
    """A list of WAHA webhook actions carrying n messages.

    contacts: [(user index, contact index, phone, session)].
    mix: weights {"both", "dup", "message", "any"}: the `message` and
    `message.any` overlap, the overlap with 1-3 identical extra POSTs of
    each event, or only one of the two events.  A message is as in
    inbound_plan, with "network": "waha", its "session", its bare key id
    and as "wamid" the payload id ferry uses as the stanza id."""
    seq = collections.Counter()
    actions = []
    kinds = list(mix)
    weights = [mix[k] for k in kinds]
    for _ in range(n):
        u, c, phone, session = contacts[rng.randrange(len(contacts))]
        seq[(u, c)] += 1
        s = seq[(u, c)]
        key = "ci u%d c%d s%d" % (u, c, s)
        kid = "3EB0%020X" % rng.getrandbits(80)
        m = {"key": key, "user": u, "contact": c, "wa_id": phone,
             "pnid": session, "session": session, "seq": s,
             "network": "waha", "key_id": kid,
             "wamid": "false_%s@c.us_%s" % (phone, kid),
             "body": "%s %s" % (key, rng.choice(BODIES)),
             "name": "Contact %d.%d" % (u, c)}
        kind = rng.choices(kinds, weights)[0]
        a = {"kind": "waha " + kind, "network": "waha", "items": [m],
             "overlap": "both" if kind in ("both", "dup") else kind}
        if kind == "dup":
            a["duplicate"] = rng.randint(1, 3)
        actions.append(a)
    return actions


def merge_plans(rng, a, b):
    """The actions of a and b interleaved at random, each in its order."""
    out, i, j = [], 0, 0
    while i < len(a) or j < len(b):
        if j >= len(b) or (i < len(a) and rng.random() <
                           (len(a) - i) / (len(a) - i + len(b) - j)):
            out.append(a[i])
            i += 1
        else:
            out.append(b[j])
            j += 1
    return out


BODIES = ["hi", "where are you?", "👋 olá", "ça va ?", "a < b && c > d",
          "price: 5€", "tab\there", "two\nlines", "ok", "‮RTL‬ text"]


def spec_of(m):
    spec = {"pnid": m["pnid"], "from": m["wa_id"], "name": m["name"],
            "type": "text", "text": m["body"], "id": m["wamid"]}
    if m.get("ts"):
        spec["timestamp"] = m["ts"]
    return spec


class Injector:
    """Runs an inbound plan against the fake: per-contact sequential,
    up to `workers` webhooks at once, about `rate` messages per second.

    order[(user, contact)]: the keys in the order ferry accepted them.
    results: one dict per POST {action, t0, t1, ok, statuses, ids}.
    """

    def __init__(self, ctl, plan, rate, rng, workers=6, status_replays=0,
                 replay_source=None, waha_ctl=None):
        self.ctl = ctl
        self.waha_ctl = waha_ctl
        self.plan = plan
        self.rate = rate
        self.rng = rng
        self.workers = workers
        self.order = collections.defaultdict(list)
        self.results = []
        self.errors = []
        self.replays = []
        self.status_replays = status_replays
        self.replay_source = replay_source
        self.locks = collections.defaultdict(threading.Lock)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.injected = 0
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self._dispatch,
                                       name="chaos-inject", daemon=True)
        self.thread.start()

    def _post(self, action, body):
        t0 = time.time()
        try:
            r = self.ctl.post("inbound", body)
            d = r["delivery"]
            res = {"kind": action["kind"], "t0": t0, "t1": time.time(),
                   "ok": d.get("ok"), "statuses": d.get("statuses"),
                   "ids": d.get("ids"), "wamids": r.get("wamids")}
        except Exception as e:       # the ledger reports it
            res = {"kind": action["kind"], "t0": t0, "t1": time.time(),
                   "ok": False, "error": str(e), "ids": [], "wamids": []}
            with self.lock:
                self.errors.append(str(e))
        with self.lock:
            self.results.append(res)
        return res

    def _post_waha(self, action):
        """A WAHA message (its events and their copies), answered when
        every delivery is final; ok when each was answered 2xx."""
        m = action["items"][0]
        t0 = time.time()
        spec = {"session": m["session"], "from": m["wa_id"],
                "name": m["name"], "text": m["body"], "id": m["key_id"],
                "overlap": action["overlap"], "wait": "final",
                "duplicate": action.get("duplicate", 0)}
        try:
            r = self.waha_ctl.post("inbound", spec)
            ds = self.waha_ctl.get("deliveries", payload_id=r["id"])
            res = {"kind": action["kind"], "t0": t0, "t1": time.time(),
                   "ok": bool(ds) and all(d["ok"] for d in ds),
                   "statuses": [d["attempts"][0]["status"] if d["attempts"]
                                else None for d in ds],
                   "ids": [d["id"] for d in ds], "wamids": [r["id"]],
                   "events": sorted({d["event"] for d in ds})}
            if r["id"] != m["wamid"]:
                res["ok"] = False
                res["error"] = "payload id %s, planned %s" % (r["id"],
                                                             m["wamid"])
        except Exception as e:       # the ledger reports it
            res = {"kind": action["kind"], "t0": t0, "t1": time.time(),
                   "ok": False, "error": str(e), "ids": [], "wamids": []}
            with self.lock:
                self.errors.append(str(e))
        with self.lock:
            self.results.append(res)
        return res

    def _run_action(self, action, held):
        try:
            items = action["items"]
            if action.get("network") == "waha":
                self._post_waha(action)
            elif action["kind"] == "batch":
                self._post(action, {"batch": [spec_of(m) for m in items],
                                    "layout": action["layout"],
                                    "wait": "final"})
            elif action["kind"] == "reorder":
                for m in items:
                    self._post(action, dict(spec_of(m), wait="final"))
            elif action["kind"] == "dup":
                self._post(action, dict(spec_of(items[0]), wait="final",
                                        duplicate=action["duplicate"]))
            else:
                self._post(action, dict(spec_of(items[0]), wait="final"))
        finally:
            for lk in held:
                lk.release()

    def _replay(self):
        """A duplicate or late status for something ferry sent."""
        pick = self.replay_source(self.rng) if self.replay_source else None
        if pick is None:
            return
        if isinstance(pick, dict):          # a WAHA ack
            wamid, status = pick["wamid"], "waha " + pick["ack"]
            ctl, path = self.waha_ctl, "ack"
            body = {"session": pick["session"], "id": wamid,
                    "ack": pick["ack"], "wait": "final"}
        else:
            wamid, status = pick
            ctl, path = self.ctl, "status"
            body = {"wamid": wamid, "status": status, "wait": "final"}
            if status == "failed":
                body["error"] = 131026
        body["duplicate"] = self.rng.choice([0, 0, 1])
        t0 = time.time()
        try:
            r = ctl.post(path, body)
            ok = r["delivery"].get("ok") if path == "status" else \
                bool(r.get("ids"))
        except Exception as e:
            ok = False
            with self.lock:
                self.errors.append("status replay: %s" % e)
        with self.lock:
            self.replays.append({"t0": t0, "wamid": wamid, "status": status,
                                 "ok": ok})

    def _dispatch(self):
        pool = ThreadPoolExecutor(self.workers,
                                  thread_name_prefix="chaos-webhook")
        gap = 1.0 / self.rate if self.rate > 0 else 0
        replay_every = (len(self.plan) // self.status_replays
                        if self.status_replays else 0)
        next_t = time.monotonic()
        try:
            for i, action in enumerate(self.plan):
                keys = sorted({(m["user"], m["contact"])
                               for m in action["items"]})
                held = []
                for k in keys:
                    self.locks[k].acquire()
                    held.append(self.locks[k])
                with self.lock:
                    for m in action["items"]:
                        self.order[(m["user"], m["contact"])].append(
                            m["key"])
                pool.submit(self._run_action, action, held)
                self.injected += len(action["items"])
                if replay_every and i % replay_every == replay_every - 1:
                    pool.submit(self._replay)
                next_t += gap * len(action["items"]) * \
                    self.rng.uniform(0.5, 1.5)
                delay = next_t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    next_t = time.monotonic()
        finally:
            pool.shutdown(wait=True)
            self.done.set()
