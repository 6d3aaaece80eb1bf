// Recording: the kernel's side of traces (format: kernel/trace/events.h and
// docs/trace-format.md). Events are encoded here, identically on both backends,
// and leave through hal::trace_write in chunks. Every call is a no-op unless
// recording was started at boot, so the cost when off is one predictable branch.
#pragma once

#include "kernel/trace/events.h"

#include <hal/hal.h>
#include <hal/kernel_entry.h>  // trace_records, trace_finish, trace_set_flush_each
#include <stdint.h>

namespace kernel {

extern bool g_trace_on;
inline bool trace_on() { return g_trace_on; }

// Starts recording if `info` asks for it (or `cmdline_says`): writes the header.
void trace_start(const hal::BootInfo& info, bool cmdline_says);

// One record of `kind` with its fields, already as unsigned values (signed
// fields through trace_zigzag). Writes a digest record every
// trace::kDigestInterval records.
void trace_record(trace::Kind kind, const uint64_t* fields, unsigned count);
template <typename... F>
inline void trace_event(trace::Kind kind, F... fields) {
    if (!g_trace_on)
        return;
    const uint64_t values[] = {static_cast<uint64_t>(fields)..., 0};
    trace_record(kind, values, sizeof...(F));
}
constexpr uint64_t trace_zigzag(int64_t v) {
    return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

// `cpu` now runs `thread` (0: idle): a sched record if that changed.
void trace_running(uint32_t cpu, uint64_t thread);
// The hash of a user register file a user_at record carries: FNV-1a 64 over
// rip, rsp, the user-changeable rflags bits and the sixteen general registers
// (not fs_base). The simulator computes the same to find that point again.
inline uint64_t user_regs_hash(const hal::UserRegs& r) {
    const uint64_t v[] = {r.rip, r.rsp, r.rflags & hal::kUserRflagsMask, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi,
                          r.rbp, r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15};
    return trace::fnv1a(trace::kFnvOffset, v, sizeof v);
}
// An interrupt on `cpu` found `thread` in user code with registers `regs`: a
// user_at record, if this backend's trace has no slices to say where (QEMU).
void trace_interrupted(uint32_t cpu, uint64_t thread, const hal::UserRegs& regs);
// The same for a fault: what the CPU reported (a fault_at record).
void trace_fault_at(uint32_t cpu, uint64_t thread, uint64_t vector, uint64_t error, uint64_t rip);
// A record of `kind` whose one field counts the `len` raw bytes that follow
// it (input, faults); nothing if `len` is 0.
void trace_bytes(trace::Kind kind, const uint8_t* bytes, uint64_t len);
// External input for COM1, recorded so a replay can feed the same bytes.
void trace_input(const uint8_t* bytes, uint64_t len);
// Ends the trace with `code` and asks the backend to stop the machine: the
// kernel's only way to halt, so no trace is left without its end record.
void halt_machine(int code);

}  // namespace kernel
