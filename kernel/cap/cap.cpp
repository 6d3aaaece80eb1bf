#include "kernel/cap/cap.h"

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

}  // namespace kernel
