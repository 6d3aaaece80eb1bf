// Constants shared by the x86_64 assembly (.S) and C++ sources.
//
// Plain macros so the assembler can use them; the C++ side checks every layout
// constant against the real struct with static_assert (cpu.h, trap.h).
#pragma once

// Virtual base of the kernel image (-mcmodel=kernel: top 2 GiB).
#define X86_KERNEL_VMA 0xffffffff80000000
// Virtual base of the direct map of physical memory.
#define X86_DIRECT_MAP_BASE 0xffff800000000000

// GDT selectors. SYSRET (unused) would need user32 code, user data, user code in a row.
#define X86_SEL_KERNEL_CODE 0x08
#define X86_SEL_KERNEL_DATA 0x10
#define X86_SEL_USER_CODE32 0x1b
#define X86_SEL_USER_DATA 0x23
#define X86_SEL_USER_CODE 0x2b
#define X86_SEL_TSS 0x30

// CpuStacks layout: guard page, then the kernel stack (boot.S starts CPU 0 on it).
#define X86_STACK_GUARD_SIZE 4096
#define X86_KERNEL_STACK_SIZE 16384

// PerCpu field offsets (reached through %gs in the kernel).
#define X86_PERCPU_SELF 0
#define X86_PERCPU_KSTACK_TOP 8
#define X86_PERCPU_USER_RSP 16
#define X86_PERCPU_CPU_ID 24
#define X86_PERCPU_USER_REGS 32

// x86::ApBoot field offsets (smp.h): what an AP reads on its way into the kernel.
#define X86_AP_BOOT_CR3 0
#define X86_AP_BOOT_STACK_TOP 8
#define X86_AP_BOOT_CPU_ID 16

// hal::UserRegs field offsets.
#define X86_UREGS_RIP 0
#define X86_UREGS_RSP 8
#define X86_UREGS_RFLAGS 16
#define X86_UREGS_RAX 24
#define X86_UREGS_RBX 32
#define X86_UREGS_RCX 40
#define X86_UREGS_RDX 48
#define X86_UREGS_RSI 56
#define X86_UREGS_RDI 64
#define X86_UREGS_RBP 72
#define X86_UREGS_R8 80
#define X86_UREGS_R9 88
#define X86_UREGS_R10 96
#define X86_UREGS_R11 104
#define X86_UREGS_R12 112
#define X86_UREGS_R13 120
#define X86_UREGS_R14 128
#define X86_UREGS_R15 136
#define X86_UREGS_FS_BASE 144

// Copies of hal::kUserRflagsMask / hal::kUserRflags for the resume stub.
#define X86_USER_RFLAGS_MASK 0xcd5
#define X86_USER_RFLAGS 0x202

// The GS base MSR (trap_common reads it on entries from ring 0).
#define X86_MSR_GS_BASE 0xc0000101

// TrapFrame.cs offset once the stub has pushed vector and error code.
#define X86_TRAP_CS_BEFORE_GPRS 24

// Interrupt vectors.
#define X86_VEC_DOUBLE_FAULT 8
#define X86_VEC_PIC_BASE 0x20    // legacy 8259s, remapped here and masked
#define X86_VEC_TIMER 0x40       // local APIC timer
#define X86_VEC_WAKE 0x41        // IPI from hal::cpu_wake: leave idle, ask next_to_run
#define X86_VEC_IRQ_BASE 0x50    // ISA IRQs 0..X86_IRQ_COUNT-1 through the IOAPIC (ioapic.cpp)
#define X86_IRQ_COUNT 16
#define X86_VEC_SHOOTDOWN 0xf0   // IPI: TLB shootdown request (served without the BKL)
#define X86_VEC_SPURIOUS 0xff    // local APIC spurious vector
#define X86_VEC_SYSCALL 0x100    // pseudo-vector of a `syscall` entry in TrapFrame

// IST slots in the TSS (1-based, as the IDT gate encodes them).
#define X86_IST_DOUBLE_FAULT 1
#define X86_IST_NMI 2
#define X86_IST_MACHINE_CHECK 3
