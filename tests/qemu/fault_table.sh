#!/usr/bin/env bash
# The simulator faults like the CPU: runs the userspace test cpu.fault_table
# (a table of faulting instructions, one line per case: vector, error code,
# address, rip) in the simulator and on QEMU, and compares the two outputs
# line for line. Differences that cannot be avoided are listed in
# docs/x86_64.md; none is expected here.
#
# usage: tests/qemu/fault_table.sh ANVIL_SIM TESTS_INITRAMFS FAULT_TABLE_ISO SERIAL_INPUT
set -uo pipefail

if [[ $# -ne 4 ]]; then
    echo "usage: $0 ANVIL_SIM TESTS_INITRAMFS FAULT_TABLE_ISO SERIAL_INPUT" >&2
    exit 2
fi
sim=$1 initramfs=$2 iso=$3 input=$4
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$sim" --initramfs "$initramfs" --serial-input "$input" --cmdline "tests=cpu.fault_table" >"$work/sim.log" 2>&1
sim_code=$?
"$root/tools/qemu-run.sh" "$iso" --smp 1 --timeout 150 --serial-log "$work/qemu.log" --serial-input "$input" >/dev/null
qemu_code=$?
grep -a '^fault-table: ' "$work/sim.log" >"$work/sim.txt"
tr -d '\r\0' <"$work/qemu.log" | grep -a '^fault-table: ' >"$work/qemu.txt"

fail=0
cases=$(wc -l <"$work/qemu.txt")
if [[ $sim_code -ne 0 || $qemu_code -ne 0 ]]; then
    echo "fault_table: FAIL: exit codes: simulator $sim_code, QEMU $qemu_code (expected 0 and 0)" >&2
    fail=1
fi
if [[ $cases -lt 60 ]]; then
    echo "fault_table: FAIL: QEMU printed $cases fault-table lines (the table has more than 60 cases)" >&2
    fail=1
fi
if ! diff -u --label qemu --label simulator "$work/qemu.txt" "$work/sim.txt" >"$work/diff.txt"; then
    echo "fault_table: FAIL: the simulator's fault reports differ from QEMU's:" >&2
    cat "$work/diff.txt" >&2
    fail=1
fi
if [[ $fail -ne 0 ]]; then
    echo "----- simulator output -----" >&2; cat "$work/sim.log" >&2
    echo "----- QEMU serial output -----" >&2; cat "$work/qemu.log" >&2
    exit 1
fi
echo "fault_table: PASS: $cases cases, the same vector, error code, address and rip on both backends"
