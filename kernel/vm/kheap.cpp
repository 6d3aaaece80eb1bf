#include "kernel/vm/kheap.h"

#include "kernel/lib/string.h"
#include "kernel/vm/frame_alloc.h"

#include <hal/hal.h>

namespace kernel {
namespace {

constexpr size_t kMinShift = 4;  // 16 bytes
constexpr size_t kMaxShift = 11; // 2 KiB
constexpr size_t kClasses = kMaxShift - kMinShift + 1;

struct FreeBlock {
    FreeBlock* next;
};

FreeBlock* g_free[kClasses];

size_t class_of(size_t size) {
    size_t shift = kMinShift;
    while ((size_t(1) << shift) < size)
        ++shift;
    return shift - kMinShift;
}

// Splits a fresh frame into blocks of class `c`.
bool refill(size_t c) {
    const hal::paddr_t pa = frames().alloc();
    if (!pa)
        return false;
    char* page = static_cast<char*>(hal::phys_to_virt(pa));
    const size_t block = size_t(1) << (c + kMinShift);
    for (size_t off = 0; off + block <= hal::kPageSize; off += block) {
        auto* b = reinterpret_cast<FreeBlock*>(page + off);
        b->next = g_free[c];
        g_free[c] = b;
    }
    return true;
}

size_t pages_for(size_t size) { return (size + hal::kPageSize - 1) / hal::kPageSize; }

}  // namespace

void* kalloc(size_t size) {
    if (size == 0)
        size = 1;
    if (size > (size_t(1) << kMaxShift)) {
        const hal::paddr_t pa = frames().alloc_contiguous(pages_for(size));
        return pa ? hal::phys_to_virt(pa) : nullptr;
    }
    const size_t c = class_of(size);
    if (!g_free[c] && !refill(c))
        return nullptr;
    FreeBlock* b = g_free[c];
    g_free[c] = b->next;
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
    auto* b = static_cast<FreeBlock*>(p);
    b->next = g_free[c];
    g_free[c] = b;
}

}  // namespace kernel
