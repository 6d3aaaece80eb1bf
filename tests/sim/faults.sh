#!/usr/bin/env bash
# Fault injection (anvil-sim --faults, docs/reliability.md): bad specs are
# refused with exit 2 and a message naming the item; a run with each kind of
# fault records a faults record and at least one inject record of that kind,
# and replays to the same end without being told the spec; a killed service
# is restarted by init and its clients finish; a killed IO server's input is
# kept for the next instance, and a write it died in appears once; a sweep
# with --faults keeps each failing seed's trace, and each replays exactly.
#   faults.sh SOURCE_DIR BUILD_DIR SCRATCH_DIR
set -uo pipefail
[[ $# -eq 3 ]] || { echo "usage: $0 SOURCE_DIR BUILD_DIR SCRATCH_DIR" >&2; exit 2; }
src=$1 build=$2 dir=$3
sim=$build/sim/anvil-sim
trace_tool=$build/replay/anvil-trace
demo=$build/userspace/initramfs.cpio
tests=$build/userspace/initramfs-tests.cpio
input=$src/tests/data/serial-input.txt
rm -rf "$dir" && mkdir -p "$dir" || exit 1
failures=0
fail() {
    echo "FAILED: $*"
    ((failures++))
}

# Bad specs: exit 2, one message naming the item, no run.
while IFS='|' read -r spec says; do
    err=$("$sim" --initramfs "$demo" --faults "$spec" 2>&1 >"$dir/bad.out")
    code=$?
    [[ $code == 2 ]] || fail "--faults '$spec' exited $code, not 2"
    [[ $err == *"$says"* ]] || fail "--faults '$spec' said '$err', not '$says'"
    [[ ! -s $dir/bad.out ]] || fail "--faults '$spec' ran the machine"
done <<'EOF'
bogus|bad item 'bogus': unknown fault
irq-drop=0|bad item 'irq-drop=0': the probability must be a whole percentage from 1 to 100
irq-drop=101|bad item 'irq-drop=101'
irq-delay=5|bad item 'irq-delay=5': irq-delay takes P:D
alloc-fail=0|bad item 'alloc-fail=0'
alloc-fail=9..3|bad item 'alloc-fail=9..3'
kill=|bad item 'kill=': kill needs a service name
kill=ioserver@x|bad item 'kill=ioserver@x'
uart-drop=5,uart-drop=6|bad item 'uart-drop=6': given twice
kill=nosuch|kill=nosuch: no such service in the initramfs's manifest (it has nameserver, ioserver, echo, demo)
EOF

# One run per kind, recorded: the resolved spec and the faults made are in the
# trace, and the replay is identical.
check_kind() {  # NAME WHAT INITRAMFS EXPECTED-EXIT SIM-ARGS...
    local name=$1 what=$2 initramfs=$3 expect=$4
    shift 4
    local t=$dir/$name.atrace
    "$sim" --initramfs "$initramfs" --record "$t" "$@" >"$dir/$name.log" 2>&1
    local code=$?
    [[ $code == "$expect" ]] || fail "$name: the run exited $code, not $expect (log: $dir/$name.log)"
    "$trace_tool" dump "$t" --kind faults,inject >"$dir/$name.dump" 2>&1
    grep -q '^#[0-9]* faults ' "$dir/$name.dump" || fail "$name: no faults record in the trace"
    grep -q "inject what=$what " "$dir/$name.dump" || fail "$name: no inject record of kind $what"
    "$sim" --replay "$t" --initramfs "$initramfs" >"$dir/$name.replay" 2>&1
    code=$?
    [[ $code == 0 ]] && grep -q "replay identical" "$dir/$name.replay" ||
        fail "$name: the replay exited $code: $(tail -3 "$dir/$name.replay")"
}
io=(--serial-input "$input" --cmdline "tests=io.*")
check_kind kill 1 "$demo" 0 --faults kill=ioserver@5
check_kind alloc 2 "$demo" 0 --faults alloc-fail=150
check_kind irq-drop 3 "$tests" 0 "${io[@]}" --faults irq-drop=50
check_kind irq-delay 4 "$tests" 0 "${io[@]}" --faults irq-delay=50:20
check_kind uart-drop 5 "$tests" 1 "${io[@]}" --faults uart-drop=20
check_kind uart-corrupt 6 "$tests" 1 "${io[@]}" --faults uart-corrupt=20

# A replay takes the faults from the trace: --faults given to it is ignored, with a warning.
"$sim" --replay "$dir/kill.atrace" --initramfs "$demo" --faults irq-drop=5 >"$dir/ignored.log" 2>&1 ||
    fail "a replay given --faults did not replay identically"
grep -q "warning: ignoring --faults" "$dir/ignored.log" || fail "a replay given --faults did not warn"

# The killed IO server (killed during start-up, before init supervises) is
# restarted and the demo, its client, finishes.
grep -q "init: restarting ioserver (1 of 3)" "$dir/kill.log" || fail "init did not restart the killed IO server"
grep -q "demo: done" "$dir/kill.log" || fail "the demo did not finish after the IO server was killed"
# The first kill of the IO server, @1..MAX, whose run of TESTS logs a line
# matching PATTERN: kill_at (empty if none) and that run's exit, kill_code.
first_kill() {  # TESTS LOG PATTERN MAX
    kill_at= kill_code=
    local n
    for n in $(seq 1 "$4"); do
        "$sim" --initramfs "$tests" --serial-input "$input" --cmdline "tests=$1" \
            --faults "kill=ioserver@$n" >"$2" 2>&1
        kill_code=$?
        grep -q "$3" "$2" && { kill_at=$n; return; }
    done
}
# Input the IO server drained survives its death: init keeps the buffer
# (docs/userspace.md). The first kill point at which the restarted server
# finds input kept comes after a drain and before the first read (the
# requests in between are printf's writes, which the stdio sink retries), so
# that run must read both lines. Without the kept buffer no kill point keeps
# any input, and the read waited forever (exit 122).
first_kill io.read_line_args,io.read_line "$dir/kept.log" "^ioserver: [0-9]* byte(s) of input kept from before" 40
kept_at=$kill_at code=$kill_code
if [[ -z $kept_at ]]; then
    fail "no kill of the IO server (@1 to @40) left input for the restarted server"
else
    grep -q "^ioserver: 31 byte(s) of input kept from before" "$dir/kept.log" ||
        fail "kill=ioserver@$kept_at: the restarted server did not find both lines (31 bytes): $(grep 'kept from' "$dir/kept.log")"
    [[ $code == 0 ]] && grep -q "test io.read_line ... ok" "$dir/kept.log" ||
        fail "kill=ioserver@$kept_at: the restarted IO server did not hand out both lines (exit $code, log: $dir/kept.log)"
fi
# A request the IO server dies serving is done once (docs/userspace.md, "IO
# server"): libanvil sends it again with the same number, and the restarted
# server goes on with a write after the bytes already output. The first kill
# point that lands inside a write (the restarted server says so) must leave
# io.write passing and each of its long writes on the console exactly once and
# whole: without the kept count a write starts again (its head twice), and a
# byte output twice or lost changes the length. The console lines the kill
# adds (the kernel's, init's, the new server's) are taken out first.
first_kill io.write "$dir/cut.log" "^ioserver: client [0-9]*'s request 0x[0-9a-f]* stopped after [0-9]* byte(s)" 60
cut_at=$kill_at code=$kill_code
if [[ -z $cut_at ]]; then
    fail "no kill of the IO server (@1 to @60) landed inside a write"
else
    [[ $code == 0 ]] && grep -q "test io.write ... ok" "$dir/cut.log" ||
        fail "kill=ioserver@$cut_at: io.write failed after the kill inside a write (exit $code, log: $dir/cut.log)"
    writes=$(perl -0777 -ne 's/anvil: fault: [^\n]*\n|init: [^\n]*\n|ioserver: [^\n]*\n//g;
        my @a = /(io\.write 1024: .*?anvil-io-write-marker-7c1d\n)/sg;
        my @b = /(io\.write 2500: .*?\(2500 bytes, 3 messages\)\n)/sg;
        print scalar(@a), " ", join(",", map { length } @a), " ", scalar(@b), " ", join(",", map { length } @b);' \
        "$dir/cut.log")
    [[ $writes == "1 1024 1 2500" ]] ||
        fail "kill=ioserver@$cut_at: the writes are not on the console once and whole (count length count length: $writes; log: $dir/cut.log)"
fi
# A read the IO server dies after taking its line for, before the reply, gets
# that line when sent again (the server kept it with the request's number),
# so both lines are read once each. The window has no kernel entry, where the
# random schedule's slices mostly start; a script schedule with a switch at
# every basic block of one vCPU makes every block a slice the kill can land
# on. The first kill point after which the restarted server holds only the
# second line (12 bytes), after points where it held both (31 bytes), is
# found in steps of 8, then the 15 points before it.
seq 1 200000 | awk '{ print "0 " $1 " 0" }' >"$dir/every-block.switches"
read_kill() {  # N [INPUT]: runs the read tests with the kill at the IO server's slice N
    "$sim" --cpus 1 --schedule script --switches "$dir/every-block.switches" --initramfs "$tests" \
        --serial-input "${2:-$input}" --cmdline "tests=io.read_line_args,io.read_line" \
        --faults "kill=ioserver@$1" >"$dir/reread.log" 2>&1
}
kept_bytes() { sed -n 's/^ioserver: \([0-9]*\) byte(s) of input kept from before/\1/p' "$dir/reread.log"; }
second_at= seen_all=
for ((n = 8; n <= 4000; n += 8)); do
    read_kill "$n"
    kept=$(kept_bytes)
    [[ $kept == 31 ]] && seen_all=1
    [[ $seen_all && $kept == 12 ]] && { second_at=$n; break; }
done
reread_at=
for ((n = ${second_at:-16} - 15; second_at && n <= second_at; n++)); do
    read_kill "$n"
    code=$?
    grep -q "^ioserver: client [0-9]*'s read 0x[0-9a-f]* was served before; same reply again" "$dir/reread.log" &&
        { reread_at=$n; break; }
done
if [[ -z $reread_at ]]; then
    fail "no kill of the IO server (@1 to @${second_at:-4000}, every block a slice) landed between a line taken and its reply"
else
    [[ $code == 0 ]] && grep -q "test io.read_line ... ok" "$dir/reread.log" ||
        fail "kill=ioserver@$reread_at (every block a slice): the line kept for the reply was not read (exit $code, log: $dir/reread.log)"
fi
# Input received outlives a kill at any block of the drain: the byte read
# from COM1 is kept with the ring's count before anything else, and stored by
# the next instance if the last one died before it did; the CR flag is in the
# same word as the count. With the lines ended by "\r\n", every kill point
# around the first line's end (from the last one that finds 18 bytes kept to
# the first that finds 20: the '\r' stored, the flag set, the '\n' not yet
# read or read and not yet skipped) must read both lines, and each line once:
# a lost flag makes the '\n' a second, empty line.
printf 'anvil-input-line-1\r\nsecond line\r\n' >"$dir/crlf.txt"
cr_from=
for ((n = 8; n <= 4000; n += 8)); do
    read_kill "$n" "$dir/crlf.txt"
    kept=$(kept_bytes)
    [[ -n $kept ]] && ((kept >= 19)) && { cr_from=$((n - 8)); break; }
done
cr_runs=0
for ((n = cr_from + 1; cr_from && n <= cr_from + 40; n++)); do
    read_kill "$n" "$dir/crlf.txt"
    code=$? kept=$(kept_bytes)
    [[ -n $kept ]] && ((kept >= 20)) && break
    [[ $kept == 19 ]] && ((cr_runs++))
    [[ $code == 0 ]] && grep -q "test io.read_line ... ok" "$dir/reread.log" ||
        fail "kill=ioserver@$n (every block a slice, \\r\\n input, $kept byte(s) kept): the lines were not read once each (exit $code, log: $dir/reread.log)"
done
((cr_runs > 0)) || fail "no kill of the IO server (every block a slice) landed between a '\r' stored and the next byte"
# A failed allocation is a status, not a panic: init is told NO_MEMORY when it
# builds the demo's process, says so, and starts it again; the demo finishes.
grep -q "init: starting demo: ANVIL_ERR_NO_MEMORY; trying again" "$dir/alloc.log" ||
    fail "init was not told NO_MEMORY, or did not try again"
grep -q "demo: done" "$dir/alloc.log" || fail "the demo did not finish after a failed allocation"
# The seeded points: the spec a seed resolves to is recorded, and another seed draws others.
for seed in 1 2; do
    "$sim" --initramfs "$demo" --seed "$seed" --faults kill=echo,alloc-fail=1000..2000 --record "$dir/s$seed.atrace" \
        >/dev/null 2>&1
    "$trace_tool" dump "$dir/s$seed.atrace" --kind faults | grep -o '"kill=echo@[0-9]*,alloc-fail=[0-9]*"' \
        >"$dir/s$seed.spec"
    [[ -s $dir/s$seed.spec ]] || fail "seed $seed: the recorded spec is not resolved"
done
cmp -s "$dir/s1.spec" "$dir/s2.spec" && fail "seeds 1 and 2 resolved the spec to the same points"

# A sweep with --faults keeps every failing seed's trace, and each replays
# exactly. uart-drop=30 makes io.read_line fail on most seeds.
bash "$src/tools/sweep.sh" --build "$build" --seeds 1..4 --jobs 2 --tests 'io.*' --faults uart-drop=30 \
    --out "$dir/sweep" >"$dir/sweep.log" 2>&1
code=$?
[[ $code == 1 ]] || fail "the sweep exited $code, not 1 (some seeds fail): $(tail -5 "$dir/sweep.log")"
kept=0
for t in "$dir"/sweep/seed-*.atrace; do
    [[ -e $t ]] || continue
    ((kept++))
    "$sim" --replay "$t" --initramfs "$tests" >"$t.replay" 2>&1 || fail "$t does not replay: $(tail -2 "$t.replay")"
done
failed=$(grep -c '^  seed [0-9]* exited' "$dir/sweep.log")
((kept > 0 && kept == failed)) || fail "the sweep reported $failed failing seeds and kept $kept traces"
grep -q '^options .*--faults uart-drop=30' "$dir/sweep/sweep.summary" || fail "the sweep summary does not name the faults"
# The report counts the faults made: each kept trace's count is its inject
# records, and every failing seed (failed by its dropped bytes) had some.
[[ $(grep -c '^faults ' "$dir/sweep/sweep.summary") == 4 ]] || fail "the summary has no fault count for each seed"
for t in "$dir"/sweep/seed-*.atrace; do
    [[ -e $t ]] || continue
    seed=${t##*/seed-} seed=${seed%.atrace}
    n=$("$trace_tool" dump "$t" --kind inject | grep -c ' inject ')
    grep -qx "faults $seed $n" "$dir/sweep/sweep.summary" || fail "seed $seed made $n faults, the summary says otherwise"
    ((n > 0)) || fail "seed $seed failed with no fault made"
done
line=$(grep '^sweep: faults: ' "$dir/sweep.log") || fail "the sweep's report does not count the faults made"
[[ $line =~ ^sweep:\ faults:\ ([0-9]+)\ made,\ in\ ([0-9]+)\ of\ 4\ runs$ ]] &&
    ((BASH_REMATCH[2] >= kept && BASH_REMATCH[1] >= BASH_REMATCH[2])) ||
    fail "the sweep's fault count '$line' does not fit its $kept failing seeds"
bash "$src/tools/sweep.sh" --build "$build" --seeds 1..2 --faults kill=nosuch --out "$dir/sweep-bad" \
    >"$dir/sweep-bad.log" 2>&1
code=$?
[[ $code == 2 ]] && grep -q "no such service" "$dir/sweep-bad.log" ||
    fail "a sweep with a bad spec exited $code: $(cat "$dir/sweep-bad.log")"

((failures == 0)) && echo "fault injection: every check passed"
exit $((failures > 0))
