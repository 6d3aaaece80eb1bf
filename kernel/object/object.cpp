#include "kernel/object/object.h"

namespace kernel {

namespace {
uint64_t g_next_object_id = 1;
// Objects whose last reference went, waiting for destroy(), oldest first.
KObject* g_reap_head = nullptr;
KObject* g_reap_tail = nullptr;
bool g_reaping = false;
// Live objects in creation order (a doubly linked list through the objects).
KObject* g_live_head = nullptr;
KObject* g_live_tail = nullptr;
}  // namespace

KObject::KObject(uint32_t type) : id_(g_next_object_id++), type_(type) {
    live_prev_ = g_live_tail;
    if (g_live_tail)
        g_live_tail->live_next_ = this;
    else
        g_live_head = this;
    g_live_tail = this;
}

// Every way an object goes (destroy(), or a create() that fails half-way) ends
// in unmake(), which runs this: the live list never holds freed memory.
KObject::~KObject() {
    if (live_prev_)
        live_prev_->live_next_ = live_next_;
    else
        g_live_head = live_next_;
    if (live_next_)
        live_next_->live_prev_ = live_prev_;
    else
        g_live_tail = live_prev_;
}

KObject* KObject::first_live() { return g_live_head; }

void KObject::reap(KObject* object) {
    object->reap_next_ = nullptr;
    if (g_reap_tail)
        g_reap_tail->reap_next_ = object;
    else
        g_reap_head = object;
    g_reap_tail = object;
    if (g_reaping)
        return;  // the loop below, further up the stack, will get to it
    g_reaping = true;
    while (KObject* next = g_reap_head) {
        g_reap_head = next->reap_next_;
        if (!g_reap_head)
            g_reap_tail = nullptr;
        next->destroy();
    }
    g_reaping = false;
}

uint64_t objects_created() { return g_next_object_id - 1; }

const char* object_type_name(uint32_t type) {
    switch (type) {
    case ANVIL_OBJ_CNODE: return "cnode";
    case ANVIL_OBJ_TCB: return "tcb";
    case ANVIL_OBJ_VSPACE: return "vspace";
    case ANVIL_OBJ_VMO: return "vmo";
    case ANVIL_OBJ_ENDPOINT: return "endpoint";
    case ANVIL_OBJ_NOTIFICATION: return "notification";
    case ANVIL_OBJ_IOPORT: return "ioport";
    case ANVIL_OBJ_IRQ: return "irq";
    default: return "none";
    }
}

}  // namespace kernel
