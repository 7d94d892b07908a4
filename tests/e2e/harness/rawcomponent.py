# SPDX-License-Identifier: MIT
"""A bare XEP-0114 component on a plain socket, for the security tests.

It connects to the test server as its second component (the server's
`silent_jid`, `silent_port`, `silent_secret`), records every stanza the
server routes to it and answers nothing unless a test says so: it stands in
for a remote domain that swallows pings, and it can send what any component
may send (stanzas from its own domain and its users' JIDs, e.g. a
registration with ferry or a forged XEP-0356 advertisement).
"""

import hashlib
import socket
import threading
import time
import xml.etree.ElementTree as ET

from .util import TIMEOUT_SCALE

NS_COMPONENT = "jabber:component:accept"


def _local(tag):
    return tag.rsplit("}", 1)[-1]


class Received:
    """A stanza the component got: kind, frm, to, type, id, el, xml, t
    (time.monotonic() when it came)."""

    def __init__(self, el):
        self.t = time.monotonic()
        self.el = el
        self.xml = ET.tostring(el, encoding="unicode")
        self.kind = _local(el.tag)
        self.frm = el.get("from")
        self.to = el.get("to")
        self.type = el.get("type")
        self.id = el.get("id")

    def child(self, ns, name=None):
        for c in self.el:
            if c.tag.startswith("{%s}" % ns) and \
                    (name is None or _local(c.tag) == name):
                return c
        return None

    def __repr__(self):
        return "<Received %s>" % self.xml[:300]


class RawComponent:
    """Connects as jid with secret to host:port; see the module doc."""

    def __init__(self, host, port, jid, secret):
        self.host, self.port, self.jid, self.secret = host, port, jid, secret
        self.sock = None
        self.received = []
        self._cond = threading.Condition()
        self._thread = None
        self._closed = False
        self._handshake = False

    @classmethod
    def for_server(cls, server):
        return cls(server.host, server.silent_port, server.silent_jid,
                   server.silent_secret)

    def connect(self, timeout=10):
        deadline = time.monotonic() + timeout * TIMEOUT_SCALE
        self.sock = socket.create_connection((self.host, self.port),
                                             timeout=timeout)
        self.sock.settimeout(None)
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self._depth = 0
        self._stream_id = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self.send("<stream:stream xmlns='%s' xmlns:stream="
                  "'http://etherx.jabber.org/streams' to='%s'>"
                  % (NS_COMPONENT, self.jid))
        with self._cond:
            while self._stream_id is None:
                if not self._cond.wait(max(0, deadline - time.monotonic())):
                    raise TimeoutError("no stream header from the server")
        digest = hashlib.sha1((self._stream_id + self.secret).encode())
        self.send("<handshake>%s</handshake>" % digest.hexdigest())
        with self._cond:
            while not self._handshake:
                if self._closed or \
                        not self._cond.wait(max(0, deadline
                                                - time.monotonic())):
                    raise TimeoutError("component handshake failed")
        return self

    def _read(self):
        sock = self.sock  # close() sets self.sock to None while this reads
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                self.parser.feed(data)
                for ev, el in self.parser.read_events():
                    self._event(ev, el)
        except (OSError, ET.ParseError):
            pass
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _event(self, ev, el):
        if ev == "start":
            self._depth += 1
            if self._depth == 1:
                with self._cond:
                    self._stream_id = el.get("id", "")
                    self._cond.notify_all()
            return
        self._depth -= 1
        if self._depth != 1:
            return
        with self._cond:
            if _local(el.tag) == "handshake":
                self._handshake = True
            else:
                self.received.append(Received(el))
            self._cond.notify_all()

    def send(self, xml):
        self.sock.sendall(xml.encode("utf-8"))

    def matching(self, pred=None):
        with self._cond:
            return [r for r in self.received if pred is None or pred(r)]

    def wait(self, pred, timeout=10, what="a stanza"):
        """The first received stanza matching pred (waits for it)."""
        deadline = time.monotonic() + timeout * TIMEOUT_SCALE
        with self._cond:
            while True:
                for r in self.received:
                    if pred(r):
                        return r
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise TimeoutError("%s: waited for %s; got %s"
                                       % (self.jid, what,
                                          self.received[-5:]))
                self._cond.wait(left)

    def close(self):
        if self.sock is None:
            return
        try:
            self.send("</stream:stream>")
        except OSError:
            pass
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.sock = None
        if self._thread is not None:
            self._thread.join(5)
