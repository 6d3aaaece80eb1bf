#!/usr/bin/env bash
# Portability check: runs the README's two commands (tools/anvil run, then
# tools/anvil test) on a fresh Debian 12 or 13 made with debootstrap, so a
# missing install step or a package that is named differently on that release
# shows up here rather than on a new user's machine. tools/anvil test
# --debian N runs this; .ci/run runs it for Debian 13.
#
# usage: tools/debian-check.sh --release 12|13 [--fresh] [-- CTEST-ARGS...]
# --release N  the Debian release: 12 (bookworm) or 13 (trixie)
# --fresh      make the cached base root again (debootstrap) before the check
# -h, --help   this text
# Anything after -- goes to `tools/anvil test` inside the root (e.g. -E qemu).
#
# The base root (debootstrap --variant=minbase, nothing of Anvil's installed)
# is made once and kept in $ANVIL_DEBIAN_CACHE/debian-N/base (default
# /var/cache/anvil); the .deb files apt downloads are kept beside it, in
# debian-N/apt-archives. Each check copies the base root to debian-N/run
# (replacing the last check's), copies the working tree's files into it as
# /anvil (tracked and untracked, not ignored: no build directories), and runs
# both commands there in a private mount namespace (proc, sys, dev bound in;
# nothing stays mounted afterwards). The commands install Anvil's packages
# themselves, as they do on a new machine.
#
# Needs root (debootstrap, chroot, mounts); installs debootstrap if missing.
# exit: what tools/anvil run or tools/anvil test exited with inside the root
# (the first that failed), 1 if the root could not be made, 2 for bad arguments.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${ANVIL_DEBIAN_CACHE:-/var/cache/anvil}"
MIRROR="${ANVIL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

usage() { sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
usage_error() {
    echo "debian-check: $*" >&2
    echo "usage: tools/anvil test --debian 12|13 [--fresh] [CTEST-ARGS]  (tools/debian-check.sh --help)" >&2
    exit 2
}
fail() { echo "debian-check: $*" >&2; exit 1; }
say() { echo "debian-check: $*" >&2; }

release="" fresh=0 ctest_args=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --release) [[ $# -ge 2 ]] || usage_error "--release needs 12 or 13"; release=$2; shift 2 ;;
    --fresh) fresh=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; ctest_args=("$@"); break ;;
    *) usage_error "unknown option '$1'" ;;
    esac
done
case $release in
12) suite=bookworm ;;
13) suite=trixie ;;
"") usage_error "which release? --release 12 or --release 13" ;;
*) usage_error "Debian $release is not one Anvil supports (12 or 13)" ;;
esac

[[ "$(id -u)" == 0 ]] || fail "needs root (debootstrap, chroot and mounts); run it as root"
command -v unshare >/dev/null || fail "needs unshare (util-linux)"
if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
        fail "could not install debootstrap (apt-get install debootstrap)"
fi

dir="$CACHE/debian-$release"
base="$dir/base" run="$dir/run" archives="$dir/apt-archives"
mkdir -p "$dir" "$archives" || fail "cannot create $dir"
start=$(date +%s)

if [[ $fresh == 1 || ! -f "$base/.anvil-complete" ]]; then
    rm -rf "$base"
    say "making a Debian $release ($suite) root with debootstrap in $base (a few minutes, once)"
    debootstrap --variant=minbase "$suite" "$base" "$MIRROR" >"$dir/debootstrap.log" 2>&1 ||
        { tail -n 20 "$dir/debootstrap.log" >&2; fail "debootstrap failed (log: $dir/debootstrap.log)"; }
    touch "$base/.anvil-complete"
fi

say "copying the base root to $run"
rm -rf "$run"
cp -a "$base" "$run" || fail "cannot copy $base to $run"
cp /etc/resolv.conf "$run/etc/resolv.conf" 2>/dev/null || true
mkdir -p "$run/anvil"
# The working tree as a user would have it after a clone (plus local changes).
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$run/anvil" ||
    fail "cannot copy the working tree into $run/anvil"
say "copied the tree ($(du -sh "$run/anvil" | cut -f1)) in $(( $(date +%s) - start )) s"

# Inside: exactly the README's two commands, each timed; the apt archive is
# the cached one so .deb files are downloaded once.
printf -v quoted_args ' %q' "${ctest_args[@]}"
[[ ${#ctest_args[@]} -gt 0 ]] || quoted_args=""
inner='
set -u
export DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cd /anvil
echo "debian-check: Debian $(cat /etc/debian_version): tools/anvil run" >&2
t0=$(date +%s)
tools/anvil run
run_status=$?
t1=$(date +%s)
echo "debian-check: tools/anvil run exited $run_status in $((t1 - t0)) s" >&2
[[ $run_status == 0 ]] || exit $run_status
echo "debian-check: tools/anvil test'"$quoted_args"'" >&2
tools/anvil test'"$quoted_args"'
test_status=$?
echo "debian-check: tools/anvil test exited $test_status in $(( $(date +%s) - t1 )) s" >&2
exit $test_status
'
unshare --mount --propagation private bash -c '
set -e
run=$1 archives=$2
mount -t proc proc "$run/proc"
mount --rbind /sys "$run/sys"
mount --rbind /dev "$run/dev"
mount --bind "$archives" "$run/var/cache/apt/archives"
mount -t tmpfs tmpfs "$run/tmp"
shift 2
exec chroot "$run" /bin/bash -c "$1"
' unshare-check "$run" "$archives" "$inner"
status=$?
say "Debian $release: the README's commands exited $status (whole check $(( $(date +%s) - start )) s; root kept in $run)"
exit $status
