# SPDX-License-Identifier: MIT
"""A fake XMPP server: the accept side of XEP-0114 on a plain socket, for
tests that need a server to answer in a way Prosody and ejabberd cannot be
made to (e.g. a server that takes its time to answer disco#info, as
ejabberd does just after a restart: its component port listens before its
modules run).

One component at a time may connect (ferry); each connection gets a stream
id, its <handshake/> is checked against the secret and answered with an
empty <handshake/>.  Every stanza ferry sends is recorded with its arrival
time (`Received`, with `conn`, the connection's number from 1).  The
server answers what ferry waits for: XEP-0199 pings with a result, the
disco#info to its own domain as `plan()` says (a result by default), other
iq get/set with service-unavailable; messages and presences are only
recorded.  `drop()` closes the stream as a restarting server does, and ferry
comes back on a new connection.

The object stands in for the harness's servers where ferryproc and
network.Bridge need one: name, domain, host, component_jid,
component_secret, component_port.
"""

import hashlib
import socket
import threading
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr

from .rawcomponent import Received, _local
from .util import LOOPBACK, TIMEOUT_SCALE, random_secret

NS_COMPONENT = "jabber:component:accept"
NS_STREAMS = "http://etherx.jabber.org/streams"
NS_PING = "urn:xmpp:ping"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def is_ready_query(r, domain):
    """r is a disco#info get to the server's domain."""
    return r.kind == "iq" and r.type == "get" and r.to == domain and \
        r.child(NS_DISCO_INFO, "query") is not None


class _Conn:
    def __init__(self, server, sock, n):
        self.server, self.sock, self.n = server, sock, n
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.stream_id = random_secret(16)
        self.authed = False
        self.closed = False
        self.wlock = threading.Lock()

    def send(self, xml):
        with self.wlock:
            if self.closed:
                return False
            try:
                self.sock.sendall(xml.encode("utf-8"))
                return True
            except OSError:
                return False

    def close(self):
        with self.wlock:
            if self.closed:
                return
            self.closed = True
            try:
                self.sock.sendall(b"</stream:stream>")
            except OSError:
                pass
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()


class FakeXmppServer:
    """See the module doc."""

    name = "fake"

    def __init__(self, domain="example.test", component_jid=None,
                 secret=None):
        self.host = LOOPBACK
        self.domain = domain
        self.component_jid = component_jid or "gw." + domain
        self.component_secret = secret or random_secret()
        self.component_port = None
        self.received = []      # Received, each with .conn
        self.answers = []       # (t, conn, id, "result"|"error") for the
        #                         disco#info queries to the domain
        self.connections = 0
        self._plan = []         # actions for the next disco#info queries
        self._held = []         # (conn, Received) waiting for release()
        self._conn = None
        self._cond = threading.Condition()
        self._listener = None
        self._thread = None
        self._stopping = False

    def __repr__(self):
        return "<FakeXmppServer %s:%s conns=%d>" % (
            self.host, self.component_port, self.connections)

    # --- lifecycle ---------------------------------------------------------

    def start(self):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((self.host, 0))
        self._listener.listen(4)
        self.component_port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._cond:
            conn = self._conn
        if conn is not None:
            conn.close()
        if self._thread is not None:
            self._thread.join(5)

    def drop(self):
        """Close the current stream (as a restarting server does); held
        disco#info queries are forgotten."""
        with self._cond:
            conn, self._conn = self._conn, None
            self._held = [h for h in self._held if h[0] is not conn]
        if conn is not None:
            conn.close()

    # --- what the disco#info to the domain gets ------------------------------

    def plan(self, *actions):
        """Answers for the next disco#info queries to the domain, one per
        query, in order: "result", "error" (internal-server-error) or
        "hold" (answered at release()).  After the plan: a result at
        once."""
        with self._cond:
            self._plan = list(actions)

    def release(self, how="result"):
        """Answer the held disco#info queries (how: "result" or "error");
        returns the time (time.monotonic()) just before the first answer
        was written, or None if none was held."""
        with self._cond:
            held, self._held = self._held, []
        t = None
        for conn, r in held:
            t0 = self._answer_ready(conn, r, how)
            t = t0 if t is None else t
        return t

    def held(self):
        """The disco#info queries held now (Received)."""
        with self._cond:
            return [r for _, r in self._held]

    def _answer_ready(self, conn, r, how):
        if how == "result":
            xml = ("<iq type='result' id=%s from=%s to=%s><query xmlns='%s'>"
                   "<identity category='server' type='im' name='fake'/>"
                   "<feature var='%s'/></query></iq>"
                   % (quoteattr(r.id or ""), quoteattr(self.domain),
                      quoteattr(r.frm or self.component_jid), NS_DISCO_INFO,
                      NS_DISCO_INFO))
        else:
            xml = self._error_xml(r, "wait", "internal-server-error")
        t = time.monotonic()
        with self._cond:
            self.answers.append((t, conn.n, r.id, how))
            self._cond.notify_all()
        conn.send(xml)
        return t

    def _error_xml(self, r, etype, condition):
        return ("<iq type='error' id=%s from=%s to=%s><error type='%s'>"
                "<%s xmlns='%s'/></error></iq>"
                % (quoteattr(r.id or ""), quoteattr(r.to or self.domain),
                   quoteattr(r.frm or self.component_jid), etype, condition,
                   NS_STANZAS))

    # --- the streams ---------------------------------------------------------

    def _accept(self):
        while not self._stopping:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._cond:
                self.connections += 1
                conn = _Conn(self, sock, self.connections)
                old, self._conn = self._conn, conn
            if old is not None:
                old.close()
            threading.Thread(target=self._read, args=(conn,),
                             daemon=True).start()

    def _read(self, conn):
        try:
            while not conn.closed:
                data = conn.sock.recv(65536)
                if not data:
                    break
                conn.parser.feed(data)
                for ev, el in conn.parser.read_events():
                    if not self._event(conn, ev, el):
                        conn.close()
                        return
        except (OSError, ET.ParseError):
            pass
        conn.close()
        with self._cond:
            if self._conn is conn:
                self._conn = None
            self._cond.notify_all()

    def _event(self, conn, ev, el):
        """Handles one parser event; False closes the stream."""
        if ev == "start":
            conn.depth += 1
            if conn.depth == 1:
                conn.send("<?xml version='1.0'?><stream:stream xmlns='%s' "
                          "xmlns:stream='%s' from=%s id='%s'>"
                          % (NS_COMPONENT, NS_STREAMS,
                             quoteattr(el.get("to") or self.component_jid),
                             conn.stream_id))
            return True
        conn.depth -= 1
        if conn.depth == 0:          # </stream:stream>
            return False
        if conn.depth != 1:
            return True
        if _local(el.tag) == "handshake":
            want = hashlib.sha1((conn.stream_id + self.component_secret)
                                .encode()).hexdigest()
            if (el.text or "").strip().lower() != want:
                conn.send("<stream:error><not-authorized xmlns='urn:ietf:"
                          "params:xml:ns:xmpp-streams'/></stream:error>")
                return False
            conn.authed = True
            conn.send("<handshake/>")
            return True
        if not conn.authed:
            return False
        r = Received(el)
        r.conn = conn.n
        with self._cond:
            self.received.append(r)
            self._cond.notify_all()
        if r.kind == "iq" and r.type in ("get", "set"):
            self._iq(conn, r)
        return True

    def _iq(self, conn, r):
        if is_ready_query(r, self.domain):
            with self._cond:
                how = self._plan.pop(0) if self._plan else "result"
                if how == "hold":
                    self._held.append((conn, r))
            if how != "hold":
                self._answer_ready(conn, r, how)
        elif r.type == "get" and r.child(NS_PING, "ping") is not None:
            conn.send("<iq type='result' id=%s from=%s to=%s/>"
                      % (quoteattr(r.id or ""),
                         quoteattr(r.to or self.domain),
                         quoteattr(r.frm or self.component_jid)))
        else:
            conn.send(self._error_xml(r, "cancel", "service-unavailable"))

    # --- sending and waiting -------------------------------------------------

    def send(self, xml):
        """Write xml to ferry's current stream (waits for one)."""
        self.wait_connected()
        with self._cond:
            conn = self._conn
        if conn is None or not conn.send(xml):
            raise AssertionError("no stream to ferry to send %s" % xml[:200])

    def wait_connected(self, conn=None, timeout=10):
        """Wait until ferry has a stream (the conn-th one, if given) that
        passed the handshake."""
        deadline = time.monotonic() + timeout * TIMEOUT_SCALE
        with self._cond:
            while self._conn is None or not self._conn.authed or \
                    (conn is not None and self._conn.n < conn):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("ferry did not connect (stream %s) in "
                                       "%ss; %d connections"
                                       % (conn, timeout, self.connections))
                self._cond.wait(min(left, 0.1))
            return self._conn.n

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
                if left <= 0:
                    raise TimeoutError("fake server: waited %ss for %s; last "
                                       "received: %s" % (timeout, what,
                                                         self.received[-8:]))
                self._cond.wait(left)

    def ready_queries(self, conn=None):
        """The disco#info queries to the domain (on stream conn)."""
        return self.matching(lambda r: is_ready_query(r, self.domain)
                             and (conn is None or r.conn == conn))
