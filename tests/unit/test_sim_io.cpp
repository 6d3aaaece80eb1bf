// Host tests of port I/O in the simulator: the engine's check of user in/out
// against the ports granted to its address space (hal::as_allow_ioports), and
// the machine's port bus, COM1 and ISA interrupt routing (hal::irq_enable).
#include "sim/engine.h"
#include "sim/machine.h"
#include "tests/unit/code_run.h"

#include "catch.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using code_run::CodeRun;
using code_run::kArithFlags;
using code_run::kCode;
using code_run::kData;
using code_run::kStack;

void require_gp(const sim::Stop& s) {
    REQUIRE(s.kind == sim::StopKind::kFault);
    CHECK(s.fault.kind == kernel::FaultKind::kGeneralProtection);
    CHECK(s.fault.vector == 13);
    CHECK(s.fault.addr == 0);
}

using Writes = std::vector<std::pair<uint16_t, uint8_t>>;

}  // namespace

TEST_CASE("sim io: granted in/out reach the bus, and an ungranted port is a #GP at the instruction, with nothing "
          "done") {
    CodeRun r({
        0x66, 0xba, 0xf8, 0x03,        // 0x00 mov dx, 0x3f8
        0xb0, 0x41,                    // 0x04 mov al, 'A'
        0xee,                          // 0x06 out dx, al
        0x66, 0xba, 0xfd, 0x03,        // 0x07 mov dx, 0x3fd
        0xec,                          // 0x0b in al, dx
        0x88, 0xc3,                    // 0x0c mov bl, al
        0xb9, 0x07, 0x00, 0x00, 0x00,  // 0x0e mov ecx, 7
        0x83, 0xf9, 0x09,              // 0x13 cmp ecx, 9: CF, AF and SF set
        0xe6, 0x80,                    // 0x16 out 0x80, al: not granted
        0xbb, 0x99, 0x00, 0x00, 0x00,  // 0x18 mov ebx, 0x99
        0x0f, 0x05,                    // 0x1d syscall
    });
    REQUIRE(r.engine().allow_ioports(0x3f8, 8));
    require_gp(r.run());
    CHECK(r.regs.rip == kCode + 0x16);
    CHECK(r.regs.rbx == 0x5d);  // what `in` read from 0x3fd, and nothing after the fault ran
    CHECK((r.regs.rax & 0xff) == 0x5d);
    CHECK((r.regs.rflags & kArithFlags) == 0x91);  // as the cmp left them
    CHECK(r.bus.writes == Writes{{0x3f8, 'A'}});
    CHECK(r.bus.reads == std::vector<uint16_t>{0x3fd});

    // The fault leaves the engine usable: a thread made to skip the instruction goes on.
    r.regs.rip += 2;
    REQUIRE(r.run().kind == sim::StopKind::kSyscall);
    CHECK(r.regs.rbx == 0x99);
    CHECK(r.bus.writes.size() == 1);

    // The same code again, now with port 0x80 granted too: it runs to the syscall.
    REQUIRE(r.engine().allow_ioports(0x80, 1));
    r.regs.rip = kCode;
    REQUIRE(r.run().kind == sim::StopKind::kSyscall);
    CHECK(r.bus.writes == Writes{{0x3f8, 'A'}, {0x3f8, 'A'}, {0x80, 0x5d}});
}

TEST_CASE("sim io: every port of a 16- or 32-bit access must be granted") {
    CodeRun r({
        0x66, 0xba, 0xfe, 0x03,              // 0x00 mov dx, 0x3fe
        0x66, 0xb8, 0x34, 0x12,              // 0x04 mov ax, 0x1234
        0x66, 0xef,                          // 0x08 out dx, ax: 0x3fe, 0x3ff
        0x66, 0xba, 0xfc, 0x03,              // 0x0a mov dx, 0x3fc
        0xed,                                // 0x0e in eax, dx: 0x3fc..0x3ff
        0x89, 0xc3,                          // 0x0f mov ebx, eax
        0x66, 0xba, 0xff, 0x03,              // 0x11 mov dx, 0x3ff
        0x66, 0xef,                          // 0x15 out dx, ax: 0x400 is not granted
        0x0f, 0x05,                          // 0x17 syscall
    });
    REQUIRE(r.engine().allow_ioports(0x3f8, 8));
    require_gp(r.run());
    CHECK(r.regs.rip == kCode + 0x15);
    CHECK(r.regs.rbx == 0x5f5e5d5c);  // little-endian: the lowest port first
    CHECK(r.bus.writes == Writes{{0x3fe, 0x34}, {0x3ff, 0x12}});
    CHECK(r.bus.reads == std::vector<uint16_t>{0x3fc, 0x3fd, 0x3fe, 0x3ff});
}

TEST_CASE("sim io: rep outsb and rep insb move strings through a granted port") {
    CodeRun r({
        0x66, 0xba, 0xf8, 0x03,                    // 0x00 mov dx, 0x3f8
        0xbe, 0x00, 0x00, 0x60, 0x00,              // 0x04 mov esi, kData
        0xb9, 0x03, 0x00, 0x00, 0x00,              // 0x09 mov ecx, 3
        0xf3, 0x6e,                                // 0x0e rep outsb
        0xbf, 0x00, 0x01, 0x60, 0x00,              // 0x10 mov edi, kData + 0x100
        0xb9, 0x02, 0x00, 0x00, 0x00,              // 0x15 mov ecx, 2
        0xf3, 0x6c,                                // 0x1a rep insb
        0x0f, 0x05,                                // 0x1c syscall
    });
    std::memcpy(r.data(), "xyz", 3);
    REQUIRE(r.engine().allow_ioports(0x3f8, 1));
    REQUIRE(r.run().kind == sim::StopKind::kSyscall);
    CHECK(r.bus.writes == Writes{{0x3f8, 'x'}, {0x3f8, 'y'}, {0x3f8, 'z'}});
    CHECK(r.data()[0x100] == 0x58);
    CHECK(r.data()[0x101] == 0x58);
    CHECK(r.regs.rsi == kData + 3);
    CHECK(r.regs.rdi == kData + 0x102);
}

TEST_CASE("sim io: an address space without grants faults on any port, in leaves rax alone") {
    CodeRun r({
        0x48, 0xc7, 0xc0, 0x11, 0x22, 0x00, 0x00,  // 0x00 mov rax, 0x2211
        0xe4, 0x60,                                // 0x07 in al, 0x60
        0x0f, 0x05,                                // 0x09 syscall
    });
    require_gp(r.run());
    CHECK(r.regs.rip == kCode + 7);
    CHECK(r.regs.rax == 0x2211);
    CHECK(r.bus.reads.empty());

    // Ranges: up to port 0xffff, never past it; an empty range is allowed.
    CHECK(r.engine().allow_ioports(0x60, 0));
    CHECK_FALSE(r.engine().ioports_allowed(0x60, 1));
    CHECK_FALSE(r.engine().allow_ioports(0xffff, 2));
    CHECK_FALSE(r.engine().allow_ioports(0x10000, 1));
    CHECK(r.engine().allow_ioports(0xfff0, 0x10));
    CHECK(r.engine().ioports_allowed(0xfffe, 2));
    CHECK_FALSE(r.engine().ioports_allowed(0xffff, 2));
}

// A loop with `out` that the block budget stops at every few blocks, so the
// thread keeps resuming at block starts reached through chained blocks (where
// Unicorn 2.0.1's rip is stale once a code hook has run): every byte must go
// out exactly once, in order.
TEST_CASE("sim io: a loop with port I/O resumes exactly where the budget stopped it") {
    CodeRun r({
        0x31, 0xff,                    // 0x00 xor edi, edi
        0xba, 0xf8, 0x03, 0x00, 0x00,  // 0x02 mov edx, 0x3f8
        0x89, 0xf8,                    // 0x07 loop: mov eax, edi
        0xee,                          // 0x09 out dx, al
        0x83, 0xc7, 0x01,              // 0x0a add edi, 1
        0x83, 0xff, 0x28,              // 0x0d cmp edi, 40
        0x75, 0xf5,                    // 0x10 jne loop
        0x0f, 0x05,                    // 0x12 syscall
    });
    REQUIRE(r.engine().allow_ioports(0x3f8, 1));
    const uint64_t budget = GENERATE(1, 2, 3, 7);
    sim::Stop s;
    int runs = 0;
    do {
        s = r.run(budget);
        REQUIRE(++runs < 1000);
    } while (s.kind == sim::StopKind::kBudget);
    REQUIRE(s.kind == sim::StopKind::kSyscall);
    CHECK(r.regs.rdi == 40);
    Writes expected;
    for (int i = 0; i < 40; ++i)
        expected.emplace_back(0x3f8, static_cast<uint8_t>(i));
    CHECK(r.bus.writes == expected);
}

namespace {
// A small machine that is not booted, with "ok" for COM1's input.
sim::Config com1_config() {
    sim::Config config;
    config.memory_mib = 32;
    config.cpus = 1;
    config.echo_console = false;
    config.serial_input = {'o', 'k'};
    return config;
}
}  // namespace

TEST_CASE("sim io: the machine's port bus, COM1 output in console order, IRQ 4 edges only while enabled") {
    sim::Machine m(com1_config());
    constexpr uint16_t kCom1 = sim::Uart16550::kCom1Base;

    // Lines 0 (timer) and 2 (cascade) are the backend's, as on a PC.
    CHECK_FALSE(m.irq_enable(0));
    CHECK_FALSE(m.irq_enable(2));
    CHECK_FALSE(m.irq_enable(hal::kIrqLines));
    CHECK_FALSE(m.as_allow_ioports(12345, 0x3f8, 8));  // no such address space

    // COM1 starts as the x86_64 kernel console leaves it: 8N1, DTR|RTS, no IRQs.
    CHECK(m.port_read(kCom1 + sim::Uart16550::kLcr) == 0x03);
    CHECK(m.port_read(kCom1 + sim::Uart16550::kMcr) == 0x03);
    CHECK(m.port_read(0x2f8) == 0xff);  // nothing there
    m.port_write(0x2f8, 1);

    // Transmitted bytes join the console in order with the kernel's output.
    m.console_write("k:", 2);
    m.port_write(kCom1, 'z');
    m.console_write("\n", 1);
    CHECK(m.console() == "k:z\n");

    // The receive interrupt rises with OUT2 and IER, but the line is not enabled: lost.
    m.port_write(kCom1 + sim::Uart16550::kMcr, 0x0b);
    m.port_write(kCom1 + sim::Uart16550::kIer, sim::Uart16550::kIerRx);
    CHECK(m.com1().irq_line());
    CHECK(m.pending_irqs() == 0);
    // Enabling the line does not replay an edge that is over (IOAPIC semantics).
    REQUIRE(m.irq_enable(4));
    CHECK(m.pending_irqs() == 0);
    // Reading 'o' with 'k' waiting is a new edge.
    CHECK(m.port_read(kCom1) == 'o');
    CHECK(m.pending_irqs() == 1u << 4);
    // Disabling drops what was pending.
    m.irq_disable(4);
    CHECK(m.pending_irqs() == 0);
    REQUIRE(m.irq_enable(4));
    m.port_write(kCom1 + sim::Uart16550::kIer, 0);
    m.port_write(kCom1 + sim::Uart16550::kIer, sim::Uart16550::kIerRx);
    CHECK(m.pending_irqs() == 1u << 4);
    CHECK(m.port_read(kCom1) == 'k');
    CHECK_FALSE(m.com1().irq_line());
    CHECK(m.stats().irqs == 0);  // delivery happens in run(), between slices
}

TEST_CASE("sim io: with --serial-gap, COM1's next byte is on its way once the guest reads one") {
    sim::Config config = com1_config();
    config.faults.serial_gap = 5;
    sim::Machine m(config);
    constexpr uint16_t kCom1 = sim::Uart16550::kCom1Base;
    REQUIRE(m.irq_enable(4));
    m.port_write(kCom1 + sim::Uart16550::kMcr, 0x0b);
    m.port_write(kCom1 + sim::Uart16550::kIer, sim::Uart16550::kIerRx);
    CHECK(m.pending_irqs() == 1u << 4);  // 'o' was there from the start
    m.irq_disable(4);
    REQUIRE(m.irq_enable(4));
    CHECK(m.port_read(kCom1) == 'o');
    // Unpaced, 'k' would be in RBR now with a new edge; paced, it comes between slices.
    CHECK(m.com1().input_on_the_way());
    CHECK_FALSE(m.port_read(kCom1 + sim::Uart16550::kLsr) & sim::Uart16550::kLsrDr);
    CHECK(m.pending_irqs() == 0);
}
