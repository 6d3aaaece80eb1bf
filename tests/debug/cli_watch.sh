#!/usr/bin/env bash
# The command loop's watchpoints and navigation on a recorded race (the race
# demo, seed 14; docs/debugging.md): `watch` stops just after each write that
# changes the shared counter, forwards, with the old and new values and memory
# to match; `reverse-continue` stops just before the write it goes back over;
# `goto event N` goes back after the run has ended; and reverse-continue from
# the end finds the write that left the final, short count.
#   tests/debug/cli_watch.sh ANVIL_SIM ANVIL_DEBUG RACE_INITRAMFS WORK_DIR
set -euo pipefail
sim=$1 debug=$2 initramfs=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
trace=$work/race14.atrace
"$sim" --initramfs "$initramfs" --seed 14 --record "$trace" >"$work/record.log" 2>&1 || true
final=$(sed -n 's/^race: lost [0-9]* updates\? (counter \([0-9]*\),.*/\1/p' "$work/record.log")
[[ -n $final ]] || { cat "$work/record.log"; echo "seed 14 no longer loses updates"; exit 1; }
# Where both processes increment: the first write of the copy's thread.
cat >"$work/session" <<'CMDS'
continue
goto event 0
goto event 500
watch 200000000000
continue
mem 200000000000 8
continue
mem 200000000000 8
reverse-continue
mem 200000000000 8
goto event 999999
reverse-continue
unwatch
reverse-continue
quit
CMDS
"$debug" --trace "$trace" --initramfs "$initramfs" --script "$work/session" >"$work/out" 2>&1
grep -v '^\(race\|init\|anvil\|nameserver\|ioserver\):' "$work/out" >"$work/session.log"

failed=0
fail() { echo "FAILED: $*"; failed=1; }
# watchpoint lines: "watchpoint 1: thread T wrote ADDR: old 0xA, new 0xB[ (going back...)]"
mapfile -t stops < <(grep -E '^watchpoint 1: thread [0-9]+ wrote 0x200000000000: old 0x[0-9a-f]+, new 0x[0-9a-f]+' "$work/session.log")
mapfile -t mems < <(sed -n 's/^0x200000000000  \(..\) \(..\).*/\2\1/p' "$work/session.log")
[[ ${#stops[@]} -eq 4 ]] || fail "4 watchpoint stops expected, got ${#stops[@]}"
[[ ${#mems[@]} -eq 3 ]] || fail "3 memory dumps expected, got ${#mems[@]}"
value() { sed -E "s/.*$1 0x([0-9a-f]+).*/\1/" <<<"$2"; }
if ((!failed)); then
    o1=$(value old "${stops[0]}") n1=$(value new "${stops[0]}")
    o2=$(value old "${stops[1]}") n2=$(value new "${stops[1]}")
    o3=$(value old "${stops[2]}") n3=$(value new "${stops[2]}")
    n4=$(value old "${stops[3]}")
    ((16#$n1 == 16#$o1 + 1)) || fail "the first write does not add 1: ${stops[0]}"
    ((16#${mems[0]} == 16#$n1)) || fail "memory after the first stop is ${mems[0]}, the stop said new 0x$n1"
    ((16#$o2 == 16#$n1 && 16#$n2 == 16#$n1 + 1)) || fail "the second stop is not the next write: ${stops[1]}"
    ((16#${mems[1]} == 16#$n2)) || fail "memory after the second stop is ${mems[1]}, not 0x$n2"
    [[ ${stops[2]} == *"(going back: just before the access)"* ]] || fail "reverse-continue does not say it went back"
    ((16#$o3 == 16#$n2 && 16#$n3 == 16#$o2)) || fail "reverse-continue's values are not the second write's, reversed: ${stops[2]}"
    ((16#${mems[2]} == 16#$o2)) || fail "memory before the second write is ${mems[2]}, not 0x$o2"
    ((16#$n4 == final)) || fail "the last write of the run left 0x$n4, the race reported counter $final"
fi
grep -q "^the run ends before event #999999$" "$work/session.log" || fail "goto past the end does not say so"
grep -qE "^at event #[0-9] \(step [01]," "$work/session.log" || fail "goto event 0 after the run ended did not go back"
grep -q "^no breakpoint or watchpoint hit before this point\|^reverse-continue goes back to the previous breakpoint or watchpoint hit" "$work/session.log" ||
    fail "reverse-continue without watchpoints says nothing useful"
if ((failed)); then
    cat "$work/session.log"
    exit 1
fi
echo "command-loop watchpoints: 4 stops, values and memory consistent, back to the final write ($final)"
