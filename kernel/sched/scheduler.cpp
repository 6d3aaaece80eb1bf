#include "kernel/sched/scheduler.h"

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
    if (cpu == ANVIL_CPU_ANY || cpu >= cpu_count_)
        cpu = t->cpu() < cpu_count_ ? t->cpu() : 0;
    t->set_cpu(cpu);
    t->set_state(ThreadState::kRunnable);
    queues_[cpu].push_back(t);
}

void Scheduler::deschedule(Thread* t, ThreadState state) {
    if (t->state() == ThreadState::kRunnable)
        queues_[t->cpu()].remove(t);
    for (uint32_t cpu = 0; cpu < cpu_count_; ++cpu)
        if (current_[cpu] == t)
            current_[cpu] = nullptr;
    t->set_state(state);
}

void Scheduler::yield(uint32_t cpu) {
    Thread* t = current_[cpu];
    if (!t)
        return;
    current_[cpu] = nullptr;
    t->set_state(ThreadState::kRunnable);
    queues_[cpu].push_back(t);
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
    Thread* next = queues_[cpu].pop_highest();
    current_[cpu] = next;
    if (next) {
        next->set_state(ThreadState::kRunning);
        next->set_cpu(cpu);
    }
    return next;
}

}  // namespace kernel
