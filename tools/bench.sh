#!/usr/bin/env bash
# Scheduling benchmark: runs userspace/bench/sched_bench.c as init in the simulator
# and in QEMU and prints the figures recorded in docs/benchmarks.md.
#   tools/bench.sh BUILD_DIR
# Host time is measured here, around the simulator process, never inside the
# simulator (whose runs must not depend on the wall clock).
set -euo pipefail
build=${1:?usage: tools/bench.sh BUILD_DIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rd="$build/userspace/initramfs-bench.cpio"
iso="$build/tests/qemu/anvil-bench.iso"
[[ -f $rd ]] || { echo "bench: $rd is missing (build first)" >&2; exit 1; }

field() { sed -n "s/.*$1 \([0-9a-f]*\).*/\1/p" <<<"$2" | head -1; }

echo "== simulator (anvil-sim --cpus 1) =="
# A run with no benchmark work measures boot and exit, subtracted below.
t0=$(date +%s%N)
out=$("$build/sim/anvil-sim" --initramfs "$rd" --cpus 1 --stats 2>&1)
t1=$(date +%s%N)
echo "$out" | grep -E "sched_bench|stats"
yields=$(sed -n 's/.*sched_bench: \([0-9]*\) yields.*/\1/p' <<<"$out")
trips=$(sed -n 's/.* \([0-9]*\) round trips.*/\1/p' <<<"$out")
syscalls=$(field syscalls "$out")
ns=$((t1 - t0))
[[ -n $yields && -n $trips && $trips -gt 0 ]] || { echo "bench: no figures from the simulator" >&2; exit 1; }
echo "host time ${ns} ns for ${syscalls} syscalls (whole run, boot included)"
echo "sim: $((ns / trips)) ns per yield round trip, $((yields * 1000000000 / ns)) context switches per second"

# The IPC ping-pong (userspace/bench/ipc_bench.c) against the raw Unicorn floor.
ipc_rd="$build/userspace/initramfs-ipc-bench.cpio"
echo "== simulator: IPC ping-pong (anvil-sim --cpus 1) =="
t0=$(date +%s%N)
out=$("$build/sim/anvil-sim" --initramfs "$ipc_rd" --cpus 1 --stats 2>&1)
t1=$(date +%s%N)
echo "$out" | grep -E "ipc_bench|stats"
trips=$(grep -c "ipc_bench: call" <<<"$out" || true)
[[ $trips -eq 3 ]] || { echo "bench: the IPC benchmark did not finish" >&2; exit 1; }
total=$(sed -n 's/.*: \([0-9]*\) round trips,.*/\1/p' <<<"$out" | awk '{ n += $1 } END { print n }')
ipc_ns=$(((t1 - t0) / total))
floor=$("$build/tools/anvil-unicorn-floor" 200000)
echo "$floor"
floor_ns=$(sed -n 's/.* \([0-9]*\) ns per round trip.*/\1/p' <<<"$floor")
echo "sim: ${ipc_ns} ns per IPC round trip (all three cases, boot included), $((1000000000 / ipc_ns)) round trips per second"
echo "sim: IPC round trip / raw Unicorn floor = $(awk -v a="$ipc_ns" -v b="$floor_ns" 'BEGIN { printf "%.1f", a / b }')x"

run_qemu() {
    local iso=$1 pattern=$2 log
    [[ -f $iso ]] || { echo "bench: no $iso (is grub-mkrescue installed?)" >&2; return; }
    log=$(mktemp)
    "$root/tools/qemu-run.sh" "$iso" --timeout 300 --serial-log "$log" >/dev/null || true
    grep "$pattern" "$log" || echo "bench: no figures from QEMU ($iso)" >&2
    rm -f "$log"
}
echo "== QEMU (TCG, -smp 1) =="
run_qemu "$iso" sched_bench
run_qemu "$build/tests/qemu/anvil-ipc-bench.iso" ipc_bench
