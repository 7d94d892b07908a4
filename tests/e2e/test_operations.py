# SPDX-License-Identifier: MIT
"""Operating ferry (issue 5): XEP-0356 roster integration where the server
grants it, and the /metrics endpoint.  Every test runs against Prosody
(urn:xmpp:privilege:2) and ejabberd 23.01 (urn:xmpp:privilege:1): the
harness servers grant the gateway roster and message privileges."""

import re

from harness.ferryproc import GATEWAY_NAME, http_get
from harness.network import WAIT
from harness.util import wait_for

CONTACT = "4915112345678"


def _metric(text, name, labels=None):
    """The value of one sample of the Prometheus text, or None."""
    want = name + ("{%s}" % labels if labels else "")
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == want:
            return float(value)
    return None


def test_privilege_advertisement_is_read(bridge):
    ns = "urn:xmpp:privilege:%d" % (2 if bridge.server.name == "prosody"
                                      else 1)
    line = bridge.ferry.wait_log(r"roster: .* grants .*%s" % re.escape(ns),
                                 timeout=WAIT)
    assert line, bridge.ferry.log_tail(30)
    if bridge.server.name == "prosody":  # pubsub set: the rooms' bookmarks
        assert "1 iq namespace" in line, line


def test_new_contact_is_pushed_to_the_roster(bridge):
    """Prosody's mod_privilege applies the push.  ejabberd 23.01
    (urn:xmpp:privilege:1) grants roster access, but its mod_roster applies
    a privileged set to the component's own roster and answers an error:
    ferry sends a subscription request (with the nick) there instead, before
    the message."""
    c = bridge.client()
    jid = bridge.contact_jid(CONTACT)
    wamid = bridge.inbound(CONTACT, "hi, it's Zoe", name="Zoe")["wamids"][0]
    m = bridge.wait_chat(c, wamid)
    assert m.body == "hi, it's Zoe"
    if bridge.server.name == "ejabberd":
        p = c.wait_presence(lambda p: p.frm == jid and p.type == "subscribe",
                            timeout=WAIT)
        nick = p.child("http://jabber.org/protocol/nick", "nick")
        assert nick is not None and nick.text == "Zoe", p.xml
        assert bridge.ferry.wait_log(r"roster set does not work")
        return

    def pushed():
        item = c.get_roster().get(jid)
        return item if item and item["name"] == "Zoe" else None
    item = wait_for(pushed, WAIT, what="roster push of %s" % jid)
    assert item["groups"] == [GATEWAY_NAME], item
    assert item["subscription"] == "both", item
    # no subscription request: the roster push replaced it
    subs = [p for p in c.presences.pending()
            if p.frm == jid and p.type == "subscribe"]
    assert not subs, [p.xml for p in subs]
    # ferry considers the contact subscribed
    rows = bridge.db("SELECT subscription FROM contact WHERE network_id = ?",
                     CONTACT)
    assert rows == [("both",)], rows


def test_metrics(bridge):
    c = bridge.client()
    bridge.open_window(CONTACT)
    bridge.send(c, CONTACT, "counted")
    bridge.wait_sent(1, CONTACT)
    wamid = bridge.inbound(CONTACT, "in")["wamids"][0]
    bridge.wait_chat(c, wamid)
    bridge.raw_webhook('{"object":"whatsapp_business_account"}',
                       signature="bad")
    status, body, headers = http_get(bridge.ferry.url + "/metrics")
    assert status == 200, status
    assert headers["Content-Type"].startswith("text/plain"), headers
    text = body.decode()

    def val(name, labels=None):
        v = _metric(text, name, labels)
        assert v is not None, "%s{%s} missing:\n%s" % (name, labels, text)
        return v
    # the credential check and the send
    assert val("ferry_network_requests_total", 'result="sent"') >= 2
    assert val("ferry_network_events_total", 'kind="message"') >= 1
    assert val("ferry_webhooks_total", 'result="ok"') >= 1
    assert val("ferry_webhooks_total", 'result="rejected_signature"') >= 1
    assert val("ferry_accounts") == 1
    assert val("ferry_component_connected") == 1
    assert val("ferry_network_request_seconds_count") >= 2
    assert val("ferry_network_request_seconds_bucket", 'le="+Inf"') == \
        val("ferry_network_request_seconds_count")
    # the ping barrier's answer may come just after the client saw the
    # message
    wait_for(lambda: _metric(http_get(bridge.ferry.url + "/metrics")[1]
                             .decode(), "ferry_xmpp_stanzas_confirmed_total")
             >= 1, WAIT, what="confirmed stanzas")
    assert val("ferry_outbox_depth") >= 0
    assert val("ferry_inbox_held") == 0
    assert re.search(r"^# TYPE ferry_network_request_seconds histogram$",
                     text, re.M), text


def test_systemd_notify(start_ferry, xmpp_server, tmp_path):
    """Type=notify: READY=1 after start-up, WATCHDOG=1 at half the
    interval, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM."""
    import os
    import signal
    import socket
    import time
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    got = []

    def drain():
        while True:
            try:
                got.append(sock.recv(4096).decode())
            except socket.timeout:
                return

    def seen(word):
        drain()
        return any(word in m.split("\n") for m in got)
    f = start_ferry(xmpp_server, env={"NOTIFY_SOCKET": path,
                                      "WATCHDOG_USEC": "400000"})
    wait_for(lambda: seen("READY=1"), WAIT, what="READY=1")
    n = len([m for m in got if "WATCHDOG=1" in m])
    time.sleep(1.0)
    drain()
    assert len([m for m in got if "WATCHDOG=1" in m]) >= n + 3, got
    assert any(m.startswith("STATUS=") for m in got), got
    got.clear()
    f.signal(signal.SIGHUP)
    wait_for(lambda: seen("RELOADING=1") and seen("READY=1"), WAIT,
             what="reload notifications")
    rc, _ = f.stop()
    assert rc == 0
    assert seen("STOPPING=1"), got
    sock.close()
    os.unlink(path)
