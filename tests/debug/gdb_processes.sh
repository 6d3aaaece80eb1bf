#!/usr/bin/env bash
# gdb sees Anvil's processes (docs/debugging.md): against anvil-debug --gdb on
# the race demo, with no --program and no file on gdb's command line, as
# `tools/anvil gdb` starts it. Every process is an inferior with its own
# program (qXfer:exec-file), including those that start after gdb attached;
# threads carry their program's name; `break increment_all` stops in both
# race processes and never elsewhere; a register write is refused with the
# reason and changes nothing.
#   tests/debug/gdb_processes.sh ANVIL_DEBUG RACE_INITRAMFS GDB_DATA_DIR WORK_DIR
set -euo pipefail
debug=$1 initramfs=$2 data=$3 work=$4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v gdb >/dev/null || { echo "gdb is not installed (tools/anvil setup installs it)"; exit 1; }
rm -rf "$work"
mkdir -p "$work"
stub_log=$work/stub.log gdb_log=$work/gdb.log
cat >"$work/session.gdb" <<'GDB'
set pagination off
info inferiors
break increment_all
continue
info inferiors
info threads
printf "CHECK first stop in %d\n", $_inferior
continue
printf "CHECK second stop in %d\n", $_inferior
print $rax
set $rax = 12345
GDB
printf 'print $rax\n' >"$work/again.gdb"
source "$here/stub.sh"
start_stub "$stub_log" "$debug" --initramfs "$initramfs" --seed 2
gdb_session "$data" "$work/session.gdb"
# (the write's error ended that script; gdb detached) Another gdb finds rax as it was.
timeout 60 gdb -batch -nx -data-directory "$data" -ex "set sysroot /" -ex "target remote 127.0.0.1:$port" \
    -x "$work/again.gdb" >"$work/again.log" 2>&1 || true
stop_stub

expect '^\* 1 +process [0-9a-f]+ .*/userspace/init $' "at attach, inferior 1 is init with init's program"
expect 'Breakpoint 1 \(increment_all\) pending\.' "a breakpoint in a program not yet running waits"
expect 'Reading symbols from .*/userspace/nameserver\.\.\.' "a process that starts later brings its program's symbols"
for name in init nameserver ioserver race; do
    expect "^[* ] +[0-9]+ +process [0-9a-f]+ .*/userspace/$name $" "info inferiors lists $name"
done
races=$(grep -E '^[* ] +[0-9]+ +process [0-9a-f]+ .*/userspace/race $' "$gdb_log" | sed -E 's/.*process ([0-9a-f]+) .*/\1/' | sort -u | wc -l)
((races == 2)) && echo "ok: both race processes are inferiors" ||
    { echo "FAILED: both race processes are inferiors ($races distinct)"; failed=1; }
expect 'Thread [0-9a-f]+\.[0-9a-f]+ "race" +increment_all \(\)' "threads are named after their program"
expect 'Thread [0-9a-f]+\.[0-9a-f]+ "init" ' "init's thread is named init"
first=$(sed -n 's/^CHECK first stop in \([0-9]*\)$/\1/p' "$gdb_log")
second=$(sed -n 's/^CHECK second stop in \([0-9]*\)$/\1/p' "$gdb_log")
if [[ -n $first && -n $second && $first != "$second" && $first -gt 1 && $second -gt 1 ]]; then
    echo "ok: the breakpoint stops in each race process (inferiors $first and $second), not in init"
else
    echo "FAILED: the breakpoint stops in each race process (got inferiors '$first' and '$second')"
    failed=1
fi
hits=$(grep -c 'hit Breakpoint 1' "$gdb_log" || true)
((hits == 2)) && echo "ok: increment_all stops twice, once per race process" ||
    { echo "FAILED: increment_all stopped $hits times, not 2"; failed=1; }
expect "Could not write register \"rax\"; remote failure reply '(E\.)?the run is a recording" \
    "a register write is refused with the reason"
before=$(sed -n 's/^\$1 = //p' "$gdb_log")
after=$(sed -n 's/^\$1 = //p' "$work/again.log")
[[ -n $before && $after == "$before" ]] && echo "ok: the refused write changed nothing (rax $before)" ||
    { echo "FAILED: rax was '$before', then '$after'"; failed=1; }
grep -q 'refused, the run is a recording' "$stub_log" && echo "ok: the stub says why it refused" ||
    { echo "FAILED: the stub's log does not say why"; failed=1; }
report_checks "gdb processes"
