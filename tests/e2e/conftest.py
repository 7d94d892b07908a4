# SPDX-License-Identifier: MIT
"""Fixtures for ferry's end-to-end tests (see README.md in this directory).

    xmpp_server     session-scoped, parametrized: 'prosody' and 'ejabberd'
    start_ferry     factory: start_ferry(server, wait=..., **overrides)
    ferry           a ferry connected to xmpp_server with the default config
    connect_client  factory: connect_client(server, user=None, password=None)
    client          a fresh registered, connected client on xmpp_server
    ferry_bin       path of the ferry binary (skips if missing)
"""

import atexit
import os
import shutil
import signal

import pytest

from harness import clients, ferryproc, servers
from harness.util import tail

pytest_plugins = ["conftest_network"]

ALL_SERVERS = ("prosody", "ejabberd")
SERVER_BINARIES = {"prosody": "prosody", "ejabberd": "ejabberdctl"}


def _selected_servers():
    """$FERRY_E2E_SERVERS (comma separated) or both."""
    env = os.environ.get("FERRY_E2E_SERVERS", "")
    names = [n.strip() for n in env.split(",") if n.strip()] or ALL_SERVERS
    bad = [n for n in names if n not in ALL_SERVERS]
    if bad:
        raise pytest.UsageError("FERRY_E2E_SERVERS: unknown server(s) %s"
                                % bad)
    return names


# Everything we started, so that an interrupted run leaves nothing behind.
_live_servers = []
_live_ferries = []


@atexit.register
def _kill_leftovers():
    for f in _live_ferries:
        if f.alive:
            f.proc.kill()
    for s in _live_servers:
        if s.is_running():
            s._kill_all()


# --- XMPP servers -----------------------------------------------------------

@pytest.fixture(scope="session")
def _server_pool(tmp_path_factory):
    """Servers are created lazily, once per session, and stopped at the end."""
    pool = {}

    def get(name):
        if name not in pool:
            if not shutil.which(SERVER_BINARIES[name]):
                pytest.skip("%s is not installed" % name)
            srv = servers.make_server(name,
                                      tmp_path_factory.mktemp("srv-" + name))
            _live_servers.append(srv)
            srv.start()
            pool[name] = srv
        return pool[name]
    yield get
    errors = []
    for srv in pool.values():
        try:
            srv.stop()
        except Exception as e:  # keep stopping the others
            errors.append("%s: %s" % (srv.name, e))
    assert not errors, errors


@pytest.fixture(scope="session", params=_selected_servers())
def xmpp_server(request, _server_pool):
    """A running Prosody or ejabberd (the test runs once per server).

    Attributes: name, domain, component_jid, component_secret,
    component_port, c2s_port, http_port, upload_jid, upload_url, log_path.
    Methods: register(user, password), new_user(), stop(), start(),
    restart(), ensure_running(), ctl(*args).
    """
    return _server_pool(request.param)


@pytest.fixture(autouse=True)
def _server_guard(request):
    """Make sure the server is up before each test that uses one (a failed
    test may have left it stopped), and remember where its log was."""
    if "xmpp_server" not in request.fixturenames:
        yield
        return
    srv = request.getfixturevalue("xmpp_server")
    srv.ensure_running()
    request.node._e2e_server = (srv, srv.log_size())
    yield


# --- ferry -------------------------------------------------------------------

@pytest.fixture(scope="session")
def ferry_bin():
    """Path of the ferry binary ($FERRY_BIN, else build/werror/ferry,
    build/dev/ferry, build/asan/ferry or ./ferry of the checkout)."""
    path = ferryproc.ferry_bin()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.skip("ferry binary not found at %s: build it (make ferry) or "
                    "set FERRY_BIN=build/dev/ferry" % path)
    return path


@pytest.fixture
def start_ferry(request, ferry_bin, tmp_path_factory):
    """Factory: start_ferry(server, *, wait='connected', timeout=15,
    env=None, args=(), config_text=None, start=True, **overrides).

    overrides are section_key=value (component_secret='x',
    cloudapi_graph_url='http://127.0.0.1:1234'; None deletes a key).
    At teardown every ferry still running gets SIGTERM and must exit 0,
    and no log may contain a sanitizer report.
    """
    started = []
    request.node._e2e_ferries = started

    def factory(server, *, wait="connected", timeout=ferryproc.START_TIMEOUT,
                env=None, args=(), config_text=None, start=True,
                **overrides):
        f = ferryproc.make_ferry(ferry_bin, tmp_path_factory.mktemp("ferry"),
                                 server, env=env, args=args,
                                 config_text=config_text, **overrides)
        started.append(f)
        _live_ferries.append(f)
        if start:
            f.start(wait=wait, timeout=timeout)
        return f

    yield factory

    errors = []
    for f in started:
        if f.alive:
            rc, secs = f.stop(signal.SIGTERM, timeout=10)
            if rc != 0:
                errors.append("ferry %s exited %s on SIGTERM at teardown "
                              "(after %.2fs)" % (f.pid, rc, secs))
        reports = f.sanitizer_reports()
        if reports:
            errors.append("sanitizer report in %s:\n  %s"
                          % (f.log_path, "\n  ".join(reports[:20])))
    if errors:
        pytest.fail("\n".join(errors) + "\n--- ferry log tail ---\n"
                    + "\n".join(f.log_tail(60) for f in started),
                    pytrace=False)


@pytest.fixture
def ferry(start_ferry, xmpp_server):
    """A ferry attached to xmpp_server, connected, default config."""
    return start_ferry(xmpp_server)


# --- clients -----------------------------------------------------------------

@pytest.fixture
def connect_client():
    """Factory: connect_client(server, user=None, password=None, **kw).

    Without user, a fresh random user is registered in-band first.
    All clients are disconnected at teardown."""
    made = []

    def factory(server, user=None, password=None, **kwargs):
        c = clients.connect_client(server, user, password, **kwargs)
        made.append(c)
        return c
    yield factory
    for c in made:
        c.disconnect()


@pytest.fixture
def client(connect_client, xmpp_server):
    """A freshly registered client, logged in to xmpp_server, with presence."""
    return connect_client(xmpp_server)


# --- reporting ---------------------------------------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    for i, f in enumerate(getattr(item, "_e2e_ferries", [])):
        rep.sections.append(("ferry log %d (%s)" % (i, f.log_path),
                             f.log_tail(150)))
    srv = getattr(item, "_e2e_server", None)
    if srv and rep.when != "teardown":
        server, offset = srv
        rep.sections.append(("%s log during the test (%s)"
                             % (server.name, server.log_path),
                             tail(server.log_path, 40, offset)))
