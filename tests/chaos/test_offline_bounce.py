# SPDX-License-Identifier: MIT
"""Messages the XMPP server bounces after ferry's ping confirmed them.

DESIGN.md section 4 counts a stanza as delivered once the server answered
the XEP-0199 ping sent after it.  The answer proves the server *read* the
stanza, not that it delivered or stored it: a server may still bounce it
with a `type='error'` message, and then nobody has it.  Two stock set-ups
do that to a user who is offline:

* ejabberd with the offline quota of Debian's default ejabberd.yml
  (`max_user_offline_messages: 100` for ordinary users): message 101 and
  later are bounced (`resource-constraint`);
* Prosody without mod_offline: every message is bounced
  (`service-unavailable`).

ferry used to drop `type='error'` messages, so these WhatsApp messages
were lost although WhatsApp got its 200.  Now it keeps a confirmed message
for a minute, holds the one that bounces and sends it again when the
user's presence comes back: every message must reach the user once it is
back online.

Runs against its own servers (the quota / module set-up differs from the
shared e2e servers): about 5 s each while it passes, 15 s when it fails.
"""

import os
import shutil
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.normpath(os.path.join(HERE, "..", "e2e"))
for p in (HERE, E2E):
    if p not in sys.path:
        sys.path.insert(0, p)

from harness import clients, ferryproc, servers  # noqa: E402
from harness.network import Bridge  # noqa: E402
from harness.util import wait_for  # noqa: E402

BINARIES = {"prosody": "prosody", "ejabberd": "ejabberdctl"}
WA = "491511112222"
QUOTA = 100          # Debian's ejabberd.yml: max_user_offline_messages


def _setup(name, server):
    """Make the server bounce messages for an offline user; how many
    messages to send while the user is away."""
    with open(server.config_path) as f:
        cfg = f.read()
    if name == "ejabberd":
        new = cfg.replace("shaper_rules:\n", "shaper_rules:\n"
                          "  max_user_offline_messages: %d\n" % QUOTA, 1)
        away = QUOTA + 10
    else:
        new = cfg.replace('modules_disabled = { "s2s";',
                          'modules_disabled = { "offline"; "s2s";', 1)
        away = 5
    assert new != cfg, "the harness's %s config changed" % name
    with open(server.config_path, "w") as f:
        f.write(new)
    return away


@pytest.mark.parametrize("name", ["ejabberd", "prosody"])
def test_bounced_messages_are_not_lost(name, tmp_path):
    if not shutil.which(BINARIES[name]):
        pytest.skip("%s is not installed" % name)
    binary = ferryproc.ferry_bin()
    if not os.access(binary, os.X_OK):
        pytest.skip("ferry binary not found at %s" % binary)
    server = servers.make_server(name, str(tmp_path / "srv"))
    away = _setup(name, server)
    server.start()
    made = []

    def start_ferry(srv, start=True, **overrides):
        f = ferryproc.make_ferry(binary, str(tmp_path / "ferry"), srv,
                                 **overrides)
        if start:
            f.start()
        return f

    def connect(srv, user=None, password=None, **kw):
        c = clients.connect_client(srv, user, password, **kw)
        made.append(c)
        return c

    bridge = Bridge(server, start_ferry, connect)
    try:
        c = bridge.client()
        user, password = c.user, c.password
        bridge.inbound(WA, "hello while online", name="Ana")
        c.wait_message(lambda m: m.body == "hello while online", timeout=20)
        c.disconnect()
        time.sleep(1)
        bodies = ["while away %03d" % i for i in range(away)]
        for body in bodies:
            bridge.inbound(WA, body, name="Ana")
        wait_for(lambda: bridge.count("inbox", "state = 0") == 0, 30, 0.1,
                 "ferry to hand its inbox to the server")
        held = away - QUOTA if name == "ejabberd" else away
        wait_for(lambda: bridge.count("inbox", "state = 2") == held, 10, 0.1,
                 "ferry to hold the %d bounced messages" % held)
        time.sleep(1)
        bounced = bridge.ferry.log_lines(r"<message type=error from=%s@"
                                         % user)
        back = connect(server, user, password)
        got = set()

        def all_there():
            got.update(m.body for m in back.messages.history
                       if m.body in bodies)
            return len(got) == len(bodies)
        try:
            wait_for(all_there, 10, 0.2, "every message at the user")
        except TimeoutError:
            pass
        missing = sorted(set(bodies) - got)
        assert not missing, (
            "%s: %d of %d messages sent while the user was offline never "
            "reached it; the server bounced %d of them to ferry (ferry's "
            "log: %s ...) after answering the barrier ping, and ferry "
            "dropped the bounces. Missing: %s" % (
                name, len(missing), len(bodies), len(bounced),
                bounced[:2], missing[:5]))
        time.sleep(1)  # a duplicate would come right after the rest
        seen = [m.body for m in back.messages.history if m.body in bodies]
        assert len(seen) == len(bodies), (
            "%s: duplicates: %s" % (name, sorted(
                b for b in set(seen) if seen.count(b) > 1)[:5]))
        assert seen == bodies, "%s: out of order: %s" % (name, seen[:20])
    finally:
        for c in made:
            c.disconnect()
        problems = bridge.close()
        server.stop()
        assert not problems, problems
