#!/usr/bin/env bash
# gdb's interrupt (Ctrl-C, the byte 0x03) during a continue, spoken to
# anvil-debug --gdb over the remote protocol directly (gdb in batch mode cannot
# press Ctrl-C). The program is the compute benchmark, which runs for about
# half a second without a syscall, so the interrupt, sent right after the
# continue, arrives while it runs: the stub must answer T02 (SIGINT), with the
# machine still there to read registers from and to continue to the end.
#   tests/debug/gdb_interrupt.sh ANVIL_DEBUG INITRAMFS WORK_DIR
set -euo pipefail
debug=$1 initramfs=$2 work=$3
mkdir -p "$work"
stub_log=$work/stub.log
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/stub.sh"
start_stub "$stub_log" "$debug" --initramfs "$initramfs"
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/gdb_wire.sh"

send QStartNoAckMode
receive
check "no-ack mode" '^OK$'
printf '+' >&3  # the acknowledgement of that OK, the last one
send '?'
receive
check "stopped at the start" '^T05'
send 'vCont;c'
printf '\003' >&3
receive
check "Ctrl-C during continue stops with SIGINT" '^T02thread:[0-9a-f]+;$'
send g
receive
check "registers read after the interrupt" '^[0-9a-fx]{32,}$'
send 'vCont;c'
receive
check "continue after the interrupt runs to the exit" '^W[0-9a-f]{2}$'
finish "gdb interrupt"
