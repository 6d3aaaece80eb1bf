// Kernel entry stubs (interrupts, exceptions, syscall) and the way back to ring 3.
//
// Every entry builds an x86::TrapFrame on the per-CPU kernel stack and calls
// x86_trap, which never returns: the kernel is event-driven, so no kernel frame
// survives an entry and each exit starts again from the top of the stack.

#include "hal/x86_64/asm_defs.h"

    .section .text

// Push the GPRs in x86::TrapFrame order (rax ends up highest).
.macro PUSH_GPRS
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
.endm

// 256 stubs, 16 bytes apart. Vectors where the CPU pushes an error code push only
// the vector; the others push a zero error code first. The legacy PIC range and
// the APIC spurious vector just return (no EOI is due for a spurious interrupt).
// Largest stub: pushq $0 (2) + pushq $imm32 (5) + jmp rel32 (5) = 12 bytes.
    .balign 16
    .global x86_vector_stubs
x86_vector_stubs:
    .set vec, 0
    .rept 256
    .balign 16                           // a stub is at most 12 bytes
    .if (vec >= X86_VEC_PIC_BASE && vec < X86_VEC_PIC_BASE + 16) || vec == X86_VEC_SPURIOUS
    iretq
    .else
    .if vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30
    .else
    pushq $0
    .endif
    pushq $vec
    jmp trap_common
    .endif
    .set vec, vec + 1
    .endr

trap_common:
    // Coming from ring 3: switch GS to this CPU's PerCpu.
    testb $3, X86_TRAP_CS_BEFORE_GPRS(%rsp)
    jnz 2f
    // From ring 0. Between the swapgs and the iretq of a way back to ring 3,
    // GS holds the user's base: an exception there (a kernel bug) must still
    // find PerCpu, or it would fault again on every PerCpu access. Kernel GS
    // bases are kernel-half addresses (bit 63 set), user ones never are.
    push %rax
    push %rcx
    push %rdx
    mov $X86_MSR_GS_BASE, %ecx
    rdmsr
    test %edx, %edx
    pop %rdx
    pop %rcx
    pop %rax
    js 1f
2:
    swapgs
1:
    PUSH_GPRS
    // Known flags for C++: DF and AC (user-settable, AC would lift SMAP) clear.
    pushq $2
    popfq
    mov %rsp, %rdi
    xor %ebp, %ebp
    call x86_trap
    ud2

// SYSCALL: rcx = user rip, r11 = user rflags; SFMASK clears every flag, so the
// kernel runs with rflags 0x2 from here on (NT, AC, DF, TF as the user left
// them would break iretq, lift SMAP, reverse string ops or single-step).
    .global x86_syscall_entry
x86_syscall_entry:
    swapgs
    mov %rsp, %gs:X86_PERCPU_USER_RSP
    mov %gs:X86_PERCPU_KSTACK_TOP, %rsp
    pushq $X86_SEL_USER_DATA             // ss
    pushq %gs:X86_PERCPU_USER_RSP        // rsp
    push %r11                            // rflags
    pushq $X86_SEL_USER_CODE             // cs
    push %rcx                            // rip
    pushq $0                             // error
    pushq $X86_VEC_SYSCALL               // vector
    PUSH_GPRS
    mov %rsp, %rdi
    xor %ebp, %ebp
    call x86_trap
    ud2

// x86_enter_user(const hal::UserRegs* regs /* rdi */, uint64_t kernel_stack_top /* rsi */)
// CR3 and FS base are already loaded by the caller.
    .global x86_enter_user
x86_enter_user:
    mov %rsi, %rsp
    pushq $X86_SEL_USER_DATA             // ss
    pushq X86_UREGS_RSP(%rdi)            // rsp
    mov X86_UREGS_RFLAGS(%rdi), %rax
    and $X86_USER_RFLAGS_MASK, %rax
    or $X86_USER_RFLAGS, %rax
    push %rax                            // rflags
    pushq $X86_SEL_USER_CODE             // cs
    pushq X86_UREGS_RIP(%rdi)            // rip
    mov X86_UREGS_RAX(%rdi), %rax
    mov X86_UREGS_RBX(%rdi), %rbx
    mov X86_UREGS_RCX(%rdi), %rcx
    mov X86_UREGS_RDX(%rdi), %rdx
    mov X86_UREGS_RSI(%rdi), %rsi
    mov X86_UREGS_RBP(%rdi), %rbp
    mov X86_UREGS_R8(%rdi), %r8
    mov X86_UREGS_R9(%rdi), %r9
    mov X86_UREGS_R10(%rdi), %r10
    mov X86_UREGS_R11(%rdi), %r11
    mov X86_UREGS_R12(%rdi), %r12
    mov X86_UREGS_R13(%rdi), %r13
    mov X86_UREGS_R14(%rdi), %r14
    mov X86_UREGS_R15(%rdi), %r15
    mov X86_UREGS_RDI(%rdi), %rdi
    swapgs
    .global x86_iret_to_user
x86_iret_to_user:                        // trap.cpp names a fault here
    iretq

// x86_trap_return(const x86::TrapFrame* frame /* rdi */): back to where the frame
// came from (ring 3, or the idle loop), registers as they were.
    .global x86_trap_return
x86_trap_return:
    mov %rdi, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp                        // vector, error
    testb $3, 8(%rsp)                    // CS of the interrupted context
    jz 1f
    swapgs
1:
    iretq

// x86_idle(uint64_t kernel_stack_top /* rdi */): wait for an interrupt. A real
// event enters the kernel through trap_common and never comes back here.
    .global x86_idle
x86_idle:
    mov %rdi, %rsp
    xor %ebp, %ebp
1:
    sti
    hlt
    cli
    jmp 1b

// bool x86_rdmsr_probe(uint32_t msr /* edi */, uint64_t* value /* rsi */): rdmsr
// of an MSR the CPU may not have. Its #GP resumes at x86_rdmsr_probe_fault
// (x86_trap, rdmsr_probe_fixup), which returns false.
    .global x86_rdmsr_probe, x86_rdmsr_probe_insn, x86_rdmsr_probe_fault
x86_rdmsr_probe:
    mov %edi, %ecx
x86_rdmsr_probe_insn:
    rdmsr
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, (%rsi)
    mov $1, %eax
    ret
x86_rdmsr_probe_fault:
    xor %eax, %eax
    ret

    .section .note.GNU-stack, "", @progbits
