// I/O port grants as data: a small set of port ranges and the TSS I/O permission
// bitmap bits it opens.
//
// Pure code (no privileged instruction), so it builds and is tested on the host.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace x86 {

constexpr uint32_t kIoPorts = 0x10000;
// Size of a bitmap covering every port (one bit per port; a set bit faults at CPL 3).
constexpr size_t kIoBitmapBytes = kIoPorts / 8;
// Ranges one address space may hold once overlapping and adjacent grants are merged.
constexpr size_t kMaxIoRanges = 16;

// Ports as disjoint, non-adjacent ranges sorted by base.
struct IoPortSet {
    struct Range {  // ports [base, end)
        uint32_t base;
        uint32_t end;
    };
    Range ranges[kMaxIoRanges];
    size_t count;

    // Adds [base, base + n), merged with the ranges it overlaps or touches. False
    // (set unchanged) if the range ends past port 0xffff or the set would need
    // more than kMaxIoRanges ranges. Adding an empty range does nothing.
    bool add(uint32_t base, uint32_t n);
};

// Clears (allowed) or sets the bitmap bits of ports [base, end).
void io_bitmap_fill(uint8_t* bitmap, uint32_t base, uint32_t end, bool allowed);

// Clears (allowed) or sets the bitmap bits of every port in `set`.
void io_bitmap_apply(uint8_t* bitmap, const IoPortSet& set, bool allowed);

}  // namespace x86
