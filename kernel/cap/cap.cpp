#include "kernel/cap/cap.h"

#include "kernel/object/cnode.h"

namespace kernel {

uint32_t rights_for_type(uint32_t type) {
    switch (type) {
    case ANVIL_OBJ_VMO:
        return ANVIL_RIGHTS_ALL;
    case ANVIL_OBJ_NONE:
        return 0;
    default:  // EXEC only means something for VMOs
        return ANVIL_RIGHTS_ALL & ~ANVIL_RIGHT_EXEC;
    }
}

namespace {

void link_child(Cap* parent, Cap* child) {
    child->parent = parent;
    child->prev_sibling = nullptr;
    child->next_sibling = parent->first_child;
    if (parent->first_child)
        parent->first_child->prev_sibling = child;
    parent->first_child = child;
}

void unlink(Cap* cap) {
    if (cap->prev_sibling)
        cap->prev_sibling->next_sibling = cap->next_sibling;
    else if (cap->parent)
        cap->parent->first_child = cap->next_sibling;
    if (cap->next_sibling)
        cap->next_sibling->prev_sibling = cap->prev_sibling;
    cap->parent = cap->next_sibling = cap->prev_sibling = nullptr;
}

// A cap a CNode holds on itself holds no reference: otherwise every process's
// CNode (slot 1 names it) would keep itself alive forever.
bool is_self_reference(const Cap* cap, const KObject* object) {
    return static_cast<const KObject*>(cap->cnode) == object;
}

}  // namespace

void cap_insert(Cap* dst, KObject* object, uint32_t rights, uint64_t badge, Cap* parent) {
    if (!is_self_reference(dst, object))
        object->retain();
    dst->object = object;
    dst->rights = rights & rights_for_type(object->type());
    dst->badge = badge;
    object->cap_added(dst->rights);
    dst->first_child = nullptr;
    if (parent)
        link_child(parent, dst);
    else
        dst->parent = dst->next_sibling = dst->prev_sibling = nullptr;
}

void cap_delete(Cap* cap) {
    if (cap->empty())
        return;
    // Children move up to our parent (or become roots).
    while (Cap* child = cap->first_child) {
        unlink(child);
        if (cap->parent)
            link_child(cap->parent, child);
    }
    unlink(cap);
    KObject* object = cap->object;
    const uint32_t rights = cap->rights;
    const bool counted = !is_self_reference(cap, object);
    cap->object = nullptr;
    cap->rights = 0;
    cap->badge = 0;
    object->cap_removed(rights);  // the slot is empty already: the object sees the cap gone
    if (counted)
        object->release();
}

uint64_t cap_revoke(Cap* cap) {
    // Deleting a descendant can drop the last reference to the CNode holding
    // `cap` itself: keep that CNode alive until the walk is over.
    KObject* home = cap->cnode;
    home->retain();
    // Delete leaves first, restarting from the top after each deletion: a
    // deletion never reparents outside this subtree, and nothing here recurses.
    uint64_t deleted = 0;
    while (cap->first_child) {
        Cap* leaf = cap->first_child;
        while (leaf->first_child)
            leaf = leaf->first_child;
        cap_delete(leaf);
        ++deleted;
    }
    home->release();
    return deleted;
}

uint64_t cap_descendant_count(const Cap* cap) {
    uint64_t n = 0;
    const Cap* c = cap->first_child;
    while (c) {
        ++n;
        if (c->first_child) {
            c = c->first_child;
            continue;
        }
        while (c && !c->next_sibling) {
            c = c->parent;
            if (c == cap)
                return n;
        }
        if (c)
            c = c->next_sibling;
    }
    return n;
}

}  // namespace kernel
