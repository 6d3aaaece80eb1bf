#include "kernel/check/invariants.h"

#include "kernel/cap/cap.h"
#include "kernel/lib/format.h"
#include "kernel/lib/string.h"
#include "kernel/object/cnode.h"
#include "kernel/object/device.h"
#include "kernel/object/endpoint.h"
#include "kernel/object/notification.h"
#include "kernel/object/thread.h"
#include "kernel/object/vmo.h"
#include "kernel/object/vspace.h"
#include "kernel/sched/scheduler.h"
#include "kernel/sched/timeout.h"
#include "kernel/vm/frame_alloc.h"

namespace kernel {

namespace {

unsigned long long g_checks = 0;

// Where a violation is described; the first one wins.
struct Report {
    char* why;
    size_t size;
    bool ok = true;

    bool fail(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
        if (ok) {
            va_list ap;
            va_start(ap, fmt);
            vformat(why, size, fmt, ap);
            va_end(ap);
            ok = false;
        }
        return false;
    }
};

unsigned long long id_of(const KObject* o) { return o ? static_cast<unsigned long long>(o->id()) : 0ull; }

bool check_cap(Report& r, CNode* cn, uint32_t index, Cap* c) {
    const unsigned long long cid = id_of(cn);
    if (c->cnode != cn || c->index != index)
        return r.fail("cap in cnode %llu slot %u says it lives in cnode %llu slot %u", cid, index, id_of(c->cnode),
                      c->index);
    if (c->empty()) {
        if (c->parent || c->first_child || c->next_sibling || c->prev_sibling)
            return r.fail("empty slot %u of cnode %llu has derivation links", index, cid);
        return true;
    }
    // A CNode's caps to itself take no reference (cap.cpp: it would keep itself alive).
    if (c->object != cn)
        c->object->check_refs++;
    if (c->object->type() == ANVIL_OBJ_ENDPOINT && c->has(ANVIL_RIGHT_READ))
        static_cast<Endpoint*>(c->object)->check_receive_caps++;
    if ((c->rights & ~rights_for_type(c->object->type())) != 0)
        return r.fail("cap in cnode %llu slot %u has rights 0x%x a %s cap cannot have", cid, index, c->rights,
                      object_type_name(c->object->type()));
    if (Cap* p = c->parent) {
        if (p->empty())
            return r.fail("cap in cnode %llu slot %u has an empty parent", cid, index);
        if (p->object != c->object)
            return r.fail("cap in cnode %llu slot %u names object %llu, its parent object %llu", cid, index,
                          id_of(c->object), id_of(p->object));
        if ((c->rights & ~p->rights) != 0)
            return r.fail("cap in cnode %llu slot %u has rights 0x%x beyond its parent's 0x%x", cid, index, c->rights,
                          p->rights);
        if (p->badge != 0 && c->badge != p->badge)
            return r.fail("cap in cnode %llu slot %u has badge 0x%llx, its badged parent 0x%llx", cid, index,
                          static_cast<unsigned long long>(c->badge), static_cast<unsigned long long>(p->badge));
        bool found = false;
        for (Cap* s = p->first_child; s && !found; s = s->next_sibling)
            found = s == c;
        if (!found)
            return r.fail("cap in cnode %llu slot %u is not among its parent's children", cid, index);
    }
    if (c->first_child && c->first_child->prev_sibling)
        return r.fail("first child of cap in cnode %llu slot %u has a previous sibling", cid, index);
    for (Cap* s = c->first_child; s; s = s->next_sibling) {
        if (s->parent != c)
            return r.fail("a child of cap in cnode %llu slot %u names another parent", cid, index);
        if (s->next_sibling && s->next_sibling->prev_sibling != s)
            return r.fail("sibling links broken below cap in cnode %llu slot %u", cid, index);
    }
    return true;
}

bool check_vspace(Report& r, VSpace* vs) {
    uint64_t end = 0;
    for (Mapping* m = vs->mappings().front(); m; m = vs->mappings().next(m)) {
        m->vmo->check_refs++;
        const unsigned long long id = id_of(vs);
        const unsigned long long va = m->va;
        if (!is_aligned(m->va, hal::kPageSize) || !is_aligned(m->len, hal::kPageSize) ||
            !is_aligned(m->offset, hal::kPageSize) || m->len == 0)
            return r.fail("vspace %llu: mapping at 0x%llx is not page-aligned", id, va);
        if (m->va < ANVIL_USER_BASE || m->va >= ANVIL_USER_LIMIT || m->len > ANVIL_USER_LIMIT - m->va)
            return r.fail("vspace %llu: mapping at 0x%llx leaves the user range", id, va);
        if (m->va < end)
            return r.fail("vspace %llu: mapping at 0x%llx overlaps or is out of order", id, va);
        if (m->offset > m->vmo->size() || m->len > m->vmo->size() - m->offset)
            return r.fail("vspace %llu: mapping at 0x%llx runs past its vmo %llu", id, va, id_of(m->vmo));
        if ((m->perms & ~(ANVIL_PERM_R | ANVIL_PERM_W | ANVIL_PERM_X)) || !(m->perms & ANVIL_PERM_R) ||
            ((m->perms & ANVIL_PERM_W) && (m->perms & ANVIL_PERM_X)))
            return r.fail("vspace %llu: mapping at 0x%llx has permissions 0x%x", id, va, m->perms);
        end = m->va + m->len;
    }
    return true;
}

bool check_vmo(Report& r, Vmo* vmo) {
    for (size_t i = 0; i < vmo->page_count(); ++i)
        if (!frames().is_allocated(vmo->page(i)))
            return r.fail("vmo %llu page %zu is frame 0x%llx, which the allocator counts as free", id_of(vmo), i,
                          static_cast<unsigned long long>(vmo->page(i)));
    return true;
}

bool on_list(List<Thread, &Thread::run_link>& list, Thread* t) {
    for (Thread* q = list.front(); q; q = list.next(q))
        if (q == t)
            return true;
    return false;
}

bool check_thread(Report& r, Thread* t) {
    if (t->cnode())
        t->cnode()->check_refs++;
    if (t->vspace())
        t->vspace()->check_refs++;
    if (t->fault_endpoint())
        t->fault_endpoint()->check_refs++;
    const unsigned long long id = id_of(t);
    Scheduler& s = scheduler();
    bool current = false;
    for (uint32_t cpu = 0; cpu < s.cpu_count(); ++cpu)
        if (s.current(cpu) == t) {
            if (current)
                return r.fail("thread %llu is current on two CPUs", id);
            current = true;
        }
    const bool linked = t->run_link.linked();
    switch (t->state()) {
    case ThreadState::kRunning:
        if (!current || s.current(t->cpu()) != t)
            return r.fail("thread %llu is running but not current on its cpu %u", id, t->cpu());
        if (linked)
            return r.fail("running thread %llu is on a queue", id);
        break;
    case ThreadState::kRunnable:
        if (current)
            return r.fail("runnable thread %llu is also current", id);
        if (t->cpu() >= s.cpu_count() || !on_list(s.queue(t->cpu()).at(t->priority()), t))
            return r.fail("runnable thread %llu is not on cpu %u's queue at priority %u", id, t->cpu(),
                          t->priority());
        break;
    case ThreadState::kBlocked: {
        if (current)
            return r.fail("blocked thread %llu is current", id);
        auto* q = ipc_wait_queue(t);
        if (t->ipc.wait == IpcWait::kNone)
            return r.fail("thread %llu is blocked on nothing", id);
        if (q && !on_list(*q, t))
            return r.fail("blocked thread %llu is not on the queue of object %llu", id, id_of(t->ipc.object));
        if (!q && linked)
            return r.fail("thread %llu waiting for a reply is on a queue", id);
        break;
    }
    default:
        // Inactive, suspended, exited, faulted: on no queue, except a dead
        // thread's undelivered fault message waiting on its endpoint.
        if (current)
            return r.fail("thread %llu in state %s is current", id, thread_state_name(t->state()));
        if (linked && !(t->ipc.wait == IpcWait::kFaultMsg && on_list(*ipc_wait_queue(t), t)))
            return r.fail("thread %llu in state %s is on a queue", id, thread_state_name(t->state()));
        break;
    }
    if (t->deadline_link.linked() != (t->deadline != 0))
        return r.fail("thread %llu has deadline %llu but is %son the deadline list", id,
                      static_cast<unsigned long long>(t->deadline), t->deadline_link.linked() ? "" : "not ");
    if (t->deadline && !(t->state() == ThreadState::kBlocked && t->ipc.wait == IpcWait::kNotify))
        return r.fail("thread %llu is on the deadline list but not blocked in a notification wait", id);
    if (Thread* c = t->ipc.reply_to; c && c->ipc.replier != t)
        return r.fail("thread %llu owes thread %llu a reply that does not wait for it", id, id_of(c));
    if (Thread* p = t->ipc.replier; p && p->ipc.reply_to != t)
        return r.fail("thread %llu waits for a reply from thread %llu, which does not owe it", id, id_of(p));
    return true;
}

// Run after every cap has been counted.
bool check_endpoint(Report& r, Endpoint* ep) {
    if (ep->receive_caps() != ep->check_receive_caps)
        return r.fail("endpoint %llu counts %u caps with READ but %u name it", id_of(ep), ep->receive_caps(),
                      ep->check_receive_caps);
    if (ep->closed() && !(ep->senders().empty() && ep->receivers().empty()))
        return r.fail("endpoint %llu is closed (no cap with READ) but threads wait on it", id_of(ep));
    return true;
}

bool check_run_queues(Report& r) {
    Scheduler& s = scheduler();
    for (uint32_t cpu = 0; cpu < s.cpu_count(); ++cpu) {
        RunQueue& q = s.queue(cpu);
        size_t total = 0;
        for (uint32_t p = 0; p <= Thread::kMaxPriority; ++p) {
            auto& list = q.at(p);
            if (list.empty() == q.marked(p))
                return r.fail("cpu %u run queue: bitmap and list disagree at priority %u", cpu, p);
            for (Thread* t = list.front(); t; t = list.next(t)) {
                ++total;
                if (t->state() != ThreadState::kRunnable || t->priority() != p || t->cpu() != cpu)
                    return r.fail("cpu %u run queue priority %u holds thread %llu (state %s, priority %u, cpu %u)",
                                  cpu, p, id_of(t), thread_state_name(t->state()), t->priority(), t->cpu());
            }
        }
        if (total != q.count())
            return r.fail("cpu %u run queue counts %zu threads, holds %zu", cpu, q.count(), total);
    }
    return true;
}

// The deadline list: nearest first, every deadline still to come (a tick wakes
// the threads whose deadline it reaches).
bool check_deadlines(Report& r) {
    DeadlineList& list = deadline_waiters();
    uint64_t last = 0;
    for (Thread* t = list.front(); t; t = list.next(t)) {
        if (t->deadline < last)
            return r.fail("the deadline list is out of order at thread %llu", id_of(t));
        if (t->deadline <= clock_ticks())
            return r.fail("thread %llu still waits past its deadline %llu (clock %llu)", id_of(t),
                          static_cast<unsigned long long>(t->deadline),
                          static_cast<unsigned long long>(clock_ticks()));
        last = t->deadline;
    }
    return true;
}

}  // namespace

bool check_invariants(char* why, size_t size) {
    ++g_checks;
    Report r{why, size};
    if (size)
        why[0] = '\0';
    for (KObject* o = KObject::first_live(); o; o = o->next_live()) {
        o->check_refs = 0;
        if (o->type() == ANVIL_OBJ_ENDPOINT)
            static_cast<Endpoint*>(o)->check_receive_caps = 0;
    }
    // Count every reference the kernel holds, checking each holder on the way.
    for (KObject* o = KObject::first_live(); o && r.ok; o = o->next_live()) {
        switch (o->type()) {
        case ANVIL_OBJ_CNODE: {
            auto* cn = static_cast<CNode*>(o);
            for (uint32_t i = 1; i < cn->size() && r.ok; ++i)
                check_cap(r, cn, i, cn->slot(i));
            break;
        }
        case ANVIL_OBJ_TCB: check_thread(r, static_cast<Thread*>(o)); break;
        case ANVIL_OBJ_VSPACE: check_vspace(r, static_cast<VSpace*>(o)); break;
        case ANVIL_OBJ_VMO: check_vmo(r, static_cast<Vmo*>(o)); break;
        case ANVIL_OBJ_IRQ:
            if (Notification* n = static_cast<Irq*>(o)->bound())
                n->check_refs++;
            break;
        default: break;
        }
    }
    for (KObject* o = KObject::first_live(); o && r.ok; o = o->next_live())
        if (o->refs() != o->check_refs)
            r.fail("%s %llu has %u references but %u caps and kernel references name it",
                   object_type_name(o->type()), id_of(o), o->refs(), o->check_refs);
    for (KObject* o = KObject::first_live(); o && r.ok; o = o->next_live())
        if (o->type() == ANVIL_OBJ_ENDPOINT)
            check_endpoint(r, static_cast<Endpoint*>(o));
    if (r.ok)
        check_run_queues(r);
    if (r.ok)
        check_deadlines(r);
    if (r.ok && frames().bitmap_free_count() != frames().free_count())
        r.fail("the frame allocator counts %zu free frames, its bitmap %zu", frames().free_count(),
               frames().bitmap_free_count());
    return r.ok;
}

unsigned long long invariant_checks() { return g_checks; }

}  // namespace kernel
