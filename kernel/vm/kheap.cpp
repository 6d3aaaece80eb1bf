#include "kernel/vm/kheap.h"

#include "kernel/lib/string.h"
#include "kernel/vm/frame_alloc.h"

#include <hal/hal.h>
#include <hal/test_hooks.h>

namespace kernel {

namespace {

constexpr size_t kMinShift = 4;   // 16 bytes
constexpr size_t kMaxShift = 11;  // 2 KiB
constexpr size_t kClasses = kMaxShift - kMinShift + 1;

struct FreeBlock {
    FreeBlock* next;
};

// A frame carved into blocks of one size class. The header sits at the start
// of the frame, so a block finds its slab by rounding its address down; when
// the last block of a slab is freed, the frame goes back to the frame
// allocator (memory the kernel used for small objects becomes memory for VMOs
// again once those objects are gone).
struct Slab {
    Slab* prev;
    Slab* next;          // on its class's list of slabs with a free block
    FreeBlock* free;     // this slab's free blocks
    uint32_t used;       // blocks handed out
    uint32_t capacity;   // blocks in this slab
};

// The first block starts after the header, at the block size's alignment
// (at least 16 bytes).
size_t first_offset(size_t block) { return block >= sizeof(Slab) ? block : align_up(sizeof(Slab), block); }

Slab* g_partial[kClasses];  // slabs of each class with at least one free block

size_t class_of(size_t size) {
    size_t shift = kMinShift;
    while ((size_t(1) << shift) < size)
        ++shift;
    return shift - kMinShift;
}

size_t pages_for(size_t size) { return (size + hal::kPageSize - 1) / hal::kPageSize; }

void unlink(size_t c, Slab* s) {
    if (s->prev)
        s->prev->next = s->next;
    else
        g_partial[c] = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = nullptr;
}

void push(size_t c, Slab* s) {
    s->prev = nullptr;
    s->next = g_partial[c];
    if (s->next)
        s->next->prev = s;
    g_partial[c] = s;
}

// A fresh frame as a slab of class `c`, on the partial list; null if none.
Slab* new_slab(size_t c) {
    const hal::paddr_t pa = frames().alloc();
    if (!pa)
        return nullptr;
    char* page = static_cast<char*>(hal::phys_to_virt(pa));
    auto* s = reinterpret_cast<Slab*>(page);
    const size_t block = size_t(1) << (c + kMinShift);
    *s = Slab{nullptr, nullptr, nullptr, 0, 0};
    // Lowest address first out, so the same sequence of requests always gets
    // the same blocks.
    for (size_t off = hal::kPageSize - block; off >= first_offset(block); off -= block) {
        auto* b = reinterpret_cast<FreeBlock*>(page + off);
        b->next = s->free;
        s->free = b;
        ++s->capacity;
    }
    push(c, s);
    return s;
}

}  // namespace

void* kalloc(size_t size) {
    if (hal::test_hook(hal::TestHook::kAllocate))
        return nullptr;
    if (size == 0)
        size = 1;
    if (size > (size_t(1) << kMaxShift)) {
        const hal::paddr_t pa = frames().alloc_contiguous(pages_for(size));
        return pa ? hal::phys_to_virt(pa) : nullptr;
    }
    const size_t c = class_of(size);
    Slab* s = g_partial[c] ? g_partial[c] : new_slab(c);
    if (!s)
        return nullptr;
    FreeBlock* b = s->free;
    s->free = b->next;
    ++s->used;
    if (!s->free)
        unlink(c, s);  // full: off the partial list until a block comes back
    mem_set(b, 0, size_t(1) << (c + kMinShift));
    return b;
}

void kfree(void* p, size_t size) {
    if (!p)
        return;
    if (size == 0)
        size = 1;
    if (size > (size_t(1) << kMaxShift)) {
        frames().free(virt_to_phys(p), pages_for(size));
        return;
    }
    const size_t c = class_of(size);
    auto* s = reinterpret_cast<Slab*>(align_down(reinterpret_cast<uintptr_t>(p), hal::kPageSize));
    const bool was_full = s->free == nullptr;
    auto* b = static_cast<FreeBlock*>(p);
    b->next = s->free;
    s->free = b;
    --s->used;
    if (s->used == 0) {
        if (!was_full)
            unlink(c, s);
        frames().free(virt_to_phys(s));
        return;
    }
    if (was_full)
        push(c, s);
}

}  // namespace kernel
