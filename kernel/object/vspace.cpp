#include "kernel/object/vspace.h"

#include "kernel/lib/string.h"
#include "kernel/vm/kheap.h"

namespace kernel {

namespace {
constexpr uint64_t kPage = hal::kPageSize;
}

bool user_range_ok(uint64_t va, uint64_t len) {
    return len != 0 && va >= ANVIL_USER_BASE && va < ANVIL_USER_LIMIT && len <= ANVIL_USER_LIMIT - va;
}

Result<VSpace*> VSpace::create() {
    VSpace* vs = make<VSpace>();
    if (!vs)
        return Result<VSpace*>::error(ANVIL_ERR_NO_MEMORY);
    vs->as_ = hal::as_create();
    if (vs->as_ == hal::kNoAs) {
        unmake(vs);
        return Result<VSpace*>::error(ANVIL_ERR_NO_MEMORY);
    }
    return vs;
}

Status VSpace::map(uint64_t va, Vmo* vmo, uint64_t offset, uint64_t len, uint32_t perms) {
    // Decode: every check before any change.
    if (!is_aligned(va, kPage) || !is_aligned(offset, kPage) || !is_aligned(len, kPage))
        return ANVIL_ERR_ALIGNMENT;
    if (!user_range_ok(va, len))
        return ANVIL_ERR_OUT_OF_RANGE;
    // Every mapping includes READ: x86-64 page tables cannot express write-only
    // or execute-only pages, and both backends must agree.
    if ((perms & ~(ANVIL_PERM_R | ANVIL_PERM_W | ANVIL_PERM_X)) != 0 || !(perms & ANVIL_PERM_R))
        return ANVIL_ERR_INVALID_ARG;
    if ((perms & ANVIL_PERM_W) && (perms & ANVIL_PERM_X))
        return ANVIL_ERR_INVALID_ARG;  // W^X
    if (offset > vmo->size() || len > vmo->size() - offset)
        return ANVIL_ERR_OUT_OF_RANGE;
    TRY(vmo->check_alias_perms(perms));  // W^X across every mapping of the VMO
    Mapping* after = nullptr;
    for (Mapping* m = mappings_.front(); m; m = mappings_.next(m)) {
        if (m->va < va + len && va < m->va + m->len)
            return ANVIL_ERR_ADDR_IN_USE;
        if (!after && m->va >= va + len)
            after = m;
    }
    Mapping* mapping = make<Mapping>();
    if (!mapping)
        return ANVIL_ERR_NO_MEMORY;

    // Invoke.
    if (!hal::as_map(as_, va, vmo->page_frames(offset / kPage), len / kPage, perms)) {
        unmake(mapping);
        return ANVIL_ERR_NO_MEMORY;
    }
    vmo->retain();
    vmo->mapping_added(perms);
    mapping->va = va;
    mapping->len = len;
    mapping->vmo = vmo;
    mapping->offset = offset;
    mapping->perms = perms;
    mappings_.insert_before_item(after, mapping);
    return ANVIL_OK;
}

void VSpace::remove_mapping(Mapping* m) {
    hal::as_unmap(as_, m->va, m->len / kPage);
    mappings_.remove(m);
    if (last_found_ == m)
        last_found_ = nullptr;
    m->vmo->mapping_removed(m->perms);
    m->vmo->release();
    unmake(m);
}

Status VSpace::unmap(uint64_t va, uint64_t len) {
    if (!is_aligned(va, kPage) || !is_aligned(len, kPage))
        return ANVIL_ERR_ALIGNMENT;
    if (!user_range_ok(va, len))
        return ANVIL_ERR_OUT_OF_RANGE;
    for (Mapping* m = mappings_.front(); m; m = mappings_.next(m)) {
        const bool overlaps = m->va < va + len && va < m->va + m->len;
        const bool inside = m->va >= va && m->va + m->len <= va + len;
        if (overlaps && !inside)
            return ANVIL_ERR_INVALID_ARG;
    }
    for (Mapping* m = mappings_.front(); m;) {
        Mapping* next = mappings_.next(m);
        if (m->va >= va && m->va + m->len <= va + len)
            remove_mapping(m);
        m = next;
    }
    return ANVIL_OK;
}

Mapping* VSpace::find_uncached(uint64_t va) {
    for (Mapping* m = mappings_.front(); m; m = mappings_.next(m)) {
        if (va >= m->va && va - m->va < m->len)
            return last_found_ = m;
        if (m->va > va)
            break;
    }
    return nullptr;
}

uint64_t VSpace::find_free(uint64_t len, uint64_t hint) const {
    uint64_t candidate = hint < ANVIL_USER_BASE ? ANVIL_USER_BASE : align_up(hint, kPage);
    auto& list = const_cast<List<Mapping, &Mapping::link>&>(mappings_);
    for (Mapping* m = list.front(); m; m = list.next(m)) {
        if (m->va + m->len <= candidate)
            continue;
        if (m->va >= candidate && m->va - candidate >= len)
            break;
        candidate = m->va + m->len;
    }
    return user_range_ok(candidate, len) ? candidate : 0;
}

bool VSpace::range_allows(uint64_t va, uint64_t len, uint32_t perms) {
    if (len == 0)
        return true;
    if (va >= ANVIL_USER_LIMIT || len > ANVIL_USER_LIMIT - va)
        return false;
    uint64_t cursor = va;
    while (cursor < va + len) {
        Mapping* m = find(cursor);
        if (!m || (m->perms & perms) != perms)
            return false;
        cursor = m->va + m->len;
    }
    return true;
}

Status VSpace::copy_in(void* dst, uint64_t va, uint64_t len) {
    // The usual case, one mapping holding the whole range: one lookup.
    if (Mapping* m = find(va); m && len && len <= m->va + m->len - va && (m->perms & ANVIL_PERM_R))
        return m->vmo->read(m->offset + (va - m->va), dst, len);
    if (!range_allows(va, len, ANVIL_PERM_R))
        return ANVIL_ERR_FAULT;
    auto* out = static_cast<uint8_t*>(dst);
    while (len) {
        Mapping* m = find(va);
        const uint64_t in_map = m->va + m->len - va;
        const uint64_t chunk = len < in_map ? len : in_map;
        TRY(m->vmo->read(m->offset + (va - m->va), out, chunk));
        out += chunk;
        va += chunk;
        len -= chunk;
    }
    return ANVIL_OK;
}

Status VSpace::copy_out(uint64_t va, const void* src, uint64_t len) {
    if (Mapping* m = find(va); m && len && len <= m->va + m->len - va && (m->perms & ANVIL_PERM_W))
        return m->vmo->write(m->offset + (va - m->va), src, len);
    if (!range_allows(va, len, ANVIL_PERM_W))
        return ANVIL_ERR_FAULT;
    const auto* in = static_cast<const uint8_t*>(src);
    while (len) {
        Mapping* m = find(va);
        const uint64_t in_map = m->va + m->len - va;
        const uint64_t chunk = len < in_map ? len : in_map;
        TRY(m->vmo->write(m->offset + (va - m->va), in, chunk));
        in += chunk;
        va += chunk;
        len -= chunk;
    }
    return ANVIL_OK;
}

void VSpace::destroy() {
    while (Mapping* m = mappings_.front())
        remove_mapping(m);
    hal::as_destroy(as_);
    unmake(this);
}

}  // namespace kernel
