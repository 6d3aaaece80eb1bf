// Kernel entry from user mode, interrupts and exceptions; the resume path.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <hal/hal.h>

#include "hal/x86_64/asm_defs.h"

namespace x86 {

// What the entry stubs (entry.S) push on the kernel stack: the GPRs, then the
// vector and error code, then the CPU's interrupt frame. A `syscall` entry
// builds the same frame with vector X86_VEC_SYSCALL.
struct TrapFrame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};
static_assert(offsetof(TrapFrame, cs) - offsetof(TrapFrame, vector) == X86_TRAP_CS_BEFORE_GPRS);
static_assert(sizeof(TrapFrame) % 16 == 0);

static_assert(offsetof(hal::UserRegs, rip) == X86_UREGS_RIP);
static_assert(offsetof(hal::UserRegs, rsp) == X86_UREGS_RSP);
static_assert(offsetof(hal::UserRegs, rflags) == X86_UREGS_RFLAGS);
static_assert(offsetof(hal::UserRegs, rax) == X86_UREGS_RAX);
static_assert(offsetof(hal::UserRegs, rbx) == X86_UREGS_RBX);
static_assert(offsetof(hal::UserRegs, rcx) == X86_UREGS_RCX);
static_assert(offsetof(hal::UserRegs, rdx) == X86_UREGS_RDX);
static_assert(offsetof(hal::UserRegs, rsi) == X86_UREGS_RSI);
static_assert(offsetof(hal::UserRegs, rdi) == X86_UREGS_RDI);
static_assert(offsetof(hal::UserRegs, rbp) == X86_UREGS_RBP);
static_assert(offsetof(hal::UserRegs, r8) == X86_UREGS_R8);
static_assert(offsetof(hal::UserRegs, r9) == X86_UREGS_R9);
static_assert(offsetof(hal::UserRegs, r10) == X86_UREGS_R10);
static_assert(offsetof(hal::UserRegs, r11) == X86_UREGS_R11);
static_assert(offsetof(hal::UserRegs, r12) == X86_UREGS_R12);
static_assert(offsetof(hal::UserRegs, r13) == X86_UREGS_R13);
static_assert(offsetof(hal::UserRegs, r14) == X86_UREGS_R14);
static_assert(offsetof(hal::UserRegs, r15) == X86_UREGS_R15);
static_assert(offsetof(hal::UserRegs, fs_base) == X86_UREGS_FS_BASE);
static_assert(hal::kUserRflagsMask == X86_USER_RFLAGS_MASK);
static_assert(hal::kUserRflags == X86_USER_RFLAGS);

// Copies the user registers of an entry from ring 3 (and the FS base MSR) into *r.
void save_user_regs(const TrapFrame& f, hal::UserRegs* r);

// Asks the kernel what this CPU runs next and goes there: ring 3 or idle. Called
// with the big kernel lock held; drops it just before iretq or the idle halt.
[[noreturn]] void resume(uint32_t cpu);

}  // namespace x86

// Implemented in entry.S.
extern "C" {
// 256 entry stubs of 16 bytes each; the IDT gate of vector v points at v * 16.
extern const uint8_t x86_vector_stubs[];
// The LSTAR target.
void x86_syscall_entry();
// Loads *regs (rflags sanitised) and returns to ring 3 with iretq; the kernel
// stack is reset to `kernel_stack_top`.
[[noreturn]] void x86_enter_user(const hal::UserRegs* regs, uint64_t kernel_stack_top);
// The iretq of x86_enter_user (a fault there is reported with the user's frame).
extern const uint8_t x86_iret_to_user[];
// Resets the kernel stack and halts with interrupts on until one arrives.
[[noreturn]] void x86_idle(uint64_t kernel_stack_top);
// Returns to the context the frame interrupted (user mode or the idle loop),
// exactly as it was: for interrupts that are not kernel entries.
[[noreturn]] void x86_trap_return(const x86::TrapFrame* frame);
// Called by the stubs with the frame they pushed (C++, trap.cpp).
[[noreturn]] void x86_trap(x86::TrapFrame* frame);
}
