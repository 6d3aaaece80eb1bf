// The kernel heap: objects carved from frames of machine memory in power-of-two
// size classes (16 B .. 2 KiB), one frame per slab with a small header; a slab
// whose last block is freed goes back to the frame allocator. Larger requests
// take whole contiguous frames. Frees are sized, so blocks carry no header.
#pragma once

#include <new>
#include <stddef.h>
#include <utility>

namespace kernel {

// `size` bytes of zeroed kernel memory, or null.
void* kalloc(size_t size);
// Returns memory from kalloc(size) (the same size).
void kfree(void* p, size_t size);

// Constructs a T in kernel memory; null if out of memory.
template <typename T, typename... Args>
T* make(Args&&... args) {
    void* p = kalloc(sizeof(T));
    return p ? new (p) T(std::forward<Args>(args)...) : nullptr;
}

// Destroys a T made with make().
template <typename T>
void unmake(T* obj) {
    obj->~T();
    kfree(obj, sizeof(T));
}

}  // namespace kernel

// Lets make()/unmake() reach a kernel object's private constructor and destructor.
#define KERNEL_HEAP_FRIENDS                            \
    template <typename T_, typename... A_>              \
    friend T_* ::kernel::make(A_&&... args);            \
    template <typename T_>                              \
    friend void ::kernel::unmake(T_* obj)
