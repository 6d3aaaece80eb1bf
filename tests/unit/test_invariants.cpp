// Host tests of the invariant checker (kernel/check/invariants.cpp): a
// consistent kernel passes, and each kind of corruption is reported. Every
// corruption is undone before the test ends, so later tests start clean.
#include "kernel/introspect.h"
#include "kernel_env.h"

#include <string>

using namespace anvil_test;

namespace {

// The checker's verdict: "" if every invariant holds, else its message.
std::string verdict() {
    char why[256];
    return kernel::check_invariants(why, sizeof why) ? std::string() : std::string(why);
}

// A TestProcess as the checker sees a real one: the harness's own extra
// reference on the thread (kernel_env.h) is set aside while the test runs.
struct CheckedProcess : TestProcess {
    CheckedProcess() { thread()->release(); }
    ~CheckedProcess() { thread()->retain(); }
};

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("invariants: a consistent kernel passes, with caps, copies, mappings and threads") {
    CheckedProcess p;
    const uint32_t vmo = p.new_vmo(3 * kPage);
    const uint32_t copy = p.copy(vmo, kR | kG);
    (void)copy;
    REQUIRE(p.sys(ANVIL_SYS_vma_map, kSelfVSpace, 0x30000000, vmo, 0, 3 * kPage, kR | kW).status == kOk);
    p.new_tcb();
    p.new_cnode();
    CHECK(verdict() == "");
}

TEST_CASE("invariants: a reference nobody holds is reported") {
    CheckedProcess p;
    const uint32_t slot = p.new_vmo(kPage);
    auto* vmo = p.object<kernel::Vmo>(slot);
    vmo->retain();
    const std::string v = verdict();
    vmo->release();
    CHECK(contains(v, "vmo"));
    CHECK(contains(v, "has 2 references but 1 caps and kernel references name it"));
    CHECK(verdict() == "");
}

TEST_CASE("invariants: a child cap with more rights than its parent is reported") {
    CheckedProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    const uint32_t child = p.copy(vmo, kR | kG);
    kernel::Cap* c = p.cap(child);
    const uint32_t saved = c->rights;
    c->rights = kR | kW | kG;
    p.cap(vmo)->rights = kR | kG;  // the parent now has less than the child
    const std::string v = verdict();
    p.cap(vmo)->rights = kAll & kernel::rights_for_type(ANVIL_OBJ_VMO);
    c->rights = saved;
    CHECK(contains(v, "beyond its parent's"));
    CHECK(verdict() == "");
}

TEST_CASE("invariants: broken derivation links are reported") {
    CheckedProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    const uint32_t child = p.copy(vmo, kR);
    kernel::Cap* parent = p.cap(vmo);
    kernel::Cap* saved = parent->first_child;
    parent->first_child = nullptr;  // the child still names it as its parent
    const std::string v = verdict();
    parent->first_child = saved;
    (void)child;
    CHECK(contains(v, "not among its parent's children"));
    CHECK(verdict() == "");
}

TEST_CASE("invariants: a thread whose state and queue disagree is reported") {
    CheckedProcess p;
    const uint32_t tcb = p.new_tcb();
    auto* t = p.object<kernel::Thread>(tcb);
    REQUIRE(t->state() == kernel::ThreadState::kInactive);
    t->set_state(kernel::ThreadState::kRunnable);  // but on no run queue
    const std::string v = verdict();
    t->set_state(kernel::ThreadState::kInactive);
    CHECK(contains(v, "is not on cpu"));
    CHECK(verdict() == "");
}

TEST_CASE("invariants: an endpoint's count of caps with READ, and a closed endpoint with waiters, are reported") {
    CheckedProcess p;
    const SysResult made = p.sys(ANVIL_SYS_endpoint_create);
    REQUIRE(made.status == kOk);
    const uint32_t ep = static_cast<uint32_t>(made.out0);
    auto* e = p.object<kernel::Endpoint>(ep);
    p.copy(ep, kW | kG);  // keeps the endpoint alive once the original goes
    REQUIRE(e->receive_caps() == 1);
    CHECK(verdict() == "");

    // The count says one, but the only cap with READ loses it behind its back.
    kernel::Cap* c = p.cap(ep);
    c->rights &= ~kR;
    std::string v = verdict();
    c->rights |= kR;
    CHECK(contains(v, "counts 1 caps with READ but 0 name it"));
    CHECK(verdict() == "");

    // Closed (only the WRITE copy is left), yet a thread's fault message waits on it.
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, ep).status == kOk);
    REQUIRE(e->closed());
    auto* t = p.object<kernel::Thread>(p.new_tcb());
    t->ipc.wait = kernel::IpcWait::kFaultMsg;
    t->ipc.object = e;
    e->senders().push_back(t);
    v = verdict();
    e->senders().remove(t);
    t->ipc.wait = kernel::IpcWait::kNone;
    t->ipc.object = nullptr;
    CHECK(contains(v, "is closed (no cap with READ) but threads wait on it"));
    CHECK(verdict() == "");
}

TEST_CASE("invariants: overlapping or out-of-range mappings are reported") {
    CheckedProcess p;
    const uint32_t vmo = p.new_vmo(2 * kPage);
    REQUIRE(p.sys(ANVIL_SYS_vma_map, kSelfVSpace, 0x30000000, vmo, 0, 2 * kPage, kR).status == kOk);
    kernel::Mapping* m = p.vspace()->find(0x30000000);
    REQUIRE(m);
    m->len = 3 * kPage;  // past the end of its 2-page VMO
    std::string v = verdict();
    m->len = 2 * kPage;
    CHECK(contains(v, "runs past its vmo"));
    m->perms = kR | kW | kX;
    v = verdict();
    m->perms = kR;
    CHECK(contains(v, "has permissions 0x7"));
    CHECK(verdict() == "");
}

TEST_CASE("invariants: a broken run queue is reported") {
    SmpGuard smp(2);
    CheckedProcess p;
    kernel::Thread* self = p.thread();
    REQUIRE(kernel::scheduler().current(0) == self);
    self->set_priority(self->priority() + 1);  // current threads are on no queue: fine
    CHECK(verdict() == "");
    const uint32_t tcb = p.new_tcb();
    REQUIRE(p.sys(ANVIL_SYS_tcb_configure, tcb, kSelfCNode, kSelfVSpace, 0, 10, 1, 0).status == kOk);
    REQUIRE(p.sys(ANVIL_SYS_tcb_resume, tcb).status == kOk);
    auto* t = p.object<kernel::Thread>(tcb);
    REQUIRE(t->state() == kernel::ThreadState::kRunnable);
    t->set_priority(11);  // now filed under the wrong priority
    const std::string v = verdict();
    t->set_priority(10);
    CHECK(contains(v, "is not on cpu 1's queue at priority 11"));
    CHECK(verdict() == "");
    REQUIRE(p.sys(ANVIL_SYS_tcb_suspend, tcb).status == kOk);
}

TEST_CASE("invariants: the deadline list holds exactly the threads in a timed notification wait") {
    CheckedProcess p;
    kernel::clock_tick();  // a clock past 0, so that a deadline can equal it below
    const SysResult made = p.sys(ANVIL_SYS_notification_create);
    REQUIRE(made.status == kOk);
    auto* note = p.object<kernel::Notification>(static_cast<uint32_t>(made.out0));
    kernel::Thread* t = p.thread();
    p.sys(ANVIL_SYS_notify_wait_timeout, made.out0, 5);  // blocks: its result comes on waking
    REQUIRE(t->state() == kernel::ThreadState::kBlocked);
    CHECK(verdict() == "");
    const uint64_t deadline = t->deadline;
    t->deadline = 0;  // on the list without a deadline
    std::string v = verdict();
    t->deadline = deadline;
    CHECK(contains(v, "but is on the deadline list"));
    t->deadline = kernel::clock_ticks();  // a deadline the clock has reached
    v = verdict();
    t->deadline = deadline;
    CHECK(contains(v, "past its deadline"));
    kernel::deadline_waiters().remove(t);  // a timed wait off the list
    v = verdict();
    kernel::deadline_waiters().push_back(t);
    CHECK(contains(v, "but is not on the deadline list"));
    CHECK(verdict() == "");
    note->signal(1);
    CHECK(t->deadline == 0);
    CHECK(verdict() == "");
    kernel::Resume r{};
    REQUIRE(kernel::next_to_run(0, &r));  // current again, as the harness expects
}
