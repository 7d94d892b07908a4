#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# contrib/dev.sh: set up a Debian 12 machine for ferry, build it, and either
#   run  - start a throw-away Prosody, the sandbox network and ferry, and
#          print a JID and password to log in with any XMPP client;
#   test - build with -Werror and with ASan+UBSan; unit tests of both, the
#          fake's self-tests, the chaos short form, every end-to-end test
#          on both servers with ASan and a subset on Prosody under valgrind, the
#          fuzzers' regressions and a short run, make distcheck.
# Needs root (or sudo) only for apt-get.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
PACKAGES=(build-essential autoconf automake libtool pkg-config clang-format
    libstrophe-dev libcurl4-openssl-dev libjson-c-dev libssl-dev
    libsqlite3-dev libmicrohttpd-dev libevent-dev libinih-dev libcmocka-dev
    prosody prosody-modules ejabberd python3 python3-slixmpp python3-pytest
    python3-aiohttp sqlite3 curl mandoc clang libclang-rt-14-dev valgrind
    nginx openssl strace python3-h2)

say() { printf '\n== %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

deps() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    # Debian's prosody/ejabberd must not start system-wide instances.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
        as_root chmod +x /usr/sbin/policy-rc.d
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

# build DIR [configure flags...]
build() {
    local dir=$1; shift
    if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ] ||
        [ "$top/Makefile.am" -nt "$top/Makefile.in" ]; then
        say "autoreconf"
        (cd "$top" && autoreconf -fi)
    fi
    mkdir -p "$dir"
    say "configure $* in $dir"
    (cd "$dir" && "$top/configure" -q "$@")
    make -C "$dir" -j"$(nproc)" >/dev/null
}

PASSED=0 FAILED=0
# count LOG: add the pytest/automake counts found in LOG to the totals.
count() {
    local p f
    p=$(grep -hoE '^# PASS: +[0-9]+' "$1" | awk '{s+=$3} END {print s+0}') || true
    f=$(grep -hoE '^# (FAIL|ERROR|XPASS): +[0-9]+' "$1" | awk '{s+=$3} END {print s+0}') || true
    PASSED=$((PASSED + p)) FAILED=$((FAILED + f))
    p=$(grep -hoE '[0-9]+ passed' "$1" | tail -1 | awk '{print $1+0}') || true
    f=$(grep -hoE '[0-9]+ (failed|error|errors)' "$1" | awk '{s+=$1} END {print s+0}') || true
    PASSED=$((PASSED + ${p:-0})) FAILED=$((FAILED + ${f:-0}))
}

# suite DIR LABEL PYTEST-PATHS...: unit tests, then the given pytest
# suites (fake self-tests, end-to-end tests) with that build's ferry.
suite() {
    local dir=$1 label=$2 rc=0 log
    shift 2
    log=$(mktemp)
    say "$label: unit tests (make check)"
    make -C "$dir" check >"$log" 2>&1 || rc=1
    grep -E '^# (TOTAL|PASS|FAIL|ERROR)' "$log" || tail -30 "$log"
    [ $rc -eq 0 ] || cat "$dir/test-suite.log" 2>/dev/null || true
    count "$log"
    say "$label: $*"
    : >"$log"
    (cd "$top" && FERRY_BIN="$dir/ferry" $PY -m pytest -q -rs -p no:cacheprovider \
        "$@" 2>&1) | tee "$log" || rc=1
    count "$log"
    rm -f "$log"
    return $rc
}

# e2e_valgrind DIR: a representative subset of the end-to-end tests on
# Prosody with that build's ferry under valgrind memcheck (an error or a
# definite leak fails the test): discovery, registration, messages both
# ways, files, rich messages, the iq checks and the store errors.
# The whole suite runs under ASan+UBSan on both servers; valgrind over all
# of it would take CI past half an hour.
VALGRIND_E2E=(tests/e2e/test_foundation.py tests/e2e/test_cloudapi_register.py
    tests/e2e/test_cloudapi_messages.py tests/e2e/test_media.py
    tests/e2e/test_rich.py tests/e2e/test_security_iq.py
    tests/e2e/test_bridge_integrity.py)
# e2e_valgrind DIR LOG: runs it with its output in LOG (in its own pytest
# directory, so that it can run beside another pytest).
e2e_valgrind() {
    local base rc=0
    base=$(mktemp -d)
    (cd "$top" && FERRY_BIN="$1/ferry" FERRY_E2E_SERVERS=prosody \
        FERRY_TIMEOUT_SCALE=5 FERRY_WRAPPER="valgrind --error-exitcode=99 \
--leak-check=full --errors-for-leak-kinds=definite --track-fds=no -q" \
        $PY -m pytest -q -rs -p no:cacheprovider --basetemp="$base" \
        "${VALGRIND_E2E[@]}") >"$2" 2>&1 || rc=1
    rm -rf "$base"
    return $rc
}

# step LABEL CMD...: one more check; its output goes to the log shown on
# failure; counts one passed or one failed.
step() {
    local label=$1 log
    shift
    say "$label"
    log=$(mktemp)
    if (cd "$top" && "$@") >"$log" 2>&1; then
        PASSED=$((PASSED + 1))
        tail -3 "$log"
    else
        FAILED=$((FAILED + 1))
        tail -60 "$log"
    fi
    rm -f "$log"
}

cmd_test() {
    local rc=0
    deps
    step "layers (includes against docs/design.md's module map)" \
        $PY tests/check_layers.py
    say "format check"
    (cd "$top" && clang-format --dry-run --Werror src/*.c include/*.h tests/unit/*.c) || FAILED=$((FAILED + 1))
    build "$top/build/werror" --enable-werror
    say "man pages (mandoc -Tlint)"
    make -C "$top/build/werror" check-man || FAILED=$((FAILED + 1))
    # The -Werror build's ferry runs every end-to-end test under valgrind
    # (Prosody) below; the ASan build's on both servers.
    suite "$top/build/werror" "-Werror build" tests/fakes || rc=1
    step "chaos run with a ledger, short form (both servers)" \
        env FERRY_BIN="$top/build/werror/ferry" \
        $PY -m pytest -q -p no:cacheprovider "$top/tests/chaos/test_chaos_short.py" \
            "$top/tests/chaos/test_offline_bounce.py"
    build "$top/build/asan" --enable-werror --enable-asan
    # The valgrind subset keeps a core busy; the ASan suite mostly waits on
    # the servers and the fakes: side by side they take the longer's time.
    local vg_log vg_pid vg_rc=0
    vg_log=$(mktemp)
    e2e_valgrind "$top/build/werror" "$vg_log" &
    vg_pid=$!
    ASAN_OPTIONS=detect_leaks=1 suite "$top/build/asan" "ASan+UBSan build" \
        tests/e2e || rc=1
    wait "$vg_pid" || vg_rc=1
    say "valgrind memcheck: end-to-end subset (Prosody), run beside it"
    cat "$vg_log"
    count "$vg_log"
    rm -f "$vg_log"
    [ $vg_rc -eq 0 ] || rc=1
    build "$top/build/fuzz" CC=clang --enable-fuzzing
    step "fuzzing: regressions, then 10 s per target" \
        make -C "$top/build/fuzz" fuzz FUZZ_SECONDS=10
    step "make distcheck" make -C "$top/build/werror" distcheck
    [ $FAILED -eq 0 ] || rc=1
    echo
    echo "$PASSED passed, $FAILED failed"
    return $rc
}

cmd_run() {
    deps
    build "$top/build/dev"
    exec "$top/contrib/dev-run.sh" "$top/build/dev/ferry"
}

case "${1:-}" in
test) cmd_test ;;
run) cmd_run ;;
deps) deps ;;
build) build "$top/build/dev" ;;
*) echo "usage: contrib/dev.sh run|test|deps|build" >&2; exit 2 ;;
esac
