// The scheduler: strict priority with round-robin inside a priority, one run
// queue per CPU. A running thread is on no queue; `current(cpu)` names it.
#pragma once

#include "kernel/lib/list.h"
#include "kernel/object/thread.h"

#include <stdint.h>

namespace kernel {

constexpr uint32_t kMaxCpus = 16;

// Runnable threads of one CPU: a FIFO per priority plus a bitmap of non-empty ones.
class RunQueue {
public:
    void push_back(Thread* t);
    void push_front(Thread* t);
    // Highest-priority thread (oldest first within a priority), removed; or null.
    Thread* pop_highest();
    void remove(Thread* t);
    bool empty() const { return count_ == 0; }
    size_t count() const { return count_; }
    // Priority of the best waiting thread, or -1 if empty.
    int top_priority() const;
    // The best thread that may run on `cpu` (affinity), removed; or null.
    Thread* pop_highest_for(uint32_t cpu);
    // The queued threads of priority `p`, in order (for the invariant checker).
    List<Thread, &Thread::run_link>& at(uint32_t p) { return queues_[p]; }
    // Whether the bitmap says priority `p` is non-empty.
    bool marked(uint32_t p) const { return (bitmap_[p / 64] >> (p % 64)) & 1; }

private:
    List<Thread, &Thread::run_link> queues_[Thread::kMaxPriority + 1];
    uint64_t bitmap_[4] = {};
    size_t count_ = 0;
};

class Scheduler {
public:
    void init(uint32_t cpu_count);
    uint32_t cpu_count() const { return cpu_count_; }

    // Puts an inactive/blocked/suspended thread on a run queue: its affinity CPU,
    // else its last CPU unless that one is busy and another is idle. Wakes the
    // chosen CPU if it is not the caller's.
    void make_runnable(Thread* t);
    // Takes `t` off the CPU or run queue it is on, setting `state` (exit, fault,
    // suspend, block). Its CPU picks something else at the end of the entry.
    void deschedule(Thread* t, ThreadState state);
    // IPC's direct switch: `t` (blocked, being woken by the thread that just left
    // `cpu`) becomes `cpu`'s running thread at once instead of being queued. False,
    // with nothing changed, if `cpu` still has a current thread, `t`'s affinity
    // forbids `cpu`, or a better thread is queued there.
    bool handoff(uint32_t cpu, Thread* t);
    // The running thread of `cpu` goes to the back of its priority's queue.
    void yield(uint32_t cpu);
    // A timer tick's round-robin: the running thread of `cpu` yields if a thread
    // of its priority or better waits on `cpu`'s queue.
    void rotate(uint32_t cpu);

    Thread* current(uint32_t cpu) const { return current_[cpu]; }
    // Makes sure `cpu` has its best thread current, stealing from another CPU's
    // queue if its own is empty; null if it should idle.
    Thread* pick(uint32_t cpu);

    // True if `cpu` has nothing running and nothing queued.
    bool is_idle(uint32_t cpu) const { return current_[cpu] == nullptr && queues_[cpu].empty(); }
    // Threads taken from another CPU's queue so far.
    uint64_t steals() const { return steals_; }

    RunQueue& queue(uint32_t cpu) { return queues_[cpu]; }

private:
    // The best thread on another CPU's queue that may run on `cpu`, removed; or null.
    Thread* steal(uint32_t cpu);

    uint32_t cpu_count_ = 1;
    uint64_t steals_ = 0;
    Thread* current_[kMaxCpus] = {};
    RunQueue queues_[kMaxCpus];
};

Scheduler& scheduler();

}  // namespace kernel
