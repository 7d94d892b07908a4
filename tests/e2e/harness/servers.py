# SPDX-License-Identifier: MIT
"""Real Prosody 0.12 and ejabberd 23.01 servers on private loopback ports.

The configs (harness/serverconf.py) are a test-only base (loopback ports,
data directories, no TLS, in-band registration) that includes the admin
samples contrib/prosody.cfg.lua and contrib/ejabberd.yml with their
placeholders replaced: VirtualHost example.test, external component
gw.example.test (XEP-0114, random secret), XEP-0356 mod_privilege for the
component, an upload service upload.example.test (Prosody:
mod_http_file_share, ejabberd: mod_http_upload) on a plain-HTTP loopback
port, offline storage.
"""

import os
import shutil
import signal
import subprocess
import time

from . import serverconf
from .util import (LOOPBACK, free_port, pid_alive, port_is_free, random_name,
                   random_secret, tail, tcp_accepts, wait_for)

DOMAIN = "example.test"
COMPONENT_JID = "gw.example.test"
UPLOAD_JID = "upload.example.test"
# A second external component, for tests that need a domain that swallows
# stanzas (a silent remote server) or sends what a component may send:
# harness.rawcomponent.RawComponent connects as it.
SILENT_JID = "silent.example.test"
STOP_TIMEOUT = 15.0
START_TIMEOUT = 30.0
LOGLEVEL = os.environ.get("FERRY_E2E_SERVER_LOGLEVEL", "info")


class ServerError(RuntimeError):
    pass


class XmppServer:
    """One XMPP server instance.  Subclasses implement _spawn/_stop_proc."""

    name = None

    def __init__(self, base_dir):
        self.base_dir = str(base_dir)
        os.makedirs(self.base_dir, exist_ok=True)
        self.domain = DOMAIN
        self.component_jid = COMPONENT_JID
        self.upload_jid = UPLOAD_JID
        self.component_secret = random_secret()
        self.c2s_port = free_port()
        self.component_port = free_port()
        self.http_port = free_port()
        self.silent_jid = SILENT_JID
        self.silent_secret = random_secret()
        self.silent_port = self.component_port
        self.host = LOOPBACK
        self.proc = None
        self.starts = 0
        self.last_start_time = None   # seconds the last start() took
        self.last_stop_time = None
        self.log_path = None          # the server's main log file
        self.stdout_path = None       # its console output

    def __repr__(self):
        return "<%s c2s=%d component=%d http=%d>" % (
            self.name, self.c2s_port, self.component_port, self.http_port)

    # --- lifecycle ---------------------------------------------------------

    def ports(self):
        return [self.c2s_port, self.component_port, self.http_port]

    def is_running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=START_TIMEOUT):
        """Start the server and wait until it accepts clients and components."""
        if self.is_running():
            return
        busy = [p for p in self.ports() if not port_is_free(p)]
        if busy:
            raise ServerError("%s: port(s) %s already in use (an old server "
                              "still running?)" % (self.name, busy))
        t0 = time.monotonic()
        self._spawn()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self._kill_all()
            raise
        self.starts += 1
        self.last_start_time = time.monotonic() - t0

    def stop(self, timeout=STOP_TIMEOUT):
        """Stop the server (SIGTERM, SIGKILL after `timeout`).  Data is kept."""
        if self.proc is None:
            return
        t0 = time.monotonic()
        self._stop_proc(timeout)
        self.proc = None
        self.last_stop_time = time.monotonic() - t0

    def restart(self):
        """Stop and start again on the same ports, keeping all data."""
        self.stop()
        self.start()

    def ensure_running(self):
        """Start the server again if a test left it stopped or it died."""
        if not self.is_running():
            if self.proc is not None:
                self._kill_all()
                self.proc = None
            self.start()

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_tail(self, lines=60, start=0):
        return tail(self.log_path, lines, start)

    # --- accounts ----------------------------------------------------------

    def register(self, user, password, timeout=15):
        """Create user@domain by in-band registration (XEP-0077, slixmpp)."""
        from .clients import XmppClient
        c = XmppClient(self, user, password, register=True,
                       send_presence=False, timeout=timeout)
        c.disconnect()
        return "%s@%s" % (user, self.domain)

    def new_user(self, prefix="u"):
        """Register a fresh random user; returns (user, password)."""
        user = random_name(prefix)
        password = random_secret(16)
        self.register(user, password)
        return user, password

    # --- helpers for subclasses --------------------------------------------

    def _write_config(self, make):
        """Write config_path and snippet_path from serverconf's `make`."""
        text, snippet = make(
            base=self.base_dir, loglevel=LOGLEVEL, c2s_port=self.c2s_port,
            component_port=self.component_port, http_port=self.http_port,
            domain=self.domain, component=self.component_jid,
            upload=self.upload_jid, secret=self.component_secret,
            snippet_out=self.snippet_path, silent=self.silent_jid,
            silent_secret=self.silent_secret, silent_port=self.silent_port)
        with open(self.snippet_path, "w") as f:
            f.write(snippet)
        with open(self.config_path, "w") as f:
            f.write(text)

    def _wait_ports(self, deadline):
        for port in self.ports():
            wait_for(lambda: self._check_alive() and tcp_accepts(port),
                     max(0.1, deadline - time.monotonic()),
                     what="%s port %d" % (self.name, port))

    def _check_alive(self):
        if self.proc.poll() is not None:
            raise ServerError("%s exited with status %s during start-up:\n%s"
                              % (self.name, self.proc.returncode,
                                 self._diag()))
        return True

    def _diag(self):
        return "--- %s ---\n%s\n--- %s ---\n%s" % (
            self.stdout_path, tail(self.stdout_path, 30),
            self.log_path, tail(self.log_path, 30))


# ---------------------------------------------------------------------------
# Prosody

class ProsodyServer(XmppServer):
    name = "prosody"

    def __init__(self, base_dir):
        super().__init__(base_dir)
        self.config_path = os.path.join(self.base_dir, "prosody.cfg.lua")
        self.log_path = os.path.join(self.base_dir, "prosody.log")
        self.stdout_path = os.path.join(self.base_dir, "prosody.stdout")
        os.makedirs(os.path.join(self.base_dir, "data"), exist_ok=True)
        os.makedirs(os.path.join(self.base_dir, "certs"), exist_ok=True)
        # contrib/prosody.cfg.lua, placeholders replaced, is included
        self.snippet_path = os.path.join(self.base_dir, "ferry.cfg.lua")
        self._write_config(serverconf.prosody_config)

    @property
    def upload_url(self):
        return "http://127.0.0.1:%d/file_share" % self.http_port

    def _spawn(self):
        out = open(self.stdout_path, "ab")
        try:
            self.proc = subprocess.Popen(
                ["prosody", "-F", "--config", self.config_path],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.base_dir, start_new_session=True)
        finally:
            out.close()

    def _wait_ready(self, timeout):
        self._wait_ports(time.monotonic() + timeout)

    def _stop_proc(self, timeout):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def _kill_all(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def ctl(self, *args, timeout=30):
        """Run prosodyctl with this server's config; returns CompletedProcess."""
        return subprocess.run(["prosodyctl", "--config", self.config_path]
                              + list(args), capture_output=True, text=True,
                              timeout=timeout, cwd=self.base_dir)


# ---------------------------------------------------------------------------
# ejabberd

EJABBERDCTL_CFG = """\
# Sourced by /usr/sbin/ejabberdctl (--ctl-config).  Generated by the harness.
ERLANG_NODE={node}
EJABBERD_PID_PATH={base}/ejabberd.pid
ERL_DIST_PORT={dist_port}
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 -setcookie {cookie} -kernel inet_dist_use_interface {{127,0,0,1}}"
EJABBERD_BYPASS_WARNINGS=true
EXEC_CMD=as_current_user
"""

INETRC_FALLBACK = """\
{lookup,["file","native"]}.
{host,{127,0,0,1}, ["localhost","hostalias"]}.
{file, resolv, "/etc/resolv.conf"}.
"""


class EjabberdServer(XmppServer):
    name = "ejabberd"

    def __init__(self, base_dir):
        super().__init__(base_dir)
        self.node = "%s@localhost" % random_name("ferry", 8)
        self.dist_port = free_port()
        self.silent_port = free_port()  # its own ejabberd_service listener
        self.cookie = random_name("c", 16)
        self.config_path = os.path.join(self.base_dir, "ejabberd.yml")
        self.ctl_config_path = os.path.join(self.base_dir, "ejabberdctl.cfg")
        self.pid_path = os.path.join(self.base_dir, "ejabberd.pid")
        self.spool = os.path.join(self.base_dir, "spool")
        self.logs = os.path.join(self.base_dir, "logs")
        self.log_path = os.path.join(self.logs, "ejabberd.log")
        self.stdout_path = os.path.join(self.base_dir, "ejabberd.stdout")
        self.beam_pid = None
        for d in (self.spool, self.logs, os.path.join(self.base_dir, "upload")):
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
        try:
            shutil.copy("/etc/ejabberd/inetrc",
                        os.path.join(self.base_dir, "inetrc"))
        except OSError:
            with open(os.path.join(self.base_dir, "inetrc"), "w") as f:
                f.write(INETRC_FALLBACK)
        # contrib/ejabberd.yml, placeholders replaced, is included
        self.snippet_path = os.path.join(self.base_dir, "ferry.yml")
        self._write_config(serverconf.ejabberd_config)
        with open(self.ctl_config_path, "w") as f:
            f.write(EJABBERDCTL_CFG.format(
                node=self.node, base=self.base_dir, dist_port=self.dist_port,
                cookie=self.cookie))

    @property
    def upload_url(self):
        return "http://127.0.0.1:%d/upload" % self.http_port

    def ports(self):
        return super().ports() + [self.dist_port, self.silent_port]

    def _ctl_argv(self):
        return ["ejabberdctl", "--config-dir", self.base_dir,
                "--config", self.config_path,
                "--ctl-config", self.ctl_config_path,
                "--spool", self.spool, "--logs", self.logs]

    def _spawn(self):
        try:
            os.unlink(self.pid_path)
        except FileNotFoundError:
            pass
        self.beam_pid = None
        self._stdout_offset = (os.path.getsize(self.stdout_path)
                               if os.path.exists(self.stdout_path) else 0)
        out = open(self.stdout_path, "ab")
        try:
            self.proc = subprocess.Popen(
                self._ctl_argv() + ["foreground"], stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, cwd=self.base_dir,
                start_new_session=True)
        finally:
            out.close()

    def _new_output(self):
        with open(self.stdout_path, "rb") as f:
            f.seek(self._stdout_offset)
            return f.read().decode("utf-8", "replace")

    def _read_pid(self):
        try:
            with open(self.pid_path) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _wait_ready(self, timeout):
        # The sockets listen before the modules are loaded: wait for the
        # "Start accepting TCP connections" lines (reference §3).
        want = ["Start accepting TCP connections at 127.0.0.1:%d for %s"
                % (p, m) for p, m in ((self.c2s_port, "ejabberd_c2s"),
                                      (self.component_port, "ejabberd_service"),
                                      (self.http_port, "ejabberd_http"))]

        def ready():
            self._check_alive()
            out = self._new_output()
            if "[critical]" in out:
                raise ServerError("ejabberd reported a critical error:\n"
                                  + self._diag())
            return all(w in out for w in want)

        deadline = time.monotonic() + timeout
        wait_for(ready, timeout, 0.05, what="ejabberd start-up log lines")
        self.beam_pid = wait_for(self._read_pid, 5, what="ejabberd pidfile")
        self._wait_ports(deadline + 5)

    def _stop_proc(self, timeout):
        pid = self.beam_pid or self._read_pid()
        if pid and pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            try:
                wait_for(lambda: not pid_alive(pid), timeout, 0.05,
                         what="ejabberd to exit")
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
        else:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill_all()
        self.beam_pid = None

    def _kill_all(self):
        # Never SIGTERM ejabberd mid-startup: that can hang mnesia for
        # seconds.  SIGKILL is fine, the spool is ours.
        pid = self.beam_pid or self._read_pid()
        if pid and pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def _check_alive(self):
        # The wrapper shell (self.proc) lives as long as beam does.
        return super()._check_alive()

    def _diag(self):
        return "--- %s ---\n%s\n--- %s ---\n%s" % (
            self.stdout_path, tail(self.stdout_path, 40, self._stdout_offset),
            self.log_path, tail(self.log_path, 30))

    def ctl(self, *args, timeout=60):
        """Run ejabberdctl against this node (0.5-1 s per call)."""
        return subprocess.run(self._ctl_argv() + list(args),
                              capture_output=True, text=True, timeout=timeout,
                              cwd=self.base_dir)


SERVER_CLASSES = {"prosody": ProsodyServer, "ejabberd": EjabberdServer}


def make_server(name, base_dir):
    """Create (but do not start) a server of type `name`."""
    return SERVER_CLASSES[name](base_dir)
