# SPDX-License-Identifier: MIT
"""History for whoever picks a conversation up (issue 16, item 4;
docs/behaviour.md "Teams"): ferry keeps a team's conversations
([team] history_days) and serves them with XEP-0313 (MAM, XEP-0059
paging) on the contact's JID to the owner and members; a member who
joins, or to whom /assign gives a conversation, gets its last messages
with their time (XEP-0203), marked as history. Real clients on Prosody
and ejabberd."""

import time
from datetime import datetime, timezone

from harness.network import WAIT
from test_team import CONTACT, chat, member, name_of, said, team_of

NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_FORWARD = "urn:xmpp:forward:0"
NS_DELAY = "urn:xmpp:delay"
NS_DATA = "jabber:x:data"
NS_CLIENT = "jabber:client"

_queries = [0]


def mam(client, cj, fields=None, rsm=""):
    """Runs an XEP-0313 query on cj; returns (iq reply, [(archive id,
    forwarded message element, delay stamp)], fin element or None)."""
    _queries[0] += 1
    qid = "q%d" % _queries[0]
    form = ""
    if fields is not None:
        form = ("<x xmlns='%s' type='submit'><field var='FORM_TYPE' "
                "type='hidden'><value>%s</value></field>%s</x>" % (
                    NS_DATA, NS_MAM, "".join(
                        "<field var='%s'><value>%s</value></field>" % kv
                        for kv in fields.items())))
    if rsm:
        rsm = "<set xmlns='%s'>%s</set>" % (NS_RSM, rsm)
    reply = client.iq(cj, "<query xmlns='%s' queryid='%s'>%s%s</query>"
                      % (NS_MAM, qid, form, rsm), "set", timeout=WAIT)
    results = []
    if reply.type != "result":
        return reply, results, None
    while True:  # the results came before the iq's answer, on one stream
        try:
            m = client.messages.wait(
                lambda m: m.child(NS_MAM, "result") is not None and
                m.child(NS_MAM, "result").get("queryid") == qid, 0.5)
        except TimeoutError:
            break
        assert m.frm == cj, m.xml
        r = m.child(NS_MAM, "result")
        fwd = r.find("{%s}forwarded" % NS_FORWARD)
        results.append((r.get("id"), fwd.find("{%s}message" % NS_CLIENT),
                        fwd.find("{%s}delay" % NS_DELAY).get("stamp")))
    return reply, results, reply.child(NS_MAM, "fin")


def bodies(results):
    return [msg.find("{%s}body" % NS_CLIENT).text for _, msg, _ in results]


def rsm_of(fin):
    """(first, last, count) of a <fin/>'s set."""
    s = fin.find("{%s}set" % NS_RSM)

    def text(name):
        e = s.find("{%s}%s" % (NS_RSM, name))
        return None if e is None else e.text
    return text("first"), text("last"), int(text("count"))


def history_lines(client, cj, n):
    """The next n lines of history from cj (after their notice)."""
    return [said(client, cj, "[history] ") for _ in range(n)]


def test_team_mam_paging_for_new_member(bridge):
    owner, (bob,) = team_of(bridge, 1)
    cj = bridge.contact_jid(CONTACT)
    wamids = [bridge.inbound_text(CONTACT, "m%02d" % i, name="Ana")
              for i in range(24)]
    bridge.wait_chat(bob, wamids[-1])
    bridge.open_window(CONTACT)
    bridge.send(bob, CONTACT, "bob answers")
    bridge.wait_sent(1, CONTACT)
    said(owner, cj, "%s: bob answers" % name_of(bob))

    # amy joins: the conversation's last 20 messages, stamped, as history
    amy = member(bridge)
    assert "is now a member" in chat(owner, bridge.gw, "team add " + amy.jid)
    said(amy, cj, "[team] The last 20 message(s) of this conversation")
    lines = history_lines(amy, cj, 20)
    assert [m.body for m in lines] == ["[history] m%02d" % i for i in
                                       range(5, 24)] + [
        "[history] %s: bob answers" % name_of(bob)], [m.body for m in lines]
    assert all(m.find("{%s}delay" % NS_DELAY) is not None for m in lines)

    # and reads the whole conversation with MAM, 10 at a time
    reply, page, fin = mam(amy, cj, rsm="<max>10</max>")
    assert reply.type == "result", reply.xml
    assert bodies(page) == ["m%02d" % i for i in range(10)], bodies(page)
    first, last, count = rsm_of(fin)
    assert (first, last, count) == (page[0][0], page[-1][0], 25)
    assert fin.get("complete") != "true", reply.xml
    assert page[0][1].get("from") == cj, page[0][1]
    assert page[0][1].get("id") == wamids[0]
    reply, page2, fin = mam(amy, cj, rsm="<max>10</max><after>%s</after>"
                            % last)
    assert bodies(page2) == ["m%02d" % i for i in range(10, 20)]
    assert fin.get("complete") != "true", reply.xml
    reply, page3, fin = mam(amy, cj, rsm="<max>10</max><after>%s</after>"
                            % rsm_of(fin)[1])
    assert bodies(page3) == ["m20", "m21", "m22", "m23", "bob answers"]
    assert fin.get("complete") == "true", reply.xml
    assert page3[-1][1].get("from") == bob.jid, page3[-1][1]
    assert rsm_of(fin)[2] == 25
    ids = [p[0] for p in page + page2 + page3]
    assert len(set(ids)) == 25

    # backwards: <before/> is the last page, then the one before it
    reply, back, fin = mam(amy, cj, rsm="<max>10</max><before/>")
    assert bodies(back) == bodies(page2[5:] + page3)
    assert fin.get("complete") != "true", reply.xml
    reply, back2, fin = mam(amy, cj, rsm="<max>10</max><before>%s</before>"
                            % rsm_of(fin)[0])
    assert bodies(back2) == bodies(page[5:] + page2[:5])
    reply, back3, fin = mam(amy, cj, rsm="<before>%s</before>"
                            % rsm_of(fin)[0])
    assert bodies(back3) == bodies(page[:5])
    assert fin.get("complete") == "true", reply.xml


def stamp(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_team_mam_filters_and_refusals(bridge):
    owner, (bob,) = team_of(bridge, 1)
    cj = bridge.contact_jid(CONTACT)
    for i in range(3):
        bridge.wait_chat(bob, bridge.inbound_text(CONTACT, "early %d" % i,
                                                  name="Ana"))
    time.sleep(0.3)
    middle = time.time()
    time.sleep(0.3)
    for i in range(2):
        bridge.wait_chat(bob, bridge.inbound_text(CONTACT, "late %d" % i))

    # contact JIDs advertise MAM; a get answers the form
    assert NS_MAM in bridge_features(bob, cj)
    form = bob.iq(cj, "<query xmlns='%s'/>" % NS_MAM, "get", timeout=WAIT)
    assert form.type == "result", form.xml
    assert "start" in form.xml and "FORM_TYPE" in form.xml, form.xml

    _, page, fin = mam(bob, cj, {"start": stamp(middle)})
    assert bodies(page) == ["late 0", "late 1"], bodies(page)
    assert rsm_of(fin)[2] == 2 and fin.get("complete") == "true"
    _, page, fin = mam(bob, cj, {"end": stamp(middle)})
    assert bodies(page) == ["early 0", "early 1", "early 2"], bodies(page)
    _, page, _ = mam(bob, cj, {"start": stamp(middle - 3600),
                               "end": stamp(middle + 3600), "with": cj})
    assert len(page) == 5, bodies(page)
    # the owner reads it too; "with" another JID: nothing
    _, page, fin = mam(owner, cj, {"with": "+4915199999999@" + bridge.gw})
    assert page == [] and rsm_of(fin)[2] == 0, fin
    _, page, _ = mam(owner, cj, rsm="<max>0</max>")
    assert page == []

    # bad input
    for bad in ("yesterday", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                "2026-01-01 00:00:00Z"):
        reply, _, _ = mam(bob, cj, {"start": bad})
        assert reply.type == "error" and \
            reply.error_condition == "bad-request", (bad, reply.xml)
    reply, _, _ = mam(bob, cj, rsm="<max>ten</max>")
    assert reply.error_condition == "bad-request", reply.xml
    reply, _, _ = mam(bob, cj, rsm="<after>999999999</after>")
    assert reply.error_condition == "item-not-found", reply.xml
    reply, _, _ = mam(bob, cj, {"frobs": "1"})
    assert reply.error_condition == "feature-not-implemented", reply.xml

    # someone who is neither the owner nor a member: refused
    stranger = member(bridge)
    reply, page, _ = mam(stranger, cj)
    assert reply.type == "error" and \
        reply.error_condition == "forbidden", reply.xml
    assert page == []


def bridge_features(client, jid):
    return client.disco_info(jid, timeout=WAIT).features


def test_team_assign_sends_history(bridge):
    owner, (bob, amy) = team_of(bridge)
    cj = bridge.contact_jid(CONTACT)
    for text in ("my order 1234", "it is late"):
        bridge.wait_chat(bob, bridge.inbound_text(CONTACT, text, name="Ana"))
    bridge.open_window(CONTACT)
    bridge.send(bob, CONTACT, "let me check")
    bridge.wait_sent(1, CONTACT)

    bridge.send(bob, CONTACT, "/assign " + name_of(amy))
    said(bob, cj, "[team] Assigned to %s" % name_of(amy))
    said(amy, cj, "[team] %s assigned this to %s" % (name_of(bob),
                                                      name_of(amy)))
    said(amy, cj, "[team] The last 3 message(s) of this conversation")
    lines = history_lines(amy, cj, 3)
    assert [m.body for m in lines] == [
        "[history] my order 1234", "[history] it is late",
        "[history] %s: let me check" % name_of(bob)], [m.body for m in lines]
    for m in lines:
        d = m.find("{%s}delay" % NS_DELAY)
        assert d is not None and d.get("stamp").endswith("Z"), m.xml
        age = time.time() - datetime.strptime(
            d.get("stamp"), "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=timezone.utc).timestamp()
        assert -2 < age < 120, m.xml
    # only the new holder gets it
    for c in (owner, bob):
        bridge.flush(c)
        c.assert_no_message(lambda m: m.body is not None and
                            m.body.startswith("[history]"), timeout=0.5)
