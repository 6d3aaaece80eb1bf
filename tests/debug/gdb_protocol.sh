#!/usr/bin/env bash
# The GDB stub's framing and its answers to bad packets, spoken to
# anvil-debug --gdb over the remote protocol directly (gdb itself never sends
# them): a bad checksum is answered '-' and the packet dropped; '-' from gdb
# makes the stub send its last reply again; a packet far longer than the
# PacketSize it advertises is discarded as it arrives (the stub's memory does
# not grow with it) and answered E02; `$H#48` and other short packets are
# answered E01; selecting, stepping or continuing a thread that does not exist
# is answered E03 and moves nothing.
#   tests/debug/gdb_protocol.sh ANVIL_DEBUG INITRAMFS WORK_DIR
set -euo pipefail
debug=$1 initramfs=$2 work=$3
mkdir -p "$work"
stub_log=$work/stub.log
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/stub.sh"
start_stub "$stub_log" "$debug" --initramfs "$initramfs"
source "$here/gdb_wire.sh"
# The debugger process (the stub), under timeout; its peak resident memory in KiB.
debugger=$(pgrep -P "$stub" | head -n 1)
peak_kib() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$debugger/status"; }

# Acknowledgements (the stub starts in ack mode).
printf '$qC#00' >&3
next_byte
reply=$byte
check "a bad checksum is answered with -" '^-$'
send qC
next_byte
reply=$byte
check "the packet sent again with a good checksum is acknowledged" '^\+$'
receive
check "and answered" '^QC[0-9a-f]+$'
first=$raw_reply
printf -- '-' >&3
receive
check "gdb's - brings the same reply again" "^${reply}\$"
check_true "the resent packet is the same bytes" test "$raw_reply" = "$first"
printf '+' >&3

# Malformed packets and threads that do not exist.
send '?'
receive
check "stopped at the start" '^T05thread:[0-9a-f]+;$'
stop=$reply
printf '$H#48' >&3
receive
check "\$H#48 (no operation, no thread) is refused" '^E01$'
send 'Hg'
receive
check "Hg without a thread is refused" '^E01$'
send 'm10'
receive
check "m without a length is refused" '^E01$'
send 'Hg7fff'
receive
check "selecting a thread that does not exist is refused" '^E03$'
send 'vCont;s:7fff'
receive
check "stepping a thread that does not exist is refused" '^E03$'
send 'vCont;c:7fff'
receive
check "continuing a thread that does not exist is refused" '^E03$'
send '?'
receive
check "and nothing moved" "^${stop}\$"

# A packet of 64 MiB without a valid end, then one with: discarded as it comes.
before=$(peak_kib)
printf '$' >&3
head -c $((64 << 20)) /dev/zero | tr '\0' a >&3
printf '#00' >&3  # 64 Mi times 'a' sums to 0 mod 256
next_byte
reply=$byte
check "a 64 MiB packet is acknowledged" '^\+$'
receive
check "and refused as too long" '^E02$'
after=$(peak_kib)
echo "stub peak memory: ${before} KiB before, ${after} KiB after"
check_true "the stub's memory did not grow with the packet (under 4 MiB more)" test $((after - before)) -lt 4096
printf '$ab}#40' >&3
receive
check "a packet ending in the escape character is refused" '^E02$'

# The connection still works: step the thread that stopped.
thread=$(sed -n 's/.*thread:\([0-9a-f]*\);.*/\1/p' <<<"$stop")
send "vCont;s:$thread"
receive
check "a step of the stopped thread still runs" '^T05'
send k
finish "gdb protocol"
