// A virtual memory object: a zero-filled run of pages that can be mapped into
// address spaces and read/written through its cap.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/object/object.h"
#include "kernel/vm/kheap.h"

#include <hal/hal.h>
#include <stddef.h>

namespace kernel {

class Vmo final : public KObject {
public:
    // Largest VMO one call may create (bounded so sizes never overflow).
    static constexpr uint64_t kMaxSize = uint64_t(1) << 36;

    // A zeroed VMO of `size` bytes rounded up to pages; NO_MEMORY or INVALID_ARG.
    static Result<Vmo*> create(uint64_t size);

    uint64_t size() const { return npages_ * hal::kPageSize; }
    size_t page_count() const { return npages_; }
    // Frame backing page `index` (< page_count()).
    hal::paddr_t page(size_t index) const { return pages_[index]; }
    // The frames of pages index, index + 1, ... (index < page_count()).
    const hal::paddr_t* page_frames(size_t index) const { return pages_ + index; }

    // Copies between the VMO and kernel memory; OUT_OF_RANGE past the end.
    Status read(uint64_t offset, void* dst, uint64_t len) const;
    Status write(uint64_t offset, const void* src, uint64_t len);

    // W^X across aliases: no VMO is mapped writable anywhere (any address,
    // any address space) while it is mapped executable anywhere, so no
    // process can write code through one mapping and run it through another.
    // BAD_STATE if a mapping with `perms` (ANVIL_PERM_*) would break that.
    Status check_alias_perms(uint32_t perms) const;
    // Counts a mapping made (after check_alias_perms) or removed.
    void mapping_added(uint32_t perms);
    void mapping_removed(uint32_t perms);
    uint32_t writable_mappings() const { return writable_mappings_; }
    uint32_t executable_mappings() const { return executable_mappings_; }

private:
    KERNEL_HEAP_FRIENDS;
    Vmo() : KObject(ANVIL_OBJ_VMO) {}
    void destroy() override;

    uint32_t writable_mappings_ = 0;    // mappings with ANVIL_PERM_W, in every VSpace
    uint32_t executable_mappings_ = 0;  // mappings with ANVIL_PERM_X, in every VSpace
    size_t npages_ = 0;              // pages with a frame
    size_t pages_capacity_ = 0;      // entries allocated in pages_
    hal::paddr_t* pages_ = nullptr;  // one frame per page, from kalloc
};

}  // namespace kernel
