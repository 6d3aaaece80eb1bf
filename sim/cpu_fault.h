// What an x86-64 CPU reports for an exception a user program raised, worked
// out from what Unicorn tells the simulator (the vector, the instruction, the
// registers), so that a fault report is the same on both backends: vector,
// error code, faulting address and rip (docs/x86_64.md, "The simulator's
// faults"). Pure code: guest memory and registers come through callbacks.
#pragma once

#include <hal/kernel_entry.h>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace sim {

// The GDT both backends give user code (hal/x86_64/cpu.cpp has the same
// descriptors): 0x08 kernel code, 0x10 kernel data, 0x18 null, 0x20 user
// data, 0x28 user code, 0x30 a TSS. The accessed bits are set: loading a
// selector would otherwise write the descriptor, and the simulator's GDT
// lives in a page user code can only read.
inline constexpr uint64_t kGdt[] = {
    0,
    0x00af9b000000ffffull,  // 0x08 kernel code, 64-bit
    0x00cf93000000ffffull,  // 0x10 kernel data
    0,                      // 0x18 (SYSRET's 32-bit user code: none)
    0x00cff3000000ffffull,  // 0x20 user data, DPL 3
    0x00affb000000ffffull,  // 0x28 user code, 64-bit, DPL 3
    0x0000890000000067ull,  // 0x30 TSS (low half; its base is of no use to user code)
    0,                      //      TSS (high half)
};
inline constexpr uint64_t kUserCs = 0x2b;
inline constexpr uint64_t kUserSs = 0x23;

// Reads guest memory; false if it is not mapped.
using ReadGuest = std::function<bool(uint64_t va, void* out, size_t len)>;
// Reads general register `index` (0 rax ... 15 r15, the ModRM order).
using ReadGpr = std::function<uint64_t(unsigned index)>;

// An exception Unicorn's interrupt hook reported. Unicorn leaves rip at the
// faulting instruction for faults, and past the instruction for traps and
// software interrupts (int n, int3, int1), whose start is then `prev`.
struct CpuFaultInput {
    uint32_t vector;  // as Unicorn reported it
    uint64_t rip;     // Unicorn's rip
    uint64_t prev;    // start of the instruction that ends at rip (0: unknown)
    uint64_t rflags;
};
// The report a CPU would give: the vector, error code and rip after the IDT's
// rules (only int3 and int $4 may be used from ring 3, anything else raised
// by `int n` is #GP with the IDT error code) and the selector checks of
// iretq and segment loads.
struct CpuFault {
    kernel::FaultInfo info;
    uint64_t rip;  // where the thread stopped, as the CPU would push it
};
CpuFault cpu_fault(const CpuFaultInput& in, const ReadGuest& read, const ReadGpr& gpr);

// A memory access Unicorn refused (`access` read, write or exec; `present`
// if the page is mapped but the access not allowed): a #PF, or the #GP of a
// non-canonical address.
kernel::FaultInfo memory_fault(kernel::FaultAccess access, bool present, uint64_t addr);

}  // namespace sim
