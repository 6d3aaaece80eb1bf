#include "hal/x86_64/acpi.h"

namespace x86 {
namespace {

constexpr size_t kRsdpV1Size = 20;
constexpr size_t kRsdpV2Size = 36;
constexpr uint32_t kHeaderSize = 36;    // every system description table
constexpr uint32_t kMadtFixedSize = 44;  // header, local APIC address, flags

enum : uint8_t {
    kMadtLocalApic = 0,
    kMadtIoApic = 1,
    kMadtSourceOverride = 2,
    kMadtLapicOverride = 5,
    kMadtLocalX2apic = 9,
};
constexpr uint32_t kLapicEnabled = 1u << 0;
constexpr uint8_t kBusIsa = 0;
constexpr uint16_t kPolarityMask = 0x3;  // MPS INTI flags: 0 = as the bus (ISA: high)
constexpr uint16_t kPolarityLow = 0x3;
constexpr uint32_t kXapicBroadcast = 0xff;

template <typename T>
T load(const uint8_t* p) {
    T v;
    __builtin_memcpy(&v, p, sizeof(T));
    return v;
}

bool checksum_ok(const uint8_t* p, size_t n) {
    uint8_t sum = 0;
    for (size_t i = 0; i < n; ++i) sum = static_cast<uint8_t>(sum + p[i]);
    return sum == 0;
}

bool signature_is(const uint8_t* p, const char* sig, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        if (p[i] != static_cast<uint8_t>(sig[i])) return false;
    }
    return true;
}

// The whole table at `pa` if its header says `sig`, its length is sane and its
// checksum holds; else null.
const uint8_t* read_table(uint64_t pa, const char* sig, AcpiReader read, void* ctx, uint32_t* len) {
    if (pa == 0) return nullptr;
    const uint8_t* h = read(ctx, pa, kHeaderSize);
    if (h == nullptr || !signature_is(h, sig, 4)) return nullptr;
    const uint32_t n = load<uint32_t>(h + 4);
    if (n < kHeaderSize || n > kMaxAcpiTableSize) return nullptr;
    const uint8_t* t = read(ctx, pa, n);
    if (t == nullptr || !signature_is(t, sig, 4) || load<uint32_t>(t + 4) != n || !checksum_ok(t, n)) {
        return nullptr;
    }
    *len = n;
    return t;
}

void add_cpu(AcpiCpus* out, uint32_t apic_id) {
    for (size_t i = 0; i < out->count; ++i) {
        if (out->apic_ids[i] == apic_id) return;  // listed twice (type 0 and 9)
    }
    ++out->total;
    if (out->count < kMaxAcpiCpus) out->apic_ids[out->count++] = apic_id;
}

void add_ioapic(AcpiIrqRouting* irqs, const uint8_t* e) {
    if (irqs->ioapic_count == kMaxAcpiIoApics) {
        ++irqs->skipped_ioapics;
        return;
    }
    irqs->ioapics[irqs->ioapic_count++] = AcpiIoApic{e[2], load<uint32_t>(e + 4), load<uint32_t>(e + 8)};
}

void parse_madt(const uint8_t* t, uint32_t len, AcpiCpus* out, AcpiIrqRouting* irqs) {
    out->lapic_base = load<uint32_t>(t + kHeaderSize);
    for (uint32_t off = kMadtFixedSize; off + 2 <= len;) {
        const uint8_t type = t[off];
        const uint8_t n = t[off + 1];
        if (n < 2 || off + n > len) break;  // malformed: keep what was found so far
        const uint8_t* e = t + off;
        if (type == kMadtLocalApic && n >= 8) {
            if ((load<uint32_t>(e + 4) & kLapicEnabled) && e[3] != kXapicBroadcast) add_cpu(out, e[3]);
        } else if (type == kMadtLocalX2apic && n >= 16) {
            const uint32_t id = load<uint32_t>(e + 4);
            if (load<uint32_t>(e + 8) & kLapicEnabled) {
                if (id < kXapicBroadcast) {
                    add_cpu(out, id);
                } else {
                    ++out->skipped_x2apic;
                }
            }
        } else if (type == kMadtLapicOverride && n >= 12) {
            out->lapic_base = load<uint64_t>(e + 4);
        } else if (type == kMadtIoApic && n >= 12) {
            add_ioapic(irqs, e);
        } else if (type == kMadtSourceOverride && n >= 10 && e[2] == kBusIsa && e[3] < kIsaIrqs) {
            const bool low = (load<uint16_t>(e + 8) & kPolarityMask) == kPolarityLow;
            irqs->isa[e[3]] = AcpiIsaIrq{load<uint32_t>(e + 4), low, true};
        }
        off += n;
    }
}

// Looks for a valid MADT among the `entry_size`-byte pointers of an RSDT/XSDT.
bool find_madt(const uint8_t* sdt, uint32_t len, size_t entry_size, AcpiReader read, void* ctx, AcpiCpus* out,
               AcpiIrqRouting* irqs) {
    for (uint32_t off = kHeaderSize; off + entry_size <= len; off += static_cast<uint32_t>(entry_size)) {
        const uint64_t pa = entry_size == 8 ? load<uint64_t>(sdt + off) : load<uint32_t>(sdt + off);
        uint32_t madt_len = 0;
        if (const uint8_t* madt = read_table(pa, "APIC", read, ctx, &madt_len)) {
            if (madt_len < kMadtFixedSize) continue;
            parse_madt(madt, madt_len, out, irqs);
            return true;
        }
    }
    return false;
}

}  // namespace

const char* acpi_read_madt(const uint8_t* rsdp, size_t rsdp_size, AcpiReader read, void* ctx, AcpiCpus* out,
                           AcpiIrqRouting* irqs) {
    *out = AcpiCpus{};
    *irqs = AcpiIrqRouting{};
    for (uint32_t irq = 0; irq < kIsaIrqs; ++irq) irqs->isa[irq].gsi = irq;
    if (rsdp == nullptr || rsdp_size < kRsdpV1Size) return "no ACPI RSDP from the bootloader";
    if (!signature_is(rsdp, "RSD PTR ", 8) || !checksum_ok(rsdp, kRsdpV1Size)) return "bad ACPI RSDP";
    const uint8_t revision = rsdp[15];

    // ACPI 2.0+: the XSDT, if the extended RSDP is intact.
    bool tried_xsdt = false;
    if (revision >= 2 && rsdp_size >= kRsdpV2Size && load<uint32_t>(rsdp + 20) == kRsdpV2Size &&
        checksum_ok(rsdp, kRsdpV2Size)) {
        uint32_t len = 0;
        if (const uint8_t* xsdt = read_table(load<uint64_t>(rsdp + 24), "XSDT", read, ctx, &len)) {
            tried_xsdt = true;
            if (find_madt(xsdt, len, 8, read, ctx, out, irqs)) {
                out->from_xsdt = true;
                return nullptr;
            }
        }
    }
    uint32_t len = 0;
    const uint8_t* rsdt = read_table(load<uint32_t>(rsdp + 16), "RSDT", read, ctx, &len);
    if (rsdt == nullptr) return tried_xsdt ? "no MADT in the ACPI XSDT" : "bad or missing ACPI RSDT";
    if (!find_madt(rsdt, len, 4, read, ctx, out, irqs)) return "no valid ACPI MADT";
    return nullptr;
}

}  // namespace x86
