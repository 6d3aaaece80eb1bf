// Memory calls: vspace_create, vmo_create/read/write, vma_map/unmap/alloc.
#include "kernel/lib/string.h"
#include "kernel/object/vmo.h"
#include "kernel/object/vspace.h"
#include "kernel/syscall/lookup.h"
#include "kernel/syscall/syscall.h"

namespace kernel {

namespace {

// Copies between a VMO and user memory go through this much kernel stack at a time.
constexpr uint64_t kBounce = 512;
// vma_alloc places memory at or above this address.
constexpr uint64_t kAllocBase = 0x0000100000000000ull;

// The rights a VMO cap needs to be mapped with `perms`.
uint32_t rights_for_perms(uint64_t perms) {
    uint32_t r = 0;
    if (perms & ANVIL_PERM_R)
        r |= ANVIL_RIGHT_READ;
    if (perms & ANVIL_PERM_W)
        r |= ANVIL_RIGHT_WRITE;
    if (perms & ANVIL_PERM_X)
        r |= ANVIL_RIGHT_EXEC;
    return r;
}

// R, RW or RX: every mapping is readable (see VSpace::map), never W and X.
bool perms_valid(uint64_t perms) {
    return (perms & ANVIL_PERM_R) && (perms & ~uint64_t(ANVIL_PERM_R | ANVIL_PERM_W | ANVIL_PERM_X)) == 0 &&
           !((perms & ANVIL_PERM_W) && (perms & ANVIL_PERM_X));
}

}  // namespace

Status sys_vspace_create(Thread& self, const sys::vspace_create_args&, sys::vspace_create_out& out) {
    return install_new_object(self, out.out, [] { return VSpace::create(); });
}

Status sys_vmo_create(Thread& self, const sys::vmo_create_args& a, sys::vmo_create_out& out) {
    const uint64_t size = a.size;
    if (size == 0)
        return ANVIL_ERR_INVALID_ARG;
    if (size > Vmo::kMaxSize)
        return ANVIL_ERR_NO_MEMORY;
    return install_new_object(self, out.out, [&] { return Vmo::create(size); });
}

Status sys_vmo_read(Thread& self, const sys::vmo_read_args& a, sys::vmo_read_out&) {
    const uint64_t offset = a.offset, buf = a.buf.va(), len = a.len;
    TRY_ASSIGN(vmo, lookup_object<Vmo>(self, a.vmo, ANVIL_OBJ_VMO, ANVIL_RIGHT_READ));
    if (offset > vmo->size() || len > vmo->size() - offset)
        return ANVIL_ERR_OUT_OF_RANGE;
    if (!self.vspace()->range_allows(buf, len, ANVIL_PERM_W))
        return ANVIL_ERR_FAULT;
    uint8_t bounce[kBounce];
    for (uint64_t done = 0; done < len;) {
        const uint64_t n = len - done < kBounce ? len - done : kBounce;
        TRY(vmo->read(offset + done, bounce, n));
        TRY(self.vspace()->copy_out(buf + done, bounce, n));
        done += n;
    }
    return ANVIL_OK;
}

Status sys_vmo_write(Thread& self, const sys::vmo_write_args& a, sys::vmo_write_out&) {
    const uint64_t offset = a.offset, buf = a.buf.va(), len = a.len;
    TRY_ASSIGN(vmo, lookup_object<Vmo>(self, a.vmo, ANVIL_OBJ_VMO, ANVIL_RIGHT_WRITE));
    if (offset > vmo->size() || len > vmo->size() - offset)
        return ANVIL_ERR_OUT_OF_RANGE;
    if (!self.vspace()->range_allows(buf, len, ANVIL_PERM_R))
        return ANVIL_ERR_FAULT;
    uint8_t bounce[kBounce];
    for (uint64_t done = 0; done < len;) {
        const uint64_t n = len - done < kBounce ? len - done : kBounce;
        TRY(self.vspace()->copy_in(bounce, buf + done, n));
        TRY(vmo->write(offset + done, bounce, n));
        done += n;
    }
    return ANVIL_OK;
}

Status sys_vma_map(Thread& self, const sys::vma_map_args& a, sys::vma_map_out&) {
    const uint64_t perms = a.perms.reg();
    TRY_ASSIGN(vspace, lookup_object<VSpace>(self, a.vspace, ANVIL_OBJ_VSPACE, ANVIL_RIGHT_MANAGE));
    TRY_ASSIGN(vmo_cap, lookup_cap(self, a.vmo, ANVIL_OBJ_VMO, 0));
    if (!perms_valid(perms))
        return ANVIL_ERR_INVALID_ARG;
    if (!vmo_cap->has(rights_for_perms(perms)))
        return ANVIL_ERR_ACCESS_DENIED;
    return vspace->map(a.va, static_cast<Vmo*>(vmo_cap->object), a.offset, a.len, a.perms.value());
}

Status sys_vma_unmap(Thread& self, const sys::vma_unmap_args& a, sys::vma_unmap_out&) {
    TRY_ASSIGN(vspace, lookup_object<VSpace>(self, a.vspace, ANVIL_OBJ_VSPACE, ANVIL_RIGHT_MANAGE));
    return vspace->unmap(a.va, a.len);
}

Status sys_vma_alloc(Thread& self, const sys::vma_alloc_args& a, sys::vma_alloc_out& out) {
    const uint64_t len = a.len, perms = a.perms.reg();
    TRY_ASSIGN(vspace, lookup_object<VSpace>(self, a.vspace, ANVIL_OBJ_VSPACE, ANVIL_RIGHT_MANAGE));
    if (len == 0 || len > Vmo::kMaxSize)
        return len == 0 ? ANVIL_ERR_INVALID_ARG : ANVIL_ERR_NO_MEMORY;
    if (!perms_valid(perms))
        return ANVIL_ERR_INVALID_ARG;
    const uint64_t size = align_up(len, hal::kPageSize);
    const uint64_t va = vspace->find_free(size, kAllocBase);
    if (!va)
        return ANVIL_ERR_NO_MEMORY;
    TRY_ASSIGN(vmo, Vmo::create(size));
    vmo->retain();  // the mapping takes its own reference; ours goes below
    const Status s = vspace->map(va, vmo, 0, size, a.perms.value());
    vmo->release();
    if (s != ANVIL_OK)
        return s;
    out.out_va = va;
    return ANVIL_OK;
}

}  // namespace kernel
