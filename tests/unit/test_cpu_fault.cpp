// Host tests of sim/cpu_fault: the fault report a CPU gives for what Unicorn
// tells the simulator (docs/x86_64.md, "The simulator's faults"). The
// userspace test cpu.fault_table checks the same against QEMU, end to end.
#include "sim/cpu_fault.h"

#include "catch.h"

#include <cstring>
#include <map>
#include <vector>

namespace {

// Guest memory: byte strings at addresses; anything else is unmapped.
struct Guest {
    std::map<uint64_t, std::vector<uint8_t>> at;
    uint64_t gpr[16] = {};
    sim::ReadGuest reader() const {
        return [this](uint64_t va, void* out, size_t len) {
            for (const auto& [base, bytes] : at) {
                if (va >= base && va - base + len <= bytes.size()) {
                    std::memcpy(out, bytes.data() + (va - base), len);
                    return true;
                }
            }
            return false;
        };
    }
    sim::ReadGpr regs() const {
        return [this](unsigned i) { return gpr[i & 15]; };
    }
    sim::CpuFault fault(uint32_t vector, uint64_t rip, uint64_t prev = 0, uint64_t rflags = 0x202) const {
        return sim::cpu_fault(sim::CpuFaultInput{vector, rip, prev, rflags}, reader(), regs());
    }
};

constexpr uint64_t kCode = 0x401000;

}  // namespace

TEST_CASE("cpu_fault: int n through a DPL-0 gate is #GP(n*8+2) at the instruction", "[sim][cpu_fault]") {
    Guest g;
    g.at[kCode] = {0xcd, 0x80, 0x90};
    // Unicorn stops past the instruction; the block decoder names its start.
    const sim::CpuFault f = g.fault(0x80, kCode + 2, kCode);
    CHECK(f.info.vector == 13);
    CHECK(f.info.error == (0x80 * 8 + 2));
    CHECK(f.info.kind == kernel::FaultKind::kGeneralProtection);
    CHECK(f.rip == kCode);
    // With the start unknown, the bytes at rip decide (Unicorn left rip there).
    const sim::CpuFault at = g.fault(0x80, kCode);
    CHECK(at.info.error == (0x80 * 8 + 2));
    CHECK(at.rip == kCode);
}

TEST_CASE("cpu_fault: int3 and int $4 are traps past the instruction, with no error code", "[sim][cpu_fault]") {
    Guest g;
    g.at[kCode] = {0xcc, 0xcd, 0x04, 0x90};
    const sim::CpuFault bp = g.fault(3, kCode + 1, kCode);
    CHECK(bp.info.vector == 3);
    CHECK(bp.info.error == 0);
    CHECK(bp.rip == kCode + 1);
    const sim::CpuFault of = g.fault(4, kCode + 3, kCode + 1);
    CHECK(of.info.vector == 4);
    CHECK(of.rip == kCode + 3);
}

TEST_CASE("cpu_fault: a CPU exception keeps its vector and rip", "[sim][cpu_fault]") {
    Guest g;
    g.at[kCode] = {0xfa, 0x0f, 0x0b};  // cli, ud2
    const sim::CpuFault gp = g.fault(13, kCode);
    CHECK(gp.info.vector == 13);
    CHECK(gp.info.error == 0);
    CHECK(gp.rip == kCode);
    // A #DB from TF after a one-byte instruction whose bytes are no int.
    const sim::CpuFault db = g.fault(1, kCode + 1, kCode);
    CHECK(db.info.vector == 1);
    CHECK(db.rip == kCode + 1);
}

TEST_CASE("cpu_fault: rdpmc and sysret at CPL 3 are #GP(0), int1 a #DB trap, not Unicorn's #UD", "[sim][cpu_fault]") {
    Guest g;
    g.at[kCode] = {0x0f, 0x33, 0x48, 0x0f, 0x07, 0x0f, 0x0b, 0xf1, 0x90};
    CHECK(g.fault(6, kCode).info.vector == 13);
    CHECK(g.fault(6, kCode + 2).info.vector == 13);
    CHECK(g.fault(6, kCode + 5).info.vector == 6);  // ud2 stays #UD
    const sim::CpuFault db = g.fault(6, kCode + 7);
    CHECK(db.info.vector == 1);
    CHECK(db.rip == kCode + 8);
}

TEST_CASE("cpu_fault: a refused segment load names its selector", "[sim][cpu_fault]") {
    Guest g;
    g.at[kCode] = {0x8e, 0xd8, 0x41, 0x8e, 0xd0};  // mov %ax,%ds; mov %r8w,%ss
    g.gpr[0] = 0x10;
    CHECK(g.fault(13, kCode).info.error == 0x10);
    g.gpr[0] = 0x83;  // RPL bits are not part of the error code
    CHECK(g.fault(13, kCode).info.error == 0x80);
    g.gpr[8] = 0;  // a null ss: #GP(0)
    CHECK(g.fault(13, kCode + 2).info.error == 0);
}

TEST_CASE("cpu_fault: iretq names the selector the CPU refused first", "[sim][cpu_fault]") {
    Guest g;
    constexpr uint64_t kStack = 0x7f0000;
    g.at[kCode] = {0x48, 0xcf};
    g.gpr[4] = kStack;
    const auto frame = [&](uint64_t cs, uint64_t ss) {
        const uint64_t words[5] = {kCode, cs, 0x202, kStack, ss};
        g.at[kStack].assign(reinterpret_cast<const uint8_t*>(words), reinterpret_cast<const uint8_t*>(words) + 40);
    };
    frame(0x08, 0x10);  // to ring 0
    CHECK(g.fault(13, kCode).info.error == 0x08);
    frame(sim::kUserCs, 0x10);  // user code, kernel stack segment
    CHECK(g.fault(13, kCode).info.error == 0x10);
    frame(0x90, sim::kUserSs);  // beyond the GDT
    CHECK(g.fault(13, kCode).info.error == 0x90);
    frame(sim::kUserCs, sim::kUserSs);
    CHECK(g.fault(13, kCode, 0, 0x202 | 0x4000).info.error == 0);  // NT: a task return
}

TEST_CASE("memory_fault: page-fault error codes and non-canonical addresses", "[sim][cpu_fault]") {
    using kernel::FaultAccess;
    const kernel::FaultInfo read = sim::memory_fault(FaultAccess::kRead, false, 0);
    CHECK(read.vector == 14);
    CHECK(read.error == 0x4);
    CHECK(read.kind == kernel::FaultKind::kPageNotPresent);
    CHECK(sim::memory_fault(FaultAccess::kWrite, false, 0x1000).error == 0x6);
    CHECK(sim::memory_fault(FaultAccess::kExec, false, 0).error == 0x14);
    const kernel::FaultInfo ro = sim::memory_fault(FaultAccess::kWrite, true, 0x400000);
    CHECK(ro.error == 0x7);
    CHECK(ro.kind == kernel::FaultKind::kPageProtection);
    CHECK(ro.addr == 0x400000);
    CHECK(sim::memory_fault(FaultAccess::kExec, true, 0x7f0000).error == 0x15);
    const kernel::FaultInfo gp = sim::memory_fault(FaultAccess::kRead, false, 0x0000800000000000ull);
    CHECK(gp.vector == 13);
    CHECK(gp.error == 0);
    CHECK(gp.addr == 0);
    CHECK(sim::memory_fault(FaultAccess::kRead, false, 0xffff800000000000ull).vector == 14);
}
