# SPDX-License-Identifier: MIT
"""The short chaos run (issue 6 point 1) as a test, once per XMPP server:
about 240 messages each way between 3 users and 3 contacts each, a
team number (its owner and 2 members, one of them away for a few
seconds, and 2 contacts), and 2 personal accounts through the fake WAHA
with 3 contacts each, with a few faults (ferry SIGKILLed twice, the
XMPP server restarted, the API down, two kinds of 5xx answers, 130429 as
HTTP 400 and as 429 and 80007 as 429; duplicated, batched and reordered
webhooks, replayed statuses; WAHA down, a sendText refused and one whose
answer was lost, a session failed or logged out and linked again; the
message/message.any overlap and duplicated WAHA webhooks). About 40 s
per server.

    FERRY_BIN=build/dev/ferry /usr/bin/python3 -m pytest tests/chaos -s

FERRY_CHAOS_SEED replays a seed (each run prints its own);
FERRY_E2E_SERVERS=prosody limits the servers.  The long form is
`make chaos` (tests/chaos/chaos.py without --short).
"""

import os
import random
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import chaos  # noqa: E402
from harness import ferryproc  # noqa: E402


def _servers():
    env = os.environ.get("FERRY_E2E_SERVERS", "")
    return [s.strip() for s in env.split(",") if s.strip()] or \
        ["prosody", "ejabberd"]


@pytest.mark.parametrize("server", _servers())
def test_chaos_short(server, tmp_path):
    if not shutil.which(chaos.SERVER_BINARIES[server]):
        pytest.skip("%s is not installed" % server)
    binary = ferryproc.ferry_bin()
    if not os.access(binary, os.X_OK):
        pytest.skip("ferry binary not found at %s: build it or set "
                    "FERRY_BIN" % binary)
    seed = int(os.environ.get("FERRY_CHAOS_SEED") or
               random.SystemRandom().randrange(1, 10 ** 6))
    rc = chaos.main(["--short", "--servers", server, "--seed", str(seed),
                     "--workdir", str(tmp_path), "--ferry-bin", binary])
    assert rc == 0, ("the chaos ledger failed on %s (see the output above; "
                     "replay: tests/chaos/chaos.py --short --servers %s "
                     "--seed %d; records in %s)" % (server, server, seed,
                                                    tmp_path))
