#!/usr/bin/env bash
# Real gdb in batch mode against anvil-debug --gdb (docs/debugging.md):
# tests/debug/gdb_session.gdb on userspace/demo/tally.c, output checked here.
#   tests/debug/gdb.sh ANVIL_DEBUG INITRAMFS TALLY_ELF GDB_DATA_DIR WORK_DIR
set -euo pipefail
debug=$1 initramfs=$2 elf=$3 data=$4 work=$5
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The debug info names sources relative to the tree (cmake/Freestanding.cmake).
tree=$(cd "$here/../.." && pwd)
command -v gdb >/dev/null || { echo "gdb is not installed (tools/anvil setup installs it)"; exit 1; }
mkdir -p "$work"
stub_log=$work/stub.log gdb_log=$work/gdb.log
source "$here/stub.sh"
start_stub "$stub_log" "$debug" --initramfs "$initramfs" --program tally
timeout 120 gdb -batch -nx -data-directory "$data" -ex "directory $tree" -ex "target remote 127.0.0.1:$port" \
    -x "$here/gdb_session.gdb" "$elf" >"$gdb_log" 2>&1 || true
kill $stub 2>/dev/null || true  # (after gdb detaches, the stub waits for the next one)
wait $stub 2>/dev/null || true
trap - EXIT

expect 'Breakpoint 1, tally \(n=n@entry=1\) at .*tally\.c:[0-9]+' "break at the C function tally"
expect '^\$1 = 1$' "read an argument (n) at the breakpoint"
expect '^\$2 = 0$' "read a global (total) before the first add"
expect 'Breakpoint 1, tally \(n=n@entry=2\)' "continue to the breakpoint's next hit"
expect '^\$3 = 1$' "total after the first add"
expect "Catchpoint 2 \(syscall 'thread_yield' \[2\]\)" "catch syscall knows Anvil's syscall names"
expect 'Catchpoint 2 \(call to syscall thread_yield\)' "stop at the syscall's entry"
expect 'Catchpoint 2 \(returned from syscall thread_yield\)' "stop at the syscall's return"
expect '^CHECK reverse-stepi returned to the same pc$' "stepi then reverse-stepi"
expect 'exited normally' "continue to the program's exit (code 0)"
# reverse-continue twice: back over the return, then to the entry (where
# total is still 3: the second add has happened, the third not).
if [[ $(grep -c 'Catchpoint 2 (returned from syscall thread_yield)' "$gdb_log") -lt 2 ||
      $(grep -c 'Catchpoint 2 (call to syscall thread_yield)' "$gdb_log") -lt 2 ]]; then
    echo "FAILED: reverse-continue back to the syscall's return and entry"
    failed=1
else
    echo "ok: reverse-continue back to the syscall's return and entry"
fi
expect '^\$4 = 3$' "total where reverse-continue stopped"
if [[ $failed != 0 ]]; then
    echo "--- gdb output"; cat "$gdb_log"; echo "--- stub output"; cat "$stub_log"
    exit 1
fi
echo "gdb session: all checks passed"
