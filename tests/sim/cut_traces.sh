#!/usr/bin/env bash
# Traces cut short (docs/trace-format.md, "Traces cut short"):
#  - a recording cut at every byte of its last records, and at points in the
#    middle, keeps every complete record: anvil-trace reads them (exit 3, a
#    note naming the count) and anvil-sim --replay replays each one and stops
#    where the trace does (exit 123, "N records replayed, all matched");
#  - a byte changed before the cut is refused, naming its chunk (exit 2);
#  - SIGINT, SIGTERM and SIGHUP during anvil-sim --record finish the trace
#    (exit 128+N, an end record with that code) and it replays identically;
#    SIGKILL leaves a trace cut short that replays its prefix;
#  - anvil-debug --trace runs a cut trace to its last complete record and
#    stops there.
#
# usage: cut_traces.sh SIM TOOL DEBUG INITRAMFS TESTS_INITRAMFS SERIAL_INPUT DIR
set -uo pipefail

[[ $# -eq 7 ]] || { echo "usage: $0 SIM TOOL DEBUG INITRAMFS TESTS_INITRAMFS SERIAL_INPUT DIR" >&2; exit 2; }
sim=$1 tool=$2 debug=$3 initramfs=$4 tests_initramfs=$5 serial_input=$6 dir=$7
fail() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir"
whole="$dir/whole.atrace"
"$sim" --initramfs "$initramfs" --seed 3 --record "$whole" >/dev/null 2>"$dir/record.log" ||
    fail "recording the default workload failed: $(cat "$dir/record.log")"
size=$(stat -c %s "$whole")
total=$("$tool" stats "$whole" | sed -n 's/^\([0-9]*\) records, .*/\1/p')
[[ -n $total && $total -gt 100 ]] || fail "anvil-trace stats gives no record count for $whole"
echo "recorded $total records, $size bytes"

# Cuts: every byte of the last 48 (the last records and the end record), and
# some in the middle, chunk boundaries included.
cuts=()
for ((len = size - 48; len < size; len++)); do cuts+=("$len"); done
cuts+=(116 4111 4112 4113 $((size / 3)) $((size / 2)))
previous=-1
for len in $(printf '%s\n' "${cuts[@]}" | sort -n); do
    cut="$dir/cut-$len.atrace"
    head -c "$len" "$whole" >"$cut"
    note=$("$tool" stats "$cut" 2>&1 >/dev/null)
    status=$?
    [[ $status -eq 3 ]] || fail "anvil-trace stats on the trace cut to $len bytes exited $status, not 3: $note"
    n=$(sed -n 's/.*cut short after \([0-9]*\) records.*/\1/p' <<<"$note")
    [[ -n $n ]] || fail "anvil-trace's note on the trace cut to $len bytes names no record count: $note"
    out=$("$sim" --replay "$cut" --initramfs "$initramfs" 2>&1 >/dev/null)
    status=$?
    [[ $status -eq 123 ]] || fail "replaying the trace cut to $len bytes exited $status, not 123:
$out"
    grep -q "the trace ends here (cut short): $n records replayed, all matched" <<<"$out" ||
        fail "replaying the trace cut to $len bytes does not end with its $n records replayed:
$out"
    if ((len == size / 2)); then half_cut=$cut half_records=$n; fi
    ((n >= previous)) || fail "a longer cut ($len bytes) holds fewer records ($n) than a shorter one ($previous)"
    previous=$n
done
# The last cut ends inside the end record: every other record is there
# (stats counts the end record too).
((previous == total - 1)) || fail "cut one byte short, the trace holds $previous records, not all $((total - 1))"
# The debugger loads it through the same reader and stops at the same record.
printf 'continue\ncontinue\nquit\n' >"$dir/session.dbg"
out=$(timeout 120 "$debug" --trace "$half_cut" --initramfs "$initramfs" --script "$dir/session.dbg" 2>&1)
status=$?
[[ $status -eq 0 ]] || fail "anvil-debug on a cut trace exited $status:
$out"
grep -q "the run has ended (the trace ends here: it was cut short after $half_records records" <<<"$out" ||
    fail "anvil-debug does not stop at the end of the cut trace's $half_records records:
$out"
grep -q "at event #$((half_records - 1)) " <<<"$out" || fail "anvil-debug did not stop at event #$((half_records - 1)):
$out"
echo "cut at ${#cuts[@]} places: every complete record read and replayed (exit 123), up to all $((total - 1))"

# A byte changed before the cut: refused, naming the chunk.
half="$dir/cut-$((size / 2)).atrace"
cp "$half" "$dir/flipped.atrace"
# (inverted, so that it changes whatever it held)
byte=$(od -An -tu1 -j 1000 -N 1 "$dir/flipped.atrace" | tr -d ' ')
printf "\\$(printf '%03o' $((byte ^ 255)))" | dd of="$dir/flipped.atrace" bs=1 seek=1000 conv=notrunc status=none
cmp -s "$half" "$dir/flipped.atrace" && fail "the byte at 1000 did not change"
out=$("$sim" --replay "$dir/flipped.atrace" --initramfs "$initramfs" 2>&1 >/dev/null)
status=$?
[[ $status -eq 2 ]] || fail "replaying a cut trace with a changed byte exited $status, not 2: $out"
grep -q "corrupt trace: the chunk at byte 104 ([0-9]* bytes) does not match its checksum" <<<"$out" ||
    fail "the refusal does not name the damaged chunk: $out"
"$tool" dump "$dir/flipped.atrace" >/dev/null 2>&1
status=$?
[[ $status -eq 1 ]] || fail "anvil-trace dump of a damaged trace exited $status, not 1"
echo "a changed byte before the cut: refused, naming the chunk at byte 104"

# Records the userspace suite with one-block slices (a long run) until its
# trace passes 256 KiB, then sends `signal`; prints the trace's path.
record_until_signal() {
    local signal=$1 trace="$dir/signal-$1.atrace" pid waited=0 status
    rm -f "$trace"
    "$sim" --initramfs "$tests_initramfs" --cmdline 'tests=*' --serial-input "$serial_input" --slice 1 \
        --quantum 50 --record "$trace" >/dev/null 2>"$dir/signal-$signal.log" &
    pid=$!
    while (($(stat -c %s "$trace" 2>/dev/null || echo 0) < 262144)); do
        kill -0 "$pid" 2>/dev/null || fail "the run ended before its trace reached 256 KiB"
        ((waited++ < 6000)) || { kill -KILL "$pid"; fail "the trace did not reach 256 KiB in 60 s"; }
        sleep 0.01
    done
    kill -"$signal" "$pid"
    wait "$pid"
    status=$?
    echo "$status" >"$dir/signal-$signal.status"
}

for signal in INT TERM HUP; do
    record_until_signal "$signal"
    trace="$dir/signal-$signal.atrace"
    number=$(kill -l "$signal")
    want=$((128 + number))
    status=$(cat "$dir/signal-$signal.status")
    [[ $status -eq $want ]] || fail "SIG$signal during --record: exit $status, not $want: $(cat "$dir/signal-$signal.log")"
    grep -q "stopped by SIG$signal after [0-9]* slices" "$dir/signal-$signal.log" ||
        fail "SIG$signal: anvil-sim does not say what stopped it: $(cat "$dir/signal-$signal.log")"
    last=$("$tool" dump "$trace" | tail -n 1) || fail "anvil-trace dump refuses the trace SIG$signal finished"
    [[ $last == *" end code=$want "* ]] || fail "SIG$signal: the trace's last record is not an end record with code $want: $last"
    out=$("$sim" --replay "$trace" --initramfs "$tests_initramfs" 2>&1 >/dev/null)
    status=$?
    [[ $status -eq 0 ]] || fail "replaying the trace SIG$signal finished exited $status, not 0:
$out"
    grep -q "replay identical: every record of $trace matched (the run exited $want, stopped where SIG$signal stopped the recording)" <<<"$out" ||
        fail "replaying the trace SIG$signal finished: no identical replay to the same stop:
$out"
    echo "SIG$signal during --record: exit $want, the trace finished there ($last) and replays identically"
done

record_until_signal KILL
trace="$dir/signal-KILL.atrace"
out=$("$sim" --replay "$trace" --initramfs "$tests_initramfs" 2>&1 >/dev/null)
status=$?
[[ $status -eq 123 ]] || fail "replaying the trace of a killed run exited $status, not 123:
$out"
grep -q "the trace ends here (cut short): [0-9]* records replayed, all matched" <<<"$out" ||
    fail "replaying the trace of a killed run: no clean stop at its end:
$out"
echo "SIGKILL during --record: the trace replays its prefix ($(grep -o '[0-9]* records replayed' <<<"$out"))"
echo "PASS"
