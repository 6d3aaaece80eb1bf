// The kernel's entry points, as the backends see them.
//
// Every entry runs to completion (DESIGN.md: the kernel is event-driven). After
// any entry returns, the backend asks `next_to_run(cpu)` what this CPU does
// now: resume a user thread, or idle until the next interrupt/event.
#pragma once

#include <hal/hal.h>

namespace kernel {

// What a CPU should run when a kernel entry finishes.
struct Resume {
    hal::UserRegs* regs;  // the thread's register file (backend loads it); null = idle
    hal::ExtState* ext;   // its x87/SSE/AVX state (backend loads it when it differs)
    hal::AsHandle as;     // the address space to activate
    uint64_t thread_id;   // for the backend's logs and traces
};

// Kinds of user fault a backend reports.
enum class FaultKind : uint32_t {
    kPageNotPresent = 1,  // access to an unmapped address
    kPageProtection = 2,  // access forbidden by the mapping's permissions
    kGeneralProtection = 3,
    kInvalidOpcode = 4,
    kDivide = 5,
    kOther = 6,
    kX87 = 7,   // #MF: an unmasked x87 floating-point exception
    kSimd = 8,  // #XM: an unmasked SSE/AVX floating-point exception
};

// The kind of a user exception by its vector (page faults, 14, decode further:
// kPageNotPresent or kPageProtection by the error code). Both backends use it.
constexpr FaultKind fault_kind_of_vector(uint64_t vector) {
    switch (vector) {
    case 0: return FaultKind::kDivide;
    case 6: return FaultKind::kInvalidOpcode;
    case 13: return FaultKind::kGeneralProtection;
    case 16: return FaultKind::kX87;
    case 19: return FaultKind::kSimd;
    default: return FaultKind::kOther;
    }
}

// Access that caused a page fault.
enum class FaultAccess : uint32_t { kRead = 1, kWrite = 2, kExec = 3, kNone = 0 };

// Everything a backend knows about a user fault.
struct FaultInfo {
    FaultKind kind;
    FaultAccess access;
    uint64_t addr;    // faulting address (page faults), else 0
    uint64_t vector;  // the x86 exception vector
    uint64_t error;   // the exception's error code (0 for vectors without one)
};

// Called once on the boot CPU with the machine description; builds the root
// process (init) from the initramfs. On return, ask next_to_run(0).
void boot(const hal::BootInfo& info);

// The current thread on `cpu` executed `syscall`; its registers (as they were at
// the instruction, rip already past it) are in the Resume::regs last returned.
void on_syscall(uint32_t cpu);

// The current thread on `cpu` faulted; registers saved as for on_syscall, with
// rip at the faulting instruction.
void on_fault(uint32_t cpu, const FaultInfo& fault);

// The preemption timer of `cpu` fired while a user thread or idle was running.
void on_timer(uint32_t cpu);

// A device interrupt `irq` arrived on `cpu`.
void on_irq(uint32_t cpu, uint32_t irq);

// `cpu` has nothing to run and was woken (IPI, or the simulator polling).
void on_idle(uint32_t cpu);

// A user-mode driver read `len` bytes from COM1's receive line (x86_64 while
// recording, hal/x86_64/ioport.cpp): recorded, so a replay reads the same.
void on_input(const uint8_t* bytes, uint64_t len);

// What `cpu` runs now. Returns false when the CPU should idle.
bool next_to_run(uint32_t cpu, Resume* out);

// The recording (kernel/trace) as a backend drives it; the kernel writes every
// record itself, so the trace's encoding stays in one place.

// A simulated vCPU `cpu` ran `thread` for `blocks` basic blocks and stopped
// for `why` (the simulator's reason, from 1): a slice record, which places the
// slice again on replay. Backends on real CPUs have no slices.
void on_slice(uint32_t cpu, uint64_t thread, uint64_t blocks, uint64_t why);

// The faults a simulated run injects (sim/faults.h): `plan` is their spec with
// every point drawn (a faults record, empty when none), written once at start;
// `on_injected` marks one fault where it is made (an inject record: `what` is
// a sim::InjectKind value, `a` and `b` its operands), so a replay makes it again.
void on_fault_plan(const uint8_t* plan, uint64_t len);
void on_injected(uint64_t what, uint64_t a, uint64_t b);

// Records written so far (the index of the next record).
uint64_t trace_records();

// Writes the end record (exit code, count, checksum) and flushes. Idempotent.
void trace_finish(int code);

// Hands every record to the backend at once instead of in 4 KiB chunks (the
// simulator's debugger watches them one by one).
void trace_set_flush_each(bool on);

// Formats and prints a kernel panic message, then halts the machine.
[[noreturn]] void panic(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace kernel
