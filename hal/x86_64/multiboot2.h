// Multiboot2 boot information: parsing and the free-memory computation.
//
// Pure code (no privileged instructions), so it can be tested on the host.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <hal/hal.h>

namespace x86 {

constexpr uint32_t kMultiboot2BootMagic = 0x36d76289;  // eax from the bootloader
constexpr size_t kMaxRamRanges = 32;
constexpr size_t kMaxModules = 8;
constexpr size_t kMaxRsdp = 36;  // ACPI 2.0 RSDP size

// A physical range [base, base + size).
using hal::MemRange;

// Everything the backend keeps from the multiboot2 information structure.
struct Multiboot {
    MemRange ram[kMaxRamRanges];  // memory-map entries of type 1 (available)
    size_t ram_count;
    uint64_t ram_top;             // end of the highest RAM-like entry (types 1, 3, 4)
    MemRange mbi;                 // the information structure itself
    MemRange modules[kMaxModules];
    size_t module_count;
    size_t initramfs_index;       // module named "initramfs", else 0; valid if module_count
    char cmdline[hal::kMaxCmdline];
    uint8_t rsdp[kMaxRsdp];       // copy of the ACPI RSDP (tag 14 or 15)
    size_t rsdp_size;             // 0 if the bootloader gave none
};

// Parses the structure at `mbi` (physical address `mbi_pa`). Returns null on
// success, else a message naming the problem.
const char* parse_multiboot2(const uint8_t* mbi, hal::paddr_t mbi_pa, Multiboot* out);

// An ordered list of disjoint physical ranges.
class RangeList {
  public:
    static constexpr size_t kCapacity = 64;

    // Adds [base, base + size), trimmed inward to page boundaries.
    void add(uint64_t base, uint64_t size);
    // Removes [base, base + size), widened outward to page boundaries.
    void remove(uint64_t base, uint64_t size);
    // Takes one page-aligned 4 KiB frame below `limit` (lowest first); 0 if none.
    hal::paddr_t take_frame(uint64_t limit);

    size_t count() const { return count_; }
    const MemRange& operator[](size_t i) const { return ranges_[i]; }
    // True if a range had to be dropped for lack of capacity.
    bool overflowed() const { return overflowed_; }

  private:
    void insert_at(size_t i, const MemRange& r);
    void erase_at(size_t i);

    MemRange ranges_[kCapacity];
    size_t count_ = 0;
    bool overflowed_ = false;
};

}  // namespace x86
