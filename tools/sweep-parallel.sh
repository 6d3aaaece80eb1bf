#!/usr/bin/env bash
# A seed sweep spread over machines with GNU parallel: shard I of N runs on
# whichever machine parallel gives it (`tools/sweep.sh --shard I/N`), and the
# shards' summaries and kept traces are merged into one report
# (`tools/sweep.sh merge`), the one the unsharded sweep would print.
#
# usage: tools/sweep-parallel.sh --shards N [--sshlogin LOGINS] [--out DIR]
#                                [--build DIR] -- SWEEP-OPTIONS...
# --shards N        how many shards (each one sweep process, with its own --jobs)
# --sshlogin LOGINS parallel's --sshlogin list, e.g. '4/build1,4/build2' (4
#                   shards at a time on each); ':' is this machine (default).
#                   Every machine must have this tree at the same path, at the
#                   same commit, built (tools/anvil build), since the trace
#                   names the build and initramfs; ssh logins without a password.
# --out DIR         the merged report's directory (default: sweeps/); shard I
#                   writes DIR/shard-I/ on the machine that ran it, which
#                   parallel copies back (--return) before the merge
# --build DIR       the build directory (default: build)
# SWEEP-OPTIONS     the sweep's own (--seeds A..B required; not --out or --shard)
# exit: the merge's (0 every seed passed, 1 some failed, 2 bad arguments or
# shards that do not make one sweep).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage_error() {
    echo "sweep-parallel: $*" >&2
    echo "usage: tools/sweep-parallel.sh --shards N [--sshlogin LOGINS] [--out DIR] [--build DIR] -- SWEEP-OPTIONS..." >&2
    exit 2
}

shards="" logins=":" out="sweeps" build="$ROOT/build"
while [[ $# -gt 0 ]]; do
    case $1 in
    --shards) [[ $# -ge 2 ]] || usage_error "--shards needs a number"; shards=$2; shift 2 ;;
    --sshlogin) [[ $# -ge 2 ]] || usage_error "--sshlogin needs parallel's login list"; logins=$2; shift 2 ;;
    --out) [[ $# -ge 2 ]] || usage_error "--out needs a directory"; out=$2; shift 2 ;;
    --build) [[ $# -ge 2 ]] || usage_error "--build needs a directory"; build=$2; shift 2 ;;
    -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    --) shift; break ;;
    *) usage_error "unknown option '$1' (the sweep's options go after --)" ;;
    esac
done
[[ $shards =~ ^[0-9]{1,4}$ ]] && ((10#$shards >= 1)) || usage_error "--shards must be a positive number (got '$shards')"
shards=$((10#$shards))
for a in "$@"; do
    case $a in --out | --shard | --build) usage_error "give $a to sweep-parallel, not to the sweep" ;; esac
done
"$ROOT/tools/sweep.sh" --check-args --shard "0/$shards" "$@" || exit 2
command -v parallel >/dev/null || { echo "sweep-parallel: GNU parallel is not installed (Debian: apt-get install parallel)" >&2; exit 2; }
[[ $out == /* ]] || out="$PWD/$out"
[[ $build == /* ]] || build="$PWD/$build"
mkdir -p "$out" || exit 2

# Each shard's status is its sweep's (1 when a seed failed): parallel's own
# exit status counts those, so the merge decides.
parallel --will-cite --line-buffer --sshlogin "$logins" --workdir "$ROOT" --return "$out/shard-{}" \
    "$ROOT/tools/sweep.sh" --build "$build" --shard "{}/$shards" --out "$out/shard-{}" "$@" \
    ::: $(seq 0 $((shards - 1)))
shard_dirs=()
for ((i = 0; i < shards; i++)); do shard_dirs+=("$out/shard-$i"); done
exec "$ROOT/tools/sweep.sh" merge --build "$build" --out "$out" "${shard_dirs[@]}"
