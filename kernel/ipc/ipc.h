// Synchronous IPC: the rendezvous of a sender and a receiver on an endpoint,
// call/reply, capability transfer, notifications and fault messages. A message
// is copied once, from the sender's memory to the receiver's, when they meet.
#pragma once

#include "kernel/lib/result.h"

#include <stdint.h>
#include <anvil/types.h>

namespace kernel {

class Endpoint;
class Notification;
class Thread;

// Sends (or, with `call`, calls) the message at `msg_va` on `ep`. `badge` is
// the badge of the endpoint cap used; `grant` whether it has GRANT. Blocks the
// caller if no receiver waits (unless !blocking: WOULD_BLOCK).
Status ipc_send(Thread& self, Endpoint* ep, uint64_t msg_va, uint64_t badge, bool grant, bool call,
                uint64_t reply_va, bool blocking);
// Receives into the buffer at `msg_va`; the sender's badge goes to *badge.
// Blocks if no sender waits (unless !blocking: WOULD_BLOCK). A reply still owed
// by this thread is abandoned once it takes a message or blocks (its caller gets
// PEER_CLOSED); a receive that fails changes nothing.
Status ipc_recv(Thread& self, Endpoint* ep, uint64_t msg_va, bool blocking, uint64_t* badge);
// Answers the last call `self` received with the message at `msg_va`.
Status ipc_reply(Thread& self, uint64_t msg_va);
// Replies to the pending call (if any), then receives as ipc_recv does.
Status ipc_reply_recv(Thread& self, Endpoint* ep, uint64_t reply_va, uint64_t recv_va, uint64_t* badge);
// True if `self` owes a reply.
bool ipc_reply_pending(const Thread& self);

// The fast path: a call, or the reply of a reply_recv whose receive blocks, with
// at most kIpcFastBytes of data and no caps hands its CPU straight to the woken
// partner (Scheduler::handoff) instead of queueing it. Results are the slow
// path's; only where the partner runs differs. On unless the kernel command
// line says `ipc.fastpath=off`; tests run both ways.
constexpr uint32_t kIpcFastBytes = 128;
void ipc_set_fastpath(bool on);
bool ipc_fastpath_enabled();
// Wake-ups the fast path has done directly so far.
uint64_t ipc_fastpath_count();
// Testing aid for replay: the `n`th handoff the fast path attempts (1-based) is
// refused, one changed kernel decision; 0 turns it off. The trace record index
// at the refusal (0 if it did not happen) is what a replay should report.
void ipc_test_refuse_handoff(uint64_t n);
uint64_t ipc_test_refused_at_record();
// Testing aid for bug finding (tools/anvil bench bugs): a race planted in the
// kernel, each showing only when one thread gets to the kernel before another.
enum class PlantedRace {
    kNone,
    kLostSignal,  // notify_signal with no waiter drops its bits instead of keeping them
    kStaleBadge,  // ipc_recv taking a queued sender reports badge 0, not the sender's
};
void ipc_test_plant(PlantedRace race);

// ORs `bits` into `n`, waking one waiter with them.
void notify_signal(Notification* n, uint64_t bits);
// Takes the bits of `n` into *bits, or blocks until there are some.
Status notify_wait(Thread& self, Notification* n, uint64_t* bits);

// Takes `t` off whatever IPC queue it waits on (suspend, exit, fault, destroy).
void ipc_abort_wait(Thread* t);
// `t` is gone for good: a caller waiting for its reply gets PEER_CLOSED.
void ipc_release_callers(Thread* t);
// The object `t` waits on is destroyed: `t` leaves its queue with PEER_CLOSED.
void ipc_close_waiter(Thread* t);
// Suspends a blocked thread's IPC: a send/recv/wait is re-issued when the thread
// resumes; a call already waiting for its reply fails with BAD_STATE.
void ipc_interrupt(Thread* t);
// Tells `t`'s fault endpoint (if any) that it stopped, with `report` (its
// thread_id and rip are filled in here).
void ipc_report_stop(Thread* t, anvil_fault_msg_t report);

}  // namespace kernel
