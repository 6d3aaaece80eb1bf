#!/usr/bin/env bash
# Finding planted bugs, measured (tools/anvil bench bugs): runs every bug of
# the corpus (userspace/bugs/bugs.c, initramfs-bugs.cpio) under the random and
# the PCT schedule for the same seeds, a random run and a PCT run of each seed
# in turn, and prints per bug and schedule the runs to the first failure and
# the failures per 1,000 runs, and PCT's rate over random's; then shrinks the
# first failing PCT run (anvil-shrink) and prints its essential preemptions
# and how many of its vCPU switches are essential.
#   tools/bugs-bench.sh --build BUILD_DIR [--runs N] [--jobs J] [--bugs A,B]
#   tools/bugs-bench.sh --check-args [ARGS]   checks the arguments only
# --runs N   seeds per bug and schedule (default 1000)
# --jobs J   simulator processes at a time (default: nproc)
# --bugs L   only these bugs, comma-separated (default: all of the corpus)
# PCT runs with --pct-depth the bug's depth and --pct-steps the kernel
# entries of the bug's random run with seed 1 (anvil-sim --stats): PCT's
# change points are drawn among about one run's kernel entries.
# A run fails if anvil-sim exits other than 0; exit 2 (the workload could not
# start) stops the benchmark.
# exit: 0 the figures were printed; 1 a run could not start; 2 bad arguments.
set -uo pipefail

usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; }
bad() { echo "bugs-bench: $*; see tools/anvil bench bugs --help" >&2; exit 2; }

# The corpus: name, depth and, for a race planted in the kernel, the testing
# aid's plant=NAME (userspace/bugs/bugs.c's g_bugs, sim/machine.cpp).
all_bugs=(order-lookup:1 missed-notification:1 lost-update:2 use-after-revoke:2 deadlock:2 handoff-commit:3
          kernel-lost-signal:1:lost-signal kernel-stale-badge:1:stale-badge)

build="" check_only=0 runs=1000 jobs="" only=""
while [[ $# -gt 0 ]]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --check-args) check_only=1; shift ;;
    --build) [[ $# -ge 2 ]] || bad "--build needs a directory"; build=$2; shift 2 ;;
    --runs) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]{0,5}$ ]] || bad "--runs needs a number from 1 to 999999"; runs=$2; shift 2 ;;
    --jobs) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]{0,2}$ ]] || bad "--jobs needs a number from 1 to 999"; jobs=$2; shift 2 ;;
    --bugs) [[ $# -ge 2 && -n $2 ]] || bad "--bugs needs bug names"; only=$2; shift 2 ;;
    *) bad "unknown argument '$1'" ;;
    esac
done
bugs=()
if [[ -n $only ]]; then
    IFS=, read -r -a wanted <<<"$only"
    for w in "${wanted[@]}"; do
        found=""
        for b in "${all_bugs[@]}"; do [[ ${b%%:*} == "$w" ]] && found=$b; done
        [[ -n $found ]] || bad "no bug '$w' in the corpus (${all_bugs[*]%%:*})"
        bugs+=("$found")
    done
else
    bugs=("${all_bugs[@]}")
fi
[[ $check_only == 1 ]] && exit 0
[[ -n $build && -d $build ]] || bad "--build needs a build directory"
jobs=${jobs:-$(nproc 2>/dev/null || echo 2)}
sim="$build/sim/anvil-sim"
shrink="$build/sim/anvil-shrink"
initramfs="$build/userspace/initramfs-bugs.cpio"
for f in "$sim" "$shrink" "$initramfs"; do
    [[ -f $f ]] || { echo "bugs-bench: $f is missing (build first)" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/anvil-bugs-bench.XXXXXX") || { echo "bugs-bench: no temporary directory" >&2; exit 1; }
trap 'rm -rf "$work"' EXIT

# One run: "SEED STATUS" appended to the schedule's result file.
run_one() {
    local cmdline=$1 schedule=$2 seed=$3
    shift 3
    "$sim" --initramfs "$initramfs" --cmdline "$cmdline" --seed "$seed" --schedule "$schedule" "$@" >/dev/null 2>&1
    echo "$seed $?"
}
export -f run_one
export sim initramfs

# The first failing seed ("-" if none) and the failure count, from a result file.
first_and_count() {
    sort -n "$1" | awk '$2 != 0 { n++; if (!first) first = $1 } END { print (first ? first : "-"), n + 0 }'
}

echo "bugs-bench: $runs seeds per bug and schedule ($(date -u +%Y-%m-%d), $(nproc) CPUs, $jobs jobs)"
printf '%-20s %5s %6s | %-23s | %-23s | %-21s | %s\n' bug depth steps "random: first  per 1000" \
    "pct: first     per 1000" "shrunk: preempt, sw" "pct/random"
status=0
for entry in "${bugs[@]}"; do
    bug=${entry%%:*} rest=${entry#*:}
    depth=${rest%%:*} plant=""
    [[ $rest == *:* ]] && plant=${rest#*:}
    cmdline="bug=$bug${plant:+ plant=$plant}"
    stats=$("$sim" --initramfs "$initramfs" --cmdline "$cmdline" --seed 1 --stats 2>&1 >/dev/null)
    steps=$(sed -n 's/.* kernel_entries \([0-9]*\) .*/\1/p' <<<"$stats")
    [[ -n $steps ]] || { echo "bugs-bench: $bug did not run: $stats" >&2; exit 1; }
    # Interleaved: a random and a PCT run of each seed, side by side in the queue.
    for ((seed = 1; seed <= runs; seed++)); do
        echo "random $seed"
        echo "pct $seed"
    done | xargs -P "$jobs" -n 2 bash -c '
        if [[ $0 == pct ]]; then r=$(run_one "'"$cmdline"'" pct "$1" --pct-depth '"$depth"' --pct-steps '"$steps"')
        else r=$(run_one "'"$cmdline"'" random "$1"); fi
        echo "$r" >>"'"$work"'/$0"' 
    if grep -q ' 2$' "$work/random" "$work/pct"; then
        echo "bugs-bench: $bug: a run exited 2 (the workload could not start)" >&2
        status=1
    fi
    read -r rfirst rcount < <(first_and_count "$work/random")
    read -r pfirst pcount < <(first_and_count "$work/pct")
    if ((rcount > 0)); then
        ratio=$(awk -v p="$pcount" -v r="$rcount" 'BEGIN { printf "%.1fx", p / r }')
    elif ((pcount > 0)); then
        ratio=">= ${pcount}x (random: none; counted as 1)"
    else
        ratio="- (neither found it)"
    fi
    # The first failing PCT run, shrunk: "P, E/S": P essential preemptions (a
    # switch away from a thread that could have run on), E essential switches
    # of the S it made.
    shrunk="-"
    if [[ $pfirst != - ]]; then
        rm -f "$work/first.atrace" "$work/shrunk.atrace"
        "$sim" --initramfs "$initramfs" --cmdline "$cmdline" --seed "$pfirst" --schedule pct --pct-depth "$depth" \
            --pct-steps "$steps" --record "$work/first.atrace" >/dev/null 2>&1
        shrunk=$("$shrink" "$work/first.atrace" --out "$work/shrunk.atrace" --initramfs "$initramfs" 2>/dev/null |
            sed -n 's/.* \([0-9]*\) of the \([0-9]*\) switches are essential: \([0-9]*\) preemption.*/\3, \1\/\2/p')
        shrunk=${shrunk:-failed}
    fi
    printf '%-20s %5s %6s | %-6s %16s | %-6s %16s | %-21s | %s\n' "$bug" "$depth" "$steps" "$rfirst" \
        "$(awk -v c="$rcount" -v n="$runs" 'BEGIN { printf "%.1f", 1000 * c / n }')" "$pfirst" \
        "$(awk -v c="$pcount" -v n="$runs" 'BEGIN { printf "%.1f", 1000 * c / n }')" "$shrunk" "$ratio"
    rm -f "$work/random" "$work/pct"
done
exit $status
