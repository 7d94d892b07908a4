#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Soak run (issue 6 point 6): ferry under a steady load both ways for a
long time, sampling its resident memory (VmRSS in /proc/PID/status) and
open file descriptors (/proc/PID/fd) every 10 s.  After a warm-up, neither
may grow: the verdict compares the warm-up figures with the end and fits
a line through the samples after the warm-up.

    /usr/bin/python3 tests/chaos/soak.py                # 10 min, 20 msg/s each way
    /usr/bin/python3 tests/chaos/soak.py --minutes 30 --rate 40 --out docs/soak.md

XMPP users (Prosody by default) write to WhatsApp contacts (each message
asks for a receipt and is markable, so every send brings three status
webhooks back) and the contacts write back through the fake Cloud API's
webhooks (single messages and batches).  No faults: at the end the chaos
ledger (chaos_ledger.py) must find every message delivered exactly once,
in order.  The figures go to --out (Markdown: machine, versions, table,
verdict); the raw samples to the work directory.  Exit status 1 if memory
or descriptors grow after the warm-up, or the ledger fails.
"""

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import chaos  # noqa: E402  (also puts tests/e2e on sys.path)
import chaos_clients  # noqa: E402
import chaos_inject  # noqa: E402
import chaos_ledger  # noqa: E402
from harness import ferryproc  # noqa: E402

INTERVAL = 10.0
# Growth allowed after the warm-up: RSS may wander by allocator noise, but
# a leak of even 100 bytes per message (20 msg/s each way, plus statuses)
# would show as ~0.5 MiB per 10 minutes in the slope.
RSS_SLOPE_MAX_KIB_PER_MIN = 48.0
RSS_GROWTH_MAX_KIB = 1024
FD_GROWTH_MAX = 0


def proc_sample(pid):
    """(VmRSS KiB, VmHWM KiB, open fds, CPU seconds) of a process."""
    rss = hwm = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    fds = len(os.listdir("/proc/%d/fd" % pid))
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, hwm, fds, cpu


def slope(points):
    """Least-squares slope of [(x, y)]; 0 for fewer than 2 points."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return sxy / sxx if sxx else 0.0


class Sampler(threading.Thread):
    def __init__(self, env, sender, injector, interval=INTERVAL):
        super().__init__(name="soak-sampler", daemon=True)
        self.env = env
        self.sender = sender
        self.injector = injector
        self.interval = interval
        self.samples = []
        self.stop_event = threading.Event()
        self.t0 = None

    def sample(self):
        pid = self.env.ferry.pid
        rss, hwm, fds, cpu = proc_sample(pid)
        recv = sum(len(u.snapshot()[0]) for u in self.env.users)
        try:
            db = sum(os.path.getsize(self.env.ferry.store_path + sfx)
                     for sfx in ("", "-wal") if os.path.exists(
                         self.env.ferry.store_path + sfx))
        except OSError:
            db = 0
        self.samples.append({
            "t": round(time.monotonic() - self.t0, 1), "rss": rss,
            "hwm": hwm, "fds": fds, "cpu": round(cpu, 2),
            "out": self.sender.sent_first, "in": self.injector.injected,
            "xmpp_received": recv, "db_bytes": db})

    def run(self):
        self.t0 = time.monotonic()
        nxt = self.t0
        while not self.stop_event.is_set():
            try:
                self.sample()
            except Exception as e:     # ferry gone: the run will say so
                print("soak: sample failed: %s" % e, flush=True)
            s = self.samples[-1] if self.samples else None
            if s:
                chaos.log("   t=%5.0fs RSS %6d KiB fds %3d cpu %6.1fs "
                          "out %6d in %6d db %.1f MiB" % (
                              s["t"], s["rss"], s["fds"], s["cpu"], s["out"],
                              s["in"], s["db_bytes"] / 1048576))
            nxt += self.interval
            self.stop_event.wait(max(0, nxt - time.monotonic()))


def analyse(samples, warmup_s):
    """Warm-up vs end and the slopes after the warm-up."""
    after = [s for s in samples if s["t"] >= warmup_s]
    if len(after) < 3:
        return None
    # the warm-up figure: the first minute after the warm-up; the end: the
    # last minute (means, so one sample's noise does not decide)
    head = [s for s in after if s["t"] < warmup_s + 60] or after[:6]
    tail = [s for s in after if s["t"] > after[-1]["t"] - 60] or after[-6:]

    def mean(xs, k):
        return sum(x[k] for x in xs) / len(xs)
    # descriptors come and go with the HTTP connections of the moment
    # (webhooks, API requests): a leak raises the floor, so compare the
    # lowest count of the first and of the last minute
    res = {
        "warm_rss": mean(head, "rss"), "end_rss": mean(tail, "rss"),
        "warm_fds": min(x["fds"] for x in head),
        "end_fds": min(x["fds"] for x in tail),
        "max_rss": max(s["rss"] for s in after),
        "min_rss": min(s["rss"] for s in after),
        "max_fds": max(s["fds"] for s in after),
        "min_fds": min(s["fds"] for s in after),
        "rss_slope": slope([(s["t"] / 60, s["rss"]) for s in after]),
        "fd_slope": slope([(s["t"] / 60, s["fds"]) for s in after]),
        "n_after": len(after),
    }
    res["rss_growth"] = res["end_rss"] - res["warm_rss"]
    res["fd_growth"] = res["end_fds"] - res["warm_fds"]
    res["rss_ok"] = (res["rss_slope"] <= RSS_SLOPE_MAX_KIB_PER_MIN and
                     res["rss_growth"] <= RSS_GROWTH_MAX_KIB)
    res["fd_ok"] = res["fd_growth"] <= FD_GROWTH_MAX
    return res


def cmd(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True,
                              timeout=20).stdout.strip()
    except Exception:
        return ""


def versions(ferry_bin, server_name):
    v = {}
    out = (cmd([ferry_bin, "-V"]) or "?").splitlines()
    v["ferry version"] = out[0] if out else "?"
    top = os.path.normpath(os.path.join(HERE, "..", ".."))
    v["commit"] = cmd(["git", "-C", top, "log", "-1",
                       "--format=%h %cd %s", "--date=short"]) or "?"
    dirty = cmd(["git", "-C", top, "status", "--porcelain", "--",
                 "src", "include"])
    if dirty:
        v["commit"] += " (plus uncommitted changes in src/ or include/)"
    try:
        v["binary built"] = time.strftime(
            "%Y-%m-%d %H:%M UTC", time.gmtime(os.path.getmtime(ferry_bin)))
    except OSError:
        pass
    for pkg in ("prosody", "ejabberd", "libstrophe0", "libcurl4",
                "libsqlite3-0", "libevent-2.1-7", "libmicrohttpd12",
                "libjson-c5", "python3-slixmpp"):
        out = cmd(["dpkg-query", "-W", "-f", "${Version}", pkg])
        if out:
            v[pkg] = out
    v["python"] = platform.python_version()
    return v


def machine():
    m = {"kernel": platform.release(), "arch": platform.machine()}
    try:
        with open("/proc/cpuinfo") as f:
            names = [l.split(":", 1)[1].strip() for l in f
                     if l.startswith("model name")]
        m["cpu"] = "%s x %d" % (names[0], len(names)) if names else "?"
    except OSError:
        m["cpu"] = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        m["memory"] = "%.1f GiB" % (kb / 1048576)
    except OSError:
        pass
    try:
        with open("/etc/os-release") as f:
            osr = dict(l.rstrip().split("=", 1) for l in f if "=" in l)
        m["os"] = osr.get("PRETTY_NAME", "?").strip('"')
    except OSError:
        pass
    m["load average at the end"] = " ".join(
        open("/proc/loadavg").read().split()[:3])
    return m


def markdown(p, res, samples, ledger_line, failed_checks, mach, vers, started,
             elapsed, verdict_ok):
    L = []
    L.append("# Soak run")
    L.append("")
    L.append("Issue 6 point 6: ferry under a steady load both ways for %d "
             "minutes, its resident memory and open file descriptors "
             "sampled every %d s. Written by `tests/chaos/soak.py` "
             "(`make soak`); run it again to refresh this page." % (
                 round(p["minutes"]), INTERVAL))
    L.append("")
    L.append("## Verdict")
    L.append("")
    if verdict_ok:
        L.append("**No growth after warm-up.** After the %d s warm-up, "
                 "resident memory moved by %+.0f KiB (%.0f -> %.0f KiB, "
                 "slope %+.1f KiB/min, limits %d KiB and %.0f KiB/min) "
                 "and the floor of open file descriptors by %+d (%d -> %d; "
                 "all samples within %d-%d)." % (
                     p["warmup"], res["rss_growth"], res["warm_rss"],
                     res["end_rss"], res["rss_slope"], RSS_GROWTH_MAX_KIB,
                     RSS_SLOPE_MAX_KIB_PER_MIN, res["fd_growth"],
                     res["warm_fds"], res["end_fds"], res["min_fds"],
                     res["max_fds"]))
    else:
        L.append("**FAILED.** After the %d s warm-up: resident memory %.0f "
                 "-> %.0f KiB (%+.0f KiB, slope %+.1f KiB/min; limits %d "
                 "KiB, %.0f KiB/min), floor of file descriptors %d -> %d "
                 "(all samples within %d-%d)%s." % (
                     p["warmup"], res["warm_rss"], res["end_rss"],
                     res["rss_growth"], res["rss_slope"], RSS_GROWTH_MAX_KIB,
                     RSS_SLOPE_MAX_KIB_PER_MIN, res["warm_fds"],
                     res["end_fds"], res["min_fds"], res["max_fds"],
                     "; ledger: %d check(s) failed" % failed_checks
                     if failed_checks else ""))
    L.append("")
    L.append("Traffic: %s" % ledger_line)
    L.append("")
    L.append("## Set-up")
    L.append("")
    L.append("| | |")
    L.append("|---|---|")
    L.append("| started | %s (UTC), %.0f s in all |" % (started, elapsed))
    L.append("| load | %d XMPP users x %d WhatsApp contacts, %.0f msg/s "
             "XMPP->WhatsApp (receipt and markable: 3 status webhooks "
             "each) and %.0f msg/s WhatsApp->XMPP (singles and batches of "
             "2-8) |" % (p["users"], p["contacts"], p["rate"], p["rate"]))
    L.append("| XMPP server | %s on loopback (tests/e2e harness config) |"
             % p["server"])
    L.append("| WhatsApp side | tests/fakes/fake_cloudapi.py, statuses "
             "20 ms apart |")
    # the binary as a path in the checkout (the page must not name where
    # the checkout lives), or only its name when it is elsewhere
    top = os.path.dirname(os.path.dirname(HERE))
    shown = os.path.abspath(p["ferry_bin"])
    shown = os.path.relpath(shown, top) if shown.startswith(top + os.sep) \
        else os.path.basename(shown)
    L.append("| ferry | `%s`, log level %s, `synchronous=%s` (the "
             "test harness's setting) |" % (shown, p["log_level"],
                                            ferryproc.synchronous()))
    for k, v in mach.items():
        L.append("| %s | %s |" % (k, v))
    for k, v in vers.items():
        L.append("| %s | %s |" % (k, v))
    L.append("")
    L.append("## Samples")
    L.append("")
    L.append("One row a minute (all %d samples, every %d s, are in "
             "`soak-samples.json` of the run's work directory). `out`/`in`: "
             "messages written by the XMPP users / injected as webhooks so "
             "far; `db`: store and WAL size." % (len(samples), INTERVAL))
    L.append("")
    L.append("| t (s) | VmRSS (KiB) | VmHWM (KiB) | open fds | CPU (s) | "
             "out | in | db (MiB) |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
    last_min = -1
    for i, s in enumerate(samples):
        minute = int(s["t"] // 60)
        if minute != last_min or i == len(samples) - 1:
            last_min = minute
            L.append("| %.0f | %d | %d | %d | %.1f | %d | %d | %.1f |" % (
                s["t"], s["rss"], s["hwm"], s["fds"], s["cpu"], s["out"],
                s["in"], s["db_bytes"] / 1048576))
    L.append("")
    L.append("## Figures after the warm-up (t >= %d s, %d samples)" % (
        p["warmup"], res["n_after"]))
    L.append("")
    L.append("| | warm-up (first minute after it) | end (last minute) | "
             "change | min | max | slope |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    L.append("| VmRSS (KiB) | %.0f | %.0f | %+.0f | %d | %d | %+.1f KiB/min |"
             % (res["warm_rss"], res["end_rss"], res["rss_growth"],
                res["min_rss"], res["max_rss"], res["rss_slope"]))
    L.append("| open fds (lowest) | %d | %d | %+d | %d | %d | %+.2f /min |" % (
        res["warm_fds"], res["end_fds"], res["fd_growth"], res["min_fds"],
        res["max_fds"], res["fd_slope"]))
    L.append("")
    L.append("Pass rule: resident memory at the end at most %d KiB above "
             "the warm-up figure (means over a minute) and a slope of at "
             "most %.0f KiB/min; the lowest descriptor count of the last "
             "minute not above that of the first minute after the warm-up "
             "(descriptors come and go with the HTTP connections of the "
             "moment; a leak raises the floor). The store grows with the message table "
             "(rows are kept for receipts and replies), which SQLite's page "
             "cache (bounded) must not turn into memory growth." % (
                 RSS_GROWTH_MAX_KIB, RSS_SLOPE_MAX_KIB_PER_MIN))
    L.append("")
    return "\n".join(L)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=20.0,
                    help="messages/s each way (default 20)")
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--contacts", type=int, default=5)
    ap.add_argument("--warmup", type=float, default=120.0,
                    help="seconds of warm-up (default 120)")
    ap.add_argument("--server", default="prosody",
                    choices=("prosody", "ejabberd"))
    ap.add_argument("--log-level", default="info",
                    help="ferry's log level (default info)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", help="Markdown report (e.g. docs/soak.md)")
    ap.add_argument("--workdir")
    ap.add_argument("--ferry-bin", default=ferryproc.ferry_bin())
    ap.add_argument("--report-from", metavar="JSON",
                    help="no run: analyse and report a run's "
                    "soak-samples.json again")
    a = ap.parse_args(argv)
    if a.report_from:
        with open(a.report_from) as f:
            return verdict(json.load(f), a.out)
    chaos_clients.quiet_slixmpp()
    seed = a.seed if a.seed is not None else \
        random.SystemRandom().randrange(1, 10 ** 6)
    rng = random.Random(seed)
    workdir = a.workdir or tempfile.mkdtemp(prefix="ferry-soak-")
    os.makedirs(workdir, exist_ok=True)
    p = {"minutes": a.minutes, "rate": a.rate, "users": a.users,
         "contacts": a.contacts, "warmup": a.warmup, "server": a.server,
         "ferry_bin": a.ferry_bin, "log_level": a.log_level}
    print("soak: seed %d, %s, %.0f min at %.0f msg/s each way, work "
          "directory %s" % (seed, a.server, a.minutes, a.rate, workdir),
          flush=True)
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    t_start = time.monotonic()
    vers = versions(a.ferry_bin, a.server)      # what was built, now
    env = chaos.Env(a.server, os.path.join(workdir, a.server), a.ferry_bin,
                    rng, a.users, a.contacts,
                    ferry_overrides={"log_level": a.log_level})
    closed = False
    try:
        n = int(a.rate * a.minutes * 60)
        out_plan = chaos_clients.numbered_plan(rng, n, env.users,
                                               env.contacts_of, env.gw, "co")
        for m in out_plan:
            m["pnid"] = env.pnids[m["user"]]
        contacts = [(u, c, wa, env.pnids[u])
                    for u, was in enumerate(env.contacts_of)
                    for c, wa in enumerate(was)]
        in_plan = chaos_inject.inbound_plan(rng, n, contacts,
                                            {"single": 4, "batch": 1})
        sender = chaos_clients.Sender(env.hub, env.users, out_plan, a.rate,
                                      random.Random(rng.random()))
        injector = chaos_inject.Injector(env.ctl, in_plan, a.rate,
                                         random.Random(rng.random()))
        sampler = Sampler(env, sender, injector)
        sampler.start()
        sender.start()
        injector.start()
        sender.done.wait()
        injector.done.wait()
        sampler.stop_event.set()
        sampler.join(INTERVAL + 5)
        chaos.log("   load done; draining")

        class NoFaults:
            events, errors = [], []
        chaos.drain(env, sender, injector, time.monotonic() + 300, "drain")
        sender.stop()
        data = chaos.collect(env, sender, injector, NoFaults, {}, [])
        ledger, checks = chaos_ledger.evaluate(data)
        problems = env.close()
        closed = True
        for pr in problems:
            checks.append(chaos_ledger.Check("teardown"))
            checks[-1].fail(pr)
        failed = chaos_ledger.report(ledger, checks, [],
                                     lambda s: print("   " + s, flush=True))
        samples = sampler.samples
        o, i = ledger["out"], ledger["in"]
        line = ("XMPP->WhatsApp sent %d, delivered %d, duplicates %d, lost "
                "%d; WhatsApp->XMPP sent %d, delivered %d, duplicates %d, "
                "lost %d; %d receipts and %d displayed markers; ledger %d "
                "passed, %d failed (seed %d)." % (
                    o.get("sent", 0), o.get("delivered", 0),
                    o.get("duplicates", 0), o.get("lost", 0),
                    i.get("sent", 0), i.get("delivered", 0),
                    i.get("raw duplicates", 0), i.get("lost", 0),
                    ledger["statuses"].get("received", 0),
                    ledger["statuses"].get("displayed", 0),
                    len(checks) - failed, failed, seed))
        record = {"seed": seed, "params": p, "samples": samples,
                  "ledger_line": line, "failed_checks": failed,
                  "machine": machine(),
                  "versions": vers,
                  "started": started, "elapsed": time.monotonic() - t_start}
        with open(os.path.join(workdir, "soak-samples.json"), "w") as f:
            json.dump(record, f, indent=0)
        return verdict(record, a.out)
    finally:
        if not closed:
            env.close()


def verdict(record, out_path):
    """Analyse a run's record, print the verdict, write the report."""
    p, samples = record["params"], record["samples"]
    res = analyse(samples, p["warmup"])
    if res is None:
        print("soak: too few samples after the warm-up", flush=True)
        return 1
    ok = res["rss_ok"] and res["fd_ok"] and record["failed_checks"] == 0
    print("soak: warm-up RSS %.0f KiB -> end %.0f KiB (%+.0f KiB, slope "
          "%+.1f KiB/min); fd floor %d -> %d (range %d-%d): %s" % (
              res["warm_rss"], res["end_rss"], res["rss_growth"],
              res["rss_slope"], res["warm_fds"], res["end_fds"],
              res["min_fds"], res["max_fds"],
              "no growth" if res["rss_ok"] and res["fd_ok"]
              else "GROWTH"), flush=True)
    print("soak: " + record["ledger_line"], flush=True)
    if out_path:
        text = markdown(p, res, samples, record["ledger_line"],
                        record["failed_checks"], record["machine"],
                        record["versions"], record["started"],
                        record["elapsed"], ok)
        with open(out_path, "w") as f:
            f.write(text)
        print("soak: wrote %s" % out_path, flush=True)
    print("soak: %s" % ("PASSED" if ok else "FAILED"), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
