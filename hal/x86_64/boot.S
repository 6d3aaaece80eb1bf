// Multiboot2 header and the 32-bit entry from GRUB into 64-bit long mode.
//
// GRUB enters boot_entry32 in 32-bit protected mode, paging off, with eax = the
// multiboot2 magic and ebx = the physical address of the boot information. This
// code runs at its load address (1 MiB, identity) with no stack, builds early
// page tables (identity map and the kernel window at -2 GiB, both covering the
// first 4 GiB / 1 GiB with 2 MiB pages), enables PAE + EFER.LME/NXE + paging,
// and jumps to the higher half. x86_boot_main then builds the real tables.

#include "hal/x86_64/asm_defs.h"

#define MB2_HEADER_MAGIC 0xe85250d6
#define MB2_ARCH_I386 0
#define MB2_HEADER_LENGTH (mb2_header_end - mb2_header)
#define MB2_TAG_END 0
#define MB2_TAG_MODULE_ALIGN 6

#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)
#define CR0_PE (1 << 0)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4
#define PANIC_EXIT_CODE 126

    .section .multiboot2, "a"
    .balign 8
mb2_header:
    .long MB2_HEADER_MAGIC
    .long MB2_ARCH_I386
    .long MB2_HEADER_LENGTH
    .long 0x100000000 - (MB2_HEADER_MAGIC + MB2_ARCH_I386 + MB2_HEADER_LENGTH)
    .balign 8
    .short MB2_TAG_MODULE_ALIGN, 0      // page-align modules
    .long 8
    .balign 8
    .short MB2_TAG_END, 0
    .long 8
mb2_header_end:

// Early page tables, zeroed by boot_entry32 (not relying on the loader).
    .section .boot.bss, "aw", @nobits
    .balign 4096
    .global x86_boot_pml4                // also the APs' tables on their way to long mode (ap_boot.S)
x86_boot_pml4:
boot_pml4:
    .skip 4096
boot_pdpt_low:
    .skip 4096
boot_pdpt_high:
    .skip 4096
boot_pd:                                 // 4 PDs: 2 MiB pages over 0..4 GiB
    .skip 4 * 4096
boot_tables_end:

    .section .boot.rodata, "a"
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff             // 0x08: 64-bit code
    .quad 0x00cf92000000ffff             // 0x10: data
boot_gdt_end:
boot_gdtr:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt
msg_no_multiboot:
    .asciz "x86_64: not started by a multiboot2 loader\n"
msg_no_long_mode:
    .asciz "x86_64: this CPU lacks long mode or NX\n"

    .section .boot.text, "ax"
    .code32
    .global boot_entry32
boot_entry32:
    cli
    cld
    mov %eax, %ebp                       // multiboot2 magic
    // ebx (boot information) is kept in esi from here on.
    mov %ebx, %esi

    cmp $0x36d76289, %ebp
    mov $msg_no_multiboot, %edi
    jne boot_fail32

    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    mov $msg_no_long_mode, %edi
    jb boot_fail32
    mov $0x80000001, %eax
    cpuid
    test $(1 << 29), %edx                // long mode
    jz boot_fail32
    test $(1 << 20), %edx                // NX
    jz boot_fail32

    mov $boot_pml4, %edi
    mov $((boot_tables_end - boot_pml4) / 4), %ecx
    xor %eax, %eax
    rep stosl

    // PML4[0] -> identity PDPT, PML4[511] -> kernel-window PDPT.
    movl $(boot_pdpt_low + PTE_P + PTE_W), boot_pml4
    movl $(boot_pdpt_high + PTE_P + PTE_W), boot_pml4 + 511 * 8
    // Identity: PDPT[0..3] -> the 4 PDs. Kernel window: PDPT[510] -> PD 0.
    mov $(boot_pd + PTE_P + PTE_W), %eax
    mov %eax, boot_pdpt_high + 510 * 8
    xor %ecx, %ecx
1:  mov %eax, boot_pdpt_low(, %ecx, 8)
    add $4096, %eax
    inc %ecx
    cmp $4, %ecx
    jb 1b
    // 2048 PD entries of 2 MiB: entry i maps i * 2 MiB (below 4 GiB: high dword 0).
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $(PTE_P + PTE_W + PTE_PS), %eax
    mov %eax, boot_pd(, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jb 1b

    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $MSR_EFER, %ecx
    rdmsr
    or $(EFER_LME | EFER_NXE), %eax
    wrmsr
    mov %cr0, %eax
    or $(CR0_PG | CR0_WP | CR0_PE), %eax
    mov %eax, %cr0

    lgdt boot_gdtr
    ljmp $X86_SEL_KERNEL_CODE, $boot_entry64

// Prints the NUL-terminated message at edi on COM1 and stops QEMU (panic code).
boot_fail32:
    mov $COM1 + 5, %dx
2:  inb %dx, %al                          // wait for THR empty
    test $0x20, %al
    jz 2b
    mov (%edi), %al
    test %al, %al
    jz 3f
    mov $COM1, %dx
    outb %al, %dx
    inc %edi
    mov $COM1 + 5, %dx
    jmp 2b
3:  mov $DEBUG_EXIT_PORT, %dx
    mov $PANIC_EXIT_CODE, %eax
    outl %eax, %dx
4:  cli
    hlt
    jmp 4b

    .code64
boot_entry64:
    mov $X86_SEL_KERNEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    movabs $kernel_entry64, %rax
    jmp *%rax

    .section .text
kernel_entry64:
    // Zero .bss (no stack in use yet), then run C++.
    mov $__bss_start, %rdi
    mov $__bss_end, %rcx
    sub %rdi, %rcx
    shr $3, %rcx
    xor %eax, %eax
    rep stosq
    // Boot on CPU 0's kernel stack (below it: a guard page, once paging_init runs).
    mov $(x86_cpu_stacks + X86_STACK_GUARD_SIZE + X86_KERNEL_STACK_SIZE), %rsp
    mov %ebp, %edi                       // magic
    mov %esi, %esi                       // boot information (zero-extended)
    xor %ebp, %ebp
    call x86_boot_main
    ud2

    .section .note.GNU-stack, "", @progbits
