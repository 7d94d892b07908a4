#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the code against the module map of docs/design.md.

The map is the table under the heading "## Module map": one row per
module, with the files it is made of (globs under src/ and include/), what
it owns, and the modules it may use.  This script fails when

  * a file in src/ or include/ belongs to no module, or to two;
  * a file includes a header of a module its own module may not use;
  * the "may use" relation has a cycle (two modules depending on each
    other, directly or around a circle);
  * a module in the map names a module that does not exist.

Run from anywhere: python3 tests/check_layers.py
"""

import fnmatch
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def read_map(path):
    """[(module, [globs], {uses})] from the module map table."""
    text = open(path, encoding="utf-8").read()
    m = re.search(r"^## Module map\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not m:
        sys.exit("%s: no '## Module map' section" % path)
    rows = []
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        name = cells[0].strip("`")
        globs = re.findall(r"`([^`]+)`", cells[1])
        uses = set(re.findall(r"`([^`]+)`", cells[3]))
        rows.append((name, globs, uses))
    if not rows:
        sys.exit("%s: the module map has no rows" % path)
    return rows


def source_files():
    files = []
    for d in ("src", "include"):
        for f in sorted(os.listdir(os.path.join(TOP, d))):
            if f.endswith((".c", ".h")):
                files.append(f)
    return files


def owners(rows, files):
    """file -> module, with the errors of files in none or in two."""
    owner, errors = {}, []
    for f in files:
        mods = [n for n, globs, _ in rows
                if any(fnmatch.fnmatchcase(f, g) for g in globs)]
        if len(mods) != 1:
            errors.append("%s belongs to %s" % (f, mods or "no module"))
        else:
            owner[f] = mods[0]
    return owner, errors


def cycles(rows):
    uses = {n: u for n, _, u in rows}
    errors, state = [], {}

    def visit(n, path):
        state[n] = 1
        for m in sorted(uses.get(n, ())):
            if state.get(m) == 1:
                errors.append("cycle: %s" % " -> ".join(path + [n, m]))
            elif m not in state:
                visit(m, path + [n])
        state[n] = 2

    for n in sorted(uses):
        if n not in state:
            visit(n, [])
    return errors


def main():
    rows = read_map(os.path.join(TOP, "docs", "design.md"))
    names = {n for n, _, _ in rows}
    errors = ["%s may use unknown module %s" % (n, u)
              for n, _, uses in rows for u in sorted(uses - names)]
    files = source_files()
    owner, errs = owners(rows, files)
    errors += errs + cycles(rows)
    uses = {n: u for n, _, u in rows}
    for f in files:
        d = "src" if os.path.exists(os.path.join(TOP, "src", f)) else "include"
        text = open(os.path.join(TOP, d, f), encoding="utf-8").read()
        for h in INCLUDE.findall(text):
            h = os.path.basename(h)
            if f not in owner or h not in owner:
                continue
            a, b = owner[f], owner[h]
            if a != b and b not in uses[a]:
                errors.append("%s (%s) includes %s (%s), which %s may not use"
                              % (f, a, h, b, a))
    for e in errors:
        print("check_layers: " + e)
    print("check_layers: %d modules, %d files, %d problem(s)"
          % (len(rows), len(files), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
