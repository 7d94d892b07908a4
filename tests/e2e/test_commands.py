# SPDX-License-Identifier: MIT
"""Commands on the gateway JID (issue 5, point 1; docs/behaviour.md
"Commands"): XEP-0050 ad-hoc commands with XEP-0004 forms for users
(Register, Unregister, Status, Settings) and for gateway.admins (List users,
Statistics, Retry failed messages, Delete a user), the same commands typed
as chat messages, and who may see and run them.  Every test runs against
Prosody and ejabberd."""

import json
import signal
import re
from xml.sax.saxutils import escape, quoteattr

from harness.network import NS_DATA, PNID2, WAIT, error_text
from harness.util import wait_for

NS_COMMANDS = "http://jabber.org/protocol/commands"
NS_ITEMS = "http://jabber.org/protocol/disco#items"
USER_NODES = ["register", "unregister", "status", "settings", "team"]
ADMIN_NODES = ["users", "stats", "retry", "delete"]
CONTACT = "4915112345678"


# --- helpers -----------------------------------------------------------------

class Result:
    """An ad-hoc command answer: status, sessionid, notes, form fields."""

    def __init__(self, reply):
        self.reply = reply
        assert reply.type == "result", reply.xml
        self.cmd = reply.child(NS_COMMANDS, "command")
        assert self.cmd is not None, reply.xml
        self.status = self.cmd.get("status")
        self.sessionid = self.cmd.get("sessionid")
        self.node = self.cmd.get("node")
        self.notes = [(n.get("type", "info"), n.text or "")
                      for n in self.cmd.findall("{%s}note" % NS_COMMANDS)]
        self.x = self.cmd.find("{%s}x" % NS_DATA)
        self.fields = {}
        if self.x is not None:
            for f in self.x.findall("{%s}field" % NS_DATA):
                self.fields[f.get("var")] = f

    @property
    def note(self):
        return "\n".join(t for _, t in self.notes)

    @property
    def note_type(self):
        return self.notes[0][0] if self.notes else None

    def value(self, var):
        f = self.fields.get(var)
        assert f is not None, "no field %s in %s" % (var, self.reply.xml)
        return f.findtext("{%s}value" % NS_DATA)

    def items(self):
        """Rows of a multi-item result form: [{var: value}]."""
        rows = []
        for item in self.x.findall("{%s}item" % NS_DATA):
            rows.append({f.get("var"): f.findtext("{%s}value" % NS_DATA)
                         for f in item.findall("{%s}field" % NS_DATA)})
        return rows

    def __repr__(self):
        return self.reply.xml


def command_iq(client, gw, node, action=None, sessionid=None, values=None):
    """Sends <command/>; returns the reply Stanza (result or error)."""
    attrs = " node=%s" % quoteattr(node)
    if action:
        attrs += " action=%s" % quoteattr(action)
    if sessionid:
        attrs += " sessionid=%s" % quoteattr(sessionid)
    inner = ""
    if values is not None:
        fields = "".join("<field var=%s><value>%s</value></field>"
                         % (quoteattr(k), escape(v))
                         for k, v in values.items())
        inner = "<x xmlns='%s' type='submit'>%s</x>" % (NS_DATA, fields)
    return client.iq(gw, "<command xmlns='%s'%s>%s</command>"
                     % (NS_COMMANDS, attrs, inner), "set", timeout=WAIT)


def execute(client, gw, node):
    return Result(command_iq(client, gw, node))


def run_form(client, gw, node, values):
    """Executes node, checks it asks for a form, submits values."""
    first = execute(client, gw, node)
    assert first.status == "executing", first
    assert first.x is not None and first.x.get("type") == "form", first
    return first, Result(command_iq(client, gw, node, "complete",
                                    first.sessionid, values))


def chat(client, gw, text):
    """Sends text to the gateway; returns the answer's body."""
    client.send_message(gw, text)
    m = client.wait_message(lambda m: m.frm == gw and m.type != "error"
                            and m.body, timeout=WAIT)
    return m.body


def chat_error(client, gw, text):
    mid = client.send_message(gw, text)
    return client.wait_message(lambda m: m.type == "error" and m.id == mid,
                               timeout=WAIT)


def has_specific(reply, name):
    """The error of reply carries the XEP-0050 condition name."""
    err = reply.child("jabber:client", "error")
    return err is not None and \
        err.find("{%s}%s" % (NS_COMMANDS, name)) is not None


def command_nodes(client, gw):
    """The nodes of the command list, in the order the gateway gives."""
    r = client.iq(gw, "<query xmlns='%s' node='%s'/>"
                  % (NS_ITEMS, NS_COMMANDS))
    assert r.type == "result", r.xml
    q = r.child(NS_ITEMS, "query")
    assert q.get("node") == NS_COMMANDS, r.xml
    return [i.get("node") for i in q.findall("{%s}item" % NS_ITEMS)]


def account(bridge, jid):
    rows = bridge.db("SELECT network_id, state, settings FROM account "
                     "WHERE jid = ?", jid)
    return rows[0] if rows else None


def settings_of(bridge, jid):
    return json.loads(account(bridge, jid)[2])


def admin_bridge(make_bridge, connect_client, xmpp_server, **overrides):
    """A ferry whose gateway.admins is a fresh user; (bridge, admin)."""
    admin = connect_client(xmpp_server)
    overrides.setdefault("gateway_admins", admin.jid)
    return make_bridge(**overrides), admin


# --- discovery ---------------------------------------------------------------

def test_commands_listed_for_users_and_admins(make_bridge, connect_client,
                                              xmpp_server):
    bridge, admin = admin_bridge(make_bridge, connect_client, xmpp_server)
    gw = bridge.gw
    user = bridge.client(register=False)
    assert NS_COMMANDS in user.disco_info(gw).features
    assert command_nodes(user, gw) == USER_NODES
    assert command_nodes(admin, gw) == USER_NODES + ADMIN_NODES
    items = admin.disco_items(gw, node=NS_COMMANDS)
    assert all(j == gw for j, _, _ in items), items
    assert all(name for _, _, name in items), items

    info = user.disco_info(gw, node="status")
    assert info.has_identity("automation", "command-node"), info.identities
    assert NS_COMMANDS in info.features and NS_DATA in info.features
    info = user.disco_info(gw, node=NS_COMMANDS)
    assert info.has_identity("automation", "command-list"), info.identities
    assert admin.disco_info(gw, node="stats").has_identity(
        "automation", "command-node")
    # non-admins do not see admin commands
    r = user.iq(gw, "<query xmlns='http://jabber.org/protocol/disco#info' "
                "node='stats'/>")
    assert r.error_condition == "forbidden", r.xml


# --- users: ad-hoc -----------------------------------------------------------

def test_adhoc_register(bridge):
    c = bridge.client(register=False)
    first = execute(c, bridge.gw, "register")
    assert first.status == "executing" and first.sessionid, first
    assert first.fields["phone_number_id"].get("type") == "text-single"
    assert first.fields["access_token"].get("type") == "text-private"
    assert first.cmd.find("{%s}actions" % NS_COMMANDS) is not None, first

    def checks():
        return len(bridge.requests("/" + bridge.pnid, "GET"))

    # malformed input: an error note, nothing asked of WhatsApp
    _, bad = run_form(c, bridge.gw, "register",
                      {"phone_number_id": "+49 151", "access_token": "x"})
    assert bad.status == "completed" and bad.note_type == "error", bad
    assert "digits" in bad.note, bad
    assert checks() == 0
    # refused by WhatsApp
    _, no = run_form(c, bridge.gw, "register",
                     {"phone_number_id": bridge.pnid,
                      "access_token": "EAAGwrong"})
    assert no.status == "completed" and no.note_type == "error", no
    assert account(bridge, c.jid) is None
    assert checks() == 1

    _, ok = run_form(c, bridge.gw, "register",
                     {"phone_number_id": bridge.pnid,
                      "access_token": bridge.token})
    assert ok.status == "completed" and ok.note_type == "info", ok
    assert account(bridge, c.jid)[:2] == (bridge.pnid, "active")
    display = bridge.db("SELECT display_number FROM account WHERE jid = ?",
                        c.jid)[0][0]
    assert display and display in ok.note, (display, ok)
    c.wait_presence(lambda p: p.frm == bridge.gw and p.type == "subscribe",
                    timeout=WAIT)
    # the form now shows the registered number id
    again = execute(c, bridge.gw, "register")
    assert again.value("phone_number_id") == bridge.pnid, again
    assert checks() == 2


def test_adhoc_status_settings_unregister(bridge):
    c = bridge.client()
    gw = bridge.gw
    st = execute(c, gw, "status")
    assert st.status == "completed" and st.note_type == "info", st
    assert st.value("state") == "active"
    assert st.value("phone_number_id") == bridge.pnid
    assert st.value("number") and \
        re.sub(r"\D", "", st.value("number")) == bridge.display, st
    assert st.value("outbox") == "0" and st.value("inbox") == "0", st
    assert st.value("failed") == "0" and st.value("last_error") == "none"
    assert st.value("typing") == "on" and st.value("receipts") == "on"
    assert "Account state: active" in st.note, st

    first, done = run_form(c, gw, "settings", {"typing": "0",
                                               "receipts": "1"})
    assert first.fields["typing"].get("type") == "boolean", first
    assert first.value("typing") == "1" and first.value("receipts") == "1"
    assert done.status == "completed" and done.note_type == "info", done
    assert settings_of(bridge, c.jid) == {"typing": False, "receipts": True}
    first, done = run_form(c, gw, "settings", {"receipts": "false"})
    assert first.value("typing") == "0", first
    assert settings_of(bridge, c.jid) == {"typing": False, "receipts": False}
    st = execute(c, gw, "status")
    assert st.value("typing") == "off" and st.value("receipts") == "off"

    # unregister asks first; no confirmation changes nothing
    first, kept = run_form(c, gw, "unregister", {"confirm": "0"})
    assert first.fields["confirm"].get("type") == "boolean", first
    assert "nothing" in kept.note.lower(), kept
    assert account(bridge, c.jid) is not None
    _, gone = run_form(c, gw, "unregister", {"confirm": "1"})
    assert gone.note_type == "info", gone
    assert account(bridge, c.jid) is None
    c.wait_presence(lambda p: p.frm == gw and p.type == "unsubscribe",
                    timeout=WAIT)
    # not registered any more
    for node in ("status", "settings", "unregister"):
        r = execute(c, gw, node)
        assert r.status == "completed" and r.note_type == "error", r
        assert "not registered" in r.note, r


def test_adhoc_sessions_cancel_and_errors(bridge):
    c = bridge.client()
    other = bridge.client(register=False)
    gw = bridge.gw
    first = execute(c, gw, "settings")
    # another user cannot continue this session
    r = command_iq(other, gw, "settings", "complete", first.sessionid,
                   {"typing": "0"})
    assert r.error_condition == "bad-request", r.xml
    assert has_specific(r, "bad-sessionid"), r.xml
    # cancel ends it
    r = Result(command_iq(c, gw, "settings", "cancel", first.sessionid))
    assert r.status == "canceled", r
    r = command_iq(c, gw, "settings", "complete", first.sessionid,
                   {"typing": "0"})
    assert r.error_condition == "bad-request", r.xml
    assert settings_of(bridge, c.jid) == {}
    # prev has no stage to go back to; a missing form keeps the session
    first = execute(c, gw, "settings")
    r = command_iq(c, gw, "settings", "prev", first.sessionid)
    assert has_specific(r, "bad-action"), r.xml
    r = command_iq(c, gw, "settings", "complete", first.sessionid)
    assert has_specific(r, "bad-payload"), r.xml
    # "next" and "execute" also submit the single stage
    r = Result(command_iq(c, gw, "settings", "next", first.sessionid,
                          {"typing": "off"}))
    assert r.status == "completed", r
    assert settings_of(bridge, c.jid) == {"typing": False}
    r = command_iq(c, gw, "settings", "jump", first.sessionid)
    assert has_specific(r, "malformed-action"), r.xml
    r = command_iq(c, gw, "nonexistent")
    assert r.error_condition == "item-not-found", r.xml
    r = command_iq(c, gw, "status", "complete")
    assert r.error_condition == "bad-request", r.xml


# --- users: chat -------------------------------------------------------------

def test_chat_commands_for_users(bridge):
    c = bridge.client(register=False)
    gw = bridge.gw
    text = chat(c, gw, "help")
    for word in ("register <phone_number_id> <access_token>", "unregister",
                 "status", "settings"):
        assert word in text, text
    assert "[admin]" not in text and "delete <jid>" not in text, text
    assert chat(c, gw, "what is this?") == text  # unknown text: the help
    assert chat(c, gw, "status").startswith("You are not registered")
    assert chat(c, gw, "register %s" % bridge.pnid).startswith("Usage:")
    assert "digits" in chat(c, gw, "register abc def")

    answer = chat(c, gw, "Register %s %s" % (bridge.pnid, bridge.token))
    assert answer.startswith("Registered"), answer
    assert account(bridge, c.jid)[:2] == (bridge.pnid, "active")
    c.wait_presence(lambda p: p.frm == gw and p.type == "subscribe",
                    timeout=WAIT)

    answer = chat(c, gw, "status")
    assert "Account state: active" in answer, answer
    assert "Outgoing messages waiting: 0" in answer, answer
    assert "Typing notifications: on" in answer, answer
    answer = chat(c, gw, "settings typing off")
    assert "Typing notifications: off" in answer, answer
    assert "Delivery receipts: on" in answer, answer
    assert settings_of(bridge, c.jid) == {"typing": False}
    chat(c, gw, "settings receipts OFF")
    chat(c, gw, "settings typing on")
    assert settings_of(bridge, c.jid) == {"typing": True, "receipts": False}
    assert chat(c, gw, "settings").endswith("Delivery receipts: off")
    assert chat(c, gw, "settings colour blue").startswith("Usage:")
    assert chat(c, gw, "settings typing maybe").startswith("Usage:")

    e = chat_error(c, gw, "stats")
    assert e.error_condition == "forbidden", e.xml
    answer = chat(c, gw, "unregister")
    assert "unregistered" in answer, answer
    assert account(bridge, c.jid) is None


# --- admins ------------------------------------------------------------------

def test_admin_users_stats_and_delete(make_bridge, connect_client,
                                      xmpp_server):
    bridge, admin = admin_bridge(make_bridge, connect_client, xmpp_server)
    gw = bridge.gw
    u1 = bridge.client()
    bridge.open_window(CONTACT)
    mid = bridge.send(u1, CONTACT, "hello from XMPP", receipt=True)
    bridge.wait_receipt(u1, mid)
    wamid = bridge.inbound_text(CONTACT, "hello from WhatsApp")
    bridge.wait_chat(u1, wamid)
    # let the statuses settle (sent, delivered, read) before counting
    wait_for(lambda: bridge.db("SELECT status FROM message WHERE "
                               "direction = 'o'") == [(3,)], WAIT)

    users = execute(admin, gw, "users")
    assert users.status == "completed", users
    assert users.x.find("{%s}reported" % NS_DATA) is not None, users
    assert users.items() == [{"jid": u1.jid, "number": bridge.display,
                              "state": "active"}], users
    assert "1 registered user" in users.note, users
    body = chat(admin, gw, "users")
    assert u1.jid in body and "active" in body, body

    def counts():
        return dict(((d, s), n) for d, s, n in bridge.db(
            "SELECT direction, status, count(*) FROM message "
            "GROUP BY direction, status"))
    db = counts()
    stats = execute(admin, gw, "stats")
    names = {0: "queued", 1: "sent", 2: "delivered", 3: "read", 4: "failed"}
    for status, name in names.items():
        assert int(stats.value("out_" + name)) == db.get(("o", status), 0), \
            (name, db, stats)
    assert int(stats.value("in_delivered")) + int(stats.value("in_read")) \
        == db.get(("i", 2), 0) + db.get(("i", 3), 0) >= 1, (db, stats)
    assert int(stats.value("users")) == 1
    assert int(stats.value("users_paused")) == 0
    assert int(stats.value("outbox")) == bridge.count(
        "outbox", "state = 'queued'")
    assert int(stats.value("failed")) == 0
    assert int(stats.value("uptime")) >= 0
    assert stats.value("reconnects") == "0"
    assert int(stats.value("inbox")) >= 0
    body = chat(admin, gw, "stats")
    assert "Registered users: 1" in body, body
    assert "Reconnects to the XMPP server: 0" in body, body

    # delete: ad-hoc, then as chat text
    bridge.add_account(PNID2)
    u2 = bridge.client(pnid=PNID2)
    first, done = run_form(admin, gw, "delete", {"jid": u2.jid})
    assert first.fields["jid"].get("type") == "jid-single", first
    assert done.note_type == "info", done
    assert account(bridge, u2.jid) is None
    _, again = run_form(admin, gw, "delete", {"jid": u2.jid})
    assert again.note_type == "error" and "not registered" in again.note
    assert "not registered" in chat(admin, gw, "delete %s" % u2.jid)
    assert chat(admin, gw, "delete").startswith("Usage:")
    body = chat(admin, gw, "delete %s" % u1.jid.upper())
    assert "unregistered" in body, body
    assert account(bridge, u1.jid) is None
    assert bridge.count("account") == 0
    assert bridge.count("message") == 0


def test_admin_retry_failed_messages(make_bridge, connect_client,
                                     xmpp_server):
    bridge, admin = admin_bridge(make_bridge, connect_client, xmpp_server)
    gw = bridge.gw
    u1 = bridge.client()
    bridge.open_window(CONTACT)
    # a permanent error: bounced, and kept as failed
    bridge.fail(131009)
    mid = bridge.send(u1, CONTACT, "refused once")
    bridge.wait_error(u1, mid)
    wait_for(lambda: bridge.count("outbox", "state = 'failed'") == 1, WAIT)
    assert bridge.db("SELECT status FROM message WHERE direction = 'o'") == \
        [(4,)]
    st = execute(u1, gw, "status")
    assert st.value("failed") == "1" and st.value("last_error") != "none"
    assert execute(admin, gw, "stats").value("out_failed") == "1"

    # retry for one user (ad-hoc), for an unknown one, for all (chat)
    _, r = run_form(admin, gw, "retry", {"jid": "nobody@" +
                                         xmpp_server.domain})
    assert r.note_type == "error" and "not registered" in r.note, r
    _, r = run_form(admin, gw, "retry", {"jid": u1.jid})
    assert r.note_type == "info", r
    assert r.note.startswith("1 failed message"), r
    sent = bridge.wait_sent(1, CONTACT)
    assert [s["payload"].get("body") for s in sent] == ["refused once"]
    wait_for(lambda: bridge.count("outbox") == 0, WAIT)
    wait_for(lambda: bridge.db("SELECT status FROM message WHERE "
                               "direction = 'o'")[0][0] in (1, 2, 3), WAIT)
    assert chat(admin, gw, "retry").startswith("0 failed message")
    assert chat(admin, gw, "retry a b").startswith("Usage:")


# --- who may do what ---------------------------------------------------------

def test_non_admins_are_forbidden(bridge):
    c = bridge.client()
    gw = bridge.gw
    for node in ADMIN_NODES:
        r = command_iq(c, gw, node)
        assert r.error_condition == "forbidden", (node, r.xml)
        assert "administrators" in error_text(r), r.xml
    for text in ("users", "stats", "retry", "delete %s" % c.jid):
        e = chat_error(c, gw, text)
        assert e.error_condition == "forbidden", (text, e.xml)
    assert account(bridge, c.jid) is not None
    assert "[admin]" not in chat(c, gw, "help")


def test_disallowed_domain_is_forbidden(make_bridge, connect_client,
                                        xmpp_server):
    bridge, admin = admin_bridge(make_bridge, connect_client, xmpp_server,
                                 gateway_allowed_domains="other.test")
    gw = bridge.gw
    c = connect_client(xmpp_server)
    assert command_nodes(c, gw) == []
    for node in USER_NODES + ADMIN_NODES:
        r = command_iq(c, gw, node)
        assert r.error_condition == "forbidden", (node, r.xml)
    for text in ("help", "status", "register %s %s"
                 % (bridge.pnid, bridge.token), "hello"):
        e = chat_error(c, gw, text)
        assert e.error_condition == "forbidden", (text, e.xml)
    assert bridge.count("account") == 0
    # an admin of a domain that may not register runs admin commands only
    assert command_nodes(admin, gw) == ADMIN_NODES
    r = command_iq(admin, gw, "register")
    assert r.error_condition == "forbidden", r.xml
    assert execute(admin, gw, "stats").value("users") == "0"
    help_ = chat(admin, gw, "help")
    assert "[admin] stats" in help_ and "register <" not in help_, help_


def test_admins_change_on_sighup(make_bridge, connect_client, xmpp_server):
    bridge = make_bridge()
    gw = bridge.gw
    c = connect_client(xmpp_server)
    r = command_iq(c, gw, "stats")
    assert r.error_condition == "forbidden", r.xml
    f = bridge.ferry
    f.cfg["gateway"]["admins"] = "somebody@example.test " + c.jid.upper()
    f.write_config()
    f.signal(signal.SIGHUP)
    f.wait_log(r"configuration reloaded", timeout=WAIT)
    assert command_nodes(c, gw) == USER_NODES + ADMIN_NODES
    assert execute(c, gw, "stats").status == "completed"
    f.cfg["gateway"]["admins"] = ""
    f.cfg["gateway"]["allowed_domains"] = "other.test"
    f.write_config()
    f.signal(signal.SIGHUP)
    wait_for(lambda: len(f.log_lines(r"configuration reloaded")) >= 2, WAIT)
    assert command_nodes(c, gw) == []
