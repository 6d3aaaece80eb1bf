#!/usr/bin/env bash
# Writes a tiny static ELF64 x86-64 program for the hostile boot tests: the
# valid one, or one with a single thing wrong in its program headers.
#
# usage: tests/data/hostile_elf.sh KIND OUT
#   valid           one R X segment at 0x400000 whose first instruction is ud2
#                   (the kernel accepts it; init then faults: status 125)
#   past-eof        the segment claims 64 KiB of file bytes the file does not have
#   kernel-half     the segment (and entry) at 0xffffffff80000000, the kernel's half
#   wraps           vaddr + memsz wraps past 2^64 back into low memory
#   phdrs-past-eof  e_phnum claims 40 program headers; the file holds one
#   overlap         a second (R W) segment in the same page as the code
#   on-stack        the segment (and entry) where the kernel puts init's stack
#   huge            a 4 GiB segment (bss): more memory than the machine has
#   too-many        17 loadable segments, one a page (the kernel takes 16)
#   write-only      a second segment, W without R, on the next page (x86-64 has
#                   no write-only pages: the kernel maps it R W; init then faults
#                   on the ud2: status 125)
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 KIND OUT" >&2; exit 2; }
kind=$1
out=$2

# le VALUE BYTES: VALUE little-endian in BYTES bytes (bash arithmetic: 64-bit).
le() {
    local v=$1 n=$2 i byte
    for ((i = 0; i < n; i++)); do
        printf -v byte '\\x%02x' $(((v >> (8 * i)) & 0xff))
        printf "$byte"
    done
}

# phdr TYPE FLAGS OFFSET VADDR FILESZ MEMSZ (p_paddr = p_vaddr, p_align = 4096).
phdr() {
    le "$1" 4; le "$2" 4; le "$3" 8; le "$4" 8; le "$4" 8; le "$5" 8; le "$6" 8; le 4096 8
}

pt_load=1 pf_rx=5 pf_rw=6
base=0x400000
phnum=1 entry=$base vaddr=$base filesz=2 memsz=2 second=0 second_va=$((base + 0x800)) more=0
case $kind in
    valid) ;;
    past-eof) filesz=0x10000 memsz=0x10000 ;;
    kernel-half) vaddr=0xffffffff80000000 entry=$vaddr ;;
    wraps) memsz=0xffffffffffc01000 ;;
    phdrs-past-eof) ;;
    overlap) phnum=2 second=1 ;;
    on-stack) vaddr=0x7ffeffff0000 entry=$vaddr ;;
    huge) memsz=0x100000000 ;;
    too-many) phnum=17 more=16 ;;
    write-only) phnum=2 second=1 pf_rw=2 second_va=$((base + 0x1000)) ;;
    *) echo "hostile_elf: unknown kind '$kind'" >&2; exit 2 ;;
esac
code_off=$((64 + 56 * phnum))
header_phnum=$phnum
[[ $kind == phdrs-past-eof ]] && header_phnum=40

{
    # ELF header: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, then ET_EXEC, EM_X86_64.
    printf '\x7fELF\x02\x01\x01'; le 0 9
    le 2 2; le 62 2; le 1 4
    le "$entry" 8; le 64 8; le 0 8          # e_entry, e_phoff, e_shoff
    le 0 4; le 64 2; le 56 2; le "$header_phnum" 2; le 64 2; le 0 2; le 0 2
    phdr $pt_load $pf_rx $code_off "$vaddr" "$filesz" "$memsz"
    ((second)) && phdr $pt_load $pf_rw $code_off $second_va 2 16
    for ((i = 1; i <= more; i++)); do phdr $pt_load 4 $code_off $((base + i * 0x1000)) 2 2; done
    printf '\x0f\x0b'                        # ud2
} >"$out"
