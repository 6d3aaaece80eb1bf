#include "kernel/ipc/ipc.h"

#include "kernel/lib/string.h"
#include "kernel/object/cnode.h"
#include "kernel/object/endpoint.h"
#include "kernel/object/thread.h"
#include "kernel/object/vspace.h"
#include "kernel/sched/scheduler.h"
#include "kernel/trace/trace.h"

#include <hal/test_hooks.h>
#include <stddef.h>

namespace kernel {

namespace {

constexpr uint64_t kHeaderSize = offsetof(anvil_msg_t, data);    // label, len, ncaps
constexpr uint64_t kCapsOffset = offsetof(anvil_msg_t, caps);
constexpr uint64_t kPage = hal::kPageSize;
// No CPU: wake() queues the thread through the scheduler.
constexpr uint32_t kNoCpu = ~0u;

bool g_fastpath = true;
uint64_t g_fastpath_count = 0;

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

List<Thread, &Thread::run_link>* queue_of(Thread* t) {
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

// Makes a blocked thread runnable with `status` (and out0 if OK). With a
// `direct_cpu`, the fast path: the thread that just blocked on that CPU hands
// it straight to `t` if the scheduler allows (same result, no run-queue trip,
// no cross-CPU wake-up).
void wake(Thread* t, Status status, uint64_t out0, uint32_t direct_cpu = kNoCpu) {
    hal::UserRegs& r = t->entry_regs();
    r.rax = static_cast<uint64_t>(static_cast<int64_t>(status));
    if (status == ANVIL_OK)
        r.rdx = out0;
    t->ipc.wait = IpcWait::kNone;
    t->ipc.object = nullptr;
    trace_event(trace::Kind::k_wake, t->id(), trace_zigzag(status), status == ANVIL_OK ? out0 : 0);
    if (direct_cpu != kNoCpu && hal::test_hook(hal::TestHook::kIpcHandoff))
        direct_cpu = kNoCpu;  // a test's changed decision: queue it instead
    if (direct_cpu != kNoCpu && scheduler().handoff(direct_cpu, t)) {
        ++g_fastpath_count;
        return;
    }
    scheduler().make_runnable(t);
}

// The fast path takes call and reply_recv with a short message and no caps.
bool fast_message(const MsgHeader& m) { return g_fastpath && m.ncaps == 0 && m.len <= kIpcFastBytes; }

// Blocks the current thread on `queue` (or on no queue for kReply).
void block(Thread& self, IpcWait wait, KObject* object, List<Thread, &Thread::run_link>* queue) {
    scheduler().deschedule(&self, ThreadState::kBlocked);
    self.ipc.wait = wait;
    self.ipc.object = object;
    if (queue)
        queue->push_back(&self);
}

// Reads and checks a message header the caller wants to send.
Status read_header(VSpace* vs, uint64_t va, MsgHeader* h) {
    if (!vs->range_allows(va, sizeof(anvil_msg_t), ANVIL_PERM_R))
        return ANVIL_ERR_FAULT;
    TRY(vs->copy_in(h, va, sizeof *h));
    if (h->len > ANVIL_MSG_MAX_BYTES || h->ncaps > ANVIL_MSG_MAX_CAPS)
        return ANVIL_ERR_INVALID_ARG;
    return ANVIL_OK;
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

// The frame behind user address `va` (which is mapped).
hal::paddr_t frame_of(VSpace* vs, uint64_t va) {
    Mapping* m = vs->find(va);
    return m->vmo->page((m->offset + (va - m->va)) / kPage);
}

// True if the two ranges (each at most a message long) share a frame.
bool share_frames(VSpace* a, uint64_t ava, VSpace* b, uint64_t bva, uint64_t len) {
    for (uint64_t x = align_down(ava, kPage); x < ava + len; x += kPage)
        for (uint64_t y = align_down(bva, kPage); y < bva + len; y += kPage)
            if (frame_of(a, x) == frame_of(b, y))
                return true;
    return false;
}

// Reads and checks the message `sender` offers at `va`.
Status read_send(Thread& sender, uint64_t va, SendView* view) {
    TRY(read_header(sender.vspace(), va, &view->msg));
    return check_send_caps(sender, va, view->msg.ncaps, view->caps);
}

// Copies `len` bytes (at most a message) from one address space to another
// (both ranges already checked). Normally this is the single copy, frame to
// frame; if the two ranges share memory (one address space, or a shared VMO)
// it goes through a kernel buffer so an overlap cannot corrupt it.
void copy_across(VSpace* src, uint64_t sva, VSpace* dst, uint64_t dva, uint64_t len) {
    if (len && share_frames(src, sva, dst, dva, len)) {
        uint8_t bounce[ANVIL_MSG_MAX_BYTES];
        already_checked(src->copy_in(bounce, sva, len));
        already_checked(dst->copy_out(dva, bounce, len));
        return;
    }
    while (len) {
        Mapping* ms = src->find(sva);
        Mapping* md = dst->find(dva);
        const uint64_t soff = ms->offset + (sva - ms->va), doff = md->offset + (dva - md->va);
        uint64_t chunk = kPage - soff % kPage;
        if (kPage - doff % kPage < chunk)
            chunk = kPage - doff % kPage;
        if (len < chunk)
            chunk = len;
        const auto* s = static_cast<const uint8_t*>(hal::phys_to_virt(ms->vmo->page(soff / kPage))) + soff % kPage;
        auto* d = static_cast<uint8_t*>(hal::phys_to_virt(md->vmo->page(doff / kPage))) + doff % kPage;
        mem_copy(d, s, chunk);
        sva += chunk;
        dva += chunk;
        len -= chunk;
    }
}

// The rendezvous: copies the message of `sender` (at send_va, or its fault
// message) into `receiver`'s buffer at recv_va, transferring caps. Nothing
// changes unless both sides are fine. `checked` is the sender's message if the
// caller has just checked it in this same kernel entry (then it is not read
// again); otherwise the sender's side is read and checked here, after the
// receiver's.
Outcome transfer(const KObject* ep, uint64_t badge, Thread& sender, uint64_t send_va, Thread& receiver,
                 uint64_t recv_va, const SendView* checked = nullptr) {
    Outcome out;
    VSpace* rvs = receiver.vspace();
    // The receiver's side: a writable buffer and the slots it offers.
    MsgHeader want;
    if (!rvs->range_allows(recv_va, sizeof(anvil_msg_t), ANVIL_PERM_R | ANVIL_PERM_W) ||
        rvs->copy_in(&want, recv_va, sizeof want) != ANVIL_OK) {
        out.receiver = ANVIL_ERR_FAULT;
        return out;
    }
    if (want.ncaps > ANVIL_MSG_MAX_CAPS) {
        out.receiver = ANVIL_ERR_INVALID_ARG;
        return out;
    }
    anvil_cap_t dest[ANVIL_MSG_MAX_CAPS] = {};
    already_checked(rvs->copy_in(dest, recv_va + kCapsOffset, want.ncaps * sizeof(anvil_cap_t)));  // checked above

    // The sender's side; a waiting sender's memory may have changed since it sent.
    const bool from_kernel = !checked && sender.ipc.wait == IpcWait::kFaultMsg;
    SendView view;
    if (checked) {
        view = *checked;
    } else if (from_kernel) {
        view.msg = {ANVIL_FAULT_MSG_LABEL, sizeof(anvil_fault_msg_t), 0};
    } else {
        out.sender = read_send(sender, send_va, &view);
        if (out.sender != ANVIL_OK)
            return out;
    }
    const MsgHeader& msg = view.msg;
    Cap* const* caps = view.caps;

    // Where each transferred cap lands: the offered slot, or the lowest free.
    const uint32_t ncaps = msg.ncaps < want.ncaps ? msg.ncaps : want.ncaps;
    CNode* rcn = receiver.cnode();
    uint32_t landed[ANVIL_MSG_MAX_CAPS] = {};
    for (uint32_t i = 0; i < ncaps; ++i) {
        if (dest[i] == ANVIL_SLOT_ANY) {
            // The lowest free slot not already chosen and not named by the receiver.
            uint32_t slot = 1;
            for (; slot < rcn->size(); ++slot) {
                bool taken = !rcn->slot(slot)->empty();
                for (uint32_t j = 0; j < i && !taken; ++j)
                    taken = landed[j] == slot;
                for (uint32_t j = 0; j < ncaps && !taken; ++j)
                    taken = dest[j] == slot;
                if (!taken)
                    break;
            }
            if (slot == rcn->size()) {
                out.receiver = ANVIL_ERR_NO_MEMORY;
                return out;
            }
            landed[i] = slot;
        } else {
            Cap* slot = rcn->slot(dest[i]);
            if (!slot) {
                out.receiver = ANVIL_ERR_INVALID_CAP;
                return out;
            }
            if (!slot->empty()) {
                out.receiver = ANVIL_ERR_SLOT_OCCUPIED;
                return out;
            }
            for (uint32_t j = 0; j < i; ++j)
                if (landed[j] == dest[i]) {
                    out.receiver = ANVIL_ERR_SLOT_OCCUPIED;
                    return out;
                }
            landed[i] = dest[i];
        }
    }

    // Invoke: data, caps, then the header the receiver reads (into the buffer
    // checked at the top, so no copy can fail).
    if (from_kernel)
        already_checked(rvs->copy_out(recv_va + kHeaderSize, &sender.ipc.fault, sizeof sender.ipc.fault));
    else
        copy_across(sender.vspace(), send_va + kHeaderSize, rvs, recv_va + kHeaderSize, msg.len);
    for (uint32_t i = 0; i < ncaps; ++i)
        cap_insert(rcn->slot(landed[i]), caps[i]->object, caps[i]->rights, caps[i]->badge, caps[i]);
    const MsgHeader got{msg.label, msg.len, ncaps};
    already_checked(rvs->copy_out(recv_va, &got, sizeof got));
    if (ncaps)
        already_checked(rvs->copy_out(recv_va + kCapsOffset, landed, ncaps * sizeof(anvil_cap_t)));
    trace_event(trace::Kind::k_ipc, ep ? ep->id() : 0, sender.id(), receiver.id(), badge, msg.len, ncaps);
    return out;
}

// After a rendezvous, the sender's side: a send is done, a call now waits for
// its reply from `receiver`, a fault message is delivered.
void complete_send(Thread* sender, Thread& receiver) {
    switch (sender->ipc.wait) {
    case IpcWait::kCall:
        sender->ipc.wait = IpcWait::kReply;
        sender->ipc.object = nullptr;
        sender->ipc.replier = &receiver;
        receiver.ipc.reply_to = sender;
        break;
    case IpcWait::kFaultMsg:
        sender->ipc.wait = IpcWait::kNone;
        sender->ipc.object = nullptr;
        break;
    default:
        wake(sender, ANVIL_OK, 0);
        break;
    }
}

// A server that takes a new message while owing a reply abandons that reply.
void abandon_reply(Thread& self) {
    if (Thread* caller = self.ipc.reply_to) {
        self.ipc.reply_to = nullptr;
        caller->ipc.replier = nullptr;
        wake(caller, ANVIL_ERR_PEER_CLOSED, 0);
    }
}

}  // namespace

bool ipc_reply_pending(const Thread& self) { return self.ipc.reply_to != nullptr; }

Status ipc_send(Thread& self, Endpoint* ep, uint64_t msg_va, uint64_t badge, bool grant, bool call,
                uint64_t reply_va, bool blocking) {
    // Decode: the message must be sendable now. Read the header first so that a
    // bad message is FAULT/INVALID_ARG before the GRANT check, as always.
    SendView view;
    TRY(read_header(self.vspace(), msg_va, &view.msg));
    if (view.msg.ncaps && !grant)
        return ANVIL_ERR_ACCESS_DENIED;
    TRY(check_send_caps(self, msg_va, view.msg.ncaps, view.caps));
    if (call && !self.vspace()->range_allows(reply_va, sizeof(anvil_msg_t), ANVIL_PERM_R | ANVIL_PERM_W))
        return ANVIL_ERR_FAULT;

    self.ipc.msg_va = msg_va;
    self.ipc.reply_va = reply_va;
    self.ipc.badge = badge;
    self.ipc.wait = call ? IpcWait::kCall : IpcWait::kSend;
    while (Thread* receiver = ep->receivers().front()) {
        const Outcome o = transfer(ep, badge, self, msg_va, *receiver, receiver->ipc.msg_va, &view);
        ep->receivers().remove(receiver);
        if (o.receiver != ANVIL_OK) {
            wake(receiver, o.receiver, 0);  // its own bad buffer: the next receiver
            continue;
        }
        if (call) {
            block(self, IpcWait::kReply, nullptr, nullptr);
            self.ipc.replier = receiver;
            receiver->ipc.reply_to = &self;
            wake(receiver, ANVIL_OK, badge, fast_message(view.msg) ? self.cpu() : kNoCpu);
            return ANVIL_OK;  // the real result comes with the reply
        }
        wake(receiver, ANVIL_OK, badge);
        self.ipc.wait = IpcWait::kNone;
        return ANVIL_OK;
    }
    if (!blocking) {
        self.ipc.wait = IpcWait::kNone;
        return ANVIL_ERR_WOULD_BLOCK;
    }
    block(self, call ? IpcWait::kCall : IpcWait::kSend, ep, &ep->senders());
    return ANVIL_OK;
}

Status ipc_recv(Thread& self, Endpoint* ep, uint64_t msg_va, bool blocking, uint64_t* badge) {
    if (!self.vspace()->range_allows(msg_va, sizeof(anvil_msg_t), ANVIL_PERM_R | ANVIL_PERM_W))
        return ANVIL_ERR_FAULT;
    MsgHeader want;
    TRY(self.vspace()->copy_in(&want, msg_va, sizeof want));
    if (want.ncaps > ANVIL_MSG_MAX_CAPS)
        return ANVIL_ERR_INVALID_ARG;
    while (Thread* sender = ep->senders().front()) {
        const Outcome o = transfer(ep, sender->ipc.badge, *sender, sender->ipc.msg_va, self, msg_va);
        if (o.receiver != ANVIL_OK)
            return o.receiver;
        ep->senders().remove(sender);
        if (o.sender != ANVIL_OK) {
            wake(sender, o.sender, 0);  // its message went bad while it waited
            continue;
        }
        *badge = hal::test_hook(hal::TestHook::kStaleBadge) ? 0 : sender->ipc.badge;
        abandon_reply(self);
        complete_send(sender, self);
        return ANVIL_OK;
    }
    if (!blocking)
        return ANVIL_ERR_WOULD_BLOCK;
    abandon_reply(self);
    self.ipc.msg_va = msg_va;
    block(self, IpcWait::kRecv, ep, &ep->receivers());
    return ANVIL_OK;
}

namespace {

// The reply half of reply and reply_recv: the caller's result is in *caller_status;
// the caller is left for the caller of this function to wake.
Status reply_transfer(Thread& self, uint64_t msg_va, Thread** caller_out, Status* caller_status, bool* fast) {
    Thread* caller = self.ipc.reply_to;
    if (!caller)
        return ANVIL_ERR_BAD_STATE;
    SendView view;
    TRY(read_send(self, msg_va, &view));
    const Outcome o = transfer(nullptr, 0, self, msg_va, *caller, caller->ipc.reply_va, &view);
    self.ipc.reply_to = nullptr;
    caller->ipc.replier = nullptr;
    *caller_out = caller;
    *caller_status = o.receiver;  // a bad reply buffer fails the caller only
    *fast = fast_message(view.msg);
    return ANVIL_OK;
}

}  // namespace

Status ipc_reply(Thread& self, uint64_t msg_va) {
    Thread* caller = nullptr;
    Status caller_status = ANVIL_OK;
    bool fast = false;
    TRY(reply_transfer(self, msg_va, &caller, &caller_status, &fast));
    wake(caller, caller_status, 0);
    return ANVIL_OK;
}

Status ipc_reply_recv(Thread& self, Endpoint* ep, uint64_t reply_va, uint64_t recv_va, uint64_t* badge) {
    Thread* caller = nullptr;
    Status caller_status = ANVIL_OK;
    bool fast = false;
    if (ipc_reply_pending(self))
        TRY(reply_transfer(self, reply_va, &caller, &caller_status, &fast));
    const Status received = ipc_recv(self, ep, recv_va, true, badge);
    // The caller is woken after the receive so that, when the server blocked,
    // the fast path can give it the server's CPU.
    if (caller)
        wake(caller, caller_status, 0, fast && self.state() == ThreadState::kBlocked ? self.cpu() : kNoCpu);
    return received;
}

void ipc_set_fastpath(bool on) { g_fastpath = on; }
bool ipc_fastpath_enabled() { return g_fastpath; }
uint64_t ipc_fastpath_count() { return g_fastpath_count; }

void notify_signal(Notification* n, uint64_t bits) {
    if (n->waiters().empty() && hal::test_hook(hal::TestHook::kLostSignal))
        return;
    n->bits |= bits;
    if (Thread* waiter = n->waiters().pop_front()) {
        const uint64_t got = n->bits;
        n->bits = 0;
        wake(waiter, ANVIL_OK, got);
    }
}

Status notify_wait(Thread& self, Notification* n, uint64_t* bits) {
    if (n->bits) {
        *bits = n->bits;
        n->bits = 0;
        return ANVIL_OK;
    }
    block(self, IpcWait::kNotify, n, &n->waiters());
    return ANVIL_OK;
}

void ipc_abort_wait(Thread* t) {
    if (auto* q = queue_of(t))
        q->remove(t);
    if (t->ipc.wait == IpcWait::kReply && t->ipc.replier) {
        t->ipc.replier->ipc.reply_to = nullptr;
        t->ipc.replier = nullptr;
    }
    t->ipc.wait = IpcWait::kNone;
    t->ipc.object = nullptr;
}

void ipc_release_callers(Thread* t) { abandon_reply(*t); }

void ipc_close_waiter(Thread* t) {
    if (auto* q = queue_of(t))
        q->remove(t);
    if (t->ipc.wait == IpcWait::kFaultMsg) {
        t->ipc.wait = IpcWait::kNone;  // a dead thread's message: nobody to tell
        t->ipc.object = nullptr;
        return;
    }
    wake(t, ANVIL_ERR_PEER_CLOSED, 0);
}

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
    t->ipc.wait = IpcWait::kFaultMsg;
    while (Thread* receiver = ep->receivers().front()) {
        const Outcome o = transfer(ep, t->ipc.badge, *t, 0, *receiver, receiver->ipc.msg_va);
        ep->receivers().remove(receiver);
        if (o.receiver != ANVIL_OK) {
            wake(receiver, o.receiver, 0);
            continue;
        }
        wake(receiver, ANVIL_OK, t->ipc.badge);
        t->ipc.wait = IpcWait::kNone;
        return;
    }
    t->ipc.object = ep;
    ep->senders().push_back(t);
}

}  // namespace kernel
