#!/usr/bin/env bash
# Records a QEMU run's trace as `tools/anvil qemu --record` does (the word
# "trace" on the kernel command line, COM2 to a file) and checks it: the
# header's magic and backend, an end record last with the run's exit code,
# anvil-trace's dump if that tool is built, and a schedule-following replay of
# it in the simulator.
#
# usage: record_test.sh KERNEL_ELF INITRAMFS SIM DIR [ANVIL_TRACE]
set -uo pipefail

[[ $# -ge 4 ]] || { echo "usage: $0 KERNEL_ELF INITRAMFS SIM DIR [ANVIL_TRACE]" >&2; exit 2; }
kernel=$1 initramfs=$2 sim=$3 dir=$4 trace_tool=${5:-}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fail() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir"
iso="$dir/anvil-trace.iso"
trace="$dir/qemu.atrace"
"$root/tools/mkiso.sh" "$kernel" "$initramfs" "$iso" "trace" || fail "could not build an ISO with the command line 'trace'"

"$root/tools/qemu-run.sh" "$iso" --smp 4 --timeout 150 --trace-file "$trace" >"$dir/console.log"
status=$?
cat "$dir/console.log"
[[ $status -eq 0 ]] || fail "the recorded run exited $status, not 0"
grep -q "init: all services stopped; halting with code 0" "$dir/console.log" || fail "the console lacks init's clean shutdown"
# The trace is binary and goes to COM2 only: none of it on the console.
! grep -q "ANVLTRC" "$dir/console.log" || fail "trace bytes reached COM1"

size=$(stat -c %s "$trace")
echo "recorded $size bytes of trace"
[[ $size -gt 84 ]] || fail "the trace has $size bytes, not even a header"
[[ "$(head -c 8 "$trace" | od -An -c | tr -d ' ')" == 'ANVLTRC\n' ]] || fail "the trace does not start with the magic ANVLTRC\\n"
backend=$(head -c 16 "$trace" | od -An -v -tu4 -j 12 | tr -d ' ')
[[ $backend == 2 ]] || fail "the header names backend $backend, not 2 (QEMU)"

# The end record is last: its kind byte (14) and three varints (code, records,
# checksum). Only a varint's last byte lacks the continuation bit, so the
# fourth such byte from the end is the kind byte, and the code comes next.
read -r -a bytes <<<"$(tail -c 40 "$trace" | od -An -v -tu1 | tr '\n' ' ')"
clear=0 kind_at=-1
for ((i = ${#bytes[@]} - 1; i >= 0; i--)); do
    if ((bytes[i] < 128)); then
        clear=$((clear + 1))
        ((clear == 4)) && { kind_at=$i; break; }
    fi
done
((kind_at >= 0 && bytes[kind_at] == 14)) || fail "the last record is not an end record"
((bytes[kind_at + 1] == 0)) || fail "the end record's exit code is not 0 (zigzag byte ${bytes[kind_at + 1]})"
echo "the trace ends with an end record (exit code 0)"

if [[ -n $trace_tool && -x $trace_tool ]]; then
    "$trace_tool" dump "$trace" >"$dir/dump.txt" || fail "anvil-trace dump refused the trace"
    echo "anvil-trace dump: $(wc -l <"$dir/dump.txt") lines; the last: $(tail -n 1 "$dir/dump.txt")"
else
    echo "anvil-trace is not built: the record-by-record check is anvil-sim's below"
fi

# anvil-sim reads every record (checksum, count) before it follows the trace.
"$sim" --replay "$trace" --initramfs "$initramfs" >"$dir/replay.log" 2>&1
rstatus=$?
tail -n 3 "$dir/replay.log"
[[ $rstatus -eq 0 ]] || fail "replaying the QEMU trace in the simulator exited $rstatus, not 0"
echo "PASS"
