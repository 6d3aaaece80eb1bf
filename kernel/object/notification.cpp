#include "kernel/object/notification.h"

#include "kernel/sched/timeout.h"

#include <hal/test_hooks.h>

namespace kernel {

Result<Notification*> Notification::create() {
    Notification* n = make<Notification>();
    if (!n)
        return Result<Notification*>::error(ANVIL_ERR_NO_MEMORY);
    return n;
}

void Notification::signal(uint64_t more) {
    if (waiters_.empty() && hal::test_hook(hal::TestHook::kLostSignal))
        return;
    bits |= more;
    if (Thread* waiter = waiters_.pop_front()) {
        const uint64_t got = bits;
        bits = 0;
        ipc_wake(waiter, ANVIL_OK, got);
    }
}

Result<uint64_t> Notification::wait(Thread& self) {
    if (bits) {
        const uint64_t got = bits;
        bits = 0;
        return got;
    }
    ipc_block(self, IpcWait::kNotify, this, &waiters_);
    return uint64_t{0};  // the bits come when a signal wakes us
}

Result<uint64_t> Notification::wait_timeout(Thread& self, uint64_t ticks) {
    if (!bits && ticks == 0)
        return Result<uint64_t>::error(ANVIL_ERR_TIMED_OUT);
    TRY_ASSIGN(got, wait(self));
    if (self.state() == ThreadState::kBlocked)
        deadline_arm(self, ticks);
    return got;
}

void Notification::destroy() {
    while (Thread* t = waiters_.pop_front())
        ipc_wake(t, ANVIL_ERR_PEER_CLOSED, 0);
    unmake(this);
}

}  // namespace kernel
