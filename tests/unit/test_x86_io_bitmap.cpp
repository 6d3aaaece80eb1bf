// Host tests of the x86_64 backend's I/O port grants (hal/x86_64/io_bitmap).
#include "hal/x86_64/io_bitmap.h"

#include "catch.h"

#include <random>
#include <utility>
#include <vector>

using x86::IoPortSet;
using x86::kIoBitmapBytes;
using x86::kIoPorts;
using x86::kMaxIoRanges;

namespace {

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;

Ranges ranges_of(const IoPortSet& s) {
    Ranges out;
    for (size_t i = 0; i < s.count; ++i) out.emplace_back(s.ranges[i].base, s.ranges[i].end);
    return out;
}

// A bitmap as the TSS starts it: every port closed.
std::vector<uint8_t> closed_bitmap() { return std::vector<uint8_t>(kIoBitmapBytes, 0xff); }

bool port_open(const std::vector<uint8_t>& bitmap, uint32_t port) {
    return (bitmap[port / 8] & (1u << (port % 8))) == 0;
}

}  // namespace

TEST_CASE("io ports: disjoint grants stay sorted, overlapping and adjacent ones merge") {
    IoPortSet s{};
    REQUIRE(s.add(0x3f8, 8));
    REQUIRE(s.add(0x60, 1));
    REQUIRE(s.add(0x64, 1));
    CHECK(ranges_of(s) == Ranges{{0x60, 0x61}, {0x64, 0x65}, {0x3f8, 0x400}});

    REQUIRE(s.add(0x61, 3));  // fills the gap exactly: touches both neighbours
    CHECK(ranges_of(s) == Ranges{{0x60, 0x65}, {0x3f8, 0x400}});
    REQUIRE(s.add(0x3f0, 0x20));  // covers a range and sticks out on both sides
    CHECK(ranges_of(s) == Ranges{{0x60, 0x65}, {0x3f0, 0x410}});
    REQUIRE(s.add(0x3f8, 2));  // already inside
    CHECK(ranges_of(s) == Ranges{{0x60, 0x65}, {0x3f0, 0x410}});
    REQUIRE(s.add(0, 0x1000));  // swallows everything
    CHECK(ranges_of(s) == Ranges{{0, 0x1000}});
}

TEST_CASE("io ports: the last port can be granted, nothing past it") {
    IoPortSet s{};
    CHECK(s.add(0xfff8, 8));
    CHECK(ranges_of(s) == Ranges{{0xfff8, kIoPorts}});
    CHECK_FALSE(s.add(0xfff8, 9));
    CHECK_FALSE(s.add(0xffff, 2));
    CHECK_FALSE(s.add(0, kIoPorts + 1));
    CHECK(ranges_of(s) == Ranges{{0xfff8, kIoPorts}});
    CHECK(s.add(0x1234, 0));  // empty: accepted, no range
    CHECK(s.count == 1);
}

TEST_CASE("io ports: a full set refuses a new range but still merges into its own") {
    IoPortSet s{};
    for (uint32_t i = 0; i < kMaxIoRanges; ++i) REQUIRE(s.add(i * 0x10, 2));
    const Ranges full = ranges_of(s);
    CHECK_FALSE(s.add(0x1000, 1));
    CHECK_FALSE(s.add(0x05, 1));  // between two ranges, touching neither
    CHECK(ranges_of(s) == full);

    CHECK(s.add(0x02, 1));  // touches the first range
    CHECK(s.count == kMaxIoRanges);
    CHECK(s.add(0x00, 0x12));  // joins the first two
    CHECK(s.count == kMaxIoRanges - 1);
    CHECK(s.add(0x1000, 1));  // room again
}

TEST_CASE("io ports: bitmap bits follow the ranges, partial bytes included") {
    std::vector<uint8_t> bitmap = closed_bitmap();
    x86::io_bitmap_fill(bitmap.data(), 0x3f8, 0x400, true);
    CHECK(bitmap[0x3f8 / 8] == 0x00);
    CHECK(bitmap[0x3f0 / 8] == 0xff);
    CHECK(bitmap[0x400 / 8] == 0xff);

    x86::io_bitmap_fill(bitmap.data(), 0x61, 0x63, true);  // bits 1 and 2 of one byte
    CHECK(bitmap[0x60 / 8] == 0xf9);
    x86::io_bitmap_fill(bitmap.data(), 0x0d, 0x13, true);  // across a byte boundary
    CHECK(bitmap[1] == 0x1f);
    CHECK(bitmap[2] == 0xf8);
    x86::io_bitmap_fill(bitmap.data(), 0xffff, kIoPorts, true);  // the very last bit
    CHECK(bitmap[kIoBitmapBytes - 1] == 0x7f);

    x86::io_bitmap_fill(bitmap.data(), 0, kIoPorts, false);
    CHECK(bitmap == closed_bitmap());
}

TEST_CASE("io ports: random grants open exactly the granted ports, and closing restores the bitmap") {
    std::mt19937 rng(1234);
    for (int round = 0; round < 200; ++round) {
        IoPortSet s{};
        std::vector<bool> granted(kIoPorts, false);
        // Ports clustered low so that ranges often touch and overlap.
        const uint32_t span = round % 2 ? 0x200 : kIoPorts;
        for (int i = 0; i < 40; ++i) {
            const uint32_t base = rng() % span;
            const uint32_t count = rng() % 24;
            const IoPortSet before = s;
            if (!s.add(base, count)) {
                CHECK(ranges_of(s) == ranges_of(before));
                continue;
            }
            for (uint32_t p = base; p < base + count; ++p) granted[p] = true;
        }
        for (size_t i = 1; i < s.count; ++i) CHECK(s.ranges[i - 1].end < s.ranges[i].base);

        std::vector<uint8_t> bitmap = closed_bitmap();
        x86::io_bitmap_apply(bitmap.data(), s, true);
        for (uint32_t p = 0; p < kIoPorts; ++p) {
            if (port_open(bitmap, p) != granted[p]) FAIL("port " << p << " in round " << round);
        }
        x86::io_bitmap_apply(bitmap.data(), s, false);
        CHECK(bitmap == closed_bitmap());
    }
}
