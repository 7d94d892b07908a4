# SPDX-License-Identifier: MIT
"""Fixtures for the Cloud API bridge tests (loaded by conftest.py through
pytest_plugins).

    bridge        a fake Cloud API + a ferry attached to it and to
                  xmpp_server (harness.network.Bridge), function scope
    make_bridge   factory: make_bridge(server=None, fake_config=None,
                  start=True, **ferry_overrides) for other configs
    waha          a fake WAHA and a fake Cloud API with a ferry serving
                  both (harness.waha.WahaGateway), function scope;
                  waha.connect() gives a fresh XMPP user
    make_waha     factory: make_waha(waha_config=None, start=True,
                  **ferry_overrides)

bridge.client() gives a fresh XMPP user registered with the gateway;
bridge.inbound()/status()/sent()/wait_sent()/open_window()/fail()/config()
drive the fake; bridge.kill_ferry()/start_ferry()/restart_ferry() keep the
store.  At teardown ferry gets SIGTERM (must exit 0) and the fake stops.
"""

import pytest

from harness.network import Bridge
from harness.waha import WahaGateway


@pytest.fixture
def make_bridge(request, xmpp_server, start_ferry, connect_client):
    made = []
    request.node._e2e_bridges = made

    def factory(server=None, start=True, **kwargs):
        b = Bridge(server or xmpp_server, start_ferry, connect_client,
                   start=False, **kwargs)
        made.append(b)
        if start:
            b.ferry.start(timeout=20)
        return b

    yield factory
    problems = []
    for b in made:
        problems += b.close()
    if problems:
        pytest.fail("\n".join(problems) + "\n--- ferry log tail ---\n"
                    + "\n".join(b.ferry.log_tail(60) for b in made),
                    pytrace=False)


@pytest.fixture
def bridge(make_bridge):
    """A fake Cloud API and a connected ferry using it (see module doc)."""
    return make_bridge()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    for i, b in enumerate(getattr(item, "_e2e_bridges", [])):
        rep.sections.append(("fake Cloud API %d (%s)" % (i, b.api_url),
                             b.summary()))


@pytest.fixture
def make_waha(xmpp_server, start_ferry, connect_client):
    made = []

    def factory(**kwargs):
        g = WahaGateway(xmpp_server, start_ferry, connect_client, **kwargs)
        g.connect = lambda **kw: connect_client(xmpp_server, **kw)
        made.append(g)
        return g

    yield factory
    problems = []
    for g in made:
        problems += g.close()
    if problems:
        pytest.fail("\n".join(problems) + "\n"
                    + "\n".join(g.ferry.log_tail(60) for g in made),
                    pytrace=False)


@pytest.fixture
def waha(make_waha):
    """A fake WAHA and a fake Cloud API with a ferry serving both."""
    return make_waha()
