#include "sim/cpu_fault.h"

namespace sim {

namespace {

constexpr uint32_t kVecDebug = 1;
constexpr uint32_t kVecBreakpoint = 3;
constexpr uint32_t kVecOverflow = 4;
constexpr uint32_t kVecInvalidOpcode = 6;
constexpr uint32_t kVecGeneralProtection = 13;
constexpr uint32_t kVecPageFault = 14;
constexpr uint64_t kRflagsNt = 1u << 14;
constexpr unsigned kCpl = 3;
// The #GP of `int n` through a gate user code may not use names the gate:
// error code n * 8 + 2 (the IDT flag and the vector as a selector index), as
// the SDM gives it. QEMU 7.2 reports n * 16 + 2 (docs/x86_64.md).
constexpr uint64_t kIdtErrorScale = 8;

// Page-fault error code bits.
constexpr uint64_t kPfPresent = 1u << 0;
constexpr uint64_t kPfWrite = 1u << 1;
constexpr uint64_t kPfUser = 1u << 2;
constexpr uint64_t kPfFetch = 1u << 4;

kernel::FaultInfo exception(uint32_t vector, uint64_t error) {
    return kernel::FaultInfo{kernel::fault_kind_of_vector(vector), kernel::FaultAccess::kNone, 0, vector, error};
}

// The instruction bytes at `va` (up to 15), past legacy and REX prefixes.
struct Insn {
    uint8_t bytes[15] = {};
    size_t prefixes = 0;  // legacy prefixes, then a REX byte if any
    uint8_t rex = 0;
    const uint8_t* op() const { return bytes + prefixes; }
};

bool fetch(const ReadGuest& read, uint64_t va, Insn* insn) {
    // An instruction may end short of 15 bytes at the end of a mapping.
    size_t n = sizeof insn->bytes;
    while (n > 0 && !read(va, insn->bytes, n))
        --n;
    if (n == 0)
        return false;
    size_t i = 0;
    for (; i < n; ++i) {
        const uint8_t b = insn->bytes[i];
        const bool legacy = b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 || b == 0xf3 || b == 0x26 ||
                            b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65;
        if (!legacy)
            break;
    }
    if (i < n && (insn->bytes[i] & 0xf0) == 0x40)
        insn->rex = insn->bytes[i++];
    insn->prefixes = i;
    return i + 2 <= sizeof insn->bytes;
}

// A software interrupt instruction at `va` that raised `vector`: its length, or 0.
size_t software_interrupt(const ReadGuest& read, uint64_t va, uint32_t vector, uint8_t* opcode) {
    Insn insn;
    if (!fetch(read, va, &insn))
        return 0;
    const uint8_t* op = insn.op();
    *opcode = op[0];
    if (op[0] == 0xcd && op[1] == vector)
        return insn.prefixes + 2;  // int imm8
    if ((op[0] == 0xcc && vector == kVecBreakpoint) || (op[0] == 0xf1 && vector == kVecDebug))
        return insn.prefixes + 1;  // int3, int1
    return 0;
}

// A GDT descriptor for `selector`, as the CPU finds it; false beyond the limit.
bool descriptor(uint64_t selector, uint64_t* out) {
    const uint64_t index = (selector & 0xffff) >> 3;
    if ((selector & 4) || index >= sizeof kGdt / sizeof kGdt[0])
        return false;  // no LDT: a TI=1 selector is beyond its (zero) limit
    *out = kGdt[index];
    return true;
}

constexpr uint64_t kDescS = 1ull << 44;     // code or data (not a system segment)
constexpr uint64_t kDescCode = 1ull << 43;
constexpr uint64_t kDescWritable = 1ull << 41;  // data: writable
constexpr unsigned dpl(uint64_t d) { return (d >> 45) & 3; }

// The error code of iretq's #GP at CPL 3, from its frame (rip, cs, rflags,
// rsp, ss at rsp): the checks the CPU makes, in its order.
uint64_t iretq_error(const ReadGuest& read, const ReadGpr& gpr, uint64_t rflags) {
    if (rflags & kRflagsNt)
        return 0;  // a task return: #GP(0) in long mode
    uint64_t frame[5];
    if (!read(gpr(4), frame, sizeof frame))
        return 0;
    const uint64_t cs = frame[1] & 0xffff, ss = frame[4] & 0xffff;
    if ((cs & 0xfffc) == 0)
        return 0;
    uint64_t d;
    if (!descriptor(cs, &d) || !(d & kDescS) || !(d & kDescCode) || (cs & 3) < kCpl || dpl(d) != (cs & 3))
        return cs & 0xfffc;
    if ((ss & 0xfffc) == 0)
        return 0;
    if (!descriptor(ss, &d) || !(d & kDescS) || (d & kDescCode) || !(d & kDescWritable) || (ss & 3) != (cs & 3) ||
        dpl(d) != (cs & 3))
        return ss & 0xfffc;
    return 0;
}

// The error code of a #GP raised by `insn`: the selector it loaded where the
// CPU names one (iretq, mov to a segment register), else 0.
uint64_t general_protection_error(const Insn& insn, const ReadGuest& read, const ReadGpr& gpr, uint64_t rflags) {
    const uint8_t* op = insn.op();
    if (op[0] == 0xcf)
        return iretq_error(read, gpr, rflags);
    if (op[0] == 0x8e && (op[1] >> 6) == 3) {
        // mov Sreg, r16/r32: the selector, or 0 for a null one (only ss
        // refuses null). A memory source is not read here (docs/x86_64.md).
        const unsigned reg = (op[1] & 7) | ((insn.rex & 1) << 3);
        const uint64_t selector = gpr(reg) & 0xffff;
        return (selector & 0xfffc) == 0 ? 0 : selector & 0xfffc;
    }
    return 0;
}

}  // namespace

CpuFault cpu_fault(const CpuFaultInput& in, const ReadGuest& read, const ReadGpr& gpr) {
    // A software interrupt: Unicorn delivers `int n` as vector n, with no IDT.
    // The CPU's IDT has DPL-3 gates for #BP and #OF only (hal/x86_64/cpu.cpp):
    // any other `int n` is #GP(n * 8 + 2) at the instruction; int3, int $4
    // and int1 are traps, reported past the instruction.
    uint8_t opcode = 0;
    uint64_t at = 0;
    size_t length = 0;
    if (in.prev != 0 && (length = software_interrupt(read, in.prev, in.vector, &opcode)) != 0 &&
        in.prev + length == in.rip)
        at = in.prev;
    else if ((length = software_interrupt(read, in.rip, in.vector, &opcode)) != 0)
        at = in.rip;  // Unicorn left rip at the instruction
    if (length != 0) {
        const bool gate_open = opcode != 0xcd || in.vector == kVecBreakpoint || in.vector == kVecOverflow;
        if (gate_open)
            return {exception(in.vector, 0), at + length};
        return {exception(kVecGeneralProtection, uint64_t{in.vector} * kIdtErrorScale | 2), at};
    }
    Insn insn;
    const bool decoded = fetch(read, in.rip, &insn);
    // Two instructions Unicorn 2.0.1 answers with #UD where the CPU raises
    // #GP(0) at CPL 3: rdpmc with CR4.PCE clear (Unicorn tests PCE the other
    // way round), and sysret with EFER.SCE set, as the kernel sets it
    // (Unicorn's EFER keeps SCE clear whatever is written to it).
    if (in.vector == kVecInvalidOpcode && decoded && insn.op()[0] == 0x0f &&
        (insn.op()[1] == 0x33 || insn.op()[1] == 0x07))
        return {exception(kVecGeneralProtection, 0), in.rip};
    // int1 (icebp) is a #DB trap past the instruction; Unicorn raises #UD.
    if (in.vector == kVecInvalidOpcode && decoded && insn.op()[0] == 0xf1)
        return {exception(kVecDebug, 0), in.rip + insn.prefixes + 1};
    if (in.vector == kVecGeneralProtection && decoded)
        return {exception(kVecGeneralProtection, general_protection_error(insn, read, gpr, in.rflags)), in.rip};
    return {exception(in.vector, 0), in.rip};
}

kernel::FaultInfo memory_fault(kernel::FaultAccess access, bool present, uint64_t addr) {
    // A non-canonical address never reaches the page tables: #GP(0), no
    // address (CR2 is not written). QEMU reports it for stack accesses too
    // (hardware: #SS), and for a jump's target at the target.
    if (!hal::is_canonical(addr))
        return exception(kVecGeneralProtection, 0);
    uint64_t error = kPfUser;
    if (present)
        error |= kPfPresent;
    if (access == kernel::FaultAccess::kWrite)
        error |= kPfWrite;
    if (access == kernel::FaultAccess::kExec)
        error |= kPfFetch;
    return kernel::FaultInfo{present ? kernel::FaultKind::kPageProtection : kernel::FaultKind::kPageNotPresent,
                             access, addr, kVecPageFault, error};
}

}  // namespace sim
