// Capability lookups shared by the syscall handlers: resolve a slot of the
// caller's CNode to a typed object, checking rights, with the ABI's statuses.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/object/cnode.h"
#include "kernel/object/thread.h"
#include "kernel/syscall/syscall.h"

namespace kernel {

// The cap in `slot` of `cnode`: INVALID_CAP if out of range or empty.
inline Result<Cap*> lookup_in(CNode* cnode, Arg32 slot) {
    if (!slot.fits())
        return Result<Cap*>::error(ANVIL_ERR_INVALID_CAP);
    Cap* cap = cnode->slot(slot.value());
    if (!cap || cap->empty())
        return Result<Cap*>::error(ANVIL_ERR_INVALID_CAP);
    return cap;
}

// The cap in the caller's slot `slot`: INVALID_CAP if out of range or empty.
inline Result<Cap*> lookup_slot(Thread& self, Arg32 slot) { return lookup_in(self.cnode(), slot); }

// The caller's cap in `slot` as a `type` object with all of `rights`.
inline Result<Cap*> lookup_cap(Thread& self, Arg32 slot, uint32_t type, uint32_t rights) {
    TRY_ASSIGN(cap, lookup_slot(self, slot));
    if (cap->object->type() != type)
        return Result<Cap*>::error(ANVIL_ERR_WRONG_TYPE);
    if (!cap->has(rights))
        return Result<Cap*>::error(ANVIL_ERR_ACCESS_DENIED);
    return cap;
}

// The object behind lookup_cap, cast to its kernel type.
template <typename T>
Result<T*> lookup_object(Thread& self, Arg32 slot, uint32_t type, uint32_t rights) {
    TRY_ASSIGN(cap, lookup_cap(self, slot, type, rights));
    return static_cast<T*>(cap->object);
}

// Makes a new object the caller will hold: reserves the lowest free slot of the
// caller's CNode first (so a full CNode fails before anything is created), then
// calls `create()` and installs the result with all its rights, in the slot it
// stores in `out`.
template <typename Create>
Status install_new_object(Thread& self, anvil_cap_t& out, Create create) {
    TRY_ASSIGN(slot, self.cnode()->lowest_free());
    auto made = create();
    if (!made.ok())
        return made.status();
    TRY(self.cnode()->install(slot, made.value(), ANVIL_RIGHTS_ALL));
    out = slot;
    return ANVIL_OK;
}

}  // namespace kernel
