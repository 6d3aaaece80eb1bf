// Host tests of the scheduler (DESIGN.md: strict priority with round-robin inside a
// priority, per-CPU run queues, work stealing by idle CPUs respecting affinity, timer
// preemption): the RunQueue on its own, then the Scheduler with several CPUs, driven
// through its API, the thread calls (tcb_resume/suspend, thread_yield/exit) and the
// kernel entries the backends use (on_syscall, on_timer, on_fault, next_to_run).
//
// The harness machine has one CPU; tests that need more switch the scheduler to four
// with `SmpGuard` and back to one at the end. hal::cpu_id() is 0 and hal::cpu_wake is a
// no-op here, so "other CPUs" are only run queues and current slots we drive by hand.
#include "kernel/introspect.h"
#include "kernel_env.h"

#include <hal/kernel_entry.h>

#include <exception>
#include <string>
#include <vector>

using namespace anvil_test;
using kernel::RunQueue;
using kernel::Thread;
using kernel::ThreadState;

namespace {

constexpr uint32_t kAny = ANVIL_CPU_ANY;
constexpr uint32_t kCpus = 4;

kernel::Scheduler& sched() { return kernel::scheduler(); }

// A thread's name for readable failures; "-" for none.
std::string name_of(const Thread* t) { return t ? t->name() : "-"; }

// Names in the order the queue would hand them out. Non-destructive: the threads are
// put back in the same order (pop order is priority-major, FIFO within a priority).
std::vector<std::string> order(RunQueue& q) {
    std::vector<Thread*> all;
    while (Thread* t = q.pop_highest())
        all.push_back(t);
    std::vector<std::string> names;
    for (Thread* t : all) {
        names.push_back(t->name());
        q.push_back(t);
    }
    return names;
}

using Names = std::vector<std::string>;

size_t total_queued() {
    size_t n = 0;
    for (uint32_t cpu = 0; cpu < kernel::kMaxCpus; ++cpu)
        n += sched().queue(cpu).count();
    return n;
}

// True if any run queue or current slot still names `t`.
bool referenced(const Thread* t) {
    for (uint32_t cpu = 0; cpu < kernel::kMaxCpus; ++cpu)
        if (sched().current(cpu) == t)
            return true;
    return t->run_link.linked();
}

// Nothing queued and nothing current on any CPU.


// Threads outside any CNode, for RunQueue tests (never handed to the scheduler).
class LooseThreads {
public:
    Thread* make(const char* name, uint32_t priority, uint32_t affinity = kAny) {
        kernel_env();
        auto r = Thread::create();
        REQUIRE(r.ok());
        Thread* t = r.value();
        t->retain();
        t->set_name(name);
        t->set_priority(priority);
        t->set_affinity(affinity);
        threads_.push_back(t);
        return t;
    }
    ~LooseThreads() {
        for (Thread* t : threads_)
            t->release();
    }

private:
    std::vector<Thread*> threads_;
};

// A thread of `p` (made with tcb_create + tcb_configure in p's CNode and VSpace),
// inactive, with its cap slot.
struct Tcb {
    uint32_t slot;
    Thread* t;
    Thread* operator->() const { return t; }
};

Tcb spawn(TestProcess& p, const char* name, uint32_t priority, uint32_t cpu = kAny) {
    const uint32_t slot = p.new_tcb();
    REQUIRE(p.sys(ANVIL_SYS_tcb_configure, slot, kSelfCNode, kSelfVSpace, 0, priority, cpu, 0).status == kOk);
    Thread* t = p.object<Thread>(slot);
    t->set_name(name);
    return {slot, t};
}

Code resume(TestProcess& p, const Tcb& t) { return p.sys(ANVIL_SYS_tcb_resume, t.slot).status; }
Code suspend(TestProcess& p, const Tcb& t) { return p.sys(ANVIL_SYS_tcb_suspend, t.slot).status; }

// Resumes an unpinned thread as if it last ran on `cpu` (which must be idle, so it is
// queued there).
void resume_on(TestProcess& p, const Tcb& t, uint32_t cpu) {
    REQUIRE(sched().is_idle(cpu));
    t->set_cpu(cpu);
    REQUIRE(resume(p, t) == kOk);
    REQUIRE(t->cpu() == cpu);
}

// Frees CPU 0: the harness makes the process's thread current there. It can still
// make calls through TestProcess::sys (the harness dispatches them directly).
void park_caller(TestProcess& p) {
    sched().deschedule(p.thread(), ThreadState::kSuspended);
    REQUIRE(sched().current(0) == nullptr);
}

// What `cpu` runs after a kernel entry, through the backend's next_to_run; "idle"
// when nothing. Checks the Resume matches the current thread.
std::string run_next(uint32_t cpu) {
    kernel::Resume r{};
    const bool run = kernel::next_to_run(cpu, &r);
    Thread* cur = sched().current(cpu);
    if (!run) {
        CHECK(cur == nullptr);
        return "idle";
    }
    REQUIRE(cur != nullptr);
    CHECK(r.regs == &cur->regs());
    CHECK(r.thread_id == cur->id());
    CHECK(cur->state() == ThreadState::kRunning);
    CHECK(cur->cpu() == cpu);
    return cur->name();
}

// The current thread of `cpu` makes syscall `nr` through the kernel's syscall entry.
Code syscall_on(uint32_t cpu, uint64_t nr, U64s args = {}) {
    Thread* t = sched().current(cpu);
    REQUIRE(t != nullptr);
    hal::UserRegs& r = t->regs();
    load_syscall(r, nr, args);
    kernel::on_syscall(cpu);
    return Code{static_cast<int>(static_cast<int64_t>(r.rax))};
}

}  // namespace

// ---- RunQueue ------------------------------------------------------------------------

TEST_CASE("RunQueue: an empty queue gives nothing, and one thread in gives one out") {
    LooseThreads pool;
    RunQueue q;
    CHECK(q.empty());
    CHECK(q.count() == 0);
    CHECK(q.top_priority() == -1);
    CHECK(q.pop_highest() == nullptr);
    CHECK(q.pop_highest_for(0) == nullptr);
    CHECK(q.pop_highest_for(3) == nullptr);

    for (uint32_t prio : {0u, 63u, 64u, 255u}) {
        CAPTURE(prio);
        Thread* t = pool.make("t", prio);
        q.push_back(t);
        CHECK(!q.empty());
        CHECK(q.count() == 1);
        CHECK(q.top_priority() == static_cast<int>(prio));
        CHECK(t->run_link.linked());
        CHECK(q.pop_highest() == t);
        CHECK(!t->run_link.linked());
        CHECK(q.empty());
        CHECK(q.count() == 0);
        CHECK(q.top_priority() == -1);
        CHECK(q.pop_highest() == nullptr);
    }
}

TEST_CASE("RunQueue: pop_highest is strict priority order over all 256 levels") {
    LooseThreads pool;
    RunQueue q;
    // Every priority once, pushed in a scrambled order (97 is odd: a permutation).
    for (uint32_t i = 0; i < 256; ++i)
        q.push_back(pool.make("t", (i * 97 + 31) % 256));
    CHECK(q.count() == 256);
    for (int expect = 255; expect >= 0; --expect) {
        CAPTURE(expect);
        REQUIRE(q.top_priority() == expect);
        Thread* t = q.pop_highest();
        REQUIRE(t != nullptr);
        CHECK(static_cast<int>(t->priority()) == expect);
        CHECK(q.count() == static_cast<size_t>(expect));
    }
    CHECK(q.empty());
    CHECK(q.top_priority() == -1);
}

TEST_CASE("RunQueue: FIFO within a priority, and push_front goes first in its own priority only") {
    LooseThreads pool;
    RunQueue q;
    Thread* a1 = pool.make("a1", 10);
    Thread* a2 = pool.make("a2", 10);
    Thread* a3 = pool.make("a3", 10);
    Thread* b1 = pool.make("b1", 20);
    Thread* b2 = pool.make("b2", 20);
    Thread* z = pool.make("z", 5);
    for (Thread* t : {a1, b1, a2, b2, a3})
        q.push_back(t);
    CHECK(order(q) == Names{"b1", "b2", "a1", "a2", "a3"});
    CHECK(q.count() == 5);

    // The oldest taken out and put back at the front: no change.
    Thread* first = q.pop_highest();
    CHECK(first == b1);
    q.push_front(first);
    CHECK(order(q) == Names{"b1", "b2", "a1", "a2", "a3"});

    // a3 (the newest at 10) jumps ahead of a1 and a2, but not ahead of priority 20.
    q.remove(a3);
    q.push_front(a3);
    CHECK(order(q) == Names{"b1", "b2", "a3", "a1", "a2"});
    // push_front onto an empty level makes it a level like any other.
    q.push_front(z);
    CHECK(order(q) == Names{"b1", "b2", "a3", "a1", "a2", "z"});
    CHECK(q.count() == 6);

    Names popped;
    while (Thread* t = q.pop_highest())
        popped.push_back(t->name());
    CHECK(popped == Names{"b1", "b2", "a3", "a1", "a2", "z"});
    CHECK(q.empty());
}

TEST_CASE("RunQueue: remove from the head, middle and tail, and a level's bit clears when it empties") {
    LooseThreads pool;
    RunQueue q;
    Thread* a = pool.make("a", 30);
    Thread* b = pool.make("b", 30);
    Thread* c = pool.make("c", 30);
    Thread* d = pool.make("d", 30);
    Thread* e = pool.make("e", 30);
    Thread* x = pool.make("x", 200);  // alone at its level (bitmap word 3)
    Thread* y = pool.make("y", 10);
    for (Thread* t : {a, x, b, c, y, d, e})
        q.push_back(t);
    CHECK(q.count() == 7);
    CHECK(q.top_priority() == 200);

    q.remove(c);  // middle
    CHECK(!c->run_link.linked());
    CHECK(q.count() == 6);
    CHECK(order(q) == Names{"x", "a", "b", "d", "e", "y"});
    q.remove(a);  // head
    q.remove(e);  // tail
    CHECK(order(q) == Names{"x", "b", "d", "y"});
    CHECK(q.count() == 4);

    q.remove(x);  // the only one at 200
    CHECK(q.top_priority() == 30);
    q.remove(b);
    CHECK(q.top_priority() == 30);  // d is still there
    q.remove(d);
    CHECK(q.top_priority() == 10);
    CHECK(q.count() == 1);

    // A removed thread can be queued again, at the back.
    q.push_back(c);
    q.push_back(a);
    CHECK(order(q) == Names{"c", "a", "y"});
    q.remove(y);
    q.remove(c);
    q.remove(a);
    CHECK(q.empty());
    CHECK(q.count() == 0);
    CHECK(q.top_priority() == -1);
    CHECK(q.pop_highest() == nullptr);
}

TEST_CASE("RunQueue: pop_highest_for takes the best thread allowed on that CPU") {
    LooseThreads pool;
    RunQueue q;
    Thread* p1 = pool.make("p1", 200, 1);
    Thread* p2 = pool.make("p2", 200, 2);
    Thread* any1 = pool.make("any1", 100);
    Thread* c2 = pool.make("c2", 150, 2);
    Thread* any2 = pool.make("any2", 100);
    for (Thread* t : {p1, p2, any1, c2, any2})
        q.push_back(t);

    // CPU 3: nothing is pinned to it; only the unpinned ones, oldest first.
    CHECK(name_of(q.pop_highest_for(3)) == "any1");
    CHECK(name_of(q.pop_highest_for(3)) == "any2");
    CHECK(q.pop_highest_for(3) == nullptr);
    CHECK(q.count() == 3);
    CHECK(q.top_priority() == 200);

    // CPU 2: p2 though p1 is older at the same priority; then c2 below it.
    CHECK(name_of(q.pop_highest_for(2)) == "p2");
    CHECK(q.top_priority() == 200);
    CHECK(name_of(q.pop_highest_for(2)) == "c2");
    CHECK(q.pop_highest_for(2) == nullptr);
    CHECK(q.pop_highest_for(0) == nullptr);
    CHECK(q.count() == 1);
    CHECK(name_of(q.pop_highest_for(1)) == "p1");
    CHECK(q.empty());
    CHECK(q.top_priority() == -1);

    // Pinned-here and unpinned threads of one priority: FIFO between them.
    Thread* x1 = pool.make("x1", 50, 1);
    Thread* y = pool.make("y", 50);
    Thread* x2 = pool.make("x2", 50, 1);
    for (Thread* t : {x1, y, x2})
        q.push_back(t);
    CHECK(name_of(q.pop_highest_for(0)) == "y");
    q.push_back(y);
    CHECK(name_of(q.pop_highest_for(1)) == "x1");
    CHECK(name_of(q.pop_highest_for(1)) == "x2");
    CHECK(name_of(q.pop_highest_for(1)) == "y");
    CHECK(q.empty());

    // Priority 0 is a level like the others.
    Thread* zero = pool.make("zero", 0);
    Thread* zero1 = pool.make("zero1", 0, 1);
    q.push_back(zero1);
    q.push_back(zero);
    CHECK(q.top_priority() == 0);
    CHECK(name_of(q.pop_highest_for(2)) == "zero");
    CHECK(q.pop_highest_for(2) == nullptr);
    CHECK(name_of(q.pop_highest_for(1)) == "zero1");
    CHECK(q.empty());
}

// ---- Placement: make_runnable -------------------------------------------------------

TEST_CASE("Scheduler: make_runnable puts a pinned thread on its affinity CPU, busy or not") {
    SmpGuard smp(kCpus);
    TestProcess p(255);  // current on CPU 0
    Tcb on3 = spawn(p, "on3", 50, 3);
    Tcb on0 = spawn(p, "on0", 50, 0);
    Tcb on1 = spawn(p, "on1", 50, 1);

    // CPU 1 and 2 are idle and lower, CPU 0 is busy: neither matters to a pinned thread.
    REQUIRE(resume(p, on3) == kOk);
    CHECK(on3->cpu() == 3);
    CHECK(on3->state() == ThreadState::kRunnable);
    CHECK(sched().queue(3).count() == 1);
    REQUIRE(resume(p, on0) == kOk);
    CHECK(on0->cpu() == 0);
    CHECK(sched().queue(0).count() == 1);
    CHECK(sched().current(0) == p.thread());
    REQUIRE(resume(p, on1) == kOk);
    CHECK(on1->cpu() == 1);
    CHECK(sched().queue(1).count() == 1);
    CHECK(sched().queue(2).empty());

    // Re-pinning a suspended thread moves it: it had landed on the lowest idle CPU (2).
    Tcb moved = spawn(p, "moved", 50);
    REQUIRE(resume(p, moved) == kOk);
    CHECK(moved->cpu() == 2);
    REQUIRE(suspend(p, moved) == kOk);
    REQUIRE(p.sys(ANVIL_SYS_tcb_configure, moved.slot, kSelfCNode, kSelfVSpace, 0, 50, 1, 0).status == kOk);
    REQUIRE(resume(p, moved) == kOk);
    CHECK(moved->cpu() == 1);
    CHECK(order(sched().queue(1)) == Names{"on1", "moved"});
    CHECK(sched().queue(2).empty());
    CHECK(total_queued() == 4);
}

TEST_CASE("Scheduler: an unpinned thread goes to its last CPU if idle, else to the lowest idle CPU") {
    SmpGuard smp(kCpus);
    TestProcess p(255);  // current on CPU 0
    Tcb a = spawn(p, "a", 50);
    Tcb b = spawn(p, "b", 50);
    Tcb c = spawn(p, "c", 50);
    Tcb d = spawn(p, "d", 50);
    REQUIRE(a->cpu() == 0);  // never ran: CPU 0 counts as its last

    // CPU 0 is running the caller: the lowest idle CPU each time.
    REQUIRE(resume(p, a) == kOk);
    CHECK(a->cpu() == 1);
    REQUIRE(resume(p, b) == kOk);
    CHECK(b->cpu() == 2);
    REQUIRE(resume(p, c) == kOk);
    CHECK(c->cpu() == 3);
    // A queued thread makes a CPU busy too; with no idle CPU left, d stays on CPU 0.
    REQUIRE(resume(p, d) == kOk);
    CHECK(d->cpu() == 0);
    for (uint32_t cpu = 0; cpu < kCpus; ++cpu)
        CHECK(sched().queue(cpu).count() == 1);

    for (const Tcb& t : {a, b, c, d})
        REQUIRE(suspend(p, t) == kOk);
    CHECK(total_queued() == 0);

    // e runs on CPU 3 (stolen there from CPU 1), so CPU 3 becomes its last CPU.
    Tcb e = spawn(p, "e", 50);
    REQUIRE(resume(p, e) == kOk);
    REQUIRE(e->cpu() == 1);
    CHECK(run_next(3) == "e");
    CHECK(e->cpu() == 3);
    REQUIRE(suspend(p, e) == kOk);
    CHECK(sched().current(3) == nullptr);
    // CPU 3 is idle: e goes back there, not to the lower idle CPU 1.
    REQUIRE(resume(p, e) == kOk);
    CHECK(e->cpu() == 3);
    CHECK(sched().queue(3).count() == 1);

    // With the caller's CPU 0 idle, CPU 0 is the lowest idle CPU for a thread whose
    // last CPU (3, where e waits) is busy.
    park_caller(p);
    Tcb g = spawn(p, "g", 50);
    g->set_cpu(3);
    REQUIRE(resume(p, g) == kOk);
    CHECK(g->cpu() == 0);
    CHECK(order(sched().queue(3)) == Names{"e"});
    // And a thread last on an idle CPU stays there even when CPU 0 is idle too.
    REQUIRE(suspend(p, g) == kOk);
    Tcb f = spawn(p, "f", 50);
    f->set_cpu(2);
    REQUIRE(resume(p, f) == kOk);
    CHECK(f->cpu() == 2);
    CHECK(sched().queue(0).empty());
}

// ---- Work stealing ------------------------------------------------------------------

TEST_CASE("Scheduler: an idle CPU steals in the fixed victim order cpu+1, cpu+2, ... wrapping") {
    SmpGuard smp(kCpus);
    TestProcess p(255);
    park_caller(p);
    Tcb low = spawn(p, "low", 10);
    Tcb mid = spawn(p, "mid", 200);
    Tcb top = spawn(p, "top", 250);
    resume_on(p, low, 2);
    resume_on(p, mid, 3);
    resume_on(p, top, 0);
    const uint64_t steals = sched().steals();

    // CPU 1 looks at CPU 2 first, though CPU 3 and CPU 0 hold better threads.
    CHECK(run_next(1) == "low");
    CHECK(sched().steals() == steals + 1);
    CHECK(low->cpu() == 1);
    CHECK(sched().queue(2).empty());
    // Running, with an empty queue: keeps its thread, steals nothing.
    CHECK(run_next(1) == "low");
    CHECK(sched().steals() == steals + 1);

    REQUIRE(suspend(p, low) == kOk);
    CHECK(run_next(1) == "mid");  // CPU 2 is empty now: CPU 3
    CHECK(sched().steals() == steals + 2);
    REQUIRE(suspend(p, mid) == kOk);
    CHECK(run_next(1) == "top");  // wraps around to CPU 0
    CHECK(sched().steals() == steals + 3);
    CHECK(top->cpu() == 1);
    REQUIRE(suspend(p, top) == kOk);
    CHECK(run_next(1) == "idle");
    CHECK(sched().steals() == steals + 3);

    // From CPU 3 the order is 0, 1, 2.
    resume_on(p, low, 2);
    resume_on(p, mid, 1);
    CHECK(run_next(3) == "mid");
    CHECK(sched().steals() == steals + 4);
    // A CPU with its own queue takes from it and does not count a steal.
    resume_on(p, top, 0);
    CHECK(run_next(0) == "top");
    CHECK(run_next(2) == "low");
    CHECK(sched().steals() == steals + 4);
}

TEST_CASE("Scheduler: pick never steals a thread pinned to another CPU") {
    SmpGuard smp(kCpus);
    TestProcess p(255);
    park_caller(p);
    Tcb loose = spawn(p, "loose", 0);
    Tcb pin_a = spawn(p, "pin_a", 255, 2);
    Tcb pin_b = spawn(p, "pin_b", 200, 2);
    resume_on(p, loose, 2);  // first, while CPU 2 is still idle
    REQUIRE(resume(p, pin_a) == kOk);
    REQUIRE(resume(p, pin_b) == kOk);
    CHECK(order(sched().queue(2)) == Names{"pin_a", "pin_b", "loose"});
    const uint64_t steals = sched().steals();

    // The only thread another CPU may take is the worst one.
    CHECK(run_next(1) == "loose");
    CHECK(sched().steals() == steals + 1);
    CHECK(run_next(3) == "idle");
    CHECK(run_next(0) == "idle");
    CHECK(sched().steals() == steals + 1);
    CHECK(order(sched().queue(2)) == Names{"pin_a", "pin_b"});
    CHECK(pin_a->state() == ThreadState::kRunnable);
    CHECK(pin_a->cpu() == 2);

    CHECK(run_next(2) == "pin_a");
    CHECK(sched().steals() == steals + 1);

    // A thread pinned to CPU 3 is taken there from CPU 3's own queue (no steal).
    Tcb pin3 = spawn(p, "pin3", 100, 3);
    REQUIRE(resume(p, pin3) == kOk);
    CHECK(run_next(3) == "pin3");
    CHECK(sched().steals() == steals + 1);
}

// ---- Preemption, yield, timer ---------------------------------------------------------

TEST_CASE("Scheduler: a higher-priority thread preempts the running one, which goes to the front") {
    SmpGuard smp(kCpus);
    TestProcess p(255);  // stays current on CPU 0; the test runs on CPU 1
    Tcb l1 = spawn(p, "l1", 10, 1);
    Tcb l2 = spawn(p, "l2", 10, 1);
    Tcb eq = spawn(p, "eq", 10, 1);
    Tcb low = spawn(p, "low", 5, 1);
    Tcb hi = spawn(p, "hi", 20, 1);
    Tcb other = spawn(p, "other", 30, 2);
    REQUIRE(resume(p, l1) == kOk);
    REQUIRE(resume(p, l2) == kOk);
    CHECK(run_next(1) == "l1");

    // Equal and lower priorities wait their turn.
    REQUIRE(resume(p, eq) == kOk);
    CHECK(run_next(1) == "l1");
    REQUIRE(resume(p, low) == kOk);
    CHECK(run_next(1) == "l1");
    // A better thread on another CPU's queue is that CPU's business.
    REQUIRE(resume(p, other) == kOk);
    CHECK(run_next(1) == "l1");

    REQUIRE(resume(p, hi) == kOk);
    CHECK(run_next(1) == "hi");
    CHECK(l1->state() == ThreadState::kRunnable);
    // l1 keeps its place: ahead of l2 and eq, which were waiting before it was preempted.
    CHECK(order(sched().queue(1)) == Names{"l1", "l2", "eq", "low"});

    REQUIRE(suspend(p, hi) == kOk);
    CHECK(sched().current(1) == nullptr);
    CHECK(run_next(1) == "l1");
    CHECK(order(sched().queue(1)) == Names{"l2", "eq", "low"});
    CHECK(sched().current(0) == p.thread());
    CHECK(run_next(2) == "other");
}

TEST_CASE("Scheduler: thread_yield puts the caller at the back of its priority") {
    SmpGuard smp(1);
    TestProcess p(255);
    park_caller(p);
    Tcb a = spawn(p, "a", 10);
    Tcb b = spawn(p, "b", 10);
    Tcb c = spawn(p, "c", 10);
    Tcb low = spawn(p, "low", 5);
    for (const Tcb& t : {a, b, c, low})
        REQUIRE(resume(p, t) == kOk);
    CHECK(run_next(0) == "a");

    CHECK(syscall_on(0, ANVIL_SYS_thread_yield) == kOk);
    CHECK(sched().current(0) == nullptr);
    CHECK(a->state() == ThreadState::kRunnable);
    CHECK(order(sched().queue(0)) == Names{"b", "c", "a", "low"});
    CHECK(run_next(0) == "b");
    CHECK(syscall_on(0, ANVIL_SYS_thread_yield) == kOk);
    CHECK(run_next(0) == "c");
    CHECK(syscall_on(0, ANVIL_SYS_thread_yield) == kOk);
    CHECK(run_next(0) == "a");

    // Yielding to nothing but lower priorities gives the CPU straight back.
    REQUIRE(suspend(p, b) == kOk);
    REQUIRE(suspend(p, c) == kOk);
    for (int i = 0; i < 3; ++i) {
        CHECK(syscall_on(0, ANVIL_SYS_thread_yield) == kOk);
        CHECK(run_next(0) == "a");
    }
    CHECK(low->state() == ThreadState::kRunnable);

    // The scheduler call on an idle CPU does nothing.
    REQUIRE(suspend(p, a) == kOk);
    REQUIRE(suspend(p, low) == kOk);
    sched().yield(0);
    CHECK(sched().current(0) == nullptr);
    CHECK(total_queued() == 0);
}

TEST_CASE("Scheduler: on_timer round-robins one priority and never runs a lower one ahead") {
    SmpGuard smp(kCpus);
    TestProcess p(255);
    park_caller(p);
    Tcb a = spawn(p, "a", 10, 0);
    Tcb b = spawn(p, "b", 10, 0);
    Tcb c = spawn(p, "c", 10, 0);
    Tcb low = spawn(p, "low", 5, 0);
    Tcb hi = spawn(p, "hi", 20, 0);
    Tcb far = spawn(p, "far", 10, 1);
    for (const Tcb& t : {a, b, c, low, far})
        REQUIRE(resume(p, t) == kOk);
    CHECK(run_next(0) == "a");
    CHECK(run_next(1) == "far");

    Names ran;
    for (int i = 0; i < 7; ++i) {
        kernel::on_timer(0);
        ran.push_back(run_next(0));
    }
    CHECK(ran == Names{"b", "c", "a", "b", "c", "a", "b"});
    CHECK(low->state() == ThreadState::kRunnable);
    // CPU 1's slice is its own.
    CHECK(sched().current(1) == far.t);

    // Alone at its priority, with only lower ones waiting: keeps the CPU.
    REQUIRE(suspend(p, a) == kOk);
    REQUIRE(suspend(p, c) == kOk);
    for (int i = 0; i < 3; ++i) {
        kernel::on_timer(0);
        CHECK(run_next(0) == "b");
    }

    // A higher priority arriving between ticks runs, and keeps running, before anything else.
    REQUIRE(resume(p, hi) == kOk);
    kernel::on_timer(0);
    CHECK(run_next(0) == "hi");
    REQUIRE(resume(p, a) == kOk);
    for (int i = 0; i < 3; ++i) {
        kernel::on_timer(0);
        CHECK(run_next(0) == "hi");
    }
    REQUIRE(suspend(p, hi) == kOk);
    ran.clear();
    for (int i = 0; i < 4; ++i) {
        ran.push_back(run_next(0));
        kernel::on_timer(0);
    }
    CHECK(ran == Names{"b", "a", "b", "a"});

    // Only the low thread left: it finally runs.
    REQUIRE(suspend(p, a) == kOk);
    REQUIRE(suspend(p, b) == kOk);
    kernel::on_timer(0);
    CHECK(run_next(0) == "low");
    REQUIRE(suspend(p, low) == kOk);
    REQUIRE(suspend(p, far) == kOk);
    // A tick on an idle CPU.
    kernel::on_timer(0);
    CHECK(run_next(0) == "idle");
}

// ---- Descheduling and thread states --------------------------------------------------

TEST_CASE("Scheduler: deschedule from every state leaves no queue or current slot naming the thread") {
    SmpGuard smp(kCpus);
    TestProcess p(255);
    p.thread()->set_name("main");
    const ThreadState target = GENERATE(ThreadState::kSuspended, ThreadState::kExited, ThreadState::kFaulted,
                                        ThreadState::kBlocked);
    CAPTURE(target);
    {
        // Neighbours on the queue the thread is on, which must stay intact.
        Tcb x = spawn(p, "x", 10, 2);
        Tcb t = spawn(p, "t", 10, 2);
        Tcb y = spawn(p, "y", 10, 2);
        SECTION("runnable, in the middle of a queue") {
            for (const Tcb& u : {x, t, y})
                REQUIRE(resume(p, u) == kOk);
            sched().deschedule(t.t, target);
            CHECK(order(sched().queue(2)) == Names{"x", "y"});
        }
        SECTION("runnable, alone at its priority") {
            REQUIRE(p.sys(ANVIL_SYS_tcb_configure, t.slot, kSelfCNode, kSelfVSpace, 0, 40, 2, 0).status == kOk);
            for (const Tcb& u : {x, t, y})
                REQUIRE(resume(p, u) == kOk);
            sched().deschedule(t.t, target);
            CHECK(sched().queue(2).top_priority() == 10);
            CHECK(order(sched().queue(2)) == Names{"x", "y"});
        }
        SECTION("running on a remote CPU") {
            for (const Tcb& u : {t, x, y})
                REQUIRE(resume(p, u) == kOk);
            REQUIRE(run_next(2) == "t");
            sched().deschedule(t.t, target);
            CHECK(sched().current(2) == nullptr);
            CHECK(run_next(2) == "x");
        }
        SECTION("running on this CPU") {
            park_caller(p);
            REQUIRE(p.sys(ANVIL_SYS_tcb_configure, t.slot, kSelfCNode, kSelfVSpace, 0, 10, 0, 0).status == kOk);
            REQUIRE(resume(p, t) == kOk);
            REQUIRE(run_next(0) == "t");
            sched().deschedule(t.t, target);
            CHECK(sched().current(0) == nullptr);
            CHECK(run_next(0) == "idle");
        }
        SECTION("blocked (on no run queue)") {
            t->set_state(ThreadState::kBlocked);
            sched().deschedule(t.t, target);
        }
        SECTION("suspended") {
            REQUIRE(resume(p, t) == kOk);
            REQUIRE(suspend(p, t) == kOk);
            sched().deschedule(t.t, target);
        }
        SECTION("inactive") {
            sched().deschedule(t.t, target);
        }
        CHECK(t->state() == target);
        CHECK_FALSE(referenced(t.t));
        // Whatever else is left goes away cleanly too.
        for (const Tcb& u : {x, y})
            sched().deschedule(u.t, ThreadState::kSuspended);
        if (p.thread()->state() == ThreadState::kSuspended)
            REQUIRE(resume(p, Tcb{kSelfTcb, p.thread()}) == kOk);  // caller back, as the harness expects
        for (uint32_t cpu = 1; cpu < kCpus; ++cpu) {
            CHECK(sched().current(cpu) == nullptr);
            CHECK(sched().queue(cpu).empty());
        }
        if (sched().current(0) == nullptr)
            CHECK(run_next(0) == "main");
    }
}

TEST_CASE("tcb_resume/tcb_suspend: every thread state, through the syscalls") {
    SmpGuard smp(kCpus);
    TestProcess p(255);  // current on CPU 0
    p.thread()->set_name("main");
    Tcb t = spawn(p, "t", 50);

    SECTION("inactive: suspend is OK and changes nothing; resume makes it runnable") {
        CHECK(suspend(p, t) == kOk);
        CHECK(t->state() == ThreadState::kInactive);
        CHECK_FALSE(referenced(t.t));
        CHECK(total_queued() == 0);
        CHECK(resume(p, t) == kOk);
        CHECK(t->state() == ThreadState::kRunnable);
        CHECK(t->cpu() == 1);
        CHECK(total_queued() == 1);
    }
    SECTION("runnable -> suspended -> runnable, never queued twice") {
        REQUIRE(resume(p, t) == kOk);
        CHECK(resume(p, t) == kOk);
        CHECK(total_queued() == 1);
        CHECK(suspend(p, t) == kOk);
        CHECK(t->state() == ThreadState::kSuspended);
        CHECK_FALSE(referenced(t.t));
        CHECK(total_queued() == 0);
        CHECK(suspend(p, t) == kOk);
        CHECK(t->state() == ThreadState::kSuspended);
        CHECK(resume(p, t) == kOk);
        CHECK(t->state() == ThreadState::kRunnable);
        CHECK(total_queued() == 1);
    }
    SECTION("running on another CPU -> suspended: that CPU drops it") {
        REQUIRE(resume(p, t) == kOk);
        REQUIRE(run_next(t->cpu()) == "t");
        const uint32_t cpu = t->cpu();
        CHECK(resume(p, t) == kOk);  // already going
        CHECK(t->state() == ThreadState::kRunning);
        CHECK(total_queued() == 0);
        CHECK(suspend(p, t) == kOk);
        CHECK(t->state() == ThreadState::kSuspended);
        CHECK(sched().current(cpu) == nullptr);
        CHECK_FALSE(referenced(t.t));
        CHECK(run_next(cpu) == "idle");
        CHECK(resume(p, t) == kOk);
        CHECK(t->cpu() == cpu);  // its last CPU, idle again
        CHECK(t->state() == ThreadState::kRunnable);
    }
    SECTION("the running caller suspends itself: its CPU picks the next thread") {
        Tcb next = spawn(p, "next", 50, 0);
        REQUIRE(resume(p, next) == kOk);
        CHECK(syscall_on(0, ANVIL_SYS_tcb_suspend, {kSelfTcb}) == kOk);
        CHECK(p.thread()->state() == ThreadState::kSuspended);
        CHECK(sched().current(0) == nullptr);
        CHECK_FALSE(referenced(p.thread()));
        CHECK(run_next(0) == "next");
        REQUIRE(suspend(p, next) == kOk);
        REQUIRE(p.sys(ANVIL_SYS_tcb_resume, kSelfTcb).status == kOk);
        CHECK(run_next(0) == "main");
    }
    SECTION("blocked: resume leaves it waiting; suspend takes it out") {
        t->set_state(ThreadState::kBlocked);
        CHECK(resume(p, t) == kOk);
        CHECK(t->state() == ThreadState::kBlocked);
        CHECK(total_queued() == 0);
        CHECK(suspend(p, t) == kOk);
        CHECK(t->state() == ThreadState::kSuspended);
        CHECK_FALSE(referenced(t.t));
    }
    SECTION("exited: BAD_STATE for both") {
        REQUIRE(resume(p, t) == kOk);
        const uint32_t cpu = t->cpu();
        REQUIRE(run_next(cpu) == "t");
        syscall_on(cpu, ANVIL_SYS_thread_exit, {9});
        REQUIRE(t->state() == ThreadState::kExited);
        CHECK(resume(p, t) == kBadState);
        CHECK(suspend(p, t) == kBadState);
        CHECK(t->state() == ThreadState::kExited);
        CHECK_FALSE(referenced(t.t));
        CHECK(total_queued() == 0);
    }
    SECTION("faulted: BAD_STATE for both") {
        REQUIRE(resume(p, t) == kOk);
        const uint32_t cpu = t->cpu();
        REQUIRE(run_next(cpu) == "t");
        kernel::on_fault(cpu, kernel::FaultInfo{kernel::FaultKind::kPageNotPresent, kernel::FaultAccess::kRead,
                                                kUnmapped, 14, 4});
        REQUIRE(t->state() == ThreadState::kFaulted);
        CHECK(sched().current(cpu) == nullptr);
        CHECK(resume(p, t) == kBadState);
        CHECK(suspend(p, t) == kBadState);
        CHECK(t->state() == ThreadState::kFaulted);
        CHECK_FALSE(referenced(t.t));
        CHECK(run_next(cpu) == "idle");
    }
}

TEST_CASE("thread_exit: the current thread ends and its CPU picks the next one") {
    SmpGuard smp(kCpus);
    TestProcess p(255);
    Tcb a = spawn(p, "a", 20, 1);
    Tcb b = spawn(p, "b", 10, 1);
    Tcb c = spawn(p, "c", 5);
    REQUIRE(resume(p, a) == kOk);
    REQUIRE(resume(p, b) == kOk);
    CHECK(run_next(1) == "a");

    syscall_on(1, ANVIL_SYS_thread_exit, {42});
    CHECK(a->state() == ThreadState::kExited);
    CHECK(a->exit_code() == 42);
    CHECK(a->regs().rax == static_cast<uint64_t>(ANVIL_SYS_thread_exit));  // no result written for an ended thread
    CHECK(sched().current(1) == nullptr);
    CHECK_FALSE(referenced(a.t));
    CHECK(run_next(1) == "b");

    // With its own queue empty, the CPU steals the next thread.
    resume_on(p, c, 3);
    const uint64_t steals = sched().steals();
    syscall_on(1, ANVIL_SYS_thread_exit, {static_cast<uint64_t>(-1)});
    CHECK(b->state() == ThreadState::kExited);
    CHECK(b->exit_code() == -1);
    CHECK(run_next(1) == "c");
    CHECK(sched().steals() == steals + 1);
    syscall_on(1, ANVIL_SYS_thread_exit, {0});
    CHECK(run_next(1) == "idle");
    CHECK(total_queued() == 0);
    CHECK(sched().current(0) == p.thread());
}

TEST_CASE("Scheduler: deleting the last cap of a thread running on another CPU clears that CPU") {
    // ABI: when the last cap to a thread goes, it stops wherever it is.
    SmpGuard smp(kCpus);
    TestProcess p(255);
    Tcb t = spawn(p, "t", 50, 2);
    Tcb blocked = spawn(p, "blocked", 50, 2);
    REQUIRE(resume(p, t) == kOk);
    REQUIRE(run_next(2) == "t");
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, t.slot).status == kOk);
    CHECK(sched().current(2) == nullptr);
    CHECK(run_next(2) == "idle");

    blocked->set_state(ThreadState::kBlocked);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, blocked.slot).status == kOk);
    CHECK(total_queued() == 0);
    CHECK(run_next(2) == "idle");
}

TEST_CASE("next_to_run: the picked thread's registers, address space and id, rflags sanitised") {
    SmpGuard smp(kCpus);
    TestProcess p(255);
    Tcb t = spawn(p, "t", 50, 1);
    t->regs().rflags = ~0ull;
    t->regs().rip = 0x401000;
    REQUIRE(resume(p, t) == kOk);
    kernel::Resume r{};
    REQUIRE(kernel::next_to_run(1, &r));
    CHECK(r.regs == &t->regs());
    CHECK(r.as == p.vspace()->as());
    CHECK(r.thread_id == t->id());
    CHECK(r.regs->rip == 0x401000);
    CHECK(r.regs->rflags == ((~0ull & hal::kUserRflagsMask) | hal::kUserRflags));
    CHECK_FALSE(kernel::next_to_run(2, &r));
}

// ---- Priority limits ----------------------------------------------------------------

TEST_CASE("tcb_configure: no thread can give a priority above its own (ACCESS_DENIED)") {
    SmpGuard smp(1);
    TestProcess p(100);
    Tcb low = spawn(p, "low", 10);
    Tcb high = spawn(p, "high", 100);
    const uint32_t fresh = p.new_tcb();
    auto configure_as_current = [](uint64_t tcb, uint64_t priority) {
        return syscall_on(0, ANVIL_SYS_tcb_configure, {tcb, kSelfCNode, kSelfVSpace, 0, priority, kAny, 0});
    };

    // The process's thread (100) cannot go above itself either.
    for (uint64_t prio : U64s{101, 200, 255})
        CHECK(configure_as_current(fresh, prio) == kAccessDenied);
    CHECK(configure_as_current(fresh, 256) == kInvalidArg);
    CHECK(p.object<Thread>(fresh)->cnode() == nullptr);

    // Now the low thread (10) is the caller.
    park_caller(p);
    REQUIRE(resume(p, low) == kOk);
    REQUIRE(run_next(0) == "low");
    CHECK(configure_as_current(fresh, 11) == kAccessDenied);
    CHECK(configure_as_current(fresh, 100) == kAccessDenied);
    CHECK(p.object<Thread>(fresh)->cnode() == nullptr);
    // Not even re-configuring a higher thread at the priority it already has.
    CHECK(configure_as_current(high.slot, 100) == kAccessDenied);
    CHECK(configure_as_current(high.slot, 50) == kAccessDenied);
    CHECK(high->priority() == 100);
    // Nor raising itself (refused for the priority before its running state).
    CHECK(configure_as_current(low.slot, 11) == kAccessDenied);
    CHECK(low->priority() == 10);
    CHECK(configure_as_current(low.slot, 10) == kBadState);
    // Its own priority or lower is fine.
    CHECK(configure_as_current(fresh, 10) == kOk);
    CHECK(p.object<Thread>(fresh)->priority() == 10);
    CHECK(configure_as_current(high.slot, 3) == kOk);
    CHECK(high->priority() == 3);

    // The lowered thread really is scheduled at its new priority: behind low.
    REQUIRE(resume(p, high) == kOk);
    CHECK(run_next(0) == "low");
    REQUIRE(suspend(p, low) == kOk);
    CHECK(run_next(0) == "high");
    REQUIRE(suspend(p, high) == kOk);
}
