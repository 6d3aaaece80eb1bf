// ACPI: just enough to find the CPUs and the IOAPICs (RSDP -> RSDT/XSDT -> MADT).
//
// Pure code (no privileged instruction): physical memory is read through a
// caller-supplied reader, so it builds and can be tested on the host. Every
// length comes from the tables themselves, so everything is bounded and checked
// (signatures, lengths, checksums); garbage yields an error, never a wild read
// outside what the reader accepts.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace x86 {

// Enabled local APICs kept from the MADT, in MADT order (duplicates dropped).
constexpr size_t kMaxAcpiCpus = 32;
// Largest RSDT/XSDT/MADT accepted (a MADT for 256 CPUs is about 2 KiB).
constexpr uint32_t kMaxAcpiTableSize = 64 * 1024;

struct AcpiCpus {
    uint32_t apic_ids[kMaxAcpiCpus];
    size_t count;         // entries kept in apic_ids
    size_t total;         // enabled, addressable local APICs seen (may exceed count)
    size_t skipped_x2apic;  // enabled x2APIC entries with an ID xAPIC mode cannot address
    uint64_t lapic_base;  // local APIC physical address (MADT field or type-5 override)
    bool from_xsdt;       // the MADT was found through the XSDT (ACPI 2.0+)
};

// IOAPICs kept from the MADT, in MADT order.
constexpr size_t kMaxAcpiIoApics = 8;
// ISA interrupt lines (IRQ 0..15).
constexpr uint32_t kIsaIrqs = 16;

struct AcpiIoApic {
    uint32_t id;
    uint64_t base;      // register block physical address
    uint32_t gsi_base;  // global system interrupt of its input 0
};

// Where an ISA IRQ arrives: GSI = IRQ, active high, unless an Interrupt Source
// Override says otherwise.
struct AcpiIsaIrq {
    uint32_t gsi;
    bool active_low;
    bool overridden;  // named by an override (for the boot summary)
};

struct AcpiIrqRouting {
    AcpiIoApic ioapics[kMaxAcpiIoApics];
    size_t ioapic_count;     // entries kept in ioapics
    size_t skipped_ioapics;  // IOAPIC entries beyond kMaxAcpiIoApics
    AcpiIsaIrq isa[kIsaIrqs];
};

// Returns a pointer to `len` readable bytes of physical memory at `pa`, or null
// if that range must not be read.
using AcpiReader = const uint8_t* (*)(void* ctx, uint64_t pa, uint64_t len);

// Validates the RSDP copy (`rsdp_size` bytes: 20 for ACPI 1.0, 36 for 2.0+), walks
// the XSDT (revision >= 2, falling back to the RSDT if the XSDT is bad) or the
// RSDT, and reads the first valid MADT: into `cpus` the enabled local APICs (type 0
// entries, and type 9 (x2APIC) entries whose ID fits xAPIC mode (< 0xff)); into
// `irqs` the IOAPICs (type 1) and each ISA IRQ's GSI and polarity (identity and
// active high, changed by type 2 overrides for bus 0). Returns null on success,
// else a message naming the problem (`irqs` then lists no IOAPIC).
const char* acpi_read_madt(const uint8_t* rsdp, size_t rsdp_size, AcpiReader read, void* ctx, AcpiCpus* cpus,
                           AcpiIrqRouting* irqs);

}  // namespace x86
