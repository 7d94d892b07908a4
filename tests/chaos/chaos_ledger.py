# SPDX-License-Identifier: MIT
"""The ledger of a chaos run: what was sent each way, what arrived, and
the checks of DESIGN.md section 4 (nothing lost, nothing twice; duplicates
only where an earlier attempt's outcome was unknown; order kept per
contact; statuses never backwards).

Everything here works on plain data recorded during the run (see
`collect` in chaos.py for the shape), so the checks can be tested on
made-up runs (test_ledger.py).  Times are wall-clock seconds (time.time(),
the fake's records and ferry's log stamps all use the same clock).

XMPP to WhatsApp, per message (key "co uU cC sS"):
  taken     ferry committed it (a 'message' row with its stanza id)
  at API    the fake accepted a send with its body, to the right number
            from the right business number
  lost      taken (or sent and not explained) but never at the API
  in transit, not taken
            sent by the client but never committed by ferry, and either
            read by a ferry that was SIGKILLed within TRANSIT_GRACE s (XEP-0114
            has no acknowledgements: the stanza died with the process), or
            never read by ferry and written while ferry or the XMPP server
            was going down.  The client sends these again at the end (same
            id); anything else not taken is a loss.
  API duplicates
            a second accepted send of the same message is allowed only if
            the earlier one's outcome was unknown to ferry: it reached the
            fake at most KILL_GRACE s (plus the delay the fake then added
            to its answers) before ferry was SIGKILLed, or while answers
            were slower than ferry's 15 s timeout.
  order     per contact, the order of first acceptance at the API equals
            the order ferry wrote (message row ids), and that equals the
            order the client sent (its last attempt of each message).
  statuses  one XEP-0184 receipt and one XEP-0333 displayed marker per
            message (by the id they refer to; several stanzas with the
            same stanza id are one, resent after a reconnect), the receipt
            first.
WhatsApp to XMPP, per message (key "ci uU cC sS", id = its wamid):
  delivered received by its user, from the contact's JID, with its body
  raw duplicates
            copies with the same stanza id: allowed only after a
            disruption (ferry killed, the XMPP server restarted) that came
            after ferry accepted the message
  duplicates by id
            the same message under two different stanza ids: never
  order     per contact, the order of first arrival equals the order ferry
            accepted the webhooks (the plan order).
  A customer of a team's number (data["team"]: its owner's and members'
  user indexes) writes under the owner's index; each of the above holds
  for every one of them (a member away for a while gets it later, once).
Team copies (data["team"]): what the owner or a member wrote reaches the
  API once (above) and every other person of the team gets one copy
  "<writer's localpart>: <text>" from the contact's JID (copies with the
  same id only after a disruption, never under two ids).
Personal accounts (data["waha_users"]: their user indexes; pnids[u] is the
  session): the fake WAHA's sendTexts are in data["sent"] in the Cloud
  API's shape ("network": "waha", wamid = "true_<chat>_<key>", pnid = the
  session), its sendText requests in data["waha_requests"].  Every check
  above holds for them; a WAHA message's id is its payload id, delivered
  as a `message` and a `message.any` event (and copies of them).  An API
  duplicate is also explained when the earlier copy's request got no
  answer or a 5xx (the send was done, then the answer replaced: ferry
  could not know).
"""

import collections
import re

KILL_GRACE = 1.0         # s: a kill this soon after an answer hides it
TRANSIT_GRACE = 2.0      # s: a stanza written this soon before a disruption
FERRY_TIMEOUT_MS = 15000
TAG_RE = re.compile(r"^(c[io] u\d+ c\d+ s\d+)\b")


def recipients(team, user):
    """The users who get what a contact of user's number writes: the
    owner and the members for a team's number, else the user alone."""
    if team and user == team["owner"]:
        return [team["owner"]] + list(team["members"])
    return [user]


def tag_of(body):
    m = TAG_RE.match(body or "")
    return m.group(1) if m else None


class Check:
    def __init__(self, name, direction=None):
        self.name = name
        self.direction = direction
        self.problems = []
        self.notes = []

    @property
    def ok(self):
        return not self.problems

    def fail(self, text):
        self.problems.append(text)

    def __repr__(self):
        return "<Check %s %s>" % (self.name, "ok" if self.ok else "FAILED")


def disruptions(faults):
    """(start, end) of every ferry kill and XMPP server restart."""
    out = []
    for ev in faults:
        if ev["kind"] in ("kill", "xmpp_restart"):
            out.append((ev["t0"], ev.get("t1") or ev["t0"] + 60))
    return sorted(out)


def kills(faults):
    return sorted(ev["t0"] for ev in faults if ev["kind"] == "kill")


def kill_windows(faults):
    """(from, to) for each kill: a request that reached the fake in this
    window may have been unanswered or its answer unrecorded when ferry
    died.  From: KILL_GRACE plus the delay the fake added to every answer
    at that time, before the SIGKILL; to: when the new ferry started (a
    request sent just before the kill is read by the fake a little after
    it; nothing else can send until the new process is up)."""
    return sorted((ev["t0"] - KILL_GRACE - ev.get("inflight_ms", 0) / 1000.0,
                   ev["t0"] + ev.get("down", 0.0) + 0.05, ev["t0"],
                   ev.get("inflight_ms", 0))
                  for ev in faults if ev["kind"] == "kill")


def from_offline(rec, domain):
    """Whether a received stanza came out of the XMPP server's offline
    storage (an XEP-0203 delay stamped by the server's domain)."""
    return domain in (rec.get("delays") or ())


def slow_windows(faults):
    return [(ev["t0"], ev.get("t1") or ev["t0"] + 60) for ev in faults
            if ev["kind"] == "slow" and ev.get("slow_ms", 0) > FERRY_TIMEOUT_MS]


# --- XMPP to WhatsApp: what ferry took, and what it did not ---------------------

def classify_not_taken(data):
    """For messages the client sent that ferry never committed and that
    never reached the API: {key: (explained?, reason)}."""
    taken = taken_ids(data)
    at_api = api_sends(data)
    out = {}
    kill_times = kills(data["faults"])
    windows = disruptions(data["faults"])
    offline = user_offline_times(data)
    for m in data["out_plan"]:
        key = m["key"]
        att = data["attempts"].get(key, [])
        if not att or m["id"] in taken or key in at_api:
            continue
        nb = len(data["bounces"].get(key, []))
        if nb >= len(att):
            out[key] = (True, "bounced by the XMPP server (%d time(s)), "
                        "not sent again yet" % nb)
            continue
        t_last = att[-1][0]
        seen = data["ferry_seen"].get(m["id"], [])
        if seen:
            t_seen = seen[-1]
            k = [k for k in kill_times
                 if t_seen <= k <= t_seen + TRANSIT_GRACE]
            if k:
                out[key] = (True, "read by ferry %.3f s before it was "
                            "SIGKILLed, not committed" % (k[0] - t_seen))
            else:
                out[key] = (False, "read by ferry at %.3f and never stored "
                            "(no kill within %.1f s)" % (t_seen,
                                                         TRANSIT_GRACE))
            continue
        w = [(a, b) for a, b in windows
             if a - TRANSIT_GRACE <= t_last <= b + TRANSIT_GRACE]
        off = [t for t in offline.get(m["user"], [])
               if t_last - 0.5 <= t <= t_last + TRANSIT_GRACE]
        if w or off:
            out[key] = (True, "written at %.3f while ferry or the XMPP "
                        "server was going down; never reached ferry" % t_last)
        else:
            out[key] = (False, "written at %.3f, never reached ferry, no "
                        "disruption near" % t_last)
    return out


def user_offline_times(data):
    out = collections.defaultdict(list)
    for u, evs in data["user_events"].items():
        for t, kind, _ in evs:
            if kind == "offline":
                out[int(u)].append(t)
    return out


def taken_ids(data):
    """stanza id -> [message row] of the messages ferry committed."""
    out = collections.defaultdict(list)
    for row in data["db_messages"]:
        if row["direction"] == "o" and row["stanza_id"]:
            out[row["stanza_id"]].append(row)
    return out


def api_sends(data):
    """tag -> [accepted send entries], oldest first."""
    out = collections.defaultdict(list)
    for s in sorted(data["sent"], key=lambda s: s["seq"]):
        body = (s.get("payload") or {}).get("body")
        tag = tag_of(body)
        if tag and tag.startswith("co "):
            out[tag].append(s)
    return out


def request_of(data):
    """wamid -> the request record that produced it (WAHA: by the key id
    ferry chose and the chat)."""
    out = {}
    for r in data["requests"]:
        resp = r.get("response")
        if isinstance(resp, dict):
            for m in resp.get("messages") or []:
                out[m.get("id")] = r
    for r in data.get("waha_requests") or ():
        j = r.get("json") or {}
        chat = j.get("chatId") or ""
        if "@" not in chat:
            chat += "@c.us"
        out["true_%s_%s" % (chat, j.get("id"))] = r
    return out


def unknown_answer(r):
    """Whether a send's request got no answer or a 5xx (its outcome
    unknown to ferry)."""
    return r is not None and (r.get("status") is None or
                              r["status"] >= 500)


def waha_users(data):
    return set(data.get("waha_users") or ())


def check_out(data, ledger):
    plan = data["out_plan"]
    at_api = api_sends(data)
    taken = taken_ids(data)
    req = request_of(data)
    pnids = data["pnids"]
    kill_win = kill_windows(data["faults"])
    slows = slow_windows(data["faults"])

    c_lost = Check("XMPP->WhatsApp: nothing lost (each message at the API "
                   "at least once)", "out")
    c_route = Check("XMPP->WhatsApp: right business number, recipient and "
                    "text", "out")
    c_dup = Check("XMPP->WhatsApp: API duplicates only after an unknown "
                  "outcome", "out")
    c_order = Check("XMPP->WhatsApp: order kept per contact", "out")
    c_taken = Check("XMPP->WhatsApp: every message ferry did not take is "
                    "explained (in transit at a kill or restart)", "out")
    c_fail = Check("XMPP->WhatsApp: no message failed, outbox drained", "out")
    counts = collections.Counter()
    counts["sent"] = len(plan)
    counts["attempts"] = sum(len(v) for v in data["attempts"].values())
    counts["bounced"] = sum(1 for m in plan if data["bounces"].get(m["key"]))
    personal = waha_users(data)
    counts["waha sent"] = sum(1 for m in plan if m["user"] in personal)

    for key, (ok, why) in sorted(data.get("not_taken", {}).items()):
        counts["not taken (in transit)"] += 1
        if ok:
            c_taken.notes.append("%s: %s" % (key, why))
        else:
            c_taken.fail("%s: %s" % (key, why))

    for m in plan:
        key = m["key"]
        sends = at_api.get(key, [])
        if not sends:
            rows = taken.get(m["id"])
            c_lost.fail("%s (id %s) never reached the API%s" % (
                key, m["id"], "; ferry stored it: %s" % rows if rows else
                "; ferry has no row for it"))
            continue
        counts["delivered"] += 1
        counts["waha delivered"] += m["user"] in personal
        for s in sends:
            body = s["payload"].get("body")
            if s["pnid"] != pnids[m["user"]] or s["wa_id"] != m["wa_id"] \
                    or body != m["body"]:
                c_route.fail("%s arrived as pnid=%s to=%s body=%r (want "
                             "pnid=%s to=%s body=%r)" % (
                                 key, s["pnid"], s["wa_id"], body,
                                 pnids[m["user"]], m["wa_id"], m["body"]))
        for prev, s in zip(sends, sends[1:]):
            counts["duplicates"] += 1
            counts["waha duplicates"] += m["user"] in personal
            r = req.get(prev["wamid"])
            t = r["time"] if r else prev["time"]
            k = [(kt, ms) for a, b, kt, ms in kill_win if a <= t <= b]
            sl = [w for w in slows if w[0] - 0.2 <= t <= w[1] + 0.2]
            resent = key in data.get("resent", ())
            if k:
                counts["duplicates after a kill"] += 1
                c_dup.notes.append("%s: again after a kill (the first copy "
                                   "reached the API %.3f s %s the SIGKILL; "
                                   "answers %d ms late then)" % (
                                       key, abs(k[0][0] - t),
                                       "before" if t <= k[0][0] else "after",
                                       k[0][1]))
            elif unknown_answer(r):
                counts["duplicates after an unknown answer"] += 1
                c_dup.notes.append("%s: again after the first copy's "
                                   "answer was %s" % (
                                       key, r["status"] or "dropped"))
            elif sl:
                counts["duplicates after a timeout"] += 1
                c_dup.notes.append("%s: again after a timeout (answers %d "
                                   "ms late)" % (key, 16000))
            else:
                c_dup.fail("%s: sent twice (wamids %s at %.3f and %s at "
                           "%.3f) without a kill or timeout in between%s" % (
                               key, prev["wamid"], t, s["wamid"], s["time"],
                               " (the client sent it again at the end)"
                               if resent else ""))
    counts["lost"] = counts["sent"] - counts["delivered"]

    # order per contact
    by_contact = collections.defaultdict(list)
    for m in plan:
        by_contact[(m["user"], m["contact"])].append(m)
    row_order = {}
    for rows in taken.values():
        for row in rows:
            row_order.setdefault(row["stanza_id"], row["id"])
    for (u, c), msgs in sorted(by_contact.items()):
        arrived = [m for m in msgs if at_api.get(m["key"])]
        api = sorted(arrived, key=lambda m: at_api[m["key"]][0]["seq"])
        sent_order = sorted(arrived, key=lambda m: (
            data["attempts"][m["key"]][-1][0]
            if data["attempts"].get(m["key"]) else 0))
        written = sorted([m for m in arrived if m["id"] in row_order],
                         key=lambda m: row_order[m["id"]])
        first_diff(c_order, "u%d c%d: API order vs ferry's write order"
                   % (u, c), [m["key"] for m in written],
                   [m["key"] for m in api if m["id"] in row_order])
        first_diff(c_order, "u%d c%d: ferry's write order vs the client's "
                   "send order" % (u, c),
                   [m["key"] for m in sent_order if m["id"] in row_order],
                   [m["key"] for m in written])

    for row in data["db_messages"]:
        if row["direction"] == "o" and row["status"] == 4:
            c_fail.fail("message row %s (stanza %s) failed" % (
                row["id"], row["stanza_id"]))
    for row in data["db_outbox"]:
        c_fail.fail("outbox row left: %s" % (row,))
    ledger["out"] = dict(counts)
    return [c_lost, c_route, c_dup, c_order, c_taken, c_fail]


def first_diff(check, what, want, got):
    if want == got:
        return
    for i, (a, b) in enumerate(zip(want, got)):
        if a != b:
            check.fail("%s: position %d: expected %s, got %s (expected "
                       "...%s..., got ...%s...)" % (
                           what, i, a, b, want[max(0, i - 2):i + 3],
                           got[max(0, i - 2):i + 3]))
            return
    check.fail("%s: lengths differ (%d vs %d)" % (what, len(want), len(got)))


def check_statuses(data, ledger):
    """Receipts and displayed markers for the messages XMPP->WhatsApp."""
    at_api = api_sends(data)
    c_once = Check("statuses: at most one receipt and one displayed marker "
                   "per message (by id)", "out")
    c_order = Check("statuses: never backwards (displayed never before "
                    "received)", "out")
    c_all = Check("statuses: every message at the API got its receipt and "
                  "displayed marker, and is read in ferry's store", "out")
    c_server = data.setdefault("_server_check", Check(
        "XMPP server artefacts: offline storage delivered after later live "
        "stanzas (reported, not ferry's)"))
    domain = data.get("domain", "example.test")
    windows = disruptions(data["faults"])
    recs = collections.defaultdict(lambda: {"received": [], "displayed": []})
    for u, records in data["received"].items():
        for r in records:
            for kind in ("received", "displayed"):
                if r[kind]:
                    recs[(int(u), r[kind])][kind].append(r)
    counts = collections.Counter()
    status_of = collections.defaultdict(list)
    for row in data["db_messages"]:
        if row["direction"] == "o":
            status_of[row["stanza_id"]].append(row["status"])
    for m in data["out_plan"]:
        got = recs.get((m["user"], m["id"]), {"received": [], "displayed": []})
        firsts = {}
        for kind in ("received", "displayed"):
            lst = got[kind]
            ids = collections.OrderedDict()
            for r in lst:
                ids.setdefault(r["id"], []).append(r)
            counts[kind] += 1 if ids else 0
            if len(ids) > 1:
                c_once.fail("%s: %d different %s stanzas (ids %s)" % (
                    m["key"], len(ids), kind, list(ids)))
            for sid, copies in ids.items():
                if len(copies) > 1:
                    counts["raw duplicate %s" % kind] += len(copies) - 1
                    t_acc = at_api[m["key"]][0]["time"] \
                        if at_api.get(m["key"]) else 0
                    if not any(t_acc - 1 <= a <= copies[-1]["t"]
                               for a, _ in windows):
                        c_once.fail("%s: %s stanza %s arrived %d times "
                                    "without a disruption in between" % (
                                        m["key"], kind, sid, len(copies)))
            if lst:
                firsts[kind] = min(r["t"] for r in lst)
                for r in lst:
                    if r["from"].split("/")[0] != "+%s@%s" % (m["wa_id"],
                                                             data["gw"]):
                        c_once.fail("%s: %s from %s" % (m["key"], kind,
                                                        r["from"]))
        if "displayed" in firsts and ("received" not in firsts or
                                      firsts["displayed"] < firsts["received"]):
            first_r = min(got["received"], key=lambda r: r["t"]) \
                if got["received"] else None
            first_d = min(got["displayed"], key=lambda r: r["t"])
            if first_r is not None and from_offline(first_r, domain) and \
                    not from_offline(first_d, domain):
                counts["server reordered"] += 1
                c_server.notes.append(
                    "%s: the receipt came out of offline storage (%.3f) "
                    "after the displayed marker came live (%.3f)" % (
                        m["key"], first_r["t"], first_d["t"]))
            else:
                c_order.fail("%s: displayed (%.3f) before received (%s)" % (
                    m["key"], firsts["displayed"], firsts.get("received")))
        if at_api.get(m["key"]):
            for kind in ("received", "displayed"):
                if kind not in firsts:
                    c_all.fail("%s: no %s marker" % (m["key"], kind))
            rows = status_of.get(m["id"], [])
            if rows and max(rows) != 3:
                c_all.fail("%s: ferry's message row ends in status %s, not "
                           "read (3)" % (m["key"], rows))
    ledger["statuses"] = dict(counts)
    return [c_once, c_order, c_all]


# --- WhatsApp to XMPP ------------------------------------------------------------

def check_in(data, ledger):
    plan = [m for a in data["in_plan"] for m in a["items"]]
    by_key = {m["key"]: m for m in plan}
    by_wamid = {m["wamid"]: m for m in plan}
    gw = data["gw"]
    windows = disruptions(data["faults"])
    c_lost = Check("WhatsApp->XMPP: nothing lost (each message delivered "
                   "to its user)", "in")
    c_route = Check("WhatsApp->XMPP: right user, contact JID and text",
                    "in")
    c_once = Check("WhatsApp->XMPP: exactly once by id (copies with the "
                   "same id only after a disruption)", "in")
    c_order = Check("WhatsApp->XMPP: order kept per contact", "in")
    c_acc = Check("WhatsApp->XMPP: every webhook accepted (200) in the end",
                  "in")
    c_delay = Check("WhatsApp->XMPP: a message written late carries "
                    "ferry's XEP-0203 delay", "in")
    counts = collections.Counter()
    counts["sent"] = len(plan)
    counts["waha sent"] = sum(1 for m in plan if m.get("network") == "waha")

    accepted_at = {}
    for res in data["in_results"]:
        if not res.get("ok"):
            c_acc.fail("a %s webhook was never accepted: %s" % (
                res["kind"], res.get("error") or res.get("statuses")))
        for w in res.get("wamids") or []:
            accepted_at.setdefault(w, res["t1"])

    team = data.get("team")
    arrivals = collections.defaultdict(list)  # (wamid, user) -> [record]
    tags = collections.defaultdict(set)           # tag -> {stanza id}
    for u, records in data["received"].items():
        for r in records:
            if r["type"] == "error" or r["body"] is None:
                continue
            tag = tag_of(r["body"])
            if tag is None or not tag.startswith("ci "):
                continue
            tags[tag].add(r["id"])
            m = by_wamid.get(r["id"])
            if m is None:
                c_route.fail("user %s got %r with unknown id %s" % (
                    u, r["body"], r["id"]))
                continue
            arrivals[(r["id"], int(u))].append(r)
            want_from = "+%s@%s" % (m["wa_id"], gw)
            if int(u) not in recipients(team, m["user"]) or \
                    r["from"].split("/")[0] != want_from or \
                    r["body"] != m["body"]:
                c_route.fail("%s arrived at user %s from %s as %r (want "
                             "user %d from %s, %r)" % (
                                 m["key"], u, r["from"], r["body"],
                                 m["user"], want_from, m["body"]))
    for m in plan:
        reached = 0
        for user in recipients(team, m["user"]):
            got = arrivals.get((m["wamid"], user), [])
            if not got:
                c_lost.fail("%s (wamid %s) never reached user %d" % (
                    m["key"], m["wamid"], user))
                continue
            reached += 1
            if user != m["user"]:
                counts["delivered to team members"] += 1
            if len(got) > 1:
                counts["raw duplicates"] += len(got) - 1
                if m.get("network") == "waha":
                    counts["waha raw duplicates"] += len(got) - 1
                t_acc = accepted_at.get(m["wamid"], got[0]["t"])
                if not any(t_acc - 1 <= a <= got[-1]["t"]
                           for a, _ in windows):
                    c_once.fail("%s arrived %d times with id %s at user %d "
                                "and no disruption in between" % (
                                    m["key"], len(got), m["wamid"], user))
        if reached == len(recipients(team, m["user"])):
            counts["delivered"] += 1
            counts["waha delivered"] += m.get("network") == "waha"
    # DESIGN.md: a stanza written more than 5 s after its webhook carries
    # ferry's XEP-0203 delay.  One that came live (not out of offline
    # storage) more than 6 s after the webhook was answered was written
    # late by ferry, so it must have one.
    for m in plan:
        t_acc = accepted_at.get(m["wamid"])
        for user in recipients(team, m["user"]):
            got = arrivals.get((m["wamid"], user))
            if not got or t_acc is None:
                continue
            r = got[0]
            if r["t"] - t_acc > 6 and not from_offline(r, data.get(
                    "domain", "example.test")) and gw not in (
                        r.get("delays") or ()):
                c_delay.fail("%s arrived %.1f s after its webhook at user "
                             "%d without ferry's delay stamp" % (
                                 m["key"], r["t"] - t_acc, user))
            elif gw in (r.get("delays") or ()):
                counts["with ferry's delay stamp"] += 1
    for tag, ids in tags.items():
        if len(ids) > 1:
            counts["duplicates by id"] += len(ids) - 1
            c_once.fail("%s arrived under %d different ids: %s" % (
                tag, len(ids), sorted(ids)))
    counts["duplicates by id"] += 0
    counts["lost"] = counts["sent"] - counts["delivered"]

    domain = data.get("domain", "example.test")
    c_server = data.setdefault("_server_check", Check(
        "XMPP server artefacts: offline storage delivered after later live "
        "stanzas (reported, not ferry's)"))
    row_of = {}
    for row in data["db_messages"]:
        if row["direction"] == "i":
            row_of.setdefault(row["stanza_id"], row["id"])
    relogin = data.get("relogin_start")
    for m in plan:
        for user in recipients(team, m["user"]):
            got = arrivals.get((m["wamid"], user))
            if got and relogin and got[0]["t"] >= relogin and \
                    from_offline(got[0], domain):
                counts["delivered at the final login (offline storage)"] \
                    += 1
                c_server.notes.append(
                    "%s (%s) stayed in the server's offline storage until "
                    "user %d's next login" % (m["key"], m["wamid"], user))
    held = set()
    for ck, keys in sorted(data["in_order"].items()):
        stored = [k for k in keys if by_key[k]["wamid"] in row_of]
        first_diff(c_order, "contact %s: ferry's store order vs the order "
                   "it accepted the webhooks" % ck, stored,
                   sorted(stored, key=lambda k: row_of[by_key[k]["wamid"]]))
        owner = by_key[keys[0]]["user"] if keys else None
        for user in recipients(team, owner):
            want = [k for k in keys
                    if arrivals.get((by_key[k]["wamid"], user))]
            pos = {k: first_index(data, by_key[k], user) for k in want}
            first = {k: arrivals[(by_key[k]["wamid"], user)][0]
                     for k in want}
            bad = []
            for i, a in enumerate(want):
                for b in want[i + 1:]:
                    if pos[a] > pos[b]:
                        if from_offline(first[a], domain) and \
                                not from_offline(first[b], domain):
                            counts["server reordered"] += 1
                            held.add((a, user))
                            c_server.notes.append(
                                "%s came out of offline storage (user %d, "
                                "session %d) after %s came live (session "
                                "%d)" % (a, user, first[a]["session"], b,
                                         first[b]["session"]))
                        else:
                            bad.append((a, b))
            for a, b in bad[:20]:
                c_order.fail("contact %s: %s arrived after %s at user %d"
                             % (ck, a, b, user))
    counts["held back by offline storage"] = len(held)
    ledger["in"] = dict(counts)
    return [c_lost, c_route, c_once, c_order, c_acc, c_delay]


def first_index(data, m, user=None):
    """Position of the first arrival of m in the stream of user (default:
    m's own)."""
    idx = data.setdefault("_index", {})
    if not idx:
        for u, records in data["received"].items():
            for i, r in enumerate(records):
                idx.setdefault((int(u), r["id"]), i)
    return idx.get((m["user"] if user is None else user, m["wamid"]),
                   1 << 60)


def check_team(data, ledger):
    """Copies of what the team's people wrote, to the others of the
    team."""
    team = data.get("team")
    if not team:
        return []
    c = Check("team: each write copied once to every other person of the "
              "team, from the contact's JID", "out")
    people = [team["owner"]] + list(team["members"])
    at_api = api_sends(data)
    windows = disruptions(data["faults"])
    copies = collections.defaultdict(list)      # (user, body) -> [record]
    for u, records in data["received"].items():
        for r in records:
            if r["type"] != "error" and r["body"] and int(u) in people:
                copies[(int(u), r["body"])].append(r)
    counts = collections.Counter()
    for m in data["out_plan"]:
        if m["user"] not in people or not at_api.get(m["key"]):
            continue
        counts["writes"] += 1
        name = data["jids"][m["user"]].split("@")[0]
        want_from = "+%s@%s" % (m["wa_id"], data["gw"])
        att = data["attempts"].get(m["key"]) or [(0, 0)]
        for user in people:
            if user == m["user"]:
                continue
            got = copies.get((user, "%s: %s" % (name, m["body"])), [])
            if not got:
                c.fail("%s: no copy at user %d" % (m["key"], user))
                continue
            counts["copies"] += 1
            ids = {r["id"] for r in got}
            froms = {r["from"].split("/")[0] for r in got}
            if froms != {want_from}:
                c.fail("%s: copy at user %d from %s" % (m["key"], user,
                                                         sorted(froms)))
            if len(ids) > 1:
                c.fail("%s: %d copies under different ids at user %d" % (
                    m["key"], len(ids), user))
            elif len(got) > 1:
                counts["raw duplicate copies"] += len(got) - 1
                if not any(att[0][0] - 1 <= a <= got[-1]["t"]
                           for a, _ in windows):
                    c.fail("%s: copy %s arrived %d times at user %d "
                           "without a disruption in between" % (
                               m["key"], got[0]["id"], len(got), user))
    ledger["team"] = dict(counts)
    return [c]


def check_ferry(data, ledger):
    c = Check("ferry: exits 0 on SIGTERM at the end, no sanitizer report, "
              "no failed commit")
    if data.get("ferry_exit") != 0:
        c.fail("ferry exited %s on the final SIGTERM" % data.get("ferry_exit"))
    for line in data.get("sanitizer", [])[:10]:
        c.fail("sanitizer: %s" % line)
    for line in data.get("log_errors", []):
        if "commit failed" in line or "store" in line.lower():
            c.fail("log: %s" % line)
        else:
            c.notes.append("log: %s" % line)
    if data.get("fault_errors"):
        for e in data["fault_errors"]:
            c.fail("fault injection failed: %s" % e)
    return [c]


def traffic(data):
    """What the faults did, as printable lines."""
    lines = []
    api = collections.Counter()
    slows = slow_windows(data["faults"])
    for r in data["requests"]:
        resp = r.get("response")
        code = resp.get("error", {}).get("code") \
            if isinstance(resp, dict) and isinstance(resp.get("error"),
                                                      dict) else None
        if r.get("status") is None:
            api["dropped"] += 1
        elif r["status"] == 200:
            api["200"] += 1
            if any(a - 0.2 <= r["time"] <= b + 0.2 for a, b in slows):
                api["200 in a slow window (+-0.2 s)"] += 1
        elif code is not None:
            api["%s/%s" % (r["status"], code)] += 1
        else:
            api["%s (no JSON error)" % r["status"]] += 1
    lines.append("API answers to sends: " + ", ".join(
        "%s %d" % kv for kv in sorted(api.items())))
    wh = collections.Counter()
    for a in data["in_plan"]:
        wh[a["kind"]] += 1
    first_fail = sum(1 for r in data["in_results"]
                     for st in (r.get("statuses") or []) if st != 200)
    copies = sum(len(r.get("ids") or []) for r in data["in_results"])
    if data.get("waha_users"):
        lines += waha_traffic(data)
    rp = collections.Counter(r["status"] for r in data.get("replays", []))
    lines.append("webhooks: %s; %d POSTs incl. duplicate copies, %d first "
                 "attempts not answered 200 (retried); status replays %s" % (
                     ", ".join("%s %d" % kv for kv in sorted(wh.items())),
                     copies, first_fail,
                     ", ".join("%s %d" % kv for kv in sorted(rp.items()))
                     or "none"))
    return lines


def waha_traffic(data):
    """What the WAHA faults did, as printable lines."""
    ans = collections.Counter()
    for r in data.get("waha_requests") or ():
        st = r.get("status")
        what = "dropped" if st is None else str(st)
        if r.get("handled_status"):
            what += " after the send"
        ans[what] += 1
    ev = collections.Counter()
    retried = 0
    for d in data.get("waha_deliveries") or ():
        if not (d.get("payload_id") or "").startswith("false_"):
            continue                # the echo of a send
        ev[d["event"]] += 1
        retried += bool(d["attempts"]) and not (
            d["attempts"][0] and 200 <= d["attempts"][0] < 300)
    return ["WAHA sendText answers: " + (", ".join(
        "%s %d" % kv for kv in sorted(ans.items())) or "none"),
        "WAHA webhooks of contacts' messages: %s; %d first attempts not answered "
        "2xx (retried)" % (", ".join("%s %d" % kv for kv in
                                     sorted(ev.items())) or "none", retried)]


def evaluate(data):
    """All checks; returns (ledger counts, [Check])."""
    ledger = {}
    checks = []
    checks += check_out(data, ledger)
    checks += check_statuses(data, ledger)
    checks += check_in(data, ledger)
    checks += check_team(data, ledger)
    checks += check_ferry(data, ledger)
    checks.append(data.pop("_server_check"))
    ledger["traffic"] = traffic(data)
    return ledger, checks


def report(ledger, checks, faults, out, max_lines=15):
    """Print the counts and the checks; returns the number failed."""
    o, i, st = ledger.get("out", {}), ledger.get("in", {}), \
        ledger.get("statuses", {})
    out("XMPP->WhatsApp: sent %d, delivered %d, duplicates %d (%d after a "
        "kill, %d after a timeout, %d after an unknown answer), lost %d" % (
            o.get("sent", 0), o.get("delivered", 0), o.get("duplicates", 0),
            o.get("duplicates after a kill", 0),
            o.get("duplicates after a timeout", 0),
            o.get("duplicates after an unknown answer", 0),
            o.get("lost", 0)))
    out("    attempts %d, bounced by the server %d, in transit at a kill or "
        "restart (sent again) %d" % (o.get("attempts", 0),
                                      o.get("bounced", 0),
                                      o.get("not taken (in transit)", 0)))
    out("    receipts %d, displayed %d, raw duplicate receipts %d, raw "
        "duplicate displayed %d" % (
            st.get("received", 0), st.get("displayed", 0),
            st.get("raw duplicate received", 0),
            st.get("raw duplicate displayed", 0)))
    out("WhatsApp->XMPP: sent %d, delivered %d, duplicates %d raw / %d by "
        "id, lost %d" % (i.get("sent", 0), i.get("delivered", 0),
                         i.get("raw duplicates", 0),
                         i.get("duplicates by id", 0), i.get("lost", 0)))
    if o.get("waha sent") or i.get("waha sent"):
        out("WAHA (personal accounts): XMPP->WhatsApp sent %d, delivered %d, "
            "duplicates %d; WhatsApp->XMPP sent %d, delivered %d, raw "
            "duplicates %d" % (o.get("waha sent", 0),
                               o.get("waha delivered", 0),
                               o.get("waha duplicates", 0),
                               i.get("waha sent", 0),
                               i.get("waha delivered", 0),
                               i.get("waha raw duplicates", 0)))
    if ledger.get("team") is not None:
        t = ledger["team"]
        out("team: customer messages delivered to members %d; writes of the "
            "team %d, copies to the others %d (raw duplicates %d)" % (
                i.get("delivered to team members", 0), t.get("writes", 0),
                t.get("copies", 0), t.get("raw duplicate copies", 0)))
    late = i.get("delivered at the final login (offline storage)", 0)
    held = i.get("held back by offline storage", 0)
    if late or held or st.get("server reordered"):
        out("    XMPP server (not ferry): %d message(s) held back in offline "
            "storage behind later live ones (%d until the final login), %d "
            "receipt(s) behind their displayed marker" % (
                held, late, st.get("server reordered", 0)))
    kinds = collections.Counter(ev["kind"] for ev in faults)
    out("faults: " + ", ".join("%s %d" % kv for kv in sorted(kinds.items())))
    for line in ledger.get("traffic", []):
        out("    " + line)
    failed = 0
    for c in checks:
        out("  [%s] %s" % ("ok" if c.ok else "FAILED", c.name))
        for n in c.notes[:3]:
            out("         note: %s" % n)
        if len(c.notes) > 3:
            out("         note: ... %d more" % (len(c.notes) - 3))
        for p in c.problems[:max_lines]:
            out("         - %s" % p)
        if len(c.problems) > max_lines:
            out("         - ... %d more" % (len(c.problems) - max_lines))
        failed += not c.ok
    out("%d passed, %d failed" % (len(checks) - failed, failed))
    return failed
