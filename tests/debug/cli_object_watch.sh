#!/usr/bin/env bash
# The command loop's watches on kernel objects (docs/debugging.md), both
# ways, on the default workload: `watch slot T S` stops after the step that
# fills a slot of init's CNode; `watch thread T` and `watch endpoint E` stop
# after each step that changes a thread's state or an endpoint's queues, each
# stop's old value the previous one's new; `reverse-continue` goes back to
# the previous change and says the same as the forward stop did, at the same
# event; from the end of the run it finds the last change. A breakpoint on a
# syscall goes back to its previous hit the same way. The ids come from
# the run itself (a first session looks at it), not from this file.
#   tests/debug/cli_object_watch.sh ANVIL_DEBUG INITRAMFS WORK_DIR
set -euo pipefail
debug=$1 initramfs=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
failed=0
fail() { echo "FAILED: $*"; failed=1; }
session() {  # NAME: runs $work/NAME.dbg, the debugger's own lines in $work/NAME.log
    "$debug" --initramfs "$initramfs" --script "$work/$1.dbg" >"$work/$1.out" 2>&1 || true
    grep -aE '^(\(anvil\)|breakpoint [0-9]+: |breakpoint: |at event #| +[0-9]+ )' "$work/$1.out" >"$work/$1.log" || true
}

# A look at the run: init's thread, a server blocked in recv on its
# endpoint, and init's last used CNode slot (empty at boot, filled since).
printf 'goto event 2000\nthreads\ncaps %s\n' \
    "$(sed -n 's/^anvil: starting init (thread \([0-9]*\),.*/\1/p' <("$debug" --initramfs "$initramfs" \
        --script /dev/stdin <<<'quit' 2>&1))" >"$work/look.dbg"
session look
init=$(sed -n 's/^(anvil) caps \([0-9]*\)$/\1/p' "$work/look.log")
read -r server endpoint < <(sed -nE 's/^ *([0-9]+) blocked .* recv on endpoint ([0-9]+)$/\1 \2/p' "$work/look.log" | head -n 1)
slot=$(sed -nE 's/^ +([0-9]+) (cnode|vspace|tcb|endpoint|vmo|notification|ioport|irq) .*/\1/p' "$work/look.log" | tail -n 1)
[[ -n $init && -n $server && -n $endpoint && -n $slot ]] ||
    { cat "$work/look.out"; echo "cannot find init's thread, a server in recv, or a used slot"; exit 1; }

cat >"$work/watch.dbg" <<CMDS
watch slot $init $slot
continue
delete
watch thread $server
continue
continue
reverse-continue
delete
watch endpoint $endpoint
continue
continue
reverse-continue
goto event 999999
reverse-continue
quit
CMDS
session watch
mapfile -t stops < <(grep -a '^breakpoint: watch ' "$work/watch.log")
mapfile -t wheres < <(sed -n 's/^at event #\([0-9]*\) .*/\1/p' "$work/watch.log")
[[ ${#stops[@]} -eq 8 ]] || fail "8 object-watch stops expected, got ${#stops[@]}"
event_of() { sed -E 's/.*\(at event #([0-9]+)\).*/\1/' <<<"$1"; }
old_of() { sed -E 's/^breakpoint: [^:]*: (.*) -> .* \(at event.*/\1/' <<<"$1"; }
new_of() { sed -E 's/^breakpoint: [^:]*: .* -> (.*) \(at event #.*/\1/' <<<"$1"; }
back=" (going back: just after that step)"
# slot: filled
[[ ${stops[0]} =~ ^"breakpoint: watch slot $slot of thread $init's cnode: empty -> "[a-z]+" cap (rights 0x"[0-9a-f]+", badge 0x"[0-9a-f]+") to object "[0-9]+" (at event #"[0-9]+")"$ ]] ||
    fail "slot $slot of init's cnode not seen filled: ${stops[0]}"
for kind in "thread $server's state" "endpoint $endpoint's queues"; do
    base=1
    [[ $kind == endpoint* ]] && base=4
    a=${stops[base]} b=${stops[base + 1]} r=${stops[base + 2]}
    [[ $a == "breakpoint: watch $kind: "* && $b == "breakpoint: watch $kind: "* ]] || fail "$kind: no two forward stops: $a / $b"
    [[ $(old_of "$a") != "$(new_of "$a")" ]] || fail "$kind: a stop that changed nothing: $a"
    [[ $(old_of "$b") == "$(new_of "$a")" ]] || fail "$kind: the second stop's old value is not the first's new: $a / $b"
    (($(event_of "$a") < $(event_of "$b"))) || fail "$kind: the second change is not later: $a / $b"
    [[ $r == "$a$back" ]] || fail "$kind: reverse-continue does not go back to the first change: $r"
done
# From the end: the endpoint's last change, before the end.
last=${stops[7]}
[[ $last == *"$back" && $(old_of "$last") != "$(new_of "$last")" ]] || fail "no change found back from the end: $last"
(($(event_of "$last") > $(event_of "${stops[5]}"))) || fail "the last change is not after the second: $last"
# Each stop is where the run is: `where` says the same event.
[[ ${#wheres[@]} -ge 9 ]] || fail "expected a position after every stop, got ${#wheres[@]}"
for i in 0 1 2 3 4 5 6; do
    ((wheres[i] == $(event_of "${stops[i]}"))) || fail "after stop $((i + 1)) the run is at #${wheres[i]}, not #$(event_of "${stops[i]}")"
done
((wheres[8] == $(event_of "${stops[7]}"))) || fail "after the last stop the run is at #${wheres[8]}, not #$(event_of "${stops[7]}")"
# A breakpoint on a kernel event goes back the same way.
printf 'break syscall ipc_call\ncontinue\ncontinue\nreverse-continue\nquit\n' >"$work/event.dbg"
session event
mapfile -t hits < <(grep -a '^breakpoint: syscall ipc_call at ' "$work/event.log")
[[ ${#hits[@]} -eq 3 && ${hits[0]} != "${hits[1]}" && ${hits[2]} == "${hits[0]}$back" ]] ||
    fail "break syscall ipc_call: continue twice, reverse-continue back to the first: ${hits[*]}"
if ((failed)); then
    cat "$work/watch.log" "$work/event.log"
    exit 1
fi
echo "object watches: slot $slot of thread $init, thread $server, endpoint $endpoint: 8 stops, both ways, consistent; break syscall ipc_call back to its previous hit"
