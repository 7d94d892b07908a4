#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Pages and bytes ferry writes per message (issue 15, item 3).

Not part of `make bench`. Uses bench.py's set-up (one XMPP server, the
sink, the load tools, PAGES_USERS users registered with ferry), then, for
each page size of PAGES_SIZES and each path, runs a ferry under
pages_shim.so (built here with cc) on a copy of a warmed store:

  x2a  XMPP -> Cloud API: PAGES_N messages at PAGES_RATE/s from
       PAGES_USERS users, 50 contacts each (bench.py's SEND);
  a2x  Cloud API -> XMPP, webhooks of 1 message at PAGES_RATE/s.

At a low rate a commit holds about one message. At ferry's exit the shim
writes SQLITE_DBSTATUS_CACHE_WRITE of the store's connection (pages) and
the bytes written to the -wal file (frames: 24 + page size bytes each)
and to the database file (checkpoints: ferry's checkpointer runs at 1000
frames, and at exit); a ferry started and stopped on the same copy with
no messages gives the start-up's and shut-down's share, which is
subtracted. Divided by PAGES_N.

The warmed store: every contact of both paths exists (a warm-up run of
each path), the inbox rows kept for a minute after delivery are deleted,
and the WAL is checkpointed. A page size other than the store's is made
by VACUUM on the copy (journal_mode DELETE, PRAGMA page_size, VACUUM, back
to WAL): the same schema and rows as a store created with that page size.
The expiry of the run's own inbox rows (a minute after delivery) is not
counted.

Environment: FERRY_BIN, BENCH_TOOLS as for bench.py; BENCH_SERVERS (the
first is used, default prosody); PAGES_N (1000), PAGES_RATE (200),
PAGES_USERS (10), PAGES_SIZES (4096,2048,1024), PAGES_PATHS (x2a,a2x),
PAGES_RUNS (1: runs of each), CC (cc), BENCH_KEEP. Prints Markdown
tables: pages, WAL bytes, checkpoint bytes, ferry's CPU and the latency
(bench.py's) per message, and WAL frames per message by b-tree (from
PAGES_MAP).
"""

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

os.environ.setdefault("BENCH_SERVERS", "prosody")
os.environ.setdefault("BENCH_PROFILE", "0")
import bench  # noqa: E402

N = int(os.environ.get("PAGES_N", "1000"))
RATE = int(os.environ.get("PAGES_RATE", "200"))
USERS = int(os.environ.get("PAGES_USERS", "10"))
SIZES = [int(x) for x in os.environ.get("PAGES_SIZES",
                                        "4096,2048,1024").split(",") if x]
PATHS = [x for x in os.environ.get("PAGES_PATHS", "x2a,a2x").split(",") if x]
RUNS = int(os.environ.get("PAGES_RUNS", "1"))


def build_shim(workdir):
    so = os.path.join(workdir, "pages_shim.so")
    subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC", "-O2",
                    "-o", so, os.path.join(bench.HERE, "pages_shim.c"),
                    "-ldl", "-lsqlite3"], check=True)
    return so


def settle_store(path):
    """Drops the inbox rows kept after delivery; checkpoints the WAL."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DELETE FROM inbox WHERE state = 1")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def set_page_size(path, size):
    db = sqlite3.connect(path, isolation_level=None)
    if db.execute("PRAGMA page_size").fetchone()[0] != size:
        db.execute("PRAGMA journal_mode = DELETE")
        db.execute("PRAGMA page_size = %d" % size)
        db.execute("VACUUM")
        db.execute("PRAGMA journal_mode = WAL")
    got = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    if got != size:
        raise RuntimeError("page size %d, not %d" % (got, size))


def read_map(path, store):
    """{b-tree name: frames} from the shim's PAGES_MAP file, each page
    named by dbstat in the store as ferry left it ("(free)": a page on
    the free list by then)."""
    db = sqlite3.connect(store)
    names = dict((pg, name) for name, pg in
                 db.execute("SELECT name, pageno FROM dbstat"))
    db.close()
    by = {}
    with open(path) as f:
        for line in f:
            pg, n = (int(x) for x in line.split())
            name = names.get(pg, "(free)")
            by[name] = by.get(name, 0) + n
    return by


def read_shim(out):
    """(pages, WAL bytes, database file bytes) of the ferry that wrote
    `out`."""
    pages = wal = dbb = 0
    with open(out) as f:
        for line in f:
            kv = dict(x.split("=", 1) for x in line.split()[1:])
            pages += int(kv["cache_write"])
            wal = max(wal, int(kv["wal_bytes"]))
            dbb = max(dbb, int(kv["db_bytes"]))
    return pages, wal, dbb


class Pages:
    def __init__(self, b, shim):
        self.b = b
        self.shim = shim
        self.n = 0

    def ferry(self, store, out, frames):
        """A ferry under the shim on `store`, started (and made b's)."""
        self.n += 1
        self.b.free_slot()
        f = bench.Ferry(self.b.srv, self.b.dir, self.b.sink.url,
                        self.b.http_port, store, name="ferry-pages%d" % self.n)
        f.env = dict(os.environ, LD_PRELOAD=self.shim, PAGES_OUT=out,
                     PAGES_MAP=frames)
        if os.path.exists(out):
            os.unlink(out)
        f.start()
        self.b.ferry = f
        return f

    def load(self, path, n):
        """bench.py's metrics of n messages of `path`."""
        if path == "x2a":
            return self.b.x2a("ferry", USERS, n, RATE)
        return self.b.a2x("ferry", USERS, n, 1, RATE)

    def once(self, base, size, path, n):
        """(pages, WAL bytes, database bytes, {b-tree: frames}) of a ferry
        on a copy of base (page size `size`) that carried n messages of
        `path`."""
        store = os.path.join(self.b.dir, "pages.sqlite")
        self.b.copy_store(base, store)
        set_page_size(store, size)
        out = os.path.join(self.b.dir, "pages.out")
        frames = os.path.join(self.b.dir, "pages.map")
        if os.path.exists(frames):
            os.unlink(frames)
        f = self.ferry(store, out, frames)
        self.metrics = self.load(path, n) if n else None
        bench.wait_idle(f.pid, quiet=1.0)
        f.stop()
        return read_shim(out) + (read_map(frames, store),)

    def measure(self, base, size, path):
        """(pages, WAL bytes, checkpoint bytes, {b-tree: frames},
        bench.py's metrics) per message."""
        p1, w1, d1, m1 = self.once(base, size, path, N)
        m = self.metrics
        p0, w0, d0, m0 = self.once(base, size, path, 0)
        by = dict((k, (m1.get(k, 0) - m0.get(k, 0)) / N)
                  for k in set(m1) | set(m0))
        return (p1 - p0) / N, (w1 - w0) / N, (d1 - d0) / N, by, m


def warm(b, base):
    """A store in which every contact of both paths exists."""
    for path in ("x2a", "a2x"):
        if path == "x2a":
            b.x2a("ferry", USERS, bench.CONTACTS * USERS * 2, RATE * 2)
        else:
            b.a2x("ferry", USERS, bench.SENDERS * USERS * 4, 1, RATE * 2)
    bench.wait_idle(b.ferry.pid, quiet=1.0)
    b.ferry.stop()
    settle_store(b.store)
    b.copy_store(b.store, base)


def main():
    bench.MAX_USERS = USERS
    work = tempfile.mkdtemp(prefix="ferry-pages-")
    bench.log("work directory %s; %d messages at %d/s" % (work, N, RATE))
    shim = build_shim(work)
    b = bench.ServerBench(bench.SERVERS[0], work)
    rows = []
    try:
        b.setup()
        base = os.path.join(work, "base.sqlite")
        warm(b, base)
        pg = Pages(b, shim)
        for path in PATHS:
            for size in SIZES:
                for i in range(RUNS):
                    pages, wal, dbb, by, m = pg.measure(base, size, path)
                    bench.log("%s, page size %d: %.2f pages/msg, %.0f WAL "
                              "bytes/msg, %.0f checkpoint bytes/msg"
                              % (path, size, pages, wal, dbb))
                    rows.append((path, size, pages, wal, dbb, by, m))
    finally:
        b.teardown()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    print("| path | page size | pages/msg | WAL bytes/msg | checkpoint "
          "bytes/msg | ferry CPU us/msg | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for path, size, pages, wal, dbb, by, m in rows:
        print("| %s | %d | %.2f | %.0f | %.0f | %.0f | %.2f | %.2f |" % (
            path, size, pages, wal, dbb, m["ferry_us"], m["p50_ms"],
            m["p99_ms"]))
    print()
    print("WAL frames per message by b-tree (dbstat's names):")
    print()
    print("| path | page size | b-tree: frames/msg |")
    print("|---|---|---|")
    for path, size, pages, wal, dbb, by, m in rows:
        top = sorted(by.items(), key=lambda kv: -kv[1])
        print("| %s | %d | %s |" % (path, size, ", ".join(
            "%s %.2f" % kv for kv in top if abs(kv[1]) >= 0.01)))


if __name__ == "__main__":
    if not os.access(bench.FERRY_BIN, os.X_OK):
        sys.exit("pages: no ferry at %s" % bench.FERRY_BIN)
    main()
