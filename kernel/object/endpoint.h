// An endpoint: where senders and receivers meet. It holds no messages, only the
// threads waiting on it, FIFO on each side. Its operations hold the rules of
// synchronous IPC (docs/ipc.md): rendezvous, call and reply, badges, cap
// transfer, fault messages, and how a waiting thread leaves.
#pragma once

#include "kernel/ipc/ipc.h"
#include "kernel/lib/result.h"
#include "kernel/object/object.h"
#include "kernel/object/thread.h"
#include "kernel/vm/kheap.h"

#include <anvil/types.h>

namespace kernel {

// Which send a thread makes.
enum class SendKind : uint8_t {
    kSend,     // ipc_send: waits on the endpoint until a receiver takes it
    kTrySend,  // ipc_try_send: WOULD_BLOCK unless a receiver waits
    kCall,     // ipc_call: sends as kSend, then waits for the reply
};

// A send, decoded from the syscall and the endpoint cap it names.
struct SendOp {
    SendKind kind = SendKind::kSend;
    uint64_t msg_va = 0;    // the message
    uint64_t reply_va = 0;  // kCall: the buffer the reply goes to
    uint64_t badge = 0;     // the cap's badge, which the receiver gets
    bool grant = false;     // the cap has GRANT: caps may go with the message
};

// Which receive a thread makes.
enum class RecvKind : uint8_t {
    kRecv,     // ipc_recv: waits on the endpoint until a sender comes
    kTryRecv,  // ipc_try_recv: WOULD_BLOCK unless a sender waits
};

class Endpoint final : public KObject {
public:
    static Result<Endpoint*> create();

    // Gives `op`'s message to the oldest receiver able to take it, or makes
    // `self` wait for one. A call then waits for its reply, which brings the
    // call's real result.
    Status send(Thread& self, const SendOp& op);
    // Takes the oldest waiting sender's message into the buffer at `buf_va`
    // and returns the badge it came with, or makes `self` wait for a sender
    // (then 0: the badge comes when it is woken). A reply still owed by `self`
    // is abandoned once it takes a message or waits (its caller gets
    // PEER_CLOSED); a receive that fails changes nothing.
    Result<uint64_t> receive(Thread& self, uint64_t buf_va, RecvKind kind);
    // Answers the call `self` owes (if any) with the message at `reply_va`,
    // then receives as receive(kRecv) does.
    Result<uint64_t> reply_receive(Thread& self, uint64_t reply_va, uint64_t buf_va);
    // The kernel's message about the stopped thread `t` (t.ipc.fault, with
    // badge t.ipc.badge) goes to a waiting receiver, or `t` waits with it; on
    // a closed endpoint it is dropped.
    void send_fault(Thread& t);

    // True once no cap with READ names the endpoint: nobody can receive on it
    // again (a new READ cap can only be copied from one), so it stays closed.
    bool closed() const { return receive_caps_ == 0; }
    // Caps with READ that name the endpoint (the invariant checker counts them).
    uint32_t receive_caps() const { return receive_caps_; }
    // Counts a cap with READ; the last one's going closes the endpoint.
    void cap_added(uint32_t rights) override;
    void cap_removed(uint32_t rights) override;

    // Threads in kSend/kCall/kFaultMsg, oldest first.
    WaitQueue& senders() { return senders_; }
    // Threads in kRecv, oldest first.
    WaitQueue& receivers() { return receivers_; }
    // Scratch for the invariant checker (kernel/check): caps with READ it found.
    uint32_t check_receive_caps = 0;

private:
    KERNEL_HEAP_FRIENDS;
    Endpoint() : KObject(ANVIL_OBJ_ENDPOINT) {}
    // Wakes every waiter with PEER_CLOSED and drops a queued fault message.
    void wake_all_closed();
    // Frees the endpoint (closed by then: its queues are empty).
    void destroy() override;

    WaitQueue senders_;
    WaitQueue receivers_;
    uint32_t receive_caps_ = 0;
};

// Answers the last call `self` received with the message at `msg_va`
// (BAD_STATE if it owes none). A bad reply buffer fails the caller's call only.
Status ipc_reply(Thread& self, uint64_t msg_va);

// The queue `t` waits on as its IpcWait says (an endpoint's senders or
// receivers, a notification's waiters), or null (kNone, kReply).
WaitQueue* ipc_wait_queue(Thread* t);
// Takes `t` off whatever IPC queue it waits on (suspend, exit, fault, destroy).
void ipc_abort_wait(Thread* t);
// `t` is gone for good: a caller waiting for its reply gets PEER_CLOSED.
void ipc_release_callers(Thread* t);
// Suspends a blocked thread's IPC: a send/recv/wait is re-issued when the thread
// resumes; a call already waiting for its reply fails with BAD_STATE.
void ipc_interrupt(Thread* t);
// Tells `t`'s fault endpoint (if any) that it stopped, with `report` (its
// thread_id and rip are filled in here).
void ipc_report_stop(Thread* t, anvil_fault_msg_t report);

}  // namespace kernel
