# SPDX-License-Identifier: MIT
"""The fake WhatsApp Cloud API (tests/fakes/fake_cloudapi.py) wired to a
ferry, for the end-to-end tests of the Cloud API bridge.

A `Bridge` owns one fake Cloud API (in this process, on its own event loop
thread, on a free loopback port, with its own app secret, verify token and
one business account) and one ferry pointed at it
(`cloudapi_graph_url=http://127.0.0.1:<fake>`); the fake's webhooks go to
`http://127.0.0.1:<ferry.http_port>/webhook/cloudapi`.  The ferry keeps its
store across `kill_ferry()` / `start_ferry()` / `restart_ferry()`.

The helpers cover the XMPP side (register a fresh user with the gateway,
send a message to a contact, wait for errors, receipts and markers) and the
fake's control API (inject inbound messages and statuses, wait for sends,
open the 24-hour window, inject faults).  See conftest_network.py for the
fixtures `bridge` and `make_bridge`.
"""

import json
import os
import re
import signal
import sqlite3
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from xml.sax.saxutils import escape, quoteattr

from .util import TIMEOUT_SCALE, random_secret, wait_for

_FAKES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(
    __file__)), "..", "..", "fakes"))
if _FAKES not in sys.path:
    sys.path.insert(0, _FAKES)
import fake_cloudapi  # noqa: E402  (tests/fakes/fake_cloudapi.py)
from fake_cloudapi import ControlClient, FakeThread  # noqa: E402

NS_REGISTER = "jabber:iq:register"
NS_GATEWAY = "jabber:iq:gateway"
NS_DATA = "jabber:x:data"
NS_RECEIPTS = "urn:xmpp:receipts"
NS_MARKERS = "urn:xmpp:chat-markers:0"
NS_NICK = "http://jabber.org/protocol/nick"
NS_DELAY = "urn:xmpp:delay"
NS_SID = "urn:xmpp:sid:0"
NS_CLIENT = "jabber:client"
NS_ROSTER = "jabber:iq:roster"
NS_OOB = "jabber:x:oob"

API_VERSION = "v21.0"
PNID = "106540352242922"
DISPLAY = "15550783881"
PNID2 = "106540352242933"
DISPLAY2 = "4930901820"
SENTINEL = "15550009999"     # the number flush() writes from

# Defaults for the fake in these tests: fast statuses, quick webhook retries
# (Meta retries for days; 0.5 s, 1 s, 2 s... is plenty here).
FAKE_CONFIG = {"status_delay_ms": 20, "webhook_backoff": 0.5,
               "webhook_max_attempts": 8, "webhook_timeout": 10}

WAIT = 20.0                  # generous default for waits on a busy machine


def digits(s):
    return re.sub(r"\D", "", s or "")


def register_form_xml(pnid, token):
    """<query/> with an XEP-0004 submit form (None leaves a field out)."""
    fields = ["<field var='FORM_TYPE'><value>%s</value></field>"
              % NS_REGISTER]
    if pnid is not None:
        fields.append("<field var='phone_number_id'><value>%s</value>"
                      "</field>" % escape(pnid))
    if token is not None:
        fields.append("<field var='access_token'><value>%s</value></field>"
                      % escape(token))
    return ("<query xmlns='%s'><x xmlns='%s' type='submit'>%s</x></query>"
            % (NS_REGISTER, NS_DATA, "".join(fields)))


def register_legacy_xml(pnid, token):
    parts = []
    if pnid is not None:
        parts.append("<username>%s</username>" % escape(pnid))
    if token is not None:
        parts.append("<password>%s</password>" % escape(token))
    return "<query xmlns='%s'>%s</query>" % (NS_REGISTER, "".join(parts))


def child_id(st, ns, name):
    """The id attribute of the child ns:name of a Stanza, or None."""
    c = st.child(ns, name)
    return None if c is None else c.get("id")


def is_receipt(st, mid=None):
    rid = child_id(st, NS_RECEIPTS, "received")
    return rid is not None and (mid is None or rid == mid)


def is_displayed(st, mid=None):
    rid = child_id(st, NS_MARKERS, "displayed")
    return rid is not None and (mid is None or rid == mid)


def error_text(st):
    e = st.error
    return (e[2] or "") if e else ""


class Tracker:
    """Records every message and presence a client receives, in arrival
    order, with a monotonic timestamp: [(t, Stanza)]."""

    def __init__(self, client):
        from slixmpp.xmlstream.handler import Callback
        from slixmpp.xmlstream.matcher import MatchXPath
        from .clients import Stanza
        import copy
        self.events = []
        self._lock = threading.Lock()
        self.client = client
        name = "tracker-" + uuid.uuid4().hex[:6]

        def on(st):
            s = Stanza(copy.deepcopy(st.xml), str(st))
            with self._lock:
                self.events.append((time.monotonic(), s))

        def install(x):
            for kind in ("message", "presence"):
                x.register_handler(Callback(
                    "%s-%s" % (name, kind),
                    MatchXPath("{%s}%s" % (NS_CLIENT, kind)), on))
            # roster pushes too (XEP-0356 lets the gateway add contacts)
            x.register_handler(Callback(
                "%s-roster" % name,
                MatchXPath("{%s}iq/{%s}query" % (NS_CLIENT, NS_ROSTER)), on))
        client.call(install)

    def snapshot(self):
        with self._lock:
            return list(self.events)

    def index(self, pred):
        """Position of the first recorded stanza matching pred, or None."""
        for i, (_, st) in enumerate(self.snapshot()):
            if pred(st):
                return i
        return None

    def matching(self, pred):
        return [(t, st) for t, st in self.snapshot() if pred(st)]


def is_roster_push_of(st, jid):
    """The roster item for jid in a roster push iq Stanza, or None."""
    if st.kind != "iq" or st.type != "set":
        return None
    for item in st.findall("{%s}query/{%s}item" % (NS_ROSTER, NS_ROSTER)):
        if item.get("jid") == jid:
            return item
    return None


def new_contact_announcement(tracker, cj):
    """How a new contact cj was announced to the user, from the tracker:
    ('subscribe', index, nick) for a subscription request (XEP-0172 nick),
    or ('roster', index, name) for a roster push (XEP-0356, DESIGN.md 7);
    None if neither was seen.  Whichever came first counts."""
    for i, (_, st) in enumerate(tracker.snapshot()):
        if st.kind == "presence" and st.frm == cj and st.type == "subscribe":
            nick = st.child(NS_NICK, "nick")
            return ("subscribe", i, None if nick is None else nick.text)
        item = is_roster_push_of(st, cj)
        if item is not None:
            return ("roster", i, item.get("name"))
    return None


def readable_placeholder(st):
    """A readable text for a message type not bridged as text: a text in
    brackets, or (once bridged natively) an XEP-0066 URL as the body."""
    body = st.body or ""
    oob = st.find("{%s}x/{%s}url" % (NS_OOB, NS_OOB))
    if oob is not None and oob.text and oob.text == body.strip():
        return "oob"
    if body.startswith("[") and "]" in body and len(body) > 5:
        return "text"
    return None


class Bridge:
    """A fake Cloud API plus a ferry attached to it (see module doc)."""

    def __init__(self, server, start_ferry, connect_client, *,
                 fake_config=None, start=True, **ferry_overrides):
        self.server = server
        self.gw = server.component_jid
        self._connect_client = connect_client
        self.app_secret = "app-" + random_secret(24)
        self.verify_token = "verify-" + random_secret(12)
        self.pnid = PNID
        self.token = "EAAG" + random_secret(40)
        self.display = DISPLAY
        self.accounts = {self.pnid: self.token}
        self.user_pnid = {}          # bare JID -> pnid it registered
        config = dict(FAKE_CONFIG)
        config["webhook_timeout"] *= TIMEOUT_SCALE
        config.update(fake_config or {})
        self.fake = FakeThread(
            app_secret=self.app_secret, verify_token=self.verify_token,
            webhook_url="", config=config,
            accounts=[{"pnid": self.pnid, "token": self.token,
                       "display_phone_number": self.display,
                       "verified_name": "Ferry E2E Business"}])
        self.fake_port = self.fake.start()
        self.api_url = "http://127.0.0.1:%d" % self.fake_port
        self.ctl = ControlClient(self.api_url, timeout=35 * TIMEOUT_SCALE)
        overrides = dict(cloudapi_graph_url=self.api_url,
                         cloudapi_api_version=API_VERSION,
                         cloudapi_app_secret=self.app_secret,
                         cloudapi_verify_token=self.verify_token,
                         # the test servers' upload services are on
                         # loopback, which ferry refuses for users' URLs
                         # unless trusted
                         media_trusted_hosts="127.0.0.1")
        overrides.update(ferry_overrides)
        self.ferry = start_ferry(server, start=False, **overrides)
        self.webhook_url = "%s/webhook/cloudapi" % self.ferry.url
        # also for /_control/reset, which goes back to the start-up config
        self.fake.fake.initial_config["webhook_url"] = self.webhook_url
        self.ctl.post("config", {"webhook_url": self.webhook_url})
        if start:
            self.ferry.start()

    def __repr__(self):
        return "<Bridge fake=%s ferry=%r>" % (self.api_url, self.ferry)

    # --- lifecycle ---------------------------------------------------------

    def close(self):
        """Stop ferry (SIGTERM, must exit 0) and the fake; list problems."""
        problems = []
        if self.ferry.alive:
            rc, secs = self.ferry.stop(signal.SIGTERM, timeout=10)
            if rc != 0:
                problems.append("ferry %s exited %s on SIGTERM at teardown "
                                "(after %.2fs)" % (self.ferry.pid, rc, secs))
        try:
            self.fake.stop()
        except Exception as e:  # keep going
            problems.append("stopping the fake Cloud API: %s" % e)
        return problems

    def kill_ferry(self):
        """SIGKILL ferry (no clean shutdown)."""
        return self.ferry.kill()

    def start_ferry(self, wait="connected", timeout=20):
        """Start ferry again with the same config and store."""
        return self.ferry.start(wait=wait, timeout=timeout)

    def restart_ferry(self, timeout=20):
        """SIGTERM (must exit 0), then start with the same store."""
        return self.ferry.restart(timeout=timeout)

    def summary(self, n=40):
        """The fake's recent requests and webhook deliveries, for reports."""
        out = []
        try:
            for r in self.get("requests")[-n:]:
                err = r["response"].get("error", {}).get("code") \
                    if isinstance(r.get("response"), dict) else None
                out.append("req %d %s %s -> %s%s" % (
                    r["seq"], r["method"], r["path"], r["status"],
                    " (code %s)" % err if err is not None else ""))
            for d in self.get("deliveries")[-n:]:
                out.append("webhook #%d %s %s attempts=%s" % (
                    d["id"], d["kind"], d["wamids"][:3],
                    [a["status"] or a["error"] for a in d["attempts"]]))
        except Exception as e:
            out.append("(fake not answering: %s)" % e)
        return "\n".join(out)

    # --- XMPP side: users ----------------------------------------------------

    def client(self, register=True, pnid=None, token=None, legacy=False,
               **kwargs):
        """A fresh XMPP user, logged in; registered with the gateway
        (form) unless register=False.  slixmpp accepts subscription requests
        (auto_authorize) and asks back (auto_subscribe)."""
        c = self._connect_client(self.server, **kwargs)
        if register:
            self.register_ok(c, pnid, token, legacy=legacy)
        return c

    def register(self, client, pnid=None, token=None, legacy=False,
                 payload=None, timeout=WAIT):
        """Send the registration iq set; returns the reply Stanza."""
        pnid = self.pnid if pnid is None else pnid
        token = self.accounts.get(pnid, self.token) if token is None \
            else token
        if payload is None:
            payload = register_legacy_xml(pnid, token) if legacy \
                else register_form_xml(pnid, token)
        return client.iq(self.gw, payload, "set", timeout=timeout)

    def register_ok(self, client, pnid=None, token=None, legacy=False,
                    subscribe=True):
        """Register and check it worked: a result, then `subscribe` from
        the gateway (which the client accepts)."""
        reply = self.register(client, pnid, token, legacy=legacy)
        assert reply.type == "result", \
            "registration of %s failed: %s" % (client.jid, reply.xml)
        self.user_pnid[client.jid] = self.pnid if pnid is None else pnid
        if subscribe:
            client.wait_presence(lambda p: p.frm == self.gw
                                 and p.type == "subscribe", timeout=WAIT)
        return reply

    def unregister(self, client, timeout=WAIT):
        return client.iq(self.gw, "<query xmlns='%s'><remove/></query>"
                         % NS_REGISTER, "set", timeout=timeout)

    def add_account(self, pnid=PNID2, token=None, display=DISPLAY2):
        """Another business number on the fake; returns its token."""
        token = token or "EAAG" + random_secret(40)
        self.ctl.post("accounts", {"pnid": pnid, "token": token,
                                   "display_phone_number": display})
        self.accounts[pnid] = token
        return token

    def contact_jid(self, wa_id):
        return "+%s@%s" % (digits(wa_id), self.gw)

    def send(self, client, wa_id, body, *, receipt=False, markable=False,
             mtype="chat", id=None, extra=()):
        """A message from client to the contact wa_id; returns its id."""
        extras = list(extra)
        if receipt:
            extras.append("<request xmlns='%s'/>" % NS_RECEIPTS)
        if markable:
            extras.append("<markable xmlns='%s'/>" % NS_MARKERS)
        return client.send_message(self.contact_jid(wa_id), body,
                                   mtype=mtype, id=id, extra_xml=extras)

    def send_displayed(self, client, wa_id, wamid):
        """The user's XEP-0333 displayed marker for a received message."""
        return client.send_message(
            self.contact_jid(wa_id), None,
            extra_xml="<displayed xmlns='%s' id=%s/>"
            % (NS_MARKERS, quoteattr(wamid)))

    def wait_error(self, client, mid, timeout=WAIT):
        return client.wait_message(lambda m: m.type == "error"
                                   and m.id == mid, timeout=timeout)

    def wait_receipt(self, client, mid, timeout=WAIT):
        return client.wait_message(lambda m: is_receipt(m, mid),
                                   timeout=timeout)

    def wait_displayed(self, client, mid, timeout=WAIT):
        return client.wait_message(lambda m: is_displayed(m, mid),
                                   timeout=timeout)

    def wait_chat(self, client, wamid, timeout=WAIT):
        return client.wait_message(lambda m: m.id == wamid
                                   and m.type != "error", timeout=timeout)

    def flush(self, client, pnid=None, timeout=WAIT):
        """Make sure ferry has written everything it had queued for client
        before now: inject a text from the SENTINEL number and wait for it
        (ferry writes its inbox in order on one ordered stream).  The
        sentinel message is consumed from the client's queue."""
        pnid = pnid or self.user_pnid.get(client.jid, self.pnid)
        wamid = self.inbound(SENTINEL, "sentinel", name="Sentinel",
                             pnid=pnid)["wamids"][0]
        client.wait_message(lambda m: m.id == wamid, timeout=timeout)
        # its subscription request and our answers are noise here
        return wamid

    # --- the fake: control API ---------------------------------------------

    def get(self, path, **query):
        """GET /_control/<path>?query (ControlClient.get cannot pass a
        query parameter called `method`)."""
        url = "%s/_control/%s" % (self.api_url, path)
        if query:
            url += "?" + urllib.parse.urlencode(query)
        with urllib.request.urlopen(url, timeout=30) as r:
            return json.loads(r.read())

    def config(self, **changes):
        return self.ctl.post("config", changes)

    def fail(self, error, count=1, path_contains="/messages", method="POST"):
        """The next `count` matching Graph requests fail with `error`."""
        return self.ctl.post("fail", {"count": count, "error": error,
                                      "path_contains": path_contains,
                                      "method": method})

    def open_window(self, wa_id, pnid=None):
        body = {"wa_id": digits(wa_id)}
        if pnid:
            body["pnid"] = pnid
        return self.ctl.post("window", body)

    def inbound(self, frm, text="hello", name=None, **spec):
        """Inject a WhatsApp message (a text unless type= says otherwise);
        returns the control answer {wamids, media_ids, delivery}."""
        body = dict(spec)
        body["from"] = digits(frm)
        body.setdefault("type", "text")
        if body["type"] == "text":
            body.setdefault("text", text)
        if name is not None:
            body["name"] = name
        return self.ctl.post("inbound", body)

    def inbound_text(self, frm, text, name=None, **spec):
        """Inject a text; returns its wamid (after the first attempt)."""
        r = self.inbound(frm, text, name=name, **spec)
        return r["wamids"][0]

    def batch(self, items, **options):
        body = dict(options)
        body["batch"] = items
        return self.ctl.post("inbound", body)

    def status(self, wamid, status, **spec):
        body = dict(spec)
        body.update({"wamid": wamid, "status": status})
        return self.ctl.post("status", body)

    def raw_webhook(self, body, signature="good", **options):
        opts = dict(options)
        opts.update({"body": body, "signature": signature})
        return self.ctl.post("webhook/raw", opts)

    def verify(self, **options):
        return self.ctl.post("verify", options)

    def sent(self, to=None, since=0, pnid=None):
        """Accepted sends (text and others), oldest first."""
        q = {}
        if to:
            q["to"] = digits(to)
        if since:
            q["since"] = since
        if pnid:
            q["pnid"] = pnid
        return self.get("sent", **q)

    def sent_bodies(self, to=None, since=0):
        return [s["payload"].get("body") for s in self.sent(to, since)
                if s["type"] == "text"]

    def wait_sent(self, n, to=None, since=0, timeout=WAIT):
        """Wait until at least n sends (to `to`) were accepted; returns them
        all."""
        got = []

        def enough():
            got[:] = self.sent(to, since)
            return len(got) >= n
        try:
            wait_for(enough, timeout, 0.1, "%d sends%s" % (
                n, " to " + to if to else ""))
        except TimeoutError as e:
            raise AssertionError("%s; have %d: %s" % (
                e, len(got), [s["payload"] for s in got][:30])) from None
        return got

    def requests(self, path_contains=None, method=None, since=0):
        q = {}
        if path_contains:
            q["path_contains"] = path_contains
        if method:
            q["method"] = method
        if since:
            q["since"] = since
        return self.get("requests", **q)

    def message_posts(self, since=0):
        """POST .../messages requests that are sends (not mark-read)."""
        return [r for r in self.requests("/messages", "POST", since)
                if not (isinstance(r.get("json"), dict)
                        and r["json"].get("status") == "read")]

    def seq(self):
        """The fake's current sequence number (use as since=)."""
        reqs = self.get("requests")
        sent = self.get("sent")
        return max([r["seq"] for r in reqs] + [s["seq"] for s in sent] + [0])

    def reads(self):
        return self.get("reads")

    def wait_reads(self, n, timeout=WAIT):
        got = []

        def enough():
            got[:] = self.reads()
            return len(got) >= n
        wait_for(enough, timeout, 0.1, "%d mark-read requests" % n)
        return got

    def deliveries(self, **query):
        return self.get("deliveries", **query)

    def idle(self, timeout=30):
        """Wait until the fake has no webhook work pending."""
        r = self.ctl.post("idle", {"timeout": timeout * TIMEOUT_SCALE})
        assert r["idle"], "fake still busy after %ss: %r" % (timeout, r)
        return r

    # --- ferry's store ------------------------------------------------------

    def db(self, sql, *args):
        """Rows of a query on ferry's SQLite store (WAL: readable while
        ferry runs)."""
        con = sqlite3.connect(self.ferry.store_path, timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def count(self, table, where="1", *args):
        return self.db("SELECT count(*) FROM %s WHERE %s" % (table, where),
                       *args)[0][0]


def dump(obj):
    return json.dumps(obj, indent=1, ensure_ascii=False)[:4000]
