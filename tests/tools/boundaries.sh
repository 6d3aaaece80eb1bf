#!/usr/bin/env bash
# The parts of the tree meet where docs/architecture.md ("Boundaries") says:
#   - outside kernel/ and its x86_64 backend, code includes no kernel header but
#     kernel/introspect.h and the trace format, kernel/trace/events.h
#     (tests/compile/ is the exception: it compiles the kernel's own syscall
#     headers, with the kernel's include directories, to see misuse refused);
#   - the simulator writes no trace record itself: it calls the kernel's
#     recording entry points (hal/include/hal/kernel_entry.h);
#   - no compile command adds the source tree itself as an include directory.
# Each check also counts what it looked at, so a check that found nothing to
# look at fails too.
#   boundaries.sh SOURCE_ROOT COMPILE_COMMANDS_JSON
set -uo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 SOURCE_ROOT COMPILE_COMMANDS_JSON" >&2; exit 2; }
root=$1 commands=$2
[[ -d "$root" && -f "$commands" ]] || { echo "$0: no tree at $root or no file $commands" >&2; exit 2; }
cd "$root" || exit 2
failed=0

# check COUNT FOUND NOTHING BAD GOOD: fails, saying NOTHING, if the check looked
# at nothing (COUNT 0), or, saying BAD and showing FOUND, if it found something.
check() {
    local count=$1 found=$2 nothing=$3 bad=$4 good=$5
    if [[ "$count" -eq 0 ]]; then
        echo "FAILED: $nothing"
        failed=1
    elif [[ -n "$found" ]]; then
        echo "FAILED: $bad"
        head -20 <<<"$found" | cut -c1-300
        failed=1
    else
        echo "ok: $good"
    fi
}

outside=(sim replay tests fuzz tools hal/sim)
includes=$(grep -rn --include='*.cpp' --include='*.h' '#include "kernel/' "${outside[@]}" 2>/dev/null |
           grep -v '^tests/compile/')
view=$(grep -c '"kernel/introspect.h"' <<<"$includes")
other=$(grep -v -e '"kernel/introspect.h"' -e '"kernel/trace/events.h"' <<<"$includes")
check "$view" "$other" "no file in ${outside[*]} includes kernel/introspect.h: the check looks in the wrong place" \
    "kernel headers included past kernel/introspect.h:" \
    "$view files outside the kernel include kernel/introspect.h and no other kernel header but the trace format"

sim_sources=$(ls sim/*.cpp 2>/dev/null | wc -l)
records=$(grep -n -e 'trace_event(' -e 'trace_record(' sim/*.cpp 2>/dev/null)
check "$sim_sources" "$records" "no source in sim/" \
    "the simulator writes trace records itself (call the entry points of hal/kernel_entry.h):" \
    "none of the $sim_sources sources in sim/ writes a trace record itself"

root_abs=$(pwd -P)
compiled=$(grep -c '"file":' "$commands")
tree_dirs=$(grep -n -E -- "-(I|isystem|iquote) ?$root_abs/?( |\"|\$)" "$commands")
check "$compiled" "$tree_dirs" "$commands lists no compile command" \
    "compile commands with the whole source tree ($root_abs) as an include directory:" \
    "none of the $compiled compile commands adds the source tree itself as an include directory"
exit $failed
