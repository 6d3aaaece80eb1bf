#include "hal/x86_64/io_bitmap.h"

namespace x86 {

bool IoPortSet::add(uint32_t base, uint32_t n) {
    if (base > kIoPorts || n > kIoPorts - base) return false;
    if (n == 0) return true;
    uint32_t lo = base;
    uint32_t hi = base + n;

    // Built aside, so a set that would overflow stays as it was.
    Range out[kMaxIoRanges];
    size_t k = 0;
    auto push = [&](Range r) {
        if (k == kMaxIoRanges) return false;
        out[k++] = r;
        return true;
    };
    bool placed = false;
    for (size_t i = 0; i < count; ++i) {
        const Range& r = ranges[i];
        if (r.end < lo) {
            if (!push(r)) return false;
        } else if (r.base > hi) {
            if (!placed && !push(Range{lo, hi})) return false;
            placed = true;
            if (!push(r)) return false;
        } else {  // overlaps or touches the new range: absorbed into it
            if (r.base < lo) lo = r.base;
            if (r.end > hi) hi = r.end;
        }
    }
    if (!placed && !push(Range{lo, hi})) return false;
    for (size_t i = 0; i < k; ++i) ranges[i] = out[i];
    count = k;
    return true;
}

void io_bitmap_fill(uint8_t* bitmap, uint32_t base, uint32_t end, bool allowed) {
    for (uint32_t port = base; port < end;) {
        // Bits [first, last) of this byte.
        const uint32_t byte = port / 8;
        const uint32_t first = port % 8;
        const uint32_t last = end - byte * 8 >= 8 ? 8 : end - byte * 8;
        const auto mask = static_cast<uint8_t>((0xffu << first) & (0xffu >> (8 - last)));
        bitmap[byte] = static_cast<uint8_t>(allowed ? bitmap[byte] & ~mask : bitmap[byte] | mask);
        port = (byte + 1) * 8;
    }
}

void io_bitmap_apply(uint8_t* bitmap, const IoPortSet& set, bool allowed) {
    for (size_t i = 0; i < set.count; ++i) io_bitmap_fill(bitmap, set.ranges[i].base, set.ranges[i].end, allowed);
}

}  // namespace x86
