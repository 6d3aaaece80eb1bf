#include "kernel/sched/scheduler.h"

#include "kernel/trace/trace.h"

#include <hal/hal.h>

namespace kernel {

namespace {
Scheduler g_scheduler;
}

Scheduler& scheduler() { return g_scheduler; }

void RunQueue::push_back(Thread* t) {
    const uint32_t p = t->priority();
    queues_[p].push_back(t);
    bitmap_[p / 64] |= uint64_t(1) << (p % 64);
    ++count_;
}

void RunQueue::push_front(Thread* t) {
    const uint32_t p = t->priority();
    queues_[p].push_front(t);
    bitmap_[p / 64] |= uint64_t(1) << (p % 64);
    ++count_;
}

int RunQueue::top_priority() const {
    for (int word = 3; word >= 0; --word)
        if (bitmap_[word])
            return word * 64 + 63 - __builtin_clzll(bitmap_[word]);
    return -1;
}

Thread* RunQueue::pop_highest() {
    const int p = top_priority();
    if (p < 0)
        return nullptr;
    Thread* t = queues_[p].pop_front();
    if (queues_[p].empty())
        bitmap_[p / 64] &= ~(uint64_t(1) << (p % 64));
    --count_;
    return t;
}

Thread* RunQueue::pop_highest_for(uint32_t cpu) {
    for (int p = top_priority(); p >= 0; --p) {
        for (Thread* t = queues_[p].front(); t; t = queues_[p].next(t)) {
            if (t->affinity() == ANVIL_CPU_ANY || t->affinity() == cpu) {
                remove(t);
                return t;
            }
        }
    }
    return nullptr;
}

void RunQueue::remove(Thread* t) {
    const uint32_t p = t->priority();
    queues_[p].remove(t);
    if (queues_[p].empty())
        bitmap_[p / 64] &= ~(uint64_t(1) << (p % 64));
    --count_;
}

void Scheduler::init(uint32_t cpu_count) {
    cpu_count_ = cpu_count == 0 ? 1 : (cpu_count > kMaxCpus ? kMaxCpus : cpu_count);
}

void Scheduler::make_runnable(Thread* t) {
    uint32_t cpu = t->affinity();
    if (cpu == ANVIL_CPU_ANY || cpu >= cpu_count_) {
        cpu = t->cpu() < cpu_count_ ? t->cpu() : 0;
        // Push balancing: a busy last CPU hands the thread to the lowest idle one.
        if (!is_idle(cpu)) {
            for (uint32_t other = 0; other < cpu_count_; ++other) {
                if (is_idle(other)) {
                    cpu = other;
                    break;
                }
            }
        }
    }
    t->set_cpu(cpu);
    t->set_state(ThreadState::kRunnable);
    queues_[cpu].push_back(t);
    if (cpu != hal::cpu_id())
        hal::cpu_wake(cpu);
}

Thread* Scheduler::steal(uint32_t cpu) {
    // Pull balancing: scan the other CPUs in a fixed order (deterministic).
    for (uint32_t i = 1; i < cpu_count_; ++i) {
        const uint32_t victim = (cpu + i) % cpu_count_;
        if (Thread* t = queues_[victim].pop_highest_for(cpu)) {
            ++steals_;
            trace_event(trace::Kind::k_steal, cpu, victim, t->id());
            return t;
        }
    }
    return nullptr;
}

void Scheduler::deschedule(Thread* t, ThreadState state) {
    if (t->state() == ThreadState::kRunnable)
        queues_[t->cpu()].remove(t);
    for (uint32_t cpu = 0; cpu < cpu_count_; ++cpu) {
        if (current_[cpu] == t) {
            current_[cpu] = nullptr;
            // That CPU is still running the thread in user mode: make it re-enter.
            if (cpu != hal::cpu_id())
                hal::cpu_wake(cpu);
        }
    }
    t->set_state(state);
}

bool Scheduler::handoff(uint32_t cpu, Thread* t) {
    const uint32_t affinity = t->affinity();
    if (current_[cpu] || (affinity < cpu_count_ && affinity != cpu))
        return false;
    if (queues_[cpu].top_priority() > static_cast<int>(t->priority()))
        return false;
    current_[cpu] = t;
    t->set_state(ThreadState::kRunning);
    t->set_cpu(cpu);
    return true;
}

void Scheduler::yield(uint32_t cpu) {
    Thread* t = current_[cpu];
    if (!t)
        return;
    current_[cpu] = nullptr;
    t->set_state(ThreadState::kRunnable);
    queues_[cpu].push_back(t);
}

void Scheduler::rotate(uint32_t cpu) {
    Thread* t = current_[cpu];
    if (t && queues_[cpu].top_priority() >= static_cast<int>(t->priority()))
        yield(cpu);
}

Thread* Scheduler::pick(uint32_t cpu) {
    Thread* cur = current_[cpu];
    if (cur && cur->state() == ThreadState::kRunning) {
        // Strict priority: a better thread that became runnable here takes over.
        if (queues_[cpu].top_priority() <= static_cast<int>(cur->priority()))
            return cur;
        cur->set_state(ThreadState::kRunnable);
        queues_[cpu].push_front(cur);
    }
    Thread* next = queues_[cpu].pop_highest_for(cpu);
    if (!next)
        next = steal(cpu);
    current_[cpu] = next;
    if (next) {
        next->set_state(ThreadState::kRunning);
        next->set_cpu(cpu);
    }
    return next;
}

}  // namespace kernel
