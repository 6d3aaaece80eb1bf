#include "kernel/object/cnode.h"

#include "kernel/vm/kheap.h"

namespace kernel {

Result<CNode*> CNode::create(uint32_t slots) {
    if (slots < kMinSlots || slots > kMaxSlots || (slots & (slots - 1)) != 0)
        return Result<CNode*>::error(ANVIL_ERR_INVALID_ARG);
    CNode* cnode = make<CNode>();
    if (!cnode)
        return Result<CNode*>::error(ANVIL_ERR_NO_MEMORY);
    cnode->slots_ = static_cast<Cap*>(kalloc(slots * sizeof(Cap)));
    if (!cnode->slots_) {
        unmake(cnode);
        return Result<CNode*>::error(ANVIL_ERR_NO_MEMORY);
    }
    for (uint32_t i = 0; i < slots; ++i)
        new (&cnode->slots_[i]) Cap();
    cnode->size_ = slots;
    return cnode;
}

Status CNode::install(uint32_t index, KObject* object, uint32_t rights, uint64_t badge) {
    Cap* cap = slot(index);
    if (!cap)
        return ANVIL_ERR_INVALID_CAP;
    if (!cap->empty())
        return ANVIL_ERR_SLOT_OCCUPIED;
    object->retain();
    cap->object = object;
    cap->rights = rights & rights_for_type(object->type());
    cap->badge = badge;
    return ANVIL_OK;
}

Result<uint32_t> CNode::lowest_free() const {
    for (uint32_t i = 1; i < size_; ++i)
        if (slots_[i].empty())
            return i;
    return Result<uint32_t>::error(ANVIL_ERR_NO_MEMORY);
}

void CNode::clear(uint32_t index) {
    Cap* cap = slot(index);
    if (!cap || cap->empty())
        return;
    KObject* object = cap->object;
    *cap = Cap();
    object->release();
}

void CNode::destroy() {
    // Clearing a slot may destroy this CNode's own holders recursively; a CNode
    // that holds a cap to itself is released last by its owner, so this is safe.
    for (uint32_t i = 1; i < size_; ++i)
        clear(i);
    kfree(slots_, size_ * sizeof(Cap));
    unmake(this);
}

}  // namespace kernel
