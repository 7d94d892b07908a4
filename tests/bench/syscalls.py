#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The system calls ferry makes per message, on each path (issue 15: what
bounds the CPU per message; docs/performance.md).

Starts what `make bench` starts for one server (bench.py's ServerBench),
then runs one flood per path with `strace -c -f` attached to ferry for
exactly that flood: XMPP→API (10 users) and API→XMPP (webhooks of 1 and
of 100). Prints, per path, each system call's count per message, and
ferry's CPU per message measured in a second flood without strace.

    BENCH_TOOLS=build/werror/tests/bench FERRY_BIN=build/werror/ferry \\
        /usr/bin/python3 tests/bench/syscalls.py
"""

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

N = int(os.environ.get("SYSCALLS_N", "5000"))


def strace_counts(path):
    """{syscall: calls} from `strace -c` output."""
    counts = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and \
                    parts[-1] != "total":
                try:
                    counts[parts[-1]] = int(parts[3])
                except ValueError:
                    pass
    return counts


def main():
    if shutil.which("strace") is None:
        sys.exit("syscalls.py needs strace")
    work = tempfile.mkdtemp(prefix="ferry-syscalls-")
    b = bench.ServerBench(os.environ.get("BENCH_SERVERS", "prosody"), work)
    # (label, messages, run): webhooks of 100 get four times the messages,
    # so that the flood has as many POSTs as it has seconds
    paths = (
        ("XMPP→API, 10 users", N, lambda n: b.x2a("ferry", 10, n, 0)),
        ("API→XMPP, webhooks of 1", N,
         lambda n: b.a2x("ferry", 10, n, 1, 0)),
        ("API→XMPP, webhooks of 100", N * 4,
         lambda n: b.a2x("ferry", 10, n, 100, 0)),
    )
    rows = []
    try:
        b.setup()
        for label, n, flood in paths:
            run = functools.partial(flood, n)
            run()  # warm-up
            cpu0 = bench.cpu_s(b.ferry.pid)
            run()
            cpu = (bench.cpu_s(b.ferry.pid) - cpu0) * 1e6 / n
            out = os.path.join(work, "strace.txt")
            st = subprocess.Popen(["strace", "-c", "-f", "-o", out, "-p",
                                   str(b.ferry.pid)],
                                  stderr=subprocess.DEVNULL)
            time.sleep(1.0)
            run()
            st.send_signal(signal.SIGINT)
            st.wait(60)
            rows.append((label, cpu, n, strace_counts(out)))
    finally:
        b.teardown()
        shutil.rmtree(work, ignore_errors=True)
    for label, cpu, n, counts in rows:
        total = sum(counts.values())
        print("%s: ferry CPU %.1f µs/msg (without strace); %.1f system "
              "calls/msg" % (label, cpu, total / n))
        for name, c in sorted(counts.items(), key=lambda x: -x[1]):
            if c / n >= 0.05:
                print("    %-16s %6.2f" % (name, c / n))


if __name__ == "__main__":
    main()
