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
exec "$bin" "$@"
