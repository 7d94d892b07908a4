# SPDX-License-Identifier: MIT
"""Self-checks of the harness (no ferry needed): if these fail, the servers
or the client helper are broken, not ferry."""

import os
import urllib.request

import pytest

from harness import serverconf
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


# --- the server configs come from contrib/ ------------------------------------

def _snippet_lines(path):
    """The setting lines of a contrib sample: no blanks, no comments."""
    out = []
    for line in serverconf.read_snippet(path).splitlines():
        s = line.strip()
        if s and not s.startswith(("--", "#")):
            out.append(line.rstrip())
    return out


def test_server_config_is_built_from_contrib(xmpp_server):
    """The running server's config includes the contrib sample, every
    setting line of it in order, placeholders replaced; and the settings
    the tests rely on are in the sample itself (not in the test-only
    base).  Renaming a placeholder or dropping a setting from the sample
    breaks this test (and the harness: serverconf.SnippetError)."""
    srv = xmpp_server
    base = open(srv.config_path).read()
    written = open(srv.snippet_path).read()
    names = (srv.domain, srv.component_jid, srv.upload_jid,
             srv.component_secret, srv.component_port)
    if srv.name == "prosody":
        sample = serverconf.PROSODY_SNIPPET
        assert 'Include "%s"' % srv.snippet_path in base, base
        replacements = serverconf.prosody_replacements(*names)
    else:
        sample = serverconf.EJABBERD_SNIPPET
        assert 'include_config_file: "%s"' % srv.snippet_path in base, base
        replacements = serverconf.ejabberd_replacements(
            *names, srv.http_port, os.path.join(srv.base_dir, "upload"))
    # every setting line of the sample, in order, only the replacements
    # applied
    lines = written.splitlines()
    pos = 0
    for line in _snippet_lines(sample):
        want = line
        for old, new, _ in replacements:
            want = want.replace(old, new)
        found = [i for i in range(pos, len(lines))
                 if lines[i].rstrip() == want]
        assert found, "%s: line %r of %s missing (after line %d)" % (
            srv.snippet_path, want, sample, pos + 1)
        pos = found[0] + 1
    for placeholder in ("example.org", "a long random secret"):
        assert placeholder not in written, placeholder
    # and what the tests need is in the sample
    if srv.name == "prosody":
        _check_prosody_sample(srv, written, base)
    else:
        _check_ejabberd_sample(srv, written, base)


def _check_prosody_sample(srv, snippet, base):
    for needle in (
            'component_ports = { %d }' % srv.component_port,
            'VirtualHost "%s"' % srv.domain,
            'modules_enabled = { "privilege" }',
            '["%s"] = {' % srv.component_jid,
            'roster = "both";', 'message = "outgoing";',
            'presence = "roster";',
            'disco_items = { { "%s", "HTTP File Upload" } }' % srv.upload_jid,
            'Component "%s"\n    component_secret = "%s"'
            % (srv.component_jid, srv.component_secret),
            'Component "%s" "http_file_share"' % srv.upload_jid):
        assert needle in snippet, needle
    # the test-only base does not do the sample's job
    settings = "\n".join(l for l in base.splitlines()
                         if not l.lstrip().startswith("--"))
    # the harness's second component (rawcomponent) is the base's own
    settings = settings.replace(
        'Component "%s"\n    component_secret = "%s"'
        % (srv.silent_jid, srv.silent_secret), "")
    for word in ("Component", "VirtualHost", "privilege", "component_ports",
                 "offline"):
        assert word not in settings, word
    assert "http_file_share_access" not in snippet.replace(
        "Leave http_file_share_access unset", "")


def _check_ejabberd_sample(srv, snippet, base):
    import yaml
    y = yaml.safe_load(snippet)
    b = yaml.safe_load(base)
    # the component listener, with the secret
    comp = [l for l in y["listen"] if l["module"] == "ejabberd_service"]
    assert len(comp) == 1, y["listen"]
    assert comp[0]["port"] == srv.component_port
    assert comp[0]["hosts"] == {
        srv.component_jid: {"password": srv.component_secret}}, comp
    # the only component of the base is the harness's second one
    assert [l for l in b["listen"] if l["module"] == "ejabberd_service"
            and srv.component_jid in str(l)] == []
    # the gateway's ACL and the access rules that grant it
    acls = [n for n, spec in y["acl"].items()
            if spec == {"server": srv.component_jid}]
    assert len(acls) == 1, y["acl"]
    rules = y["access_rules"]

    def allows(rule, acl):
        spec = rules[rule]
        items = spec if isinstance(spec, list) else \
            [{k: v} for k, v in spec.items()]
        return {"allow": acl} in items
    mods = y["modules"]
    priv = mods["mod_privilege"]
    for perm, kind in (("roster", "both"), ("message", "outgoing"),
                       ("presence", "roster")):
        assert allows(priv[perm][kind], acls[0]), (perm, priv)
    assert "mod_offline" in mods
    up = mods["mod_http_upload"]
    assert up["hosts"] == [srv.upload_jid]
    assert allows(up["access"], acls[0]) and allows(up["access"], "local")
    assert up["put_url"] == srv.upload_url
    # ejabberd concatenates the top-level lists of the two files: no module,
    # ACL or rule may be defined twice
    for section in ("modules", "acl", "access_rules"):
        both = set(y.get(section, {})) & set(b.get(section, {}))
        assert not both, (section, both)
    assert {"include_config_file", "listen", "modules"} <= set(b)


@pytest.mark.parametrize("make", ["prosody", "ejabberd"])
def test_sample_change_breaks_the_harness(tmp_path, make):
    """A placeholder renamed in a sample is an error, not a silently
    different test config."""
    path = (serverconf.PROSODY_SNIPPET if make == "prosody"
            else serverconf.EJABBERD_SNIPPET)
    renamed = tmp_path / os.path.basename(path)
    renamed.write_text(serverconf.read_snippet(path).replace(
        serverconf.SAMPLE_COMPONENT, "gateway.example.org"))
    args = dict(domain="example.test", component="gw.example.test",
                upload="upload.example.test", secret="s", component_port=1)
    if make == "prosody":
        serverconf.prosody_snippet(**args)
        with pytest.raises(serverconf.SnippetError, match="whatsapp"):
            serverconf.prosody_snippet(snippet_path=str(renamed), **args)
    else:
        args.update(http_port=2, upload_dir="/nonexistent")
        serverconf.ejabberd_snippet(**args)
        with pytest.raises(serverconf.SnippetError, match="whatsapp"):
            serverconf.ejabberd_snippet(snippet_path=str(renamed), **args)
