#include "kernel/sched/timeout.h"

#include "kernel/object/endpoint.h"

namespace kernel {

namespace {

uint64_t g_ticks = 0;
// Ordered by deadline; equal deadlines in arming order, so wake-ups are FIFO.
DeadlineList g_waiters;

}  // namespace

uint64_t clock_ticks() { return g_ticks; }

DeadlineList& deadline_waiters() { return g_waiters; }

void deadline_arm(Thread& t, uint64_t ticks) {
    // A deadline past 2^64 ticks never comes: saturate rather than wrap.
    t.deadline = ticks > ~0ull - g_ticks ? ~0ull : g_ticks + ticks;
    Thread* pos = g_waiters.front();
    while (pos && pos->deadline <= t.deadline)
        pos = g_waiters.next(pos);
    g_waiters.insert_before_item(pos, &t);
}

void deadline_cancel(Thread& t) {
    if (t.deadline_link.linked())
        g_waiters.remove(&t);
    t.deadline = 0;
}

void clock_tick() {
    ++g_ticks;
    while (Thread* t = g_waiters.front()) {
        if (t->deadline > g_ticks)
            break;
        ipc_abort_wait(t);  // off the notification's queue, and off this list
        ipc_wake(t, ANVIL_ERR_TIMED_OUT, 0);
    }
}

uint64_t next_deadline_in() {
    Thread* t = g_waiters.front();
    if (!t)
        return 0;
    return t->deadline > g_ticks ? t->deadline - g_ticks : 1;
}

}  // namespace kernel
