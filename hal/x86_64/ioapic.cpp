#include "hal/x86_64/ioapic.h"

#include <hal/hal.h>

#include "hal/x86_64/asm_defs.h"
#include "hal/x86_64/lapic.h"
#include "hal/x86_64/paging.h"
#include "hal/x86_64/serial.h"

namespace x86 {
namespace {

static_assert(X86_IRQ_COUNT == hal::kIrqLines && hal::kIrqLines == kIsaIrqs);

// Registers, reached through the select/window pair.
constexpr uint32_t kRegSelect = 0x00;
constexpr uint32_t kRegWindow = 0x10;
constexpr uint32_t kRegVersion = 0x01;
constexpr uint32_t kRegRedirection = 0x10;  // input n: low dword 0x10 + 2n, high 0x11 + 2n

// Redirection entry bits (low dword); zero fields mean fixed delivery, physical
// destination, edge triggered, active high.
constexpr uint32_t kRedirActiveLow = 1u << 13;
constexpr uint32_t kRedirMasked = 1u << 16;

// Lines the backend keeps: IRQ 0, the PIT (the timer calibration uses it), and
// IRQ 2, the 8259 cascade, which no device raises (QEMU and most firmware put
// the PIT on GSI 2).
constexpr uint32_t kReservedIrqs = (1u << 0) | (1u << 2);

struct IoApic {
    volatile uint32_t* regs;
    uint32_t gsi_base;
    uint32_t inputs;
};

// Where an ISA line arrives; ioapic == null: it cannot be enabled.
struct IsaLine {
    IoApic* ioapic;
    uint32_t input;
    bool active_low;
};

IoApic g_ioapics[kMaxAcpiIoApics];
size_t g_ioapic_count;
IsaLine g_lines[kIsaIrqs];
uint32_t g_bsp_apic_id;
uint32_t g_enabled;  // bit per ISA IRQ (BKL)

uint32_t read_reg(const IoApic& io, uint32_t reg) {
    io.regs[kRegSelect / 4] = reg;
    return io.regs[kRegWindow / 4];
}

void write_reg(const IoApic& io, uint32_t reg, uint32_t v) {
    io.regs[kRegSelect / 4] = reg;
    io.regs[kRegWindow / 4] = v;
}

// The IOAPIC whose inputs cover `gsi`, or null.
IoApic* ioapic_for(uint32_t gsi) {
    for (size_t i = 0; i < g_ioapic_count; ++i) {
        IoApic& io = g_ioapics[i];
        if (gsi >= io.gsi_base && gsi - io.gsi_base < io.inputs) return &io;
    }
    return nullptr;
}

// Two ISA lines overridden onto one GSI cannot be told apart: neither is usable.
bool gsi_shared(const AcpiIrqRouting& routing, uint32_t irq) {
    for (uint32_t other = 0; other < kIsaIrqs; ++other) {
        if (other != irq && routing.isa[other].gsi == routing.isa[irq].gsi) return true;
    }
    return false;
}

}  // namespace

void ioapic_init(const AcpiIrqRouting& routing) {
    g_bsp_apic_id = lapic_id();
    if (routing.ioapic_count == 0) print("x86_64: no IOAPIC found: device interrupts unavailable\n");
    if (routing.skipped_ioapics != 0) {
        print("x86_64: ");
        print_dec(routing.skipped_ioapics);
        print(" more IOAPIC(s) in the MADT not used (at most 8)\n");
    }
    for (size_t i = 0; i < routing.ioapic_count; ++i) {
        const AcpiIoApic& a = routing.ioapics[i];
        auto* regs = static_cast<volatile uint32_t*>(map_mmio(a.base, kRegWindow + 4));
        if (regs == nullptr) {
            print("x86_64: no room in the MMIO window for IOAPIC ");
            print_dec(a.id);
            print(": its interrupts are not used\n");
            continue;
        }
        IoApic& io = g_ioapics[g_ioapic_count++];
        io = IoApic{regs, a.gsi_base, 0};
        io.inputs = ((read_reg(io, kRegVersion) >> 16) & 0xff) + 1;
        // Firmware may have left inputs unmasked; nothing is delivered unasked.
        for (uint32_t n = 0; n < io.inputs; ++n) {
            write_reg(io, kRegRedirection + 2 * n, kRedirMasked);
            write_reg(io, kRegRedirection + 2 * n + 1, 0);
        }
    }
    for (uint32_t irq = 0; irq < kIsaIrqs; ++irq) {
        const AcpiIsaIrq& r = routing.isa[irq];
        IoApic* io = ioapic_for(r.gsi);
        if (io == nullptr || (kReservedIrqs & (1u << irq)) || gsi_shared(routing, irq)) continue;
        g_lines[irq] = IsaLine{io, r.gsi - io->gsi_base, r.active_low};
    }
}

bool irq_delivering(uint32_t irq) { return irq < kIsaIrqs && (g_enabled & (1u << irq)); }

}  // namespace x86

using namespace x86;

// Always edge triggered, as hal.h promises, even where the MADT calls a line level
// triggered (QEMU's PCI interrupt lines): the interrupt is acknowledged before the
// driver has served the device, so a level-triggered line would fire again at once.
bool hal::irq_enable(uint32_t irq) {
    if (irq >= kIrqLines || g_lines[irq].ioapic == nullptr) return false;
    const IsaLine& line = g_lines[irq];
    const uint32_t low = (X86_VEC_IRQ_BASE + irq) | (line.active_low ? kRedirActiveLow : 0);
    write_reg(*line.ioapic, kRegRedirection + 2 * line.input + 1, g_bsp_apic_id << 24);
    write_reg(*line.ioapic, kRegRedirection + 2 * line.input, low);
    g_enabled |= 1u << irq;
    return true;
}

void hal::irq_disable(uint32_t irq) {
    if (!irq_delivering(irq)) return;
    const IsaLine& line = g_lines[irq];
    write_reg(*line.ioapic, kRegRedirection + 2 * line.input, kRedirMasked);
    g_enabled &= ~(1u << irq);
}
