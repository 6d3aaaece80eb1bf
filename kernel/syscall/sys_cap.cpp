// Capability calls: cnode_create, cap_copy, cap_delete, cap_revoke, cap_info.
#include "kernel/object/cnode.h"
#include "kernel/object/thread.h"
#include "kernel/object/vspace.h"
#include "kernel/syscall/lookup.h"
#include "kernel/syscall/syscall.h"

namespace kernel {

Status sys_cnode_create(Thread& self, const sys::cnode_create_args& a, sys::cnode_create_out& out) {
    if (a.slots.reg() > CNode::kMaxSlots)
        return ANVIL_ERR_INVALID_ARG;
    return install_new_object(self, out.out, [&] { return CNode::create(a.slots.value()); });
}

Status sys_cap_copy(Thread& self, const sys::cap_copy_args& a, sys::cap_copy_out& out) {
    const uint64_t dst_slot = a.dst_slot.reg(), mask = a.rights_mask.reg(), badge = a.badge;
    TRY_ASSIGN(src_cnode, lookup_object<CNode>(self, a.src_cnode, ANVIL_OBJ_CNODE, ANVIL_RIGHT_READ));
    TRY_ASSIGN(dst_cnode, lookup_object<CNode>(self, a.dst_cnode, ANVIL_OBJ_CNODE, ANVIL_RIGHT_WRITE));
    TRY_ASSIGN(src, lookup_in(src_cnode, a.src_slot));
    if (dst_cnode != src_cnode && !src->has(ANVIL_RIGHT_GRANT))
        return ANVIL_ERR_ACCESS_DENIED;
    if (mask & ~uint64_t(ANVIL_RIGHTS_ALL))
        return ANVIL_ERR_INVALID_ARG;
    if (badge != 0) {
        const uint32_t type = src->object->type();
        const bool mintable = (type == ANVIL_OBJ_ENDPOINT || type == ANVIL_OBJ_NOTIFICATION) && src->badge == 0;
        if (!mintable)
            return ANVIL_ERR_INVALID_ARG;
    }
    uint32_t dst_index;
    if (dst_slot == ANVIL_SLOT_ANY) {
        TRY_ASSIGN(free_slot, dst_cnode->lowest_free());
        dst_index = free_slot;
    } else {
        if (dst_slot > UINT32_MAX || !dst_cnode->slot(static_cast<uint32_t>(dst_slot)))
            return ANVIL_ERR_INVALID_CAP;
        dst_index = static_cast<uint32_t>(dst_slot);
        if (!dst_cnode->slot(dst_index)->empty())
            return ANVIL_ERR_SLOT_OCCUPIED;
    }
    // Invoke: the copy is a child of the source, with rights only ever reduced.
    const uint64_t new_badge = badge != 0 ? badge : src->badge;
    cap_insert(dst_cnode->slot(dst_index), src->object, src->rights & static_cast<uint32_t>(mask), new_badge, src);
    out.out_slot = dst_index;
    return ANVIL_OK;
}

Status sys_cap_delete(Thread& self, const sys::cap_delete_args& a, sys::cap_delete_out&) {
    TRY_ASSIGN(cnode, lookup_object<CNode>(self, a.cnode, ANVIL_OBJ_CNODE, ANVIL_RIGHT_WRITE));
    TRY_ASSIGN(cap, lookup_in(cnode, a.slot));
    cap_delete(cap);
    return ANVIL_OK;
}

Status sys_cap_revoke(Thread& self, const sys::cap_revoke_args& a, sys::cap_revoke_out&) {
    TRY_ASSIGN(cnode, lookup_object<CNode>(self, a.cnode, ANVIL_OBJ_CNODE, 0));
    TRY_ASSIGN(cap, lookup_in(cnode, a.slot));
    if (!cap->has(ANVIL_RIGHT_MANAGE))
        return ANVIL_ERR_ACCESS_DENIED;
    cap_revoke(cap);
    return ANVIL_OK;
}

Status sys_cap_info(Thread& self, const sys::cap_info_args& a, sys::cap_info_out&) {
    TRY_ASSIGN(cnode, lookup_object<CNode>(self, a.cnode, ANVIL_OBJ_CNODE, ANVIL_RIGHT_READ));
    TRY_ASSIGN(cap, lookup_in(cnode, a.slot));
    anvil_cap_info_t info{cap->object->type(), cap->rights, cap->badge, cap->object->id()};
    return self.vspace()->copy_out(a.out.va(), &info, sizeof info);
}

}  // namespace kernel
