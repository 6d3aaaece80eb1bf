// A VSpace: a user address space. It keeps the kernel's own record of every
// mapping (VMO, offset, permissions); the HAL mirrors them into page tables
// (x86_64) or an engine's memory map (simulator). User memory is always reached
// through these records, never by dereferencing a user pointer.
#pragma once

#include "kernel/lib/list.h"
#include "kernel/lib/result.h"
#include "kernel/object/object.h"
#include "kernel/vm/kheap.h"
#include "kernel/object/vmo.h"

#include <hal/hal.h>

namespace kernel {

// One mapping: [va, va + len) shows vmo's bytes from `offset` with `perms`.
struct Mapping {
    ListNode link;
    uint64_t va = 0;
    uint64_t len = 0;
    Vmo* vmo = nullptr;  // counted reference
    uint64_t offset = 0;
    uint32_t perms = 0;  // ANVIL_PERM_* bits
};

class VSpace final : public KObject {
public:
    // An empty address space; NO_MEMORY if the backend has no room.
    static Result<VSpace*> create();

    hal::AsHandle as() const { return as_; }

    // Maps [va, va+len) onto vmo[offset, offset+len). Checks alignment, range,
    // overlap, W^X; `perms` must already be checked against the VMO cap's rights.
    Status map(uint64_t va, Vmo* vmo, uint64_t offset, uint64_t len, uint32_t perms);
    // Removes every mapping inside [va, va+len); mappings that straddle an edge
    // are refused with INVALID_ARG (nothing changes).
    Status unmap(uint64_t va, uint64_t len);
    // The mapping containing `va`, or null.
    Mapping* find(uint64_t va) {
        // IPC and copies look up the same few buffers again and again.
        if (Mapping* m = last_found_; m && va >= m->va && va - m->va < m->len)
            return m;
        return find_uncached(va);
    }
    // Lowest free user range of `len` bytes at or above `hint`; 0 if none.
    uint64_t find_free(uint64_t len, uint64_t hint) const;

    // Copy between user memory of this space and the kernel. FAULT if any byte is
    // unmapped or lacks the permission a user access would need (READ to copy in,
    // WRITE to copy out); nothing is written to user memory on a fault.
    Status copy_in(void* dst, uint64_t va, uint64_t len);
    Status copy_out(uint64_t va, const void* src, uint64_t len);

    // True if every byte of [va, va+len) is mapped with at least `perms`.
    bool range_allows(uint64_t va, uint64_t len, uint32_t perms);

    List<Mapping, &Mapping::link>& mappings() { return mappings_; }

private:
    KERNEL_HEAP_FRIENDS;
    VSpace() : KObject(ANVIL_OBJ_VSPACE) {}
    void destroy() override;
    void remove_mapping(Mapping* m);
    Mapping* find_uncached(uint64_t va);  // find() past its one-entry cache

    hal::AsHandle as_ = hal::kNoAs;
    List<Mapping, &Mapping::link> mappings_;  // sorted by va, non-overlapping
    Mapping* last_found_ = nullptr;           // find()'s most recent answer
};

// True if [va, va+len) is a non-empty range inside the user half (no overflow).
bool user_range_ok(uint64_t va, uint64_t len);

}  // namespace kernel
