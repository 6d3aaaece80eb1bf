#!/usr/bin/env bash
# The walkthroughs of the race workload show real output: docs/replaying-a-bug.md
# (all of it but its QEMU section) and docs/debugging.md's sections "From a
# failing seed to the bug" and "Source-level debugging with gdb" (its gdb
# session, `(gdb) COMMAND` lines, is the script of `tools/anvil gdb` in batch
# mode; gdb's own output is compared, the run's console is not). This runs every command they show on this build and
# checks that each doc shows exactly what the command prints now, so a change
# that moves the race (a seed that no longer fails, another number of lost
# updates, another stop of the debugger) fails here until the doc is updated.
#
# A transcript in a doc is a fenced block of `$ COMMAND` lines, each followed by
# its output; `(anvil) COMMAND` lines are the debugger session of the last
# `anvil-debug` command and become its --script. The doc's lines must be the
# command's lines in order; a line `...` stands for any number of lines, and
# the lines around it must be consecutive otherwise. `$ echo $?` shows the
# previous command's exit status. A sweep is compared as a terminal shows it
# (its progress line once, the last one). Prose of the form "lost N update(s)"
# or "seed S lost N" must name the count of the walkthrough's run.
#
# Nothing here depends on where the tree is checked out: the kernel's build id
# hashes relative paths, and the initramfs holds the programs without their
# debug info (userspace/CMakeLists.txt), so its size and hash, and every
# basic-block count of a run, are the same in any checkout. Paths the commands
# print under WORK-DIR are shown as the doc's (/tmp/).
#
# usage: walkthrough.sh SOURCE-DIR BUILD-DIR WORK-DIR [COMPILER-ID-VERSION]
# On a mismatch it prints the doc's block and the real output, to paste.
set -uo pipefail

if [[ $# -ne 3 && $# -ne 4 ]]; then
    echo "usage: walkthrough.sh SOURCE-DIR BUILD-DIR WORK-DIR [COMPILER-ID-VERSION]" >&2
    exit 2
fi
src=$(cd "$1" && pwd) build=$(cd "$2" && pwd) work=$3 compiler=${4:-GNU-12}
sim=$build/sim/anvil-sim
dbg=$build/sim/anvil-debug
trace_tool=$build/replay/anvil-trace
initramfs=$build/userspace/initramfs-race.cpio
for f in "$sim" "$dbg" "$trace_tool" "$initramfs"; do
    [[ -e $f ]] || { echo "walkthrough: $f is missing (build first)" >&2; exit 2; }
done

rm -rf "$work"
mkdir -p "$work/tmp"
cd "$work" || exit 2

# The docs show one build of the race program: Debian 12's (gcc 12). Another
# compiler (Debian 13's gcc 14) makes another program, with other block counts
# and so other schedules; this test then has nothing to compare and says so
# (exit 77: ctest reports it skipped). With gcc 12 a different initramfs means
# the docs are stale (a change to userspace moved the race): that fails. The
# initramfs hash in the doc's trace header names the build the docs show.
initramfs_id() { sed -n 's/.*initramfs \([0-9]*\) bytes (hash \([0-9a-f]*\)).*/\1 bytes, hash \2/p' | head -n 1; }
doc_id=$(initramfs_id < "$src/docs/replaying-a-bug.md")
"$sim" --initramfs "$initramfs" --cpus 1 --max-slices 1 --record "$work/probe.atrace" > /dev/null 2>&1
build_id=$("$trace_tool" stats "$work/probe.atrace" 2>/dev/null | initramfs_id)
[[ -n $doc_id && -n $build_id ]] || { echo "walkthrough: cannot read the initramfs of the doc ('$doc_id') or of this build ('$build_id')" >&2; exit 2; }
if [[ $doc_id != "$build_id" ]]; then
    if [[ $compiler != GNU-12.* && $compiler != GNU-12 ]]; then
        echo "skipped: the walkthroughs show the race initramfs of $doc_id (Debian 12's gcc 12); this build ($compiler) made $build_id"
        exit 77
    fi
    echo "walkthrough: the docs show the race initramfs of $doc_id, this gcc 12 build made $build_id:"
    echo "the walkthroughs are stale; the real output of every command follows, to paste"
    stale_initramfs=1
fi
failures=${stale_initramfs:-0}
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Both sides of a comparison go through this: trailing blanks dropped.
normalize() {
    sed -E -e 's/[[:space:]]+$//'
}

# extract DOC FIRST-HEADING PREFIX: splits the transcripts of DOC into
# PREFIX-N.cmd (the command) and PREFIX-N.out (the output the doc shows),
# from the heading FIRST-HEADING (or the start, if empty) on, skipping any
# section whose heading mentions QEMU.
extract() {
    local doc=$1 first=$2 prefix=$3
    local on=0 skip=0 fence=0 n=0 line
    [[ -z $first ]] && on=1
    : > "$prefix.prose"
    while IFS= read -r line; do
        if ((!fence)) && [[ $line == "## "* ]]; then
            if [[ -n $first && $line == "$first" ]]; then on=1; elif [[ -n $first ]] && ((on)); then on=0; fi
            [[ $line == *QEMU* ]] && skip=1 || skip=0
            continue
        fi
        if [[ $line == '```'* ]]; then
            fence=$((!fence))
            continue
        fi
        ((on && !skip)) || continue
        if ((!fence)); then printf '%s\n' "$line" >> "$prefix.prose"; continue; fi
        if [[ $line == '$ '* ]]; then
            n=$((n + 1))
            printf '%s\n' "${line#\$ }" > "$prefix-$n.cmd"
            : > "$prefix-$n.out"
        elif [[ $line == '(anvil) '* || $line == '(anvil)' ]] && ((n > 0)) &&
             [[ $(cat "$prefix-$n.cmd") == build/sim/anvil-debug* ]]; then
            printf '%s\n' "$line" >> "$prefix-$n.out"
            printf '%s\n' "${line#(anvil) }" >> "$prefix-$n.dbg"
        elif [[ $line == '(gdb) '* ]] && ((n > 0)) && [[ $(cat "$prefix-$n.cmd") == 'tools/anvil gdb '* ]]; then
            # gdb in batch mode does not echo its commands: they are the script only.
            printf '%s\n' "${line#(gdb) }" >> "$prefix-$n.gdb"
        elif ((n > 0)); then
            printf '%s\n' "$line" >> "$prefix-$n.out"
        fi
    done < "$doc"
    echo "$n"
}

# same_line ACTUAL DOC: the doc's line is the actual one, or the start of it
# where the doc cut it short ("TEXT, ..." for any line starting with "TEXT,").
same_line() {
    if [[ $2 == *', ...' ]]; then
        [[ $1 == "${2%' ...'}"* ]]
    else
        [[ $1 == "$2" ]]
    fi
}

# matches EXPECTED ACTUAL: every line of EXPECTED, in order, with `...` for
# any lines; prints the first line that does not match.
matches() {
    local -a exp act
    mapfile -t exp < "$1"
    mapfile -t act < "$2"
    local i=0 gap=0 e
    for e in "${exp[@]}"; do
        if [[ $e =~ ^[[:space:]]*\.\.\.$ ]]; then gap=1; continue; fi
        if ((gap)); then
            while ((i < ${#act[@]})) && ! same_line "${act[i]}" "$e"; do i=$((i + 1)); done
        fi
        if ((i >= ${#act[@]})) || ! same_line "${act[i]}" "$e"; then
            echo "doc line not in the output (or not there): $e"
            return 1
        fi
        i=$((i + 1)) gap=0
    done
    if ((!gap && i < ${#act[@]})); then
        echo "the output goes on past the doc's last line: ${act[i]}"
        return 1
    fi
}

# A path as a command in the doc names it, here: the doc's /tmp is
# WORK-DIR/tmp, its build/userspace this build's (a tree or build that lives
# under /tmp stays as it is).
doc_path() {
    if [[ $1 == /tmp/* ]]; then
        echo "$work/tmp/${1#/tmp/}"
    elif [[ $1 == build/userspace/* ]]; then
        echo "$build/userspace/${1#build/userspace/}"
    else
        echo "$1"
    fi
}

ran_sweep=0 ran_replay=0 ran_race=0 ran_debug=0 ran_gdb=0 lost=""

# check DOC FIRST-HEADING NAME: runs and compares every transcript of DOC.
check() {
    local doc=$1 first=$2 name=$3 n k cmd status=0 why
    n=$(extract "$src/$doc" "$first" "$work/$name")
    # shellcheck disable=SC2016 # the quotes are part of the message
    ((n > 0)) || { fail "$doc: no \`\$ COMMAND\` transcript found${first:+ under '$first'}"; return; }
    for ((k = 1; k <= n; k++)); do
        local base=$work/$name-$k
        cmd=$(cat "$base.cmd")
        local -a args
        read -ra args <<< "$cmd"
        local -a run=()
        case $cmd in
        'echo $?')
            echo "$status" > "$base.real" ;;
        'tools/anvil sweep '*)
            run=(bash "$src/tools/sweep.sh" --build "$build" "${args[@]:2}")
            [[ " $cmd " == *" --out "* ]] || run+=(--out sweeps)
            ran_sweep=1 ;;
        'tools/anvil replay '*)
            run=("$sim" --replay "${args[2]}" --initramfs "$initramfs")
            ran_replay=1 ;;
        'tools/anvil trace '*)
            run=("$trace_tool" "${args[@]:2}") ;;
        'build/sim/anvil-sim '* | 'build/sim/anvil-debug '*)
            local a
            for a in "${args[@]:1}"; do run+=("$(doc_path "$a")"); done
            if [[ $cmd == build/sim/anvil-debug* ]]; then
                [[ -e $base.dbg ]] || { fail "$doc: \`$cmd\` has no (anvil) session"; continue; }
                run=("$dbg" "${run[@]}" --script "$base.dbg")
                ran_debug=1
            else
                run=("$sim" "${run[@]}")
                [[ $cmd == *initramfs-race.cpio* ]] && ran_race=1
            fi ;;
        'tools/anvil gdb '*)
            # The command itself (it builds nothing here: the build is this
            # one), in batch mode with the doc's (gdb) lines as its script;
            # the run's console apart, as it goes to the terminal beside gdb's.
            [[ -e $base.gdb ]] || { fail "$doc: \`$cmd\` has no (gdb) session"; continue; }
            [[ $build == "$src/build" ]] || { echo "not checked: \`$cmd\` (tools/anvil uses $src/build, this build is $build)"; continue; }
            local a
            run=("$src/tools/anvil" gdb)
            for a in "${args[@]:2}"; do run+=("$(doc_path "$a")"); done
            run+=(--console "$base.console" -- -batch -nx -x "$base.gdb")
            ran_gdb=1 ;;
        *)
            fail "$doc: this test does not know how to run \`$cmd\` (tests/sim/walkthrough.sh)"
            continue ;;
        esac
        if ((${#run[@]})); then
            timeout 120 "${run[@]}" > "$base.real" 2>&1 < /dev/null
            status=$?
        fi
        # A sweep as a terminal shows it: the last progress line only.
        if [[ $cmd == 'tools/anvil sweep '* ]]; then
            local progress='^sweep: [0-9]+/[0-9]+ seeds, [0-9]+ failing$'
            grep -vE "$progress" "$base.real" > "$base.rest"
            { awk '/^sweep: /{exit} {print}' "$base.rest"
              grep -E "$progress" "$base.real" | tail -n 1
              sed -n '/^sweep: /,$p' "$base.rest"
            } > "$base.term"
            # The replay commands it names, as from the top of the tree.
            sed -E 's#(seed [0-9]+ exited [0-9]+[^:]*: ).*(sweeps/[^ ]*seed-[0-9]+\.atrace).*#\1tools/anvil replay \2#' \
                "$base.term" > "$base.real"
        fi
        # gdb names the tree's files by their paths and the stub by its port:
        # as from the top of the tree, and PORT.
        # (and a build tools/anvil found to do first is not the command's output)
        if [[ $cmd == 'tools/anvil gdb '* ]]; then
            sed -i -E -e "s#$src/##g" -e 's#127\.0\.0\.1:[0-9]+#127.0.0.1:PORT#g' -e '/^anvil: building /d' "$base.real"
        fi
        # Files the doc has in /tmp are in WORK-DIR/tmp.
        if [[ -s $base.real ]]; then
            local text
            text=$(< "$base.real")
            printf '%s\n' "${text//"$work/tmp/"//tmp/}" > "$base.real"
        fi
        # The debugger's prompt after the last command of the script.
        [[ $cmd == build/sim/anvil-debug* ]] && sed -i -e '${/^(anvil) *$/d}' "$base.real"
        if [[ -z $lost && $cmd == *initramfs-race.cpio* || -z $lost && $cmd == 'tools/anvil replay '* ]]; then
            lost=$(grep -oE '^race: lost [0-9]+ update' "$base.real" | grep -oE '[0-9]+')
        fi
        normalize < "$base.out" > "$base.exp"
        normalize < "$base.real" > "$base.got"
        if ! why=$(matches "$base.exp" "$base.got"); then
            fail "$doc: \`$cmd\`: $why"
            echo "--- the doc shows:"; cat "$base.out"
            echo "--- the command printed (exit $status):"; cat "$base.real"
            echo "---"
        else
            echo "ok: $doc: \`$cmd\`"
        fi
    done
}

check docs/replaying-a-bug.md "" replaying
check docs/debugging.md "## From a failing seed to the bug" debugging
check docs/debugging.md "## Source-level debugging with gdb" gdb

((ran_sweep)) || fail "docs/replaying-a-bug.md shows no race sweep"
((ran_replay)) || fail "docs/replaying-a-bug.md shows no replay"
((ran_race)) || fail "docs/debugging.md shows no run of the race initramfs"
((ran_debug)) || fail "docs/debugging.md shows no debugger session"
((ran_gdb)) || [[ $build != "$src/build" ]] || fail "docs/debugging.md shows no gdb session"

# The prose's counts of lost updates are the run's.
if [[ -z $lost ]]; then
    fail "no 'race: lost N updates' line in the walkthroughs' runs"
else
    for name in replaying debugging; do
        while IFS= read -r said; do
            n=$(grep -oE '[0-9]+' <<< "$said")
            [[ $n == "$lost" ]] || fail "the $name walkthrough says '$said', the run lost $lost"
        done < <(tr '\n' ' ' < "$work/$name.prose" | grep -oE 'lost (the same )?[0-9]+ updates?|seed [0-9]+ lost [0-9]+' |
                 sed -E 's/^seed [0-9]+ //')
    done
fi

if ((failures)); then
    echo "$failures mismatch(es) between the walkthroughs and this build"
    exit 1
fi
echo "the walkthroughs show this build's output"
