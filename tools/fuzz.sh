#!/usr/bin/env bash
# Fuzzing: builds the libFuzzer harnesses of fuzz/ with clang (ASan + UBSan) in
# their own build directory, makes each a seed corpus from real files of an
# Anvil build, runs it for a fixed time and reports executions, coverage and
# whether anything crashed. tools/anvil fuzz builds Anvil first and then runs
# this; tests/fuzz/fuzz_test.sh runs it on a build directory.
#
# usage: tools/fuzz.sh [--seconds S] [--fresh] [--build DIR] [--out DIR] [--work DIR]
#                      NAME... [-- LIBFUZZER-OPTIONS...]
# NAME          cpio (the kernel's initramfs reader, then elf::parse on its init),
#               elf (the kernel's ELF checker), manifest (init's services manifest
#               parser), trace (the host's trace reader), gdb (anvil-debug --gdb's
#               framing and packet decoding) or debug (anvil-debug's command
#               language); all: the six, one after the other
# --seconds S   how long each harness runs (default 60)
# --fresh       start from the seeds alone, forgetting the corpus earlier runs grew
# --build DIR   the Anvil build the seeds come from: its initramfs images, user
#               programs and simulator (default: build)
# --out DIR     where the clang build goes (default: build-fuzz)
# --work DIR    corpora, seeds, crashes and logs, as DIR/NAME/... (default: OUT/work)
# --check-args  only check the arguments (tools/anvil does this before building)
# -h, --help    this text
# Anything after -- goes to every harness (libFuzzer's -help=1 lists them).
# exit: 0 if no harness crashed; 1 if one did (its reproducer is printed) or could
# not run; 2 for bad arguments or a missing build; 77 if clang's libFuzzer is not
# installed (tools/anvil setup installs clang and libclang-rt-14-dev).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HARNESSES=(cpio elf manifest trace gdb debug)

usage_error() {
    echo "fuzz: $*" >&2
    echo "usage: tools/anvil fuzz cpio|elf|manifest|trace|gdb|debug|all [--seconds S] [--fresh] [-- LIBFUZZER-OPTIONS]" >&2
    exit 2
}

seconds=60 fresh=0 build="$ROOT/build" out="$ROOT/build-fuzz" work="" check_only=0
names=() extra=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --seconds) [[ $# -ge 2 ]] || usage_error "--seconds needs a number"; seconds=$2; shift 2 ;;
    --fresh) fresh=1; shift ;;
    --build) [[ $# -ge 2 ]] || usage_error "--build needs a directory"; build=$2; shift 2 ;;
    --out) [[ $# -ge 2 ]] || usage_error "--out needs a directory"; out=$2; shift 2 ;;
    --work) [[ $# -ge 2 ]] || usage_error "--work needs a directory"; work=$2; shift 2 ;;
    --check-args) check_only=1; shift ;;
    -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    all) names+=("${HARNESSES[@]}"); shift ;;
    cpio|elf|manifest|trace|gdb|debug) names+=("$1"); shift ;;
    -*) usage_error "unknown option '$1'" ;;
    *) usage_error "unknown harness '$1' (cpio, elf, manifest, trace, gdb, debug or all)" ;;
    esac
done
[[ ${#names[@]} -gt 0 ]] || usage_error "name a harness: cpio, elf, manifest, trace, gdb, debug or all"
[[ $seconds =~ ^[0-9]{1,7}$ && $seconds -ge 1 ]] || usage_error "--seconds must be a positive number, got '$seconds'"
[[ $check_only == 0 ]] || exit 0
work=${work:-$out/work}
mkdir -p "$out" "$work" || usage_error "cannot create $out or $work"
out="$(cd "$out" && pwd)"
work="$(cd "$work" && pwd)"

# --- The clang build ---------------------------------------------------------

# Why clang cannot build a libFuzzer program here (empty if it can).
libfuzzer_problem() {
    command -v clang++ >/dev/null || { echo "clang++ is not installed"; return; }
    local probe="$out/libfuzzer-probe"
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }' >"$probe.cpp"
    clang++ -fsanitize=fuzzer,address,undefined "$probe.cpp" -o "$probe" >"$probe.log" 2>&1 ||
        echo "clang++ cannot link a libFuzzer program ($(head -n 1 "$probe.log"))"
}

build_harnesses() {
    if [[ ! -f "$out/build.ninja" ]]; then
        local problem
        problem="$(libfuzzer_problem)"
        if [[ -n $problem ]]; then
            echo "fuzz: SKIP: $problem; install clang and libclang-rt-14-dev (tools/anvil setup does)" >&2
            exit 77
        fi
        CC=clang CXX=clang++ cmake -S "$ROOT/fuzz" -B "$out" -G Ninja >"$out/configure.log" 2>&1 ||
            { cat "$out/configure.log" >&2; echo "fuzz: cmake configure of fuzz/ failed" >&2; exit 1; }
    fi
    cmake --build "$out" >"$out/last-build.log" 2>&1 ||
        { cat "$out/last-build.log" >&2; echo "fuzz: building the harnesses failed" >&2; exit 1; }
}

# Several runs may share one build directory (ctest runs the harnesses in parallel).
exec 9>"$out/.build-lock"
flock 9
build_harnesses
flock -u 9

# --- Seeds: real files from the Anvil build ------------------------------------

need() {
    local f
    for f in "$@"; do
        [[ -f $f ]] || { echo "fuzz: no $f: build Anvil first (tools/anvil build), or pass --build DIR" >&2; exit 2; }
    done
}

# strip_into DIR PROGRAM...: user programs without their symbols (smaller seeds).
strip_into() {
    local dir=$1 p
    shift
    for p in "$@"; do
        objcopy --strip-all "$p" "$dir/$(basename "$p").elf" || exit 1
    done
}

# gdb_seeds DIR: what gdb sends the stub, framed as it sends it: its opening
# (qSupported ... QStartNoAckMode), a session of the packets it uses, one
# packet per file, a session in no-ack mode (a first byte that is odd:
# fuzz/fuzz_gdb.cpp starts that one without acknowledgements), and damaged ones.
gdb_seeds() {
    local dir=$1 p i c sum session="" k=0
    local packets=('qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vContSupported+'
        'vMustReplyEmpty' 'QStartNoAckMode' 'Hg0' 'qXfer:features:read:target.xml:0,ffb' 'qTStatus' '?'
        'qfThreadInfo' 'qsThreadInfo' 'qAttached' 'Hc-1' 'qC' 'qOffsets' 'g' 'p10' 'm400000,40' 'qSymbol::'
        'qThreadExtraInfo,7' 'T7' 'Z0,401000,1' 'z0,401000,1' 'Z1,401000,1' 'vCont?' 'vCont;s:7;c' 'vCont;c'
        'QCatchSyscalls:1;5;a' 'QCatchSyscalls:0' 'QCatchSyscalls:1' 'Z2,401000,4' 'vCont;S05:7;C05' 'C05'
        'S05' 'bs' 'bc' 'Hg7' 's' 'c' 'D' 'k' 'vKill;1')
    for p in "${packets[@]}"; do
        sum=0
        for ((i = 0; i < ${#p}; i++)); do
            printf -v c '%d' "'${p:i:1}"
            sum=$(((sum + c) % 256))
        done
        printf -v p '$%s#%02x' "$p" "$sum"
        printf '\x00%s' "$p" >"$dir/packet-$((k++)).bin"
        session+="$p+"
    done
    printf '\x00+%s' "$session" >"$dir/session.bin"
    printf '\x01%s\x03' "${session//+/}" >"$dir/session-no-ack.bin"
    # What gdb never sends: a bad checksum, a '-', a packet cut short, and one
    # of 20,481 bytes, past the stub's 16 KiB bound: 'a' and 160 x 128 more of
    # it (first byte 2: "\xfe N" repeats, fuzz/fuzz_gdb.cpp), summing to 0x61.
    printf '\x00$qC#00$qC#b4-$H#48$m10#' >"$dir/damaged.bin"
    printf '\x02$a\xfe\xa0#61$qC#b4' >"$dir/too-long.bin"
}

make_seeds() {
    local name=$1 dir=$2 u="$build/userspace" t="$build/tests" k
    rm -rf "$dir" && mkdir -p "$dir"
    case $name in
    elf)
        need "$u/cpl3-probe" "$u/fault-init" "$u/ipc-bench-server" "$u/init"
        strip_into "$dir" "$u/cpl3-probe" "$u/fault-init" "$u/ipc-bench-server" "$u/init"
        # Tiny hand-made programs: one valid, the others wrong in one header field each.
        for k in valid past-eof kernel-half wraps phdrs-past-eof overlap on-stack huge too-many write-only; do
            bash "$ROOT/tests/data/hostile_elf.sh" "$k" "$dir/tiny-$k.elf" || exit 1
        done
        ;;
    cpio)
        need "$u/initramfs-cpl3.cpio" "$u/initramfs-fault-init.cpio" "$build/tools/anvil-mkinitramfs" \
            "$u/init" "$u/nameserver"
        cp "$u/initramfs-cpl3.cpio" "$u/initramfs-fault-init.cpio" "$dir/"
        # A small archive shaped like the default one: init, its manifest, a server.
        strip_into "$dir" "$u/init" "$u/nameserver"
        "$build/tools/anvil-mkinitramfs" "$dir/small-system.cpio" init="$dir/init.elf" \
            services="$ROOT/userspace/init/services" nameserver="$dir/nameserver.elf" >/dev/null || exit 1
        rm -f "$dir/init.elf" "$dir/nameserver.elf"
        # The hostile images the simulator tests boot, where built.
        cp "$t"/initramfs-*.cpio "$dir/" 2>/dev/null
        ;;
    trace)
        need "$build/sim/anvil-sim" "$build/replay/anvil-trace" "$u/initramfs.cpio" "$u/initramfs-cpl3.cpio" \
            "$u/initramfs-fault-init.cpio"
        local sim="$build/sim/anvil-sim"
        # Recordings of short real runs: the demo on 4 and 1 vCPUs, a command
        # line, and inits that fault at once.
        "$sim" --initramfs "$u/initramfs.cpio" --record "$dir/demo.atrace" >/dev/null 2>&1
        "$sim" --initramfs "$u/initramfs.cpio" --cpus 1 --seed 7 --cmdline "trace seed" \
            --record "$dir/demo-1cpu.atrace" >/dev/null 2>&1
        "$sim" --initramfs "$u/initramfs-cpl3.cpio" --record "$dir/cpl3.atrace" >/dev/null 2>&1
        "$sim" --initramfs "$u/initramfs-fault-init.cpio" --record "$dir/fault-init.atrace" >/dev/null 2>&1
        # A run stopped early (--max-slices) still ends with an end record.
        "$sim" --initramfs "$u/initramfs.cpio" --max-slices 40 --record "$dir/stopped.atrace" >/dev/null 2>&1
        for k in demo demo-1cpu cpl3 fault-init stopped; do
            [[ -s "$dir/$k.atrace" ]] || { echo "fuzz: anvil-sim recorded no $k trace for the seeds" >&2; exit 1; }
        done
        # A pack (anvil-trace pack): the smallest trace with its initramfs.
        "$build/replay/anvil-trace" pack "$dir/fault-init.atrace" "$dir/fault-init.apack" \
            --initramfs "$u/initramfs-fault-init.cpio" >/dev/null ||
            { echo "fuzz: anvil-trace could not pack a trace for the seeds" >&2; exit 1; }
        ;;
    manifest)
        # Every manifest the build packs into an initramfs.
        local m
        for m in "$ROOT"/userspace/*/services "$ROOT"/userspace/*/*.services; do
            cp "$m" "$dir/$(basename "$(dirname "$m")")-$(basename "$m")"
        done
        ;;
    gdb) gdb_seeds "$dir" ;;
    debug)
        # The debugger scripts of the tests, and every command of `help`.
        cp "$ROOT"/tests/debug/*.dbg "$dir/"
        printf '%s\n' continue c next n prev p stepi 'si 3' reverse-stepi rsi 'break syscall ipc_call thread 3' \
            'break syscall 0' 'break event 400' 'break fault' break 'delete 1' delete where 'events 3' syscall \
            threads runqueues endpoints 'caps 2' 'vspace 2' 'regs 2' 'mem 0x400000 64' 'disas 400000 4' \
            'thread 2' help quit >"$dir/every-command.dbg"
        ;;
    esac
}

# Longest input each harness tries: room for the seeds, small enough to stay fast.
max_len() {
    case $1 in
    elf) echo 32768 ;;
    cpio | trace | gdb) echo 65536 ;;  # gdb: room for a packet past the stub's 16 KiB bound
    manifest | debug) echo 8192 ;;
    esac
}

# --- Runs ----------------------------------------------------------------------

# The value of libFuzzer's "stat::KEY:" line in LOG (empty if absent).
stat_of() { sed -n "s/^stat::$2: *//p" "$1" | tail -n 1; }

# run NAME: fuzzes NAME for $seconds; 0 if it did not crash.
run() {
    local name=$1 dir="$work/$1" status=0
    local log="$dir/last-run.log"
    make_seeds "$name" "$dir/seeds"
    [[ $fresh == 0 ]] || rm -rf "$dir/corpus"
    mkdir -p "$dir/corpus" "$dir/crashes"
    echo "fuzz: $name: $seconds s from $(find "$dir/seeds" -type f | wc -l) seeds and $(find "$dir/corpus" -type f | wc -l) corpus inputs ($log)"
    # libFuzzer's own exit codes for a crash (77 by default) must not look like a skip.
    "$out/fuzz-$name" -max_total_time="$seconds" -print_final_stats=1 -max_len="$(max_len "$name")" \
        -timeout=10 -rss_limit_mb=2048 -error_exitcode=1 -timeout_exitcode=1 \
        -dict="$ROOT/fuzz/$name.dict" -artifact_prefix="$dir/crashes/" \
        "${extra[@]}" "$dir/corpus" "$dir/seeds" >"$log" 2>&1 || status=$?

    local execs done_line cov ft corp
    execs="$(stat_of "$log" number_of_executed_units)"
    done_line="$(grep -E '^#[0-9]+' "$log" | tail -n 1)"
    cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")"
    ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")"
    corp="$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$done_line")"
    local reproducer
    reproducer="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)"
    if [[ $status -ne 0 || -n $reproducer ]]; then
        # The sanitizer's or the harness's report, then where the input is.
        grep -E -A40 '^==[0-9]+==ERROR|^fuzz: invariant|runtime error|ALARM|out-of-memory' "$log" | head -n 60 >&2
        local summary
        summary="$(sed -n 's/^SUMMARY: //p' "$log" | tail -n 1)"
        echo "fuzz: $name: CRASH after ${execs:-?} executions${summary:+: $summary}" >&2
        if [[ -n $reproducer ]]; then
            echo "fuzz: $name: reproducer: $reproducer" >&2
            echo "fuzz: $name: run it again: $out/fuzz-$name $reproducer" >&2
        else
            echo "fuzz: $name: the harness stopped with status $status and saved no input; see $log" >&2
        fi
        return 1
    fi
    if [[ -z $execs ]]; then
        echo "fuzz: $name: libFuzzer printed no final statistics; see $log" >&2
        return 1
    fi
    echo "fuzz: $name: stat::number_of_executed_units: $execs in $seconds s" \
        "($(stat_of "$log" average_exec_per_sec)/s), coverage ${cov:-?} edges, ${ft:-?} features," \
        "corpus ${corp:-?} inputs, peak RSS $(stat_of "$log" peak_rss_mb) MB; no crash"
}

failed=0
for name in "${names[@]}"; do
    run "$name" || failed=1
done
exit $failed
