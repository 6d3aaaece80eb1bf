// Application processor start: the real-mode trampoline and the 64-bit entry.
//
// smp.cpp copies x86_ap_trampoline .. x86_ap_trampoline_end to a page below
// 1 MiB and sends INIT-SIPI-SIPI with that page. The AP starts at its first byte
// in real mode with CS = page >> 4, IP = 0. The code is position independent:
// it computes its physical base from CS, patches the GDT pointer and the far
// jump targets in its own page, and goes 16-bit -> 32-bit protected mode ->
// long mode on the boot page tables (boot.S: identity 0..4 GiB and the kernel
// window), then jumps to x86_ap_entry64 in the higher half, which switches to
// the kernel's page tables and the AP's own stack (x86_ap_boot, smp.cpp) and
// calls x86_ap_main.

#include "hal/x86_64/asm_defs.h"

#define CR0_PE (1 << 0)
#define CR0_WP (1 << 16)
#define CR0_NW (1 << 29)
#define CR0_CD (1 << 30)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)
#define AP_SEL_CODE32 0x08
#define AP_SEL_DATA 0x10
#define AP_SEL_CODE64 0x18

// Offset of a trampoline label from the start of the page.
#define T(label) ((label) - x86_ap_trampoline)

    .section .rodata
    .balign 16
    .global x86_ap_trampoline
    .global x86_ap_trampoline_end
    .global x86_ap_trampoline_alive
    .code16
x86_ap_trampoline:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    movzwl %ax, %ebx
    shl $4, %ebx                         // ebx = physical base of this page (kept)
    movl $1, T(x86_ap_trampoline_alive)  // tells the BSP the SIPI arrived
    leal T(ap_gdt)(%ebx), %eax
    movl %eax, T(ap_gdtr) + 2
    leal T(ap_pm32)(%ebx), %eax
    movl %eax, T(ap_far32)
    leal T(ap_lm64)(%ebx), %eax
    movl %eax, T(ap_far64)
    lgdtl T(ap_gdtr)
    mov %cr0, %eax
    or $CR0_PE, %eax
    mov %eax, %cr0
    ljmpl *T(ap_far32)

    .code32
ap_pm32:
    mov $AP_SEL_DATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $x86_boot_pml4, %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    rdmsr
    or $(EFER_LME | EFER_NXE), %eax      // NXE: the kernel tables use NX
    wrmsr
    mov %cr0, %eax
    and $~(CR0_CD | CR0_NW), %eax        // caches on (INIT leaves them off)
    or $(CR0_PG | CR0_WP | CR0_PE), %eax
    mov %eax, %cr0
    ljmpl *T(ap_far64)(%ebx)

    .code64
ap_lm64:
    movabs $x86_ap_entry64, %rax
    jmp *%rax

    .balign 8
ap_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff             // 0x08: 32-bit code
    .quad 0x00cf92000000ffff             // 0x10: data
    .quad 0x00af9a000000ffff             // 0x18: 64-bit code
ap_gdt_end:
ap_gdtr:
    .short ap_gdt_end - ap_gdt - 1
    .long 0                              // patched: physical address of ap_gdt
ap_far32:
    .long 0                              // patched: physical address of ap_pm32
    .short AP_SEL_CODE32
ap_far64:
    .long 0                              // patched: physical address of ap_lm64
    .short AP_SEL_CODE64
    .balign 4
x86_ap_trampoline_alive:
    .long 0
x86_ap_trampoline_end:

// In the higher half, still on the boot tables, interrupts off, no stack.
    .section .text
    .global x86_ap_entry64
x86_ap_entry64:
    mov x86_ap_boot + X86_AP_BOOT_CR3(%rip), %rax
    mov %rax, %cr3
    mov x86_ap_boot + X86_AP_BOOT_STACK_TOP(%rip), %rsp
    mov x86_ap_boot + X86_AP_BOOT_CPU_ID(%rip), %edi
    xor %ebp, %ebp
    call x86_ap_main
    ud2

    .section .note.GNU-stack, "", @progbits
