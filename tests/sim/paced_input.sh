#!/usr/bin/env bash
# Paced serial input (anvil-sim --serial-gap N, docs/reliability.md): bad
# values are refused with exit 2; --serial-gap 0 records the same trace, byte
# for byte, as no option; with a gap the IO tests pass, the IO server blocks
# on COM1's interrupt and is woken by it, the gap is in the trace and the run
# replays identically; a gap longer than the run still ends (a byte arrives
# at once when nothing can run); with irq-drop the IO server's timed wait
# recovers from a lost edge and the run passes and replays identically; input
# that never ends a line ends the run idle after 100 polls.
#   paced_input.sh SOURCE_DIR BUILD_DIR SCRATCH_DIR
set -uo pipefail
[[ $# -eq 3 ]] || { echo "usage: $0 SOURCE_DIR BUILD_DIR SCRATCH_DIR" >&2; exit 2; }
src=$1 build=$2 dir=$3
sim=$build/sim/anvil-sim
trace_tool=$build/replay/anvil-trace
tests=$build/userspace/initramfs-tests.cpio
rm -rf "$dir" && mkdir -p "$dir" || exit 1
io=(--initramfs "$tests" --serial-input "$src/tests/data/serial-input.txt" --cmdline "tests=io.*")
failures=0
fail() {
    echo "FAILED: $*"
    ((failures++))
}

help=$("$sim" --help) && [[ $help == *"--serial-gap SLICES"* ]] || fail "anvil-sim --help does not list --serial-gap"

# Bad values: exit 2, a message naming the option, no run.
while IFS='|' read -r args says; do
    read -ra words <<<"$args"
    err=$("$sim" "${io[@]}" "${words[@]}" 2>&1 >"$dir/bad.out")
    code=$?
    [[ $code == 2 ]] || fail "'$args' exited $code, not 2"
    [[ $err == *"$says"* ]] || fail "'$args' said '$err', not '$says'"
    [[ ! -s $dir/bad.out ]] || fail "'$args' ran the machine"
done <<'EOF'
--serial-gap -1|--serial-gap: "-1" is not a number of slices from 0 to 1000000
--serial-gap x|--serial-gap: "x" is not a number of slices from 0 to 1000000
--serial-gap 1000001|--serial-gap: "1000001" is not a number of slices from 0 to 1000000
--faults serial-gap=5|serial-gap is not a fault: give --serial-gap N
EOF

# Blocked notify_waits a COM1 interrupt (line 4) ended, in trace $1.
irq_waits() {
    "$trace_tool" dump "$1" | awk '
        { t = ""; for (i = 3; i <= NF; i++) if ($i ~ /^thread=/) t = substr($i, 8) }
        $2 == "syscall" && / notify_wait(_timeout)? / { waiting[t] = 1; irq[t] = 0 }
        $2 == "sysret" { waiting[t] = 0 }  # it returned without blocking
        $2 == "irq" && / line=4$/ { for (w in waiting) if (waiting[w]) irq[w] = 1 }
        $2 == "wake" { if (waiting[t] && irq[t]) n++; waiting[t] = 0 }
        END { print n + 0 }'
}

# --serial-gap 0 is the unpaced run: the same trace, byte for byte.
"$sim" "${io[@]}" --record "$dir/plain.atrace" >/dev/null 2>&1 || fail "the unpaced run failed"
"$sim" "${io[@]}" --serial-gap 0 --record "$dir/gap0.atrace" >/dev/null 2>&1 || fail "the --serial-gap 0 run failed"
cmp -s "$dir/plain.atrace" "$dir/gap0.atrace" || fail "--serial-gap 0 recorded another trace than no option"
[[ $(irq_waits "$dir/plain.atrace") == 0 ]] || fail "the unpaced run already waited on COM1's interrupt"

# Paced: the tests pass, the IO server waits on its interrupt, the gap is
# recorded and the replay is identical without being told it.
"$sim" "${io[@]}" --serial-gap 40 --record "$dir/gap40.atrace" >"$dir/gap40.log" 2>&1
code=$?
[[ $code == 0 ]] || fail "the paced run exited $code (log: $dir/gap40.log)"
grep -q "test io.read_line ... ok" "$dir/gap40.log" || fail "io.read_line did not pass with paced input"
waits=$(irq_waits "$dir/gap40.atrace")
((waits >= 1)) || fail "the IO server never waited on COM1's interrupt with paced input"
"$trace_tool" dump "$dir/gap40.atrace" --kind faults | grep -q '"serial-gap=40"' ||
    fail "the trace does not record the gap"
stats=$("$trace_tool" stats "$dir/gap40.atrace") && [[ $stats == *$'\nfaults and input pacing: serial-gap=40\n'* ]] ||
    fail "anvil-trace stats does not show the gap"
"$sim" --replay "$dir/gap40.atrace" --initramfs "$tests" >"$dir/gap40.replay" 2>&1 &&
    grep -q "replay identical" "$dir/gap40.replay" || fail "the paced run does not replay: $(tail -2 "$dir/gap40.replay")"

# A gap longer than the run: each byte comes when nothing else can run.
"$sim" "${io[@]}" --serial-gap 1000000 >"$dir/long.log" 2>&1 || fail "the run with a gap of 1000000 slices failed"

# irq-drop with paced input: a lost edge while the IO server waits no longer
# wedges it (it waits for at most INPUT_POLL_TICKS, then drains COM1 again):
# the run passes, some wait ended TIMED_OUT, and the trace replays identically.
"$sim" "${io[@]}" --serial-gap 40 --faults irq-drop=50 --seed 1 --record "$dir/drop.atrace" >"$dir/drop.log" 2>&1
code=$?
[[ $code == 0 ]] || fail "the paced run with irq-drop=50, seed 1, exited $code, not 0 (log: $dir/drop.log)"
"$trace_tool" dump "$dir/drop.atrace" --kind inject | grep -q "inject what=3 a=4" || fail "no dropped IRQ 4 edge recorded"
timeouts=$("$trace_tool" dump "$dir/drop.atrace" --kind wake | grep -c "TIMED_OUT")
((timeouts >= 1)) || fail "no input wait of the IO server timed out after a dropped edge"
"$sim" --replay "$dir/drop.atrace" --initramfs "$tests" >"$dir/drop.replay" 2>&1 &&
    grep -q "replay identical" "$dir/drop.replay" ||
    fail "the irq-drop run does not replay identically: $(tail -2 "$dir/drop.replay")"

# Input that never ends a line: the IO server polls on its timeout, the
# simulator takes the ticks to each deadline while nothing else can run, and
# after 100 such advances with no input the run ends idle (exit 122), saying
# so, and replays to the same end.
printf 'no newline' >"$dir/no-newline.txt"
"$sim" --initramfs "$tests" --serial-input "$dir/no-newline.txt" --cmdline "tests=io.read_line" \
    --record "$dir/poll.atrace" >"$dir/poll.log" 2>&1
code=$?
[[ $code == 122 ]] || fail "a read that input never ends exited $code, not 122 (log: $dir/poll.log)"
grep -q "the last 100 deadlines passed with no input and no interrupt" "$dir/poll.log" ||
    fail "the idle run does not say that the deadlines passed with nothing coming: $(tail -1 "$dir/poll.log")"
polls=$("$trace_tool" dump "$dir/poll.atrace" --kind wake | grep -c "TIMED_OUT")
[[ $polls == 100 ]] || fail "the IO server's input wait timed out $polls times, not 100"
"$sim" --replay "$dir/poll.atrace" --initramfs "$tests" >"$dir/poll.replay" 2>&1 &&
    grep -q "replay identical: .*(the run exited 122)" "$dir/poll.replay" ||
    fail "the polling run does not replay to the same end: $(tail -2 "$dir/poll.replay")"

((failures == 0)) && echo "paced serial input: every check passed ($waits interrupt waits in the paced run)"
exit $((failures > 0))
