# SPDX-License-Identifier: MIT
"""A business number answered by a team (issue 16; docs/behaviour.md
"Teams"): the owner adds and removes members (chat and ad-hoc, the domain
check, one team per member), members get the contacts on their rosters,
a customer's message reaches every member (an offline one later, once),
what a member writes is sent once and copied to the others with the
writer's name, and the customer's receipts go to the member who wrote.
Three real clients on Prosody and ejabberd: the owner and two members."""

import base64
from xml.sax.saxutils import quoteattr

from harness.network import (NS_DATA, WAIT, Tracker, error_text, is_receipt,
                             new_contact_announcement)
from harness.util import wait_for

NS_COMMANDS = "http://jabber.org/protocol/commands"
NS_OOB = "jabber:x:oob"
CONTACT = "4915112345678"
CONTACT2 = "4915198765432"


def chat(client, gw, text):
    """Sends text to the gateway; returns the answer's body."""
    client.send_message(gw, text)
    m = client.wait_message(lambda m: m.frm == gw and m.type != "error"
                            and m.body, timeout=WAIT)
    return m.body


def member(bridge):
    """A fresh XMPP user of the server's domain, not registered."""
    return bridge.client(register=False)


def team_of(bridge, n=2):
    """The owner (registered) and n members it added."""
    owner = bridge.client()
    members = [member(bridge) for _ in range(n)]
    for m in members:
        answer = chat(owner, bridge.gw, "team add " + m.jid)
        assert "is now a member" in answer, answer
    return owner, members


def name_of(client):
    return client.jid.split("@")[0]


def reconnect(bridge, client):
    """The same user logged in again (a new session)."""
    return bridge._connect_client(bridge.server, user=client.user,
                                  password=client.password)


def adhoc(client, gw, node, values=None, sessionid=None):
    """Runs an ad-hoc command step; returns the <command/> element."""
    attrs = " node=%s" % quoteattr(node)
    inner = ""
    if sessionid:
        attrs += " action='complete' sessionid=%s" % quoteattr(sessionid)
    if values is not None:
        inner = "<x xmlns='%s' type='submit'>%s</x>" % (NS_DATA, "".join(
            "<field var=%s><value>%s</value></field>" % (quoteattr(k), v)
            for k, v in values.items()))
    reply = client.iq(gw, "<command xmlns='%s'%s>%s</command>"
                      % (NS_COMMANDS, attrs, inner), "set", timeout=WAIT)
    assert reply.type == "result", reply.xml
    return reply.child(NS_COMMANDS, "command")


def test_team_add_remove_list(bridge):
    gw = bridge.gw
    owner = bridge.client()
    bob, amy = member(bridge), member(bridge)
    cj = bridge.contact_jid(CONTACT)
    # a contact the number had before bob joined
    wamid = bridge.inbound_text(CONTACT, "before the team", name="Ana")
    bridge.wait_chat(owner, wamid)

    # only a registered owner has a team to change
    assert chat(bob, gw, "team add " + amy.jid).startswith(
        "You are not registered")
    # members must be of gateway.allowed_domains, and not the owner
    answer = chat(owner, gw, "team add someone@elsewhere.invalid")
    assert "not of a domain this gateway serves" in answer, answer
    assert "is the owner" in chat(owner, gw, "team add " + owner.jid)

    t = Tracker(bob)
    assert "is now a member" in chat(owner, gw, "team add " + bob.jid)
    assert "a member already" in chat(owner, gw, "team add " + bob.jid)
    # bob gets the number's contacts on his roster (push or subscription)
    wait_for(lambda: new_contact_announcement(t, cj) is not None,
             timeout=WAIT, what="the contact announced to the new member")
    listing = chat(owner, gw, "team")
    assert owner.jid + "  owner" in listing, listing
    assert bob.jid + "  member" in listing, listing

    # the same as an ad-hoc command: the form, then add amy
    first = adhoc(owner, gw, "team")
    assert first.get("status") == "executing", first
    done = adhoc(owner, gw, "team", {"action": "add", "jid": amy.jid},
                 sessionid=first.get("sessionid"))
    assert "is now a member" in "".join(
        n.text or "" for n in done.findall("{%s}note" % NS_COMMANDS))
    listing = chat(owner, gw, "team")
    assert amy.jid + "  member" in listing, listing

    # one team per member: another owner cannot add bob
    other_pnid = "106540352240000"
    bridge.add_account(pnid=other_pnid)
    other = bridge.client(pnid=other_pnid)
    answer = chat(other, gw, "team add " + bob.jid)
    assert "answers another business number" in answer, answer

    # removal: the contacts leave bob's roster, and his messages stop
    assert "no longer a member" in chat(owner, gw, "team remove " + bob.jid)
    bob.wait_presence(lambda p: p.frm == cj and p.type in (
        "unsubscribe", "unsubscribed"), timeout=WAIT)
    assert "not a member" in chat(owner, gw, "team remove " + bob.jid)
    wamid = bridge.inbound_text(CONTACT, "after bob left")
    bridge.wait_chat(owner, wamid)
    bridge.wait_chat(amy, wamid)
    bridge.flush(owner)
    bob.assert_no_message(lambda m: m.id == wamid, timeout=1.0)
    # and what he writes to the contact is refused, not sent
    mid = bridge.send(bob, CONTACT, "still here?")
    err = bridge.wait_error(bob, mid)
    assert err.error_condition == "registration-required", err.xml
    assert bridge.sent(CONTACT) == []


def test_team_fan_out_and_copies(bridge):
    owner, (bob, amy) = team_of(bridge)
    cj = bridge.contact_jid(CONTACT)
    # amy is offline when the customer writes
    amy.disconnect()
    wamid = bridge.inbound_text(CONTACT, "hello team", name="Ana")
    for c in (owner, bob):
        m = bridge.wait_chat(c, wamid)
        assert m.frm == cj and m.body == "hello team", m.xml
    amy = reconnect(bridge, amy)
    m = bridge.wait_chat(amy, wamid, timeout=WAIT)
    assert m.body == "hello team", m.xml
    bridge.flush(amy)
    amy.assert_no_message(lambda m: m.id == wamid, timeout=1.0)

    # bob answers: sent once; the owner and amy get a copy naming bob;
    # the customer's receipt goes to bob alone
    bridge.open_window(CONTACT)
    mid = bridge.send(bob, CONTACT, "bob here, how can I help?",
                      receipt=True)
    sent = bridge.wait_sent(1, CONTACT)
    assert [s["payload"]["body"] for s in sent] == [
        "bob here, how can I help?"], sent
    for c in (owner, amy):
        copy = c.wait_message(lambda m: m.frm == cj and m.body and
                              m.body.startswith(name_of(bob)), timeout=WAIT)
        assert copy.body.endswith("bob here, how can I help?"), copy.xml
    r = bridge.wait_receipt(bob, mid)
    assert r.frm == cj, r.xml
    # the first member's displayed marker marks it read on WhatsApp, once
    bridge.send_displayed(amy, CONTACT, wamid)
    reads = bridge.wait_reads(1)
    assert [r["message_id"] for r in reads] == [wamid], reads
    bridge.send_displayed(owner, CONTACT, wamid)
    bridge.flush(owner)
    owner.assert_no_message(lambda m: is_receipt(m), timeout=0.5)
    bridge.flush(bob)
    bob.assert_no_message(lambda m: m.body and m.body.startswith(
        name_of(bob) + ":"), timeout=0.5)
    assert len(bridge.sent(CONTACT)) == 1
    assert len(bridge.reads()) == 1, bridge.reads()


def said(client, cj, start, timeout=WAIT):
    """The next message from cj whose body starts with start."""
    return client.wait_message(lambda m: m.frm == cj and m.body is not None
                               and m.body.startswith(start), timeout=timeout)


def not_given(bridge, client, wamid):
    """client did not get the customer's message wamid (checked after
    everything ferry queued for it before now was written)."""
    bridge.flush(client)
    client.assert_no_message(lambda m: m.id == wamid, timeout=0.5)


def test_team_claim_release_assign_note_who(bridge):
    owner, (bob, amy) = team_of(bridge)
    cj = bridge.contact_jid(CONTACT)
    wamid = bridge.inbound_text(CONTACT, "first", name="Ana")
    for c in (owner, bob, amy):
        bridge.wait_chat(c, wamid)

    bridge.send(bob, CONTACT, "/claim")
    said(bob, cj, "[team] You are handling this now")
    for c in (owner, amy):
        said(c, cj, "[team] %s is handling this" % name_of(bob))
    listing = chat(owner, bridge.gw, "team")
    assert "%s  member  handling 1 conversation(s)" % bob.jid in listing, \
        listing
    wamid = bridge.inbound_text(CONTACT, "second")
    bridge.wait_chat(bob, wamid)
    not_given(bridge, owner, wamid)
    not_given(bridge, amy, wamid)

    bridge.send(amy, CONTACT, "/claim")
    said(amy, cj, "[team] %s is handling this; ask them" % name_of(bob))
    bridge.send(amy, CONTACT, "/note  check the invoice first")
    said(amy, cj, "[team] Note copied to the team")
    for c in (owner, bob):
        said(c, cj, "[note] %s: check the invoice first" % name_of(amy))
    bridge.send(amy, CONTACT, "/who")
    who = said(amy, cj, "[team] ")
    assert who.body.startswith("[team] %s (%s) is handling this, for "
                               % (name_of(bob), bob.jid)), who.body
    assert "the customer last wrote" in who.body, who.body

    # hand-over: bob gives it to amy (by name), both are told
    bridge.send(bob, CONTACT, "/assign " + name_of(amy))
    said(bob, cj, "[team] Assigned to %s" % name_of(amy))
    said(amy, cj, "[team] %s assigned this to %s" % (name_of(bob),
                                                      name_of(amy)))
    wamid = bridge.inbound_text(CONTACT, "third")
    bridge.wait_chat(amy, wamid)
    not_given(bridge, bob, wamid)
    bridge.send(bob, CONTACT, "/assign nobody-of-ours")
    said(bob, cj, "[team] Usage: /assign")

    bridge.send(amy, CONTACT, "/release")
    said(amy, cj, "[team] Released")
    said(owner, cj, "[team] %s released this" % name_of(amy))
    bridge.send(bob, CONTACT, "/release")
    said(bob, cj, "[team] You are not handling this")
    wamid = bridge.inbound_text(CONTACT, "fourth")
    for c in (owner, bob, amy):
        bridge.wait_chat(c, wamid)

    # an unknown /word gets the help, and nothing of it went to WhatsApp
    bridge.send(owner, CONTACT, "/frobnicate now")
    said(owner, cj, "[team] Not sent. Team commands:")
    bridge.flush(owner)
    assert bridge.message_posts() == [], bridge.message_posts()


def test_team_autoclaim_and_lapse(make_bridge):
    bridge = make_bridge(team_claim_idle=2)
    owner, (bob, amy) = team_of(bridge)
    cj = bridge.contact_jid(CONTACT)
    wamid = bridge.inbound_text(CONTACT, "anyone there?", name="Ana")
    for c in (owner, bob, amy):
        bridge.wait_chat(c, wamid)
    bridge.open_window(CONTACT)
    bridge.send(bob, CONTACT, "yes, bob here")
    bridge.wait_sent(1, CONTACT)
    for c in (owner, amy):
        said(c, cj, "%s: yes, bob here" % name_of(bob))
        said(c, cj, "[team] %s is handling this" % name_of(bob))
    wamid = bridge.inbound_text(CONTACT, "my order is late")
    bridge.wait_chat(bob, wamid)
    not_given(bridge, amy, wamid)
    # claim_idle (2 s) after bob's last message the claim lapses
    import time
    time.sleep(2.5)
    wamid = bridge.inbound_text(CONTACT, "hello again?")
    for c in (owner, bob, amy):
        bridge.wait_chat(c, wamid)


def test_team_member_removed_mid_claim(bridge):
    owner, (bob, amy) = team_of(bridge)
    cj = bridge.contact_jid(CONTACT)
    wamid = bridge.inbound_text(CONTACT, "help please", name="Ana")
    bridge.wait_chat(bob, wamid)
    bridge.send(bob, CONTACT, "/claim")
    said(bob, cj, "[team] You are handling this now")
    said(owner, cj, "[team] %s is handling this" % name_of(bob))
    assert "no longer a member" in chat(owner, bridge.gw,
                                        "team remove " + bob.jid)
    listing = chat(owner, bridge.gw, "team")
    assert bob.jid not in listing, listing
    # what bob held goes back to the team
    wamid = bridge.inbound_text(CONTACT, "still waiting")
    for c in (owner, amy):
        bridge.wait_chat(c, wamid)
    bridge.flush(owner)  # bob, no longer a member, gets no sentinel
    bob.assert_no_message(lambda m: m.id == wamid, timeout=0.5)
    assert bridge.sent(CONTACT) == []


def test_team_file_reaches_every_member(bridge):
    owner, (bob, amy) = team_of(bridge)
    data = bytes(range(256)) * 8
    r = bridge.inbound(CONTACT, type="image", name="Ana", caption="a photo",
                       data_b64=base64.b64encode(data).decode())
    wamid = r["wamids"][0]
    urls = set()
    for c in (owner, bob, amy):
        m = c.wait_message(lambda m: m.id == wamid and m.find(
            "{%s}x/{%s}url" % (NS_OOB, NS_OOB)) is not None, timeout=WAIT)
        urls.add(m.find("{%s}x/{%s}url" % (NS_OOB, NS_OOB)).text)
        cap = bridge.wait_chat(c, wamid + "-caption")
        assert cap.body == "a photo", cap.xml
    assert len(urls) == 1, urls  # fetched and published once
    bridge.flush(bob)
    bob.assert_no_message(lambda m: m.id == wamid, timeout=0.5)


# ---- the 24-hour window and message templates (issue 16 item 5) ----

TEMPLATES = [
    {"name": "order_update", "language": "en_US", "category": "UTILITY",
     "components": [{"type": "BODY",
                     "text": "Your order {{1}} ships on {{2}}."},
                    {"type": "FOOTER", "text": "Ferry Shop"}]},
    {"name": "welcome_back", "language": "de", "category": "MARKETING",
     "components": [{"type": "BODY", "text": "Hallo {{1}}, wie geht's?"}]},
    {"name": "draft_promo", "language": "en_US", "status": "PENDING",
     "components": [{"type": "BODY", "text": "Not approved yet"}]},
]


def waba_of(pnid):
    """The fake's WABA id of a number (the entry[].id of its webhooks)."""
    return "1022" + pnid[-11:]


def old_message(bridge, hours=26, text="is anyone there?"):
    """A customer's message written `hours` ago; its wamid."""
    import time
    return bridge.inbound_text(CONTACT, text, name="Ana",
                               timestamp=int(time.time()) - hours * 3600)


def test_team_window_warning(bridge):
    owner, (bob, amy) = team_of(bridge)
    cj = bridge.contact_jid(CONTACT)
    wamid = old_message(bridge)
    for c in (owner, bob, amy):
        bridge.wait_chat(c, wamid)
    # the fake would take it (window open): only ferry can refuse it
    bridge.open_window(CONTACT)
    mid = bridge.send(bob, CONTACT, "sorry for the wait")
    err = bridge.wait_error(bob, mid)
    text = error_text(err)
    assert "the customer last wrote 26 h 0 min ago" in text, err.xml
    assert "/template <name>" in text and "/templates" in text, text
    # nothing went to WhatsApp, and nobody got a copy
    bridge.flush(amy)
    amy.assert_no_message(lambda m: m.frm == cj and m.body is not None and
                          "sorry for the wait" in m.body, timeout=0.5)
    assert bridge.message_posts() == [], bridge.message_posts()
    # the customer writes again: the window is open, the reply goes
    wamid = bridge.inbound_text(CONTACT, "hello?")
    bridge.wait_chat(bob, wamid)
    bridge.send(bob, CONTACT, "hello Ana")
    sent = bridge.wait_sent(1, CONTACT)
    assert [s["payload"].get("body") for s in sent] == ["hello Ana"], sent


def test_window_warning_without_team(bridge):
    alone = bridge.client()
    wamid = old_message(bridge, hours=30)
    bridge.wait_chat(alone, wamid)
    bridge.open_window(CONTACT)
    mid = bridge.send(alone, CONTACT, "late answer")
    text = error_text(bridge.wait_error(alone, mid))
    assert "the customer last wrote 30 h 0 min ago" in text, text
    assert bridge.message_posts() == [], bridge.message_posts()


def test_team_templates_list_and_send(bridge):
    bridge.ctl.post("templates", {"pnid": bridge.pnid,
                                  "templates": TEMPLATES, "replace": True})
    owner, (bob, amy) = team_of(bridge)
    cj = bridge.contact_jid(CONTACT)
    gw = bridge.gw
    waba = waba_of(bridge.pnid)
    # before any webhook, ferry does not know the business account; the
    # owner can set it
    assert "not known yet" in chat(owner, gw, "team"), chat(owner, gw, "team")
    assert "Usage: team waba" in chat(owner, gw, "team waba 12ab")
    assert "id set to " + waba in chat(owner, gw, "team waba " + waba)
    assert "(templates): " + waba in chat(owner, gw, "team")

    wamid = old_message(bridge)
    for c in (owner, bob, amy):
        bridge.wait_chat(c, wamid)
    bridge.send(bob, CONTACT, "/templates")
    listing = said(bob, cj, "[template] 2 approved templates:").body
    assert ("order_update en_US (UTILITY, 2 parameters): Your order {{1}} "
            "ships on {{2}}.") in listing, listing
    assert "welcome_back de (MARKETING, 1 parameter)" in listing, listing
    assert "draft_promo" not in listing, listing

    # a wrong parameter count: refused before the API, with the usage
    bridge.send(bob, CONTACT, "/template order_update A-42")
    r = said(bob, cj, "[template] Not sent: ").body
    assert r == ("[template] Not sent: order_update takes 2 body parameters, "
                 "not 1. Usage: /template order_update en_US <body "
                 "parameters>"), r
    assert bridge.message_posts() == [], bridge.message_posts()
    bridge.send(bob, CONTACT, "/template no_such_template en_US x")
    r = said(bob, cj, "[template] Not sent: ").body
    assert "does not exist in this language" in r and "132001" in r, r
    assert bridge.sent(CONTACT) == []

    # the right count: sent once, rendered as the customer reads it, and
    # copied to the others with bob's name
    bridge.send(bob, CONTACT, '/template order_update en_US A-42 "next Monday"')
    rendered = "Your order A-42 ships on next Monday.\nFerry Shop"
    sent = bridge.wait_sent(1, CONTACT)
    assert [(s["type"], s["rendered"]) for s in sent] == [
        ("template", rendered)], sent
    assert sent[0]["template"]["name"] == "order_update", sent
    r = said(bob, cj, "[template] Sent: ").body
    assert r == "[template] Sent: " + rendered, r
    for c in (owner, amy):
        copy = said(c, cj, "%s: Your order" % name_of(bob))
        assert copy.body == "%s: %s" % (name_of(bob), rendered), copy.body
    # without a language: the name's own (de here)
    bridge.send(amy, CONTACT, "/template welcome_back Ana")
    sent = bridge.wait_sent(2, CONTACT)
    assert sent[1]["rendered"] == "Hallo Ana, wie geht's?", sent[1]
    assert sent[1]["template"]["language"] == "de", sent[1]
    said(amy, cj, "[template] Sent: Hallo Ana")
    # no template command went out as a text
    assert all(s["type"] == "template" for s in bridge.sent(CONTACT))


def test_team_waba_from_webhook(bridge):
    bridge.ctl.post("templates", {"pnid": bridge.pnid,
                                  "templates": TEMPLATES, "replace": True})
    owner, (bob,) = team_of(bridge, 1)
    cj = bridge.contact_jid(CONTACT)
    # unknown until a webhook names it: the listing says how to set it
    bridge.send(bob, CONTACT, "/templates")
    r = said(bob, cj, "[template] The templates could not be listed").body
    assert "team waba <id>" in r, r
    wamid = bridge.inbound_text(CONTACT, "hi", name="Ana")
    bridge.wait_chat(bob, wamid)
    assert "(templates): " + waba_of(bridge.pnid) in chat(owner, bridge.gw,
                                                          "team")
    bridge.send(bob, CONTACT, "/templates")
    said(bob, cj, "[template] 2 approved templates:")


def test_templates_every_page(bridge):
    """A business account with more templates than one page: ferry follows
    paging.next, counts them all, and lists as many as fit in one
    message."""
    many = [{"name": "notice_%03d" % i, "language": "en_US",
             "components": [{"type": "BODY",
                             "text": "Notice %d for {{1}}." % i}]}
            for i in range(130)]
    bridge.ctl.post("templates", {"pnid": bridge.pnid, "templates": many,
                                  "replace": True})
    alone = bridge.client()
    cj = bridge.contact_jid(CONTACT)
    wamid = bridge.inbound_text(CONTACT, "hi", name="Ana")
    bridge.wait_chat(alone, wamid)
    since = bridge.seq()
    bridge.send(alone, CONTACT, "/templates")
    listing = said(alone, cj, "[template] 130 approved templates:").body
    assert "notice_000 en_US (UTILITY, 1 parameter): Notice 0 for {{1}}." \
        in listing, listing
    assert "\n... and " in listing and " more\n" in listing, listing
    gets = bridge.requests("message_templates", method="GET", since=since)
    assert len(gets) == 2, [g["query"] for g in gets]
    assert gets[1]["query"].get("after"), gets[1]
    # the last one on the second page can be sent
    bridge.send(alone, CONTACT, "/template notice_129 Ana")
    sent = bridge.wait_sent(1, CONTACT)
    assert sent[0]["rendered"] == "Notice 129 for Ana.", sent


# ---- status and metrics (issue 16 item 6) ----

def metrics(bridge):
    """/metrics as {series (name and labels): value}."""
    import urllib.request
    with urllib.request.urlopen(bridge.ferry.url + "/metrics",
                                timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_team_status_and_metrics(bridge):
    import time
    owner, (bob, amy) = team_of(bridge)
    cj, cj2 = bridge.contact_jid(CONTACT), bridge.contact_jid(CONTACT2)
    gw = bridge.gw
    acc = bridge.db("SELECT id FROM account WHERE jid = ?", owner.jid)[0][0]
    series = 'ferry_team_%s{account="%d"}'
    now = int(time.time())
    # two customers wait: for 2 h (two messages) and for 1 h 1 min
    w1 = bridge.inbound_text(CONTACT, "where is my order?", name="Ana",
                             timestamp=now - 7200)
    bridge.inbound_text(CONTACT, "hello??", timestamp=now - 5400)
    w2 = bridge.inbound_text(CONTACT2, "a question", name="Ben",
                             timestamp=now - 3660)
    bridge.wait_chat(bob, w1)
    bridge.wait_chat(amy, w2)
    status = chat(owner, gw, "team status")
    assert "Waiting for a reply: 2 conversation(s), the oldest for 2 h 0 min"\
        in status, status
    assert "First replies: 0" in status, status
    m = metrics(bridge)
    assert m[series % ("waiting_conversations", acc)] == 2, m
    assert 7200 <= m[series % ("oldest_wait_seconds", acc)] < 7300, m
    assert m.get(series % ("first_response_seconds_count", acc), 0) == 0, m

    # bob answers Ana twice (one first reply), amy answers Ben once
    bridge.open_window(CONTACT)
    bridge.open_window(CONTACT2)
    bridge.send(bob, CONTACT, "on its way")
    bridge.send(bob, CONTACT, "tomorrow at the latest")
    bridge.send(amy, CONTACT2, "ask away")
    bridge.wait_sent(3)
    said(owner, cj, "%s: tomorrow" % name_of(bob))
    said(owner, cj2, "%s: ask away" % name_of(amy))
    # bob resolves Ana's conversation (claimed by his first reply)
    bridge.send(bob, CONTACT, "/release")
    said(bob, cj, "[team] Released")

    m = metrics(bridge)
    first = 'ferry_team_first_response_seconds_%s{account="%d"}'
    assert m[first % ("count", acc)] == 2, m
    assert 10860 <= m[first % ("sum", acc)] < 10960, m
    assert m['ferry_team_first_response_seconds_bucket{account="%d",'
             'le="3600"}' % acc] == 0, m
    assert m['ferry_team_first_response_seconds_bucket{account="%d",'
             'le="14400"}' % acc] == 2, m
    assert m['ferry_team_resolution_seconds_count{account="%d"}' % acc] \
        == 1, m
    msgs = 'ferry_team_messages_total{account="%d",member="%s"}'
    assert m[msgs % (acc, bob.jid)] == 2, m
    assert m[msgs % (acc, amy.jid)] == 1, m
    assert (msgs % (acc, owner.jid)) not in m, m
    assert m[series % ("waiting_conversations", acc)] == 0, m
    assert m[series % ("oldest_wait_seconds", acc)] == 0, m
    # no customer's number in any series
    assert not any(CONTACT in k or CONTACT2 in k for k in m), m

    status = chat(owner, gw, "team status")
    assert "Waiting for a reply: none" in status, status
    assert "First replies: 2, on average after 1 h 30 min" in status, status
    assert "Resolved (released): 1" in status, status
    assert "Messages to customers by %s: 2" % bob.jid in status, status
    assert "Messages to customers by %s: 1" % amy.jid in status, status
    # the same as an ad-hoc command
    first_step = adhoc(owner, gw, "team")
    done = adhoc(owner, gw, "team", {"action": "status"},
                 sessionid=first_step.get("sessionid"))
    notes = "".join(n.text or "" for n in done.findall(
        "{%s}note" % NS_COMMANDS))
    assert "First replies: 2" in notes, notes
