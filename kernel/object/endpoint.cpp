// The rules of synchronous IPC, top to bottom: how a message and its caps go
// from a sender to a receiver (transfer), what a sender does (send), what a
// receiver does (receive), the reply of a call (ipc_reply, reply_receive), the
// kernel's fault message (send_fault), and how a waiting thread leaves
// (ipc_abort_wait, ipc_interrupt, destroy). The thread states involved are
// IpcWait's (kernel/object/thread.h):
//
//   send:  kNone -> kSend on senders_            -> kNone: taken by a receiver
//   call:  kNone -> kCall on senders_ -> kReply  -> kNone: answered (ipc_reply)
//   recv:  kNone -> kRecv on receivers_          -> kNone: given a message
//   fault: kFaultMsg on senders_ (a dead thread) -> kNone: taken
//
// A thread that finds a partner waiting skips the queue (a call goes straight
// to kReply). A wait also ends with PEER_CLOSED when the endpoint closes or the
// server abandons the reply, and early on tcb_suspend (ipc_interrupt).
//
// Closing: the endpoint counts the caps with READ that name it (its first cap,
// with every right, is installed before anyone can name it). When the last
// goes (deleted, or with its CNode) it is closed for good, since a READ cap is
// only ever copied from another: every waiter wakes with PEER_CLOSED (none is
// left on either queue), a dead thread's fault message waiting on it is
// dropped, and from then on a send, try_send or call returns PEER_CLOSED at
// once and a fault message is dropped at once. A caller already in kReply
// waits on its server, not on the endpoint: it is not disturbed.
//
// The waking and blocking themselves, the fast path and the byte copy are in
// kernel/ipc.
#include "kernel/object/endpoint.h"

#include "kernel/object/cnode.h"
#include "kernel/object/notification.h"
#include "kernel/object/vspace.h"
#include "kernel/sched/timeout.h"
#include "kernel/trace/trace.h"

#include <hal/test_hooks.h>
#include <stddef.h>

namespace kernel {

namespace {

constexpr uint64_t kHeaderSize = offsetof(anvil_msg_t, data);  // label, len, ncaps
constexpr uint64_t kCapsOffset = offsetof(anvil_msg_t, caps);

// The parts of a message the kernel reads before copying it.
struct MsgHeader {
    uint64_t label;
    uint32_t len;
    uint32_t ncaps;
};

// A sender's message as checked: its header and the caps it names.
struct SendView {
    MsgHeader msg{0, 0, 0};
    Cap* caps[ANVIL_MSG_MAX_CAPS] = {};
};

// Who a failed rendezvous blames: the other side keeps waiting.
struct Outcome {
    Status sender = ANVIL_OK;
    Status receiver = ANVIL_OK;
};

// ---- The message -------------------------------------------------------

// Reads and checks a message header the caller wants to send.
Result<MsgHeader> read_header(VSpace* vs, uint64_t va) {
    MsgHeader h;
    if (!vs->range_allows(va, sizeof(anvil_msg_t), ANVIL_PERM_R))
        return Error{ANVIL_ERR_FAULT};
    TRY(vs->copy_in(&h, va, sizeof h));
    if (h.len > ANVIL_MSG_MAX_BYTES || h.ncaps > ANVIL_MSG_MAX_CAPS)
        return Error{ANVIL_ERR_INVALID_ARG};
    return h;
}

// Reads and checks the header of a receive buffer: writable, and offering at
// most ANVIL_MSG_MAX_CAPS slots.
Result<MsgHeader> read_buffer(VSpace* vs, uint64_t va) {
    MsgHeader want;
    if (!vs->range_allows(va, sizeof(anvil_msg_t), ANVIL_PERM_R | ANVIL_PERM_W))
        return Error{ANVIL_ERR_FAULT};
    already_checked(vs->copy_in(&want, va, sizeof want));  // the range is mapped and readable
    if (want.ncaps > ANVIL_MSG_MAX_CAPS)
        return Error{ANVIL_ERR_INVALID_ARG};
    return want;
}

// Checks the caps a sender names: present, and with GRANT.
Status check_send_caps(Thread& sender, uint64_t msg_va, uint32_t ncaps, Cap** out) {
    anvil_cap_t slots[ANVIL_MSG_MAX_CAPS];
    if (ncaps == 0)
        return ANVIL_OK;
    TRY(sender.vspace()->copy_in(slots, msg_va + kCapsOffset, ncaps * sizeof(anvil_cap_t)));
    for (uint32_t i = 0; i < ncaps; ++i) {
        Cap* cap = sender.cnode()->slot(slots[i]);
        if (!cap || cap->empty())
            return ANVIL_ERR_INVALID_CAP;
        if (!cap->has(ANVIL_RIGHT_GRANT))
            return ANVIL_ERR_ACCESS_DENIED;
        out[i] = cap;
    }
    return ANVIL_OK;
}

// Reads and checks the message `sender` offers at `va`.
Result<SendView> read_send(Thread& sender, uint64_t va) {
    SendView view;
    TRY_ASSIGN(msg, read_header(sender.vspace(), va));
    view.msg = msg;
    TRY(check_send_caps(sender, va, msg.ncaps, view.caps));
    return view;
}

// Where each of `ncaps` transferred caps lands in `cn`: the slot the receiver
// offers in dest[i], or for ANVIL_SLOT_ANY the lowest free slot not chosen
// already and not named by the receiver.
Status place_caps(CNode* cn, const anvil_cap_t* dest, uint32_t ncaps, uint32_t* landed) {
    for (uint32_t i = 0; i < ncaps; ++i) {
        if (dest[i] == ANVIL_SLOT_ANY) {
            uint32_t slot = 1;
            for (; slot < cn->size(); ++slot) {
                bool taken = !cn->slot(slot)->empty();
                for (uint32_t j = 0; j < i && !taken; ++j)
                    taken = landed[j] == slot;
                for (uint32_t j = 0; j < ncaps && !taken; ++j)
                    taken = dest[j] == slot;
                if (!taken)
                    break;
            }
            if (slot == cn->size())
                return ANVIL_ERR_NO_MEMORY;
            landed[i] = slot;
        } else {
            Cap* slot = cn->slot(dest[i]);
            if (!slot)
                return ANVIL_ERR_INVALID_CAP;
            if (!slot->empty())
                return ANVIL_ERR_SLOT_OCCUPIED;
            for (uint32_t j = 0; j < i; ++j)
                if (landed[j] == dest[i])
                    return ANVIL_ERR_SLOT_OCCUPIED;
            landed[i] = dest[i];
        }
    }
    return ANVIL_OK;
}

// The rendezvous: copies the message of `sender` (at send_va, or its fault
// message) into `receiver`'s buffer at recv_va, transferring caps. Nothing
// changes unless both sides are fine. `checked` is the sender's message if the
// caller has just checked it in this same kernel entry (then it is not read
// again); otherwise the sender's side is read and checked here, after the
// receiver's. `ep` is null for a reply.
Outcome transfer(const Endpoint* ep, uint64_t badge, Thread& sender, uint64_t send_va, Thread& receiver,
                 uint64_t recv_va, const SendView* checked = nullptr) {
    Outcome out;
    VSpace* rvs = receiver.vspace();
    // The receiver's side: a writable buffer and the slots it offers.
    const Result<MsgHeader> want = read_buffer(rvs, recv_va);
    if (!want.ok()) {
        out.receiver = want.status();
        return out;
    }
    anvil_cap_t dest[ANVIL_MSG_MAX_CAPS] = {};
    already_checked(rvs->copy_in(dest, recv_va + kCapsOffset, want.value().ncaps * sizeof(anvil_cap_t)));

    // The sender's side; a waiting sender's memory may have changed since it sent.
    const bool from_kernel = !checked && sender.ipc.wait == IpcWait::kFaultMsg;
    SendView view;
    if (checked) {
        view = *checked;
    } else if (from_kernel) {
        view.msg = {ANVIL_FAULT_MSG_LABEL, sizeof(anvil_fault_msg_t), 0};
    } else {
        const Result<SendView> read = read_send(sender, send_va);
        if (!read.ok()) {
            out.sender = read.status();
            return out;
        }
        view = read.value();
    }
    const MsgHeader& msg = view.msg;

    // Caps beyond what the receiver offers stay behind.
    const uint32_t ncaps = msg.ncaps < want.value().ncaps ? msg.ncaps : want.value().ncaps;
    CNode* rcn = receiver.cnode();
    uint32_t landed[ANVIL_MSG_MAX_CAPS] = {};
    out.receiver = place_caps(rcn, dest, ncaps, landed);
    if (out.receiver != ANVIL_OK)
        return out;

    // Invoke: data, caps, then the header the receiver reads (into the buffer
    // checked at the top, so no copy can fail).
    if (from_kernel)
        already_checked(rvs->copy_out(recv_va + kHeaderSize, &sender.ipc.fault, sizeof sender.ipc.fault));
    else
        ipc_copy(sender.vspace(), send_va + kHeaderSize, rvs, recv_va + kHeaderSize, msg.len);
    for (uint32_t i = 0; i < ncaps; ++i)
        cap_insert(rcn->slot(landed[i]), view.caps[i]->object, view.caps[i]->rights, view.caps[i]->badge,
                   view.caps[i]);
    const MsgHeader got{msg.label, msg.len, ncaps};
    already_checked(rvs->copy_out(recv_va, &got, sizeof got));
    if (ncaps)
        already_checked(rvs->copy_out(recv_va + kCapsOffset, landed, ncaps * sizeof(anvil_cap_t)));
    trace_event(trace::Kind::k_ipc, ep ? ep->id() : 0, sender.id(), receiver.id(), badge, msg.len, ncaps);
    return out;
}

// ---- The reply relation ------------------------------------------------

// `server` took `caller`'s call and now owes it a reply.
void link_reply(Thread& caller, Thread& server) {
    caller.ipc.replier = &server;
    server.ipc.reply_to = &caller;
}

// The reply relation between `caller` and `server` ends.
void unlink_reply(Thread& caller, Thread& server) {
    server.ipc.reply_to = nullptr;
    caller.ipc.replier = nullptr;
}

// A server that takes a new message, or is gone, abandons the reply it owes:
// its caller gets PEER_CLOSED.
void abandon_reply(Thread& self) {
    if (Thread* caller = self.ipc.reply_to) {
        unlink_reply(*caller, self);
        ipc_wake(caller, ANVIL_ERR_PEER_CLOSED, 0);
    }
}

// A call answered, its caller not yet woken.
struct Answer {
    Thread* caller = nullptr;
    Status status = ANVIL_OK;  // the call's result: a bad reply buffer fails the caller only
    bool fast = false;         // the reply may take the fast path
};

// The reply half of reply and reply_recv: `self` answers the call it owes with
// the message at `msg_va`.
Result<Answer> answer_call(Thread& self, uint64_t msg_va) {
    Thread* caller = self.ipc.reply_to;
    if (!caller)
        return Error{ANVIL_ERR_BAD_STATE};
    TRY_ASSIGN(view, read_send(self, msg_va));
    const Outcome o = transfer(nullptr, 0, self, msg_va, *caller, caller->ipc.reply_va, &view);
    unlink_reply(*caller, self);
    return Answer{caller, o.receiver, ipc_fast_message(view.msg.len, view.msg.ncaps)};
}

// ---- Senders meet receivers --------------------------------------------

// Offers `sender`'s message (`checked`, or read here) to the receivers of
// `ep`, oldest first, and returns the one that took it, off the queue and not
// yet woken; null if none waits. A receiver whose own buffer is bad fails its
// receive, and the next one is tried.
Thread* deliver(Endpoint& ep, Thread& sender, uint64_t badge, uint64_t msg_va, const SendView* checked) {
    while (Thread* receiver = ep.receivers().front()) {
        const Outcome o = transfer(&ep, badge, sender, msg_va, *receiver, receiver->ipc.msg_va, checked);
        ep.receivers().remove(receiver);
        if (o.receiver == ANVIL_OK)
            return receiver;
        ipc_wake(receiver, o.receiver, 0);
    }
    return nullptr;
}

// After a rendezvous, the sender's side: a send is done, a call now waits for
// its reply from `receiver`, a fault message is delivered.
void complete_send(Thread& sender, Thread& receiver) {
    switch (sender.ipc.wait) {
    case IpcWait::kCall:
        sender.ipc.wait = IpcWait::kReply;
        sender.ipc.object = nullptr;
        link_reply(sender, receiver);
        break;
    case IpcWait::kFaultMsg:
        sender.ipc.wait = IpcWait::kNone;
        sender.ipc.object = nullptr;
        break;
    default:
        ipc_wake(&sender, ANVIL_OK, 0);
        break;
    }
}

}  // namespace

Result<Endpoint*> Endpoint::create() {
    Endpoint* ep = make<Endpoint>();
    if (!ep)
        return Result<Endpoint*>::error(ANVIL_ERR_NO_MEMORY);
    return ep;
}

Status Endpoint::send(Thread& self, const SendOp& op) {
    if (closed())
        return ANVIL_ERR_PEER_CLOSED;  // before the message: nothing could ever take it
    const bool call = op.kind == SendKind::kCall;
    // Decode: the message must be sendable now. Read the header first so that a
    // bad message is FAULT/INVALID_ARG before the GRANT check, as always.
    SendView view;
    TRY_ASSIGN(msg, read_header(self.vspace(), op.msg_va));
    view.msg = msg;
    if (msg.ncaps && !op.grant)
        return ANVIL_ERR_ACCESS_DENIED;
    TRY(check_send_caps(self, op.msg_va, msg.ncaps, view.caps));
    if (call && !self.vspace()->range_allows(op.reply_va, sizeof(anvil_msg_t), ANVIL_PERM_R | ANVIL_PERM_W))
        return ANVIL_ERR_FAULT;

    self.ipc.msg_va = op.msg_va;
    self.ipc.reply_va = op.reply_va;
    self.ipc.badge = op.badge;
    self.ipc.wait = call ? IpcWait::kCall : IpcWait::kSend;
    if (Thread* receiver = deliver(*this, self, op.badge, op.msg_va, &view)) {
        if (call) {
            ipc_block(self, IpcWait::kReply, nullptr, nullptr);
            link_reply(self, *receiver);
            ipc_wake(receiver, ANVIL_OK, op.badge, ipc_fast_message(msg.len, msg.ncaps) ? self.cpu() : kNoCpu);
            return ANVIL_OK;  // the real result comes with the reply
        }
        ipc_wake(receiver, ANVIL_OK, op.badge);
        self.ipc.wait = IpcWait::kNone;
        return ANVIL_OK;
    }
    if (op.kind == SendKind::kTrySend) {
        self.ipc.wait = IpcWait::kNone;
        return ANVIL_ERR_WOULD_BLOCK;
    }
    ipc_block(self, call ? IpcWait::kCall : IpcWait::kSend, this, &senders_);
    return ANVIL_OK;
}

Result<uint64_t> Endpoint::receive(Thread& self, uint64_t buf_va, RecvKind kind) {
    if (const Result<MsgHeader> want = read_buffer(self.vspace(), buf_va); !want.ok())
        return Error{want.status()};
    while (Thread* sender = senders_.front()) {
        const Outcome o = transfer(this, sender->ipc.badge, *sender, sender->ipc.msg_va, self, buf_va);
        if (o.receiver != ANVIL_OK)
            return Error{o.receiver};
        senders_.remove(sender);
        if (o.sender != ANVIL_OK) {
            ipc_wake(sender, o.sender, 0);  // its message went bad while it waited
            continue;
        }
        const uint64_t badge = hal::test_hook(hal::TestHook::kStaleBadge) ? 0 : sender->ipc.badge;
        abandon_reply(self);
        complete_send(*sender, self);
        return badge;
    }
    if (kind == RecvKind::kTryRecv)
        return Error{ANVIL_ERR_WOULD_BLOCK};
    abandon_reply(self);
    self.ipc.msg_va = buf_va;
    ipc_block(self, IpcWait::kRecv, this, &receivers_);
    return uint64_t{0};  // the sender's badge comes when it wakes us
}

Result<uint64_t> Endpoint::reply_receive(Thread& self, uint64_t reply_va, uint64_t buf_va) {
    Answer answer;
    if (self.ipc.reply_to) {
        TRY_ASSIGN(answered, answer_call(self, reply_va));
        answer = answered;
    }
    const Result<uint64_t> received = receive(self, buf_va, RecvKind::kRecv);
    // The caller is woken after the receive so that, when the server blocked,
    // the fast path can give it the server's CPU.
    if (answer.caller)
        ipc_wake(answer.caller, answer.status, 0,
                 answer.fast && self.state() == ThreadState::kBlocked ? self.cpu() : kNoCpu);
    return received;
}

void Endpoint::send_fault(Thread& t) {
    if (closed())
        return;  // nobody can receive it: dropped, as closing drops a queued one
    t.ipc.wait = IpcWait::kFaultMsg;
    if (Thread* receiver = deliver(*this, t, t.ipc.badge, 0, nullptr)) {
        ipc_wake(receiver, ANVIL_OK, t.ipc.badge);
        t.ipc.wait = IpcWait::kNone;
        return;
    }
    t.ipc.object = this;
    senders_.push_back(&t);
}

void Endpoint::cap_added(uint32_t rights) {
    if (rights & ANVIL_RIGHT_READ)
        ++receive_caps_;
}

void Endpoint::cap_removed(uint32_t rights) {
    if ((rights & ANVIL_RIGHT_READ) && --receive_caps_ == 0)
        wake_all_closed();
}

void Endpoint::wake_all_closed() {
    while (Thread* t = senders_.pop_front()) {
        if (t->ipc.wait == IpcWait::kFaultMsg) {
            t->ipc.wait = IpcWait::kNone;  // a dead thread's message: nobody to tell
            t->ipc.object = nullptr;
        } else {
            ipc_wake(t, ANVIL_ERR_PEER_CLOSED, 0);
        }
    }
    while (Thread* t = receivers_.pop_front())
        ipc_wake(t, ANVIL_ERR_PEER_CLOSED, 0);
}

void Endpoint::destroy() {
    // Nobody should wait here: the last cap with READ closed the endpoint (or
    // it never had one) and a closed endpoint takes no waiter. Emptied again
    // anyway, since a thread left on a queue would point at freed memory.
    wake_all_closed();
    unmake(this);
}

Status ipc_reply(Thread& self, uint64_t msg_va) {
    TRY_ASSIGN(answer, answer_call(self, msg_va));
    ipc_wake(answer.caller, answer.status, 0);
    return ANVIL_OK;
}

WaitQueue* ipc_wait_queue(Thread* t) {
    switch (t->ipc.wait) {
    case IpcWait::kSend:
    case IpcWait::kCall:
    case IpcWait::kFaultMsg:
        return &static_cast<Endpoint*>(t->ipc.object)->senders();
    case IpcWait::kRecv:
        return &static_cast<Endpoint*>(t->ipc.object)->receivers();
    case IpcWait::kNotify:
        return &static_cast<Notification*>(t->ipc.object)->waiters();
    default:
        return nullptr;
    }
}

void ipc_abort_wait(Thread* t) {
    if (WaitQueue* q = ipc_wait_queue(t))
        q->remove(t);
    if (t->ipc.wait == IpcWait::kReply && t->ipc.replier)
        unlink_reply(*t, *t->ipc.replier);
    deadline_cancel(*t);
    t->ipc.wait = IpcWait::kNone;
    t->ipc.object = nullptr;
}

void ipc_release_callers(Thread* t) { abandon_reply(*t); }

void ipc_interrupt(Thread* t) {
    const IpcWait wait = t->ipc.wait;
    if (wait == IpcWait::kNone || wait == IpcWait::kFaultMsg)
        return;
    ipc_abort_wait(t);
    if (wait == IpcWait::kReply)
        t->entry_regs().rax = static_cast<uint64_t>(static_cast<int64_t>(ANVIL_ERR_BAD_STATE));
    else
        t->entry_regs().rip -= 2;  // re-issue the syscall (rax still holds its number)
}

void ipc_report_stop(Thread* t, anvil_fault_msg_t report) {
    Endpoint* ep = t->fault_endpoint();
    if (!ep)
        return;
    report.thread_id = t->id();
    report.rip = t->entry_regs().rip;
    t->ipc.fault = report;
    t->ipc.badge = t->fault_badge();
    ep->send_fault(*t);
}

}  // namespace kernel
