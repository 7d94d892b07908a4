#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What a smaller page size costs reads (issue 15, item 3).

Not part of `make bench`. Builds bench.py's big store (its memory
scenario's: 10,000 accounts, 100,000 contacts, 1,000,000 message rows;
BENCH_QUICK=1: a tenth), makes a copy of it at each page size of
PAGES_SIZES (journal_mode DELETE, PRAGMA page_size, VACUUM, back to WAL)
and reports for each: the file's size, the depth of the message table and
its indexes (dbstat), and the time of the reads ferry makes of it, each
run READS times in one statement at scattered keys, with SQLite's default
page cache (2 MB) over a file the kernel holds in memory:

  id        a message by id (an API answer's update)
  network   + a message by (account_id, network_id): message_network
  stanza    + a message by (account_id, direction, stanza_id)
  history   + a contact's last 50 messages (message_contact)

(each of the last three after the read by id that finds its keys).
Python's sqlite3 module, which on Debian uses the same libsqlite3 as
ferry. Environment: FERRY_BIN, BENCH_QUICK, PAGES_SIZES (4096,1024),
READS (200000). Prints a Markdown table.
"""

import os
import shutil
import sqlite3
import tempfile
import time

os.environ.setdefault("BENCH_SERVERS", "prosody")
import bench  # noqa: E402
import pages  # noqa: E402

SIZES = [int(x) for x in os.environ.get("PAGES_SIZES",
                                        "4096,1024").split(",") if x]
READS = int(os.environ.get("READS", "200000"))

# k: 0 .. READS-1; r: a scattered message id (7919 is prime); m1: that
# message, whose keys the other reads look up again
KEYS = ("WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n"
        " WHERE k + 1 < ?1), r(id) AS (SELECT 1 + (k * 7919) % ?2 FROM n) ")
BY_ID = " FROM r JOIN message m1 ON m1.id = r.id"
QUERIES = [
    ("id", KEYS + "SELECT sum(m1.status)" + BY_ID),
    ("network", KEYS + "SELECT sum((SELECT m.status FROM message m"
     " WHERE m.account_id = m1.account_id"
     " AND m.network_id = m1.network_id))" + BY_ID),
    ("stanza", KEYS + "SELECT sum((SELECT m.status FROM message m"
     " WHERE m.account_id = m1.account_id AND m.direction = m1.direction"
     " AND m.stanza_id = m1.stanza_id))" + BY_ID),
    ("history", KEYS + "SELECT sum((SELECT count(*) FROM (SELECT m.status"
     " FROM message m WHERE m.contact_id = m1.contact_id"
     " ORDER BY m.id DESC LIMIT 50)))" + BY_ID),
]


def depth(db, name):
    """Levels of b-tree `name` (1: its root is a leaf)."""
    return db.execute("SELECT max(length(path) - length(replace(path, '/',"
                      " ''))) FROM dbstat WHERE name = ?",
                      (name,)).fetchone()[0]


def measure(path):
    db = sqlite3.connect(path)
    n = db.execute("SELECT max(id) FROM message").fetchone()[0]
    row = {"size": os.path.getsize(path) / 1e6,
           "page": db.execute("PRAGMA page_size").fetchone()[0]}
    for t in ("message", "message_network", "message_stanza",
              "message_contact"):
        row["depth " + t] = depth(db, t)
    db.close()
    for name, sql in QUERIES:
        db = sqlite3.connect(path)  # a cold page cache for each
        t0 = time.perf_counter()
        got = db.execute(sql, (READS, n)).fetchone()[0]
        row[name] = (time.perf_counter() - t0) / READS * 1e6
        if not got:
            raise RuntimeError("%s found nothing" % name)
        db.close()
    return row


def main():
    work = tempfile.mkdtemp(prefix="ferry-pages-reads-")
    try:
        big = bench.make_big_store(work)
        rows = []
        for size in SIZES:
            copy = os.path.join(work, "big-%d.sqlite" % size)
            shutil.copy(big, copy)
            pages.set_page_size(copy, size)
            measure(copy)  # the kernel's cache, warm
            rows.append(measure(copy))
            bench.log("page size %d: %s" % (size, rows[-1]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| page size | MB | depth: message, _network, _stanza, _contact "
          "| id µs | + network µs | + stanza µs | + history µs |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %d | %.0f | %d, %d, %d, %d | %.2f | %.2f | %.2f | %.2f |" % (
            r["page"], r["size"], r["depth message"],
            r["depth message_network"], r["depth message_stanza"],
            r["depth message_contact"], r["id"], r["network"], r["stanza"],
            r["history"]))


if __name__ == "__main__":
    main()
