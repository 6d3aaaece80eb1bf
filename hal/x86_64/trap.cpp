#include "hal/x86_64/trap.h"

#include <hal/kernel_entry.h>

#include "hal/x86_64/arch.h"
#include "hal/x86_64/cpu.h"
#include "hal/x86_64/ioapic.h"
#include "hal/x86_64/ioport.h"
#include "hal/x86_64/lapic.h"
#include "hal/x86_64/serial.h"
#include "hal/x86_64/smp.h"

namespace x86 {
namespace {

enum : uint64_t {
    kVecNmi = 2,
    kVecDeviceNotAvailable = 7,
    kVecDoubleFault = 8,
    kVecGeneralProtection = 13,
    kVecPageFault = 14,
    kVecMachineCheck = 18,
};

// Idle timer ticks deferred at most this many times in a row (BKL busy) before
// an idle CPU waits for the lock like any other entry: 1 s at 100 Hz.
constexpr uint32_t kMaxDeferredIdleTicks = 100;

// Page-fault error code bits.
constexpr uint64_t kPfPresent = 1u << 0;
constexpr uint64_t kPfWrite = 1u << 1;
constexpr uint64_t kPfFetch = 1u << 4;

const char* const kExceptionNames[32] = {
    "#DE divide error",        "#DB debug",
    "NMI",                     "#BP breakpoint",
    "#OF overflow",            "#BR bound range",
    "#UD invalid opcode",      "#NM device not available",
    "#DF double fault",        "coprocessor segment overrun",
    "#TS invalid TSS",         "#NP segment not present",
    "#SS stack fault",         "#GP general protection",
    "#PF page fault",          "reserved (15)",
    "#MF x87 floating point",  "#AC alignment check",
    "#MC machine check",       "#XM SIMD floating point",
    "#VE virtualization",      "#CP control protection",
    "reserved (22)",           "reserved (23)",
    "reserved (24)",           "reserved (25)",
    "reserved (26)",           "reserved (27)",
    "#HV hypervisor injection", "#VC VMM communication",
    "#SX security",            "reserved (31)",
};

const char* vector_name(uint64_t vec) {
    if (vec < 32) return kExceptionNames[vec];
    if (vec == X86_VEC_SYSCALL) return "syscall";
    if (vec == X86_VEC_TIMER) return "APIC timer";
    if (vec == X86_VEC_WAKE) return "wake IPI";
    if (vec == X86_VEC_SHOOTDOWN) return "TLB shootdown IPI";
    return "interrupt";
}

void print_reg(const char* name, uint64_t v) {
    print(name);
    print("=");
    print_hex(v);
}

// Copies `s` into buf[pos..] (bounded), returning the new position.
size_t append(char* buf, size_t cap, size_t pos, const char* s) {
    while (*s != '\0' && pos + 1 < cap) buf[pos++] = *s++;
    buf[pos] = '\0';
    return pos;
}

size_t append_hex(char* buf, size_t cap, size_t pos, uint64_t v) {
    pos = append(buf, cap, pos, "0x");
    for (int shift = 60; shift >= 0; shift -= 4) {
        const char digit[2] = {"0123456789abcdef"[(v >> shift) & 0xf], '\0'};
        pos = append(buf, cap, pos, digit);
    }
    return pos;
}

// kernel::panic with "<what><value in hex>" (kept to a plain %s for any printf).
[[noreturn]] void panic_with_value(const char* what, uint64_t value) {
    char msg[128];
    append_hex(msg, sizeof(msg), append(msg, sizeof(msg), 0, what), value);
    kernel::panic("%s", msg);
}

// A fatal exception in ring 0 (or NMI, #DF, #MC anywhere): dump and panic.
[[noreturn]] void kernel_exception(const TrapFrame& f) {
    PerCpu* pc = this_cpu();
    if (pc->in_fatal) hal::panic_halt();  // faulted while reporting a fault
    pc->in_fatal = true;

    print("\n*** x86_64: fatal ");
    print(vector_name(f.vector));
    print(" (vector ");
    print_dec(f.vector);
    print(") in ");
    print((f.cs & 3) ? "user" : "kernel");
    print(" mode, error ");
    print_hex(f.error);
    print(", cpu ");
    print_dec(pc->cpu_id);
    print("\n");
    print_reg("rax", f.rax), print_reg(" rbx", f.rbx), print_reg(" rcx", f.rcx), print_reg(" rdx", f.rdx);
    print("\n");
    print_reg("rsi", f.rsi), print_reg(" rdi", f.rdi), print_reg(" rbp", f.rbp), print_reg(" rsp", f.rsp);
    print("\n");
    print_reg("r8 ", f.r8), print_reg(" r9 ", f.r9), print_reg(" r10", f.r10), print_reg(" r11", f.r11);
    print("\n");
    print_reg("r12", f.r12), print_reg(" r13", f.r13), print_reg(" r14", f.r14), print_reg(" r15", f.r15);
    print("\n");
    print_reg("rip", f.rip), print_reg(" cs", f.cs), print_reg(" rflags", f.rflags), print_reg(" ss", f.ss);
    print("\n");
    print_reg("cr2", read_cr2()), print_reg(" cr3", read_cr3());
    print("\n");
    if (f.rip == reinterpret_cast<uint64_t>(&x86_iret_to_user)) {
        // The iretq back to ring 3 faulted: its frame holds the user's state.
        const auto* frame = reinterpret_cast<const uint64_t*>(f.rsp);
        print("on the way back to user mode: user ");
        print_reg("rip", frame[0]), print_reg(" cs", frame[1]), print_reg(" rflags", frame[2]);
        print_reg(" rsp", frame[3]), print_reg(" ss", frame[4]);
        print("\n");
    }

    char what[64];
    append(what, sizeof(what), append(what, sizeof(what), 0, vector_name(f.vector)), " at rip ");
    panic_with_value(what, f.rip);
}

kernel::FaultInfo decode_fault(const TrapFrame& f) {
    // The stubs push 0 for vectors without an error code.
    kernel::FaultInfo info{kernel::fault_kind_of_vector(f.vector), kernel::FaultAccess::kNone, 0, f.vector, f.error};
    if (f.vector == kVecPageFault) {
        info.kind = (f.error & kPfPresent) ? kernel::FaultKind::kPageProtection
                                           : kernel::FaultKind::kPageNotPresent;
        info.access = (f.error & kPfFetch)   ? kernel::FaultAccess::kExec
                      : (f.error & kPfWrite) ? kernel::FaultAccess::kWrite
                                             : kernel::FaultAccess::kRead;
        info.addr = read_cr2();
    }
    return info;
}

}  // namespace

void save_user_regs(const TrapFrame& f, hal::UserRegs* r) {
    r->rip = f.rip;
    r->rsp = f.rsp;
    r->rflags = f.rflags;
    r->rax = f.rax;
    r->rbx = f.rbx;
    r->rcx = f.rcx;
    r->rdx = f.rdx;
    r->rsi = f.rsi;
    r->rdi = f.rdi;
    r->rbp = f.rbp;
    r->r8 = f.r8;
    r->r9 = f.r9;
    r->r10 = f.r10;
    r->r11 = f.r11;
    r->r12 = f.r12;
    r->r13 = f.r13;
    r->r14 = f.r14;
    r->r15 = f.r15;
    r->fs_base = rdmsr(kMsrFsBase);
}

namespace {

bool is_device_irq(uint64_t vec) { return vec >= X86_VEC_IRQ_BASE && vec < X86_VEC_IRQ_BASE + X86_IRQ_COUNT; }

// Interrupts that are kernel entries (everything else but the shootdown IPI).
bool is_entry_interrupt(uint64_t vec) {
    return vec == X86_VEC_TIMER || vec == X86_VEC_WAKE || is_device_irq(vec);
}

// Delivers an interrupt to the kernel (BKL held). A wake IPI only ends the
// interrupt: the caller then goes through on_idle (if idle) and next_to_run.
void handle_interrupt(uint32_t cpu, uint64_t vec) {
    lapic_eoi();
    if (vec == X86_VEC_TIMER) {
        kernel::on_timer(cpu);
    } else if (is_device_irq(vec)) {
        // One raised just before irq_disable masked its line arrives late: drop it.
        const auto irq = static_cast<uint32_t>(vec - X86_VEC_IRQ_BASE);
        if (irq_delivering(irq)) kernel::on_irq(cpu, irq);
    }
}

// While the kernel records, one CPU at a time runs user code: a CPU keeps the
// BKL in ring 3, so its next kernel entry is recorded before any other CPU
// runs, and passes the lock on only before it enters user mode again
// (pass_before_user; docs/replay.md, "Serialized recording"). Every stretch of
// user code then runs between two records of the trace, which orders them
// all, and the simulator can follow an SMP trace as it follows a one-CPU one.
// A run that does not record is not changed: its CPUs run user code at once.
bool serialize_user() { return recording(); }

// Before `pc` enters user mode holding the BKL: the CPUs queued for the lock
// take their turns first (once this one has held it long enough, bkl_pass).
// False if one of them stopped the thread picked meanwhile (cpu_wake): then
// the kernel is asked again.
bool pass_before_user(PerCpu* pc) {
    bkl_pass();
    const bool stopped = pc->regs_saved;
    pc->regs_saved = false;
    return !stopped;
}

}  // namespace

[[noreturn]] void resume(uint32_t cpu) {
    PerCpu* pc = this_cpu();
    for (;;) {
        kernel::Resume r{};
        if (kernel::next_to_run(cpu, &r) && r.regs != nullptr) {
            pc->user_regs = r.regs;
            if (serialize_user() && !pass_before_user(pc)) continue;
            // x86_enter_user may run after the BKL is dropped: give it a private copy.
            pc->resume_regs = *r.regs;
            const hal::UserRegs& regs = pc->resume_regs;
            // A non-canonical rip, rsp or FS base would fault in ring 0 (iretq,
            // wrmsr). next_to_run already refused such rip and rsp, and
            // tcb_write_regs such FS bases: this is the last line of defence.
            if (!hal::is_canonical(regs.rip) || !hal::is_canonical(regs.rsp) || !hal::is_canonical(regs.fs_base)) {
                kernel::on_fault(cpu, kernel::FaultInfo{kernel::FaultKind::kGeneralProtection,
                                                        kernel::FaultAccess::kNone, 0,
                                                        kVecGeneralProtection, 0});
                continue;
            }
            if (r.as == hal::kNoAs) panic_with_value("x86_64: no address space for thread ", r.thread_id);
            if (r.as != pc->active_as) {
                // Under the BKL, so a shootdown initiator sees this CPU's CR3.
                write_cr3(r.as);
                __atomic_store_n(&pc->active_as, r.as, __ATOMIC_RELAXED);
            }
            io_activate(pc, r.as);
            wrmsr(kMsrFsBase, regs.fs_base);
            ext_resume(pc, r.ext);
            pc->user_holds_bkl = serialize_user();
            if (!pc->user_holds_bkl) bkl_release();
            x86_enter_user(&pc->resume_regs, pc->kernel_stack_top);
        }
        // The idle loop keeps the last CR3 (and so stays a shootdown target).
        pc->user_regs = nullptr;
        pc->idle = true;
        bkl_release();
        x86_idle(pc->kernel_stack_top);
    }
}

}  // namespace x86

void hal::user_regs_sync(UserRegs&) {}  // save_user_regs saved them all

using namespace x86;

extern "C" [[noreturn]] void x86_trap(TrapFrame* frame) {
    const TrapFrame& f = *frame;
    PerCpu* pc = this_cpu();
    const uint32_t cpu = pc->cpu_id;

    if (f.vector == kVecNmi || f.vector == kVecDoubleFault || f.vector == kVecMachineCheck) {
        kernel_exception(f);
    }

    // Ring 0 takes interrupts only while halted in x86_idle (the kernel and the
    // BKL wait run with interrupts off), and the #GP of an MSR probe at boot;
    // anything else there is a bug.
    const bool from_idle = (f.cs & 3) == 0;
    if (from_idle && f.vector == kVecGeneralProtection && rdmsr_probe_fixup(frame)) x86_trap_return(frame);
    if (from_idle && !pc->idle) kernel_exception(f);

    // Not a kernel entry: served without the BKL (its initiator holds it), then
    // straight back to user mode or to the idle loop.
    if (f.vector == X86_VEC_SHOOTDOWN) {
        tlb_service();
        lapic_eoi();
        x86_trap_return(frame);
    }

    if (from_idle) {
        if (!is_entry_interrupt(f.vector)) kernel_exception(f);
        if (f.vector == X86_VEC_TIMER) {
            // An idle CPU's tick only polls the kernel: it never queues behind other
            // CPUs for the BKL (which, with vCPUs outnumbering host cores, collapses
            // throughput). Busy lock: count the tick and halt again, up to a bound.
            lapic_eoi();
            ++pc->idle_ticks;
            if (!bkl_try_acquire()) {
                if (pc->idle_ticks < kMaxDeferredIdleTicks) x86_trap_return(frame);
                bkl_acquire();
            }
        } else {
            bkl_acquire();
        }
        pc->idle = false;
        // Every tick reaches the kernel, late ones included, in order.
        for (; pc->idle_ticks != 0; --pc->idle_ticks) kernel::on_timer(cpu);
        if (f.vector != X86_VEC_TIMER) handle_interrupt(cpu, f.vector);
        kernel::on_idle(cpu);
        resume(cpu);
    }

    if (pc->user_regs == nullptr) kernel_exception(f);
    // fpu=lazy: the thread's first x87/SSE/AVX instruction here loads its
    // state, without the BKL (only this CPU runs it), and runs again.
    if (f.vector == kVecDeviceNotAvailable && ext_first_use(pc)) x86_trap_return(frame);
    // The thread's x87/SSE/AVX registers, before another CPU can pick it.
    ext_entered(pc);
    // While waiting for the BKL, a cpu_wake stop may save this entry's registers
    // (smp.cpp): then the thread was taken off this CPU or is to be re-picked,
    // and the entry is undone instead of reaching the kernel (a syscall is
    // rewound to be issued again, a fault instruction runs again). A CPU that
    // ran user code holding the BKL (recording) has no wait.
    if (pc->user_holds_bkl) {
        pc->user_holds_bkl = false;
    } else {
        pc->entry_frame = frame;
        bkl_acquire();
        pc->entry_frame = nullptr;
    }
    const bool stopped = pc->regs_saved;
    pc->regs_saved = false;
    if (!stopped) save_user_regs(f, pc->user_regs);
    if (f.vector == X86_VEC_SYSCALL) {
        if (!stopped) kernel::on_syscall(cpu);
    } else if (f.vector < 32) {
        // COM1's data port while recording, or CPUID (faulting): done here,
        // and the thread goes on.
        const bool emulated = !stopped && f.vector == kVecGeneralProtection &&
                              (io_emulate_recorded(pc, pc->user_regs) || cpuid_emulate(pc, pc->user_regs));
        if (!stopped && !emulated) kernel::on_fault(cpu, decode_fault(f));
    } else if (is_entry_interrupt(f.vector)) {
        handle_interrupt(cpu, f.vector);
    } else {
        kernel_exception(f);  // keeps the BKL: the panic message is printed alone
    }
    resume(cpu);
}
