#include "kernel/vm/frame_alloc.h"

#include "kernel/lib/string.h"

#include <hal/test_hooks.h>

namespace kernel {

namespace {
FrameAllocator g_frames;
constexpr uint64_t kPage = hal::kPageSize;
}  // namespace

FrameAllocator& frames() { return g_frames; }

void FrameAllocator::init(const hal::MemRange* ranges, size_t count) {
    hal::paddr_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < count; ++i) {
        const hal::paddr_t start = align_up(ranges[i].base, kPage);
        const hal::paddr_t end = align_down(ranges[i].base + ranges[i].size, kPage);
        if (end <= start)
            continue;
        if (start < lo)
            lo = start;
        if (end > hi)
            hi = end;
    }
    if (hi <= lo)
        return;
    base_ = lo;
    frame_span_ = (hi - lo) / kPage;
    const size_t bitmap_bytes = align_up((frame_span_ + 63) / 64 * 8, kPage);

    // Place the bitmap in the first usable range large enough for it.
    hal::paddr_t bitmap_pa = 0;
    for (size_t i = 0; i < count && !bitmap_pa; ++i) {
        const hal::paddr_t start = align_up(ranges[i].base, kPage);
        const hal::paddr_t end = align_down(ranges[i].base + ranges[i].size, kPage);
        if (end > start && end - start >= bitmap_bytes)
            bitmap_pa = start;
    }
    if (!bitmap_pa)
        return;
    bitmap_ = static_cast<uint64_t*>(hal::phys_to_virt(bitmap_pa));
    mem_set(bitmap_, 0xff, bitmap_bytes);  // everything in use until proven RAM

    for (size_t i = 0; i < count; ++i) {
        const hal::paddr_t start = align_up(ranges[i].base, kPage);
        const hal::paddr_t end = align_down(ranges[i].base + ranges[i].size, kPage);
        for (hal::paddr_t pa = start; pa < end; pa += kPage) {
            if (pa >= bitmap_pa && pa < bitmap_pa + bitmap_bytes)
                continue;
            const size_t index = (pa - base_) / kPage;
            if (test(index)) {
                clear(index);
                ++total_frames_;
                ++free_frames_;
            }
        }
    }
}

hal::paddr_t FrameAllocator::alloc() { return alloc_contiguous(1); }

hal::paddr_t FrameAllocator::alloc_contiguous(size_t count) {
    if (count == 0 || count > free_frames_ || hal::test_hook(hal::TestHook::kAllocate))
        return 0;
    // A single frame is looked for from the hint on, then (if none is there) from the start.
    const size_t from = count == 1 ? search_hint_ : 0;
    const hal::paddr_t pa = take_run(from, count);
    if (pa || from == 0)
        return pa;
    search_hint_ = 0;
    return take_run(0, count);
}

hal::paddr_t FrameAllocator::take_run(size_t from, size_t count) {
    size_t run = 0;
    for (size_t i = from; i < frame_span_; ++i) {
        if (count == 1 && (i % 64) == 0 && bitmap_[i / 64] == UINT64_MAX) {
            i += 63;  // skip a full word
            continue;
        }
        run = test(i) ? 0 : run + 1;
        if (run == count) {
            const size_t first = i + 1 - count;
            for (size_t j = first; j <= i; ++j)
                set(j);
            free_frames_ -= count;
            if (count == 1)
                search_hint_ = i + 1;
            const hal::paddr_t pa = base_ + first * kPage;
            mem_set(hal::phys_to_virt(pa), 0, count * kPage);
            return pa;
        }
    }
    return 0;
}

void FrameAllocator::free(hal::paddr_t pa, size_t count) {
    for (size_t k = 0; k < count; ++k) {
        const size_t index = (pa - base_) / kPage + k;
        if (index >= frame_span_ || !test(index))
            continue;  // not ours or already free: the invariant checker reports these
        clear(index);
        ++free_frames_;
        if (index < search_hint_)
            search_hint_ = index;
    }
}

bool FrameAllocator::is_allocated(hal::paddr_t pa) const {
    if (pa < base_)
        return false;
    const size_t index = (pa - base_) / kPage;
    return index < frame_span_ && test(index);
}

size_t FrameAllocator::bitmap_free_count() const {
    size_t used = 0;
    for (size_t word = 0; word < frame_span_ / 64; ++word)
        used += static_cast<size_t>(__builtin_popcountll(bitmap_[word]));
    for (size_t i = frame_span_ / 64 * 64; i < frame_span_; ++i)
        used += test(i) ? 1 : 0;
    return frame_span_ - used;
}

}  // namespace kernel

// The HAL takes its bookkeeping frames from the kernel's allocator.
namespace hal {
paddr_t kernel_alloc_frame() { return kernel::frames().alloc(); }
void kernel_free_frame(paddr_t pa) { kernel::frames().free(pa); }
}  // namespace hal
