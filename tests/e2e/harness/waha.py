# SPDX-License-Identifier: MIT
"""The fake WAHA (tests/fakes/fake_waha.py) beside the fake Cloud API, wired
to one ferry that serves both (`[network] backends = cloudapi, waha`), for
the end-to-end tests of personal accounts (issue 13).

A `WahaGateway` owns a `harness.network.Bridge` (the fake Cloud API and the
ferry, whose Cloud API helpers keep working: a registration without a
`network` field is a Cloud API one) and a fake WAHA on its own loop thread
with an API key; ferry gets `waha_url`, `waha_api_key` and a
`webhook_hmac_key`, which it puts in each session's webhook config.  The
fake runs with fast timings and rotates the QR code only when told
(`rotate()`).

Helpers: `register(client, phone=None)` (the XEP-0077 form with network =
waha), `session_of(client)` (the session ferry created, from its store),
`wait_qr(client)` (the gateway's XEP-0066 message), `scan(...)`,
`inbound(...)` / `ack(...)` / `raw_webhook(...)` on the fake's control API,
`sent(...)` its accepted sends.
"""

import json
import os
import sys
import urllib.request
from xml.sax.saxutils import escape

from .network import NS_DATA, NS_OOB, NS_REGISTER, WAIT, Bridge
from .util import TIMEOUT_SCALE, random_secret, wait_for

_FAKES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(
    __file__)), "..", "..", "fakes"))
if _FAKES not in sys.path:
    sys.path.insert(0, _FAKES)
from fake_waha import ControlClient, WahaThread  # noqa: E402

# Fast and deterministic: the QR rotates only on rotate(), sends to a
# session that is not WORKING get their 422 at once, webhook retries come
# 0.2 s apart.
WAHA_CONFIG = {"starting_seconds": 0.05, "ack_delay_ms": 5,
               "not_working_wait": 0.2, "retry_delay_scale": 0.1,
               "qr_rotate_seconds": 0, "webhook_timeout": 10}
ME_PHONE = "15550001111"
ME_NAME = "Wanda"


def register_waha_xml(phone=None):
    """The XEP-0077 form choosing WAHA, with the optional phone."""
    fields = ["<field var='FORM_TYPE'><value>jabber:iq:register</value>"
              "</field>", "<field var='network'><value>waha</value></field>"]
    if phone is not None:
        fields.append("<field var='phone'><value>%s</value></field>"
                      % escape(phone))
    return ("<query xmlns='%s'><x xmlns='%s' type='submit'>%s</x></query>"
            % (NS_REGISTER, NS_DATA, "".join(fields)))


def oob_url(st):
    x = st.el.find("{%s}x" % NS_OOB)
    return None if x is None else x.findtext("{%s}url" % NS_OOB)


class WahaGateway:
    """A fake Cloud API, a fake WAHA and a ferry serving both."""

    def __init__(self, server, start_ferry, connect_client, *,
                 waha_config=None, start=True, **ferry_overrides):
        self.server = server
        self.gw = server.component_jid
        self.api_key = "waha-" + random_secret(20)
        self.hmac_key = "hmac-" + random_secret(20)
        config = dict(WAHA_CONFIG)
        config["webhook_timeout"] *= TIMEOUT_SCALE
        config.update(waha_config or {})
        self.waha = WahaThread(api_key=self.api_key, config=config)
        self.waha_port = self.waha.start()
        self.waha_url = "http://127.0.0.1:%d" % self.waha_port
        self.ctl = ControlClient(self.waha_url, timeout=35 * TIMEOUT_SCALE)
        overrides = dict(network_backends="cloudapi, waha",
                         waha_url=self.waha_url, waha_api_key=self.api_key,
                         waha_webhook_hmac_key=self.hmac_key)
        overrides.update(ferry_overrides)
        self.cloud = Bridge(server, start_ferry, connect_client, start=False,
                            **overrides)
        self.ferry = self.cloud.ferry
        self.webhook_url = "%s/webhook/waha" % self.ferry.url
        if start:
            self.ferry.start(timeout=20)

    def close(self):
        problems = self.cloud.close()
        try:
            self.waha.stop()
        except Exception as e:  # keep going
            problems.append("stopping the fake WAHA: %s" % e)
        return problems

    # --- XMPP side ---------------------------------------------------------

    def register(self, client, phone=None, timeout=WAIT):
        return client.iq(self.gw, register_waha_xml(phone), "set",
                         timeout=timeout)

    def session_of(self, client):
        rows = self.cloud.db("SELECT network_id FROM account WHERE jid = ? "
                             "AND backend = 'waha'", client.jid)
        return rows[0][0] if rows else None

    def wait_gateway(self, client, pred=lambda m: True, timeout=WAIT):
        """The next message from the gateway JID matching pred."""
        return client.wait_message(
            lambda m: m.frm == self.gw and m.type != "error" and pred(m),
            timeout=timeout)

    def wait_qr(self, client, timeout=WAIT):
        """The gateway's QR code message: (stanza, the PNG bytes)."""
        st = self.wait_gateway(client, lambda m: oob_url(m) is not None,
                               timeout)
        url = oob_url(st)
        assert st.body == url, st.xml
        with urllib.request.urlopen(url, timeout=10) as r:
            data = r.read()
        return st, data

    def wait_text(self, client, needle, timeout=WAIT):
        return self.wait_gateway(
            client, lambda m: needle in (m.body or ""), timeout)

    def login(self, client, phone=None):
        """Register with WAHA, get the QR code, scan it; the session."""
        reply = self.register(client, phone)
        assert reply.type == "result", reply.xml
        wait_for(lambda: self.session_of(client), WAIT, 0.1, "the account")
        session = self.session_of(client)
        self.wait_qr(client)
        self.scan(session)
        self.wait_text(client, "Connected to WhatsApp as")
        return session

    def contact_jid(self, phone):
        return "+%s@%s" % (phone.lstrip("+"), self.gw)

    # --- the fake's control API ----------------------------------------------

    def get(self, path, **query):
        return self.ctl.get(path, **query)

    def scan(self, session, phone=ME_PHONE, push_name=ME_NAME):
        return self.ctl.post("scan", {"session": session, "phone": phone,
                                      "push_name": push_name})

    def rotate(self, session):
        return self.ctl.post("rotate", {"session": session})

    def inbound(self, session, frm, text, **spec):
        body = dict(spec, session=session, text=text)
        body["from"] = frm
        return self.ctl.post("inbound", body)

    def ack(self, session, mid, ack, **spec):
        return self.ctl.post("ack", dict(spec, session=session, id=mid,
                                         ack=ack))

    def sent(self, session=None):
        q = {"session": session} if session else {}
        return self.ctl.get("sent", **q)

    def wait_sent(self, n, session=None, timeout=WAIT):
        got = []

        def enough():
            got[:] = [s for s in self.sent(session)
                      if s["type"] == "sendText"]
            return len(got) >= n
        wait_for(enough, timeout, 0.1, "%d sendText" % n)
        return got

    def reads(self, session=None):
        q = {"session": session} if session else {}
        return self.ctl.get("reads", **q)

    def deliveries(self, **query):
        return self.ctl.get("deliveries", **query)

    def post_webhook(self, body, headers):
        """POST body (bytes) to ferry's /webhook/waha; (status, text)."""
        req = urllib.request.Request(self.webhook_url, data=body,
                                     method="POST", headers=dict(
                                         headers, **{"Content-Type":
                                                     "application/json"}))
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    @staticmethod
    def envelope(session, event, payload, eid="evt_e2e"):
        return json.dumps({"id": eid, "timestamp": 1750143884426,
                           "event": event, "session": session,
                           "payload": payload, "engine": "GOWS"}).encode()
