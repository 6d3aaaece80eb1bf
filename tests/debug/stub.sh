# Sourced by the gdb tests: starts anvil-debug --gdb (start_stub) and checks gdb's output (expect).
#   start_stub LOG ANVIL_DEBUG ARGS...
# Sets $stub (its pid, killed on exit) and $port, or exits 1 with its output.
start_stub() {
    local log=$1
    shift
    # Port 0: the stub takes a free port and prints it.
    timeout 120 "$@" --gdb 0 >"$log" 2>&1 &
    stub=$!
    trap 'kill $stub 2>/dev/null || true' EXIT
    port=""
    for _ in $(seq 1 200); do
        port=$(sed -n 's/.*GDB stub listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$log")
        [[ -n $port ]] && return 0
        kill -0 $stub 2>/dev/null || { cat "$log"; echo "the stub exited before listening"; exit 1; }
        sleep 0.05
    done
    cat "$log"
    echo "the stub did not start listening"
    exit 1
}

# gdb_session DATA_DIR SCRIPT: gdb in batch mode against the stub on $port,
# with the settings tools/anvil gdb gives it (gdb_settings in tools/anvil),
# its output in $gdb_log. A script that ends in an error still leaves its log.
gdb_session() {
    local tree
    tree=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    timeout 120 gdb -batch -nx -data-directory "$1" -ex "directory $tree" -ex "set sysroot /" \
        -ex "set breakpoint pending on" -ex "set schedule-multiple on" -ex "target remote 127.0.0.1:$port" \
        -x "$2" >"$gdb_log" 2>&1 || true
}

# stop_stub: ends the stub (after gdb detached it waits for the next gdb).
stop_stub() {
    kill $stub 2>/dev/null || true
    wait $stub 2>/dev/null || true
    trap - EXIT
}

# report_checks WHAT: with a failed check, gdb's and the stub's output and
# exit 1; else "WHAT: all checks passed".
report_checks() {
    if [[ $failed != 0 ]]; then
        echo "--- gdb output"; cat "$gdb_log"; echo "--- stub output"; cat "$stub_log"
        exit 1
    fi
    echo "$1: all checks passed"
}

# expect PATTERN WHAT: "ok: WHAT" if gdb's output ($gdb_log) matches PATTERN
# (grep $expect_grep: -E by default; -Pzo to match across lines), else
# "FAILED: WHAT" and failed=1.
failed=0
expect_grep=-E
expect() {
    if grep -q $expect_grep -- "$1" "$gdb_log"; then
        echo "ok: $2"
    else
        echo "FAILED: $2 (no /$1/)"
        failed=1
    fi
}
