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
    for (uint32_t i = 0; i < slots; ++i) {
        new (&cnode->slots_[i]) Cap();
        cnode->slots_[i].cnode = cnode;
        cnode->slots_[i].index = i;
    }
    cnode->size_ = slots;
    return cnode;
}

Status CNode::install(uint32_t index, KObject* object, uint32_t rights, uint64_t badge) {
    Cap* cap = slot(index);
    if (!cap)
        return ANVIL_ERR_INVALID_CAP;
    if (!cap->empty())
        return ANVIL_ERR_SLOT_OCCUPIED;
    cap_insert(cap, object, rights, badge, nullptr);
    return ANVIL_OK;
}

Result<uint32_t> CNode::lowest_free() const {
    for (uint32_t i = 1; i < size_; ++i)
        if (slots_[i].empty())
            return i;
    return Result<uint32_t>::error(ANVIL_ERR_NO_MEMORY);
}

void CNode::clear(uint32_t index) {
    if (Cap* cap = slot(index))
        cap_delete(cap);
}

uint32_t CNode::used() const {
    uint32_t n = 0;
    for (uint32_t i = 1; i < size_; ++i)
        n += slots_[i].empty() ? 0 : 1;
    return n;
}

void CNode::destroy() {
    // Our own refcount is zero: deleting the slots cannot come back to us.
    for (uint32_t i = 1; i < size_; ++i)
        clear(i);
    kfree(slots_, size_ * sizeof(Cap));
    unmake(this);
}

}  // namespace kernel
