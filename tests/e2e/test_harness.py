# SPDX-License-Identifier: MIT
"""Self-checks of the harness (no ferry needed): if these fail, the servers
or the client helper are broken, not ferry."""

import urllib.request

import pytest

from harness.clients import ClientError

NS_UPLOAD = "urn:xmpp:http:upload:0"


def test_client_to_client_message(connect_client, xmpp_server):
    a = connect_client(xmpp_server)
    b = connect_client(xmpp_server)
    mid = a.send_message(b.full_jid, "hi <&> \U0001F600",
                         extra_xml="<request xmlns='urn:xmpp:receipts'/>")
    m = b.wait_message(lambda m: m.id == mid, timeout=5)
    assert m.body == "hi <&> \U0001F600"
    assert m.frm == a.full_jid and m.type == "chat"
    assert m.has("urn:xmpp:receipts", "request")
    # slixmpp answers the receipt request by itself (xep_0184 auto_ack)
    r = a.wait_message(lambda m: m.has("urn:xmpp:receipts", "received"), 5)
    assert r.child("urn:xmpp:receipts").get("id") == mid


def test_subscription_and_roster(connect_client, xmpp_server):
    a = connect_client(xmpp_server)
    b = connect_client(xmpp_server)
    a.send_presence(b.jid, "subscribe")
    b.wait_presence(lambda p: p.type == "subscribe" and
                    p.frm.startswith(a.jid), timeout=5)
    # b auto-authorizes and subscribes back (slixmpp defaults)
    from harness.util import wait_for
    wait_for(lambda: a.roster.get(b.jid, {}).get("subscription") == "both",
             5, what="mutual subscription")
    assert a.get_roster()[b.jid]["subscription"] == "both"


def test_registration_and_login(xmpp_server, connect_client):
    user, password = xmpp_server.new_user()
    c = connect_client(xmpp_server, user, password)
    assert c.full_jid.startswith("%s@%s/" % (user, xmpp_server.domain))
    with pytest.raises(ClientError):
        connect_client(xmpp_server, user, "wrong-password", timeout=5)


def test_upload_service(client, xmpp_server):
    info = client.disco_info(xmpp_server.upload_jid)
    assert NS_UPLOAD in info.features
    reply = client.iq(xmpp_server.upload_jid,
                      "<request xmlns='%s' filename='a.txt' size='5' "
                      "content-type='text/plain'/>" % NS_UPLOAD)
    assert reply.type == "result", reply.xml
    slot = reply.child(NS_UPLOAD, "slot")
    put = slot.find("{%s}put" % NS_UPLOAD)
    get = slot.find("{%s}get" % NS_UPLOAD)
    headers = {h.get("name"): h.text
               for h in put.findall("{%s}header" % NS_UPLOAD)}
    headers["Content-Type"] = "text/plain"
    assert put.get("url").startswith(xmpp_server.upload_url)
    req = urllib.request.Request(put.get("url"), data=b"hello",
                                 method="PUT", headers=headers)
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 201
    with urllib.request.urlopen(get.get("url"), timeout=5) as r:
        assert r.status == 200 and r.read() == b"hello"
