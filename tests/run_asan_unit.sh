#!/usr/bin/env bash
# Runs the Catch2 suite built with the asan preset (ASan + UBSan), if it was built.
# tools/anvil test builds it first; a plain ctest without it reports this test skipped.
#   usage: run_asan_unit.sh BUILD-ASAN-DIR [CATCH2-ARGS...]
# ctest passes the Catch2 arguments that fail a run in which no test case ran.
bin="$1/tests/anvil-unit-tests"
shift
if [[ ! -x "$bin" ]]; then
    echo "skipped: $bin not built (tools/anvil test builds the asan preset first)"
    exit 77
fi
# Unicorn 2.1.1 leaks a block per engine inside itself: tests/lsan-unicorn.supp
# names it (and why it needs whole allocation stacks).
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan-unicorn.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
exec "$bin" "$@"
