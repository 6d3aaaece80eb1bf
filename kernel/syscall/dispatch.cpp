#include "kernel/object/thread.h"
#include "kernel/object/vspace.h"
#include "kernel/syscall/syscall.h"
#include "kernel/trace/trace.h"

#include <hal/test_hooks.h>

namespace kernel {

void dispatch_syscall(Thread& self) {
    // The call may delete the caller's last TCB cap: keep it alive until its
    // result is written.
    self.retain();
    hal::UserRegs& r = self.entry_regs();
    SyscallArgs a{r.rax, {r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9, r.r12}, {0, 0}};
    trace_event(trace::Kind::k_syscall, self.cpu(), self.id(), a.number, a.arg[0], a.arg[1], a.arg[2], a.arg[3],
                a.arg[4], a.arg[5], a.arg[6]);
    Status status;
    switch (a.number) {
#define ANVIL_DISPATCH_CASE(num, name, wrap, ...) \
    case num:                                     \
        status = sys_##name(self, a);             \
        break;
        ANVIL_SYSCALLS(ANVIL_DISPATCH_CASE)
#undef ANVIL_DISPATCH_CASE
    default:
        status = ANVIL_ERR_NOT_SUPPORTED;
        break;
    }
    const ThreadState st = self.state();
    // A blocked thread gets its result when it is woken.
    if (st != ThreadState::kExited && st != ThreadState::kFaulted && st != ThreadState::kBlocked) {
        r.rax = static_cast<uint64_t>(static_cast<int64_t>(status));
        if (status == ANVIL_OK) {
            r.rdx = a.out[0];
            r.r10 = a.out[1];
        }
        trace_event(trace::Kind::k_sysret, self.cpu(), self.id(), trace_zigzag(status), a.out[0], a.out[1]);
    }
    if (hal::test_hook(hal::TestHook::kSyscallDone) && self.vspace())
        self.vspace()->retain();  // a planted bug: a reference nobody holds
    self.release();
}

}  // namespace kernel
