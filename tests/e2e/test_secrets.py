# SPDX-License-Identifier: MIT
"""Secrets stay secret (issue 6, point 4; STYLE.md: tokens, secrets and
Authorization headers never reach a log).  Every test runs against Prosody
and ejabberd.

* A representative scenario at debug level (registration by form, legacy
  and chat command, a refused token, messages both ways with statuses, a
  token rejected by WhatsApp, a bad signature, the webhook handshake, a
  SIGHUP reload, a restart): ferry's log holds none of the access tokens,
  the component secret, the app secret, the verify token, nor any
  `Authorization` / `Bearer` value.
* The SQLite store and its -wal and -shm files are mode 0600.
* ferry warns at start-up when its config file holds a secret and is
  readable by group or others, and not when the file is 0600 or the
  secrets come from `*_file` keys or `FERRY_*` variables.
"""

import os
import re
import signal
import stat
import urllib.parse

import pytest

from harness.ferryproc import http_get
from harness.network import PNID2, WAIT
from harness.util import random_secret, wait_for

CONTACT = "4915100000701"
WARN_RE = r"readable by others"


def secret_windows(secret, n=12):
    """The secret and every n-character piece of it: a log that shows a
    good part of a secret (cut, or wrapped in quotes) is caught too."""
    if len(secret) <= n:
        return [secret]
    return [secret] + [secret[i:i + n] for i in range(len(secret) - n + 1)]


def leaks(text, secrets):
    """{name: [lines]} of the log lines that show a secret, or an
    Authorization / Bearer value."""
    found = {}
    lines = text.splitlines()
    for name, value in secrets.items():
        pieces = secret_windows(value)
        hit = [l for l in lines if any(p in l for p in pieces)]
        if hit:
            found[name] = hit[:5]
    auth = [l for l in lines if re.search(r"authorization|bearer", l, re.I)]
    if auth:
        found["Authorization/Bearer"] = auth[:5]
    return found


def test_leak_check_can_fail():
    """The check itself: it finds a secret, a piece of one and a header."""
    s = {"token": "EAAG" + "0123456789abcdef" * 3}
    assert leaks("all clean\nnothing here", s) == {}
    assert "token" in leaks("x token=%s y" % s["token"], s)
    assert "token" in leaks("cut: %s..." % s["token"][5:20], s)
    assert leaks("> Authorization: Bearer x", {}) != {}
    assert leaks("curl: bearer abc", {}) != {}


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_no_secret_in_the_debug_log(make_bridge, connect_client,
                                    xmpp_server):
    bridge = make_bridge()
    ferry = bridge.ferry
    assert ferry.cfg["log"]["level"] == "debug" and "-d" in ferry.argv()
    token2 = bridge.add_account(PNID2)
    wrong = "EAAG" + random_secret(40)
    secrets = {"access token": bridge.token, "access token 2": token2,
               "refused token": wrong,
               "component secret": xmpp_server.component_secret,
               "app secret": bridge.app_secret,
               "verify token": bridge.verify_token}

    # registration: refused token, form, legacy, chat command, ad hoc
    c = connect_client(xmpp_server)
    r = bridge.register(c, token=wrong)
    assert r.type == "error" and r.error_condition == "not-acceptable", r.xml
    bridge.register_ok(c)
    r = bridge.register(c, legacy=True)           # again: updates the token
    assert r.type == "result", r.xml
    c2 = connect_client(xmpp_server)
    c2.send_message(bridge.gw, "register %s %s" % (PNID2, token2))
    ans = c2.wait_message(lambda m: m.frm and m.frm.startswith(bridge.gw)
                          and m.type == "chat", timeout=WAIT)
    assert PNID2 in (ans.body or "") or "regist" in (ans.body or "").lower(), \
        ans.xml
    wait_for(lambda: bridge.count("account") == 2, WAIT, 0.1,
             "the chat-command registration")

    # messages both ways, statuses, a mark-read
    bridge.open_window(CONTACT)
    mid = bridge.send(c, CONTACT, "hello out there", receipt=True)
    bridge.wait_receipt(c, mid)
    wamid = bridge.inbound_text(CONTACT, "hello back", name="Ana")
    bridge.wait_chat(c, wamid)
    bridge.send_displayed(c, CONTACT, wamid)
    bridge.wait_reads(1)

    # WhatsApp rejects the token
    bridge.fail(190)
    mid = bridge.send(c, CONTACT, "this one bounces")
    e = bridge.wait_error(c, mid)
    assert e.error_condition == "not-authorized", e.xml
    bridge.register_ok(c, subscribe=False)        # un-pauses

    # a bad and a missing signature, a forged handshake, the real one
    for mode in ("bad", "none", "upper"):
        r = bridge.inbound(CONTACT, "forged", signature=mode, retry=False)
        assert r["delivery"]["status"] == 403, r
    assert bridge.verify(verify_token="not-it")["status"] == 403
    assert bridge.verify(challenge="4242")["status"] == 200
    q = urllib.parse.urlencode({"hub.mode": "subscribe",
                                "hub.verify_token": bridge.verify_token,
                                "hub.challenge": "77"})
    assert http_get(bridge.webhook_url + "?" + q)[0] == 200

    # the store's files while ferry runs (WAL mode: -wal and -shm exist)
    store = ferry.store_path
    files = [store] + [store + x for x in ("-wal", "-shm")
                       if os.path.exists(store + x)]
    assert len(files) == 3, "expected the store and its -wal and -shm: %s" \
        % os.listdir(os.path.dirname(store))
    modes = {f: oct(_mode(f)) for f in files}
    assert all(m == "0o600" for m in modes.values()), modes

    # SIGHUP, and a restart
    n = len(ferry.log_lines(r"SIGHUP"))
    ferry.signal(signal.SIGHUP)
    wait_for(lambda: len(ferry.log_lines(r"SIGHUP")) > n, WAIT, 0.05,
             "ferry to log the reload")
    c.ping(bridge.gw)
    bridge.restart_ferry()
    wamid = bridge.inbound_text(CONTACT, "after the restart", name="Ana")
    bridge.wait_chat(c, wamid)
    modes = {f: oct(_mode(f)) for f in files if os.path.exists(f)}
    assert all(m == "0o600" for m in modes.values()), modes

    # the tokens really were used on the wire (so a leak was possible) ...
    auth = {r["headers"].get("Authorization") for r in bridge.requests()}
    assert "Bearer " + bridge.token in auth and "Bearer " + token2 in auth, \
        auth
    # ... and the log we read is ferry's own, not the fake's
    text = ferry.log_text()
    assert ferry.log_path.startswith(ferry.workdir)
    assert re.search(r"component: connected", text), "not ferry's log?"
    assert "fake_cloudapi" not in text and "attempt 1 ->" not in text
    assert len(text.splitlines()) > 50, "suspiciously short debug log"
    found = leaks(text, secrets)
    assert not found, "secrets in ferry's log %s:\n%s" % (
        ferry.log_path, "\n".join("%s: %s" % (k, v) for k, v in
                                  found.items()))
    # nor in the config-check output
    rc = ferry.check(["-n", "-c", ferry.conf_path])
    found = leaks(rc.stdout + rc.stderr, secrets)
    assert not found, "secrets in `ferry -n` output: %s" % found


# --- the config file's mode --------------------------------------------------------

def _start(start_ferry, server, mode, **overrides):
    f = start_ferry(server, start=False, **overrides)
    os.chmod(f.conf_path, mode)
    f.start()
    return f


def _warnings(f):
    return f.log_lines(WARN_RE)


def test_warns_when_config_with_secret_is_readable(start_ferry, xmpp_server):
    for mode in (0o644, 0o640, 0o604):
        f = _start(start_ferry, xmpp_server, mode)
        lines = _warnings(f)
        assert lines, "no warning for a %o config holding the component " \
            "secret:\n%s" % (mode, f.log_tail(30))
        assert f.conf_path in lines[0], lines
        assert xmpp_server.component_secret not in f.log_text()
        f.stop()
    # a file whose only secret is the app secret
    f = _start(start_ferry, xmpp_server, 0o644,
               env={"FERRY_COMPONENT_SECRET": xmpp_server.component_secret},
               component_secret=None, cloudapi_verify_token=None)
    lines = _warnings(f)
    assert lines and "app_secret" in lines[0], (lines, f.log_tail(30))


def test_no_warning_when_private_or_secret_elsewhere(start_ferry, xmpp_server,
                                                     tmp_path):
    secret = xmpp_server.component_secret
    # 0600: fine
    f = _start(start_ferry, xmpp_server, 0o600)
    assert not _warnings(f), _warnings(f)
    f.stop()
    # 0644 without secrets in it: component secret from secret_file ...
    path = tmp_path / "component.secret"
    path.write_text(secret + "\n")
    os.chmod(path, 0o600)
    f = _start(start_ferry, xmpp_server, 0o644, component_secret=None,
               component_secret_file=str(path), cloudapi_app_secret=None,
               cloudapi_verify_token=None)
    assert not _warnings(f), _warnings(f)
    assert secret not in open(f.conf_path).read()
    f.stop()
    # ... or from the environment
    f = _start(start_ferry, xmpp_server, 0o644,
               env={"FERRY_COMPONENT_SECRET": secret},
               component_secret=None, cloudapi_app_secret=None,
               cloudapi_verify_token=None)
    assert not _warnings(f), _warnings(f)
    assert secret not in open(f.conf_path).read()


@pytest.mark.parametrize("key", ["app_secret", "verify_token"])
def test_cloudapi_secrets_from_files(make_bridge, tmp_path, key):
    """app_secret_file / verify_token_file work (the webhook still checks
    out) and leave the 0644 config without a warning."""
    value = "from-file-" + random_secret(16)
    path = tmp_path / key
    path.write_text(value + "\n")
    os.chmod(path, 0o600)
    b = make_bridge(start=False, **{"cloudapi_" + key: None,
                                    "cloudapi_%s_file" % key: str(path)})
    if key == "app_secret":
        b.app_secret = value
    else:
        b.verify_token = value
    b.config(**{key: value})
    os.chmod(b.ferry.conf_path, 0o644)
    b.ferry.start()
    if key == "app_secret":
        c = b.client()
        wamid = b.inbound_text(CONTACT, "signed with the file's secret")
        b.wait_chat(c, wamid)
    else:
        assert b.verify(challenge="99")["status"] == 200
    lines = _warnings(b.ferry)
    # the other secret is still in the file: that one may be named
    assert not [l for l in lines if key in l], lines
    assert value not in b.ferry.log_text()
