# SPDX-License-Identifier: MIT
"""Small helpers: free loopback ports, waiting for conditions, random names."""

import errno
import os
import random
import secrets
import socket
import threading
import time

LOOPBACK = "127.0.0.1"

# $FERRY_TIMEOUT_SCALE stretches every wait (wait_for, the clients' waits
# and iqs, ferry's start and stop), e.g. 5 for ferry under valgrind.
TIMEOUT_SCALE = float(os.environ.get("FERRY_TIMEOUT_SCALE") or 1)


def scaled(seconds):
    """A timeout stretched by $FERRY_TIMEOUT_SCALE."""
    return seconds * TIMEOUT_SCALE

_handed_out = set()
_lock = threading.Lock()


def _ephemeral_low():
    """Lowest port the kernel hands out to outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_is_free(port, host=LOOPBACK):
    """True if nothing listens on host:port and we could bind it."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return False
    except OSError:
        pass
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        return True
    except OSError as e:
        if e.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        raise
    finally:
        s.close()


def free_port(host=LOOPBACK):
    """A loopback TCP port that is free now and was not handed out before.

    Ports are picked below the kernel's ephemeral range (checked by binding
    them) so that outgoing connections made while a server is restarting
    cannot take its port; if that fails, the kernel picks one (bind port 0).
    """
    low = min(_ephemeral_low(), 32768)
    with _lock:
        for _ in range(200):
            port = random.randint(max(10000, low - 12000), low - 1)
            if port in _handed_out:
                continue
            if port_is_free(port, host):
                _handed_out.add(port)
                return port
        for _ in range(50):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((host, 0))
                port = s.getsockname()[1]
            finally:
                s.close()
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("no free loopback port found")


def tcp_accepts(port, host=LOOPBACK, timeout=0.2):
    """True if a TCP connect to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(cond, timeout=10.0, interval=0.05, what=None):
    """Poll cond() until it returns a true value, which is returned.

    Raises TimeoutError (mentioning `what`) if it is still false after
    `timeout` seconds (times $FERRY_TIMEOUT_SCALE).  Exceptions raised by
    cond() propagate.
    """
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s"
                               % (timeout, what or getattr(cond, "__name__",
                                                           "condition")))
        time.sleep(interval)


def random_name(prefix="u", n=8):
    """A random lower-case name usable as a JID localpart."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


def random_secret(n=24):
    return secrets.token_hex(n // 2)


def pid_alive(pid):
    """True if a process with this pid exists (and is not a zombie)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def tail(path, lines=60, start=0):
    """The last `lines` lines of a text file, read from byte offset `start`."""
    try:
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read()
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


def http_status_line(s, wait):
    """The status line a server sent on socket s within wait seconds, or ''
    (nothing, or the connection was closed or reset)."""
    s.settimeout(wait)
    got = b""
    try:
        while b"\r\n" not in got:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except OSError:
        pass
    return got.split(b"\r\n", 1)[0].decode("latin-1")
