#include "kernel/object/vmo.h"

#include "kernel/lib/string.h"
#include "kernel/vm/frame_alloc.h"
#include "kernel/vm/kheap.h"

namespace kernel {

Result<Vmo*> Vmo::create(uint64_t size) {
    if (size == 0 || size > kMaxSize)
        return Result<Vmo*>::error(ANVIL_ERR_INVALID_ARG);
    const size_t npages = align_up(size, hal::kPageSize) / hal::kPageSize;
    if (npages > frames().free_count())
        return Result<Vmo*>::error(ANVIL_ERR_NO_MEMORY);
    Vmo* vmo = make<Vmo>();
    if (!vmo)
        return Result<Vmo*>::error(ANVIL_ERR_NO_MEMORY);
    vmo->pages_ = static_cast<hal::paddr_t*>(kalloc(npages * sizeof(hal::paddr_t)));
    if (!vmo->pages_) {
        unmake(vmo);
        return Result<Vmo*>::error(ANVIL_ERR_NO_MEMORY);
    }
    vmo->pages_capacity_ = npages;
    for (size_t i = 0; i < npages; ++i) {
        vmo->pages_[i] = frames().alloc();
        if (!vmo->pages_[i]) {
            vmo->npages_ = i;
            vmo->destroy();
            return Result<Vmo*>::error(ANVIL_ERR_NO_MEMORY);
        }
    }
    vmo->npages_ = npages;
    return vmo;
}

void Vmo::destroy() {
    for (size_t i = 0; i < npages_; ++i)
        frames().free(pages_[i]);
    kfree(pages_, pages_capacity_ * sizeof(hal::paddr_t));
    unmake(this);
}

Status Vmo::read(uint64_t offset, void* dst, uint64_t len) const {
    if (offset > size() || len > size() - offset)
        return ANVIL_ERR_OUT_OF_RANGE;
    auto* out = static_cast<uint8_t*>(dst);
    while (len) {
        const uint64_t in_page = offset % hal::kPageSize;
        const uint64_t chunk = len < hal::kPageSize - in_page ? len : hal::kPageSize - in_page;
        const auto* src = static_cast<const uint8_t*>(hal::phys_to_virt(pages_[offset / hal::kPageSize]));
        mem_copy(out, src + in_page, chunk);
        out += chunk;
        offset += chunk;
        len -= chunk;
    }
    return ANVIL_OK;
}

Status Vmo::write(uint64_t offset, const void* src, uint64_t len) {
    if (offset > size() || len > size() - offset)
        return ANVIL_ERR_OUT_OF_RANGE;
    const auto* in = static_cast<const uint8_t*>(src);
    while (len) {
        const uint64_t in_page = offset % hal::kPageSize;
        const uint64_t chunk = len < hal::kPageSize - in_page ? len : hal::kPageSize - in_page;
        auto* dst = static_cast<uint8_t*>(hal::phys_to_virt(pages_[offset / hal::kPageSize]));
        mem_copy(dst + in_page, in, chunk);
        in += chunk;
        offset += chunk;
        len -= chunk;
    }
    return ANVIL_OK;
}

Status Vmo::check_alias_perms(uint32_t perms) const {
    if ((perms & ANVIL_PERM_W) && executable_mappings_ != 0)
        return ANVIL_ERR_BAD_STATE;
    if ((perms & ANVIL_PERM_X) && writable_mappings_ != 0)
        return ANVIL_ERR_BAD_STATE;
    return ANVIL_OK;
}

void Vmo::mapping_added(uint32_t perms) {
    writable_mappings_ += (perms & ANVIL_PERM_W) != 0;
    executable_mappings_ += (perms & ANVIL_PERM_X) != 0;
}

void Vmo::mapping_removed(uint32_t perms) {
    writable_mappings_ -= (perms & ANVIL_PERM_W) != 0;
    executable_mappings_ -= (perms & ANVIL_PERM_X) != 0;
}

}  // namespace kernel
