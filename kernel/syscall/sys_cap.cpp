// Capability calls: cap_info.
#include "kernel/object/cnode.h"
#include "kernel/object/thread.h"
#include "kernel/object/vspace.h"
#include "kernel/syscall/syscall.h"

namespace kernel {

Status sys_cap_info(Thread& self, SyscallArgs& a) {
    const uint32_t slot = static_cast<uint32_t>(a.arg[1]);
    const uint64_t out_va = a.arg[2];
    if (a.arg[0] > UINT32_MAX || a.arg[1] > UINT32_MAX)
        return ANVIL_ERR_INVALID_CAP;
    TRY_ASSIGN(cnode, self.cnode()->lookup<CNode>(static_cast<uint32_t>(a.arg[0]), ANVIL_OBJ_CNODE,
                                                  ANVIL_RIGHT_READ));
    Cap* cap = cnode->slot(slot);
    if (!cap || cap->empty())
        return ANVIL_ERR_INVALID_CAP;
    anvil_cap_info_t info{cap->object->type(), cap->rights, cap->badge, cap->object->id()};
    return self.vspace()->copy_out(out_va, &info, sizeof info);
}

}  // namespace kernel
