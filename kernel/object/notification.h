// A notification: a word of bits that signal() ORs in and wait() takes.
#pragma once

#include "kernel/ipc/ipc.h"
#include "kernel/lib/result.h"
#include "kernel/object/object.h"
#include "kernel/object/thread.h"
#include "kernel/vm/kheap.h"

namespace kernel {

class Notification final : public KObject {
public:
    static Result<Notification*> create();

    // ORs `more` into the bits, waking the oldest waiter with all of them (and
    // clearing them).
    void signal(uint64_t more);
    // Takes (and clears) the bits, or makes `self` wait for a signal (then 0:
    // the bits come when it is woken).
    Result<uint64_t> wait(Thread& self);
    // As wait(), but a wait that no signal ends within `ticks` clock ticks ends
    // with TIMED_OUT; with ticks 0 it is a poll, TIMED_OUT at once if no bits are set.
    Result<uint64_t> wait_timeout(Thread& self, uint64_t ticks);

    uint64_t bits = 0;
    // Threads in kNotify, oldest first.
    WaitQueue& waiters() { return waiters_; }

private:
    KERNEL_HEAP_FRIENDS;
    Notification() : KObject(ANVIL_OBJ_NOTIFICATION) {}
    // Wakes every waiter with PEER_CLOSED.
    void destroy() override;

    WaitQueue waiters_;
};

}  // namespace kernel
