#!/usr/bin/env bash
# gdb sees each thread's x87/SSE registers (docs/debugging.md): the userspace
# test fpu.threads_keep_their_state starts four threads, thread idx in rounding
# mode idx (MXCSR 0x1f80 | idx << 13, x87 control word 0x37f | (3 - idx) << 10).
# Stopped in worker 2 after it set its modes, gdb reads MXCSR 0x5f80 and FCW
# 0x77f, `info float` decodes them, and an xmm register reads as vectors; after
# reverse-stepi back over the set, the thread's state is the default again.
#   tests/debug/gdb_fpu.sh ANVIL_DEBUG TESTS_INITRAMFS GDB_DATA_DIR WORK_DIR
set -euo pipefail
debug=$1 initramfs=$2 data=$3 work=$4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v gdb >/dev/null || { echo "gdb is not installed (tools/anvil setup installs it)"; exit 1; }
rm -rf "$work" && mkdir -p "$work"
stub_log=$work/stub.log gdb_log=$work/gdb.log
cat >"$work/session.gdb" <<'GDB'
set pagination off
break worker_entry if idx == 2
continue
next
next
printf "CHECK mxcsr 0x%x fctrl 0x%x\n", $mxcsr, $fctrl
info float
print $xmm0.v2_int64
reverse-stepi
reverse-stepi
reverse-stepi
reverse-stepi
printf "CHECK before mxcsr 0x%x fctrl 0x%x\n", $mxcsr, $fctrl
GDB
source "$here/stub.sh"
start_stub "$stub_log" "$debug" --initramfs "$initramfs" --cmdline "tests=fpu.threads_keep_their_state" --cpus 2
gdb_session "$data" "$work/session.gdb"
stop_stub

expect '^CHECK mxcsr 0x5f80 fctrl 0x77f$' "gdb reads the thread's MXCSR and x87 control word"
expect '^Control Word: +0x077f +IM DM ZM OM UM PM$' "info float shows the control word"
expect '^ +RC: Round down$' "info float decodes its rounding mode"
expect '^\$[0-9]+ = \{[-0-9]+, [-0-9]+\}$' "an xmm register reads as vectors"
expect '^CHECK before mxcsr 0x1f80 fctrl 0x37f$' "going back over the set, the state is the default"
report_checks "gdb x87/SSE registers"
