# SPDX-License-Identifier: MIT
"""XMPP users for the chaos run and the soak: slixmpp clients that stay
logged in across XMPP server restarts, record every message they receive,
and send numbered messages to WhatsApp contacts at a steady pace.

All clients share one asyncio loop in one background thread (`Hub`).  The
records are plain Python data (dicts), read by the ledger after the run.

A user never writes while its session is down: `send` answers False then
and the sender tries again once the client is back (slixmpp would
otherwise queue the stanza until the next session, which hides when it
was really sent).
"""

import asyncio
import collections
import logging
import threading
import time
from xml.sax.saxutils import escape, quoteattr

import slixmpp

NS_CLIENT = "jabber:client"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_RECEIPTS = "urn:xmpp:receipts"
NS_MARKERS = "urn:xmpp:chat-markers:0"
NS_DELAY = "urn:xmpp:delay"

log = logging.getLogger("chaos.clients")


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _ns(tag):
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def message_record(el, user_index, session):
    """The facts of a received <message/> the ledger needs, as a dict."""
    rec = {"t": time.time(), "user": user_index, "session": session,
           "id": el.get("id"), "from": el.get("from"), "type": el.get("type"),
           "body": None, "received": None, "displayed": None, "error": None,
           "delays": []}
    for c in el:
        name, ns = _local(c.tag), _ns(c.tag)
        if name == "body" and ns == NS_CLIENT:
            rec["body"] = c.text or ""
        elif name == "received" and ns == NS_RECEIPTS:
            rec["received"] = c.get("id")
        elif name == "displayed" and ns == NS_MARKERS:
            rec["displayed"] = c.get("id")
        elif name == "delay" and ns == NS_DELAY:
            rec["delays"].append(c.get("from") or "")
        elif name == "error":
            cond, text = None, None
            for e in c:
                if _ns(e.tag) == NS_STANZAS:
                    if _local(e.tag) == "text":
                        text = e.text
                    else:
                        cond = _local(e.tag)
            rec["error"] = "%s%s" % (cond, ": " + text if text else "")
    return rec


class Hub:
    """One asyncio loop in a daemon thread, shared by all users."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name="chaos-xmpp",
                                       daemon=True)
        self.thread.start()

    def _main(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro, timeout=30):
        """Run a coroutine on the loop from another thread; its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(
            timeout)

    def call(self, fn, *args):
        """fn(*args) on the loop thread, fire and forget."""
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self):
        async def cancel_all():
            tasks = [t for t in asyncio.all_tasks()
                     if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            self.run(cancel_all(), 10)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class User:
    """One XMPP user that reconnects after every disconnect.

    received: list of message records (message_record), in arrival order.
    events:   [(wall time, 'online'|'offline', session number)].
    """

    def __init__(self, hub, server, user, password, index, resource=None):
        self.hub = hub
        self.server = server
        self.user = user
        self.password = password
        self.index = index
        self.jid = "%s@%s" % (user, server.domain)
        self.resource = resource or "chaos%d" % index
        self.received = []
        self.events = []
        self.session = 0
        self.online = False
        self.closing = False
        self.lock = threading.Lock()
        self.on_message = None     # optional callback(rec), on the loop
        self.away_until = 0.0      # go_away(): no reconnect before then
        self.x = None
        self._online_event = None

    # --- connection --------------------------------------------------------

    async def start(self, timeout=30):
        self._online_event = asyncio.Event()
        x = slixmpp.ClientXMPP("%s/%s" % (self.jid, self.resource),
                               self.password)
        self.x = x
        x["feature_mechanisms"].unencrypted_plain = True
        x.auto_authorize = True
        x.auto_subscribe = True
        x.whitespace_keepalive = False
        x.add_event_handler("session_start", self._session_start)
        x.add_event_handler("disconnected", self._disconnected)
        x.add_event_handler("connection_failed", self._connection_failed)
        x.register_handler(slixmpp.xmlstream.handler.Callback(
            "chaos messages",
            slixmpp.xmlstream.matcher.MatchXPath("{%s}message" % NS_CLIENT),
            self._message))
        self._connect()
        await asyncio.wait_for(self._online_event.wait(), timeout)

    def _connect(self):
        if self.closing:
            return
        self.x.connect(address=(self.server.host, self.server.c2s_port),
                       use_ssl=False, force_starttls=False,
                       disable_starttls=True)

    def _session_start(self, _):
        self.session += 1
        self.online = True
        with self.lock:
            self.events.append((time.time(), "online", self.session))
        # initial presence: the server hands over what it stored offline
        self.x.send_presence()
        self._online_event.set()

    def _disconnected(self, _):
        was = self.online
        self.online = False
        self._online_event.clear()
        with self.lock:
            self.events.append((time.time(), "offline", self.session))
        if not self.closing:
            log.info("%s disconnected (online=%s); reconnecting", self.jid,
                     was)
            self.hub.loop.call_later(max(0.3, self.away_until - time.time()),
                                     self._connect)

    def _connection_failed(self, _):
        # slixmpp doubles its wait after every failure (up to 300 s);
        # a restarting server is back within seconds: retry every second.
        self.x._connect_loop_wait = 0

    def _message(self, st):
        rec = message_record(st.xml, self.index, self.session)
        if rec["from"] == self.server.domain and rec["body"] is None and \
                rec["error"] is None:
            return      # Prosody's mod_privilege notice
        with self.lock:
            self.received.append(rec)
        if self.on_message is not None:
            self.on_message(rec)

    def relogin(self):
        """Drop the connection (on the loop); the user logs in again by
        itself and gets what the server stored for it."""
        if self.x is not None and self.x.transport is not None:
            self.x.disconnect(wait=1.0)

    def go_away(self, seconds):
        """Log out now (on the loop) and stay away for `seconds`, as a
        team member who closes the laptop: what comes meanwhile waits in
        the server's offline storage (or ferry's inbox)."""
        self.away_until = time.time() + seconds
        if self.x is not None and self.x.transport is not None:
            self.x.disconnect(wait=0.5)

    async def wait_online(self, timeout):
        await asyncio.wait_for(self._online_event.wait(), timeout)

    async def close(self):
        self.closing = True
        if self.x is not None and self.x.transport is not None:
            try:
                await asyncio.wait_for(self.x.disconnect(wait=1.0), 3)
            except Exception:
                self.x.abort()

    # --- sending -------------------------------------------------------------

    def send_chat(self, to, body, mid, receipt=True, markable=True):
        """Write a chat message now if the session is up; True if written.
        Must run on the hub's loop."""
        if not self.online or self.x is None or self.x.transport is None:
            return False
        extra = ""
        if receipt:
            extra += "<request xmlns='%s'/>" % NS_RECEIPTS
        if markable:
            extra += "<markable xmlns='%s'/>" % NS_MARKERS
        xml = ("<message type='chat' to=%s id=%s><body>%s</body>%s</message>"
               % (quoteattr(to), quoteattr(mid), escape(body), extra))
        try:
            self.x.send_raw(xml)
        except Exception:
            return False
        return True

    def snapshot(self):
        with self.lock:
            return list(self.received), list(self.events)


def connect_users(hub, server, credentials, timeout=30):
    """Log in every (user, password) of credentials; the Users."""
    users = [User(hub, server, u, p, i)
             for i, (u, p) in enumerate(credentials)]
    for u in users:
        hub.run(u.start(timeout), timeout + 5)
    return users


def close_users(hub, users):
    for u in users:
        try:
            hub.run(u.close(), 10)
        except Exception:
            pass


class Sender:
    """Sends planned messages (XMPP to WhatsApp) at a steady pace.

    plan: list of dicts {key, user, contact_jid, body, id} in send order.
    rate: messages per second over all users.  Every attempt is recorded in
    attempts[key] = [(wall time, session number)].  A message bounced by the
    XMPP server (an error stanza with its id, e.g. while ferry is not
    connected) is sent again after `bounce_delay` seconds, with the same id
    and body.
    """

    def __init__(self, hub, users, plan, rate, rng, bounce_delay=1.0,
                 max_attempts=20):
        self.hub = hub
        self.users = users
        self.plan = plan
        self.rate = rate
        self.rng = rng
        self.bounce_delay = bounce_delay
        self.max_attempts = max_attempts
        self.attempts = collections.defaultdict(list)
        self.bounces = collections.defaultdict(list)   # key -> [error text]
        self.by_id = {m["id"]: m for m in plan}
        self.done = threading.Event()
        self.sent_first = 0
        self.paused = False
        self._resend = []           # [(due time, message)]
        self.lock = threading.Lock()
        self.task = None

    def start(self):
        for u in self.users:
            prev = u.on_message
            u.on_message = self._bounce_watch(prev)
        fut = asyncio.run_coroutine_threadsafe(self._run(), self.hub.loop)
        self.task = fut

    def _bounce_watch(self, prev):
        def handler(rec):
            if prev is not None:
                prev(rec)
            if rec["type"] == "error" and rec["id"] in self.by_id:
                m = self.by_id[rec["id"]]
                with self.lock:
                    self.bounces[m["key"]].append(rec["error"])
                    if len(self.attempts[m["key"]]) < self.max_attempts:
                        self._resend.append((time.time() + self.bounce_delay,
                                             m))
        return handler

    async def _write(self, m):
        """Write m as soon as its user is online; records the attempt."""
        u = self.users[m["user"]]
        while not u.send_chat(m["contact_jid"], m["body"], m["id"]):
            await asyncio.sleep(0.05)
        with self.lock:
            self.attempts[m["key"]].append((time.time(), u.session))

    async def _flush_resends(self):
        now = time.time()
        with self.lock:
            due = [m for t, m in self._resend if t <= now]
            self._resend = [(t, m) for t, m in self._resend if t > now]
        for m in due:
            await self._write(m)

    async def _run(self):
        gap = 1.0 / self.rate if self.rate > 0 else 0
        next_t = time.monotonic()
        for m in self.plan:
            while self.paused:
                await asyncio.sleep(0.05)
            await self._flush_resends()
            await self._write(m)
            self.sent_first += 1
            next_t += gap * self.rng.uniform(0.5, 1.5)
            delay = next_t - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                next_t = time.monotonic()
        self.done.set()
        # bounces that come in after the last message
        while True:
            await self._flush_resends()
            await asyncio.sleep(0.1)

    def pending_resends(self):
        with self.lock:
            return len(self._resend)

    def resend(self, keys):
        """Send these messages again now (same id and body)."""
        async def go():
            for k in keys:
                await self._write(self.plan_by_key[k])
        self.plan_by_key = {m["key"]: m for m in self.plan}
        self.hub.run(go(), 120)

    def stop(self):
        if self.task is not None:
            self.task.cancel()


def numbered_plan(rng, n, users, contacts_of, gw, prefix):
    """n messages spread over the users and their contacts, with a
    per-contact sequence number in the body and a unique id."""
    plan = []
    seq = collections.Counter()
    for i in range(n):
        u = rng.randrange(len(users))
        c = rng.randrange(len(contacts_of[u]))
        wa = contacts_of[u][c]
        seq[(u, c)] += 1
        s = seq[(u, c)]
        tag = "%s u%d c%d s%d" % (prefix, u, c, s)
        plan.append({"key": tag, "user": u, "contact": c, "wa_id": wa,
                     "seq": s, "contact_jid": "+%s@%s" % (wa, gw),
                     "id": "%s-%d-%d-%d-%06x" % (prefix, u, c, s,
                                                 rng.getrandbits(24)),
                     "body": "%s %s" % (tag, rng.choice(WORDS))})
    return plan


WORDS = ["hello", "on my way", "see you at 5", "ok 👍", "é à ü ß",
         "<b>not bold</b> & co", "call me", "thanks!", "lorem ipsum dolor",
         "what's up?", "\"quoted\" 'text'", "line one\nline two"]


def quiet_slixmpp():
    for name in ("slixmpp", "slixmpp.xmlstream.xmlstream",
                 "slixmpp.basexmpp", "slixmpp.clientxmpp"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
