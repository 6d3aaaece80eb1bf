// Per-CPU state, descriptor tables and CPU feature setup.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <hal/hal.h>

#include "hal/x86_64/asm_defs.h"
#include "hal/x86_64/io_bitmap.h"

namespace x86 {

struct TrapFrame;

constexpr uint32_t kMaxCpus = 16;
constexpr size_t kKernelStackSize = X86_KERNEL_STACK_SIZE;
constexpr size_t kIstStackSize = 4096;
constexpr size_t kGdtEntries = 8;  // null, kcode, kdata, ucode32, udata, ucode, tss (2 slots)

// 64-bit task state segment with an I/O permission bitmap for every port.
struct [[gnu::packed]] Tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
    // A clear bit lets CPL 3 use that port (ioport.cpp opens the running space's grants).
    uint8_t io_bitmap[kIoBitmapBytes];
    // 0xff: a check reads two bitmap bytes, for the last ports this one, which
    // must lie inside the TSS limit.
    uint8_t io_bitmap_end;
};
static_assert(offsetof(Tss, io_bitmap) == 104);

// The stacks of one CPU. Guard pages are left unmapped by the kernel page tables.
struct alignas(4096) CpuStacks {
    uint8_t guard[X86_STACK_GUARD_SIZE];
    uint8_t kernel[kKernelStackSize];  // every kernel entry starts at its top
    uint8_t ist_guard[X86_STACK_GUARD_SIZE];
    uint8_t double_fault[kIstStackSize];
    uint8_t nmi[kIstStackSize];
    uint8_t machine_check[kIstStackSize];
};

// Everything one CPU owns; GS base points here while the CPU is in the kernel.
struct PerCpu {
    PerCpu* self;               // for reading the pointer back through %gs
    uint64_t kernel_stack_top;  // rsp of every kernel entry
    uint64_t user_rsp;          // syscall entry scratch: the user rsp
    uint32_t cpu_id;
    uint32_t reserved;
    hal::UserRegs* user_regs;   // register file of the thread running here (Resume::regs)
    // The PML4 loaded in CR3. Changed by this CPU only: under the BKL (resume), or
    // while serving a shootdown whose initiator holds the BKL and waits for it; so
    // the BKL holder can read every CPU's value (the per-AS active-CPU set).
    hal::AsHandle active_as;
    bool idle;                  // halted in the idle loop (set before the BKL is dropped)
    bool in_fatal;              // reporting a fatal exception (stops recursion)
    uint32_t apic_id;           // local APIC ID (IPI destination)
    uint32_t tlb_pending;       // a shootdown request (smp.cpp) awaits this CPU (atomic)
    uint32_t stop_pending;      // a cpu_wake stop request (smp.cpp) awaits this CPU (atomic)
    uint32_t idle_ticks;        // timer ticks taken in idle, not yet given to kernel::on_timer
    bool regs_saved;            // a stop was served in a BKL wait: ask the kernel again (smp.cpp)
    // In user mode holding the BKL (while recording, trap.cpp): the next entry
    // from ring 3 has it already.
    bool user_holds_bkl;
    TrapFrame* entry_frame;     // the user-mode entry waiting for the BKL (else null)
    hal::UserRegs resume_regs;  // copy of *user_regs taken under the BKL for x86_enter_user
    // The user space this CPU entered last, whose I/O grants tss.io_bitmap has open
    // (kNoAs: none). Changed under the BKL only (ioport.cpp).
    hal::AsHandle io_as;
    // The x87/SSE/AVX state of the thread running here (Resume::ext), and whose
    // state this CPU's registers hold (null: none known). ext_state.cpp.
    hal::ExtState* user_ext;
    hal::ExtState* ext_live;
    bool ext_ts;  // CR0.TS is set (fpu=lazy): user_ext is loaded on its first use
    uint64_t gdt[kGdtEntries];
    Tss tss;
};
static_assert(offsetof(CpuStacks, kernel) == X86_STACK_GUARD_SIZE);
static_assert(offsetof(PerCpu, self) == X86_PERCPU_SELF);
static_assert(offsetof(PerCpu, kernel_stack_top) == X86_PERCPU_KSTACK_TOP);
static_assert(offsetof(PerCpu, user_rsp) == X86_PERCPU_USER_RSP);
static_assert(offsetof(PerCpu, cpu_id) == X86_PERCPU_CPU_ID);
static_assert(offsetof(PerCpu, user_regs) == X86_PERCPU_USER_REGS);

extern PerCpu g_percpu[kMaxCpus];

}  // namespace x86

// C linkage: boot.S runs the boot CPU on x86_cpu_stacks[0].kernel.
extern "C" x86::CpuStacks x86_cpu_stacks[x86::kMaxCpus];

namespace x86 {

// This CPU's PerCpu (valid in the kernel, after cpu_init).
inline PerCpu* this_cpu() {
    PerCpu* p;
    asm volatile("mov %%gs:%c1, %0" : "=r"(p) : "i"(X86_PERCPU_SELF));
    return p;
}

// Builds the shared IDT (once, on the boot CPU).
void idt_init();
// Sets up CPU `id`: control registers, GDT, TSS, IDT, GS base, syscall MSRs.
void cpu_init(uint32_t id);

// User CPUID from anvil/cpuid.h (cpuid.cpp): CPUID faulting on CPU `cpu`
// (after its GS base: a missing MSR is probed through a #GP).
void cpuid_faulting_enable(uint32_t cpu);
// A #GP in ring 0 at x86_rdmsr_probe's rdmsr: resume `frame` at its failure
// return. False for any other #GP.
bool rdmsr_probe_fixup(TrapFrame* frame);
// A #GP from ring 3 (BKL held): if it is a CPUID, answers it in `regs` from
// the table and steps over it.
bool cpuid_emulate(const PerCpu* pc, hal::UserRegs* regs);

// User threads' x87/SSE/AVX state (ext_state.cpp): XSAVE and the components
// in XCR0 on this CPU (cpu_init), and a thread's state saved into or loaded
// from its hal::ExtState.
void ext_enable();
// fpu=lazy (boot, before any thread runs): load a thread's state on its first
// use after a resume (#NM), not on the resume itself.
void ext_set_lazy(bool lazy);
// Prints (boot, on COM1) how threads' state is kept: XSAVE with XCR0, or FXSAVE.
void ext_report();
// An entry from ring 3 on `pc` (before the BKL): the thread's state into its block.
void ext_entered(PerCpu* pc);
// Leaving for ring 3 with the thread whose state is `ext` (BKL held).
void ext_resume(PerCpu* pc, hal::ExtState* ext);
// A #NM from ring 3 on `pc`: true if it was the lazy load's (done; the thread
// runs the instruction again), false if it is the thread's own fault.
bool ext_first_use(PerCpu* pc);

}  // namespace x86
