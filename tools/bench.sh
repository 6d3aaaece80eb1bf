#!/usr/bin/env bash
# The benchmarks: scheduling and IPC (simulator and QEMU), user-code throughput,
# recording and replay (simulator), context switches with and without x87/SSE
# state (both); prints the figures recorded in docs/benchmarks.md.
#   tools/bench.sh BUILD_DIR [switch]
# With `switch`, only the context-switch benchmark.
# Host time is measured here, around the simulator process, never inside the
# simulator (whose runs must not depend on the wall clock).
# exit: 0; 1 if a benchmark failed or printed no figures; 2 for bad arguments.
set -euo pipefail
case "${1:-}" in
-h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac
[[ ($# -eq 1 || ($# -eq 2 && $2 == switch)) && -d $1 ]] ||
    { echo "usage: tools/bench.sh BUILD_DIR [switch] (a build directory)" >&2; exit 2; }
build=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rd="$build/userspace/initramfs-bench.cpio"
iso="$build/tests/qemu/anvil-bench.iso"
[[ -f $rd ]] || { echo "bench: $rd is missing (build first)" >&2; exit 1; }

field() { sed -n "s/.*$1 \([0-9a-f]*\).*/\1/p" <<<"$2" | head -1; }

# The shortest host time of three runs of a command (ns; $runs runs if set):
# other work on the machine only ever adds time, so the minimum is the
# fairest figure.
best() {
    local best_ns="" t0 t1
    for _ in $(seq 1 "${runs:-3}"); do
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1 || { echo "bench: $* failed" >&2; exit 1; }
        t1=$(date +%s%N)
        if [[ -z $best_ns || $((t1 - t0)) -lt $best_ns ]]; then best_ns=$((t1 - t0)); fi
    done
    echo "$best_ns"
}

# The smallest of three runs of a floor tool, by the figure it prints.
best_floor() {
    local best_v="" v
    for _ in 1 2 3; do
        v=$(sed -n "$1" <<<"$("${@:2}")")
        if [[ -z $best_v || $v -lt $best_v ]]; then best_v=$v; fi
    done
    echo "$best_v"
}

median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

# The context-switch benchmark (userspace/bench/switch_bench.c): two threads
# yielding to each other without (int) and with (fpu) x87/SSE work between
# the yields, and that work alone (alone: no switches).
# Simulator: host time around whole runs of one phase each (switch=PHASE on
# the kernel command line) and of boot and exit alone (switch=none), 7
# interleaved rounds, medians: a switch without the state is (int - none) / N,
# with it (fpu - alone) / N.
# QEMU (-smp 1): the program's own TSC figures (medians of its 5 interleaved
# rounds per phase) from boots with fpu=eager (the default) and fpu=lazy,
# alternating, 3 of each.
switch_bench() {
    local rd="$build/userspace/initramfs-switch-bench.cpio" out n
    local sw=("$build/sim/anvil-sim" --initramfs "$rd" --cpus 1)
    echo "== context switches without and with x87/SSE state: simulator (anvil-sim --cpus 1) =="
    out=$("${sw[@]}" --cmdline switch=int 2>&1)
    n=$(sed -n 's/^switch_bench: \([0-9]*\) switches per phase.*/\1/p' <<<"$out")
    [[ -n $n ]] || { echo "bench: no figures from switch_bench in the simulator" >&2; exit 1; }
    "${sw[@]}" 2>&1 | grep -E "switch_bench: (median|fpu|\()" | sed 's/rdtsc/virtual time (basic blocks)/'
    local none=() int=() fpu=() alone=()
    for _ in 1 2 3 4 5 6 7; do
        none+=("$(runs=1 best "${sw[@]}" --cmdline switch=none)")
        int+=("$(runs=1 best "${sw[@]}" --cmdline switch=int)")
        fpu+=("$(runs=1 best "${sw[@]}" --cmdline switch=fpu)")
        alone+=("$(runs=1 best "${sw[@]}" --cmdline switch=alone)")
    done
    local none_m int_m fpu_m alone_m
    none_m=$(median "${none[@]}") int_m=$(median "${int[@]}") fpu_m=$(median "${fpu[@]}") alone_m=$(median "${alone[@]}")
    echo "sim: medians of 7 interleaved runs: boot and exit ${none_m} ns; $n switches without x87/SSE ${int_m} ns," \
        "with ${fpu_m} ns; the x87/SSE work alone ${alone_m} ns"
    local without=$(((int_m - none_m) / n)) with=$(((fpu_m - alone_m) / n))
    echo "sim: a switch without x87/SSE state in use $without ns, with it $with ns:" \
        "with / without = $(awk -v a="$with" -v b="$without" 'BEGIN { printf "%.2f", a / b }')"
    echo "== context switches without and with x87/SSE state: QEMU (TCG, -smp 1; fpu=eager and fpu=lazy boots, alternating) =="
    local eager="$build/tests/qemu/anvil-switch-bench.iso" lazy="$build/tests/qemu/anvil-switch-bench-lazy.iso" log
    for iso in "$eager" "$lazy"; do
        [[ -f $iso ]] || { echo "bench: no $iso (is grub-mkrescue installed?)" >&2; exit 1; }
    done
    local figures="" mode phase
    for _ in 1 2 3; do
        for mode in eager lazy; do
            iso=$eager
            [[ $mode == lazy ]] && iso=$lazy
            log=$(mktemp)
            "$root/tools/qemu-run.sh" "$iso" --timeout 300 --serial-log "$log" >/dev/null || true
            out=$(grep -E "switch_bench: (median|fpu|\()" "$log" | tr -d '\r' | sed "s/^/fpu=$mode: /;s/rdtsc/TSC cycles/")
            rm -f "$log"
            [[ -n $out ]] || { echo "bench: no figures from QEMU ($iso)" >&2; exit 1; }
            echo "$out"
            figures+="$out"$'\n'
        done
    done
    # Eager against lazy: the median over the boots of each boot's median.
    local m=()
    for mode in eager lazy; do
        for phase in int fpu; do
            m+=("$(median $(sed -n "s/^fpu=$mode: switch_bench: median $phase: \([0-9]*\) .*/\1/p" <<<"$figures"))")
        done
    done
    echo "QEMU: medians of 3 boots each, TSC cycles per switch: eager int ${m[0]}, fpu ${m[1]}; lazy int ${m[2]}," \
        "fpu ${m[3]}; lazy / eager: int $(awk -v a="${m[2]}" -v b="${m[0]}" 'BEGIN { printf "%.2f", a / b }')," \
        "fpu $(awk -v a="${m[3]}" -v b="${m[1]}" 'BEGIN { printf "%.2f", a / b }')"
}
if [[ ${2:-} == switch ]]; then
    switch_bench
    exit 0
fi

echo "== simulator (anvil-sim --cpus 1; best of three runs) =="
out=$("$build/sim/anvil-sim" --initramfs "$rd" --cpus 1 --stats 2>&1)
echo "$out" | grep -E "sched_bench|stats"
yields=$(sed -n 's/.*sched_bench: \([0-9]*\) yields.*/\1/p' <<<"$out")
trips=$(sed -n 's/.* \([0-9]*\) round trips.*/\1/p' <<<"$out")
syscalls=$(field syscalls "$out")
ns=$(best "$build/sim/anvil-sim" --initramfs "$rd" --cpus 1)
[[ -n $yields && -n $trips && $trips -gt 0 ]] || { echo "bench: no figures from the simulator" >&2; exit 1; }
echo "host time ${ns} ns for ${syscalls} syscalls (whole run, boot included)"
echo "sim: $((ns / trips)) ns per yield round trip, $((yields * 1000000000 / ns)) context switches per second"

# The IPC ping-pong (userspace/bench/ipc_bench.c) against the raw Unicorn floor.
ipc_rd="$build/userspace/initramfs-ipc-bench.cpio"
echo "== simulator: IPC ping-pong (anvil-sim --cpus 1; best of three runs, and of three floor runs) =="
out=$("$build/sim/anvil-sim" --initramfs "$ipc_rd" --cpus 1 --stats 2>&1)
echo "$out" | grep -E "ipc_bench|stats"
trips=$(grep -c "ipc_bench: call" <<<"$out" || true)
[[ $trips -eq 3 ]] || { echo "bench: the IPC benchmark did not finish" >&2; exit 1; }
total=$(sed -n 's/.*: \([0-9]*\) round trips,.*/\1/p' <<<"$out" | awk '{ n += $1 } END { print n }')
ipc_ns=$(($(best "$build/sim/anvil-sim" --initramfs "$ipc_rd" --cpus 1) / total))
floor_ns=$(best_floor 's/^unicorn floor: .* \([0-9]*\) ns per round trip.*/\1/p' "$build/tools/anvil-unicorn-floor" 200000)
guest_ns=$(best_floor 's/^unicorn floor with .* \([0-9]*\) ns per round trip.*/\1/p' "$build/tools/anvil-unicorn-floor" 200000)
echo "unicorn floor: ${floor_ns} ns per round trip (two engine switches, no kernel)"
echo "unicorn floor with the benchmark's guest work (3 stores, a block hook, entry registers), no kernel: ${guest_ns} ns per round trip"
echo "sim: ${ipc_ns} ns per IPC round trip (all three cases, boot included), $((1000000000 / ipc_ns)) round trips per second"
echo "sim: IPC round trip / raw Unicorn floor = $(awk -v a="$ipc_ns" -v b="$floor_ns" 'BEGIN { printf "%.1f", a / b }')x (target <= 5x)"
echo "sim: IPC round trip / floor with the guest work = $(awk -v a="$ipc_ns" -v b="$guest_ns" 'BEGIN { printf "%.1f", a / b }')x (Unicorn alone: $(awk -v a="$guest_ns" -v b="$floor_ns" 'BEGIN { printf "%.1f", a / b }')x the floor)"

# User-code throughput: the same ELF on raw Unicorn (no hooks in its loop) and
# in the simulator with deterministic preemption (block counting, timer slices).
echo "== simulator: user-code throughput (userspace/bench/compute_bench.c) =="
raw_ns=$(best_floor 's/.* in \([0-9]*\) ns .*/\1/p' "$build/tools/anvil-cpu-floor" "$build/userspace/compute-bench")
echo "cpu floor: compute-bench to its first syscall on raw Unicorn, no hooks in its loop: ${raw_ns} ns (best of three)"
sim_ns=$(best "$build/sim/anvil-sim" --initramfs "$build/userspace/initramfs-compute-bench.cpio" --cpus 1)
echo "sim: the same program with deterministic preemption: ${sim_ns} ns (boot included; best of three)"
echo "sim: user-code throughput / raw Unicorn = $(awk -v a="$raw_ns" -v b="$sim_ns" 'BEGIN { printf "%.2f", a / b }') (target >= 0.7)"

# Recording: the userspace test suite (4 vCPUs, seed 1) without and with
# --record, and the replay of that trace.
echo "== simulator: recording and replay (userspace test suite, 4 vCPUs) =="
trace=$(mktemp --suffix=.atrace)
suite=("$build/sim/anvil-sim" --initramfs "$build/userspace/initramfs-tests.cpio"
       --serial-input "$root/tests/data/serial-input.txt" --seed 1)
# Seven rounds, each running the three in turn, so that a change in the
# host's load reaches all three alike. They differ by a few percent at most,
# about what the host's memory layout moves a single run by, so the ratios
# are given from the medians (one lucky or unlucky run does not move them)
# and, as the other figures, from the fastest runs.
replay_cmd=("$build/sim/anvil-sim" --replay "$trace" --initramfs "$build/userspace/initramfs-tests.cpio")
rec=$("${suite[@]}" --record "$trace" 2>&1 >/dev/null | grep "recorded")
echo "$rec"
off=() on=() rep=()
for _ in 1 2 3 4 5 6 7; do
    off+=("$(runs=1 best "${suite[@]}")")
    on+=("$(runs=1 best "${suite[@]}" --record "$trace")")
    rep+=("$(runs=1 best "${replay_cmd[@]}")")
done
rm -f "$trace"
fastest() { printf '%s\n' "$@" | sort -n | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
overhead() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (a / b - 1) * 100 }'; }
off_m=$(median "${off[@]}") on_m=$(median "${on[@]}") rep_m=$(median "${rep[@]}")
off_f=$(fastest "${off[@]}") on_f=$(fastest "${on[@]}") rep_f=$(fastest "${rep[@]}")
echo "sim: recording off ${off_m} ns, on ${on_m} ns (medians of 7 interleaved runs): overhead $(overhead "$on_m" "$off_m")%; fastest runs ${off_f} / ${on_f} ns: $(overhead "$on_f" "$off_f")% (target <= 10%)"
echo "sim: replay ${rep_m} ns (median): replay speed / record speed = $(ratio "$on_m" "$rep_m"); fastest run ${rep_f} ns: $(ratio "$on_f" "$rep_f") (target >= 1.0)"
echo "sim: $(sed -n 's/.*(\([0-9.]*\) bytes per record).*/\1/p' <<<"$rec") bytes per record (target <= 16)"

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
switch_bench
