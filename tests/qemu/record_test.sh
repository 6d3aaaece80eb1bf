#!/usr/bin/env bash
# Records a QEMU run's trace as `tools/anvil qemu --record` does (the word
# "trace" on the kernel command line, COM2 to a file) and checks it: the
# header's magic and backend, an end record last with the run's exit code,
# anvil-trace's dump if that tool is built, and a schedule-following replay of
# it in the simulator. With TESTS_INITRAMFS (and ANVIL_TRACE), then a hung run
# stopped by the timeout: it keeps its trace, which the simulator follows to
# its last event; with ANVIL_DEBUG too, the debugger follows it there and
# shows the hang.
#
# usage: record_test.sh KERNEL_ELF INITRAMFS SIM DIR [ANVIL_TRACE [TESTS_INITRAMFS [ANVIL_DEBUG]]]
set -uo pipefail

[[ $# -ge 4 ]] || { echo "usage: $0 KERNEL_ELF INITRAMFS SIM DIR [ANVIL_TRACE [TESTS_INITRAMFS [ANVIL_DEBUG]]]" >&2; exit 2; }
kernel=$1 initramfs=$2 sim=$3 dir=$4 trace_tool=${5:-} tests_initramfs=${6:-} debugger=${7:-}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fail() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir"
iso="$dir/anvil-trace.iso"
trace="$dir/qemu.atrace"
"$root/tools/mkiso.sh" "$kernel" "$initramfs" "$iso" "trace" || fail "could not build an ISO with the command line 'trace'"

"$root/tools/qemu-run.sh" "$iso" --smp 4 --timeout 150 --trace-file "$trace" >"$dir/console.log"
status=$?
cat "$dir/console.log"
[[ $status -eq 0 ]] || fail "the recorded run exited $status, not 0"
grep -q "init: all services stopped; halting with code 0" "$dir/console.log" || fail "the console lacks init's clean shutdown"
# The trace is binary and goes to COM2 only: none of it on the console.
! grep -q "ANVLTRC" "$dir/console.log" || fail "trace bytes reached COM1"

size=$(stat -c %s "$trace")
echo "recorded $size bytes of trace"
[[ $size -gt 84 ]] || fail "the trace has $size bytes, not even a header"
[[ "$(head -c 8 "$trace" | od -An -c | tr -d ' ')" == 'ANVLTRC\n' ]] || fail "the trace does not start with the magic ANVLTRC\\n"
backend=$(head -c 16 "$trace" | od -An -v -tu4 -j 12 | tr -d ' ')
[[ $backend == 2 ]] || fail "the header names backend $backend, not 2 (QEMU)"

# The end record is last: its kind byte (14) and three varints (code, records,
# checksum). Only a varint's last byte lacks the continuation bit, so the
# fourth such byte from the end is the kind byte, and the code comes next.
read -r -a bytes <<<"$(tail -c 40 "$trace" | od -An -v -tu1 | tr '\n' ' ')"
clear=0 kind_at=-1
for ((i = ${#bytes[@]} - 1; i >= 0; i--)); do
    if ((bytes[i] < 128)); then
        clear=$((clear + 1))
        ((clear == 4)) && { kind_at=$i; break; }
    fi
done
((kind_at >= 0 && bytes[kind_at] == 14)) || fail "the last record is not an end record"
((bytes[kind_at + 1] == 0)) || fail "the end record's exit code is not 0 (zigzag byte ${bytes[kind_at + 1]})"
echo "the trace ends with an end record (exit code 0)"

if [[ -n $trace_tool && -x $trace_tool ]]; then
    "$trace_tool" dump "$trace" >"$dir/dump.txt" || fail "anvil-trace dump refused the trace"
    echo "anvil-trace dump: $(wc -l <"$dir/dump.txt") lines; the last: $(tail -n 1 "$dir/dump.txt")"
else
    echo "anvil-trace is not built: the record-by-record check is anvil-sim's below"
fi

# anvil-sim reads every record (checksum, count) before it follows the trace.
"$sim" --replay "$trace" --initramfs "$initramfs" >"$dir/replay.log" 2>&1
rstatus=$?
tail -n 3 "$dir/replay.log"
[[ $rstatus -eq 0 ]] || fail "replaying the QEMU trace in the simulator exited $rstatus, not 0"

# A hung run stopped by the timeout: the userspace test io.read_line waits for
# COM1 input that never comes (no --serial-input), so the machine idles until
# --timeout stops QEMU (exit 124). The kernel hands out its trace buffer every
# 32 timer ticks, so the trace holds the run up to the hang; anvil-trace reads
# it as cut short (exit 3) and anvil-sim --replay follows it to its last
# complete record (exit 123).
if [[ -n $tests_initramfs && -n $trace_tool && -x $trace_tool ]]; then
    iso="$dir/hang.iso"
    trace="$dir/hang.atrace"
    "$root/tools/mkiso.sh" "$kernel" "$tests_initramfs" "$iso" "trace tests=io.read_line" >/dev/null ||
        fail "could not build an ISO with the command line 'trace tests=io.read_line'"

    "$root/tools/qemu-run.sh" "$iso" --smp 4 --timeout 25 --trace-file "$trace" >"$dir/hang-console.log"
    status=$?
    cat "$dir/hang-console.log"
    [[ $status -eq 124 ]] || fail "the hung run exited $status, not 124 (timed out)"
    grep -q 'anvil userspace tests matching "io.read_line"' "$dir/hang-console.log" ||
        fail "the run did not reach the test that waits for input within the timeout"

    note=$("$trace_tool" stats "$trace" 2>&1 >/dev/null)
    status=$?
    [[ $status -eq 3 ]] || fail "anvil-trace stats on the timed-out trace exited $status, not 3: $note"
    records=$(sed -n 's/.*cut short after \([0-9]*\) records.*/\1/p' <<<"$note")
    [[ -n $records && $records -gt 100 ]] || fail "the timed-out trace holds no records: $note"
    echo "the timed-out trace: $note"

    out=$("$sim" --replay "$trace" --initramfs "$tests_initramfs" 2>&1 >"$dir/replay-console.log")
    status=$?
    echo "$out"
    [[ $status -eq 123 ]] || fail "following the timed-out trace exited $status, not 123"
    grep -q "the trace ends here: it was cut short after $records records .*; followed [0-9]* kernel entries in its order, to its last complete record" <<<"$out" ||
        fail "following the timed-out trace did not reach its last complete record"
    grep -q 'anvil userspace tests matching "io.read_line"' "$dir/replay-console.log" ||
        fail "the followed run did not reach the test that waits for input"
    followed=$(sed -n 's/.*followed \([0-9]*\) kernel entries.*/\1/p' <<<"$out")

    # The debugger follows the same trace, one kernel entry a step, to the
    # same last record, and shows the hang there: the test thread waits for
    # the IO server's reply, the IO server for COM1's interrupt. Going back two
    # ipc_calls and forward one stop where going back one did.
    if [[ -n $debugger ]]; then
        printf '%s\n' continue threads 'break syscall ipc_call' reverse-continue reverse-continue continue stepi \
            'watch 0x1000' >"$dir/hang.dbg"
        "$debugger" --trace "$trace" --initramfs "$tests_initramfs" --script "$dir/hang.dbg" >"$dir/debug.log" 2>&1 ||
            fail "anvil-debug on the timed-out trace exited $?: $(tail -n 5 "$dir/debug.log")"
        sed -n '/^(anvil) continue/,$p' "$dir/debug.log" | grep -v '^test \|^  (' | head -n 40
        grep -q "^the run has ended (the trace ends here: it was cut short after $records records .*; followed $followed kernel entries in its order, to its last complete record)" "$dir/debug.log" ||
            fail "the debugger did not follow the timed-out trace to its last complete record ($followed entries)"
        caller=$(sed -n 's/^ *\([0-9]*\) blocked .* waits for a reply from thread \([0-9]*\)$/\1 \2/p' "$dir/debug.log")
        read -r test_thread server <<<"$caller"
        [[ -n $server ]] || fail "no thread waits for a reply at the end of the timed-out trace"
        # The IO server waits for COM1's interrupt with a timeout (it polls every
        # few ticks), so the cut can find it just woken by one: runnable, about
        # to wait again. Either way it serves nobody else.
        grep -Eq "^ *$server (blocked .* notify_wait on notification [0-9]+|runnable .*)$" "$dir/debug.log" ||
            fail "thread $server (the one thread $test_thread waits for) neither waits for its interrupt nor is just woken from that wait"
        mapfile -t at < <(sed -n 's/^at event #\([0-9]*\) (step \([0-9]*\),.*/\1 \2/p' "$dir/debug.log")
        [[ ${#at[@]} -eq 4 ]] || fail "the debugger showed ${#at[@]} positions, not 4"
        [[ ${at[0]} == *" $followed" ]] || fail "the end of the followed run is at '${at[0]}', not step $followed"
        [[ ${at[1]} == "${at[3]}" && ${at[2]%% *} -lt ${at[1]%% *} ]] ||
            fail "reverse-continue twice and continue to an ipc_call stopped at '${at[1]}', '${at[2]}', '${at[3]}'"
        [[ $(grep -c 'needs the run instruction by instruction; a QEMU trace is followed' "$dir/debug.log") == 2 ]] ||
            fail "stepi and watch were not refused on a QEMU trace"
        "$debugger" --trace "$trace" --initramfs "$tests_initramfs" --gdb 0 >/dev/null 2>&1
        status=$?
        [[ $status -eq 2 ]] || fail "anvil-debug --gdb on a QEMU trace exited $status, not 2"
        echo "the debugger followed the timed-out trace to step $followed; thread $test_thread waits for thread $server, which waits for its interrupt"

        # Packed with its initramfs and kernel, it travels: the pack alone debugs to the same end.
        "$trace_tool" pack "$trace" "$dir/hang.apack" --initramfs "$tests_initramfs" --kernel "$kernel" ||
            fail "anvil-trace pack refused the timed-out QEMU trace"
        printf 'continue\n' | "$debugger" --trace "$dir/hang.apack" --script /dev/stdin >"$dir/debug-pack.log" 2>&1 ||
            fail "anvil-debug on the pack exited $?"
        grep -q "^at event #${at[0]%% *} (step $followed," "$dir/debug-pack.log" ||
            fail "the pack did not debug to event #${at[0]%% *}, step $followed: $(tail -n 2 "$dir/debug-pack.log")"
    fi
fi
echo "PASS"
