#include "kernel/object/object.h"

namespace kernel {

namespace {
uint64_t g_next_object_id = 1;
}

KObject::KObject(uint32_t type) : id_(g_next_object_id++), type_(type) {}

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
