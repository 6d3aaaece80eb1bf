// Host tests of the x86_64 backend's MADT reader (hal/x86_64/acpi): CPUs, IOAPICs
// and ISA interrupt source overrides, from tables built in memory.
#include "hal/x86_64/acpi.h"

#include "catch.h"

#include <cstring>
#include <map>
#include <vector>

using x86::AcpiCpus;
using x86::AcpiIrqRouting;

namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint64_t kRsdtPa = 0x7fe0000;
constexpr uint64_t kMadtPa = 0x7fe1000;

void put32(Bytes& b, uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void set_checksum(Bytes& b, size_t offset, size_t len) {
    uint8_t sum = 0;
    for (size_t i = 0; i < len; ++i) sum = static_cast<uint8_t>(sum + (i == offset ? 0 : b[i]));
    b[offset] = static_cast<uint8_t>(-sum);
}

// A system description table: header with `sig`, then `body`, length and checksum set.
Bytes table(const char* sig, const Bytes& body) {
    Bytes t(36, 0);
    std::memcpy(t.data(), sig, 4);
    t.insert(t.end(), body.begin(), body.end());
    const auto len = static_cast<uint32_t>(t.size());
    std::memcpy(t.data() + 4, &len, 4);
    t[8] = 1;  // revision
    set_checksum(t, 9, t.size());
    return t;
}

Bytes rsdp_v1(uint32_t rsdt) {
    Bytes r(20, 0);
    std::memcpy(r.data(), "RSD PTR ", 8);
    std::memcpy(r.data() + 16, &rsdt, 4);
    set_checksum(r, 8, 20);
    return r;
}

// MADT entries.
Bytes lapic(uint8_t apic_id) {
    Bytes e{0, 8, apic_id, apic_id};
    put32(e, 1);  // enabled
    return e;
}
Bytes ioapic(uint8_t id, uint32_t base, uint32_t gsi_base) {
    Bytes e{1, 12, id, 0};
    put32(e, base);
    put32(e, gsi_base);
    return e;
}
Bytes source_override(uint8_t bus, uint8_t irq, uint32_t gsi, uint16_t flags) {
    Bytes e{2, 10, bus, irq};
    put32(e, gsi);
    e.push_back(static_cast<uint8_t>(flags));
    e.push_back(static_cast<uint8_t>(flags >> 8));
    return e;
}

Bytes madt(const std::vector<Bytes>& entries) {
    Bytes body;
    put32(body, 0xfee00000);  // local APIC address
    put32(body, 1);           // flags: PC-AT compatible (8259s present)
    for (const Bytes& e : entries) body.insert(body.end(), e.begin(), e.end());
    return table("APIC", body);
}

// Physical memory: tables at fixed addresses; anything else is unreadable.
struct Memory {
    std::map<uint64_t, Bytes> tables;

    static const uint8_t* read(void* ctx, uint64_t pa, uint64_t len) {
        for (const auto& [base, bytes] : static_cast<Memory*>(ctx)->tables) {
            if (pa >= base && pa - base <= bytes.size() && len <= bytes.size() - (pa - base)) {
                return bytes.data() + (pa - base);
            }
        }
        return nullptr;
    }
};

struct Madt {
    const char* error;
    AcpiCpus cpus;
    AcpiIrqRouting irqs;
};

Madt read_madt(const Bytes& madt_table) {
    Memory mem;
    Bytes rsdt_body;
    put32(rsdt_body, static_cast<uint32_t>(kMadtPa));
    mem.tables[kRsdtPa] = table("RSDT", rsdt_body);
    mem.tables[kMadtPa] = madt_table;
    const Bytes rsdp = rsdp_v1(static_cast<uint32_t>(kRsdtPa));
    Madt m{};
    m.error = x86::acpi_read_madt(rsdp.data(), rsdp.size(), Memory::read, &mem, &m.cpus, &m.irqs);
    return m;
}

}  // namespace

TEST_CASE("acpi: a QEMU-like MADT gives the CPUs, the IOAPIC and the ISA overrides") {
    const Madt m = read_madt(madt({
        lapic(0),
        lapic(1),
        ioapic(0, 0xfec00000, 0),
        source_override(0, 0, 2, 0x0),    // PIT on GSI 2, as the bus says
        source_override(0, 5, 5, 0xd),    // level, active high
        source_override(0, 9, 9, 0xd),
        source_override(0, 11, 11, 0xf),  // level, active low
    }));
    REQUIRE(m.error == nullptr);
    CHECK(m.cpus.count == 2);
    REQUIRE(m.irqs.ioapic_count == 1);
    CHECK(m.irqs.ioapics[0].id == 0);
    CHECK(m.irqs.ioapics[0].base == 0xfec00000);
    CHECK(m.irqs.ioapics[0].gsi_base == 0);
    CHECK(m.irqs.skipped_ioapics == 0);

    CHECK(m.irqs.isa[0].gsi == 2);
    CHECK(m.irqs.isa[0].overridden);
    CHECK_FALSE(m.irqs.isa[0].active_low);
    CHECK(m.irqs.isa[5].gsi == 5);
    CHECK_FALSE(m.irqs.isa[5].active_low);
    CHECK(m.irqs.isa[11].active_low);
    for (uint32_t irq : {1u, 2u, 3u, 4u, 6u, 7u, 8u, 10u, 12u, 13u, 14u, 15u}) {
        INFO("irq " << irq);
        CHECK(m.irqs.isa[irq].gsi == irq);
        CHECK_FALSE(m.irqs.isa[irq].overridden);
        CHECK_FALSE(m.irqs.isa[irq].active_low);
    }
}

TEST_CASE("acpi: overrides for other buses, out-of-range IRQs and short entries are ignored") {
    Bytes short_override = source_override(0, 4, 20, 0xf);
    short_override[1] = 8;  // too short for an override: skipped by its length
    short_override.resize(8);
    Bytes short_ioapic = ioapic(3, 0xfec10000, 24);
    short_ioapic[1] = 10;
    short_ioapic.resize(10);
    const Madt m = read_madt(madt({
        lapic(0),
        source_override(1, 3, 30, 0xf),  // not ISA
        source_override(0, 16, 31, 0xf),  // no such ISA line
        short_override,
        short_ioapic,
        source_override(0, 7, 17, 0x3),  // a later valid entry is still read
    }));
    REQUIRE(m.error == nullptr);
    CHECK(m.irqs.ioapic_count == 0);
    CHECK(m.irqs.isa[3].gsi == 3);
    CHECK_FALSE(m.irqs.isa[3].overridden);
    CHECK(m.irqs.isa[4].gsi == 4);
    CHECK(m.irqs.isa[7].gsi == 17);
    CHECK(m.irqs.isa[7].active_low);
}

TEST_CASE("acpi: IOAPICs past the table's capacity are counted, not kept") {
    std::vector<Bytes> entries{lapic(0)};
    const size_t n = x86::kMaxAcpiIoApics + 3;
    for (size_t i = 0; i < n; ++i) {
        entries.push_back(ioapic(static_cast<uint8_t>(i), 0xfec00000 + static_cast<uint32_t>(i) * 0x1000,
                                 static_cast<uint32_t>(i) * 24));
    }
    const Madt m = read_madt(madt(entries));
    REQUIRE(m.error == nullptr);
    CHECK(m.irqs.ioapic_count == x86::kMaxAcpiIoApics);
    CHECK(m.irqs.skipped_ioapics == 3);
    CHECK(m.irqs.ioapics[x86::kMaxAcpiIoApics - 1].gsi_base == (x86::kMaxAcpiIoApics - 1) * 24);
}

TEST_CASE("acpi: with no valid MADT there is no IOAPIC and every ISA IRQ keeps its own GSI") {
    Bytes bad = madt({lapic(0), ioapic(0, 0xfec00000, 0), source_override(0, 0, 2, 0)});
    bad[9] = static_cast<uint8_t>(bad[9] + 1);  // checksum broken
    const Madt m = read_madt(bad);
    CHECK(m.error != nullptr);
    CHECK(m.irqs.ioapic_count == 0);
    for (uint32_t irq = 0; irq < x86::kIsaIrqs; ++irq) CHECK(m.irqs.isa[irq].gsi == irq);
}
