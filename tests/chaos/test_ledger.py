# SPDX-License-Identifier: MIT
"""The ledger's checks on made-up runs: a clean run passes, and each kind
of loss, duplicate, reordering or status going backwards is caught.  No
server, no ferry: milliseconds."""

import copy
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import chaos_ledger as L  # noqa: E402

GW = "gw.example.test"
PNID = "106540350000001"
WA = "491500000000"
CJ = "+%s@%s" % (WA, GW)
T0 = 1000.0


def out_msg(s):
    key = "co u0 c0 s%d" % s
    return {"key": key, "user": 0, "contact": 0, "wa_id": WA, "pnid": PNID,
            "seq": s, "id": "co-0-0-%d" % s, "body": key + " hi",
            "contact_jid": CJ}


def in_msg(s):
    key = "ci u0 c0 s%d" % s
    return {"key": key, "user": 0, "contact": 0, "wa_id": WA, "pnid": PNID,
            "seq": s, "wamid": "wamid.%d" % s, "body": key + " yo",
            "name": "C"}


def rec(t, **kw):
    r = {"t": t, "user": 0, "session": 1, "id": None, "from": CJ + "/x",
         "type": "chat", "body": None, "received": None, "displayed": None,
         "error": None, "delays": []}
    r.update(kw)
    return r


def clean_run(n=3):
    """n messages each way, everything delivered once, in order."""
    outs = [out_msg(s) for s in range(1, n + 1)]
    ins = [in_msg(s) for s in range(1, n + 1)]
    d = {"gw": GW, "pnids": [PNID], "out_plan": outs, "attempts": {},
         "bounces": {}, "not_taken": {}, "resent": [], "sent": [],
         "requests": [], "faults": [], "db_messages": [], "db_outbox": [],
         "db_inbox": 0, "ferry_seen": {}, "user_events": {0: []},
         "in_plan": [{"kind": "single", "items": [m]} for m in ins],
         "in_order": {"u0 c0": [m["key"] for m in ins]}, "in_results": [],
         "received": {0: []}, "ferry_exit": 0, "sanitizer": [],
         "log_errors": [], "fault_errors": []}
    t = T0
    for i, m in enumerate(outs):
        t += 1
        d["attempts"][m["key"]] = [(t, 1)]
        d["db_messages"].append({"id": i + 1, "direction": "o",
                                 "stanza_id": m["id"], "status": 3})
        w = "wamid.out%d" % i
        d["sent"].append({"seq": 10 + i, "wamid": w, "pnid": PNID,
                          "wa_id": WA, "payload": {"body": m["body"]},
                          "time": t + 0.1})
        d["requests"].append({"seq": 10 + i, "time": t + 0.1, "status": 200,
                              "response": {"messages": [{"id": w}]}})
        d["received"][0] += [rec(t + 0.2, id="r%d" % i, received=m["id"]),
                             rec(t + 0.3, id="d%d" % i, displayed=m["id"])]
    for i, m in enumerate(ins):
        t += 1
        d["db_messages"].append({"id": 100 + i, "direction": "i",
                                 "stanza_id": m["wamid"], "status": 2})
        d["in_results"].append({"kind": "single", "t0": t, "t1": t,
                                "ok": True, "statuses": [200], "ids": [1],
                                "wamids": [m["wamid"]]})
        d["received"][0].append(rec(t + 0.1, id=m["wamid"], body=m["body"]))
    return d


def failed(d):
    _, checks = L.evaluate(d)
    return [c.name for c in checks if not c.ok]


def test_clean_run_passes():
    d = clean_run()
    ledger, checks = L.evaluate(d)
    assert [c.name for c in checks if not c.ok] == []
    assert ledger["out"]["sent"] == ledger["out"]["delivered"] == 3
    assert ledger["out"]["lost"] == 0
    assert ledger["in"]["delivered"] == 3 and ledger["in"]["lost"] == 0


def test_outbound_loss():
    d = clean_run()
    d["sent"].pop(1)
    assert any("nothing lost" in n and "XMPP->" in n for n in failed(d))


def test_outbound_wrong_recipient():
    d = clean_run()
    d["sent"][0]["wa_id"] = "491599999999"
    assert any("right business number" in n for n in failed(d))


def test_unexplained_api_duplicate():
    d = clean_run()
    dup = dict(d["sent"][0], seq=99, wamid="wamid.again", time=T0 + 50)
    d["sent"].append(dup)
    assert any("duplicates only" in n for n in failed(d))


def test_api_duplicate_after_kill_or_timeout_is_allowed():
    for fault in ({"kind": "kill", "t0": T0 + 1.5, "t1": T0 + 2},
                  {"kind": "slow", "slow_ms": 16000, "t0": T0 + 0.9,
                   "t1": T0 + 1.2}):
        d = clean_run()
        d["faults"] = [fault]
        d["sent"].append(dict(d["sent"][0], seq=99, wamid="wamid.again",
                              time=T0 + 50))
        ledger, checks = L.evaluate(d)
        bad = [c.name for c in checks if not c.ok]
        assert not [n for n in bad if "duplicates only" in n], fault
        assert ledger["out"]["duplicates"] == 1


def test_kill_long_after_the_answer_does_not_excuse_a_duplicate():
    d = clean_run()
    d["faults"] = [{"kind": "kill", "t0": T0 + 1.1 + L.KILL_GRACE + 1,
                    "t1": T0 + 5}]
    d["sent"].append(dict(d["sent"][0], seq=99, wamid="wamid.again",
                          time=T0 + 50))
    assert any("duplicates only" in n for n in failed(d))


def test_outbound_order():
    d = clean_run()
    d["sent"][0]["seq"], d["sent"][1]["seq"] = 11, 10
    assert any("order kept" in n and "XMPP->" in n for n in failed(d))


def test_two_receipts_and_displayed_before_received():
    d = clean_run()
    d["received"][0].append(rec(T0 + 9, id="r-other", received="co-0-0-1"))
    assert any("at most one receipt" in n for n in failed(d))
    d = clean_run()
    for r in d["received"][0]:
        if r["displayed"] == "co-0-0-2":
            r["t"] = T0 + 0.5
    assert any("never backwards" in n for n in failed(d))


def test_missing_receipt():
    d = clean_run()
    d["received"][0] = [r for r in d["received"][0]
                        if r["received"] != "co-0-0-3"]
    assert any("got its receipt" in n for n in failed(d))


def test_raw_copies_of_a_receipt_need_a_disruption():
    d = clean_run()
    d["received"][0].append(rec(T0 + 9, id="r0", received="co-0-0-1"))
    assert any("at most one receipt" in n for n in failed(d))
    d["faults"] = [{"kind": "kill", "t0": T0 + 5, "t1": T0 + 6}]
    assert not any("at most one receipt" in n for n in failed(d))


def test_inbound_loss_and_misrouting():
    d = clean_run()
    d["received"][0] = [r for r in d["received"][0] if r["id"] != "wamid.2"]
    assert any("nothing lost" in n and "WhatsApp->" in n for n in failed(d))
    d = clean_run()
    for r in d["received"][0]:
        if r["id"] == "wamid.2":
            r["from"] = "+491511111111@%s" % GW
    assert any("right user" in n for n in failed(d))


def test_inbound_raw_duplicate_needs_a_disruption():
    d = clean_run()
    again = copy.deepcopy([r for r in d["received"][0]
                           if r["id"] == "wamid.1"][0])
    again["t"] += 30
    d["received"][0].append(again)
    assert any("exactly once" in n for n in failed(d))
    d["faults"] = [{"kind": "xmpp_restart", "t0": again["t"] - 5,
                    "t1": again["t"] - 1}]
    ledger, checks = L.evaluate(d)
    assert not [c for c in checks if not c.ok]
    assert ledger["in"]["raw duplicates"] == 1


def test_inbound_duplicate_under_another_id():
    d = clean_run()
    other = copy.deepcopy([r for r in d["received"][0]
                           if r["id"] == "wamid.1"][0])
    other["id"] = "some-new-id"
    d["received"][0].append(other)
    assert any("exactly once" in n for n in failed(d))


def test_inbound_order():
    d = clean_run()
    rs = d["received"][0]
    i1 = next(i for i, r in enumerate(rs) if r["id"] == "wamid.1")
    i2 = next(i for i, r in enumerate(rs) if r["id"] == "wamid.2")
    rs[i1], rs[i2] = rs[i2], rs[i1]
    assert any("order kept" in n and "WhatsApp->" in n for n in failed(d))


def test_not_taken_classification():
    d = clean_run()
    m = d["out_plan"][1]
    d["db_messages"] = [r for r in d["db_messages"]
                        if r["stanza_id"] != m["id"]]
    d["sent"] = [s for s in d["sent"] if s["payload"]["body"] != m["body"]]
    t = d["attempts"][m["key"]][-1][0]
    d["ferry_seen"] = {m["id"]: [t + 0.01]}
    d["faults"] = [{"kind": "kill", "t0": t + 0.05, "t1": t + 1}]
    nt = L.classify_not_taken(d)
    assert nt[m["key"]][0] is True, nt
    d["faults"] = []
    nt = L.classify_not_taken(d)
    assert nt[m["key"]][0] is False, nt
    d["not_taken"] = nt
    assert any("explained" in n for n in failed(d))


def test_failed_message_and_leftover_outbox():
    d = clean_run()
    d["db_messages"][0]["status"] = 4
    assert any("no message failed" in n for n in failed(d))
    d = clean_run()
    d["db_outbox"] = [{"id": 1, "state": "queued"}]
    assert any("no message failed" in n for n in failed(d))


def test_inbound_store_order():
    d = clean_run()
    rows = [r for r in d["db_messages"] if r["direction"] == "i"]
    rows[0]["id"], rows[1]["id"] = rows[1]["id"], rows[0]["id"]
    assert any("order kept" in n and "WhatsApp->" in n for n in failed(d))


def test_offline_storage_reordering_is_the_servers():
    d = clean_run()
    d["domain"] = "example.test"
    rs = d["received"][0]
    i1 = next(i for i, r in enumerate(rs) if r["id"] == "wamid.1")
    late = rs.pop(i1)
    late["delays"] = ["example.test"]
    late["t"] = rs[-1]["t"] + 1
    rs.append(late)
    ledger, checks = L.evaluate(d)
    assert not [c.name for c in checks if not c.ok]
    assert ledger["in"]["server reordered"] == 2
    assert any(c.notes for c in checks if "artefacts" in c.name)
    late["delays"] = []                 # live: ferry's (or nobody's) fault
    assert any("order kept" in n and "WhatsApp->" in n for n in failed(d))


def test_receipt_from_offline_storage_after_live_displayed():
    d = clean_run()
    d["domain"] = "example.test"
    for r in d["received"][0]:
        if r["received"] == "co-0-0-2":
            r["t"] = T0 + 20
            r["delays"] = ["example.test"]
    assert not failed(d)
    for r in d["received"][0]:
        if r["received"] == "co-0-0-2":
            r["delays"] = []
    assert any("never backwards" in n for n in failed(d))


def test_late_message_needs_ferrys_delay_stamp():
    d = clean_run()
    d["domain"] = "example.test"
    r = next(r for r in d["received"][0] if r["id"] == "wamid.1")
    r["t"] += 10
    d["in_order"] = {"u0 c0": ["ci u0 c0 s2", "ci u0 c0 s3", "ci u0 c0 s1"]}
    d["received"][0].remove(r)
    d["received"][0].append(r)
    rows = {x["stanza_id"]: x for x in d["db_messages"]}
    rows["wamid.1"]["id"] = 999
    assert any("XEP-0203" in n for n in failed(d))
    r["delays"] = [GW]
    assert not failed(d)
    r["delays"] = ["example.test"]
    assert not failed(d)


def team_run():
    """clean_run with a team: user 0 owns the number, users 1 and 2 are
    members; every customer message reached all three once, and every
    write of the owner was copied to both members once."""
    d = clean_run()
    d["team"] = {"owner": 0, "members": [1, 2], "pnid": PNID}
    d["pnids"] = [PNID] * 3
    d["jids"] = ["owner@example.test", "bob@example.test",
                 "amy@example.test"]
    for u in (1, 2):
        d["user_events"][u] = []
        d["received"][u] = []
        for i, m in enumerate(d["out_plan"]):
            t = d["attempts"][m["key"]][0][0]
            d["received"][u].append(rec(t + 0.3, user=u, id="copy%d" % i,
                                        body="owner: " + m["body"]))
        for a in d["in_plan"]:
            m = a["items"][0]
            t = [r for r in d["received"][0] if r["id"] == m["wamid"]][0]["t"]
            d["received"][u].append(rec(t + 0.2, user=u, id=m["wamid"],
                                        body=m["body"]))
    return d


def test_team_clean_run_passes():
    ledger, checks = L.evaluate(team_run())
    assert [c.name for c in checks if not c.ok] == []
    assert ledger["in"]["delivered to team members"] == 6
    assert ledger["team"] == {"writes": 3, "copies": 6}


def test_team_member_loses_or_doubles_a_customer_message():
    d = team_run()
    d["received"][2] = [r for r in d["received"][2] if r["id"] != "wamid.2"]
    assert any("WhatsApp->XMPP: nothing lost" in n for n in failed(d))
    d = team_run()
    again = [r for r in d["received"][1] if r["id"] == "wamid.2"][0]
    d["received"][1].append(dict(again, t=again["t"] + 30))
    assert any("exactly once by id" in n for n in failed(d))


def test_team_copy_missing_or_doubled():
    d = team_run()
    d["received"][1] = [r for r in d["received"][1] if r["id"] != "copy1"]
    assert any(n.startswith("team: ") for n in failed(d))
    d = team_run()
    d["received"][2].append(rec(T0 + 60, user=2, id="copy1-again",
                                body=d["received"][2][1]["body"]))
    assert any(n.startswith("team: ") for n in failed(d))


def test_team_member_getting_another_numbers_message_is_misrouted():
    d = team_run()
    d["team"]["members"] = [1]       # user 2 is not of the team
    assert any("right user" in n for n in failed(d))


# --- personal accounts (WAHA) ----------------------------------------------

SESSION = "ferry-0123456789abcdef01234567"
WA2 = "491500100000"
CJ2 = "+%s@%s" % (WA2, GW)


def waha_run(n=3):
    """clean_run with a personal account as user 1 (its session in
    pnids): n messages each way with its contact, each at the fake WAHA's
    sendText once (its request answered 201) and delivered once, its
    inbound ones as `message` and `message.any` events."""
    d = clean_run()
    d["waha_users"] = [1]
    d["pnids"] = [PNID, SESSION]
    d["user_events"][1] = []
    d["received"][1] = []
    d["waha_requests"] = []
    t = T0 + 100
    for s in range(1, n + 1):
        t += 1
        key = "co u1 c0 s%d" % s
        m = {"key": key, "user": 1, "contact": 0, "wa_id": WA2,
             "pnid": SESSION, "seq": s, "id": "co-1-0-%d" % s,
             "body": key + " hi", "contact_jid": CJ2}
        d["out_plan"].append(m)
        d["attempts"][key] = [(t, 1)]
        d["db_messages"].append({"id": 200 + s, "direction": "o",
                                 "stanza_id": m["id"], "status": 3})
        kid = "3EB0%020X" % s
        d["sent"].append({"seq": 500 + s, "time": t + 0.1, "pnid": SESSION,
                          "wamid": "true_%s@c.us_%s" % (WA2, kid),
                          "wa_id": WA2, "payload": {"body": m["body"]},
                          "network": "waha", "key_id": kid})
        d["waha_requests"].append({"seq": 500 + s, "time": t + 0.1,
                                   "status": 201, "handled_status": None,
                                   "json": {"chatId": WA2 + "@c.us",
                                            "id": kid, "text": m["body"]}})
        d["received"][1] += [
            rec(t + 0.2, user=1, id="wr%d" % s, received=m["id"],
                **{"from": CJ2 + "/x"}),
            rec(t + 0.3, user=1, id="wd%d" % s, displayed=m["id"],
                **{"from": CJ2 + "/x"})]
    keys = []
    for s in range(1, n + 1):
        t += 1
        key = "ci u1 c0 s%d" % s
        kid = "3EB0%020X" % (100 + s)
        m = {"key": key, "user": 1, "contact": 0, "wa_id": WA2,
             "pnid": SESSION, "session": SESSION, "seq": s,
             "network": "waha", "key_id": kid,
             "wamid": "false_%s@c.us_%s" % (WA2, kid), "body": key + " yo",
             "name": "C"}
        keys.append(key)
        d["in_plan"].append({"kind": "waha both", "network": "waha",
                             "items": [m], "overlap": "both"})
        d["db_messages"].append({"id": 300 + s, "direction": "i",
                                 "stanza_id": m["wamid"], "status": 2})
        d["in_results"].append({"kind": "waha both", "t0": t, "t1": t,
                                "ok": True, "statuses": [200, 200],
                                "ids": [2 * s, 2 * s + 1],
                                "wamids": [m["wamid"]]})
        d["received"][1].append(rec(t + 0.1, user=1, id=m["wamid"],
                                    body=m["body"], **{"from": CJ2 + "/x"}))
    d["in_order"]["u1 c0"] = keys
    return d


def waha_sent(d, s):
    return [x for x in d["sent"] if x.get("network") == "waha"][s - 1]


def test_waha_clean_run_passes():
    ledger, checks = L.evaluate(waha_run())
    assert [c.name for c in checks if not c.ok] == []
    assert ledger["out"]["waha sent"] == ledger["out"]["waha delivered"] == 3
    assert ledger["in"]["waha sent"] == ledger["in"]["waha delivered"] == 3
    assert ledger["out"]["sent"] == ledger["in"]["sent"] == 6
    assert ledger["out"]["lost"] == ledger["in"]["lost"] == 0


def test_waha_inbound_lost():
    d = waha_run()
    gone = d["in_plan"][-2]["items"][0]["wamid"]
    d["received"][1] = [r for r in d["received"][1] if r["id"] != gone]
    assert any("nothing lost" in n and "WhatsApp->" in n for n in failed(d))
    ledger, _ = L.evaluate(d)
    assert ledger["in"]["waha delivered"] == 2


def test_waha_inbound_doubled():
    """message and message.any (or a retried webhook) giving two stanzas:
    the same id again without a disruption, or another id."""
    d = waha_run()
    first = [r for r in d["received"][1] if r["body"] and
             r["body"].startswith("ci u1 c0 s2")][0]
    d["received"][1].append(dict(first, t=first["t"] + 0.05))
    assert any("exactly once" in n for n in failed(d))
    d = waha_run()
    first = [r for r in d["received"][1] if r["body"] and
             r["body"].startswith("ci u1 c0 s2")][0]
    d["received"][1].append(dict(first, t=first["t"] + 0.05,
                                 id="another-id"))
    assert any("exactly once" in n for n in failed(d))


def test_waha_inbound_order():
    d = waha_run()
    rs = d["received"][1]
    i1, i2 = [i for i, r in enumerate(rs) if r["body"] and
              r["body"].startswith(("ci u1 c0 s1", "ci u1 c0 s2"))]
    rs[i1], rs[i2] = rs[i2], rs[i1]
    assert any("order kept" in n and "WhatsApp->" in n for n in failed(d))


def test_waha_webhook_never_accepted():
    d = waha_run()
    d["in_results"][-1]["ok"] = False
    assert any("every webhook accepted" in n for n in failed(d))


def test_waha_send_lost_or_to_another_session():
    d = waha_run()
    d["sent"].remove(waha_sent(d, 2))
    assert any("nothing lost" in n and "XMPP->" in n for n in failed(d))
    ledger, _ = L.evaluate(d)
    assert ledger["out"]["waha delivered"] == 2
    d = waha_run()
    waha_sent(d, 1)["pnid"] = "ferry-another-session"
    assert any("right business number" in n for n in failed(d))


def test_waha_send_doubled_needs_an_unknown_answer():
    """A second sendText of one message (ferry chose a new key) is a
    duplicate unless the first copy's answer was lost or a 5xx."""
    d = waha_run()
    s = waha_sent(d, 2)
    kid = "3EB0%020X" % 999
    d["sent"].append(dict(s, seq=600, time=s["time"] + 2, key_id=kid,
                          wamid="true_%s@c.us_%s" % (WA2, kid)))
    assert any("duplicates only" in n for n in failed(d))
    req = d["waha_requests"][1]
    req["status"], req["handled_status"] = 500, 201
    ledger, checks = L.evaluate(d)
    assert not [c.name for c in checks if not c.ok]
    assert ledger["out"]["waha duplicates"] == 1
    assert ledger["out"]["duplicates after an unknown answer"] == 1
    req["status"] = None                 # the connection dropped
    assert not failed(d)
    req["status"] = 422                  # refused: ferry knew it failed
    assert any("duplicates only" in n for n in failed(d))


def test_waha_send_order():
    d = waha_run()
    a, b = waha_sent(d, 1), waha_sent(d, 2)
    a["seq"], b["seq"] = b["seq"], a["seq"]
    assert any("order kept" in n and "XMPP->" in n for n in failed(d))
