#!/usr/bin/env bash
# Runs the Catch2 suite built with the asan preset (ASan + UBSan), if it was built.
# tools/anvil test builds it first; a plain ctest without it reports this test skipped.
bin="$1/tests/anvil-unit-tests"
if [[ ! -x "$bin" ]]; then
    echo "skipped: $bin not built (tools/anvil test builds the asan preset first)"
    exit 77
fi
exec "$bin"
