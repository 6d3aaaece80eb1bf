// The kernel's entry points (hal/include/hal/kernel_entry.h). Each runs to
// completion; the backend then asks next_to_run() what the CPU does next.
#include "kernel/lib/format.h"
#include "kernel/object/device.h"
#include "kernel/object/endpoint.h"
#include "kernel/object/thread.h"
#include "kernel/object/vspace.h"
#include "kernel/sched/scheduler.h"
#include "kernel/sched/timeout.h"
#include "kernel/syscall/syscall.h"
#include "kernel/trace/trace.h"

#include <anvil/exit_codes.h>
#include <hal/kernel_entry.h>
#include <stdarg.h>

namespace kernel {

namespace {

const char* fault_kind_name(FaultKind k) {
    switch (k) {
    case FaultKind::kPageNotPresent: return "page fault (not mapped)";
    case FaultKind::kPageProtection: return "page fault (protection)";
    case FaultKind::kGeneralProtection: return "general protection fault";
    case FaultKind::kInvalidOpcode: return "invalid opcode";
    case FaultKind::kDivide: return "divide error";
    case FaultKind::kX87: return "x87 floating-point error";
    case FaultKind::kSimd: return "SIMD floating-point exception";
    case FaultKind::kOther: return "exception";
    }
    return "fault";
}

const char* fault_access_name(FaultAccess a) {
    switch (a) {
    case FaultAccess::kRead: return "read";
    case FaultAccess::kWrite: return "write";
    case FaultAccess::kExec: return "exec";
    case FaultAccess::kNone: return "-";
    }
    return "?";
}

// The ANVIL_FAULT_KIND_* a fault endpoint is told about.
uint32_t fault_report_kind(FaultKind k) {
    switch (k) {
    case FaultKind::kPageNotPresent:
    case FaultKind::kPageProtection: return ANVIL_FAULT_KIND_PAGE;
    case FaultKind::kGeneralProtection: return ANVIL_FAULT_KIND_GP;
    case FaultKind::kInvalidOpcode: return ANVIL_FAULT_KIND_UD;
    case FaultKind::kDivide: return ANVIL_FAULT_KIND_DE;
    case FaultKind::kX87: return ANVIL_FAULT_KIND_MF;
    case FaultKind::kSimd: return ANVIL_FAULT_KIND_XM;
    case FaultKind::kOther: return ANVIL_FAULT_KIND_OTHER;
    }
    return ANVIL_FAULT_KIND_OTHER;
}

constexpr uint64_t kVectorGeneralProtection = 13;

}  // namespace

void on_syscall(uint32_t cpu) {
    Thread* t = scheduler().current(cpu);
    if (!t)
        panic("syscall on cpu %u with no current thread", cpu);
    dispatch_syscall(*t);
}

void on_fault(uint32_t cpu, const FaultInfo& fault) {
    Thread* t = scheduler().current(cpu);
    if (!t)
        panic("user fault on cpu %u with no current thread", cpu);
    kprintf("anvil: fault: thread %llu (%s): %s, %s at 0x%llx, rip 0x%llx, vector %llu, error 0x%llx\n",
            static_cast<unsigned long long>(t->id()), t->name(), fault_kind_name(fault.kind),
            fault_access_name(fault.access), static_cast<unsigned long long>(fault.addr),
            static_cast<unsigned long long>(t->entry_regs().rip), static_cast<unsigned long long>(fault.vector),
            static_cast<unsigned long long>(fault.error));
    trace_fault_at(cpu, t->id(), fault.vector, fault.error, t->entry_regs().rip);
    trace_event(trace::Kind::k_fault, cpu, t->id(), static_cast<uint32_t>(fault.kind),
                static_cast<uint32_t>(fault.access), fault.addr);
    scheduler().deschedule(t, ThreadState::kFaulted);
    ipc_release_callers(t);
    anvil_fault_msg_t report{};
    report.kind = fault_report_kind(fault.kind);
    report.access = static_cast<uint32_t>(fault.access);
    report.address = fault.addr;
    report.vector = fault.vector;
    report.error_code = fault.error;
    ipc_report_stop(t, report);
    if (t->is_root()) {
        kprintf("anvil: init faulted; halting\n");
        halt_machine(ANVIL_EXIT_INIT_FAULTED);
    }
}

namespace {
// Where an interrupt found the CPU's thread, if it was running user code.
void note_interrupted(uint32_t cpu) {
    if (Thread* t = scheduler().current(cpu))
        trace_interrupted(cpu, t->id(), t->entry_regs());
}
}  // namespace

void on_timer(uint32_t cpu) {
    note_interrupted(cpu);
    trace_event(trace::Kind::k_timer, cpu);
    clock_tick();
    scheduler().rotate(cpu);
}

void on_irq(uint32_t cpu, uint32_t irq) {
    note_interrupted(cpu);
    trace_event(trace::Kind::k_irq, cpu, irq);
    Irq::deliver(irq);
}

void on_idle(uint32_t cpu) {}

void on_input(const uint8_t* bytes, uint64_t len) { trace_input(bytes, len); }

void on_slice(uint32_t cpu, uint64_t thread, uint64_t blocks, uint64_t why) {
    trace_event(trace::Kind::k_slice, cpu, thread, blocks, why);
}

void on_fault_plan(const uint8_t* plan, uint64_t len) {
    trace_bytes(trace::Kind::k_faults, plan, len);
}

void on_injected(uint64_t what, uint64_t a, uint64_t b) {
    trace_event(trace::Kind::k_inject, what, a, b);
}

bool next_to_run(uint32_t cpu, Resume* out) {
    for (;;) {
        Thread* t = scheduler().pick(cpu);
        trace_running(cpu, t ? t->id() : 0);
        if (!t)
            return false;
        hal::UserRegs& r = t->entry_regs();
        if (!hal::is_canonical(r.rip) || !hal::is_canonical(r.rsp)) {
            // A user `mov $x, %rsp; syscall` (or a jump's target, later) leaves
            // values the way back to ring 3 cannot load: the thread takes the
            // #GP that return raises, on both backends alike, and the CPU picks
            // again. (rip and rsp are entry registers, always saved; FS base
            // is checked where it is set, by tcb_write_regs.)
            on_fault(cpu, FaultInfo{FaultKind::kGeneralProtection, FaultAccess::kNone, 0, kVectorGeneralProtection, 0});
            continue;
        }
        r.rflags = (r.rflags & hal::kUserRflagsMask) | hal::kUserRflags;
        out->regs = &r;
        out->ext = &t->entry_ext();
        out->as = t->vspace()->as();
        out->thread_id = t->id();
        return true;
    }
}

void panic(const char* fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    kprintf("anvil: PANIC: %s\n", buf);
    trace_finish(ANVIL_EXIT_PANIC);
    hal::panic_halt();
}

}  // namespace kernel
