# SPDX-License-Identifier: MIT
"""Outgoing HTTP under attack or fault (issue 11, points 5, 6, 8 and
12(c); docs/behaviour.md "Bad input: outgoing HTTP"):

- one user's files stuck on a host that never answers do not hold up
  another user's text (a per-account share of the send slots, files
  bounded further, downloads given up on when they trickle);
- a user's link to a host:port ferry has just talked to (the Graph API)
  is not fetched on the kept-alive connection, past the private-address
  check, and its HTTP status is not reported back;
- a send whose outcome ferry cannot learn (the request reached WhatsApp,
  the answer was lost: a proxy's 5xx, an unreadable 200, a dropped
  connection, shutdown) is sent once more, and its user is told it may
  have arrived twice; shutdown waits for sends in flight;
- a media URL in a webhook gets the user's access token only on Meta's
  hosts (the configured Graph host, lookaside.fbsbx.com).

Every test runs against Prosody and ejabberd."""

import http.server
import socket
import threading
import time
import urllib.request
from xml.sax.saxutils import escape

import pytest

from harness.network import PNID2, WAIT, error_text
from harness.util import free_port, wait_for

NS_OOB = "jabber:x:oob"
CONTACT = "4915112345678"
CONTACT2 = "4915198765432"
TWICE = "may have been sent twice"


# --- helpers ------------------------------------------------------------------

class Tarpit:
    """A TCP server on loopback that accepts connections and never answers
    (nor reads); counts how many it holds at once."""

    def __init__(self):
        self.port = free_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.held = []
        self.accepted = 0
        self.most_at_once = 0
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _open(self):
        """Connections the peer has not closed."""
        alive = []
        for c in self.held:
            try:
                c.setblocking(False)
                if c.recv(65536, socket.MSG_PEEK) == b"":
                    c.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                c.close()
                continue
            alive.append(c)
        return alive

    def _run(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                with self.lock:
                    self.held = self._open()
                continue
            except OSError:
                return
            with self.lock:
                self.held = self._open() + [c]
                self.accepted += 1
                self.most_at_once = max(self.most_at_once, len(self.held))

    def open_now(self):
        with self.lock:
            self.held = self._open()
            return len(self.held)

    def close(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()
        with self.lock:
            for c in self.held:
                c.close()
            self.held = []


class Recorder:
    """An HTTP server on loopback that answers every GET with a small
    JPEG and records the request headers."""

    BODY = b"\xff\xd8\xff\xe0" + b"elsewhere" * 50

    def __init__(self):
        self.headers = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                recorder.headers.append(dict(self.headers))
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(recorder.BODY)))
                self.end_headers()
                self.wfile.write(recorder.BODY)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _send_file(bridge, client, to, url):
    """A message with an XEP-0066 URL (the body is the URL)."""
    oob = "<x xmlns='%s'><url>%s</url></x>" % (NS_OOB, escape(url))
    return bridge.send(client, to, url, extra=[oob])


def _metric(ferry, name):
    with urllib.request.urlopen(ferry.url + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def _twice_notice(bridge, client, timeout=WAIT):
    return client.wait_message(lambda m: m.type != "error" and m.body
                               and TWICE in m.body, timeout=timeout)


# --- point 5: fair scheduling ---------------------------------------------------

def test_stuck_files_of_one_user_do_not_hold_another_users_text(make_bridge):
    """User A shares 140 links to a host that accepts and never answers,
    to 140 contacts (one head of queue each, more than the 128 heads a
    pass reads first); user B's text must still go out at once.  Before:
    A's downloads took all 32 send slots, for the 5 minutes of their
    timeout."""
    tarpit = Tarpit()
    b = make_bridge()      # 127.0.0.1 is a trusted host: links are fetched
    try:
        a = b.client()
        b.add_account()
        bc = b.client(pnid=PNID2)
        for i in range(140):
            _send_file(b, a, "4915300000%03d" % i,
                       "http://127.0.0.1:%d/f%d.jpg" % (tarpit.port, i))
        wait_for(lambda: b.count("outbox") >= 140, WAIT, 0.05,
                 "A's 140 files queued")
        wait_for(lambda: tarpit.open_now() >= 4, WAIT, 0.05,
                 "A's downloads stuck on the silent host")
        time.sleep(0.5)    # let the queue hand out whatever it would
        b.open_window(CONTACT2, pnid=PNID2)
        t0 = time.monotonic()
        b.send(bc, CONTACT2, "text from B")
        b.wait_sent(1, CONTACT2, timeout=15)
        waited = time.monotonic() - t0
        stuck = tarpit.open_now()
        assert stuck >= 1, "A's downloads are no longer stuck"
        assert tarpit.most_at_once <= 4, \
            "A held %d downloads at once" % tarpit.most_at_once
        assert waited < 5, "B's text waited %.1fs" % waited
        print("fairness: B's text out after %.2fs while %d of A's downloads "
              "were stuck (at most %d at once, %d accepted)"
              % (waited, stuck, tarpit.most_at_once, tarpit.accepted))
    finally:
        tarpit.close()


def test_download_from_a_silent_host_is_given_up_quickly(make_bridge,
                                                       xmpp_server):
    """A host that accepts and then sends nothing is given up on after the
    low-speed limit (30 s), not after the 5 minute overall timeout; the
    message is retried later (not bounced at once)."""
    if xmpp_server.name != "prosody":
        pytest.skip("HTTP only, and 30 s long: one server is enough")
    tarpit = Tarpit()
    b = make_bridge()
    try:
        c = b.client()
        _send_file(b, c, CONTACT, "http://127.0.0.1:%d/x.jpg" % tarpit.port)
        wait_for(lambda: tarpit.accepted >= 1, WAIT, 0.05, "the download")
        t0 = time.monotonic()
        b.ferry.wait_log(r"attempt 1 failed \(The gateway could not download",
                         timeout=60)
        took = time.monotonic() - t0
        assert 20 < took < 45, "given up after %.1fs" % took
        print("silent host given up after %.1fs" % took)
    finally:
        tarpit.close()


# --- point 6: SSRF through a kept-alive connection -------------------------------

def test_user_link_to_a_host_just_used_is_not_fetched(make_bridge):
    """With no trusted hosts, a user's link to the Graph API's host:port,
    which ferry has just talked to (registration, a send), is refused like
    any internal address: no request reaches it and its HTTP status is not
    reported.  Before: curl reused the kept-alive connection, skipping the
    check in the socket opener, and the user read "HTTP 404"."""
    b = make_bridge(media_trusted_hosts="")
    c = b.client()
    b.open_window(CONTACT)
    b.send(c, CONTACT, "hello")
    b.wait_sent(1, CONTACT)
    before = b.seq()
    url = b.api_url + "/whatsapp_business/attachments/?mid=1&hash=x&f=a.jpg"
    mid = _send_file(b, c, CONTACT, url)
    e = b.wait_error(c, mid)
    assert "own network" in error_text(e), e.xml
    assert "HTTP" not in error_text(e), e.xml
    assert not b.requests(path_contains="/whatsapp_business", since=before), \
        b.requests(since=before)
    # and the Graph API itself still works (its connection is its own)
    b.send(c, CONTACT, "still here")
    b.wait_sent(2, CONTACT)
    print("link to the Graph host: refused (%s)" % error_text(e)[:60])


# --- point 8: sends of unknown outcome -------------------------------------------

def _posts_to(bridge, number):
    return [p for p in bridge.message_posts()
            if p["json"].get("to") == "+" + number]


def test_lost_answers_resent_once_and_user_told(bridge):
    """The send reaches WhatsApp but its answer is lost: a proxy's 502, an
    unreadable 200, a dropped connection.  Each message is sent once more
    (so the contact may have it twice) and its user is told so; the
    metric counts it.  Before: retried silently (up to 25 times)."""
    c = bridge.client()
    bridge.config(window_enforce=False)
    faults = {"491510000201": "html502", "491510000202": "garbled200",
              "491510000203": "drop", "491510000204": "empty"}
    for n, kind in faults.items():
        bridge.fail({"kind": kind, "after": True})
        bridge.send(c, n, "to %s" % n[-3:])
        bridge.wait_sent(2, n)
        bridge.idle()
        posts = _posts_to(bridge, n)
        assert len(posts) == 2, (kind, posts)
        m = _twice_notice(bridge, c)
        assert m.frm == bridge.contact_jid(n), m.xml
        assert "to %s" % n[-3:] in m.body, m.body
    assert not [m for m in c.messages.pending() if m.type == "error"]
    assert _metric(bridge.ferry, "ferry_network_sends_unknown_total") == len(faults)
    rows = bridge.db("SELECT count(*) FROM outbox")[0][0]
    assert rows == 0, bridge.db("SELECT * FROM outbox")
    print("lost answers %s: each sent twice, users told" % list(faults.values()))


def test_refused_sends_retried_without_notice(bridge):
    """An error the API gives when it refuses (its error envelope, even
    with a 5xx) means nothing was sent: retried as before, no notice."""
    c = bridge.client()
    bridge.open_window(CONTACT)
    bridge.fail(131000, count=2)          # 500 with the error envelope
    bridge.fail(2)                        # 503 with the error envelope
    bridge.send(c, CONTACT, "refused first")
    bridge.wait_sent(1, CONTACT, timeout=30)
    bridge.idle()
    assert len(_posts_to(bridge, CONTACT)) == 4
    assert len(bridge.sent(CONTACT)) == 1
    c.assert_no_message(lambda m: m.body and TWICE in m.body, timeout=1)
    assert _metric(bridge.ferry, "ferry_network_sends_unknown_total") == 0


def test_unknown_twice_then_sent_and_told(bridge):
    """Two lost answers in a row: the marked row is retried with the usual
    backoff (a refusal before WhatsApp handled it looks the same, and must
    not lose the message); once through, the user is told it may have
    arrived more than once, once."""
    c = bridge.client()
    bridge.open_window(CONTACT)
    bridge.fail({"kind": "html502", "after": True}, count=2)
    bridge.send(c, CONTACT, "lost twice")
    bridge.wait_sent(3, CONTACT, timeout=30)
    m = _twice_notice(bridge, c)
    assert "lost twice" in m.body, m.body
    bridge.idle()
    assert len(_posts_to(bridge, CONTACT)) == 3
    c.assert_no_message(lambda m: m.body and TWICE in m.body, timeout=1)
    assert _metric(bridge.ferry, "ferry_network_sends_unknown_total") == 2


def test_shutdown_waits_for_a_send_in_flight(make_bridge):
    """SIGTERM while WhatsApp takes 1.5 s to answer a send: ferry waits for
    the answer, so after the restart the message is not sent again.
    Before: the request was cut after 0.8 s and the message sent twice."""
    b = make_bridge()
    c = b.client()
    b.open_window(CONTACT)
    b.config(slow_ms=1500)
    b.send(c, CONTACT, "slow answer")
    wait_for(lambda: _posts_to(b, CONTACT), WAIT, 0.02, "the send")
    rc, secs = b.ferry.stop(timeout=10)
    assert rc == 0
    assert secs >= 1.0, "stopped after %.2fs" % secs
    b.config(slow_ms=0)
    b.start_ferry()
    time.sleep(1.5)
    b.idle()
    assert len(b.sent(CONTACT)) == 1, b.sent(CONTACT)
    print("shutdown waited %.2fs for a send in flight" % secs)


def test_shutdown_with_a_send_unanswered_marks_it(make_bridge):
    """The answer does not come before the stop's bound (3 s): the row is
    marked, sent once more after the restart, and the user told."""
    b = make_bridge()
    c = b.client()
    b.open_window(CONTACT)
    b.fail({"kind": "hang", "seconds": 5, "after": True})
    b.send(c, CONTACT, "no answer")
    wait_for(lambda: b.sent(CONTACT), WAIT, 0.02, "the send")
    rc, secs = b.ferry.stop(timeout=10)
    assert rc == 0 and secs < 6, (rc, secs)
    assert b.db("SELECT unknown FROM outbox") == [(1,)]
    b.start_ferry()
    b.wait_sent(2, CONTACT)
    m = _twice_notice(b, c)
    assert "no answer" in m.body
    print("shutdown with a send unanswered: stopped in %.2fs, sent again "
          "once, user told" % secs)


# --- point 12(c): the token goes to Meta's hosts only ----------------------------

def test_webhook_media_url_elsewhere_gets_no_token(bridge):
    """A media URL in a webhook on another host than the Graph API's gets
    no Authorization header; one on the Graph host still does.  Before:
    the user's access token went to any host a webhook named."""
    rec = Recorder()
    try:
        c = bridge.client()
        r = bridge.inbound(CONTACT, type="image", media_url=(
            "http://127.0.0.1:%d/elsewhere.jpg" % rec.port))
        bridge.wait_chat(c, r["wamids"][0])
        assert rec.headers, "the other host was not asked"
        assert all("Authorization" not in h for h in rec.headers), \
            rec.headers
        r = bridge.inbound(CONTACT, type="image", with_url=True)
        bridge.wait_chat(c, r["wamids"][0])
        downloads = bridge.requests("/whatsapp_business/attachments", "GET")
        assert downloads and downloads[-1]["status"] == 200, downloads
        assert downloads[-1]["headers"]["Authorization"] == \
            "Bearer " + bridge.token
        print("media URL on another host: %d request(s), no token"
              % len(rec.headers))
    finally:
        rec.close()
