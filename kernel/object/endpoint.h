// An endpoint: where senders and receivers meet. It holds no messages, only the
// threads waiting on it, FIFO on each side.
#pragma once

#include "kernel/lib/list.h"
#include "kernel/lib/result.h"
#include "kernel/object/object.h"
#include "kernel/object/thread.h"
#include "kernel/vm/kheap.h"

namespace kernel {

class Endpoint final : public KObject {
public:
    static Result<Endpoint*> create();

    // Threads in kSend/kCall/kFaultMsg, oldest first.
    List<Thread, &Thread::run_link>& senders() { return senders_; }
    // Threads in kRecv, oldest first.
    List<Thread, &Thread::run_link>& receivers() { return receivers_; }

private:
    KERNEL_HEAP_FRIENDS;
    Endpoint() : KObject(ANVIL_OBJ_ENDPOINT) {}
    // Wakes every waiter with PEER_CLOSED.
    void destroy() override;

    List<Thread, &Thread::run_link> senders_;
    List<Thread, &Thread::run_link> receivers_;
};

// A notification: a word of bits that signal() ORs in and wait() takes.
class Notification final : public KObject {
public:
    static Result<Notification*> create();

    uint64_t bits = 0;
    List<Thread, &Thread::run_link>& waiters() { return waiters_; }

private:
    KERNEL_HEAP_FRIENDS;
    Notification() : KObject(ANVIL_OBJ_NOTIFICATION) {}
    void destroy() override;

    List<Thread, &Thread::run_link> waiters_;
};

}  // namespace kernel
