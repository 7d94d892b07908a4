# SPDX-License-Identifier: MIT
"""Running the ferry daemon under test: config files, start, health, stop."""

import json
import os
import re
import shlex
import signal
import subprocess
import time
import urllib.error
import urllib.request

from .util import LOOPBACK, free_port, scaled, tail, wait_for

# The checkout's root (tests/e2e/harness/ -> ../../..) and the places a
# build leaves the binary, tried in this order when $FERRY_BIN is unset.
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
BIN_CANDIDATES = ("build/werror/ferry", "build/dev/ferry", "build/asan/ferry",
                  "ferry")
START_TIMEOUT = 15.0
GATEWAY_NAME = "Ferry Test"

SECTION_ORDER = ("component", "gateway", "store", "http", "network",
                 "cloudapi", "media", "log")

# Lines of a sanitizer report (ASan, LSan, UBSan, "runtime error:").
SANITIZER_RE = re.compile(
    r"(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
    r"ThreadSanitizer|MemorySanitizer|runtime error:)")

# $FERRY_WRAPPER: a command ferry runs under, e.g. "valgrind
# --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
# --track-fds=no -q" (set FERRY_TIMEOUT_SCALE=5 too).  Its reports go to
# ferry's log; the first line of each valgrind error ("==PID== Invalid
# read...", "... definitely lost in loss record ...") counts as a report.
WRAPPER = shlex.split(os.environ.get("FERRY_WRAPPER", ""))
VALGRIND_HEAD_RE = re.compile(r"^==\d+== (?! )(.+)$")
VALGRIND_NOT_ERROR_RE = re.compile(
    r"^(Warning: |Thread \d+|.*(possibly|indirectly) lost in loss record|"
    r".*still reachable in loss record)")


def valgrind_reports(text):
    """The first line of every valgrind error in text (with -q, valgrind
    prints nothing else but warnings and leaks that are not errors)."""
    out = []
    for line in text.splitlines():
        m = VALGRIND_HEAD_RE.match(line)
        if m and not VALGRIND_NOT_ERROR_RE.match(m.group(1)):
            out.append(line)
    return out


def ferry_bin():
    """The ferry binary to test: $FERRY_BIN, else the first of
    BIN_CANDIDATES (relative to the checkout's root, then to the current
    directory, e.g. a build directory) that is an executable file.  When
    none is, the first candidate's path (so messages name it)."""
    env = os.environ.get("FERRY_BIN")
    if env:
        return env
    for base in (TOP, os.getcwd()):
        for rel in BIN_CANDIDATES:
            path = os.path.join(base, rel)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
    return os.path.join(TOP, BIN_CANDIDATES[0])


def synchronous():
    """store.synchronous for the ferries the harness starts: ferry's own
    default, full, unless FERRY_E2E_SYNCHRONOUS says otherwise."""
    return os.environ.get("FERRY_E2E_SYNCHRONOUS", "full")


def default_config(server, http_port, store_path):
    """The config sections (dict of dicts) for a ferry attached to server."""
    return {
        "component": {
            "jid": server.component_jid,
            "secret": server.component_secret,
            "host": LOOPBACK,
            "port": str(server.component_port),
        },
        "gateway": {
            "name": GATEWAY_NAME,
            "allowed_domains": server.domain,
            "admins": "admin@" + server.domain,
        },
        "store": {"path": store_path, "synchronous": synchronous()},
        "http": {
            "listen": "%s:%d" % (LOOPBACK, http_port),
            "public_url": "http://%s:%d" % (LOOPBACK, http_port),
        },
        "network": {"backend": "cloudapi"},
        "cloudapi": {
            # Port 9 (discard) on loopback: nothing listens, requests fail
            # fast.  Tests that talk to the fake API override graph_url.
            "graph_url": "http://127.0.0.1:9",
            "api_version": "v21.0",
            "app_secret": "e2e-app-secret",
            "verify_token": "e2e-verify-token",
            "throughput": "80",
        },
        "media": {"upload_service": "", "max_size": "104857600"},
        "log": {"level": "debug", "destination": "stderr"},
    }


def apply_overrides(cfg, overrides):
    """section_key=value overrides; the first underscore splits section and
    key (cloudapi_graph_url -> [cloudapi] graph_url).  None removes a key."""
    for name, value in overrides.items():
        if "_" not in name:
            raise TypeError("config override %r is not section_key" % name)
        section, key = name.split("_", 1)
        sec = cfg.setdefault(section, {})
        if value is None:
            sec.pop(key, None)
        else:
            sec[key] = value if isinstance(value, str) else str(value)
    return cfg


def render_config(cfg):
    """INI text of a config dict, known sections first, in a stable order."""
    out = ["# ferry config written by the e2e harness"]
    names = [s for s in SECTION_ORDER if s in cfg] + \
        [s for s in cfg if s not in SECTION_ORDER]
    for section in names:
        out.append("")
        out.append("[%s]" % section)
        for key, value in cfg[section].items():
            out.append(("%s = %s" % (key, value)).rstrip())
    return "\n".join(out) + "\n"


def http_get(url, timeout=2.0, headers=None):
    """GET url -> (status, body bytes, headers); status None if no answer."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)
    except (urllib.error.URLError, OSError):
        return None, None, None


class FerryProcess:
    """One ferry daemon.  Created and started by the start_ferry fixture."""

    def __init__(self, binary, workdir, server, cfg, env=None, args=()):
        self.binary = binary
        self.workdir = str(workdir)
        self.server = server
        self.cfg = cfg
        self.conf_path = os.path.join(self.workdir, "ferry.conf")
        self.log_path = os.path.join(self.workdir, "ferry.log")
        self.store_path = cfg.get("store", {}).get("path")
        listen = cfg.get("http", {}).get("listen", "")
        self.http_port = int(listen.rsplit(":", 1)[1]) if ":" in listen \
            else None
        self.extra_args = list(args)
        self.env = dict(os.environ)
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.env.update(env or {})
        self.proc = None
        self.runs = 0
        self.stops = []         # (signal, exit code, seconds) per stop()
        self.write_config()

    def __repr__(self):
        return "<ferry pid=%s http=%s conf=%s>" % (
            self.pid, self.http_port, self.conf_path)

    def write_config(self, text=None):
        """(Re)write the config file from self.cfg, or from raw text."""
        with open(self.conf_path, "w") as f:
            f.write(text if text is not None else render_config(self.cfg))

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def url(self):
        return "http://%s:%d" % (LOOPBACK, self.http_port)

    def argv(self):
        return WRAPPER + [self.binary, "-c", self.conf_path, "-d"] + \
            self.extra_args

    def start(self, wait="connected", timeout=START_TIMEOUT):
        """Start ferry.  wait: 'connected' (health says component
        connected), 'http' (health answers at all) or None."""
        assert not self.alive, "ferry already running"
        self.runs += 1
        with open(self.log_path, "ab") as log:
            log.write(b"===== e2e harness: run %d: %s =====\n"
                      % (self.runs, " ".join(self.argv()).encode()))
            log.flush()
            self.proc = subprocess.Popen(
                self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=self.env, cwd=self.workdir,
                start_new_session=True)
        if wait == "connected":
            self.wait_health("connected", timeout)
        elif wait == "http":
            self.wait_http(timeout)
        return self

    def health(self, timeout=2.0):
        """GET /health -> (status code, parsed JSON or None).

        (None, None) if nothing answers."""
        status, body, _ = http_get(self.url + "/health", timeout)
        if status is None:
            return None, None
        try:
            return status, json.loads(body)
        except ValueError:
            return status, None

    def _check_running(self):
        if not self.alive:
            raise AssertionError(
                "ferry exited with status %s\n--- ferry log ---\n%s"
                % (self.proc.returncode if self.proc else None,
                   self.log_tail(80)))

    def wait_http(self, timeout=START_TIMEOUT):
        """Wait until /health answers (any status)."""
        def up():
            self._check_running()
            return self.health()[0] is not None
        self._wait(up, timeout, "ferry's /health to answer")

    def wait_health(self, component="connected", timeout=START_TIMEOUT):
        """Wait until /health reports this component state; returns
        (status, json)."""
        last = [None]

        def ok():
            self._check_running()
            st, js = self.health()
            last[0] = (st, js)
            if js and js.get("component") == component:
                return st, js
            return None
        return self._wait(ok, timeout, "/health component=%s (last: %r)"
                          % (component, last))

    def wait_log(self, pattern, timeout=10.0, flags=re.I):
        """Wait until a log line matches the regex; returns the line."""
        rx = re.compile(pattern, flags)

        def found():
            for line in self.log_text().splitlines():
                if rx.search(line):
                    return line
            self._check_running()
            return None
        return self._wait(found, timeout, "ferry log line /%s/" % pattern)

    def log_lines(self, pattern, flags=re.I):
        """All log lines matching the regex."""
        rx = re.compile(pattern, flags)
        return [l for l in self.log_text().splitlines() if rx.search(l)]

    def _wait(self, cond, timeout, what):
        try:
            return wait_for(cond, timeout, 0.05, what)
        except TimeoutError as e:
            raise AssertionError("%s\n--- ferry log ---\n%s"
                                 % (e, self.log_tail(80))) from None

    def log_text(self):
        """Everything ferry wrote to stdout/stderr (all runs)."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=60):
        return tail(self.log_path, lines)

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Send sig and wait; returns (exit code, seconds to exit).

        The exit code is negative for death by signal (Popen convention).
        If ferry has not exited after `timeout`, it is SIGKILLed and the
        code is -9."""
        if self.proc is None:
            raise AssertionError("ferry was never started")
        if self.proc.poll() is not None:
            return self.proc.returncode, 0.0
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(5)
        elapsed = time.monotonic() - t0
        self.stops.append((sig, rc, elapsed))
        return rc, elapsed

    def kill(self):
        """SIGKILL ferry (no clean shutdown); returns the exit code."""
        if self.alive:
            self.proc.kill()
            self.stops.append((signal.SIGKILL, self.proc.wait(5), 0.0))
        return self.proc.returncode if self.proc else None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def restart(self, wait="connected", timeout=START_TIMEOUT):
        """SIGTERM, then start again with the same config and store."""
        if self.alive:
            rc, _ = self.stop()
            assert rc == 0, "ferry exited %s on SIGTERM before restart" % rc
        return self.start(wait, timeout)

    def sanitizer_reports(self):
        """Log lines that belong to sanitizer reports, and the first line of
        each valgrind error."""
        text = self.log_text()
        return [l for l in text.splitlines() if SANITIZER_RE.search(l)] + \
            valgrind_reports(text)

    def check(self, binary_args, timeout=10.0):
        """Run `ferry -n -c CONF` (or other args) to completion."""
        return run_ferry(self.binary, binary_args, self.env, timeout)


def run_ferry(binary, args, env=None, timeout=10.0):
    """Run the ferry binary with args to completion; CompletedProcess."""
    e = dict(os.environ)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    e.update(env or {})
    return subprocess.run(WRAPPER + [binary] + list(args), capture_output=True,
                          text=True, timeout=scaled(timeout), env=e,
                          stdin=subprocess.DEVNULL)


def make_ferry(binary, workdir, server, env=None, args=(), config_text=None,
               **overrides):
    """Create a FerryProcess (not started) with a fresh store and port."""
    os.makedirs(str(workdir), exist_ok=True)
    http_port = free_port()
    store = os.path.join(str(workdir), "ferry.sqlite")
    cfg = apply_overrides(default_config(server, http_port, store), overrides)
    f = FerryProcess(binary, workdir, server, cfg, env, args)
    if config_text is not None:
        # Raw config: @HTTP_PORT@, @STORE_PATH@, @COMPONENT_PORT@ and
        # @COMPONENT_SECRET@ are replaced by this instance's values.
        for token, value in (("@HTTP_PORT@", http_port), ("@STORE_PATH@", store),
                             ("@COMPONENT_PORT@", server.component_port),
                             ("@COMPONENT_SECRET@", server.component_secret)):
            config_text = config_text.replace(token, str(value))
        f.write_config(config_text)
    return f
