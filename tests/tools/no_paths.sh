#!/usr/bin/env bash
# Traces travel between checkouts (docs/replay.md, "Traces from elsewhere"):
# kernel.elf, every user program and every initramfs must be the same bytes
# wherever the tree is checked out, so none may hold the path of the source
# or build directory (in __FILE__, debug info or compilation directories).
# And gdb still finds the sources, which the debug info now names relative to
# the tree: `list` of a function of tally.c shows its lines with the
# `directory` tools/anvil debug --gdb tells gdb.
#   no_paths.sh SOURCE_DIR BUILD_DIR KERNEL_ELF USERSPACE_DIR TALLY_ELF
set -uo pipefail
[[ $# -eq 5 ]] || { echo "usage: $0 SOURCE_DIR BUILD_DIR KERNEL_ELF USERSPACE_DIR TALLY_ELF" >&2; exit 2; }
src=$1 build=$2 kernel=$3 userspace=$4 tally=$5
failed=0 checked=0 programs=0 archives=0

is_elf() { [[ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" == '177ELF' ]]; }

# The directory as a path of its own: not a tail of another path or word
# (a tree at /anvil must not match "libanvil/include/anvil/...").
holds() { grep -qaP "(^|[^A-Za-z0-9._/-])\Q$1\E(/|[^A-Za-z0-9._-]|\$)" "$2"; }

check() {
    local file=$1 dir
    for dir in "$src" "$build"; do
        if holds "$dir" "$file"; then
            echo "FAILED: $file holds the path $dir ($(grep -caF "$dir" "$file") lines; strings -a $file | grep $dir)"
            failed=1
        fi
    done
    checked=$((checked + 1))
}

[[ -f $kernel ]] || { echo "FAILED: no kernel ELF at $kernel"; exit 1; }
check "$kernel"
# The programs as linked (gdb reads these), the copies packed, the archives.
while IFS= read -r -d '' f; do
    if [[ $f == *.cpio ]]; then
        check "$f"
        archives=$((archives + 1))
    elif is_elf "$f"; then
        check "$f"
        programs=$((programs + 1))
    fi
done < <(find "$userspace" -maxdepth 2 -type f -print0)
# Nothing checked is no pass.
if [[ $programs -lt 5 || $archives -lt 3 ]]; then
    echo "FAILED: only $programs user programs and $archives initramfs archives found under $userspace"
    exit 1
fi
echo "checked $checked files (kernel.elf, $programs user programs, $archives initramfs archives) for $src and $build"

if command -v gdb >/dev/null; then
    out=$(cd / && gdb -batch -nx -ex "directory $src" -ex 'list tally' "$tally" 2>&1)
    if grep -q 'total += n' <<<"$out"; then
        echo "ok: gdb lists tally.c from $tally (sources found with 'directory $src')"
    else
        echo "FAILED: gdb did not find tally.c's source: $out"
        failed=1
    fi
fi
[[ $failed == 0 ]] && echo "no built file names the checkout's path"
exit $failed
