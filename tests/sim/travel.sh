#!/usr/bin/env bash
# Traces travel (docs/replay.md, "Traces from elsewhere"; docs/trace-format.md,
# "Packs"):
#  - anvil-trace pack bundles a recorded trace with its initramfs; anvil-sim
#    --replay and anvil-debug --trace take the pack with no initramfs given
#    and replay it identically; anvil-trace reads it as the trace;
#  - a trace whose header names another Unicorn version is refused before the
#    run (exit 2, both versions named), by the replay and by the debugger;
#  - malformed packs are refused naming the problem (exit 2); pack refuses a
#    trace whose initramfs it cannot find, a pack, its own trace as output, and
#    writes nothing then;
#  - a QEMU trace is packed with the kernel ELF, only if it is this build's.
#
# usage: travel.sh SIM TOOL DEBUG INITRAMFS KERNEL DIR
set -uo pipefail

[[ $# -eq 6 ]] || { echo "usage: $0 SIM TOOL DEBUG INITRAMFS KERNEL DIR" >&2; exit 2; }
sim=$1 tool=$2 debug=$3 initramfs=$4 kernel=$5 dir=$6
fail() { echo "FAIL: $*" >&2; exit 1; }
checks=0
pass() { checks=$((checks + 1)); echo "ok: $*"; }

# run NAME CMD...: runs CMD; sets out (stdout and stderr) and code.
run() {
    local name=$1
    shift
    "$@" >"$dir/$name.log" 2>&1
    code=$?
    out=$(cat "$dir/$name.log")
}
# expect CODE TEXT WHAT: the last run exited CODE and said TEXT (a fixed string).
expect() {
    [[ $code == "$1" ]] || fail "$3: exit $code, not $1:
$out"
    grep -qF -- "$2" <<<"$out" || fail "$3: no '$2' in:
$out"
    pass "$3"
}
# Overwrites the byte at OFFSET of FILE with its inverse.
flip() {
    local file=$1 at=$2 byte
    byte=$(od -An -tu1 -j "$at" -N 1 "$file" | tr -d ' ')
    printf "\\$(printf '%03o' $((byte ^ 255)))" | dd of="$file" bs=1 seek="$at" conv=notrunc status=none
}

rm -rf "$dir"
mkdir -p "$dir/archives" "$dir/empty"
cp "$initramfs" "$dir/archives/"
trace="$dir/run.atrace"
"$sim" --initramfs "$initramfs" --seed 3 --record "$trace" >/dev/null 2>"$dir/record.log" ||
    fail "recording the default workload failed: $(cat "$dir/record.log")"

# Packed, it replays and debugs with no initramfs given or searched.
run pack "$tool" pack "$trace" "$dir/run.apack" --initramfs-search "$dir/empty" --initramfs-search "$dir/archives"
expect 0 "packed into $dir/run.apack with its initramfs" "anvil-trace pack finds the initramfs by hash and packs it"
[[ -f $dir/run.apack && ! -e $dir/run.apack.partial ]] || fail "no pack written (or a partial one left)"
rm "$dir/archives/"*
run replay "$sim" --replay "$dir/run.apack"
expect 0 "replay identical: every record of $dir/run.apack matched" "anvil-sim --replay PACK replays identically"
printf 'continue\nquit\n' >"$dir/session.dbg"
run debug "$debug" --trace "$dir/run.apack" --script "$dir/session.dbg"
expect 0 "the run has ended" "anvil-debug --trace PACK runs the recorded run to its end"
"$tool" dump "$trace" | tail -n +2 >"$dir/dump.trace"
"$tool" dump "$dir/run.apack" | tail -n +2 >"$dir/dump.pack"
[[ -s $dir/dump.trace ]] && cmp -s "$dir/dump.trace" "$dir/dump.pack" ||
    fail "anvil-trace dump of the pack differs from the trace's"
pass "anvil-trace dump reads the pack as its trace"

# Another Unicorn version in the header: refused before the run, both named.
other="$dir/other-unicorn.atrace"
cp "$trace" "$other"
flip "$other" 82  # unicorn_version's minor number (header offset 80, little-endian)
run unicorn-replay "$sim" --replay "$other" --initramfs "$initramfs"
expect 2 "the trace was recorded with Unicorn" "replay refuses a trace of another Unicorn version"
grep -qF "and this simulator runs Unicorn" <<<"$out" || fail "the refusal does not name the running version: $out"
[[ $(grep -c . <<<"$out") == 1 ]] || fail "the refusal is not one line before anything else: $out"
run unicorn-debug "$debug" --trace "$other" --initramfs "$initramfs" --script "$dir/session.dbg"
expect 2 "the trace was recorded with Unicorn" "anvil-debug refuses a trace of another Unicorn version"
run unicorn-dump "$tool" stats "$other"
expect 0 "Unicorn" "anvil-trace reads a trace of another Unicorn version and names it"

# Malformed packs: refused, naming the problem.
size=$(stat -c %s "$dir/run.apack")
cp "$dir/run.apack" "$dir/flipped.apack"
flip "$dir/flipped.apack" $((size - 100))  # inside the initramfs, the last member
run flipped "$sim" --replay "$dir/flipped.apack"
expect 2 "corrupt pack: the initramfs at byte" "a changed byte in the pack's initramfs is refused"
head -c $((size - 1)) "$dir/run.apack" >"$dir/short.apack"
run short "$sim" --replay "$dir/short.apack"
expect 2 "truncated pack: the initramfs at byte" "a pack cut short is refused"
run short-debug "$debug" --trace "$dir/short.apack" --script "$dir/session.dbg"
expect 2 "truncated pack" "anvil-debug refuses a pack cut short"
run short-dump "$tool" dump "$dir/short.apack"
expect 2 "truncated pack" "anvil-trace refuses a pack cut short (exit 2)"
cp "$dir/run.apack" "$dir/version.apack"
printf '\007' | dd of="$dir/version.apack" bs=1 seek=8 conv=notrunc status=none
run version "$sim" --replay "$dir/version.apack"
expect 2 "pack format version 7 is not supported" "another pack version is refused"

# What pack refuses, writing nothing.
run no-initramfs "$tool" pack "$trace" "$dir/none.apack" --initramfs-search "$dir/empty"
expect 2 "no initramfs with the trace's hash" "pack without the trace's initramfs is refused"
[[ ! -e $dir/none.apack ]] || fail "a refused pack left $dir/none.apack"
run repack "$tool" pack "$dir/run.apack" "$dir/twice.apack" --initramfs "$initramfs"
expect 2 "is a pack already" "a pack of a pack is refused"
cp "$trace" "$dir/self.atrace"
run self "$tool" pack "$dir/self.atrace" "$dir/self.atrace" --initramfs "$initramfs"
expect 2 "would overwrite its own trace" "pack refuses to write over its trace"
cmp -s "$trace" "$dir/self.atrace" || fail "pack changed the trace it refused to overwrite"

# A QEMU trace (this one's backend set to 2) is packed with this build's kernel.
qemu="$dir/qemu.atrace"
cp "$trace" "$qemu"
printf '\002' | dd of="$qemu" bs=1 seek=12 conv=notrunc status=none
run qemu-nokernel "$tool" pack "$qemu" "$dir/qemu.apack" --initramfs "$initramfs"
expect 2 "is a QEMU trace: give --kernel" "a QEMU trace without --kernel is refused"
run qemu-pack "$tool" pack "$qemu" "$dir/qemu.apack" --initramfs "$initramfs" --kernel "$kernel"
expect 0 "and kernel ELF (" "a QEMU trace is packed with the kernel ELF"
run qemu-stats "$tool" stats "$dir/qemu.apack"
expect 0 "backend qemu" "anvil-trace reads the QEMU pack"
other_build="$dir/qemu-other-build.atrace"
cp "$qemu" "$other_build"
flip "$other_build" 16
run qemu-build "$tool" pack "$other_build" "$dir/qemu2.apack" --initramfs "$initramfs" --kernel "$kernel"
expect 2 "not the kernel that ran" "a QEMU trace of another kernel build is not packed with this kernel"
[[ ! -e $dir/qemu2.apack ]] || fail "a refused pack left $dir/qemu2.apack"

echo "traces travel: $checks checks passed"
