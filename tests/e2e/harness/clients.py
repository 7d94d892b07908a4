# SPDX-License-Identifier: MIT
"""A synchronous wrapper around a slixmpp client, for plain sync tests.

Each XmppClient owns an asyncio loop running in a background thread; every
public method hands work to that loop and waits for the answer with a
timeout.  Received messages and presences are copied into thread-safe
queues of `Stanza` objects (plain ElementTree data, safe to read from the
test thread).
"""

import asyncio
import copy
import itertools
import logging
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import tostring
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath
from slixmpp.xmlstream.matcher.base import MatcherBase

from .util import LOOPBACK, scaled

NS_CLIENT = "jabber:client"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
DEFAULT_TIMEOUT = 10.0

# xep_0100 is left out: in slixmpp it is component-only (it logs an error
# and does nothing when loaded into a client).
DEFAULT_PLUGINS = ("xep_0030", "xep_0199", "xep_0092", "xep_0077", "xep_0004",
                   "xep_0184", "xep_0333", "xep_0085", "xep_0203", "xep_0066",
                   "xep_0050")

log = logging.getLogger("e2e.client")


_ARRIVAL = itertools.count()


class XmppError(Exception):
    """An XMPP error reply.  `.condition`, `.etype`, `.text`, `.stanza`."""

    def __init__(self, condition, etype=None, text=None, stanza=None):
        self.condition = condition
        self.etype = etype
        self.text = text
        self.stanza = stanza
        super().__init__("%s (%s)%s" % (condition, etype,
                                        ": " + text if text else ""))


class ClientError(RuntimeError):
    """Connecting, registering or logging in failed."""


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _ns(tag):
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


class Stanza:
    """A received stanza, as plain data.

    `el` is the ElementTree element (tags are '{ns}name', e.g.
    '{jabber:client}body'); `xml` its serialisation.  Convenience
    attributes: kind ('message', 'presence', 'iq'), frm, to, type, id,
    body, error (None or (type, condition, text)).
    """

    def __init__(self, el, xml=None):
        self.el = el
        self.xml = xml if xml is not None else tostring(el)
        self.kind = _local(el.tag)
        self.frm = el.get("from")
        self.to = el.get("to")
        self.type = el.get("type")
        self.id = el.get("id")

    def __repr__(self):
        return "<Stanza %s>" % self.xml

    @property
    def body(self):
        b = self.el.find("{%s}body" % NS_CLIENT)
        return None if b is None else (b.text or "")

    @property
    def error(self):
        """(type, condition, text) of an <error/> child, or None."""
        err = self.el.find("{%s}error" % NS_CLIENT)
        if err is None:
            return None
        cond, text = None, None
        for child in err:
            if _ns(child.tag) == NS_STANZAS:
                if _local(child.tag) == "text":
                    text = child.text
                else:
                    cond = _local(child.tag)
        return (err.get("type"), cond, text)

    @property
    def error_condition(self):
        e = self.error
        return e[1] if e else None

    def child(self, ns, name=None):
        """First direct child in namespace `ns` (and with local name)."""
        for c in self.el:
            if _ns(c.tag) == ns and (name is None or _local(c.tag) == name):
                return c
        return None

    def find(self, path, namespaces=None):
        return self.el.find(path, namespaces)

    def findall(self, path, namespaces=None):
        return self.el.findall(path, namespaces)

    def has(self, ns, name=None):
        return self.child(ns, name) is not None


class DiscoInfo:
    """disco#info reply: identities [(category, type, lang, name)], features."""

    def __init__(self, iq):
        info = iq["disco_info"]
        self.identities = sorted(info.get_identities(dedupe=False),
                                 key=lambda t: tuple(x or "" for x in t))
        self.features = list(info.get_features(dedupe=False))
        self.node = info["node"]
        self.stanza = Stanza(copy.deepcopy(iq.xml), str(iq))

    def __repr__(self):
        return "<DiscoInfo identities=%r features=%r>" % (self.identities,
                                                          self.features)

    def has_identity(self, category, itype, name=None):
        return any(i[0] == category and i[1] == itype
                   and (name is None or i[3] == name)
                   for i in self.identities)


class _MatchIqReply(MatcherBase):
    """Matches result/error iqs whose id is awaited in `waiters`."""

    def match(self, xml):
        return (xml.name == "iq" and xml["type"] in ("result", "error")
                and xml["id"] in self._criteria)


def _xmpp_error(e):
    iq = e.iq
    return XmppError(iq["error"]["condition"], iq["error"]["type"],
                     iq["error"]["text"] or None,
                     Stanza(copy.deepcopy(iq.xml), str(iq)))


class StanzaQueue:
    """Thread-safe list of received stanzas with predicate waits."""

    def __init__(self, what):
        self.what = what
        self._items = []
        self.history = []
        self._cond = threading.Condition()

    def put(self, st):
        with self._cond:
            self._items.append(st)
            self.history.append(st)
            self._cond.notify_all()

    def wait(self, predicate=None, timeout=DEFAULT_TIMEOUT):
        """Remove and return the first (oldest) item matching predicate."""
        with self._cond:
            found = self._cond.wait_for(lambda: self._find(predicate) is not None,
                                        timeout)
            if not found:
                raise TimeoutError(
                    "no matching %s within %.1fs; pending: %s"
                    % (self.what, timeout,
                       [s.xml[:300] for s in self._items] or "none"))
            i = self._find(predicate)
            return self._items.pop(i)

    def _find(self, predicate):
        for i, st in enumerate(self._items):
            if predicate is None or predicate(st):
                return i
        return None

    def pending(self):
        with self._cond:
            return list(self._items)

    def clear(self):
        with self._cond:
            self._items.clear()

    def __len__(self):
        with self._cond:
            return len(self._items)


class XmppClient:
    """A logged-in (optionally freshly registered) slixmpp client.

    All methods are synchronous and take a `timeout` (seconds).
    """

    def __init__(self, server, user, password, *, register=False,
                 resource=None, timeout=15.0, send_presence=True,
                 plugins=DEFAULT_PLUGINS, plugin_config=None,
                 auto_authorize=True, auto_subscribe=True):
        timeout = scaled(timeout)
        self.server = server
        self.user = user
        self.password = password
        self.jid = "%s@%s" % (user, server.domain)
        self.resource = resource or "e2e-" + uuid.uuid4().hex[:6]
        self.full_jid = None
        self.messages = StanzaQueue("message")
        self.presences = StanzaQueue("presence")
        self.xmpp = None
        self._iq_waiters = {}
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._thread_main,
                                        name="xmpp-" + user, daemon=True)
        self._thread.start()
        try:
            self._call(self._connect(register, send_presence, plugins,
                                     plugin_config or {}, auto_authorize,
                                     auto_subscribe, timeout), timeout + 5)
        except BaseException:
            self.disconnect()
            raise

    def __repr__(self):
        return "<XmppClient %s on %s>" % (self.full_jid or self.jid,
                                          self.server.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.disconnect()

    # --- loop plumbing -----------------------------------------------------

    def _thread_main(self):
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            try:
                pending = asyncio.all_tasks(self._loop)
                for t in pending:
                    t.cancel()
                if pending:
                    self._loop.run_until_complete(
                        asyncio.gather(*pending, return_exceptions=True))
            except Exception:
                pass
            self._loop.close()

    def _call(self, coro, timeout=DEFAULT_TIMEOUT):
        """Run a coroutine on the client's loop; return its result."""
        if self._closed and self.xmpp is not None:
            coro.close()
            raise ClientError("client %s is disconnected" % self.jid)
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return fut.result(timeout)
        except TimeoutError:
            fut.cancel()
            raise TimeoutError("%s: no answer within %.1fs" % (self.jid,
                                                               timeout))

    def call(self, fn, *args, timeout=DEFAULT_TIMEOUT, **kwargs):
        """Escape hatch: run fn(xmpp, *args, **kwargs) on the client's loop.

        If fn returns an awaitable it is awaited.  Example:
        c.call(lambda x: x['xep_0050'].get_commands(jid='gw.example.test'))
        """
        async def run():
            r = fn(self.xmpp, *args, **kwargs)
            if asyncio.isfuture(r) or asyncio.iscoroutine(r) or \
                    hasattr(r, "__await__"):
                r = await r
            return r
        return self._call(run(), timeout)

    # --- connecting --------------------------------------------------------

    async def _connect(self, register, send_presence, plugins, plugin_config,
                       auto_authorize, auto_subscribe, timeout):
        x = slixmpp.ClientXMPP("%s/%s" % (self.jid, self.resource),
                               self.password)
        self.xmpp = x
        for p in plugins:
            x.register_plugin(p, pconfig=plugin_config.get(p))
        x["feature_mechanisms"].unencrypted_plain = True
        x.auto_authorize = auto_authorize
        x.auto_subscribe = auto_subscribe
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        problems = []

        def fail(why):
            if not done.done():
                done.set_exception(ClientError("%s: %s" % (self.jid, why)))

        if register:
            # slixmpp 1.8.3 queues pre-session stanzas forever ("NOT SENT")
            # unless this is set (reference/xmpp-harness.md §5).
            x._always_send_everything = True

            async def on_register(form):
                iq = x.Iq()
                iq["type"] = "set"
                iq["register"]["username"] = self.user
                iq["register"]["password"] = self.password
                try:
                    await iq.send(timeout=timeout)
                except IqError as e:
                    problems.append("registration refused: %s" % _xmpp_error(e))
                    fail(problems[-1])
                except IqTimeout:
                    fail("registration timed out")
            x.add_event_handler("register", on_register)

        def on_session_start(_):
            self.full_jid = str(x.boundjid)
            if not done.done():
                done.set_result(True)

        x.add_event_handler("session_start", on_session_start)
        x.add_event_handler("failed_all_auth",
                            lambda _: fail("authentication failed"))
        x.add_event_handler("connection_failed",
                            lambda e: fail("connection failed: %s" % e))
        x.add_event_handler("disconnected",
                            lambda e: fail("disconnected before the session "
                                           "started: %s" % (problems or e)))
        x.add_event_handler("stream_error",
                            lambda e: fail("stream error: %s" % e))
        x.register_handler(Callback("e2e messages",
                                    MatchXPath("{%s}message" % NS_CLIENT),
                                    self._on_stanza(self.messages)))
        x.register_handler(Callback("e2e presences",
                                    MatchXPath("{%s}presence" % NS_CLIENT),
                                    self._on_stanza(self.presences)))
        x.register_handler(Callback("e2e iq replies",
                                    _MatchIqReply(self._iq_waiters),
                                    self._on_iq_reply))
        x.connect(address=(LOOPBACK, self.server.c2s_port), use_ssl=False,
                  force_starttls=False, disable_starttls=True)
        try:
            await asyncio.wait_for(done, timeout)
        except asyncio.TimeoutError:
            raise ClientError("%s: no session within %.1fs" % (self.jid,
                                                              timeout))
        if send_presence:
            await x.get_roster(timeout=timeout)
            x.send_presence()

    def _on_stanza(self, queue):
        def handler(st):
            if self._is_noise(st.xml):
                return
            s = Stanza(copy.deepcopy(st.xml), str(st))
            s.seq = next(_ARRIVAL)  # the order across messages and presences
            queue.put(s)
        return handler

    def _is_noise(self, el):
        """Prosody's mod_privilege sends users an empty
        <privilege xmlns='urn:xmpp:privilege:2'/> message from the server
        domain; it has nothing to do with the test, so it is dropped."""
        children = list(el)
        return (_local(el.tag) == "message"
                and el.get("from") == self.server.domain
                and len(children) == 1
                and _ns(children[0].tag).startswith("urn:xmpp:privilege:")
                and len(children[0]) == 0)

    def _on_iq_reply(self, iq):
        fut = self._iq_waiters.pop(iq["id"], None)
        if fut is not None and not fut.done():
            fut.set_result(Stanza(copy.deepcopy(iq.xml), str(iq)))

    def disconnect(self, timeout=5.0):
        """Close the stream (politely, then abort) and stop the thread."""
        if self._closed:
            return
        self._closed = True
        if self.xmpp is not None and self._thread.is_alive():
            async def bye():
                try:
                    await asyncio.wait_for(
                        asyncio.shield(self.xmpp.disconnect(wait=1.0)),
                        timeout)
                except Exception:
                    self.xmpp.abort()
            fut = asyncio.run_coroutine_threadsafe(bye(), self._loop)
            try:
                fut.result(timeout + 1)
            except Exception:
                pass
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    @property
    def connected(self):
        return (not self._closed and self.xmpp is not None
                and self.xmpp.transport is not None)

    # --- queries ------------------------------------------------------------

    async def _iq(self, make):
        """Await make() (called on the loop: slixmpp creates futures on the
        current loop), turning IqError/IqTimeout into XmppError/TimeoutError."""
        try:
            return await make()
        except IqError as e:
            raise _xmpp_error(e) from None
        except IqTimeout:
            raise TimeoutError("%s: iq timed out" % self.jid) from None

    def disco_info(self, jid, node=None, timeout=DEFAULT_TIMEOUT):
        """disco#info of jid/node as a DiscoInfo; raises XmppError."""
        timeout = scaled(timeout)
        iq = self._call(self._iq(lambda: self.xmpp["xep_0030"].get_info(
            jid=str(jid), node=node, timeout=timeout)), timeout + 1)
        return DiscoInfo(iq)

    def disco_items(self, jid, node=None, timeout=DEFAULT_TIMEOUT):
        """disco#items of jid/node as a list of (jid, node, name)."""
        timeout = scaled(timeout)
        iq = self._call(self._iq(lambda: self.xmpp["xep_0030"].get_items(
            jid=str(jid), node=node, timeout=timeout)), timeout + 1)
        return [tuple(i) for i in iq["disco_items"]["items"]]

    def ping(self, jid, timeout=DEFAULT_TIMEOUT):
        """XEP-0199 ping; returns the round-trip time in seconds."""
        timeout = scaled(timeout)
        t0 = time.monotonic()
        self._call(self._iq(lambda: self.xmpp["xep_0199"].send_ping(
            str(jid), timeout=timeout)), timeout + 1)
        return time.monotonic() - t0

    def version(self, jid, timeout=DEFAULT_TIMEOUT):
        """XEP-0092: dict with name, version, os."""
        timeout = scaled(timeout)
        iq = self._call(self._iq(lambda: self.xmpp["xep_0092"].get_version(
            str(jid), timeout=timeout)), timeout + 1)
        v = iq["software_version"]
        return {"name": v["name"], "version": v["version"], "os": v["os"]}

    def send_iq_raw(self, xml, timeout=DEFAULT_TIMEOUT):
        """Send an <iq/> given as a string; return the reply Stanza.

        The reply may be type 'result' or 'error' (no exception for
        errors: look at .type / .error).  An id is added if missing.
        Raises TimeoutError if no reply comes.
        """
        timeout = scaled(timeout)
        xml = xml.strip()
        el = ET.fromstring(xml)
        if _local(el.tag) != "iq":
            raise ValueError("send_iq_raw wants an <iq/>")
        iq_id = el.get("id")
        if not iq_id:
            iq_id = "e2e-" + uuid.uuid4().hex[:12]
            xml = re.sub(r"^<iq\b", "<iq id='%s'" % iq_id, xml, count=1)

        async def run():
            fut = asyncio.get_running_loop().create_future()
            self._iq_waiters[iq_id] = fut
            try:
                self.xmpp.send_raw(xml)
                return await asyncio.wait_for(fut, timeout)
            except asyncio.TimeoutError:
                raise TimeoutError("no reply to iq %s within %.1fs"
                                   % (iq_id, timeout)) from None
            finally:
                self._iq_waiters.pop(iq_id, None)
        return self._call(run(), timeout + 1)

    def iq(self, to, payload, itype="get", timeout=DEFAULT_TIMEOUT):
        """Send <iq type=itype to=to>payload</iq>; return the reply Stanza."""
        return self.send_iq_raw("<iq type='%s' to='%s'>%s</iq>"
                                % (itype, to, payload), timeout)

    def get_roster(self, timeout=DEFAULT_TIMEOUT):
        """Fetch the roster from the server; returns the `roster` snapshot."""
        timeout = scaled(timeout)
        self._call(self._iq(lambda: self.xmpp.get_roster(timeout=timeout)),
                   timeout + 1)
        return self.roster

    @property
    def roster(self):
        """{bare jid: {'subscription', 'name', 'groups', 'ask'}} snapshot."""
        async def snap():
            r = self.xmpp.client_roster
            out = {}
            for j in r:
                item = r[j]
                out[str(j)] = {"subscription": item["subscription"],
                               "name": item["name"],
                               "groups": list(item["groups"]),
                               "ask": item["pending_out"]}
            return out
        return self._call(snap())

    # --- sending ------------------------------------------------------------

    def send_message(self, to, body, mtype="chat", id=None, extra_xml=None):
        """Send a message; body None means no <body/>.  Returns its id.

        extra_xml: an XML string (or a list of them) appended as children;
        give them an xmlns, e.g. "<request xmlns='urn:xmpp:receipts'/>".
        """
        mid = id or "e2e-" + uuid.uuid4().hex[:12]
        extras = extra_xml if isinstance(extra_xml, (list, tuple)) else \
            ([extra_xml] if extra_xml else [])

        async def run():
            m = self.xmpp.make_message(mto=str(to), mbody=body, mtype=mtype)
            m["id"] = mid
            for e in extras:
                m.append(ET.fromstring(e) if isinstance(e, str) else e)
            m.send()
        self._call(run())
        return mid

    def send_raw(self, xml):
        """Write raw XML to the stream (as is)."""
        async def run():
            self.xmpp.send_raw(xml)
        self._call(run())

    def send_presence(self, to=None, ptype=None, status=None, show=None,
                      extra_xml=None):
        """Send a presence (ptype e.g. 'subscribe', 'unavailable')."""
        async def run():
            p = self.xmpp.make_presence(pto=str(to) if to else None,
                                        ptype=ptype, pstatus=status,
                                        pshow=show)
            if extra_xml:
                p.append(ET.fromstring(extra_xml))
            p.send()
        self._call(run())

    # --- receiving ----------------------------------------------------------

    def wait_message(self, predicate=None, timeout=DEFAULT_TIMEOUT):
        """Remove and return the oldest received message matching predicate
        (a function Stanza -> bool); raises TimeoutError."""
        return self.messages.wait(predicate, scaled(timeout))

    def wait_presence(self, predicate=None, timeout=DEFAULT_TIMEOUT):
        return self.presences.wait(predicate, scaled(timeout))

    def assert_no_message(self, predicate=None, timeout=1.0):
        """Fail if a message matching predicate arrives within timeout."""
        try:
            m = self.messages.wait(predicate, timeout)
        except TimeoutError:
            return
        raise AssertionError("unexpected message: %s" % m.xml)


def connect_client(server, user=None, password=None, **kwargs):
    """Connect a client; with no user, a fresh random one is registered
    in-band on the same connection.  See XmppClient for kwargs."""
    from .util import random_name, random_secret
    if user is None:
        user = random_name("u")
        password = password or random_secret(16)
        kwargs.setdefault("register", True)
    return XmppClient(server, user, password, **kwargs)
