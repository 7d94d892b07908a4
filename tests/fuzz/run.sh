#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the libFuzzer targets: first every saved regression input (each must
# pass), then each target for SECONDS seconds (0: replay only) from its seed
# corpus, with its dictionary. Used by "make fuzz"; see docs/fuzzing.md.
#
#   tests/fuzz/run.sh [SECONDS]
#
# Environment: FUZZ_BIN (directory of the built targets, default
# ./tests/fuzz), FUZZ_OUT (work directory for the grown corpora and crash
# files, default ./fuzz-out), FUZZ_TARGETS (default: all), FUZZ_ARGS (more
# libFuzzer options, e.g. "-jobs=4 -workers=4").
set -u

seconds=${1:-20}
src=$(cd "$(dirname "$0")" && pwd)
bin=${FUZZ_BIN:-./tests/fuzz}
out=${FUZZ_OUT:-./fuzz-out}
targets=${FUZZ_TARGETS:-"fuzz_webhook fuzz_jid fuzz_conf fuzz_httpd fuzz_stanza fuzz_waha"}
failed=""

mkdir -p "$out/crashes" "$out/corpus" "$out/logs" || exit 1
out=$(cd "$out" && pwd)

# The dictionary of a target (a file, built in $out when it combines two).
fuzz_dict() {
    case $1 in
    fuzz_webhook | fuzz_waha) echo "$src/json.dict" ;;
    fuzz_jid | fuzz_stanza) echo "$src/xmpp.dict" ;;
    fuzz_conf) echo "$src/conf.dict" ;;
    fuzz_httpd)
        cat "$src/http.dict" "$src/json.dict" >"$out/httpd.dict"
        echo "$out/httpd.dict"
        ;;
    esac
}

# Replays the saved regression inputs of a target; 0 when all pass.
fuzz_replay() {
    set -- "$1" "$src"/regressions/"$1"-*
    [ -e "$2" ] || return 0
    t=$1
    shift
    echo "== $t: replaying $# regression input(s)"
    "$bin/$t" -runs=1 "$@" >"$out/logs/$t-regress.log" 2>&1 </dev/null && return 0
    tail -n 40 "$out/logs/$t-regress.log"
    return 1
}

# Fuzzes a target for $seconds; 0 when nothing was found.
fuzz_run() {
    t=$1
    mkdir -p "$out/corpus/$t"
    echo "== $t: fuzzing for ${seconds}s"
    # shellcheck disable=SC2086
    "$bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -dict="$(fuzz_dict "$t")" -artifact_prefix="$out/crashes/$t-" \
        -print_final_stats=1 ${FUZZ_ARGS:-} \
        "$out/corpus/$t" "$src/corpus/$t" >"$out/logs/$t.log" 2>&1 </dev/null
    rc=$?
    awk '/^stat::number_of_executed_units/ { n = $2 }
         /^stat::average_exec_per_sec/ { r = $2 }
         /^stat::peak_rss_mb/ { m = $2 }
         END { printf "   %s runs, %s exec/s, peak RSS %s MB\n", n, r, m }' \
        "$out/logs/$t.log"
    [ $rc -eq 0 ] && return 0
    grep -E "ERROR|SUMMARY|Test unit written" "$out/logs/$t.log" | head -n 10
    return 1
}

for t in $targets; do
    if [ ! -x "$bin/$t" ]; then
        echo "$bin/$t is missing: configure with CC=clang --enable-fuzzing" \
            "and run make" >&2
        exit 2
    fi
    fuzz_replay "$t" || failed="$failed $t(regression)"
done
if [ "$seconds" -gt 0 ]; then
    for t in $targets; do
        fuzz_run "$t" || failed="$failed $t"
    done
fi
if [ -n "$failed" ]; then
    echo "FAILED:$failed (logs in $out/logs, inputs in $out/crashes)" >&2
    exit 1
fi
echo "fuzz: all targets passed"
