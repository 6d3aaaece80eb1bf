// Syscall dispatch: decodes the register file of the calling thread by the table
// in <anvil/syscalls.h> and calls the handler `sys_<name>`.
#pragma once

#include "kernel/lib/result.h"

#include <anvil/syscalls.h>
#include <stdint.h>

namespace kernel {

class Thread;

// The decoded arguments of one syscall and the out values it returns.
struct SyscallArgs {
    uint64_t number;
    uint64_t arg[ANVIL_SYSCALL_MAX_ARGS];
    uint64_t out[ANVIL_SYSCALL_MAX_OUTS];
};

// Handlers: validate first, mutate after (a rejected call changes nothing).
#define ANVIL_DECLARE_HANDLER(num, name, wrap, ...) Status sys_##name(Thread& self, SyscallArgs& a);
ANVIL_SYSCALLS(ANVIL_DECLARE_HANDLER)
#undef ANVIL_DECLARE_HANDLER

// Runs the syscall the current thread `self` made and writes its result into
// its registers (unless the thread no longer returns to user mode).
void dispatch_syscall(Thread& self);

}  // namespace kernel
