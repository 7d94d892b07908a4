#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""ferry's benchmark driver (`make bench`): see tests/bench/README.md.

Starts Prosody and ejabberd with generated configs on free loopback ports
(tests/e2e/harness/servers.py, plus a second component echo.example.test
for the null component), the C load tools of this directory, and ferry;
runs every scenario of issue 7 with a warm-up and BENCH_RUNS measured runs
(5; BENCH_QUICK=1: 1 run of smaller sizes) and writes docs/benchmarks.md.

Environment: FERRY_BIN (the ferry to measure), BENCH_TOOLS (directory of
bench_client, bench_echo, bench_sink, bench_webhook), BENCH_OUT (report
path), BENCH_QUICK, BENCH_RUNS, BENCH_SERVERS (prosody,ejabberd),
BENCH_PROFILE (0: no perf profile), BENCH_CFLAGS (shown in the report),
BENCH_KEEP (keep the work directory), BENCH_ONLY (some scenarios only),
BENCH_LAT_DUMP (a file to append every latency sample to, each run's
opened by a "run <label> <ferry|null> <i>" line: tests/bench/README.md).
"""

import atexit
import datetime
import json
import os
import platform
import queue
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))

from harness import ferryproc, servers  # noqa: E402
from harness.util import free_port  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
RUNS = int(os.environ.get("BENCH_RUNS", "1" if QUICK else "5"))
SERVERS = [s for s in os.environ.get("BENCH_SERVERS",
                                     "prosody,ejabberd").split(",") if s]
PROFILE = os.environ.get("BENCH_PROFILE", "0" if QUICK else "1") != "0"
# BENCH_ONLY=memory,burst: only these scenarios (x2a, a2x, roundtrip, burst,
# profile, growth, backlog, memory), for work on one of them; the report
# then has gaps.
ONLY = [x for x in os.environ.get("BENCH_ONLY", "").split(",") if x]
# BENCH_SYNC=normal: store.synchronous for ferry (default: full, ferry's
# default since issue 15).
SYNC = os.environ.get("BENCH_SYNC", "full")


def want(scenario):
    return not ONLY or scenario in ONLY
FERRY_BIN = ferryproc.ferry_bin()
TOOLS = os.environ.get("BENCH_TOOLS", HERE)
OUT = os.environ.get("BENCH_OUT", os.path.join(TOP, "docs", "benchmarks.md"))

ECHO_JID = "echo.example.test"
GW_JID = "gw.example.test"
DOMAIN = "example.test"
USER_PREFIX = "bench"
USER_PW = "bench-pw"
PNID_BASE = 100000000000000
TOKEN = "bench-token"
APP_SECRET = "bench-app-secret"
MAX_USERS = 100
CONTACTS = 50          # WhatsApp contacts each user writes to, round-robin
SENDERS = 20           # WhatsApp senders per business number (webhooks)
# WAHA (issue 13 item 8): the first WAHA_USERS users' accounts become WAHA
# sessions <WAHA_SESSION>NNNN for the scenarios waha_x2a and waha_a2x (also
# names for BENCH_ONLY).
WAHA_USERS = 10
WAHA_SESSION = "wbench"
WAHA_API_KEY = "bench-waha-key"
WAHA_HMAC_KEY = "bench-waha-hmac"

# Sizes. Full: ~9 minutes per server on 2 cores; quick: ~1 minute.
N_FLOOD = 2000 if QUICK else 5000
N_LAT = 500 if QUICK else 1500
LAT_RATE = 500
N_BURST = 20000
BURST_RUNS = min(RUNS, 3)  # 20k messages take 10-15 s a run
# During the third burst (webhooks again), strangers from as many addresses
# declare 3 MiB bodies each and trickle them without ever finishing: ferry
# must hold at most http.max_buffered (32 MiB) of them and refuse the rest.
N_HOSTILE = 60
HOSTILE_BODY = 3 * 1024 * 1024
GROWTH = [1000, 10000, 100000]
# The backlog (issue 15, item 6): (business numbers, messages) queued at once
# to 50 contacts each, then sent out of the outbox at cloudapi.throughput =
# BACKLOG_RATE (the default, Meta's standard tier) and at API_RATE.
BACKLOG = ([(1, 400), (100, 8000)] if QUICK
           else [(1, 2000), (100, 40000)])
BACKLOG_RATE = 80
N_GROWTH = 1000 if QUICK else 2000
MEM_ACCOUNTS, MEM_CONTACTS, MEM_MESSAGES = ((1000, 10000, 100000) if QUICK
                                            else (10000, 100000, 1000000))

# Targets of issue 7.
T_RATIO = 0.90
API_RATE = 1000  # the Cloud API's top throughput per business number
T_CPU_US = 40.0
T_CPU_VS_PROSODY = 0.5
T_ADD_P50_MS, T_ADD_P99_MS = 1.0, 5.0
T_ADD_P99_WORST_MS = 10.0  # and no run's added p99 above this
T_RSS_MB = 30.0
T_BURST_RATIO = 2.0
T_HOSTILE_MB = 48.0  # http.max_buffered (32 MiB) + 16 MB for the rest
T_START_MS = 300.0

_procs = []
_servers = []
LOADS = []  # 1-minute load averages sampled at each log line


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError):
        return 0.0


def log(msg):
    LOADS.append(loadavg())
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


@atexit.register
def _cleanup():
    for srv in _servers:
        if srv.is_running():
            srv._kill_all()
    for p in _procs:
        if p.poll() is None:
            try:
                p.kill()
            except OSError:
                pass


def spawn(argv, **kw):
    p = subprocess.Popen(argv, **kw)
    _procs.append(p)
    return p


# --- processes ---------------------------------------------------------------

def cpu_s(pid):
    """CPU seconds used so far by all threads of pid (schedstat: ns)."""
    total = 0
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError):
        pass
    return total / 1e9


def rss_kb(pid, key="VmRSS"):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Hostile(threading.Thread):
    """N_HOSTILE unauthenticated clients, each from its own loopback
    address (127.0.1.N, so that the per-address limit does not stop them),
    declaring a HOSTILE_BODY-byte webhook and trickling all of it but the
    last KiB, 64 KiB per client per round, then holding on until stop().
    refused: how many ferry answered 503 or closed."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop_ev = threading.Event()
        self.refused = 0

    def open_one(self, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        s.bind(("127.0.1.%d" % (i + 1), 0))
        s.connect(("127.0.0.1", self.port))
        s.sendall(("POST /webhook/cloudapi HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Content-Type: application/json\r\n"
                   "X-Hub-Signature-256: sha256=%s\r\n"
                   "Content-Length: %d\r\n\r\n"
                   % ("0" * 64, HOSTILE_BODY)).encode())
        s.setblocking(False)
        return s

    def run(self):
        conns = [self.open_one(i) for i in range(N_HOSTILE)]
        sent = dict((s, 0) for s in conns)
        piece = b" " * 65536
        live = list(conns)
        while live and not self.stop_ev.is_set():
            for s in list(live):
                if sent[s] + len(piece) > HOSTILE_BODY - 1024:
                    continue
                try:
                    sent[s] += s.send(piece)
                except BlockingIOError:
                    pass
                except OSError:
                    live.remove(s)
                    self.refused += 1
                    continue
                try:
                    if s.recv(4096, socket.MSG_PEEK):
                        live.remove(s)  # an answer: 503
                        self.refused += 1
                except BlockingIOError:
                    pass
                except OSError:
                    live.remove(s)
                    self.refused += 1
            self.stop_ev.wait(0.05)
        for s in conns:
            s.close()

    def stop(self):
        self.stop_ev.set()
        self.join(30)


class Tool:
    """A load tool speaking the line protocol: commands on stdin, replies
    `TAG {json}` on stdout."""

    def __init__(self, name, argv, logdir):
        self.name = name
        self.err = open(os.path.join(logdir, name + ".stderr"), "ab")
        self.proc = spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=self.err, text=True, bufsize=1)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait(self, tag, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("%s: no %s within %.0f s" %
                                   (self.name, tag, timeout))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError("%s exited (status %s)" %
                                   (self.name, self.proc.wait()))
            if line == tag or line.startswith(tag + " "):
                rest = line[len(tag):].strip()
                return json.loads(rest) if rest.startswith("{") else rest

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.send("QUIT")
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def http_json(url, data=None, timeout=10):
    req = urllib.request.Request(url, data=data,
                                 method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"{}")


class Sink:
    def __init__(self, logdir, webhook_url):
        self.tool = Tool("sink", [os.path.join(TOOLS, "bench_sink"), "-p", "0",
                                  "-W", webhook_url, "-s", APP_SECRET,
                                  "-b", "20", "-K", WAHA_API_KEY], logdir)
        self.port = int(self.tool.wait("READY", 10))
        self.url = "http://127.0.0.1:%d" % self.port

    def ctl(self, path):
        return http_json(self.url + path, data=b"")

    def stats(self):
        return http_json(self.url + "/_stats")

    def wait_count(self, n, timeout):
        deadline = time.monotonic() + timeout
        while True:
            s = self.stats()
            if s["count"] >= n:
                return s
            if time.monotonic() > deadline:
                raise TimeoutError("sink: %d of %d messages" % (s["count"], n))
            time.sleep(0.02)


class Ferry:
    def __init__(self, srv, workdir, sink_url, http_port, store, name="ferry",
                 rate=API_RATE):
        self.dir = workdir
        self.store = store
        self.http_port = http_port
        self.log_path = os.path.join(workdir, name + ".log")
        self.conf_path = os.path.join(workdir, name + ".conf")
        with open(self.conf_path, "w") as f:
            f.write(FERRY_CONF % dict(
                jid=GW_JID, secret=srv.component_secret,
                port=srv.component_port, domain=DOMAIN, store=store,
                http=http_port, sink=sink_url, app_secret=APP_SECRET,
                api_rate=rate, log=self.log_path, sync=SYNC))
        self.proc = None
        self.env = None  # ferry's environment (None: bench.py's own)

    def start(self, timeout=30, until="component: connected"):
        """Starts ferry; returns the ms from exec to the log line `until`
        (by ferry's own time stamp)."""
        self.log_offset = (os.path.getsize(self.log_path)
                           if os.path.exists(self.log_path) else 0)
        t0 = time.time()
        self.proc = spawn([FERRY_BIN, "-c", self.conf_path],
                          stdin=subprocess.DEVNULL, env=self.env,
                          stdout=open(self.log_path + ".stdout", "ab"),
                          stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("ferry exited with %s; see %s" %
                                   (self.proc.returncode, self.log_path))
            t = self._logged_at(until)
            if t is not None:
                return (t - t0) * 1000.0
            if time.monotonic() > deadline:
                raise TimeoutError("ferry did not connect; see " +
                                   self.log_path)
            time.sleep(0.005)

    def _logged_at(self, what):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return None
        m = re.search(r"^(\S+)Z info: " + re.escape(what), text, re.M)
        if m is None:
            return None
        dt = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
        return dt.replace(tzinfo=datetime.timezone.utc).timestamp()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


FERRY_CONF = """\
# Generated by tests/bench/bench.py
[component]
jid = %(jid)s
secret = %(secret)s
host = 127.0.0.1
port = %(port)d

[gateway]
name = Ferry Bench
allowed_domains = %(domain)s

[store]
path = %(store)s
synchronous = %(sync)s

[http]
listen = 127.0.0.1:%(http)d
public_url = http://127.0.0.1:%(http)d

[network]
backend = cloudapi

[cloudapi]
graph_url = %(sink)s
api_version = v21.0
app_secret = %(app_secret)s
verify_token = bench-verify
; one business number per simulated user and the maximum rate, so that the
; per-number token bucket never caps a scenario
throughput = %(api_rate)d

[log]
level = info
destination = %(log)s
"""


# appended to FERRY_CONF (whose backend line becomes backends) for WAHA
WAHA_CONF = """
[waha]
url = %(sink)s
api_key = %(key)s
webhook_hmac_key = %(hmac)s
"""


# --- servers with a second component for the null echo --------------------

class BenchProsody(servers.ProsodyServer):
    def __init__(self, base_dir):
        super().__init__(base_dir)
        self.echo_port = self.component_port
        with open(self.config_path, "a") as f:
            f.write('\nComponent "%s"\n    component_secret = "%s"\n'
                    % (ECHO_JID, self.component_secret))

    def cpu_pid(self):
        return self.proc.pid


class BenchEjabberd(servers.EjabberdServer):
    """ejabberd binds a service connection to every host of its listener,
    so the null component gets a listener of its own."""

    def __init__(self, base_dir):
        super().__init__(base_dir)
        self.echo_port = free_port()
        # the component listener is in the contrib sample the config
        # includes (tests/e2e/harness/serverconf.py)
        with open(self.snippet_path) as f:
            text = f.read()
        gw = '      %s:\n        password: "%s"\n' % (GW_JID,
                                                       self.component_secret)
        assert gw in text, "ejabberd config template changed"
        text = text.replace(gw, gw + (
            '  -\n    port: %d\n    ip: "127.0.0.1"\n'
            '    module: ejabberd_service\n    shaper: none\n'
            '    hosts:\n      %s:\n        password: "%s"\n'
            % (self.echo_port, ECHO_JID, self.component_secret)))
        # Logging in 100 users with SCRAM (4096 PBKDF2 rounds in Erlang
        # each) takes ejabberd a minute on a busy 2-core machine; the
        # logins are not what is measured, so offer PLAIN only.
        text += ("disable_sasl_mechanisms:\n  - SCRAM-SHA-1\n"
                 "  - SCRAM-SHA-256\n  - SCRAM-SHA-512\n  - X-OAUTH2\n")
        with open(self.snippet_path, "w") as f:
            f.write(text)

    def ports(self):
        return super().ports() + [self.echo_port]

    def cpu_pid(self):
        return self.beam_pid


SERVER_CLASSES = {"prosody": BenchProsody, "ejabberd": BenchEjabberd}


# --- statistics --------------------------------------------------------------

def lat_mark(label, what):
    """With BENCH_LAT_DUMP (tests/bench/bench_util.h), a line that opens
    the samples of one run in that file: "run <label> <what>"."""
    path = os.environ.get("BENCH_LAT_DUMP")
    if path:
        with open(path, "a") as f:
            f.write("run %s %s\n" % (label, what))


def summary(values):
    """(median, min, max) of the non-None values, or None."""
    v = [x for x in values if x is not None]
    if not v:
        return None
    return (statistics.median(v), min(v), max(v))


class Results:
    """metric name -> list of values, one per measured run."""

    def __init__(self):
        self.data = {}

    def add(self, key, value):
        self.data.setdefault(key, []).append(value)

    def get(self, key):
        return summary(self.data.get(key, []))


# --- the bench of one server -------------------------------------------------

class ServerBench:
    def __init__(self, name, workroot):
        self.name = name
        self.dir = os.path.join(workroot, name)
        os.makedirs(self.dir)
        self.res = Results()
        self.notes = []
        self.profiles = {}
        self.run_id = 0

    # setup / teardown

    def setup(self):
        log("%s: starting the server" % self.name)
        self.srv = SERVER_CLASSES[self.name](os.path.join(self.dir, "server"))
        _servers.append(self.srv)
        self.srv.start()
        self.http_port = free_port()
        self.webhook_url = ("http://127.0.0.1:%d/webhook/cloudapi"
                            % self.http_port)
        self.sink = Sink(self.dir, self.webhook_url)
        self.store = os.path.join(self.dir, "ferry.sqlite")
        self.ferry = Ferry(self.srv, self.dir, self.sink.url, self.http_port,
                           self.store)
        self.ferry.start()
        self.echo = Tool("echo", [os.path.join(TOOLS, "bench_echo"),
                                  "-j", ECHO_JID,
                                  "-s", self.srv.component_secret,
                                  "-P", str(self.srv.echo_port)],
                         self.dir)
        self.echo.wait("READY", 20)
        log("%s: creating and logging in %d users" % (self.name, MAX_USERS))
        self.client = Tool("client", [
            os.path.join(TOOLS, "bench_client"), "-P", str(self.srv.c2s_port),
            "-d", DOMAIN, "-u", USER_PREFIX, "-w", USER_PW,
            "-k", str(MAX_USERS), "-I", "-g", GW_JID, "-n", str(PNID_BASE),
            "-t", TOKEN], self.dir)
        ready = self.client.wait("READY", 400)
        log("%s: %d users online and registered with ferry in %.0f ms"
            % (self.name, ready["users"], ready["login_ms"]))

    def teardown(self):
        for t in ("client", "echo"):
            if hasattr(self, t):
                getattr(self, t).stop()
        if hasattr(self, "ferry"):
            self.ferry.stop()
        if hasattr(self, "sink"):
            self.sink.tool.proc.terminate()
        if hasattr(self, "srv"):
            self.srv.stop()

    def free_slot(self, timeout=120):
        """Waits until the server has let go of the previous ferry's
        component session (it may still be working through that ferry's
        last stanzas); probes with `bench_echo -1`. Seconds waited."""
        t0 = time.monotonic()
        while True:
            rc = subprocess.run([
                os.path.join(TOOLS, "bench_echo"), "-1", "-j", GW_JID,
                "-s", self.srv.component_secret,
                "-P", str(self.srv.component_port)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, timeout=60).returncode
            if rc == 0:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise TimeoutError("the server kept the component busy")
            time.sleep(0.1)

    def new_ferry(self, store, name, rate=API_RATE):
        """A ferry on `store` (cloudapi.throughput = rate), started once the
        component slot is free; returns it and the ms from exec to
        connected."""
        self.free_slot()
        f = Ferry(self.srv, self.dir, self.sink.url, self.http_port, store,
                  name=name, rate=rate)
        return f, f.start()

    def pids(self):
        return self.ferry.pid, self.srv.cpu_pid()

    def cpu(self):
        f, s = self.pids()
        return cpu_s(f), cpu_s(s)

    # one run of each kind

    def x2a(self, target, users, n, rate, timeout=120):
        """client -> server -> (ferry -> sink | null component)."""
        dom = GW_JID if target == "ferry" else ECHO_JID
        if target == "ferry":
            self.sink.ctl("/_reset")
        else:
            self.echo.send("RESET")
            self.echo.send("EXPECT %d" % n)
        c0 = self.cpu()
        self.client.send("SEND %d %d %d %d %s" % (n, rate, users, CONTACTS,
                                                  dom))
        if target == "ferry":
            st = self.sink.wait_count(n, timeout)
        else:
            st = self.echo.wait("RECV", timeout)
        c1 = self.cpu()
        self.client.wait("SENT", timeout)
        return self._metrics(st, n, c0, c1)

    def a2x(self, target, users, n, batch, rate, timeout=120):
        """(webhook -> ferry | null component) -> server -> client."""
        self.client.send("RESET")
        self.client.send("EXPECT %d" % n)
        c0 = self.cpu()
        post = None
        if target == "ferry":
            self.run_id += 1
            out = subprocess.run([
                os.path.join(TOOLS, "bench_webhook"), "-u", self.webhook_url,
                "-s", APP_SECRET, "-n", str(n), "-N", str(PNID_BASE),
                "-k", str(users), "-b", str(batch), "-r", str(rate),
                "-c", str(SENDERS), "-C", "4",
                "-i", "%s%d%d" % (self.name[0], os.getpid(), self.run_id)],
                capture_output=True, text=True, timeout=timeout)
            m = re.search(r"^DONE (\{.*\})$", out.stdout, re.M)
            if out.returncode != 0 or m is None:
                raise RuntimeError("bench_webhook failed: %s %s" %
                                   (out.stdout, out.stderr[-2000:]))
            post = json.loads(m.group(1))
        else:
            # the same load shape as ferry's: bursts of `batch` stamped
            # alike at a rate (a webhook's messages share its stamp)
            self.echo.send("PUSH %d %d %d %s %s %d" % (
                n, rate, users, USER_PREFIX, DOMAIN, batch))
        st = self.client.wait("RECV", timeout)
        c1 = self.cpu()
        if target != "ferry":
            self.echo.wait("SENT", timeout)
        m = self._metrics(st, n, c0, c1)
        if post is not None:
            m["post_p50_ms"] = post["p50_us"] / 1000.0
            m["post_p99_ms"] = post["p99_us"] / 1000.0
        return m

    def _metrics(self, st, n, c0, c1):
        span = (st["last_ns"] - st["min_sent_ns"]) / 1e9
        return {
            "rate": n / span if span > 0 else None,
            "p50_ms": st["p50_us"] / 1000.0,
            "p99_ms": st["p99_us"] / 1000.0,
            "ferry_us": (c1[0] - c0[0]) / n * 1e6,
            "server_us": (c1[1] - c0[1]) / n * 1e6,
        }

    def record(self, prefix, m):
        for k, v in m.items():
            self.res.add(prefix + "." + k, v)

    # scenarios

    def paired(self, label, fn_ferry, fn_null, runs=RUNS):
        """A warm-up, then `runs` measured runs, ferry and the null component
        interleaved so that noise hits both alike."""
        lat_mark(label, "ferry warm-up")
        fn_ferry(warm=True)
        lat_mark(label, "null warm-up")
        fn_null(warm=True)
        for i in range(runs):
            lat_mark(label, "ferry %d" % i)
            self.record(label + ".ferry", fn_ferry(warm=False))
            lat_mark(label, "null %d" % i)
            self.record(label + ".null", fn_null(warm=False))
        f, z = self.res.get(label + ".ferry.rate"), \
            self.res.get(label + ".null.rate")
        log("%s: %s: ferry %.0f msg/s, null %.0f msg/s"
            % (self.name, label, f[0] if f else 0, z[0] if z else 0))

    def scen_x2a(self):
        for users in (1, 10, 100):
            self.paired(
                "x2a_flood_%d" % users,
                lambda warm, u=users: self.x2a(
                    "ferry", u, N_FLOOD // 3 if warm else N_FLOOD, 0),
                lambda warm, u=users: self.x2a(
                    "null", u, N_FLOOD // 3 if warm else N_FLOOD, 0))
        self.paired(
            "x2a_lat",
            lambda warm: self.x2a("ferry", 10, N_LAT // 4 if warm else N_LAT,
                                  LAT_RATE),
            lambda warm: self.x2a("null", 10, N_LAT // 4 if warm else N_LAT,
                                  LAT_RATE))

    def scen_a2x(self):
        for batch in (1, 100):
            self.paired(
                "a2x_flood_b%d" % batch,
                lambda warm, b=batch: self.a2x(
                    "ferry", 10, N_FLOOD // 3 if warm else N_FLOOD, b, 0),
                lambda warm, b=batch: self.a2x(
                    "null", 10, N_FLOOD // 3 if warm else N_FLOOD, b, 0))
            self.paired(
                "a2x_lat_b%d" % batch,
                lambda warm, b=batch: self.a2x(
                    "ferry", 10, N_LAT // 4 if warm else N_LAT, b, LAT_RATE),
                lambda warm, b=batch: self.a2x(
                    "null", 10, N_LAT // 4 if warm else N_LAT, b, LAT_RATE))

    def scen_roundtrip(self):
        """Sends answered with a signed `delivered` status webhook (batched
        by the sink, 20 per POST), which ferry turns into XEP-0184
        receipts: both directions of ferry for each message."""
        self.sink.ctl("/_statuses/on")
        try:
            for i in range(RUNS + 1):
                self.client.send("RESET")
                c0 = self.cpu()
                m = self.x2a("ferry", 10, N_FLOOD, 0)
                deadline = time.monotonic() + 60
                while True:
                    self.client.send("STATS")
                    st = self.client.wait("STATS", 10)
                    if st["receipts"] >= N_FLOOD:
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError("receipts: %d of %d"
                                           % (st["receipts"], N_FLOOD))
                    time.sleep(0.05)
                c1 = self.cpu()
                if i == 0:
                    continue
                self.res.add("roundtrip.ferry_us",
                             (c1[0] - c0[0]) / N_FLOOD * 1e6)
                self.res.add("roundtrip.server_us",
                             (c1[1] - c0[1]) / N_FLOOD * 1e6)
                self.res.add("roundtrip.send_rate", m["rate"])
        finally:
            self.sink.ctl("/_statuses/off")

    def sample_rss(self, pid, stop, out):
        while not stop.is_set():
            out.append(rss_kb(pid))
            time.sleep(0.02)

    def burst(self, direction):
        pid = self.ferry.pid
        time.sleep(0.5)
        idle = rss_kb(pid)
        samples, stop = [], threading.Event()
        th = threading.Thread(target=self.sample_rss,
                              args=(pid, stop, samples))
        th.start()
        hostile = None
        if direction == "hostile":
            hostile = Hostile(self.http_port)
            hostile.start()
            time.sleep(1.0)  # the budget is taken before the burst begins
        t0 = time.monotonic()
        if direction == "x2a":
            m = self.x2a("ferry", 10, N_BURST, 0, timeout=300)
        else:
            m = self.a2x("ferry", 10, N_BURST, 100, 0, timeout=300)
        took = time.monotonic() - t0
        time.sleep(2.0)
        if hostile is not None:
            hostile.stop()
            self.res.add("burst_hostile.refused", hostile.refused)
        stop.set()
        th.join()
        after = rss_kb(pid)
        peak = max(samples + [after])
        self.res.add("burst_%s.idle_mb" % direction, idle / 1024.0)
        self.res.add("burst_%s.peak_mb" % direction, peak / 1024.0)
        self.res.add("burst_%s.after_mb" % direction, after / 1024.0)
        self.res.add("burst_%s.ratio" % direction, peak / idle)
        self.res.add("burst_%s.growth_mb" % direction, (peak - idle) / 1024.0)
        self.res.add("burst_%s.seconds" % direction, took)
        self.res.add("burst_%s.rate" % direction, m["rate"])

    def scen_burst(self):
        for direction in ("x2a", "a2x", "hostile"):
            for i in range(BURST_RUNS):
                self.burst(direction)
            log("%s: burst %s: peak %.1f MB" % (
                self.name, direction,
                self.res.get("burst_%s.peak_mb" % direction)[0]))

    def scen_growth(self):
        """The XMPP-to-API flood with 1k, 10k and 100k rows of history; a
        fresh copy of the store for each run, so each size is exact."""
        self.ferry.stop()
        tmpl = os.path.join(self.dir, "growth-base.sqlite")
        shutil.copy(self.store, tmpl)
        db = sqlite3.connect(tmpl)
        for t in ("outbox", "inbox", "early_status", "seen", "message"):
            db.execute("DELETE FROM %s" % t)
        db.commit()
        db.execute("VACUUM")
        db.close()
        for size in GROWTH:
            path = os.path.join(self.dir, "growth-%d.sqlite" % size)
            shutil.copy(tmpl, path)
            fill_history(path, size)
            for i in range(RUNS):
                run = os.path.join(self.dir, "growth-run.sqlite")
                for ext in ("", "-wal", "-shm"):
                    if os.path.exists(run + ext):
                        os.unlink(run + ext)
                shutil.copy(path, run)
                f, _ = self.new_ferry(run, "ferry-growth")
                self.ferry = f
                try:
                    self.x2a("ferry", 10, 300, 0)    # warm the page cache
                    self.record("growth_%d" % size,
                                self.x2a("ferry", 10, N_GROWTH, 0))
                finally:
                    f.stop()
            log("%s: growth %d rows: %.1f us/msg" % (
                self.name, size,
                self.res.get("growth_%d.ferry_us" % size)[0]))
        self.ferry, _ = self.new_ferry(self.store, "ferry")

    def copy_store(self, src, dst):
        for ext in ("", "-wal", "-shm"):
            if os.path.exists(dst + ext):
                os.unlink(dst + ext)
            if ext != "-shm" and os.path.exists(src + ext):
                shutil.copy(src + ext, dst + ext)

    def fill_backlog(self, users, n):
        """A copy of the store whose outbox holds about n messages from
        `users` numbers, written while a ferry with cloudapi.throughput = 1
        took them (and sent almost none); (path, rows queued)."""
        path = os.path.join(self.dir, "backlog-%d.sqlite" % users)
        self.copy_store(self.store, path)
        f, _ = self.new_ferry(path, "ferry-fill", rate=1)
        try:
            self.sink.ctl("/_reset")
            self.client.send("SEND %d 0 %d %d %s" % (n, users, CONTACTS,
                                                     GW_JID))
            self.client.wait("SENT", 600)
            deadline = time.monotonic() + 300
            while True:
                db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
                queued = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
                db.close()
                if queued + self.sink.stats()["count"] >= n:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("backlog: %d of %d queued" % (queued, n))
                time.sleep(0.1)
        finally:
            f.stop()
        db = sqlite3.connect(path)
        queued = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        db.close()
        return path, queued

    def backlog_run(self, base, rate, n):
        """ferry's CPU seconds, from exec until the sink has n messages, on a
        copy of base at cloudapi.throughput = rate; and the seconds taken."""
        run = os.path.join(self.dir, "backlog-run.sqlite")
        self.copy_store(base, run)
        self.sink.ctl("/_reset")
        self.free_slot()
        f = Ferry(self.srv, self.dir, self.sink.url, self.http_port, run,
                  name="ferry-backlog", rate=rate)
        t0 = time.monotonic()
        try:
            f.start()
            self.sink.wait_count(n, 600)
            return cpu_s(f.pid), time.monotonic() - t0
        finally:
            f.stop()

    def scen_backlog(self):
        """Issue 15, item 6: CPU per message sent out of a backlog at the
        default rate against the same backlog at the API's maximum. Start-up
        (the same store with an empty outbox, until idle) is subtracted."""
        self.ferry.stop()
        for users, n in BACKLOG:
            base, queued = self.fill_backlog(users, n)
            empty = base + "-empty.sqlite"
            self.copy_store(base, empty)
            db = sqlite3.connect(empty)
            db.execute("DELETE FROM outbox")
            db.commit()
            db.close()
            k = "backlog_%d" % users
            self.res.add(k + ".queued", queued)
            for i in range(RUNS):
                self.free_slot()
                f = Ferry(self.srv, self.dir, self.sink.url, self.http_port,
                          empty, name="ferry-backlog")
                try:
                    f.start()
                    wait_idle(f.pid)
                    start = cpu_s(f.pid)
                finally:
                    f.stop()
                self.res.add(k + ".start_ms", start * 1000.0)
                for rate in (BACKLOG_RATE, API_RATE):
                    cpu, took = self.backlog_run(base, rate, queued)
                    self.res.add("%s.r%d.ferry_us" % (k, rate),
                                 (cpu - start) / queued * 1e6)
                    self.res.add("%s.r%d.seconds" % (k, rate), took)
                    self.res.add("%s.r%d.rate" % (k, rate), queued / took)
            log("%s: backlog of %d from %d number(s): %.1f us/msg at %d/s, "
                "%.1f us/msg at %d/s" % (
                    self.name, queued, users,
                    self.res.get("%s.r%d.ferry_us" % (k, BACKLOG_RATE))[0],
                    BACKLOG_RATE,
                    self.res.get("%s.r%d.ferry_us" % (k, API_RATE))[0],
                    API_RATE))
        self.ferry, _ = self.new_ferry(self.store, "ferry")

    def scen_memory(self, big_store):
        self.ferry.stop()
        for i in range(RUNS):
            f, ms = self.new_ferry(big_store, "ferry-big")
            settle = wait_idle(f.pid)
            self.res.add("mem.start_ms", ms)
            self.res.add("mem.rss_mb", rss_kb(f.pid) / 1024.0)
            self.res.add("mem.hwm_mb", rss_kb(f.pid, "VmHWM") / 1024.0)
            self.res.add("mem.settle_s", settle)
            f.stop()
        log("%s: memory: start %.0f ms, RSS %.1f MB, peak %.1f MB" % (
            self.name, self.res.get("mem.start_ms")[0],
            self.res.get("mem.rss_mb")[0], self.res.get("mem.hwm_mb")[0]))
        self.ferry, _ = self.new_ferry(self.store, "ferry")

    def scen_profile(self):
        """perf with DWARF call graphs on ferry during two floods."""
        if not PROFILE or shutil.which("perf") is None:
            return
        for label, fn in (
                ("x2a", lambda: self.x2a("ferry", 100, 2 * N_FLOOD, 0)),
                ("a2x", lambda: self.a2x("ferry", 10, 2 * N_FLOOD, 1, 0))):
            data = os.path.join(self.dir, "perf-%s.data" % label)
            perf = spawn(["perf", "record", "-q", "-e", "cpu-clock",
                          "-F", "500", "--call-graph", "dwarf,16384",
                          "-o", data, "-p", str(self.ferry.pid)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            fn()
            perf.send_signal(signal.SIGINT)
            perf.wait(60)
            self.profiles[label] = perf_top(data)
            os.unlink(data)

    # WAHA (issue 13 item 8)

    def waha_accounts(self, saved=None):
        """Turns the first WAHA_USERS users' accounts into WAHA ones
        (session WAHA_SESSION + NNNN, WORKING at the sink); with `saved`
        (what it returned), back into what they were. Either way ferry
        restarts next: the inbox rows it keeps for a minute after they were
        delivered (state 1, in case they bounce) go, else the new ferry's
        queue, its cursor at 0, reads them all on every pass until they
        expire (docs/performance.md, "WAHA in the bench")."""
        db = sqlite3.connect(self.store)
        db.execute("DELETE FROM inbox WHERE state = 1")
        jids = ["%s%04d@%s" % (USER_PREFIX, i, DOMAIN)
                for i in range(WAHA_USERS)]
        if saved is None:
            saved = [db.execute("SELECT backend, network_id, token FROM "
                                "account WHERE jid = ?", (j,)).fetchone()
                     for j in jids]
            if None in saved:
                raise RuntimeError("the bench users' accounts are missing")
            rows = [("waha", "%s%04d" % (WAHA_SESSION, i), "")
                    for i in range(WAHA_USERS)]
        else:
            rows = saved
        db.executemany("UPDATE account SET backend = ?, network_id = ?, "
                       "token = ? WHERE jid = ?",
                       [r + (j,) for r, j in zip(rows, jids)])
        db.commit()
        db.close()
        return saved

    def waha_start(self):
        """ferry with the WAHA back end beside the Cloud API (the sink
        answers both) and WAHA_USERS WAHA accounts; what to restore."""
        self.ferry.stop()
        saved = self.waha_accounts()
        self.free_slot()
        f = Ferry(self.srv, self.dir, self.sink.url, self.http_port,
                  self.store, name="ferry-waha")
        with open(f.conf_path) as fh:
            conf = fh.read()
        assert "\nbackend = cloudapi\n" in conf, "FERRY_CONF changed"
        conf = conf.replace("\nbackend = cloudapi\n",
                            "\nbackends = cloudapi, waha\n") + WAHA_CONF % dict(
            sink=self.sink.url, key=WAHA_API_KEY, hmac=WAHA_HMAC_KEY)
        with open(f.conf_path, "w") as fh:
            fh.write(conf)
        f.start()
        self.ferry = f
        return saved

    def waha_a2x(self, target, users, n, rate, timeout=120):
        """(WAHA `message` webhooks, one per POST -> ferry | null
        component) -> server -> client."""
        if target != "ferry":
            return self.a2x(target, users, n, 1, rate, timeout)
        self.client.send("RESET")
        self.client.send("EXPECT %d" % n)
        c0 = self.cpu()
        self.run_id += 1
        out = subprocess.run([
            os.path.join(TOOLS, "bench_webhook"), "-W", WAHA_SESSION,
            "-u", "http://127.0.0.1:%d/webhook/waha" % self.http_port,
            "-s", WAHA_HMAC_KEY, "-n", str(n), "-k", str(users),
            "-r", str(rate), "-c", str(SENDERS), "-C", "4",
            "-i", "w%s%d%d" % (self.name[0], os.getpid(), self.run_id)],
            capture_output=True, text=True, timeout=timeout)
        m = re.search(r"^DONE (\{.*\})$", out.stdout, re.M)
        if out.returncode != 0 or m is None:
            raise RuntimeError("bench_webhook -W failed: %s %s" %
                               (out.stdout, out.stderr[-2000:]))
        post = json.loads(m.group(1))
        st = self.client.wait("RECV", timeout)
        c1 = self.cpu()
        m = self._metrics(st, n, c0, c1)
        m["post_p50_ms"] = post["p50_us"] / 1000.0
        m["post_p99_ms"] = post["p99_us"] / 1000.0
        return m

    def scen_waha(self):
        """waha_x2a and waha_a2x: the 10-user XMPP-to-API flood and the
        latency run, and the webhook flood and latency run (one event per
        POST: WAHA does not batch), with WAHA accounts; ferry then goes
        back to the Cloud API accounts."""
        saved = self.waha_start()
        try:
            if want("waha_x2a"):
                for label, n, w, rate in (
                        ("waha_x2a_flood_10", N_FLOOD, 3, 0),
                        ("waha_x2a_lat", N_LAT, 4, LAT_RATE)):
                    self.paired(
                        label,
                        lambda warm, n=n, w=w, r=rate: self.x2a(
                            "ferry", WAHA_USERS, n // w if warm else n, r),
                        lambda warm, n=n, w=w, r=rate: self.x2a(
                            "null", WAHA_USERS, n // w if warm else n, r))
            if want("waha_a2x"):
                for label, n, w, rate in (
                        ("waha_a2x_flood", N_FLOOD, 3, 0),
                        ("waha_a2x_lat", N_LAT, 4, LAT_RATE)):
                    self.paired(
                        label,
                        lambda warm, n=n, w=w, r=rate: self.waha_a2x(
                            "ferry", WAHA_USERS, n // w if warm else n, r),
                        lambda warm, n=n, w=w, r=rate: self.waha_a2x(
                            "null", WAHA_USERS, n // w if warm else n, r))
            bad = self.sink.stats().get("bad", 0)
            if bad:
                self.notes.append("WAHA: the sink refused %d of ferry's "
                                  "calls (API key or body)" % bad)
        finally:
            self.ferry.stop()
            self.waha_accounts(saved)
            self.ferry, _ = self.new_ferry(self.store, "ferry")

    def run_all(self, first, big_store_fn):
        """Every scenario on this server; big_store_fn() builds (once) the
        store of the memory scenario."""
        try:
            self.setup()
            if want("x2a"):
                self.scen_x2a()
            if want("a2x"):
                self.scen_a2x()
            if want("waha_x2a") or want("waha_a2x"):
                self.scen_waha()
            if not QUICK and want("roundtrip"):
                self.scen_roundtrip()
            if want("burst"):
                self.scen_burst()
            if first and want("profile"):
                self.scen_profile()
            if want("growth"):
                self.scen_growth()
            if want("backlog"):
                self.scen_backlog()
            if want("memory"):
                self.scen_memory(big_store_fn(self.srv))
        finally:
            self.teardown()


def wait_idle(pid, quiet=0.5, timeout=30):
    """Waits until pid used no CPU for `quiet` s; the seconds it took."""
    t0 = time.monotonic()
    last, since = cpu_s(pid), time.monotonic()
    while time.monotonic() - t0 < timeout:
        time.sleep(0.05)
        c = cpu_s(pid)
        if c - last > 0.002:
            last, since = c, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return since - t0


def perf_report(data, *args):
    out = subprocess.run(["perf", "report", "-i", data, "--stdio",
                          "-g", "none"] + list(args),
                         capture_output=True, text=True, timeout=300)
    return [line for line in out.stdout.splitlines()
            if line.strip() and not line.startswith("#")]


def perf_top(data, n=22):
    """(self time by object, inclusive time of ferry's own functions)."""
    dsos = []
    for line in perf_report(data, "--no-children", "--sort", "dso",
                            "--percent-limit", "0.5"):
        m = re.match(r"\s+([\d.]+)%\s+(\S+)", line)
        if m:
            dsos.append((float(m.group(1)), m.group(2)))
    ours = set()
    for line in sh("nm", "--defined-only", FERRY_BIN).splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "tT":
            ours.add(f[2].split(".")[0])
    prefixes = {f.split("_")[0] + "_" for f in ours
                if "_" in f and not f.startswith("_")}
    funcs, seen = [], {"main", "_start"}
    for line in perf_report(data, "--children", "--sort", "symbol",
                            "--percent-limit", "1"):
        m = re.match(r"\s+([\d.]+)%\s+([\d.]+)%\s+\[.\]\s+(\S+)"
                     r"( \(inlined\))?", line)
        if m is None or m.group(3) in seen:
            continue
        name = m.group(3)
        if name in ours or (m.group(4) and any(name.startswith(p)
                                               for p in prefixes)):
            seen.add(name)
            funcs.append((float(m.group(1)), float(m.group(2)),
                          name + (" (inlined)" if m.group(4) else "")))
    return dsos, funcs[:n]


# --- SQLite prefill ----------------------------------------------------------

def fill_history(path, total):
    """Adds message rows to the accounts and contacts already in the store
    until it holds `total` rows."""
    db = sqlite3.connect(path)
    have = db.execute("SELECT count(*) FROM message").fetchone()[0]
    pairs = db.execute("SELECT account_id, id FROM contact").fetchall()
    if not pairs:
        raise RuntimeError("no contacts to hang history on")
    db.execute("CREATE TEMP TABLE pair (i INTEGER PRIMARY KEY, a, c)")
    db.executemany("INSERT INTO pair VALUES (?, ?, ?)",
                   [(i, a, c) for i, (a, c) in enumerate(pairs)])
    db.execute("""
        WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n
                                WHERE k + 1 < ?1)
        INSERT INTO message (account_id, contact_id, direction, stanza_id,
                             sender, network_id, status, want_receipt,
                             want_markers, created, updated)
        SELECT p.a, p.c, CASE k % 2 WHEN 0 THEN 'o' ELSE 'i' END,
               'hist-' || k, NULL, 'wamid.hist.' || k,
               CASE k % 2 WHEN 0 THEN 3 ELSE 2 END, 1, 1,
               strftime('%s','now') - 86400, strftime('%s','now') - 86400
        FROM n JOIN pair p ON p.i = n.k % ?2""",
               (max(0, total - have), len(pairs)))
    db.commit()
    db.close()


def make_big_store(workdir):
    """A store with MEM_ACCOUNTS accounts, MEM_CONTACTS contacts (all
    subscribed) and MEM_MESSAGES message-map rows. The schema comes from
    ferry itself (started once on an empty file)."""
    path = os.path.join(workdir, "big.sqlite")
    log("building the big store (%d accounts, %d contacts, %d messages)"
        % (MEM_ACCOUNTS, MEM_CONTACTS, MEM_MESSAGES))
    t0 = time.monotonic()
    class Nowhere:  # a component port where nothing listens
        component_secret = "x"
        component_port = free_port()
    f = Ferry(Nowhere, workdir, "http://127.0.0.1:9", free_port(), path,
              name="ferry-schema")
    f.start(until="ferry ")  # "ferry <version> started": schema is there
    f.stop()
    per = MEM_CONTACTS // MEM_ACCOUNTS
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("""
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n
                                WHERE i + 1 < ?1)
        INSERT INTO account (id, jid, backend, network_id, token,
                             display_number, created)
        SELECT i + 1, printf('member%05d@example.test', i), 'cloudapi',
               printf('%d', 200000000000000 + i), 'token-' || i,
               printf('+1 555-%07d', i), strftime('%s','now')
        FROM n""", (MEM_ACCOUNTS,))
    db.execute("""
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n
                                WHERE i + 1 < ?1)
        INSERT INTO contact (id, account_id, network_id, localpart, name,
                             subscription, created)
        SELECT i + 1, i / ?2 + 1, printf('49151%08d', i),
               printf('+49151%08d', i), printf('Contact %d', i), 'both',
               strftime('%s','now')
        FROM n""", (MEM_CONTACTS, per))
    db.commit()
    db.close()
    fill_history(path, MEM_MESSAGES)
    log("big store built in %.1f s (%.0f MB)" % (
        time.monotonic() - t0, os.path.getsize(path) / 1e6))
    return path


# --- the report ---------------------------------------------------------------

def sh(*argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    pkgs = sh("dpkg-query", "-W", "-f", "${Package} ${Version}\\n",
              "prosody", "ejabberd", "libstrophe0", "libcurl4",
              "libmicrohttpd12", "libjson-c5", "libsqlite3-0", "libevent-2.1-7",
              "libssl3")
    return {
        "cpu": "%s, %d CPUs" % (cpu, os.cpu_count()),
        "mem": "%d MiB" % mem,
        "kernel": platform.release(),
        "ferry": sh(FERRY_BIN, "-V"),
        "commit": sh("git", "-C", TOP, "rev-parse", "--short", "HEAD") + (
            " + uncommitted changes in src/" if sh(
                "git", "-C", TOP, "status", "--porcelain", "--", "src",
                "include") else ""),
        "pkgs": pkgs.splitlines(),
    }


def fmt(s, digits=1, scale=1.0):
    if s is None:
        return "-"
    med, lo, hi = (x * scale for x in s)
    if RUNS == 1:
        return "%.*f" % (digits, med)
    return "%.*f (%.*f–%.*f)" % (digits, med, digits, lo, digits, hi)


def ratio_of(a, b):
    """Summary of per-run ratios a[i] / b[i] (runs are interleaved)."""
    return summary([x / y for x, y in zip(a, b) if x and y])


def diff_of(a, b):
    return summary([x - y for x, y in zip(a, b)
                    if x is not None and y is not None])


class Report:
    def __init__(self, benches, started, elapsed):
        self.b = benches
        self.started = started
        self.elapsed = elapsed
        self.lines = []
        self.targets = []

    def w(self, s=""):
        self.lines.append(s)

    def table(self, head, rows):
        self.w("| " + " | ".join(head) + " |")
        self.w("|" + "|".join("---" for _ in head) + "|")
        for r in rows:
            self.w("| " + " | ".join(r) + " |")
        self.w()

    def target(self, name, server, value, limit, better, unit, digits=1,
               worst=None):
        """One row of the Targets table: the median of the runs against
        limit and, with worst (better "le" only), the worst run too."""
        if value is None:
            ok, shown = "not measured", "-"
        else:
            med = value[0]
            met = med <= limit if better == "le" else med >= limit
            if worst is not None:
                met = met and value[2] <= worst
            ok = "met" if met else "**missed**"
            shown = fmt(value, digits) + " " + unit
        bound = ("≤ " if better == "le" else "≥ ") + ("%g %s" % (limit, unit))
        if worst is not None:
            bound += ", worst run ≤ %g" % worst
        r = ("%.2f" % (value[0] / limit)) if value else "-"
        self.targets.append((name, server, shown, bound, r, ok))

    def build(self):
        m = machine()
        self.w("# ferry benchmarks")
        self.w()
        self.w("Written by `make bench` (tests/bench/bench.py) on %s; "
               "the run took %.1f minutes. %s. Do not edit by hand: run "
               "`make bench` again." % (
                   self.started, self.elapsed / 60.0,
                   "**Quick mode (BENCH_QUICK=1): one run, small sizes — a "
                   "smoke test, not a measurement**" if QUICK else
                   "Each number is the median of %d runs, with the minimum "
                   "and maximum in brackets" % RUNS))
        self.w()
        self.w("## Machine and versions")
        self.w()
        self.w("- CPU: %s; memory: %s; kernel %s" % (m["cpu"], m["mem"],
                                                     m["kernel"]))
        self.w("- %s (commit %s), built with CFLAGS `%s`" % (
            m["ferry"], m["commit"] or "?",
            os.environ.get("BENCH_CFLAGS", "?")))
        self.w("- " + "; ".join(m["pkgs"]))
        self.w("- Everything runs on this one machine: the XMPP server, "
               "ferry, the load tools and the Cloud API sink share its "
               "CPUs, so rates are lower and noisier than on a dedicated "
               "server.")
        if LOADS:
            busy = statistics.mean(LOADS) > 1.5 * (os.cpu_count() or 1)
            self.w("- 1-minute load average during the run: mean %.1f, max "
                   "%.1f (%d CPUs).%s" % (
                       statistics.mean(LOADS), max(LOADS), os.cpu_count(),
                       " **Other work was running on the machine: the "
                       "numbers are noisy; compare medians and ratios, not "
                       "single runs.**" if busy else ""))
        self.w()
        self.method()
        for b in self.b:
            self.server_section(b)
        self.targets_section()
        self.profiles_section()
        return "\n".join(self.lines).rstrip() + "\n"

    def method(self):
        self.w("## How it is measured")
        self.w()
        self.w("""\
- **Load tools** (C, tests/bench): `bench_client` logs in %(users)d users
  (libstrophe, one connection each, plaintext c2s) and sends stamped messages
  (`t=<CLOCK_MONOTONIC ns>` in the body) to `+1555000NNNN@gateway`,
  round-robin over %(contacts)d WhatsApp contacts per user, each with a
  receipt request and `<markable/>`; `bench_sink` is a libmicrohttpd Cloud
  API that answers every request at once (and, for the round trip, posts
  signed `delivered` status webhooks); `bench_webhook` posts signed webhooks
  with `batch` stamped text messages each, 4 in parallel; `bench_echo` is
  the null component.
- **Each simulated user has its own business number** (phone_number_id), and
  `cloudapi.throughput` is 1000/s (its maximum), so ferry's per-number token
  bucket never limits a scenario; ferry is registered by each user through
  XEP-0077 (checked against the sink). ferry logs at `info` to a file;
  its `store.synchronous` is `%(sync)s`.
- **Ceiling** ("null"): the same load with ferry replaced by `bench_echo`,
  a component on the same server that only counts (XMPP to API) or only
  pushes messages to the users' bare JIDs (API to XMPP). ferry's ratio is
  its rate over the null component's, run by run (the two are interleaved).
- **Rate**: messages / (last arrival - first stamp). **Latency**: arrival
  at the sink (XMPP to API) or at the client (API to XMPP) minus the stamp;
  for webhooks the stamp is taken when the POST body is built. **Added
  latency**: ferry's percentile minus the null component's at the same rate
  and in the same shape (%(rate)d msg/s, %(nlat)d messages; for webhooks of
  100, the null component pushes bursts of 100 stamped alike, as a
  webhook's messages are: the server's time to route a burst is not
  ferry's).
- **CPU**: the sum of `/proc/PID/task/*/schedstat` of ferry and of the
  server process (lua5.4 for Prosody, beam.smp for ejabberd) over exactly
  the messages of a run, divided by the message count.
- **Floods** send %(nflood)d messages as fast as the server takes them (the
  client keeps %(window)d stanzas queued per connection; webhook floods keep
  4 POSTs in flight). Every series has one smaller warm-up run first.
- **Burst**: %(nburst)d messages at once (XMPP to API: a flood from 10
  users; API to XMPP: webhooks of 100), ferry's RSS sampled every 20 ms
  during and for 2 s after; the ratio is the peak over the RSS just before
  (%(burst_runs)d runs). The third burst (webhooks again) runs while
  %(nhostile)d strangers, each from its own address, declare %(hostile_mib)d MiB
  webhook bodies and trickle them without finishing: ferry holds at most
  `http.max_buffered` (32 MiB) of such bodies and answers the others 503.
- **Growth**: the XMPP-to-API flood (10 users, %(ngrowth)d messages) on a
  fresh copy of a store holding 1k, 10k or 100k message-map rows.
- **Memory and start-up**: a store pre-filled with %(ma)d accounts,
  %(mc)d contacts (all subscribed) and %(mm)d message-map rows; start-up is
  exec to ferry's log line `component: connected`; RSS is read once ferry
  has sent its start-up presences and gone idle; "peak" is VmHWM.
""" % dict(users=MAX_USERS, contacts=CONTACTS, rate=LAT_RATE, nlat=N_LAT,
           sync=SYNC,
           nflood=N_FLOOD, window=64, nburst=N_BURST, burst_runs=BURST_RUNS,
           nhostile=N_HOSTILE, hostile_mib=HOSTILE_BODY >> 20,
           ngrowth=N_GROWTH,
           ma=MEM_ACCOUNTS, mc=MEM_CONTACTS, mm=MEM_MESSAGES))

    def server_section(self, b):
        r = b.res
        d = r.data
        self.w("## %s" % b.name.capitalize())
        self.w()
        self.w("### Throughput and CPU per message")
        self.w()
        rows = []
        labels = [("x2a_flood_1", "XMPP→API, 1 user"),
                  ("x2a_flood_10", "XMPP→API, 10 users"),
                  ("x2a_flood_100", "XMPP→API, 100 users"),
                  ("a2x_flood_b1", "API→XMPP, batches of 1"),
                  ("a2x_flood_b100", "API→XMPP, batches of 100")]
        for key, label in labels:
            fr, nr = d.get(key + ".ferry.rate"), d.get(key + ".null.rate")
            if not fr:
                continue
            rows.append([
                label, fmt(r.get(key + ".ferry.rate"), 0),
                fmt(r.get(key + ".null.rate"), 0),
                fmt(ratio_of(fr, nr), 2),
                fmt(r.get(key + ".ferry.ferry_us")),
                fmt(r.get(key + ".ferry.server_us")),
                fmt(r.get(key + ".null.server_us")),
                fmt(ratio_of(d[key + ".ferry.ferry_us"],
                             d[key + ".ferry.server_us"]), 2)])
        if "roundtrip.ferry_us" in d:
            rows.append(["send + status webhook + receipt, 10 users",
                         fmt(r.get("roundtrip.send_rate"), 0), "-", "-",
                         fmt(r.get("roundtrip.ferry_us")),
                         fmt(r.get("roundtrip.server_us")), "-",
                         fmt(ratio_of(d["roundtrip.ferry_us"],
                                      d["roundtrip.server_us"]), 2)])
        self.table(["scenario", "ferry msg/s", "null msg/s",
                    "ferry / null", "ferry CPU µs/msg",
                    "server CPU µs/msg (ferry run)",
                    "server CPU µs/msg (null run)", "ferry / server CPU"],
                   rows)
        self.w("CPU per 10,000 messages is the µs/msg figure / 100 in "
               "seconds (e.g. 40 µs/msg = 0.4 CPU-s per 10k).")
        self.w()
        self.w("### Latency at %d msg/s" % LAT_RATE)
        self.w()
        self.w("\"Added\" is ferry's figure minus the null component's, run "
               "by run, and the median of those differences. The messages "
               "of the two runs are not the same, so an added p99 is the "
               "difference of two tails, not the tail of a difference: in a "
               "run where the null path's tail was the worse it comes out "
               "negative. The p99 target therefore also bounds the worst "
               "run (≤ %g ms)." % T_ADD_P99_WORST_MS)
        self.w()
        rows = []
        for key, label in [("x2a_lat", "XMPP→API (10 users)"),
                           ("a2x_lat_b1", "API→XMPP, batches of 1"),
                           ("a2x_lat_b100", "API→XMPP, batches of 100")]:
            if key + ".ferry.p50_ms" not in d:
                continue
            rows.append([
                label, fmt(r.get(key + ".ferry.p50_ms"), 2),
                fmt(r.get(key + ".ferry.p99_ms"), 2),
                fmt(r.get(key + ".null.p50_ms"), 2),
                fmt(r.get(key + ".null.p99_ms"), 2),
                fmt(diff_of(d[key + ".ferry.p50_ms"], d[key + ".null.p50_ms"]),
                    2),
                fmt(diff_of(d[key + ".ferry.p99_ms"], d[key + ".null.p99_ms"]),
                    2),
                fmt(r.get(key + ".ferry.ferry_us"))])
        self.table(["path", "ferry p50 ms", "ferry p99 ms", "null p50 ms",
                    "null p99 ms", "added p50 ms", "added p99 ms",
                    "ferry CPU µs/msg"], rows)
        if "a2x_lat_b1.ferry.post_p50_ms" in d:
            self.w("Webhook POST round trip (ferry stores the events, "
                   "commits, answers 200): batches of 1 p50 %s ms, p99 %s "
                   "ms; batches of 100 p50 %s ms, p99 %s ms." % (
                       fmt(r.get("a2x_lat_b1.ferry.post_p50_ms"), 2),
                       fmt(r.get("a2x_lat_b1.ferry.post_p99_ms"), 2),
                       fmt(r.get("a2x_lat_b100.ferry.post_p50_ms"), 2),
                       fmt(r.get("a2x_lat_b100.ferry.post_p99_ms"), 2)))
            self.w()
        self.waha_section(b)
        self.w("### Burst of %d messages" % N_BURST)
        self.w()
        rows = []
        for dirn, label in (
                ("x2a", "XMPP→API"), ("a2x", "API→XMPP (webhooks of 100)"),
                ("hostile", "API→XMPP, %d strangers trickling %d MiB "
                 "bodies" % (N_HOSTILE, HOSTILE_BODY >> 20))):
            k = "burst_" + dirn
            if k + ".peak_mb" not in d:
                continue
            rows.append([label, fmt(r.get(k + ".idle_mb")),
                         fmt(r.get(k + ".peak_mb")),
                         fmt(r.get(k + ".after_mb")),
                         fmt(r.get(k + ".ratio"), 2),
                         fmt(r.get(k + ".seconds")),
                         fmt(r.get(k + ".rate"), 0)])
        self.table(["direction", "RSS before MB", "peak RSS MB",
                    "RSS 2 s after MB", "peak / before", "seconds", "msg/s"],
                   rows)
        if "burst_hostile.refused" in d:
            self.w("With the strangers: %s of their %d bodies refused (503 "
                   "or closed); http.max_buffered is 32 MiB." % (
                       fmt(r.get("burst_hostile.refused"), 0), N_HOSTILE))
            self.w()
        self.w("### Growth of the message map")
        self.w()
        rows = []
        for size in GROWTH:
            k = "growth_%d" % size
            if k + ".ferry_us" in d:
                rows.append(["{:,}".format(size), fmt(r.get(k + ".ferry_us")),
                             fmt(r.get(k + ".rate"), 0),
                             fmt(r.get(k + ".server_us"))])
        self.table(["history rows", "ferry CPU µs/msg", "msg/s",
                    "server CPU µs/msg"], rows)
        self.w("### A backlog under the rate limit")
        self.w()
        rows = []
        for users, n in BACKLOG:
            k = "backlog_%d" % users
            if k + ".queued" not in d:
                continue
            lim, top = ("%s.r%d" % (k, BACKLOG_RATE), "%s.r%d" % (k, API_RATE))
            rows.append(["%d number(s), %s queued" % (
                users, fmt(r.get(k + ".queued"), 0)),
                fmt(r.get(lim + ".ferry_us")), fmt(r.get(lim + ".rate"), 0),
                fmt(r.get(top + ".ferry_us")), fmt(r.get(top + ".rate"), 0),
                fmt(ratio_of(d[lim + ".ferry_us"], d[top + ".ferry_us"]), 2),
                fmt(r.get(k + ".start_ms"), 0)])
        self.table(["backlog (50 contacts per number)",
                    "ferry CPU µs/msg at %d/s" % BACKLOG_RATE, "msg/s",
                    "ferry CPU µs/msg at %d/s" % API_RATE, "msg/s",
                    "%d/s / %d/s" % (BACKLOG_RATE, API_RATE),
                    "start-up CPU ms (subtracted)"], rows)
        self.w("### Memory and start-up")
        self.w()
        if "mem.rss_mb" in d:
            self.table(["accounts / contacts / message rows",
                        "start to connected ms", "RSS when idle MB",
                        "peak RSS (VmHWM) MB", "busy after connect s"],
                       [["{:,} / {:,} / {:,}".format(
                           MEM_ACCOUNTS, MEM_CONTACTS, MEM_MESSAGES),
                         fmt(r.get("mem.start_ms"), 0),
                         fmt(r.get("mem.rss_mb")), fmt(r.get("mem.hwm_mb")),
                         fmt(r.get("mem.settle_s"), 2)]])
        for n in b.notes:
            self.w("- " + n)
        if b.notes:
            self.w()
        self.collect_targets(b)

    def waha_section(self, b):
        """WAHA's rows beside the Cloud API's of the same run (issue 13
        item 8), with their targets."""
        r, d = b.res, b.res.data
        if not any(k.startswith("waha_") for k in d):
            return
        self.w("### WAHA beside the Cloud API")
        self.w()
        self.w("%d users' accounts turned into WAHA sessions (WORKING at the "
               "sink, which answers `POST /api/sendText` 201 with a NOWEB-"
               "style message and every other call 2xx); ferry serves both "
               "back ends. WAHA posts one `message` event per webhook, "
               "signed with `X-Webhook-Hmac` (HMAC-SHA512), so its rows "
               "stand beside the Cloud API's batches of 1." % WAHA_USERS)
        self.w()
        rows = []
        for key, label in (("x2a_flood_10", "XMPP→API, 10 users: Cloud API"),
                           ("waha_x2a_flood_10", "XMPP→API, 10 users: WAHA"),
                           ("a2x_flood_b1", "API→XMPP, 1 per POST: Cloud API"),
                           ("waha_a2x_flood", "API→XMPP, 1 per POST: WAHA")):
            if key + ".ferry.rate" not in d:
                continue
            rows.append([label, fmt(r.get(key + ".ferry.rate"), 0),
                         fmt(r.get(key + ".null.rate"), 0),
                         fmt(ratio_of(d[key + ".ferry.rate"],
                                      d[key + ".null.rate"]), 2),
                         fmt(r.get(key + ".ferry.ferry_us")),
                         fmt(r.get(key + ".ferry.server_us"))])
        self.table(["flood", "ferry msg/s", "null msg/s", "ferry / null",
                    "ferry CPU µs/msg", "server CPU µs/msg (ferry run)"],
                   rows)
        rows = []
        for key, label in (("x2a_lat", "XMPP→API: Cloud API"),
                           ("waha_x2a_lat", "XMPP→API: WAHA"),
                           ("a2x_lat_b1", "API→XMPP, 1 per POST: Cloud API"),
                           ("waha_a2x_lat", "API→XMPP, 1 per POST: WAHA")):
            if key + ".ferry.p50_ms" not in d:
                continue
            rows.append([
                label, fmt(r.get(key + ".ferry.p50_ms"), 2),
                fmt(r.get(key + ".ferry.p99_ms"), 2),
                fmt(diff_of(d[key + ".ferry.p50_ms"], d[key + ".null.p50_ms"]),
                    2),
                fmt(diff_of(d[key + ".ferry.p99_ms"], d[key + ".null.p99_ms"]),
                    2),
                fmt(r.get(key + ".ferry.post_p50_ms"), 2),
                fmt(r.get(key + ".ferry.ferry_us"))])
        self.table(["at %d msg/s" % LAT_RATE, "ferry p50 ms", "ferry p99 ms",
                    "added p50 ms", "added p99 ms", "webhook POST p50 ms",
                    "ferry CPU µs/msg"], rows)
        for key, label in (("waha_x2a_flood_10", "XMPP→API"),
                           ("waha_a2x_flood", "API→XMPP")):
            if key + ".ferry.ferry_us" in d:
                self.target("ferry CPU per message, WAHA " + label, b.name,
                            r.get(key + ".ferry.ferry_us"), T_CPU_US, "le",
                            "µs")
        for key, label in (("waha_x2a_lat", "XMPP→API"),
                           ("waha_a2x_lat", "API→XMPP")):
            if key + ".ferry.p50_ms" in d:
                for p, limit, worst in (
                        ("p50", T_ADD_P50_MS, None),
                        ("p99", T_ADD_P99_MS, T_ADD_P99_WORST_MS)):
                    self.target("added latency %s at %d/s, WAHA %s" % (
                        p, LAT_RATE, label), b.name, diff_of(
                            d["%s.ferry.%s_ms" % (key, p)],
                            d["%s.null.%s_ms" % (key, p)]),
                        limit, "le", "ms", 2, worst)

    def collect_targets(self, b):
        r, d, s = b.res, b.res.data, b.name
        for key, label, users in (
                ("x2a_flood_100", "XMPP→API 100 users", 100),
                ("x2a_flood_10", "XMPP→API 10 users", 10),
                ("x2a_flood_1", "XMPP→API 1 user", 1),
                ("a2x_flood_b1", "API→XMPP batches of 1", 0),
                ("a2x_flood_b100", "API→XMPP batches of 100", 0)):
            if s != "prosody" or key + ".ferry.rate" not in d:
                continue
            self.target("throughput / echo ceiling, " + label, s,
                        ratio_of(d[key + ".ferry.rate"],
                                 d[key + ".null.rate"]),
                        T_RATIO, "ge", "×", 2)
            if users:
                # Cloud API: at most API_RATE messages/s per business
                # number; what bounds a deployment is the lower of the two
                self.target("throughput / min(echo ceiling, %d/s per "
                            "number), %s" % (API_RATE, label), s,
                            ratio_of(d[key + ".ferry.rate"],
                                     [min(x, users * API_RATE) if x else x
                                      for x in d[key + ".null.rate"]]),
                            T_RATIO, "ge", "×", 2)
        for key, label in (("x2a_flood_10", "XMPP→API"),
                           ("a2x_flood_b1", "API→XMPP batches of 1"),
                           ("a2x_flood_b100", "API→XMPP batches of 100")):
            if key + ".ferry.ferry_us" in d:
                self.target("ferry CPU per message, " + label, s,
                            r.get(key + ".ferry.ferry_us"), T_CPU_US, "le",
                            "µs")
                if s == "prosody":
                    self.target("ferry CPU / Prosody CPU, " + label, s,
                                ratio_of(d[key + ".ferry.ferry_us"],
                                         d[key + ".ferry.server_us"]),
                                T_CPU_VS_PROSODY, "le", "×", 2)
        for key, label in (("x2a_lat", "XMPP→API"),
                           ("a2x_lat_b1", "API→XMPP batches of 1"),
                           ("a2x_lat_b100", "API→XMPP batches of 100")):
            if key + ".ferry.p50_ms" in d:
                self.target("added latency p50 at %d/s, %s" % (LAT_RATE, label),
                            s, diff_of(d[key + ".ferry.p50_ms"],
                                       d[key + ".null.p50_ms"]),
                            T_ADD_P50_MS, "le", "ms", 2)
                self.target("added latency p99 at %d/s, %s" % (LAT_RATE, label),
                            s, diff_of(d[key + ".ferry.p99_ms"],
                                       d[key + ".null.p99_ms"]),
                            T_ADD_P99_MS, "le", "ms", 2, T_ADD_P99_WORST_MS)
        if "mem.rss_mb" in d:
            self.target("RSS at %s accounts / %s contacts / %s rows" % (
                "{:,}".format(MEM_ACCOUNTS), "{:,}".format(MEM_CONTACTS),
                "{:,}".format(MEM_MESSAGES)), s, r.get("mem.rss_mb"),
                T_RSS_MB, "le", "MB")
            self.target("peak RSS (VmHWM) at that size", s,
                        r.get("mem.hwm_mb"), T_RSS_MB, "le", "MB")
            self.target("start-up to component connected", s,
                        r.get("mem.start_ms"), T_START_MS, "le", "ms", 0)
        if "burst_hostile.growth_mb" in d:
            self.target("burst of %d with %d strangers' bodies, peak - idle "
                        "RSS (http.max_buffered 32 MiB + 16)" % (
                            N_BURST, N_HOSTILE), s,
                        r.get("burst_hostile.growth_mb"), T_HOSTILE_MB, "le",
                        "MB")
        for dirn, label in (("x2a", "XMPP→API"), ("a2x", "API→XMPP")):
            if "burst_%s.ratio" % dirn in d:
                self.target("burst of %d, peak / idle RSS, %s" % (
                    N_BURST, label),
                    s, r.get("burst_%s.ratio" % dirn), T_BURST_RATIO, "le",
                    "×", 2)
        g = [r.get("growth_%d.ferry_us" % n) for n in GROWTH]
        if all(g):
            self.target("CPU/msg at %s rows over %s rows (flat)" % (
                "{:,}".format(GROWTH[-1]), "{:,}".format(GROWTH[0])), s,
                (g[-1][0] / g[0][0],) * 3, 1.25, "le", "×", 2)

    def targets_section(self):
        self.w("## Targets")
        self.w()
        self.table(["target", "server", "measured", "target", "measured / "
                    "target", "verdict"], [list(t) for t in self.targets])
        self.w("\"Flat\" is read as: at most 25% more CPU per message at "
               "100k rows than at 1k rows.")
        self.w()
        self.w("What bounds the targets still missed (CPU per message, its "
               "ratio to the server's, throughput), with the profile and "
               "the system calls per message: docs/performance.md, \"What "
               "bounds the CPU per message\".")
        self.w()

    def profiles_section(self):
        have = [(b.name, k, v) for b in self.b for k, v in b.profiles.items()]
        if not have:
            return
        self.w("## Where ferry spends its CPU")
        self.w()
        self.w("`perf record -e cpu-clock --call-graph dwarf` on ferry during "
               "a flood (XMPP→API: 100 users, %d messages; API→XMPP: "
               "webhooks of 1, %d messages). First the share of ferry's "
               "samples by object (self time), then ferry's own functions "
               "with their inclusive share (callees counted). In this VM, "
               "`pvm_irq_enable` (kernel) is the cost of system calls." % (
                   2 * N_FLOOD, 2 * N_FLOOD))
        self.w()
        for name, label, (dsos, funcs) in have:
            self.w("### %s, %s" % (name.capitalize(),
                                   "XMPP→API" if label == "x2a" else
                                   "API→XMPP"))
            self.w()
            self.w("Self time by object: " + ", ".join(
                "`%s` %.1f%%" % (o, p) for p, o in dsos) + ".")
            self.w()
            self.table(["inclusive %", "self %", "ferry function"],
                       [["%.1f" % c, "%.1f" % s, "`%s`" % f]
                        for c, s, f in funcs])


def main():
    for tool in ("bench_client", "bench_echo", "bench_sink", "bench_webhook"):
        if not os.access(os.path.join(TOOLS, tool), os.X_OK):
            sys.exit("bench: %s/%s is missing (run `make bench`)" % (TOOLS,
                                                                    tool))
    if not os.access(FERRY_BIN, os.X_OK):
        sys.exit("bench: no ferry at %s" % FERRY_BIN)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t0 = time.monotonic()
    work = tempfile.mkdtemp(prefix="ferry-bench-")
    log("work directory %s; %s mode, %d run(s); servers: %s" % (
        work, "quick" if QUICK else "full", RUNS, ", ".join(SERVERS)))
    benches = []
    big = []

    def big_store(srv):
        if not big:
            big.append(make_big_store(work))
        return big[0]

    try:
        for name in SERVERS:
            b = ServerBench(name, work)
            benches.append(b)
            b.run_all(name == SERVERS[0], big_store)
    finally:
        elapsed = time.monotonic() - t0
        report = Report(benches, started, elapsed).build()
        with open(OUT, "w") as f:
            f.write(report)
        log("wrote %s (%.1f min)" % (OUT, elapsed / 60.0))
        if os.environ.get("BENCH_KEEP"):
            log("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
