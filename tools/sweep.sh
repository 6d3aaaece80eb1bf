#!/usr/bin/env bash
# Seed sweep: runs one simulator workload once per seed, several at a time,
# recording each run, and keeps the trace of every run that failed (exit
# status != 0) so it can be replayed exactly. tools/anvil sweep builds first
# and then runs this; tests/sim/sweep.cmake runs it on a build directory.
#
# usage: tools/sweep.sh --seeds A..B [--shard I/N] [--jobs J] [--workload tests|demo|race|fuzz|exhaust]
#                       [--tests PATTERN] [--ops N] [--cpus N] [--max-slices N] [--out DIR]
#                       [--schedule random|pct [--pct-depth D] [--pct-steps K]] [--faults SPEC]
#                       [--build DIR] [-- ANVIL-SIM-OPTIONS...]
#        tools/sweep.sh merge --out DIR SHARD-DIR...
# --seeds A..B  every seed from A to B (or one seed N)
# --shard I/N   run only shard I (0..N-1) of N: the seeds A+I, A+I+N, ... of the
#               range, so that N sweeps, on as many machines, run it all once;
#               `merge` then makes one report of them (docs/replay.md, "Sweeps
#               across machines")
# --jobs J      simulator processes at a time (default: nproc)
# --workload    tests: the userspace test suite (initramfs-tests.cpio, with the
#               serial input its IO tests read); demo: the default workload
#               (initramfs.cpio); race: the lost-update demonstration
#               (initramfs-race.cpio, docs/replaying-a-bug.md); fuzz: the
#               syscall fuzzer (initramfs-fuzz.cpio), given the seed too
#               (fuzz.seed=N on the kernel command line), so each seed changes
#               both the syscalls and the interleaving; exhaust: memory
#               exhaustion twice in a row (initramfs-exhaust.cpio, --memory 64).
#               Default: tests.
# --tests P     tests workload only: run the tests matching P (tests=P on the
#               kernel command line)
# --ops N       fuzz workload only: syscalls per run (fuzz.ops=N; the fuzzer's
#               default otherwise)
# --cpus N      vCPUs of each run (anvil-sim's default otherwise)
# --max-slices N  stop a run after N slices (default 10000000, about 50 times
#               the test suite; 0: no bound). A run that reaches it (a livelock,
#               a spinning thread) exits 124 and counts as failing; its trace
#               stops there and replays to the same point.
# --schedule S  how each run's interleaving is picked: random (the default) or
#               pct, with --pct-depth D (default 3) and --pct-steps K (default
#               2000 kernel entries) (anvil-sim --help, docs/scheduling.md)
# --faults SPEC inject faults in every run, their points drawn from its seed
#               (anvil-sim --help: kill=NAME[@N|@N..M], alloc-fail[=N|=N..M],
#               irq-drop=P, irq-delay=P:D, uart-drop=P, uart-corrupt=P); each
#               kept trace records them, so it replays without the spec
#               (docs/reliability.md, "Fault injection")
# --out DIR     where failing seeds' traces go, as DIR/seed-N.atrace with the
#               run's console as DIR/seed-N.log (default: sweeps/ at the top of
#               the tree: results, which `tools/anvil clean` keeps, not build
#               output)
# --build DIR   the build directory holding sim/anvil-sim and userspace/ (default: build)
# --check-args  only check the arguments (tools/anvil does this before building)
# -h, --help    this text
# Anything after -- goes to every anvil-sim run (e.g. --slice 200).
# Every sweep writes a summary beside the traces it keeps: DIR/sweep.summary,
# or DIR/shard-I-of-N.summary for a shard (the workload, the seed range, the
# initramfs's SHA-256, the simulator options, each seed's exit status and,
# with --faults, how many faults it made; the report counts them: a run whose
# fault points lie past what it did had none made).
# merge reads the shard summaries in the SHARD-DIRs (all N shards of one
# sweep, each once), copies their kept traces and logs into --out DIR (never
# over a different file of the same name), writes DIR/sweep.summary as the
# unsharded sweep would have, and prints the unsharded sweep's report.
# exit: 0 if every seed passed, 1 if any failed, 2 for bad arguments, a
# missing build, or shard summaries that do not make one sweep.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage_error() {
    echo "sweep: $*" >&2
    echo "usage: tools/anvil sweep --seeds A..B [--shard I/N] [--jobs J] [--workload tests|demo|race|fuzz|exhaust] [--tests PATTERN] [--ops N] [--cpus N] [--max-slices N] [--faults SPEC] [--out DIR] [-- SIM-OPTIONS]" >&2
    echo "       tools/anvil sweep merge --out DIR SHARD-DIR..." >&2
    exit 2
}

is_number() { [[ $1 =~ ^[0-9]+$ ]]; }

# Paths as typed from the current directory where that is shorter.
show() {
    local p=$1
    [[ $p == /* ]] || p="$PWD/$p"
    [[ $p == "$PWD/"* ]] && p=${p#"$PWD/"}
    echo "$p"
}

# The report of a sweep from its summary (see above) and the directory of its
# kept traces: the fuzz totals, then every seed passed or which failed, each
# with the command that replays it. Its status: 0 if every seed passed, else 1.
report() {
    local summary=$1 dir=$2 workload="" seeds="" shard="" key
    local -a failed=() statuses=()
    local total=0 calls=0 pairs=0 counted=0 max_slices="" one="" with_faults=0 faulted=0 made=0
    while read -r key a b c; do
        case $key in
        workload) workload=$a ;;
        seeds) seeds=$a ;;
        shard) shard=$a ;;
        max-slices) max_slices=$a ;;
        seed) ((total++)); one=$a; [[ $b == 0 ]] || { failed+=("$a"); statuses+=("$b"); } ;;
        fuzz) ((calls += b, counted++)); ((c > pairs)) && pairs=$c ;;
        faults) ((with_faults = 1, made += b)); ((b > 0)) && ((faulted++)) ;;
        esac
    done <"$summary"
    local range="seeds $seeds"
    [[ $shard == 0/1 ]] || range+=", shard $shard: $total seeds"
    [[ $workload == fuzz ]] &&
        echo "sweep: fuzz: $calls syscalls in $counted of $total runs, up to $pairs distinct (nr, status) pairs in one run"
    # A run whose fault points lie past what it did had no fault made at all.
    ((with_faults)) && echo "sweep: faults: $made made, in $faulted of $total runs"
    if ((${#failed[@]} == 0)); then
        if ((total == 1)); then
            echo "sweep: seed $one passed ($workload workload)"
        else
            echo "sweep: all $total seeds passed ($workload workload, $range)"
        fi
        return 0
    fi
    echo "sweep: ${#failed[@]} of $total seeds failed ($workload workload, $range); traces in $(show "$dir")/"
    local i why
    for i in "${!failed[@]}"; do
        why=""
        [[ ${statuses[i]} == 124 ]] &&
            why=" (stopped at --max-slices $max_slices: a livelock or a thread that never blocks?)"
        echo "  seed ${failed[i]} exited ${statuses[i]}$why: $(replay_line "$dir/seed-${failed[i]}.atrace")"
    done
    return 1
}

# tools/anvil replay finds the trace's initramfs in its own build directory;
# for a sweep of another build directory, the equivalent anvil-sim line.
replay_line() {
    local trace=$1 prefix=""
    local build_abs
    build_abs=$(cd "$build" 2>/dev/null && pwd -P)
    if "$ROOT/tools/anvil" help 2>/dev/null | grep -qE '^  replay( |$)'; then
        if [[ $build_abs == "$(cd "$ROOT/build" 2>/dev/null && pwd -P)" ]]; then
            prefix="$(show "$ROOT/tools/anvil") replay"
        elif [[ $build_abs == "$(cd "$ROOT/build-asan" 2>/dev/null && pwd -P)" ]]; then
            prefix="ANVIL_PRESET=asan $(show "$ROOT/tools/anvil") replay"
        fi
    fi
    if [[ -n $prefix ]]; then
        echo "$prefix $(show "$trace")"
    else
        echo "$(show "$build/sim/anvil-sim") --replay $(show "$trace") --initramfs $(show "$build/userspace/$initramfs_name")"
    fi
}

# sweep merge --out DIR SHARD-DIR...: see the usage above.
merge_main() {
    local out="" dirs=()
    while [[ $# -gt 0 ]]; do
        case $1 in
        --out) [[ $# -ge 2 ]] || usage_error "merge: --out needs a directory"; out=$2; shift 2 ;;
        --build) [[ $# -ge 2 ]] || usage_error "--build needs a directory"; build=$2; shift 2 ;;
        --check-args) check_only=1; shift ;;
        -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        -*) usage_error "merge: unknown option '$1'" ;;
        *) dirs+=("$1"); shift ;;
        esac
    done
    [[ -n $out ]] || usage_error "merge needs --out DIR, where the merged report and traces go"
    ((${#dirs[@]} > 0)) || usage_error "merge needs the directories of the shards' sweeps"
    [[ $check_only == 1 ]] && exit 0
    local d f summaries=()
    for d in "${dirs[@]}"; do
        [[ -d $d ]] || { echo "sweep: merge: $d is not a directory" >&2; exit 2; }
        for f in "$d"/shard-*-of-*.summary; do
            [[ -f $f ]] && summaries+=("$f")
        done
    done
    ((${#summaries[@]} > 0)) || { echo "sweep: merge: no shard summaries (shard-I-of-N.summary) in ${dirs[*]}" >&2; exit 2; }
    # Every shard of one sweep, each once: the same header but for the shard
    # line, shards 0..N-1, and the seeds of the range each once.
    local head first_head="" n="" seen=() lines=() key a b c
    for f in "${summaries[@]}"; do
        [[ $(head -n 1 "$f") == "anvil sweep summary 1" ]] || { echo "sweep: merge: $f is not a sweep summary" >&2; exit 2; }
        head=$(grep -v '^shard \|^seed \|^fuzz \|^faults ' "$f")
        if [[ -z $first_head ]]; then
            first_head=$head
        elif [[ $head != "$first_head" ]]; then
            echo "sweep: merge: $f is from another sweep than ${summaries[0]} (workload, seeds, initramfs or options differ):" >&2
            diff <(echo "$first_head") <(echo "$head") | sed 's/^/  /' >&2
            exit 2
        fi
        read -r key a < <(grep '^shard ' "$f")
        local i=${a%/*} count=${a#*/}
        [[ -z $n || $n == "$count" ]] || { echo "sweep: merge: $f is shard $a, the others are of $n shards" >&2; exit 2; }
        n=$count
        [[ -z ${seen[i]:-} ]] || { echo "sweep: merge: shard $a is there twice (${seen[i]} and $f)" >&2; exit 2; }
        seen[i]=$f
    done
    for ((i = 0; i < n; i++)); do
        [[ -n ${seen[i]:-} ]] || { echo "sweep: merge: shard $i/$n is missing (give the directory of every shard)" >&2; exit 2; }
    done
    local range first last
    range=$(sed -n 's/^seeds //p' "${summaries[0]}")
    first=${range%..*} last=${range#*..}
    workload=$(sed -n 's/^workload //p' "${summaries[0]}")
    initramfs_name=$(sed -n 's/^initramfs-file //p' "${summaries[0]}")
    # The seeds, in order, each from its shard; its kept trace and log copied.
    local -A status=() fuzz=() faults=() from=()
    for f in "${summaries[@]}"; do
        while read -r key a b c; do
            case $key in
            seed)
                [[ -z ${status[$a]:-} ]] || { echo "sweep: merge: seed $a is in two shards" >&2; exit 2; }
                status[$a]=$b from[$a]=$(dirname "$f") ;;
            fuzz) fuzz[$a]="$b $c" ;;
            faults) faults[$a]=$b ;;
            esac
        done <"$f"
    done
    # Every file checked before any is copied: a refused merge changes nothing.
    local seed src dst copies=()
    for ((seed = first; seed <= last; seed++)); do
        [[ -n ${status[$seed]:-} ]] || { echo "sweep: merge: no shard ran seed $seed" >&2; exit 2; }
        [[ ${status[$seed]} == 0 ]] && continue
        for f in "seed-$seed.atrace" "seed-$seed.log"; do
            src="${from[$seed]}/$f" dst="$out/$f"
            [[ -f $src ]] || { echo "sweep: merge: $src is missing (seed $seed failed in that shard)" >&2; exit 2; }
            [[ -d $out && $(cd "${from[$seed]}" && pwd -P) == "$(cd "$out" && pwd -P)" ]] && continue
            if [[ -e $dst ]] && ! cmp -s "$src" "$dst"; then
                echo "sweep: merge: $dst exists and differs from $src; not overwritten (merge into another --out)" >&2
                exit 2
            fi
            copies+=("$src")
        done
    done
    mkdir -p "$out" || { echo "sweep: merge: cannot create $out" >&2; exit 2; }
    for src in "${copies[@]}"; do
        cp "$src" "$out/" || exit 2
    done
    {
        echo "$first_head"
        echo "shard 0/1"
        for ((seed = first; seed <= last; seed++)); do
            echo "seed $seed ${status[$seed]}"
            [[ -n ${fuzz[$seed]:-} ]] && echo "fuzz $seed ${fuzz[$seed]}"
            [[ -n ${faults[$seed]:-} ]] && echo "faults $seed ${faults[$seed]}"
        done
    } >"$out/sweep.summary"
    echo "sweep: merged $n shards of seeds $range into $(show "$out")/"
    report "$out/sweep.summary" "$out"
    exit $?
}

seeds="" jobs="" workload=tests tests="" have_tests=0 ops="" cpus="" max_slices=10000000 out="" build="$ROOT/build" check_only=0
shard=""
sim_extra=()
[[ ${1:-} == merge ]] && { shift; merge_main "$@"; }

seeds="" jobs="" workload=tests tests="" have_tests=0 ops="" cpus="" max_slices=10000000 out="" build="$ROOT/build" check_only=0
schedule=random pct_depth="" pct_steps="" faults=""
sim_extra=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --seeds) [[ $# -ge 2 ]] || usage_error "--seeds needs a range A..B"; seeds=$2; shift 2 ;;
    --shard) [[ $# -ge 2 ]] || usage_error "--shard needs I/N (shard I of N, from 0)"; shard=$2; shift 2 ;;
    --jobs) [[ $# -ge 2 ]] || usage_error "--jobs needs a number"; jobs=$2; shift 2 ;;
    --workload) [[ $# -ge 2 ]] || usage_error "--workload needs tests, demo, race, fuzz or exhaust"; workload=$2; shift 2 ;;
    --tests) [[ $# -ge 2 ]] || usage_error "--tests needs a pattern"; tests=$2; have_tests=1; shift 2 ;;
    --ops) [[ $# -ge 2 ]] || usage_error "--ops needs a number"; ops=$2; shift 2 ;;
    --cpus) [[ $# -ge 2 ]] || usage_error "--cpus needs a number"; cpus=$2; shift 2 ;;
    --max-slices) [[ $# -ge 2 ]] || usage_error "--max-slices needs a number"; max_slices=$2; shift 2 ;;
    --out) [[ $# -ge 2 ]] || usage_error "--out needs a directory"; out=$2; shift 2 ;;
    --schedule) [[ $# -ge 2 ]] || usage_error "--schedule needs random or pct"; schedule=$2; shift 2 ;;
    --pct-depth) [[ $# -ge 2 ]] || usage_error "--pct-depth needs a number"; pct_depth=$2; shift 2 ;;
    --pct-steps) [[ $# -ge 2 ]] || usage_error "--pct-steps needs a number"; pct_steps=$2; shift 2 ;;
    --faults) [[ $# -ge 2 ]] || usage_error "--faults needs a spec (e.g. kill=ioserver,irq-drop=5)"; faults=$2; shift 2 ;;
    --build) [[ $# -ge 2 ]] || usage_error "--build needs a directory"; build=$2; shift 2 ;;
    --check-args) check_only=1; shift ;;
    -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    --) shift; sim_extra=("$@"); break ;;
    *) usage_error "unknown option '$1'" ;;
    esac
done

[[ -n $seeds ]] || usage_error "--seeds is required (a range such as 1..100)"
# Seeds are 64-bit in anvil-sim; here they stay within what bash's arithmetic holds.
if [[ $seeds =~ ^([0-9]{1,18})\.\.([0-9]{1,18})$ ]]; then
    first=$((10#${BASH_REMATCH[1]}))
    last=$((10#${BASH_REMATCH[2]}))
elif [[ $seeds =~ ^[0-9]{1,18}$ ]]; then
    first=$((10#$seeds))
    last=$first
else
    usage_error "--seeds must be A..B (or one seed N), numbers of at most 18 digits (got '$seeds')"
fi
((first <= last)) || usage_error "--seeds $seeds is empty: the first seed must not be above the last"
shard_i=0 shards=1
if [[ -n $shard ]]; then
    [[ $shard =~ ^([0-9]{1,6})/([0-9]{1,6})$ ]] || usage_error "--shard must be I/N, shard I of N counted from 0 (got '$shard')"
    shard_i=$((10#${BASH_REMATCH[1]})) shards=$((10#${BASH_REMATCH[2]}))
    ((shards >= 1 && shard_i < shards)) || usage_error "--shard $shard: I must be below N (shards 0/$shards to $((shards > 0 ? shards - 1 : 0))/$shards)"
fi
if [[ -z $jobs ]]; then
    jobs=$(nproc 2>/dev/null || echo 2)
fi
if ! is_number "$jobs" || ((${#jobs} > 6 || 10#$jobs < 1)); then
    usage_error "--jobs must be a positive number (got '$jobs')"
fi
jobs=$((10#$jobs))
if [[ -n $cpus ]]; then
    if ! is_number "$cpus" || ((${#cpus} > 2 || 10#$cpus < 1 || 10#$cpus > 16)); then
        usage_error "--cpus must be a number from 1 to 16 (got '$cpus')"
    fi
fi
if ! is_number "$max_slices" || ((${#max_slices} > 15)); then
    usage_error "--max-slices must be a number, 0 for no bound (got '$max_slices')"
fi
case " ${sim_extra[*]} " in
*" --max-slices"*) usage_error "give the bound as the sweep's --max-slices, not after --" ;;
*" --faults"*) usage_error "give the faults as the sweep's --faults, not after --" ;;
esac
if [[ -n $faults && ! $faults =~ ^[a-z0-9=@.,:_-]+$ ]]; then
    usage_error "--faults: '$faults' has characters no spec has (anvil-sim --help gives the grammar)"
fi
[[ $schedule == random || $schedule == pct ]] || usage_error "--schedule must be random or pct (got '$schedule')"
if [[ -n $pct_depth$pct_steps && $schedule != pct ]]; then
    usage_error "--pct-depth and --pct-steps go with --schedule pct"
fi
if [[ -n $pct_depth ]] && { ! is_number "$pct_depth" || ((${#pct_depth} > 2 || 10#$pct_depth < 1 || 10#$pct_depth > 64)); }; then
    usage_error "--pct-depth must be a number from 1 to 64 (got '$pct_depth')"
fi
if [[ -n $pct_steps ]] && { ! is_number "$pct_steps" || ((${#pct_steps} > 12 || 10#$pct_steps < 1)); }; then
    usage_error "--pct-steps must be a positive number (got '$pct_steps')"
fi
case $workload in
tests) initramfs_name="initramfs-tests.cpio" ;;
demo) initramfs_name="initramfs.cpio" ;;
race) initramfs_name="initramfs-race.cpio" ;;
fuzz) initramfs_name="initramfs-fuzz.cpio" ;;
exhaust) initramfs_name="initramfs-exhaust.cpio" ;;
*) usage_error "unknown workload '$workload' (use tests, demo, race, fuzz or exhaust)" ;;
esac
if [[ $have_tests == 1 ]]; then
    [[ $workload == tests ]] || usage_error "--tests goes with --workload tests (this sweep runs '$workload')"
    [[ -n $tests && $tests != *" "* ]] || usage_error "--tests needs a pattern without spaces (use commas: 'ipc.*,mem.*')"
fi
if [[ -n $ops ]]; then
    [[ $workload == fuzz ]] || usage_error "--ops goes with --workload fuzz (this sweep runs '$workload')"
    if ! is_number "$ops" || ((${#ops} > 12 || 10#$ops < 1)); then
        usage_error "--ops must be a positive number (got '$ops')"
    fi
fi
[[ $check_only == 1 ]] && exit 0

sim="$build/sim/anvil-sim"
trace_tool="$build/replay/anvil-trace"
initramfs="$build/userspace/$initramfs_name"
[[ -x $sim ]] || { echo "sweep: no simulator at $sim (build first: tools/anvil build)" >&2; exit 2; }
[[ -f $initramfs ]] || { echo "sweep: no initramfs at $initramfs (build first: tools/anvil build)" >&2; exit 2; }
[[ -z $faults || -x $trace_tool ]] || { echo "sweep: no anvil-trace at $trace_tool (build first: tools/anvil build)" >&2; exit 2; }
# The spec's grammar and the services it kills are anvil-sim's to check: a
# run of one slice says whether it takes them, before any seed runs.
if [[ -n $faults ]]; then
    why=$("$sim" --initramfs "$initramfs" --faults "$faults" --max-slices 1 2>&1 >/dev/null)
    [[ $? == 2 ]] && { echo "sweep: ${why#anvil-sim: }" >&2; exit 2; }
fi
[[ -n $out ]] || out="$ROOT/sweeps"
mkdir -p "$out" || { echo "sweep: cannot create the output directory $out" >&2; exit 2; }

# Every run's arguments but the seed and the trace file.
args=(--initramfs "$initramfs")
[[ -n $cpus ]] && args+=(--cpus "$cpus")
((10#$max_slices > 0)) && args+=(--max-slices "$((10#$max_slices))")
args+=(--schedule "$schedule")
[[ -n $pct_depth ]] && args+=(--pct-depth "$((10#$pct_depth))")
[[ -n $pct_steps ]] && args+=(--pct-steps "$((10#$pct_steps))")
[[ -n $faults ]] && args+=(--faults "$faults")
if [[ $workload == tests ]]; then
    args+=(--serial-input "$ROOT/tests/data/serial-input.txt")
    [[ $have_tests == 1 ]] && args+=(--cmdline "tests=$tests")
fi
# The exhaustion workload runs out of memory twice: 64 MiB keeps that quick,
# unless the simulator options name a size.
if [[ $workload == exhaust && " ${sim_extra[*]} " != *" --memory"* ]]; then
    args+=(--memory 64)
fi
# The fuzz workload sets the command line per seed; a --cmdline among the
# simulator options is added to it.
fuzz_words=""
if [[ $workload == fuzz ]]; then
    rest=()
    for ((i = 0; i < ${#sim_extra[@]}; i++)); do
        case ${sim_extra[i]} in
        --cmdline) fuzz_words+=" ${sim_extra[i + 1]:-}"; ((i++)) ;;
        --cmdline=*) fuzz_words+=" ${sim_extra[i]#--cmdline=}" ;;
        *) rest+=("${sim_extra[i]}") ;;
        esac
    done
    sim_extra=("${rest[@]}")
    [[ -n $ops ]] && fuzz_words=" fuzz.ops=$((10#$ops))$fuzz_words"
fi
args+=("${sim_extra[@]}")

work=$(mktemp -d "${TMPDIR:-/tmp}/anvil-sweep.XXXXXX") || { echo "sweep: cannot make a temporary directory" >&2; exit 2; }
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    local pid
    for pid in $(jobs -p); do kill "$pid" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One seed: recorded straight into the output directory (so the console log
# names the trace where it stays); the trace and log go again if the run
# passed. The subshell's status is the run's.
run_seed() {
    local seed=$1 status
    local seed_args=()
    # The fuzzer takes the seed too: its syscalls and the interleaving both vary.
    [[ $workload == fuzz ]] && seed_args=(--cmdline "fuzz.seed=$seed$fuzz_words")
    "$sim" "${args[@]}" "${seed_args[@]}" --seed "$seed" --record "$out/seed-$seed.atrace" >"$out/seed-$seed.log" 2>&1
    status=$?
    echo "$status" >"$work/seed-$seed.status"
    # The fuzzer's closing line, kept for the sweep's totals.
    [[ $workload == fuzz ]] && grep -ao 'fuzz: [0-9]* syscalls, [0-9]* distinct' "$out/seed-$seed.log" \
        >"$work/seed-$seed.fuzz" 2>/dev/null
    # How many faults --faults made (the trace's inject records), for the report.
    [[ -n $faults ]] && { "$trace_tool" dump --kind inject "$out/seed-$seed.atrace" 2>/dev/null |
        grep -c '^#[0-9]* inject '; } >"$work/seed-$seed.faults"
    [[ $status -eq 0 ]] && rm -f "$out/seed-$seed.atrace" "$out/seed-$seed.log"
    return "$status"
}

total=$(((last - first - shard_i) / shards + 1))
done_count=0
failing=0
tty=0
[[ -t 1 ]] && tty=1
progress() {
    if [[ $tty == 1 ]]; then
        printf '\rsweep: %d/%d seeds, %d failing\033[K' "$done_count" "$total" "$failing"
    else
        printf 'sweep: %d/%d seeds, %d failing\n' "$done_count" "$total" "$failing"
    fi
}

# Reaps one finished run and updates the count.
reap() {
    wait -n
    local status=$?
    ((done_count++))
    ((status != 0)) && ((failing++))
    progress
}

[[ $tty == 1 ]] && progress
running=0
for ((seed = first + shard_i; seed <= last; seed += shards)); do
    # A trace from an earlier sweep of this seed must not outlive this run.
    rm -f "$out/seed-$seed.atrace" "$out/seed-$seed.log"
    if ((running >= jobs)); then
        reap
        ((running--))
    fi
    run_seed "$seed" &
    ((running++))
done
while ((running > 0)); do
    reap
    ((running--))
done
[[ $tty == 1 ]] && echo

# The summary (see the usage above), then the report made from it.
if ((shards == 1)); then
    summary="$out/sweep.summary"
else
    summary="$out/shard-$shard_i-of-$shards.summary"
fi
options=()
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
    --initramfs | --serial-input) ((i++)) ;;  # (paths: the hash names the initramfs)
    *) options+=("${args[i]}") ;;
    esac
done
{
    echo "anvil sweep summary 1"
    echo "workload $workload"
    echo "seeds $first..$last"
    echo "initramfs-file $initramfs_name"
    echo "initramfs $(sha256sum <"$initramfs" | cut -d' ' -f1)"
    echo "max-slices $((10#$max_slices))"
    echo "options ${options[*]}"
    echo "shard $shard_i/$shards"
    for ((seed = first + shard_i; seed <= last; seed += shards)); do
        status="?"
        [[ -f $work/seed-$seed.status ]] && read -r status <"$work/seed-$seed.status"
        echo "seed $seed $status"
        line=""
        [[ -f $work/seed-$seed.fuzz ]] && read -r line <"$work/seed-$seed.fuzz"
        [[ $line =~ ^fuzz:\ ([0-9]+)\ syscalls,\ ([0-9]+)\ distinct ]] &&
            echo "fuzz $seed ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
        line=""
        [[ -f $work/seed-$seed.faults ]] && read -r line <"$work/seed-$seed.faults"
        [[ $line =~ ^[0-9]+$ ]] && echo "faults $seed $line"
    done
} >"$summary"
report "$summary" "$out"
exit $?
