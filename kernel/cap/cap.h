// A capability: a counted reference to a kernel object plus the rights and badge
// its holder has, living in a CNode slot. Caps form a derivation tree: a copy is
// a child of its source, so cap_revoke can find and delete every cap derived
// from one, in every CNode.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/object/object.h"

#include <anvil/types.h>
#include <stdint.h>

namespace kernel {

class CNode;

struct Cap {
    KObject* object = nullptr;  // null: the slot is empty
    uint32_t rights = 0;        // ANVIL_RIGHT_* bits
    uint64_t badge = 0;         // non-zero only on minted endpoint/notification caps

    // Derivation tree links (all null for an empty slot).
    Cap* parent = nullptr;
    Cap* first_child = nullptr;
    Cap* next_sibling = nullptr;
    Cap* prev_sibling = nullptr;

    // Where this cap lives (set when the CNode is created; never changes).
    CNode* cnode = nullptr;
    uint32_t index = 0;

    bool empty() const { return object == nullptr; }
    bool has(uint32_t needed) const { return (rights & needed) == needed; }
};

// Rights that make sense for each object type (a cap never carries others).
uint32_t rights_for_type(uint32_t type);

// Fills the empty slot `dst` with a new cap on `object`, as a child of `parent`
// (or a root if parent is null). Takes a reference on the object.
void cap_insert(Cap* dst, KObject* object, uint32_t rights, uint64_t badge, Cap* parent);

// Empties a slot. Its children move up to its parent, so a later revoke of an
// ancestor still reaches them. Drops the reference (may destroy the object).
void cap_delete(Cap* cap);

// Deletes every cap derived from `cap`, transitively; `cap` itself stays.
// Returns the number of caps deleted.
uint64_t cap_revoke(Cap* cap);

// Number of caps derived from `cap` (its whole subtree, excluding itself).
uint64_t cap_descendant_count(const Cap* cap);

}  // namespace kernel
