// Syscalls of the ABI that this kernel does not implement yet: each returns
// ANVIL_ERR_NOT_SUPPORTED and changes nothing. A call leaves this list when its
// real handler lands.
#include "kernel/syscall/syscall.h"

namespace kernel {

#define ANVIL_NOT_SUPPORTED(name) \
    Status sys_##name(Thread&, SyscallArgs&) { return ANVIL_ERR_NOT_SUPPORTED; }

ANVIL_NOT_SUPPORTED(irq_bind)

}  // namespace kernel
