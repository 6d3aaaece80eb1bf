// A capability: a counted reference to a kernel object plus the rights and badge
// this holder has on it. Caps live in CNode slots.
#pragma once

#include "kernel/object/object.h"

#include <anvil/types.h>
#include <stdint.h>

namespace kernel {

struct Cap {
    KObject* object = nullptr;  // null: the slot is empty
    uint32_t rights = 0;        // ANVIL_RIGHT_* bits
    uint64_t badge = 0;         // non-zero only on minted endpoint/notification caps

    bool empty() const { return object == nullptr; }
    bool has(uint32_t needed) const { return (rights & needed) == needed; }
};

// Rights that make sense for each object type (a cap never carries others).
uint32_t rights_for_type(uint32_t type);

}  // namespace kernel
