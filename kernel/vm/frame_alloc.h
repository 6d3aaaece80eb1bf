// The physical frame allocator, shared by both backends: a bitmap over the RAM
// the HAL reported usable. Frames are 4 KiB; allocation is lowest-address-first
// so the same boot gives the same frames (determinism).
#pragma once

#include <hal/hal.h>
#include <stddef.h>
#include <stdint.h>

namespace kernel {

class FrameAllocator {
public:
    // Takes ownership of the usable ranges; the bitmap itself is carved from them.
    void init(const hal::MemRange* ranges, size_t count);

    // One zeroed frame, or 0 if none is left.
    hal::paddr_t alloc();
    // `count` physically contiguous zeroed frames, or 0.
    hal::paddr_t alloc_contiguous(size_t count);
    // Returns `count` frames starting at `pa`.
    void free(hal::paddr_t pa, size_t count = 1);

    size_t free_count() const { return free_frames_; }
    size_t total_count() const { return total_frames_; }
    // True if `pa` is a frame this allocator manages and has handed out.
    bool is_allocated(hal::paddr_t pa) const;
    // Free frames according to the bitmap (the invariant checker compares it
    // with free_count()).
    size_t bitmap_free_count() const;

private:
    bool test(size_t index) const { return (bitmap_[index / 64] >> (index % 64)) & 1; }
    void set(size_t index) { bitmap_[index / 64] |= uint64_t(1) << (index % 64); }
    void clear(size_t index) { bitmap_[index / 64] &= ~(uint64_t(1) << (index % 64)); }
    // The first run of `count` free frames from frame `from` on, taken and zeroed; 0 if none.
    hal::paddr_t take_run(size_t from, size_t count);

    // Bit set = frame in use or not RAM. Frame i is at base_ + i * page.
    uint64_t* bitmap_ = nullptr;
    hal::paddr_t base_ = 0;
    size_t frame_span_ = 0;
    size_t total_frames_ = 0;
    size_t free_frames_ = 0;
    size_t search_hint_ = 0;
};

// The kernel's one frame allocator.
FrameAllocator& frames();

// The physical address of a kernel pointer into RAM (inverse of hal::phys_to_virt).
inline hal::paddr_t virt_to_phys(const void* p) {
    return static_cast<hal::paddr_t>(static_cast<const char*>(p) - static_cast<const char*>(hal::phys_to_virt(0)));
}

}  // namespace kernel
