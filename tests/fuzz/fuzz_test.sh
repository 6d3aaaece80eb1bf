#!/usr/bin/env bash
# ctest: runs one libFuzzer harness briefly from its seeds (tools/fuzz.sh) and
# checks that it ran, loaded its seeds and found no crash. Exit 77 (skip) only
# if clang's libFuzzer is not installed.
#
# usage: tests/fuzz/fuzz_test.sh NAME SECONDS ANVIL_BUILD FUZZ_BUILD WORK
set -uo pipefail

[[ $# -eq 5 ]] || { echo "usage: $0 NAME SECONDS ANVIL_BUILD FUZZ_BUILD WORK" >&2; exit 2; }
name=$1 seconds=$2 build=$3 fuzz_build=$4 work=$5
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

output=$("$root/tools/fuzz.sh" --build "$build" --out "$fuzz_build" --work "$work" --seconds "$seconds" \
    --fresh "$name" 2>&1)
status=$?
echo "$output"
[[ $status -ne 77 ]] || exit 77
[[ $status -eq 0 ]] || { echo "fuzz_test: FAIL: the $name harness found a crash or could not run (status $status)"; exit 1; }

log="$work/$name/last-run.log"
# libFuzzer's INITED line: the corpus it started from (at least the seeds).
inited=$(sed -n 's/^#[0-9]*[[:space:]]*INITED .* corp: \([0-9]*\)\/.*/\1/p' "$log" | head -n 1)
if [[ -z $inited || $inited -lt 1 ]]; then
    echo "fuzz_test: FAIL: the $name harness started without its seed corpus (see $log)"
    exit 1
fi
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
if [[ -z $execs || $execs -lt 100 ]]; then
    echo "fuzz_test: FAIL: the $name harness ran only '${execs}' inputs in $seconds s"
    exit 1
fi
echo "fuzz_test: PASS: $name: $execs inputs from $inited initial ones, no crash"
