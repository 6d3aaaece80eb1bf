#!/usr/bin/env bash
# Builds a BIOS-bootable GRUB2 ISO that boots kernel.elf (multiboot2) with the
# initramfs as its module.
#
# usage: tools/mkiso.sh KERNEL_ELF INITRAMFS OUT_ISO [CMDLINE]
# needs: grub-mkrescue (grub-common, grub-pc-bin), xorriso, mtools
set -euo pipefail

if [[ $# -lt 3 || $# -gt 4 ]]; then
    echo "usage: $0 KERNEL_ELF INITRAMFS OUT_ISO [CMDLINE]" >&2
    exit 2
fi
kernel=$1
initramfs=$2
out=$3
cmdline=${4:-}

for f in "$kernel" "$initramfs"; do
    [[ -f $f ]] || { echo "mkiso: no such file: $f" >&2; exit 1; }
done
command -v grub-mkrescue >/dev/null || {
    echo "mkiso: grub-mkrescue not found (apt-get install grub-common grub-pc-bin xorriso mtools)" >&2
    exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/iso/boot/grub"
cp "$kernel" "$work/iso/boot/kernel.elf"
cp "$initramfs" "$work/iso/boot/initramfs.cpio"
cat >"$work/iso/boot/grub/grub.cfg" <<CFG
set timeout=0
multiboot2 /boot/kernel.elf $cmdline
module2 /boot/initramfs.cpio initramfs
boot
CFG

mkdir -p "$(dirname "$out")"
if ! grub-mkrescue --locales= --fonts= --themes= -o "$out.tmp" "$work/iso" >"$work/log" 2>&1; then
    cat "$work/log" >&2
    echo "mkiso: grub-mkrescue failed" >&2
    rm -f "$out.tmp"
    exit 1
fi
mv "$out.tmp" "$out"
