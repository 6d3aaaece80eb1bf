#!/usr/bin/env bash
# Following QEMU traces, measured (tools/anvil bench follow): records N QEMU
# runs of the userspace test suite per CPU count (each boot with a timeout,
# its result read from the serial log and isa-debug-exit's status), follows
# each trace in the simulator (anvil-sim --replay) and prints one line per
# run, then how many followed and how many diverged per CPU count. Every
# diverged trace is kept, with its console and the follower's report.
#   tools/follow-bench.sh --build BUILD_DIR [--runs N] [--smp 1,2,4] [--tests PATTERN]
#                         [--timeout S] [--out DIR] [--cost]
#   tools/follow-bench.sh --check-args [ARGS]   checks the arguments only
# --runs N      QEMU runs per CPU count (default 5)
# --smp LIST    CPU counts, comma-separated (default 1,2,4)
# --tests P     the suite's tests to run (default '*': all of them)
# --timeout S   each QEMU boot's timeout in seconds (default 300)
# --out DIR     where traces are recorded and kept (default BUILD_DIR/follow-bench;
#               a followed run's trace is deleted, a diverged one kept)
# --cost        also what recording costs: before each recorded run, the same
#               suite boots without recording (interleaved); per CPU count, the
#               median wall time of each and their ratio (recording serializes
#               user code on several CPUs, docs/replay.md)
# exit: 0 the figures were printed (diverged runs included); 1 a QEMU run
#       failed or timed out, or the follower stopped for another reason than a
#       divergence (an error: its output is printed); 2 bad arguments.
set -uo pipefail

usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; }
bad() { echo "follow-bench: $*; see tools/anvil bench follow --help" >&2; exit 2; }

build="" check_only=0 runs=5 smps="1,2,4" tests='*' timeout_s=300 out="" cost=0
while [[ $# -gt 0 ]]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --check-args) check_only=1; shift ;;
    --build) [[ $# -ge 2 ]] || bad "--build needs a directory"; build=$2; shift 2 ;;
    --runs) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]{0,3}$ ]] || bad "--runs needs a number from 1 to 9999"; runs=$2; shift 2 ;;
    --smp) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]?(,[1-9][0-9]?)*$ ]] || bad "--smp needs CPU counts like 1,2,4"; smps=$2; shift 2 ;;
    --tests) [[ $# -ge 2 && -n $2 ]] || bad "--tests needs a pattern"; tests=$2; shift 2 ;;
    --timeout) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]{0,5}$ ]] || bad "--timeout needs seconds"; timeout_s=$2; shift 2 ;;
    --out) [[ $# -ge 2 && -n $2 ]] || bad "--out needs a directory"; out=$2; shift 2 ;;
    --cost) cost=1; shift ;;
    *) bad "unknown argument '$1'" ;;
    esac
done
[[ $check_only == 1 ]] && exit 0
[[ -n $build && -d $build ]] || bad "--build needs a build directory"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kernel="$build/hal/x86_64/kernel.elf"
initramfs="$build/userspace/initramfs-tests.cpio"
sim="$build/sim/anvil-sim"
input="$root/tests/data/serial-input.txt"
for f in "$kernel" "$initramfs" "$sim"; do
    [[ -f $f ]] || { echo "follow-bench: $f is missing (build first)" >&2; exit 1; }
done
out=${out:-$build/follow-bench}
mkdir -p "$out" || { echo "follow-bench: cannot create $out" >&2; exit 1; }
iso="$out/suite.iso"
"$root/tools/mkiso.sh" "$kernel" "$initramfs" "$iso" "tests=$tests trace" >/dev/null ||
    { echo "follow-bench: could not build an ISO with the command line 'tests=$tests trace'" >&2; exit 1; }
plain_iso="$out/suite-plain.iso"
if [[ $cost == 1 ]]; then
    "$root/tools/mkiso.sh" "$kernel" "$initramfs" "$plain_iso" "tests=$tests" >/dev/null ||
        { echo "follow-bench: could not build an ISO with the command line 'tests=$tests'" >&2; exit 1; }
fi

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# The median of the numbers given (the lower middle one of an even count).
median() { printf '%s\n' "$@" | sort -n | sed -n "$(((${#@} + 1) / 2))p"; }
# "12.3": milliseconds as seconds with one decimal.
secs() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }

echo "follow-bench: $runs QEMU run(s) of the suite ('$tests') per CPU count ($smps), each followed in the simulator"
closing=""
failed=0
IFS=, read -r -a smp_list <<<"$smps"
for smp in "${smp_list[@]}"; do
    followed=0 diverged=0 qemu_s=0 follow_s=0 plain_ms=() recorded_ms=()
    for ((i = 1; i <= runs; i++)); do
        name="smp$smp-run$i"
        trace="$out/$name.atrace"
        if [[ $cost == 1 ]]; then
            p0=$(now_ms)
            "$root/tools/qemu-run.sh" "$plain_iso" --smp "$smp" --timeout "$timeout_s" --serial-input "$input" \
                >"$out/$name-plain.console" 2>&1
            status=$?
            p1=$(now_ms)
            if [[ $status -ne 0 ]] || ! grep -q " passed, 0 failed" "$out/$name-plain.console"; then
                echo "smp $smp run $i/$runs: the QEMU run without recording failed (exit $status; console: $out/$name-plain.console)"
                failed=1
            else
                plain_ms+=($((p1 - p0)))
                rm -f "$out/$name-plain.console"
            fi
        fi
        t0=$SECONDS
        r0=$(now_ms)
        "$root/tools/qemu-run.sh" "$iso" --smp "$smp" --timeout "$timeout_s" --serial-input "$input" \
            --trace-file "$trace" >"$out/$name.console" 2>&1
        status=$?
        recorded_ms+=($(($(now_ms) - r0)))
        t1=$SECONDS
        qemu_s=$((qemu_s + t1 - t0))
        if [[ $status -ne 0 ]] || ! grep -q " passed, 0 failed" "$out/$name.console"; then
            echo "smp $smp run $i/$runs: the QEMU run failed (exit $status; console: $out/$name.console)"
            failed=1
            continue
        fi
        "$sim" --replay "$trace" --initramfs-search "$build/userspace" --initramfs-search "$build/tests" \
            >"$out/$name.follow" 2>&1
        status=$?
        t2=$SECONDS
        follow_s=$((follow_s + t2 - t1))
        case $status in
        0)
            followed=$((followed + 1))
            entries=$(sed -n 's/.*followed \([0-9]*\) kernel entries.*/\1/p' "$out/$name.follow" | tail -1)
            echo "smp $smp run $i/$runs: followed (${entries:-?} kernel entries; QEMU $((t1 - t0)) s, follow $((t2 - t1)) s)"
            rm -f "$trace" "$out/$name.console" "$out/$name.follow"
            ;;
        120)
            diverged=$((diverged + 1))
            echo "smp $smp run $i/$runs: diverged: $(grep -m1 'diverged at' "$out/$name.follow" | sed 's/^anvil-sim: //')"
            grep -m1 '^  limit\|^  none of' "$out/$name.follow" | sed 's/^ */    /'
            echo "    kept: $trace (report: $out/$name.follow)"
            ;;
        *)
            echo "smp $smp run $i/$runs: the follower stopped with exit $status:"
            tail -n 5 "$out/$name.follow" | sed 's/^/    /'
            failed=1
            ;;
        esac
    done
    total=$((followed + diverged))
    pct=$((total ? followed * 100 / total : 0))
    line="smp $smp: $followed followed, $diverged diverged"
    [[ $total -gt 0 ]] && line+=" ($pct %; QEMU $((qemu_s / runs)) s, follow $((follow_s / total)) s a run)"
    echo "$line"
    if [[ $cost == 1 && ${#plain_ms[@]} -gt 0 ]]; then
        rec=$(median "${recorded_ms[@]}") plain=$(median "${plain_ms[@]}")
        echo "smp $smp: the suite's wall time, medians of ${#recorded_ms[@]} recorded and ${#plain_ms[@]} not recorded" \
            "runs (interleaved): $(secs "$rec") s recording, $(secs "$plain") s not:" \
            "$(awk -v a="$rec" -v b="$plain" 'BEGIN { printf "%.2f", a / b }')x"
    fi
    closing+="${closing:+; }smp $smp: $followed followed, $diverged diverged"
done
rm -f "$iso" "$plain_iso"
echo "follow-bench: $closing"
exit $failed
