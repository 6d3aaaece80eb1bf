// A CNode: a power-of-two array of capability slots, one per process (or more).
#pragma once

#include "kernel/cap/cap.h"
#include "kernel/lib/result.h"
#include "kernel/object/object.h"
#include "kernel/vm/kheap.h"

namespace kernel {

class CNode final : public KObject {
public:
    static constexpr uint32_t kMinSlots = 16;
    static constexpr uint32_t kMaxSlots = 4096;

    // An empty CNode; INVALID_ARG unless slots is a power of two in [16, 4096].
    static Result<CNode*> create(uint32_t slots);

    uint32_t size() const { return size_; }

    // The cap in `slot`, or null if the slot is out of range (slot 0 is never used).
    Cap* slot(uint32_t index) { return index < size_ && index != 0 ? &slots_[index] : nullptr; }

    // Puts a new root cap on `object` into an empty `slot` (takes a reference).
    Status install(uint32_t slot, KObject* object, uint32_t rights, uint64_t badge = 0);
    // Lowest empty slot; NO_MEMORY if the CNode is full.
    Result<uint32_t> lowest_free() const;
    // Empties `slot` (cap_delete: children move up to its parent).
    void clear(uint32_t slot);
    // Caps in use.
    uint32_t used() const;

    // Looks up `slot` as an object of `type` with all of `rights`: INVALID_CAP,
    // WRONG_TYPE or ACCESS_DENIED otherwise.
    template <typename T>
    Result<T*> lookup(uint32_t index, uint32_t type, uint32_t rights) {
        Cap* cap = slot(index);
        if (!cap || cap->empty())
            return Result<T*>::error(ANVIL_ERR_INVALID_CAP);
        if (cap->object->type() != type)
            return Result<T*>::error(ANVIL_ERR_WRONG_TYPE);
        if (!cap->has(rights))
            return Result<T*>::error(ANVIL_ERR_ACCESS_DENIED);
        return static_cast<T*>(cap->object);
    }

private:
    KERNEL_HEAP_FRIENDS;
    CNode() : KObject(ANVIL_OBJ_CNODE) {}
    void destroy() override;

    uint32_t size_ = 0;
    Cap* slots_ = nullptr;
};

}  // namespace kernel
