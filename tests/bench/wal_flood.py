#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The WAL's size during a sustained webhook flood (issue 15, item 2).

Starts what `make bench` starts for one server (bench.py's ServerBench:
Prosody, the sink, ferry, 100 users), then posts webhooks of 1 message as
fast as ferry takes them, in rounds of WAL_FLOOD_N, for WAL_FLOOD_S seconds,
and samples the size of ferry's `-wal` file and ferry's CPU every second.
Prints one line per sample and a summary; writes nothing else.

    BENCH_TOOLS=build/werror/tests/bench FERRY_BIN=build/werror/ferry \\
        WAL_FLOOD_S=600 /usr/bin/python3 tests/bench/wal_flood.py
"""

import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

SECONDS = float(os.environ.get("WAL_FLOOD_S", "600"))
N = int(os.environ.get("WAL_FLOOD_N", "5000"))
BATCH = int(os.environ.get("WAL_FLOOD_BATCH", "1"))


def sampler(b, stop, out):
    wal = b.store + "-wal"
    t0 = time.monotonic()
    while not stop.is_set():
        try:
            size = os.path.getsize(wal)
        except OSError:
            size = 0
        out.append((time.monotonic() - t0, size, bench.cpu_s(b.ferry.pid)))
        time.sleep(1.0)


def main():
    work = tempfile.mkdtemp(prefix="ferry-walflood-")
    b = bench.ServerBench(os.environ.get("BENCH_SERVERS", "prosody"), work)
    samples, stop = [], threading.Event()
    msgs = 0
    try:
        b.setup()
        t = threading.Thread(target=sampler, args=(b, stop, samples))
        t.start()
        t0 = time.monotonic()
        while time.monotonic() - t0 < SECONDS:
            b.a2x("ferry", 10, N, BATCH, 0, timeout=600)
            msgs += N
        stop.set()
        t.join()
    finally:
        b.teardown()
    for s, size, cpu in samples:
        print("%.0f s  WAL %.1f MiB  ferry CPU %.1f s" % (s, size / 2**20,
                                                          cpu))
    sizes = [x[1] for x in samples]
    secs = samples[-1][0] if samples else 0
    print("SUMMARY %d messages in %.0f s (%.0f/s); WAL max %.1f MiB, "
          "median %.1f MiB, last %.1f MiB; ferry CPU %.1f µs/msg" % (
              msgs, secs, msgs / max(secs, 1), max(sizes) / 2**20,
              sorted(sizes)[len(sizes) // 2] / 2**20, sizes[-1] / 2**20,
              (samples[-1][2] - samples[0][2]) * 1e6 / max(msgs, 1)))


if __name__ == "__main__":
    main()
