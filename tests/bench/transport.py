#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ferry's CPU per message over the real transport (issue 15, item 4):
XMPP→API floods to bench_tls_sink.py over plain HTTP/1.1, TLS HTTP/1.1
(keep-alive) and TLS HTTP/2 (multiplexed), with the TLS handshakes counted.

Sets up what `make bench` does for one server (bench.py's ServerBench),
then for each transport starts the sink and a ferry on the same store
(FERRY_TEST_CA_FILE trusts the sink's throw-away CA) and runs
TRANSPORT_RUNS floods of TRANSPORT_N messages from 10 users. Prints one
line per run and the medians.

    BENCH_TOOLS=build/werror/tests/bench FERRY_BIN=build/werror/ferry \\
        /usr/bin/python3 tests/bench/transport.py
"""

import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

N = int(os.environ.get("TRANSPORT_N", "3000"))
RUNS = int(os.environ.get("TRANSPORT_RUNS", "3"))
USERS = 10
MODES = [("HTTP/1.1", False, False), ("TLS HTTP/1.1", True, False),
         ("TLS HTTP/2", True, True)]


def make_cert(d):
    cert, key = os.path.join(d, "sink.pem"), os.path.join(d, "sink.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1", "-keyout", key,
                    "-out", cert], check=True, capture_output=True)
    return cert, key


class TlsSink:
    def __init__(self, d, cert, key, tls, h2):
        argv = [sys.executable, os.path.join(bench.HERE,
                                             "bench_tls_sink.py")]
        if tls:
            argv += ["--cert", cert, "--key", key] + (["--h2"] if h2 else [])
        self.tool = bench.Tool("tls-sink", argv, d)
        port = int(self.tool.wait("READY", 10))
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", port)
        self.ctx = ssl.create_default_context(cafile=cert) if tls else None

    def get(self, path, data=None):
        req = urllib.request.Request(self.url + path, data=data)
        with urllib.request.urlopen(req, timeout=10, context=self.ctx) as r:
            return json.loads(r.read())

    def wait_count(self, n, timeout=300):
        deadline = time.monotonic() + timeout
        while self.get("/_stats")["count"] < n:
            if time.monotonic() > deadline:
                raise TimeoutError("tls sink: fewer than %d" % n)
            time.sleep(0.05)
        return self.get("/_stats")


def run_mode(b, d, cert, key, label, tls, h2, idx):
    sink = TlsSink(d, cert, key, tls, h2)
    b.ferry.stop()
    b.free_slot()
    os.environ["FERRY_TEST_CA_FILE"] = cert
    b.ferry = bench.Ferry(b.srv, d, sink.url, b.http_port, b.store,
                          name="ferry-t%d" % idx)
    b.ferry.start()
    out = []
    for r in range(RUNS + 1):  # the first is a warm-up
        sink.get("/_reset", data=b"")
        c0 = bench.cpu_s(b.ferry.pid)
        b.client.send("SEND %d 0 %d %d %s" % (N, USERS, bench.CONTACTS,
                                             bench.GW_JID))
        st = sink.wait_count(N)
        c1 = bench.cpu_s(b.ferry.pid)
        b.client.wait("SENT", 300)
        us = (c1 - c0) * 1e6 / N
        print("%s run %d: %.1f µs/msg, %d handshakes (%d HTTP/2)" % (
            label, r, us, st["handshakes"], st["h2"]), flush=True)
        if r > 0:
            out.append((us, st["handshakes"]))
    sink.tool.stop()
    return out


def main():
    d = tempfile.mkdtemp(prefix="ferry-transport-")
    cert, key = make_cert(d)
    b = bench.ServerBench(os.environ.get("BENCH_SERVERS", "prosody"), d)
    res = {}
    try:
        b.setup()
        for i, (label, tls, h2) in enumerate(MODES):
            res[label] = run_mode(b, d, cert, key, label, tls, h2, i)
    finally:
        b.teardown()
    for label, runs in res.items():
        us = [u for u, _ in runs]
        print("SUMMARY %s: %.1f µs/msg (%.1f-%.1f), handshakes per run %s"
              % (label, statistics.median(us), min(us), max(us),
                 [h for _, h in runs]))


if __name__ == "__main__":
    main()
