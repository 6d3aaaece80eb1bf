#!/usr/bin/env bash
# gdb's watchpoints against anvil-debug --gdb on a recorded race (the race
# demo, userspace/demo/race.c, seed 14): `watch -l` on the shared counter stops
# after each write with gdb's Old/New values, forwards; `reverse-continue`
# stops before the write it goes back over, with the values the other way
# round; a watchpoint belongs to the inferior it was set in (the other race
# process writes the same page, and does not stop it); rwatch stops at a
# read. Then the monitor commands: when, threads, caps, an unknown one, goto
# event.
#   tests/debug/gdb_watch.sh ANVIL_SIM ANVIL_DEBUG RACE_INITRAMFS RACE_ELF GDB_DATA_DIR WORK_DIR
set -euo pipefail
sim=$1 debug=$2 initramfs=$3 elf=$4 data=$5 work=$6
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The debug info names sources relative to the tree (cmake/Freestanding.cmake).
tree=$(cd "$here/../.." && pwd)
command -v gdb >/dev/null || { echo "gdb is not installed (tools/anvil setup installs it)"; exit 1; }
rm -rf "$work"
mkdir -p "$work"
trace=$work/race14.atrace stub_log=$work/stub.log gdb_log=$work/gdb.log
"$sim" --initramfs "$initramfs" --seed 14 --record "$trace" >"$work/record.log" 2>&1 || true
grep -q "race: lost" "$work/record.log" || { cat "$work/record.log"; echo "seed 14 no longer loses updates"; exit 1; }
cat >"$work/session.gdb" <<'GDB'
set pagination off
break increment_all
continue
delete 1
watch -l g_shared->counter
continue
continue
continue
printf "CHECK after three writes %d\n", g_shared->counter
reverse-continue
printf "CHECK back before the third write %d\n", g_shared->counter
reverse-continue
printf "CHECK back before the second write %d\n", g_shared->counter
continue
printf "CHECK forwards again %d\n", g_shared->counter
delete
rwatch -l g_shared->counter
continue
printf "CHECK a read stops %d\n", g_shared->counter
delete
printf "CHECK watch set in inferior %d\n", $_inferior
watch -l g_shared->counter
continue
printf "CHECK watch stop in inferior %d\n", $_inferior
continue
printf "CHECK watch stop in inferior %d\n", $_inferior
continue
printf "CHECK watch stop in inferior %d\n", $_inferior
continue
printf "CHECK watch stop in inferior %d\n", $_inferior
delete
monitor when
monitor threads
monitor caps
monitor nonsense
monitor goto event 301
maint flush register-cache
monitor when
GDB
source "$here/stub.sh"
start_stub "$stub_log" "$debug" --trace "$trace" --initramfs "$initramfs" --program race
timeout 120 gdb -batch -nx -data-directory "$data" -ex "directory $tree" -ex "target remote 127.0.0.1:$port" \
    -x "$work/session.gdb" "$elf" >"$gdb_log" 2>&1 || true
# gdb detached at the end of its script: a second gdb attaches to the same
# run, where the first left it.
printf 'monitor when\n' >"$work/again.gdb"
timeout 60 gdb -batch -nx -data-directory "$data" -ex "directory $tree" -ex "target remote 127.0.0.1:$port" \
    -x "$work/again.gdb" "$elf" >"$work/again.log" 2>&1 || true
kill $stub 2>/dev/null || true
wait $stub 2>/dev/null || true
trap - EXIT

expect_grep=-Pzo  # (patterns span lines)
expect 'Hardware watchpoint 2: -location g_shared->counter\n\nOld value = 0\nNew value = 1\n' "a write stops after it, old and new value"
expect 'Old value = 2\nNew value = 3\n' "the third write"
expect 'CHECK after three writes 3\n' "memory after the third write"
expect 'Old value = 3\nNew value = 2\n[^\n]*increment \(\) at [^\n]*race.c:[0-9]+\n[^\n]*g_shared->counter = seen \+ 1;\n' \
    "reverse-continue stops before the write, at the store"
expect 'CHECK back before the third write 2\n' "memory before the third write"
expect 'CHECK back before the second write 1\n' "a second reverse-continue: before the second write"
expect 'Old value = 1\nNew value = 2\n[^\n]*\n[^\n]*\nCHECK forwards again 2\n' "continue forwards again from there"
expect 'Hardware read watchpoint [0-9]+: -location g_shared->counter\n\nValue = ' "rwatch stops at a read"
set_in=$(sed -n 's/^CHECK watch set in inferior \([0-9]*\)$/\1/p' "$gdb_log")
mapfile -t stops_in < <(sed -n 's/^CHECK watch stop in inferior \([0-9]*\)$/\1/p' "$gdb_log")
if [[ -n $set_in && ${#stops_in[@]} -eq 4 && $(printf '%s\n' "${stops_in[@]}" | sort -u) == "$set_in" ]]; then
    echo "ok: a watchpoint stops only in the inferior it was set in (gdb's watchpoints are per inferior)"
else
    echo "FAILED: watch set in inferior '$set_in' stopped in: ${stops_in[*]}"
    failed=1
fi
expect '\nat event #[0-9]+ \(step [0-9]+, [0-9]+ instructions into a slice of thread [0-9]+' "monitor when: the position inside a slice"
expect '\nthread state +cpu prio affinity +waiting\n' "monitor threads: the kernel's thread table"
expect '\ncnode [0-9]+ of thread [0-9]+ \([0-9]+ slots, [0-9]+ used\)\n slot type' "monitor caps: the selected thread's CNode"
expect 'unknown command "nonsense"[^\n]*\n`monitor help` lists the monitor commands\n' "an unknown monitor command says so"
expect '\nat event #301 \(step [0-9]+, virtual time [0-9]+ blocks\)[^\n]*\n\(gdb: `maint flush' "monitor goto event 301 moves the run there"
expect '\(gdb: [^\n]*\nat event #301 \(' "monitor when after the goto: still event 301"
if grep -q '^at event #301 (' "$work/again.log"; then
    echo "ok: after a detach another gdb attaches to the run where the first left it"
else
    echo "FAILED: a second gdb after the detach: $(cat "$work/again.log")"
    failed=1
fi
if ((failed)); then
    echo "--- gdb's output:"
    cat "$gdb_log"
    echo "--- the stub's output:"
    tail -20 "$stub_log"
    exit 1
fi
echo "gdb watchpoints: every check passed"
