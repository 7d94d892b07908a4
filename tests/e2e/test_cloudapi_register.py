# SPDX-License-Identifier: MIT
"""Cloud API bridge, registration (issue 3, point 2; docs/behaviour.md
"Registration" and the gateway's part of "Presence"): XEP-0077 with a form
and with username/password, credentials checked against the (fake) API,
errors, re-registration, removal, conflicts, allowed domains and the
XEP-0100 prompt.  Every test runs against Prosody and ejabberd."""

from harness.network import (NS_DATA, NS_GATEWAY, NS_REGISTER, PNID,
                             PNID2, WAIT, register_form_xml,
                             register_legacy_xml)
from harness.util import wait_for

CONTACT = "4915112345678"
OTHER = "4915198765432"


def _query(reply):
    q = reply.child(NS_REGISTER, "query")
    assert q is not None, reply.xml
    return q


def _form_fields(query):
    x = query.find("{%s}x" % NS_DATA)
    assert x is not None, "no data form in %r" % query
    return x, {f.get("var"): f for f in x.findall("{%s}field" % NS_DATA)}


def _check_requests(bridge, since=0):
    """GET /{version}/{pnid} credential checks made so far."""
    return [r for r in bridge.requests(method="GET", since=since)
            if r["path"].startswith("/v")]


# --- the form ----------------------------------------------------------------

def test_register_get_form(bridge, connect_client, xmpp_server):
    c = connect_client(xmpp_server)
    reply = c.iq(bridge.gw, "<query xmlns='%s'/>" % NS_REGISTER)
    assert reply.type == "result", reply.xml
    q = _query(reply)
    assert (q.findtext("{%s}instructions" % NS_REGISTER) or "").strip(), \
        reply.xml
    assert q.find("{%s}username" % NS_REGISTER) is not None, reply.xml
    assert q.find("{%s}password" % NS_REGISTER) is not None, reply.xml
    assert q.find("{%s}registered" % NS_REGISTER) is None, reply.xml
    x, fields = _form_fields(q)
    assert x.get("type") == "form", reply.xml
    assert fields["FORM_TYPE"].get("type") == "hidden", reply.xml
    assert fields["FORM_TYPE"].findtext("{%s}value" % NS_DATA) == \
        NS_REGISTER, reply.xml
    assert fields["phone_number_id"].get("type") == "text-single", reply.xml
    assert fields["access_token"].get("type") == "text-private", reply.xml
    # asking does not touch WhatsApp
    assert _check_requests(bridge) == []


def _assert_registered(bridge, client, token):
    """The store has the account; a get shows <registered/> and the pnid."""
    rows = bridge.db("SELECT network_id, token, state FROM account "
                     "WHERE jid = ?", client.jid)
    assert rows == [(bridge.pnid, token, "active")], rows
    reply = client.iq(bridge.gw, "<query xmlns='%s'/>" % NS_REGISTER)
    assert reply.type == "result", reply.xml
    q = _query(reply)
    assert q.find("{%s}registered" % NS_REGISTER) is not None, reply.xml
    shown = [q.findtext("{%s}username" % NS_REGISTER)]
    x = q.find("{%s}x" % NS_DATA)
    if x is not None:
        for f in x.findall("{%s}field" % NS_DATA):
            if f.get("var") == "phone_number_id":
                shown.append(f.findtext("{%s}value" % NS_DATA))
    assert bridge.pnid in shown, reply.xml


def test_register_with_form(bridge, connect_client, xmpp_server):
    c = connect_client(xmpp_server)
    reply = bridge.register(c)
    assert reply.type == "result", reply.xml
    # the credentials were checked with GET /{version}/{pnid} + Bearer
    checks = _check_requests(bridge)
    assert [r["path"] for r in checks] == ["/v21.0/%s" % PNID], checks
    assert checks[0]["headers"].get("Authorization") == \
        "Bearer " + bridge.token, checks[0]["headers"]
    assert checks[0]["status"] == 200
    # then the gateway asks for a subscription and says it is available
    c.wait_presence(lambda p: p.frm == bridge.gw and p.type == "subscribe",
                    timeout=WAIT)
    c.wait_presence(lambda p: p.frm == bridge.gw and p.type is None,
                    timeout=WAIT)
    _assert_registered(bridge, c, bridge.token)


def test_register_legacy_username_password(bridge, connect_client,
                                           xmpp_server):
    c = connect_client(xmpp_server)
    reply = bridge.register(c, legacy=True)
    assert reply.type == "result", reply.xml
    assert [r["path"] for r in _check_requests(bridge)] == \
        ["/v21.0/%s" % PNID]
    c.wait_presence(lambda p: p.frm == bridge.gw and p.type == "subscribe",
                    timeout=WAIT)
    _assert_registered(bridge, c, bridge.token)


def test_gateway_and_user_subscribe_to_each_other(bridge, xmpp_server,
                                                  connect_client):
    c = bridge.client()        # registered; accepts and asks back
    # the user's subscribe is approved: subscription both in the roster
    c.wait_presence(lambda p: p.frm == bridge.gw and p.type == "subscribed",
                    timeout=WAIT)
    wait_for(lambda: c.roster.get(bridge.gw, {}).get("subscription")
             == "both", WAIT, 0.1, "roster item of the gateway: both")
    # a new session's probe is answered: available from the gateway
    c2 = connect_client(xmpp_server, c.user, c.password)
    c2.wait_presence(lambda p: p.frm == bridge.gw and p.type is None,
                     timeout=WAIT)
    # somebody who is not registered is refused
    stranger = connect_client(xmpp_server)
    stranger.send_presence(bridge.gw, "subscribe")
    stranger.wait_presence(lambda p: p.frm == bridge.gw
                           and p.type == "unsubscribed", timeout=WAIT)


# --- rejected registrations --------------------------------------------------

def test_register_bad_token_not_acceptable(bridge, connect_client,
                                           xmpp_server):
    c = connect_client(xmpp_server)
    for legacy in (False, True):
        reply = bridge.register(c, token="EAAGnot-the-right-token",
                                legacy=legacy)
        assert reply.type == "error", reply.xml
        assert reply.error[:2] == ("modify", "not-acceptable"), reply.xml
        text = reply.error[2] or ""
        assert "token" in text.lower(), \
            "the text should say the access token was refused: %r" % text
    assert len(_check_requests(bridge)) == 2
    assert bridge.count("account") == 0
    c.assert_no_message(lambda m: m.frm == bridge.gw, timeout=0.5)
    assert not [p for p in c.presences.pending()
                if p.frm == bridge.gw and p.type == "subscribe"]


def test_register_unknown_number_id_not_acceptable(bridge, connect_client,
                                                   xmpp_server):
    # a valid token, but a phone number id it does not own
    c = connect_client(xmpp_server)
    reply = bridge.register(c, pnid="999999999999999")
    assert reply.type == "error", reply.xml
    assert reply.error[:2] == ("modify", "not-acceptable"), reply.xml
    text = reply.error[2] or ""
    assert "number" in text.lower(), \
        "the text should say the phone number id is unknown: %r" % text
    assert bridge.count("account") == 0


def test_register_malformed_input(bridge, connect_client, xmpp_server):
    c = connect_client(xmpp_server)
    cases = [
        ("pnid not digits", register_form_xml("abc123", bridge.token)),
        ("pnid is a phone number", register_form_xml("+15550783881",
                                                     bridge.token)),
        ("pnid with spaces", register_legacy_xml("1065 4035", bridge.token)),
        ("empty token", register_form_xml(PNID, "")),
        ("token with a space", register_form_xml(PNID, "EAAG abc")),
        ("token with spaces", register_legacy_xml(PNID, "  ")),
        ("no token", register_form_xml(PNID, None)),
        ("no pnid", register_legacy_xml(None, bridge.token)),
    ]
    for what, payload in cases:
        reply = bridge.register(c, payload=payload)
        assert reply.type == "error", (what, reply.xml)
        assert reply.error_condition == "not-acceptable", (what, reply.xml)
        assert (reply.error[2] or "").strip(), \
            "%s: no text in the error: %s" % (what, reply.xml)
    assert _check_requests(bridge) == [], \
        "malformed input must not be sent to WhatsApp"
    assert bridge.count("account") == 0


def test_register_forbidden_domain(make_bridge, connect_client, xmpp_server):
    b = make_bridge(gateway_allowed_domains="elsewhere.test")
    c = connect_client(xmpp_server)
    reply = c.iq(b.gw, "<query xmlns='%s'/>" % NS_REGISTER)
    assert reply.type == "error", reply.xml
    assert reply.error_condition == "forbidden", reply.xml
    reply = b.register(c)
    assert reply.type == "error", reply.xml
    assert reply.error_condition == "forbidden", reply.xml
    assert _check_requests(b) == []
    assert b.count("account") == 0


def test_register_conflict_with_another_jid(bridge, connect_client,
                                            xmpp_server):
    a = bridge.client()
    b = connect_client(xmpp_server)
    for legacy in (False, True):
        reply = bridge.register(b, legacy=legacy)
        assert reply.type == "error", reply.xml
        assert reply.error_condition == "conflict", reply.xml
    rows = bridge.db("SELECT jid FROM account")
    assert rows == [(a.jid,)], rows


# --- re-registration and removal ----------------------------------------------

def test_reregister_updates_token(bridge):
    c = bridge.client()
    _assert_registered(bridge, c, bridge.token)
    # Meta issued a new token; the old one stops working
    new = bridge.add_account(PNID, display=bridge.display)
    bridge.register_ok(c, PNID, new, subscribe=False)
    _assert_registered(bridge, c, new)
    # and it is the one used from now on
    bridge.open_window(CONTACT)
    bridge.send(c, CONTACT, "with the new token")
    bridge.wait_sent(1, CONTACT)
    posts = bridge.message_posts()
    assert [p["headers"].get("Authorization") for p in posts] == \
        ["Bearer " + new], posts


def test_remove_deletes_everything(bridge):
    c = bridge.client()
    # a contact that wrote (subscription both, message rows) ...
    wamid = bridge.inbound_text(CONTACT, "hi there", name="Ana")
    bridge.wait_chat(c, wamid)
    cj = bridge.contact_jid(CONTACT)
    wait_for(lambda: c.roster.get(cj, {}).get("subscription") == "both",
             WAIT, 0.1, "roster item of the contact: both")
    # ... and a message that WhatsApp keeps refusing (queued, retried)
    bridge.config(transient=131000)
    bridge.open_window(OTHER)
    bridge.send(c, OTHER, "stuck in the outbox")
    wait_for(lambda: bridge.message_posts(), WAIT, 0.1, "a failed send")
    acct = bridge.db("SELECT id FROM account WHERE jid = ?", c.jid)
    assert len(acct) == 1
    aid = acct[0][0]
    assert bridge.count("contact", "account_id = ?", aid) >= 2
    assert bridge.count("message", "account_id = ?", aid) >= 2
    assert bridge.count("outbox", "account_id = ?", aid) >= 1

    reply = bridge.unregister(c)
    assert reply.type == "result", reply.xml

    # the gateway and the contact end the subscriptions
    for frm in (bridge.gw, cj):
        for ptype in ("unavailable", "unsubscribed", "unsubscribe"):
            c.wait_presence(lambda p, f=frm, t=ptype: p.frm == f
                            and p.type == t, timeout=WAIT)
    wait_for(lambda: c.roster.get(bridge.gw, {}).get("subscription",
                                                     "none") == "none",
             WAIT, 0.1, "the gateway's roster item to lose its subscription")
    # nothing of the account is left in the store
    for table in ("account", "contact", "alias", "message", "outbox",
                  "early_status"):
        rows = bridge.db("SELECT * FROM %s" % table)
        assert rows == [], "%s rows left after <remove/>: %r" % (table, rows)
    assert bridge.count("inbox", "account_id = ?", aid) == 0
    # and the queued message is not sent any more
    before = len(bridge.message_posts())
    bridge.config(transient=None)
    try:
        wait_for(lambda: len(bridge.message_posts()) > before, 3, 0.2)
    except TimeoutError:
        pass
    else:
        raise AssertionError("a message of a removed account was sent: %r"
                             % bridge.message_posts()[before:])
    # a get shows the empty form; removing again: item-not-found
    reply = c.iq(bridge.gw, "<query xmlns='%s'/>" % NS_REGISTER)
    assert reply.type == "result", reply.xml
    assert _query(reply).find("{%s}registered" % NS_REGISTER) is None
    reply = bridge.unregister(c)
    assert reply.type == "error", reply.xml
    assert reply.error_condition == "item-not-found", reply.xml


def test_remove_when_not_registered(bridge, connect_client, xmpp_server):
    c = connect_client(xmpp_server)
    reply = bridge.unregister(c)
    assert reply.type == "error", reply.xml
    assert reply.error_condition == "item-not-found", reply.xml


def test_second_account_registers_other_number(bridge):
    # two users, two business numbers: both fine (no false conflict)
    token2 = bridge.add_account(PNID2)
    a = bridge.client()
    b = bridge.client(pnid=PNID2, token=token2)
    rows = sorted(bridge.db("SELECT jid, network_id FROM account"))
    assert rows == sorted([(a.jid, PNID), (b.jid, PNID2)]), rows


# --- XEP-0100 ------------------------------------------------------------------

def test_gateway_prompt(bridge, connect_client, xmpp_server):
    c = connect_client(xmpp_server)
    reply = c.iq(bridge.gw, "<query xmlns='%s'/>" % NS_GATEWAY)
    assert reply.type == "result", reply.xml
    q = reply.child(NS_GATEWAY, "query")
    assert q is not None, reply.xml
    assert (q.findtext("{%s}desc" % NS_GATEWAY) or "").strip(), reply.xml
    assert q.findtext("{%s}prompt" % NS_GATEWAY) == "Phone number", reply.xml

    want = "+4915112345678@" + bridge.gw
    for given in ("+49 151 1234-5678", "0049 151 12345678",
                  "+49 (151) 123 456 78"):
        reply = c.iq(bridge.gw, "<query xmlns='%s'><prompt>%s</prompt>"
                     "</query>" % (NS_GATEWAY, given), "set")
        assert reply.type == "result", (given, reply.xml)
        q = reply.child(NS_GATEWAY, "query")
        assert q is not None and q.findtext("{%s}jid" % NS_GATEWAY) == want, \
            (given, reply.xml)

    for bad in ("hello", "123", "+1234567890123456", "", "+49 151 abc"):
        reply = c.iq(bridge.gw, "<query xmlns='%s'><prompt>%s</prompt>"
                     "</query>" % (NS_GATEWAY, bad), "set")
        assert reply.type == "error", (bad, reply.xml)
        assert reply.error_condition == "not-acceptable", (bad, reply.xml)
        assert (reply.error[2] or "").strip(), (bad, reply.xml)
