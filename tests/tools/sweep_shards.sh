#!/usr/bin/env bash
# Sweeps across machines, on this one: the GNU parallel path
# (tools/sweep-parallel.sh, parallel's ':' login) runs the race workload's
# seeds as two shards and merges them; the merged summary, report and kept
# traces must be the unsharded sweep's of the same seeds. Then merge refuses
# what does not make one sweep (a shard missing, a shard of another sweep, a
# file in the way), changing nothing.
#
# usage: sweep_shards.sh SOURCE-DIR BUILD-DIR WORK-DIR
set -uo pipefail
[[ $# -eq 3 ]] || { echo "usage: $0 SOURCE-DIR BUILD-DIR WORK-DIR" >&2; exit 2; }
src=$1 build=$2 work=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
seeds=1..12

bash "$src/tools/sweep.sh" --build "$build" --seeds $seeds --workload race --jobs 1 --out whole >whole.out 2>&1
[[ $? -eq 1 ]] || fail "the unsharded sweep did not exit 1 (the race workload fails for some of $seeds): $(cat whole.out)"
"$src/tools/sweep-parallel.sh" --shards 2 --build "$build" --out sharded -- --seeds $seeds --workload race --jobs 1 \
    >sharded.out 2>&1
[[ $? -eq 1 ]] || fail "the sharded sweep did not exit 1: $(tail -n 5 sharded.out)"
cat sharded.out

grep -q '^shard 0/2$' sharded/shard-0/shard-0-of-2.summary && grep -q '^shard 1/2$' sharded/shard-1/shard-1-of-2.summary ||
    fail "the shards did not write their summaries"
cmp whole/sweep.summary sharded/sweep.summary || fail "the merged summary differs from the unsharded sweep's"
# The report, but for the directory it names.
diff <(grep -v '^sweep: [0-9]*/[0-9]* seeds' whole.out | sed 's#whole/#DIR/#g') \
    <(sed -n '/^sweep: merged/,$p' sharded.out | sed 1d | sed 's#sharded/#DIR/#g') ||
    fail "the merged report differs from the unsharded sweep's"
kept=$(cd whole && ls seed-*.atrace | sort)
[[ -n $kept ]] || fail "the unsharded sweep kept no trace"
[[ $kept == "$(cd sharded && ls seed-*.atrace | sort)" ]] || fail "the merge kept other traces than the unsharded sweep"
for t in $kept; do
    cmp "whole/$t" "sharded/$t" || fail "$t differs between the unsharded sweep and the merge"
    [[ -f sharded/${t%.atrace}.log ]] || fail "the merge did not copy ${t%.atrace}.log"
done
echo "merged 2 shards: the summary, the report and $(wc -w <<<"$kept") kept traces are the unsharded sweep's"

# Refusals, each exit 2 with a message, nothing written.
expect_refusal() {
    local what=$1 pattern=$2
    shift 2
    local out
    out=$(bash "$src/tools/sweep.sh" merge --build "$build" "$@" 2>&1)
    [[ $? -eq 2 ]] || fail "merge with $what did not exit 2: $out"
    grep -q "$pattern" <<<"$out" || fail "merge with $what did not say '$pattern': $out"
    echo "merge with $what: $out"
}
expect_refusal "a shard missing" "shard 1/2 is missing" --out m1 sharded/shard-0
[[ ! -e m1/sweep.summary ]] || fail "a refused merge wrote a summary"
bash "$src/tools/sweep.sh" --build "$build" --seeds 1..10 --shard 1/2 --workload race --jobs 1 --out other >/dev/null 2>&1
expect_refusal "a shard of another sweep" "is from another sweep" --out m2 sharded/shard-0 other
mkdir -p m3 && echo "mine" >m3/seed-10.atrace
expect_refusal "a different file in the way" "exists and differs" --out m3 sharded/shard-0 sharded/shard-1
[[ $(cat m3/seed-10.atrace) == mine && $(ls m3) == seed-10.atrace ]] ||
    fail "a refused merge changed its --out directory: $(ls m3)"
echo "PASS"
