# SPDX-License-Identifier: MIT
"""Foundation: discovery, ping, version, robustness, reconnect, health,
config check and signals.  Every test runs against Prosody and ejabberd."""

import re
import signal
import time

import pytest

from harness.ferryproc import GATEWAY_NAME, http_get, make_ferry, run_ferry
from harness.util import wait_for

NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_PING = "urn:xmpp:ping"
NS_VERSION = "jabber:iq:version"
CONTACT = "+4915112345678"


def contact_jid(server, number=CONTACT):
    return "%s@%s" % (number, server.component_jid)


# --- discovery and basic iqs --------------------------------------------------

def test_disco_info_identity_and_features(ferry, client, xmpp_server):
    info = client.disco_info(xmpp_server.component_jid)
    gateways = [i for i in info.identities if i[0] == "gateway"]
    assert gateways, "no gateway identity in %r" % (info.identities,)
    assert [(i[1], i[3]) for i in gateways] == [("whatsapp", GATEWAY_NAME)], \
        info.identities
    for feature in (NS_DISCO_INFO, NS_PING, NS_VERSION):
        assert feature in info.features, (feature, info.features)
    assert len(info.features) == len(set(info.features)), \
        "duplicate features: %r" % info.features


def test_disco_items_answers(ferry, client, xmpp_server):
    reply = client.iq(xmpp_server.component_jid,
                      "<query xmlns='%s'/>" % NS_DISCO_ITEMS)
    assert reply.type == "result", reply.xml
    assert reply.child(NS_DISCO_ITEMS, "query") is not None, reply.xml
    # and the same through slixmpp's parser
    assert isinstance(client.disco_items(xmpp_server.component_jid), list)


def test_ping(ferry, client, xmpp_server):
    rtt = client.ping(xmpp_server.component_jid)
    assert rtt < 5


def test_version(ferry, client, xmpp_server):
    v = client.version(xmpp_server.component_jid)
    assert v["name"] == "ferry", v
    assert v["version"], v


def test_unknown_iq_get_is_service_unavailable(ferry, client, xmpp_server):
    reply = client.iq(xmpp_server.component_jid,
                      "<query xmlns='urn:example:nothing'/>")
    assert reply.type == "error", reply.xml
    assert reply.error_condition == "service-unavailable", reply.xml
    assert reply.frm == xmpp_server.component_jid, reply.xml


@pytest.mark.parametrize("payload", [
    "",                                           # no child at all
    "<query xmlns='urn:example:nothing'/>",       # unknown namespace (set)
    "<a xmlns='urn:example:one'/><b xmlns='urn:example:two'/>",  # two children
], ids=["empty", "unknown-set", "two-children"])
def test_iq_requests_always_answered(ferry, client, xmpp_server, payload):
    # RFC 6120 8.2.3: a get/set must get a result or an error.
    for itype in ("get", "set"):
        reply = client.iq(xmpp_server.component_jid, payload, itype=itype)
        assert reply.type == "error", reply.xml
    assert ferry.alive


# --- robustness ----------------------------------------------------------------

def odd_stanzas(server):
    gw = server.component_jid
    contact = contact_jid(server)
    stanza_ns = "urn:ietf:params:xml:ns:xmpp-stanzas"
    deep = 400
    return [
        # extension elements missing what they should carry (an OOB
        # without <url/> once crashed ferry: found by fuzz_stanza)
        "<message to='%s' type='chat'><x xmlns='jabber:x:oob'/></message>"
        % contact,
        "<message to='%s' type='chat'><body>x</body><x xmlns='jabber:x:oob'>"
        "<url/></x><reply xmlns='urn:xmpp:reply:0'/><fallback "
        "xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'><body "
        "start='9' end='2'/></fallback></message>" % contact,
        "<message to='%s' type='chat'><reactions xmlns='urn:xmpp:reactions:0'>"
        "<reaction/></reactions><replace xmlns='urn:xmpp:message-correct:0'/>"
        "<apply-to xmlns='urn:xmpp:fasten:0'><retract "
        "xmlns='urn:xmpp:message-retract:0'/></apply-to></message>" % contact,
        # iqs with no child, and responses nobody asked for
        "<iq type='get' to='%s' id='odd-1'/>" % gw,
        "<iq type='set' to='%s' id='odd-2'/>" % contact,
        "<iq type='result' to='%s' id='odd-3'/>" % gw,
        "<iq type='result' to='%s' id='odd-4'><query xmlns='jabber:iq:roster'>"
        "<item jid='x@y'/></query></iq>" % gw,
        "<iq type='error' to='%s' id='odd-5'><error type='cancel'>"
        "<item-not-found xmlns='%s'/></error></iq>" % (gw, stanza_ns),
        "<iq type='error' to='%s' id='odd-6'/>" % contact,
        "<iq type='get' to='%s' id='odd-7'><query xmlns='%s'/></iq>"
        % (contact, NS_DISCO_INFO),
        "<iq type='set' to='%s' id='odd-8'><query xmlns='jabber:iq:register'>"
        "<username/><password/><remove/></query></iq>" % gw,
        "<iq type='get' to='%s' id='odd-9'><query xmlns='%s' node='%s'/></iq>"
        % (gw, NS_DISCO_INFO, "n" * 3000),
        # messages with no body, of type error, of odd types
        "<message to='%s' id='odd-10'/>" % gw,
        "<message to='%s' type='chat' id='odd-11'/>" % contact,
        "<message to='%s' type='error' id='odd-12'><error type='cancel'>"
        "<undefined-condition xmlns='%s'/></error></message>"
        % (contact, stanza_ns),
        "<message to='%s' type='error' id='odd-13'><body>err</body></message>"
        % gw,
        "<message to='%s' type='headline'><body>h</body><subject/><thread/>"
        "</message>" % contact,
        "<message to='%s' type='groupchat'><body>g</body></message>" % contact,
        "<message to='%s' type='chat'><body></body></message>" % contact,
        "<message to='%s/some/resource' type='chat'><body>r</body></message>"
        % gw,
        "<message to='%s' type='chat'><body>help</body></message>" % gw,
        # presence with garbage
        "<presence to='%s'><garbage xmlns='urn:example:garbage'><deeper a='1'>"
        "text</deeper></garbage><show>bogus</show><priority>notanumber"
        "</priority><status/></presence>" % gw,
        "<presence to='%s' type='subscribe'><x xmlns='urn:example:g'/>"
        "</presence>" % contact,
        "<presence to='%s' type='probe'/>" % contact,
        "<presence to='%s' type='unsubscribed'/>" % gw,
        "<presence to='%s' type='unavailable'><priority>-129</priority>"
        "</presence>" % gw,
        "<presence to='%s' type='error'><error type='cancel'>"
        "<gone xmlns='%s'/></error></presence>" % (contact, stanza_ns),
        # odd contact JIDs
        "<message to='+0@%s' type='chat'><body>x</body></message>" % gw,
        "<message to='+%s@%s' type='chat'><body>x</body></message>"
        % ("9" * 60, gw),
        "<message to='not-a-number@%s' type='chat'><body>x</body></message>"
        % gw,
        "<message to='a\\20b\\40c@%s' type='chat'><body>x</body></message>"
        % gw,
        "<message to='%%2B49151@%s' type='chat'><body>x</body></message>" % gw,
        # deep nesting
        "<message to='%s' type='chat' id='odd-deep'><body>deep</body>"
        "<x xmlns='urn:example:deep'>%s%s</x></message>"
        % (contact, "<x>" * deep, "</x>" * deep),
        "<iq type='get' to='%s' id='odd-deep-iq'><query xmlns='%s'>%s%s"
        "</query></iq>" % (gw, NS_DISCO_INFO, "<x>" * deep, "</x>" * deep),
        # very long attribute values and bodies
        "<message to='%s' type='chat' id='%s'><body>long id</body></message>"
        % (contact, "i" * 20000),
        "<message to='%s' type='chat' xml:lang='%s'><body>long lang</body>"
        "<x xmlns='urn:example:long' a='%s'/></message>"
        % (contact, "l" * 5000, "A" * 100000),
        "<message to='%s' type='chat'><body>%s</body></message>"
        % (contact, "B" * 100000),
        "<presence to='%s'><status>%s</status></presence>" % (gw, "S" * 50000),
        # XML special characters, escaped in text and attributes
        "<message to='%s' type='chat' id='&lt;&amp;&gt;&quot;&apos;'>"
        "<body>&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp;amp; "
        "]]&gt; &#x202E;&#x1F600;&#xFEFF;&#x9;</body>"
        "<thread>&amp;&lt;</thread></message>" % contact,
        "<message to='%s' type='chat'><body><![CDATA[<b>cdata</b> & ]]>"
        "</body></message>" % contact,
        "<iq type='get' to='%s' id='q&amp;&lt;&apos;&quot;'><query xmlns='%s' "
        "node='&lt;&amp;&gt;&quot;&apos;'/></iq>" % (gw, NS_DISCO_INFO),
    ]


def test_odd_stanzas_do_not_crash(ferry, client, connect_client,
                                  xmpp_server):
    for xml in odd_stanzas(xmpp_server):
        client.send_raw(xml)
    client.send_message(contact_jid(xmpp_server),
                        "<script>alert('x')</script> & \" ' ]]> \u202e "
                        "\U0001F600 \ufeff \u00e9\u0301 \u05e9\u05dc\u05d5\u05dd")
    client.send_message(xmpp_server.component_jid, "&amp; <> ]]>")
    # A fresh client: the first one may have been disconnected by the
    # server for something it sent; what matters is ferry.
    other = connect_client(xmpp_server)
    other.ping(xmpp_server.component_jid)
    info = other.disco_info(xmpp_server.component_jid)
    assert info.has_identity("gateway", "whatsapp", GATEWAY_NAME)
    assert ferry.alive, "ferry died:\n" + ferry.log_tail(80)
    status, js = ferry.health()
    assert status == 200 and js["component"] == "connected", (status, js)
    if client.connected:
        client.ping(xmpp_server.component_jid)


# --- reconnect and health --------------------------------------------------------

def test_reconnect_after_server_restart(ferry, connect_client, xmpp_server):
    status, js = ferry.health()
    assert (status, js["component"]) == (200, "connected"), (status, js)

    xmpp_server.stop()
    try:
        status, js = ferry.wait_health("disconnected", timeout=10)
        assert status == 503, (status, js)
        assert js.get("status") == "degraded", js
        assert ferry.alive
    finally:
        xmpp_server.start()
    t0 = time.monotonic()
    status, js = ferry.wait_health("connected", timeout=30)
    t = time.monotonic() - t0
    print("reconnect after %s restart: %.2fs (server start %.2fs)"
          % (xmpp_server.name, t, xmpp_server.last_start_time))
    assert status == 200, (status, js)
    assert js.get("status") == "ok", js

    c = connect_client(xmpp_server)
    info = c.disco_info(xmpp_server.component_jid)
    assert info.has_identity("gateway", "whatsapp", GATEWAY_NAME)
    c.ping(xmpp_server.component_jid)
    assert t < 15, "ferry took %.1fs to reconnect" % t


def test_health_json(ferry):
    status, js = ferry.health()
    assert status == 200, (status, js)
    assert isinstance(js, dict), js
    assert js.get("component") == "connected", js
    assert js.get("database") == "ok", js
    assert js.get("status") == "ok", js
    _, _, headers = http_get(ferry.url + "/health")
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    assert "json" in ctype, headers


def test_wrong_secret(start_ferry, xmpp_server):
    f = start_ferry(xmpp_server, wait="http",
                    component_secret="wrong-" + xmpp_server.component_secret)
    rejected = (r"secret.*(reject|not.authorized)|"
                r"(reject|not.authorized).*secret")
    line = f.wait_log(rejected, timeout=15)
    print("ferry said:", line.strip())
    status, js = f.health()
    assert status == 503, (status, js)
    assert js.get("component") == "disconnected", js
    assert js.get("status") == "degraded", js
    # it keeps running and retrying (first backoff is short) instead of
    # exiting or giving up
    wait_for(lambda: len(f.log_lines(rejected)) >= 2 or not f.alive, 15,
             what="a second attempt")
    assert f.alive, "ferry exited after a wrong secret:\n" + f.log_tail(40)
    assert f.health()[1].get("component") == "disconnected"
    rc, secs = f.stop()
    assert rc == 0, "exit status %s on SIGTERM" % rc
    assert secs < 2.5, secs


# --- config check (-n) --------------------------------------------------------------

def test_config_check_good(ferry_bin, xmpp_server, tmp_path):
    f = make_ferry(ferry_bin, tmp_path, xmpp_server)
    r = run_ferry(ferry_bin, ["-n", "-c", f.conf_path])
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert f.conf_path + ":" not in r.stderr, r.stderr
    assert not f.alive


def test_config_check_backend_unavailable(ferry_bin, xmpp_server, tmp_path):
    """ferry -n refuses a back end the key accepts but start-up would
    refuse (not built in)."""
    f = make_ferry(ferry_bin, tmp_path, xmpp_server, network_backend="waha")
    r = run_ferry(ferry_bin, ["-n", "-c", f.conf_path])
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "waha" in r.stderr and "configuration OK" not in r.stdout, r


BAD_CONFIG = """\
# a config with four problems, on lines 7, 12, 16 and 23
[component]
jid = gw.example.test
secret = @COMPONENT_SECRET@
host = 127.0.0.1
; the next line has a port out of range
port = 99999

[gateway]
name = Ferry Test
allowed_domains = example.test
colour = blue

[store]
path = @STORE_PATH@
synchronous = sometimes

[http]
listen = 127.0.0.1:@HTTP_PORT@
public_url = http://127.0.0.1:@HTTP_PORT@

[network]
backend = telegram

[log]
level = debug
destination = stderr
"""

# line -> words one of which the message must mention
BAD_LINES = {7: ("port", "99999"), 12: ("colour",),
             16: ("synchronous", "sometimes"), 23: ("backend", "telegram")}


def test_config_check_bad(ferry_bin, xmpp_server, tmp_path):
    f = make_ferry(ferry_bin, tmp_path, xmpp_server, config_text=BAD_CONFIG)
    lines = open(f.conf_path).read().splitlines()
    assert lines[6].startswith("port = 99999")      # keep BAD_LINES honest
    assert lines[22].startswith("backend = telegram")
    r = run_ferry(ferry_bin, ["-n", "-c", f.conf_path])
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    rx = re.compile(r"^%s:(\d+): (.+)$" % re.escape(f.conf_path))
    reported = {}
    for line in r.stderr.splitlines():
        m = rx.match(line)
        if m:
            reported.setdefault(int(m.group(1)), []).append(m.group(2))
    for lineno, words in BAD_LINES.items():
        msgs = reported.get(lineno)
        assert msgs, "no '%s:%d: ...' line; stderr:\n%s" % (
            f.conf_path, lineno, r.stderr)
        assert any(w.lower() in m.lower() for w in words for m in msgs), \
            (lineno, msgs)
    wrong = sorted(set(reported) - set(BAD_LINES))
    assert not wrong, "problems reported on good lines %s:\n%s" % (
        wrong, r.stderr)


# --- signals ------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT"])
def test_signal_exits_cleanly(ferry, client, xmpp_server, sig):
    client.ping(xmpp_server.component_jid)
    rc, secs = ferry.stop(sig, timeout=10)
    print("%s: exit %s after %.3fs" % (sig.name, rc, secs))
    assert rc == 0, "exit status %s after %s" % (rc, sig.name)
    assert secs < 2.5, "took %.2fs to exit after %s" % (secs, sig.name)


def test_sighup_keeps_running(ferry, client, xmpp_server):
    ferry.signal(signal.SIGHUP)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert ferry.alive, "ferry died on SIGHUP:\n" + ferry.log_tail(40)
        status, js = ferry.health()
        assert status == 200 and js["component"] == "connected", (status, js)
        time.sleep(0.1)
    client.ping(xmpp_server.component_jid)
    info = client.disco_info(xmpp_server.component_jid)
    assert info.has_identity("gateway", "whatsapp", GATEWAY_NAME)
