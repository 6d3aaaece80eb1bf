#!/usr/bin/env bash
# tools/anvil's command line, run in a scratch tree: a copy of tools/ beside
# fake build directories (build/, build-asan/, build-fuzz/) and traces kept by
# sweeps (sweeps/ and an older sweep's build/sweep/). Every program tools/anvil
# could start to install, configure, build or boot is a stub first on PATH that
# logs its call, so a check can tell that nothing was started.
#   anvil_cli.sh TOOLS_DIR WORK_DIR help|bad-args|clean|progress
# help      every command's --help and -h (and after other arguments): exit 0,
#           the command's help on stdout, nothing started, the tree unchanged;
#           the same for the scripts it runs (sweep.sh, fuzz.sh, qemu-run.sh,
#           bench.sh, follow-bench.sh)
# bad-args  bad arguments to each command: exit 2 and one `anvil:` (or
#           `sweep:`/`fuzz:`) line, nothing started, the tree unchanged; the
#           scripts exit 2 for bad arguments too
# clean     clean names what it deletes and keeps the sweeps' traces;
#           clean --sweeps deletes them too
# progress  a build before `run` shows its progress on stderr, a no-op build
#           stays quiet, a failed build prints its log; the run's stdout is the
#           simulator's alone
set -uo pipefail
[[ $# -eq 3 ]] || { echo "usage: $0 TOOLS_DIR WORK_DIR help|bad-args|clean|progress" >&2; exit 2; }
tools=$1 work=$2 mode=$3
checks=0

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
pass() { checks=$((checks + 1)); }

rm -rf "$work"
mkdir -p "$work/bin"
tree="$work/tree"
mkdir -p "$tree/build/sim" "$tree/build/userspace" "$tree/build/sweep" "$tree/build-asan/tests" \
    "$tree/build-fuzz/work/cpio/corpus" "$tree/sweeps"
cp -r "$tools" "$tree/tools"
echo "object" >"$tree/build/sim/main.cpp.o"
echo "archive" >"$tree/build/userspace/initramfs.cpio"
echo "asan" >"$tree/build-asan/tests/anvil-unit-tests"
echo "input" >"$tree/build-fuzz/work/cpio/corpus/a1"
echo "an older sweep's trace" >"$tree/build/sweep/seed-3.atrace"
echo "a sweep's trace" >"$tree/sweeps/seed-7.atrace"
echo "its console" >"$tree/sweeps/seed-7.log"

calls="$work/calls.log"
: >"$calls"
for p in cmake ninja ctest dpkg-query apt-get sudo qemu-system-x86_64 clang clang++ grub-mkrescue xorriso gdb; do
    printf '#!/bin/sh\necho "%s $*" >>"%s"\nexit 1\n' "$p" "$calls" >"$work/bin/$p"
    chmod +x "$work/bin/$p"
done
anvil=("env" "PATH=$work/bin:$PATH" "$tree/tools/anvil")

# Every file and directory of the tree with its type, size, mode and checksum.
snapshot() {
    (cd "$tree" && find . -printf '%y %m %s %p\n' | sort && find . -type f -exec sha256sum {} + | sort -k2)
}

# run NAME ARGS...: runs tools/anvil; sets out, err, code.
run() {
    local name=$1
    shift
    "${anvil[@]}" "$@" >"$work/$name.out" 2>"$work/$name.err"
    code=$?
    out=$(cat "$work/$name.out")
    err=$(cat "$work/$name.err")
}

# Nothing was started and nothing in the tree changed.
untouched() {
    local what=$1
    [[ ! -s $calls ]] || fail "$what started: $(cat "$calls")"
    local now
    now=$(snapshot)
    [[ "$now" == "$before" ]] || fail "$what changed the scratch tree:
$(diff <(echo "$before") <(echo "$now"))"
}

# Runs tools/anvil once per line on stdin (its arguments, split at spaces):
# each must exit $1, pass expect_$2, start nothing and leave the tree as it was.
check_each() {
    local want=$1 kind=$2 line
    while IFS= read -r line; do
        read -r -a args <<<"$line"
        run case "${args[@]}"
        [[ $code == "$want" ]] || fail "tools/anvil $line exited $code, not $want: $out$err"
        "expect_$kind" "$line"
        untouched "tools/anvil $line"
        pass
    done
}
# script_case CODE SCRIPT ARGS...: a script of tools/ run directly must exit
# CODE, start nothing and leave the tree as it was.
script_case() {
    local want=$1 script=$2
    shift 2
    env "PATH=$work/bin:$PATH" "$tree/tools/$script" "$@" >"$work/script.out" 2>"$work/script.err"
    code=$?
    out=$(cat "$work/script.out")
    err=$(cat "$work/script.err")
    [[ $code == "$want" ]] || fail "tools/$script $* exited $code, not $want: $out$err"
    untouched "tools/$script $*"
    pass
}

# The help of the command named first.
expect_help() { grep -qE "^  ${args[0]}( |$)" <<<"$out" || fail "tools/anvil $1 printed no help for ${args[0]}: $out$err"; }
# A message from tools/anvil (or the sweep or fuzz script it checks arguments with).
expect_message() { grep -qE "^(anvil|sweep|fuzz|follow-bench|bugs-bench): " <<<"$err" || fail "tools/anvil $1 gave no anvil: message: $err"; }

case $mode in
help)
    before=$(snapshot)
    # Every command's --help and -h, and help after other arguments (even
    # wrong ones, or the command's own).
    check_each 0 help < <(
        for cmd in run replay shrink debug gdb test qemu sweep trace fuzz bench build setup clean help; do
            echo "$cmd --help"
            echo "$cmd -h"
        done
        cat <<'CASES'
replay sweeps/seed-7.atrace --seed 5 --help
run --tests ipc.* -h
sweep --seeds 1..3 --workload race --help
sweep --seeds nonsense -h
fuzz cpio --seconds 5 --help
trace dump x.atrace --help
trace pack sweeps/seed-7.atrace out.apack --help
trace pack -h
clean --sweeps --help
clean -h --sweeps
test -R unit/ --help
test --debian 13 --help
test --debian 13 --fresh -h
debug --gdb 1234 --program tally -h
gdb --program tally --help -- -batch
qemu --smp 2 --help
bench -h
bench follow --help
bench follow --runs 3 --smp 1,2 -h
bench follow --cost -h
bench bugs --runs 5 --help
shrink sweeps/seed-7.atrace --out x.atrace -h
sweep --seeds 1..3 --schedule pct --pct-depth 2 --help
CASES
    )
    run help help run
    [[ $code == 0 && "$out" == "  run "* && "$out" != *"  replay "* ]] || fail "tools/anvil help run: exit $code: $out"
    untouched "tools/anvil help run"
    pass
    # The scripts tools/anvil runs answer --help themselves, with their exit statuses.
    for script in sweep.sh fuzz.sh qemu-run.sh bench.sh follow-bench.sh bugs-bench.sh debian-check.sh; do
        for flag in --help -h; do
            script_case 0 "$script" "$flag"
            grep -q "exit" <<<"$out" || fail "tools/$script $flag printed no help: $out$err"
        done
    done
    script_case 0 sweep.sh --seeds 1..2 --help
    # The whole usage: `tools/anvil`, help, -h and --help.
    for flag in "" help -h --help; do
        run help $flag
        [[ $code == 0 ]] || fail "tools/anvil $flag exited $code"
        for cmd in run replay shrink debug gdb test qemu sweep trace fuzz bench build setup clean help; do
            grep -qE "^  $cmd( |,|$)" <<<"$out" || fail "tools/anvil $flag does not list $cmd"
        done
        untouched "tools/anvil $flag"
        pass
    done
    ;;
bad-args)
    before=$(snapshot)
    check_each 2 message <<'CASES'
run --tests
run --cmdline
replay
replay --seed 5
replay no-such.atrace
debug --gdb port
debug --program tally
debug --trace no-such.atrace
debug --initramfs no-such.cpio
gdb --gdb 1234
gdb --trace no-such.atrace
qemu --smp 0
qemu --timeout soon
qemu --frobnicate
sweep
sweep --seeds 5..1
sweep --seeds 1..3 --workload nope
trace
trace frobnicate x.atrace
trace pack
trace pack sweeps/seed-7.atrace
trace pack --initramfs x.cpio sweeps/seed-7.atrace
trace pack no-such.atrace out.apack
fuzz
fuzz nope
fuzz cpio --seconds 0
bench now
bench follow --runs 0
bench follow --smp four
bench follow --timeout
bench follow --frobnicate
bench bugs --runs 0
bench bugs --bugs nope
bench bugs --frobnicate
shrink
shrink no-such.atrace
shrink --out x.atrace
shrink sweeps/seed-7.atrace --reach far
shrink sweeps/seed-7.atrace --step
sweep --seeds 1..3 --schedule fair
sweep --seeds 1..3 --pct-depth 2
sweep --seeds 1..3 --schedule pct --pct-depth 0
build everything
setup please
clean --all
test --debian
test --debian 14
help nosuchcommand
nosuchcommand
CASES
    script_case 2 sweep.sh --frobnicate
    script_case 2 fuzz.sh --frobnicate
    script_case 2 debian-check.sh
    script_case 2 debian-check.sh --release 11
    script_case 2 qemu-run.sh
    script_case 2 qemu-run.sh no-such.iso
    script_case 2 qemu-run.sh no-such.iso --smp many
    script_case 2 bench.sh
    script_case 2 bench.sh no-such-build-dir
    script_case 2 follow-bench.sh
    script_case 2 follow-bench.sh --build
    script_case 2 follow-bench.sh --runs many
    script_case 2 bugs-bench.sh
    script_case 2 bugs-bench.sh --runs many
    ANVIL_PRESET=weird "${anvil[@]}" run >"$work/preset.out" 2>"$work/preset.err"
    code=$?
    [[ $code == 2 ]] || fail "ANVIL_PRESET=weird tools/anvil run exited $code, not 2"
    grep -q "ANVIL_PRESET" "$work/preset.err" || fail "ANVIL_PRESET=weird: the message does not name it"
    untouched "ANVIL_PRESET=weird tools/anvil run"
    pass
    ;;
clean)
    sweep_files=$(cd "$tree" && sha256sum build/sweep/seed-3.atrace sweeps/seed-7.atrace sweeps/seed-7.log)
    run clean clean
    [[ $code == 0 ]] || fail "tools/anvil clean exited $code: $err"
    [[ ! -e $tree/build-asan && ! -e $tree/build-fuzz ]] || fail "clean left build-asan/ or build-fuzz/"
    [[ ! -e $tree/build/sim && ! -e $tree/build/userspace ]] || fail "clean left build/'s build output"
    [[ "$(cd "$tree" && sha256sum build/sweep/seed-3.atrace sweeps/seed-7.atrace sweeps/seed-7.log 2>&1)" == "$sweep_files" ]] ||
        fail "clean deleted or changed traces kept by sweeps"
    for said in "deleting build/ but for build/sweep/" "deleting build-asan/" "deleting build-fuzz/" "keeping sweeps/"; do
        grep -qF "$said" <<<"$out" || fail "clean did not say '$said': $out"
    done
    [[ ! -s $calls ]] || fail "clean started: $(cat "$calls")"
    pass
    run clean-again clean
    [[ $code == 0 && "$out" != *"deleting build-asan/"* ]] || fail "a second clean: exit $code, said: $out"
    pass
    run sweeps clean --sweeps
    [[ $code == 0 ]] || fail "tools/anvil clean --sweeps exited $code: $err"
    [[ ! -e $tree/build && ! -e $tree/sweeps ]] || fail "clean --sweeps left build/ or sweeps/"
    grep -qF "deleting sweeps/ (2 files kept by sweeps)" <<<"$out" || fail "clean --sweeps did not say so: $out"
    pass
    ;;
progress)
    # A build (the cmake stub prints what ninja would) and a simulator stub
    # that prints one line on each stream.
    touch "$tree/build/build.ninja"
    printf '#!/bin/sh\necho "console: hello"\necho "anvil-sim: stderr line" >&2\nexit 3\n' >"$tree/build/sim/anvil-sim"
    chmod +x "$tree/build/sim/anvil-sim"
    # Every package installed, in the format tools/anvil asks for (one line each).
    printf '#!/bin/sh\nshift 2\nfor p; do echo "$p install ok installed"; done\n' >"$work/bin/dpkg-query"
    cat >"$work/bin/cmake" <<'STUB'
#!/bin/sh
case $STUB_BUILD in
steps) echo "[0/2] Re-running CMake..."; i=1; while [ $i -le 20 ]; do echo "[$i/20] Building CXX object step$i.o"; i=$((i + 1)); done ;;
noop) echo "[0/2] Re-checking globbed directories..."; echo "ninja: no work to do." ;;
fail) echo "[1/2] Building CXX object a.o"; echo "FAILED: a.o"; echo "a.cpp:1: error: oops"; exit 1 ;;
esac
STUB
    chmod +x "$work/bin/cmake"
    STUB_BUILD=steps run steps run --seed 3
    [[ $code == 3 ]] || fail "run after a build exited $code, not the simulator's 3: $err"
    [[ "$out" == "console: hello" ]] || fail "run's stdout is not the simulator's alone: '$out'"
    grep -qF "anvil: building build/ (log: build/last-build.log)" <<<"$err" ||
        fail "the build did not say it started: $err"
    grep -qF "anvil: building build/: 20 of 20 steps done" <<<"$err" || fail "the build showed no progress: $err"
    [[ $(grep -c "steps done" <<<"$err") -le 10 ]] || fail "more than ten progress lines: $err"
    grep -q "^\[20/20\] Building CXX object step20.o$" "$tree/build/last-build.log" || fail "no build log"
    pass
    STUB_BUILD=noop run noop run
    [[ $code == 3 && "$out" == "console: hello" ]] || fail "run after a no-op build: exit $code, stdout '$out'"
    [[ "$err" == "anvil-sim: stderr line" ]] || fail "a no-op build was not quiet: '$err'"
    pass
    STUB_BUILD=fail run failed run
    [[ $code == 1 ]] || fail "run after a failed build exited $code, not 1"
    [[ -z "$out" ]] || fail "run after a failed build printed on stdout: $out"
    grep -qF "a.cpp:1: error: oops" <<<"$err" || fail "a failed build did not print its log: $err"
    grep -qF "anvil: the build of build/ failed" <<<"$err" || fail "a failed build did not say so: $err"
    [[ "$err" != *"stderr line"* ]] || fail "the simulator ran after a failed build"
    pass
    ;;
*) fail "unknown mode '$mode'" ;;
esac
((checks > 0)) || fail "no check ran"
echo "tools/anvil $mode: $checks checks passed"
