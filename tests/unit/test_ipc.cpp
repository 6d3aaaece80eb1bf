// Host tests of IPC (kernel/ipc, kernel/object/endpoint, kernel/syscall/sys_ipc.cpp)
// through the syscall layer: send/recv, call/reply, reply_recv in every order,
// message data and capability transfer, badges, PEER_CLOSED, the try_* forms, bad
// buffers, suspend/resume restarting a blocked call, notifications and fault
// messages.
//
// Each test runs in the fixture IpcTest: the scheduler with four CPUs (like
// test_scheduler.cpp) and a Controller, whose TestProcess's thread ("main",
// priority 255) stays current on CPU 0 and sets things up through
// TestProcess::sys; the threads under test ("workers") live in
// their own CNodes and VSpaces (a Space) and are pinned to CPUs 1..3, made current
// there through next_to_run, and make their calls through kernel::on_syscall. A
// worker that blocks leaves its CPU; when woken it is runnable on its CPU's queue
// with its result in rax (and rdx).
#include "kernel/introspect.h"
#include "kernel_env.h"

#include <hal/kernel_entry.h>

#include <cstring>
#include <exception>
#include <string>
#include <vector>

using namespace anvil_test;
using kernel::Endpoint;
using kernel::IpcWait;
using kernel::Notification;
using kernel::Thread;
using kernel::ThreadState;

namespace {

// Status codes kernel_env.h does not name (distinct names so they never clash).
constexpr Code kEWouldBlock{ANVIL_ERR_WOULD_BLOCK}, kEPeerClosed{ANVIL_ERR_PEER_CLOSED},
    kENoMemory{ANVIL_ERR_NO_MEMORY}, kETimedOut{ANVIL_ERR_TIMED_OUT};
// What `as` returns when the call blocked (not a status the kernel uses).
constexpr Code kBlocked{-1000};

constexpr uint32_t kCpus = 4;
constexpr uint64_t kRip = 0x401002;  // where a worker's syscall instruction ends
constexpr uint64_t kMsgSize = sizeof(anvil_msg_t);

// Message buffers inside a Space's read-write scratch mapping.
constexpr uint64_t kA = kUserBuf, kB = kUserBuf + 0x2000, kC = kUserBuf + 0x4000, kD = kUserBuf + 0x6000;
constexpr uint8_t kSendFill = 0x77;  // bytes of a sent message past its len
constexpr uint8_t kRecvFill = 0xee;  // bytes of a receive buffer before delivery

kernel::Scheduler& sched() { return kernel::scheduler(); }

Code code_of(uint64_t rax) { return Code{static_cast<int>(static_cast<int64_t>(rax))}; }

// ---- messages ---------------------------------------------------------------------------

anvil_msg_t send_msg(uint64_t label, const Bytes& data = {}, std::initializer_list<anvil_cap_t> caps = {}) {
    anvil_msg_t m;
    std::memset(&m, kSendFill, sizeof m);
    m.label = label;
    m.len = static_cast<uint32_t>(data.size());
    m.ncaps = static_cast<uint32_t>(caps.size());
    if (!data.empty())
        std::memcpy(m.data, data.data(), data.size());
    uint32_t i = 0;
    for (anvil_cap_t c : caps)
        m.caps[i++] = c;
    return m;
}

// A receive buffer offering `slots` for caps; everything else is kRecvFill.
anvil_msg_t recv_buf(std::initializer_list<anvil_cap_t> slots = {}) {
    anvil_msg_t m;
    std::memset(&m, kRecvFill, sizeof m);
    m.ncaps = static_cast<uint32_t>(slots.size());
    uint32_t i = 0;
    for (anvil_cap_t c : slots)
        m.caps[i++] = c;
    return m;
}

// ---- spaces and workers -------------------------------------------------------------------

// A CNode and a VSpace made by the controller (slots in its CNode), with a 64 KiB
// read-write scratch mapping at kUserBuf and a read-only page at kUserRoPage.
struct Space {
    uint32_t cn_slot = 0, vs_slot = 0;
    kernel::CNode* cn = nullptr;
    kernel::VSpace* vs = nullptr;

    void put(uint64_t va, const anvil_msg_t& m) const { REQUIRE(vs->copy_out(va, &m, sizeof m) == ANVIL_OK); }
    anvil_msg_t msg(uint64_t va) const {
        anvil_msg_t m;
        REQUIRE(vs->copy_in(&m, va, sizeof m) == ANVIL_OK);
        return m;
    }
    kernel::Cap* cap(uint32_t slot) const { return cn->slot(slot); }
    bool empty(uint32_t slot) const { return cn->slot(slot)->empty(); }
};

// A thread of the test, pinned to `cpu` (1..3), running in a Space.
struct Worker {
    std::string name;
    uint32_t slot;  // its TCB cap in the controller's CNode
    Thread* t;
    uint32_t cpu;

    Thread* operator->() const { return t; }
    Code rax() const { return code_of(t->regs().rax); }
    uint64_t rdx() const { return t->regs().rdx; }
    ThreadState state() const { return t->state(); }
    // Woken (or never blocked) and waiting for its CPU.
    bool runnable() const { return t->state() == ThreadState::kRunnable; }
    bool blocked() const { return t->state() == ThreadState::kBlocked; }
};

std::string run_next(uint32_t cpu) {
    kernel::Resume r{};
    if (!kernel::next_to_run(cpu, &r))
        return "idle";
    return sched().current(cpu)->name();
}

// ---- invariants ------------------------------------------------------------------------

bool ep_idle(Endpoint* e) { return e->senders().empty() && e->receivers().empty(); }

// `w` is on no IPC queue and in no call/reply relation.
void check_no_ipc(const Worker& w) {
    INFO("worker " << w.name);
    CHECK(w->ipc.wait == IpcWait::kNone);
    CHECK(w->ipc.object == nullptr);
    CHECK(w->ipc.reply_to == nullptr);
    CHECK(w->ipc.replier == nullptr);
    CHECK_FALSE(w->deadline_link.linked());
    CHECK(w->deadline == 0);
    if (w.state() != ThreadState::kRunnable)
        CHECK_FALSE(w->run_link.linked());
}

bool same_bytes(const uint8_t* a, const Bytes& b) { return b.empty() || std::memcmp(a, b.data(), b.size()) == 0; }

bool same_msg(const anvil_msg_t& a, const anvil_msg_t& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool all_bytes(const uint8_t* a, size_t n, uint8_t v) {
    for (size_t i = 0; i < n; ++i)
        if (a[i] != v)
            return false;
    return true;
}

// A delivered message: label, data, nothing past len written, no caps.
void check_delivered(const anvil_msg_t& m, uint64_t label, const Bytes& data) {
    CHECK(m.label == label);
    CHECK(m.len == data.size());
    CHECK(m.ncaps == 0);
    CHECK(same_bytes(m.data, data));
    CHECK(all_bytes(m.data + data.size(), ANVIL_MSG_MAX_BYTES - data.size(), kRecvFill));
}

// The usual cast: a controller, one endpoint, a client space and a server space
// each holding a cap to it in slot 1 (client: WRITE|GRANT, badge `badge`; server:
// READ).
struct Pair {
    Space cs, ss;
    uint32_t ep;
    Endpoint* e;
};

constexpr uint32_t kEp = 1;  // the endpoint's slot in a Pair's spaces

// A client (CPU 1) whose call the server (CPU 2) has received: the server owes
// it a reply. The client's reply buffer is at kB; the server's reply (label 2)
// is ready at its kB.
struct PendingCall {
    Pair x;
    Worker c, srv;
};

// Client and server pinned to the same CPU, so the fast path may hand over.
struct SameCpu {
    Pair x;
    Worker c, s;
};

// The controller: a TestProcess ("main", priority 255, current on CPU 0), and the
// calls that set up spaces and workers through it and run the workers' calls.
struct Controller {
    TestProcess p{255};

    Space make_space(uint32_t slots = 64) {
        Space s;
        s.cn_slot = p.new_cnode(slots);
        s.vs_slot = p.new_vspace();
        s.cn = p.object<kernel::CNode>(s.cn_slot);
        s.vs = p.object<kernel::VSpace>(s.vs_slot);
        const uint32_t buf = p.new_vmo(kUserBufSize);
        const uint32_t ro = p.new_vmo(kPage);
        REQUIRE(p.sys(ANVIL_SYS_vma_map, s.vs_slot, kUserBuf, buf, 0, kUserBufSize, kR | kW).status == kOk);
        REQUIRE(p.sys(ANVIL_SYS_vma_map, s.vs_slot, kUserRoPage, ro, 0, kPage, kR).status == kOk);
        // Held by their mappings only, so unmapping frees them.
        REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, buf).status == kOk);
        REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, ro).status == kOk);
        return s;
    }

    // Copies the controller's cap `src` into slot `dst` of `s` (ANVIL_SLOT_ANY: lowest free).
    uint32_t give(uint32_t src, const Space& s, uint32_t dst, uint32_t mask = kAll, uint64_t badge = 0) {
        const SysResult r = p.sys(ANVIL_SYS_cap_copy, kSelfCNode, src, s.cn_slot, dst, mask, badge);
        REQUIRE(r.status == kOk);
        return dst == ANVIL_SLOT_ANY ? static_cast<uint32_t>(r.out0) : dst;
    }

    uint32_t new_endpoint() {
        const SysResult r = p.sys(ANVIL_SYS_endpoint_create);
        REQUIRE(r.status == kOk);
        return static_cast<uint32_t>(r.out0);
    }

    uint32_t new_notification() {
        const SysResult r = p.sys(ANVIL_SYS_notification_create);
        REQUIRE(r.status == kOk);
        return static_cast<uint32_t>(r.out0);
    }

    Worker spawn(const Space& s, const char* name, uint32_t cpu, uint64_t fault_ep = 0, uint32_t priority = 50) {
        const uint32_t slot = p.new_tcb();
        REQUIRE(p.sys(ANVIL_SYS_tcb_configure, slot, s.cn_slot, s.vs_slot, 0, priority, cpu, fault_ep).status == kOk);
        Thread* t = p.object<Thread>(slot);
        t->set_name(name);
        t->regs().rip = kRip;
        return {name, slot, t, cpu};
    }

    // Makes `w` current on its CPU (resuming it if it is inactive or suspended).
    void run(const Worker& w) {
        if (sched().current(w.cpu) == w.t)
            return;
        if (w.state() == ThreadState::kInactive || w.state() == ThreadState::kSuspended)
            REQUIRE(p.sys(ANVIL_SYS_tcb_resume, w.slot).status == kOk);
        REQUIRE(run_next(w.cpu) == w.name);
    }

    // `w` makes syscall `nr` on its CPU (made current first): the status it returned,
    // or kBlocked if it blocked (then its CPU runs something else, or nothing).
    Code as(const Worker& w, uint64_t nr, U64s args = {}) {
        run(w);
        hal::UserRegs& r = w->regs();
        load_syscall(r, nr, args);
        kernel::on_syscall(w.cpu);
        if (w.state() == ThreadState::kBlocked) {
            // Its CPU is free, or (fast path) handed to the partner it woke.
            CHECK(sched().current(w.cpu) != w.t);
            CHECK(r.rax == nr);  // no result written yet
            return kBlocked;
        }
        return code_of(r.rax);
    }

    // The IPC calls, as `w`.
    Code send(const Worker& w, uint32_t ep, uint64_t va) { return as(w, ANVIL_SYS_ipc_send, {ep, va}); }
    Code try_send(const Worker& w, uint32_t ep, uint64_t va) { return as(w, ANVIL_SYS_ipc_try_send, {ep, va}); }
    Code recv(const Worker& w, uint32_t ep, uint64_t va) { return as(w, ANVIL_SYS_ipc_recv, {ep, va}); }
    Code try_recv(const Worker& w, uint32_t ep, uint64_t va) { return as(w, ANVIL_SYS_ipc_try_recv, {ep, va}); }
    Code call(const Worker& w, uint32_t ep, uint64_t req, uint64_t reply) {
        return as(w, ANVIL_SYS_ipc_call, {ep, req, reply});
    }
    Code reply(const Worker& w, uint64_t va) { return as(w, ANVIL_SYS_ipc_reply, {va}); }
    Code reply_recv(const Worker& w, uint32_t ep, uint64_t reply_va, uint64_t next_va) {
        return as(w, ANVIL_SYS_ipc_reply_recv, {ep, reply_va, next_va});
    }

    Pair make_ep_pair(uint64_t badge = 0, uint32_t client_rights = kW | kG) {
        Pair x{make_space(), make_space(), new_endpoint(), nullptr};
        x.e = p.object<Endpoint>(x.ep);
        give(x.ep, x.cs, 1, client_rights, badge);
        give(x.ep, x.ss, 1, kR);
        return x;
    }

    PendingCall pending_call() {
        Pair x = make_ep_pair();
        Worker c = spawn(x.cs, "client", 1);
        Worker srv = spawn(x.ss, "server", 2);
        x.cs.put(kA, send_msg(1));
        x.cs.put(kB, recv_buf());
        x.ss.put(kA, recv_buf());
        x.ss.put(kB, send_msg(2));
        REQUIRE(call(c, kEp, kA, kB) == kBlocked);
        REQUIRE(recv(srv, kEp, kA) == kOk);
        return {x, c, srv};
    }

    SameCpu same_cpu_pair() {
        Pair x = make_ep_pair(0xfa57);
        Worker c = spawn(x.cs, "client", 1);
        Worker s = spawn(x.ss, "server", 1);
        return {x, c, s};
    }
};

// The scheduler with four CPUs, for as long as a test runs.
struct FourCpus {
    SmpGuard smp{kCpus};
};

// The fixture of the tests here: four CPUs, then a controller.
struct IpcTest : FourCpus, Controller {};

}  // namespace

// ---- send / recv ------------------------------------------------------------------------

TEST_CASE_METHOD(IpcTest, "ipc: send first, then recv: the sender waits, the receiver takes the message at once") {
    Pair x = make_ep_pair(0x5eed);
    Worker s = spawn(x.cs, "sender", 1);
    Worker r = spawn(x.ss, "receiver", 2);
    const Bytes data = pattern(100, 3);
    x.cs.put(kA, send_msg(0x1234, data));
    x.ss.put(kA, recv_buf());

    REQUIRE(send(s, kEp, kA) == kBlocked);
    CHECK(s->ipc.wait == IpcWait::kSend);
    CHECK(x.e->senders().front() == s.t);
    CHECK(run_next(1) == "idle");

    CHECK(recv(r, kEp, kA) == kOk);
    CHECK(r.rdx() == 0x5eed);
    check_delivered(x.ss.msg(kA), 0x1234, data);
    CHECK(s.runnable());
    CHECK(s.rax() == kOk);
    CHECK(ep_idle(x.e));
    check_no_ipc(s);
    check_no_ipc(r);
    CHECK(run_next(1) == "sender");
}

TEST_CASE_METHOD(IpcTest, "ipc: recv first, then send: the receiver is woken with the message and the badge in rdx") {
    Pair x = make_ep_pair(0xb4d6e);
    Worker s = spawn(x.cs, "sender", 1);
    Worker r = spawn(x.ss, "receiver", 2);
    const Bytes data = pattern(17, 9);
    x.cs.put(kA, send_msg(77, data));
    x.ss.put(kA, recv_buf());

    REQUIRE(recv(r, kEp, kA) == kBlocked);
    CHECK(r->ipc.wait == IpcWait::kRecv);
    CHECK(x.e->receivers().front() == r.t);
    CHECK(x.ss.msg(kA).label == 0xeeeeeeeeeeeeeeeeull);  // nothing delivered yet

    CHECK(send(s, kEp, kA) == kOk);
    CHECK(sched().current(1) == s.t);  // the sender never blocked
    CHECK(r.runnable());
    CHECK(r.rax() == kOk);
    CHECK(r.rdx() == 0xb4d6e);
    check_delivered(x.ss.msg(kA), 77, data);
    CHECK(ep_idle(x.e));
    check_no_ipc(s);
    check_no_ipc(r);
}

TEST_CASE_METHOD(IpcTest, "ipc: several senders are served FIFO, each with its own badge, each woken when taken") {
    Pair x = make_ep_pair();
    Space other = make_space();
    give(x.ep, other, 1, kW, 0x222);
    give(x.ep, other, 2, kW, 0x333);
    Worker a = spawn(x.cs, "a", 1);
    Worker b = spawn(other, "b", 2);
    Worker c = spawn(other, "c", 3);
    x.cs.put(kA, send_msg(1, pattern(1, 1)));
    other.put(kA, send_msg(2, pattern(2, 2)));
    other.put(kB, send_msg(3, pattern(3, 3)));
    REQUIRE(send(a, kEp, kA) == kBlocked);
    REQUIRE(send(b, 1, kA) == kBlocked);
    REQUIRE(send(c, 2, kB) == kBlocked);
    CHECK(x.e->senders().size() == 3);

    Worker r = spawn(x.ss, "r", 1);
    const Worker* order[] = {&a, &b, &c};
    const uint64_t badges[] = {0, 0x222, 0x333};
    for (int i = 0; i < 3; ++i) {
        INFO("message " << i + 1);
        x.ss.put(kA, recv_buf());
        REQUIRE(recv(r, kEp, kA) == kOk);
        CHECK(r.rdx() == badges[i]);
        check_delivered(x.ss.msg(kA), i + 1, pattern(i + 1, i + 1));
        CHECK(order[i]->runnable());
        CHECK(order[i]->rax() == kOk);
        for (int j = i + 1; j < 3; ++j)
            CHECK(order[j]->blocked());
    }
    CHECK(ep_idle(x.e));
    x.ss.put(kA, recv_buf());
    CHECK(try_recv(r, kEp, kA) == kEWouldBlock);
    for (const Worker* w : order)
        check_no_ipc(*w);
}

TEST_CASE_METHOD(IpcTest, "ipc: several receivers are served FIFO") {
    Pair x = make_ep_pair(9);
    Worker r1 = spawn(x.ss, "r1", 1);
    Worker r2 = spawn(x.ss, "r2", 2);
    Worker r3 = spawn(x.ss, "r3", 3);
    const uint64_t bufs[] = {kA, kB, kC};
    const Worker* rs[] = {&r1, &r2, &r3};
    for (int i = 0; i < 3; ++i) {
        x.ss.put(bufs[i], recv_buf());
        REQUIRE(recv(*rs[i], kEp, bufs[i]) == kBlocked);
    }
    CHECK(x.e->receivers().size() == 3);

    Worker s = spawn(x.cs, "s", 1);  // CPU 1 is free again
    for (int i = 0; i < 3; ++i) {
        INFO("message " << i + 1);
        x.cs.put(kA, send_msg(100 + i, pattern(10, i)));
        REQUIRE(send(s, kEp, kA) == kOk);
        CHECK(rs[i]->runnable());
        CHECK(rs[i]->rax() == kOk);
        CHECK(rs[i]->rdx() == 9);
        check_delivered(x.ss.msg(bufs[i]), 100 + i, pattern(10, i));
        for (int j = i + 1; j < 3; ++j)
            CHECK(rs[j]->blocked());
    }
    CHECK(ep_idle(x.e));
    CHECK(try_send(s, kEp, kA) == kEWouldBlock);
    for (const Worker* w : rs)
        check_no_ipc(*w);
}

TEST_CASE_METHOD(IpcTest, "ipc: data is copied exactly: 0, 1 and 1024 bytes, nothing past len, in both orders") {
    const size_t len = GENERATE(0u, 1u, 2u, 1023u, 1024u);
    const bool sender_first = GENERATE(true, false);
    INFO("len " << len << (sender_first ? ", sender first" : ", receiver first"));
    Pair x = make_ep_pair(5);
    Worker s = spawn(x.cs, "s", 1);
    Worker r = spawn(x.ss, "r", 2);
    const Bytes data = pattern(len, 42);
    x.cs.put(kA, send_msg(0xfeedface, data));
    x.ss.put(kB, recv_buf());
    if (sender_first) {
        REQUIRE(send(s, kEp, kA) == kBlocked);
        REQUIRE(recv(r, kEp, kB) == kOk);
        CHECK(s.rax() == kOk);
        CHECK(r.rdx() == 5);
    } else {
        REQUIRE(recv(r, kEp, kB) == kBlocked);
        REQUIRE(send(s, kEp, kA) == kOk);
        CHECK(r.rax() == kOk);
        CHECK(r.rdx() == 5);
    }
    const anvil_msg_t got = x.ss.msg(kB);
    check_delivered(got, 0xfeedface, data);
    for (uint32_t i = 0; i < ANVIL_MSG_MAX_CAPS; ++i)
        CHECK(got.caps[i] == 0xeeeeeeeeu);  // no caps: caps[] untouched
    CHECK(ep_idle(x.e));
}

TEST_CASE_METHOD(IpcTest,
                 "ipc: message limits: len > 1024 or ncaps > 4 is INVALID_ARG, for the sender and the receiver") {
    Pair x = make_ep_pair();
    Worker s = spawn(x.cs, "s", 1);
    Worker r = spawn(x.ss, "r", 2);
    anvil_msg_t m = send_msg(1);
    m.len = ANVIL_MSG_MAX_BYTES + 1;
    x.cs.put(kA, m);
    CHECK(send(s, kEp, kA) == kInvalidArg);
    CHECK(try_send(s, kEp, kA) == kInvalidArg);
    CHECK(call(s, kEp, kA, kB) == kInvalidArg);
    m.len = 0;
    m.ncaps = ANVIL_MSG_MAX_CAPS + 1;
    x.cs.put(kA, m);
    CHECK(send(s, kEp, kA) == kInvalidArg);
    m.len = 0xffffffffu;
    m.ncaps = 0;
    x.cs.put(kA, m);
    CHECK(send(s, kEp, kA) == kInvalidArg);

    anvil_msg_t b = recv_buf();
    b.ncaps = ANVIL_MSG_MAX_CAPS + 1;
    x.ss.put(kA, b);
    CHECK(recv(r, kEp, kA) == kInvalidArg);
    CHECK(try_recv(r, kEp, kA) == kInvalidArg);
    CHECK(ep_idle(x.e));
    check_no_ipc(s);
    check_no_ipc(r);
}

TEST_CASE_METHOD(IpcTest, "ipc: rights: send needs WRITE, recv READ, caps need GRANT on the endpoint and on each cap") {
    Pair x = make_ep_pair();
    const uint32_t vmo = p.new_vmo(kPage);
    const uint32_t notif = new_notification();
    Space& cs = x.cs;
    give(x.ep, cs, 2, kR | kG);       // no WRITE
    give(x.ep, cs, 3, kW);            // no GRANT
    give(vmo, cs, 4, kR | kW);        // a cap without GRANT
    give(vmo, cs, 5, kR | kW | kG);   // a cap with GRANT
    give(notif, cs, 6, kAll);         // not an endpoint
    give(x.ep, x.ss, 2, kW | kG);     // no READ
    Worker s = spawn(cs, "s", 1);
    Worker r = spawn(x.ss, "r", 2);

    cs.put(kA, send_msg(1));
    CHECK(send(s, 2, kA) == kAccessDenied);
    CHECK(try_send(s, 2, kA) == kAccessDenied);
    CHECK(call(s, 2, kA, kB) == kAccessDenied);
    CHECK(send(s, 6, kA) == kWrongType);
    CHECK(send(s, 7, kA) == kInvalidCap);   // empty slot
    CHECK(send(s, 9999, kA) == kInvalidCap);
    cs.put(kA, send_msg(1, {}, {5}));
    CHECK(send(s, 3, kA) == kAccessDenied);  // endpoint cap without GRANT
    cs.put(kA, send_msg(1, {}, {4}));
    CHECK(send(s, kEp, kA) == kAccessDenied);  // transferred cap without GRANT
    cs.put(kA, send_msg(1, {}, {5, 4}));
    CHECK(send(s, kEp, kA) == kAccessDenied);
    cs.put(kA, send_msg(1, {}, {5, 8}));
    CHECK(send(s, kEp, kA) == kInvalidCap);  // empty slot named
    cs.put(kA, send_msg(1, {}, {0}));
    CHECK(send(s, kEp, kA) == kInvalidCap);  // slot 0
    cs.put(kA, send_msg(1, {}, {5000}));
    CHECK(send(s, kEp, kA) == kInvalidCap);  // out of range

    x.ss.put(kA, recv_buf());
    CHECK(recv(r, 2, kA) == kAccessDenied);
    CHECK(try_recv(r, 2, kA) == kAccessDenied);
    CHECK(recv(r, 7, kA) == kInvalidCap);
    CHECK(ep_idle(x.e));

    // With the rights: a cap without caps needs no GRANT anywhere.
    cs.put(kA, send_msg(1));
    REQUIRE(send(s, 3, kA) == kBlocked);
    CHECK(recv(r, kEp, kA) == kOk);
    CHECK(s.rax() == kOk);
    CHECK(ep_idle(x.e));
}

// ---- call / reply / reply_recv ----------------------------------------------------------

TEST_CASE_METHOD(IpcTest,
                 "ipc: call/reply in both orders: the caller waits for the reply, which lands in its reply buffer") {
    const bool client_first = GENERATE(true, false);
    INFO((client_first ? "client first" : "server first"));
    Pair x = make_ep_pair(0xc11e);
    Worker c = spawn(x.cs, "client", 1);
    Worker srv = spawn(x.ss, "server", 2);
    const Bytes req = pattern(64, 1), rep = pattern(300, 2);
    x.cs.put(kA, send_msg(10, req));
    x.cs.put(kB, recv_buf());
    x.ss.put(kA, recv_buf());
    x.ss.put(kB, send_msg(20, rep));

    if (client_first) {
        REQUIRE(call(c, kEp, kA, kB) == kBlocked);
        CHECK(c->ipc.wait == IpcWait::kCall);
        REQUIRE(recv(srv, kEp, kA) == kOk);
        CHECK(srv.rdx() == 0xc11e);
    } else {
        REQUIRE(recv(srv, kEp, kA) == kBlocked);
        REQUIRE(call(c, kEp, kA, kB) == kBlocked);
        CHECK(srv.runnable());
        CHECK(srv.rax() == kOk);
        CHECK(srv.rdx() == 0xc11e);
    }
    check_delivered(x.ss.msg(kA), 10, req);
    // The caller now waits for the reply, on no queue.
    CHECK(c.blocked());
    CHECK(c->ipc.wait == IpcWait::kReply);
    CHECK(c->ipc.replier == srv.t);
    CHECK(srv->ipc.reply_to == c.t);
    CHECK_FALSE(c->run_link.linked());
    CHECK(ep_idle(x.e));
    CHECK(x.cs.msg(kB).label == 0xeeeeeeeeeeeeeeeeull);

    CHECK(reply(srv, kB) == kOk);
    CHECK(c.runnable());
    CHECK(c.rax() == kOk);
    check_delivered(x.cs.msg(kB), 20, rep);
    CHECK(x.cs.msg(kA).label == 10);  // the request is untouched
    // Nothing is owed any more.
    CHECK(reply(srv, kB) == kBadState);
    check_no_ipc(c);
    check_no_ipc(srv);
}

TEST_CASE_METHOD(IpcTest,
                 "ipc: reply with nothing pending is BAD_STATE, and a bad reply message keeps the reply owed") {
    Pair x = make_ep_pair();
    Worker c = spawn(x.cs, "client", 1);
    Worker srv = spawn(x.ss, "server", 2);
    x.ss.put(kB, send_msg(1));
    CHECK(reply(srv, kB) == kBadState);
    CHECK(reply(srv, kUnmapped) == kBadState);  // checked before the message

    x.cs.put(kA, send_msg(5));
    x.cs.put(kB, recv_buf());
    x.ss.put(kA, recv_buf());
    REQUIRE(call(c, kEp, kA, kB) == kBlocked);
    REQUIRE(recv(srv, kEp, kA) == kOk);
    CHECK(reply(srv, kUnmapped) == kFault);
    CHECK(reply(srv, kUserBuf + kUserBufSize - 8) == kFault);
    anvil_msg_t big = send_msg(1);
    big.len = 2000;
    x.ss.put(kB, big);
    CHECK(reply(srv, kB) == kInvalidArg);
    x.ss.put(kB, send_msg(1, {}, {33}));
    CHECK(reply(srv, kB) == kInvalidCap);
    CHECK(c.blocked());
    CHECK(c->ipc.wait == IpcWait::kReply);
    x.ss.put(kB, send_msg(6, pattern(3)));
    CHECK(reply(srv, kB) == kOk);
    CHECK(c.rax() == kOk);
    check_delivered(x.cs.msg(kB), 6, pattern(3));
    check_no_ipc(c);
    check_no_ipc(srv);
}

TEST_CASE_METHOD(IpcTest, "ipc: call needs a writable reply buffer (FAULT) and changes nothing when it fails") {
    Pair x = make_ep_pair();
    Worker c = spawn(x.cs, "client", 1);
    x.cs.put(kA, send_msg(5));
    CHECK(call(c, kEp, kA, kUserRoPage) == kFault);
    CHECK(call(c, kEp, kA, kUnmapped) == kFault);
    CHECK(call(c, kEp, kA, kKernelHalf) == kFault);
    CHECK(call(c, kEp, kA, kUserBuf + kUserBufSize - kMsgSize + 1) == kFault);
    CHECK(ep_idle(x.e));
    check_no_ipc(c);
}

TEST_CASE_METHOD(IpcTest, "ipc: reply_recv: answers the last caller and takes the next one, FIFO, or blocks for it") {
    Pair x = make_ep_pair(0xaaa);
    Space bs = make_space();
    give(x.ep, bs, 1, kW, 0xbbb);
    Worker a = spawn(x.cs, "a", 1);
    Worker b = spawn(bs, "b", 3);
    Worker srv = spawn(x.ss, "server", 2);
    x.cs.put(kA, send_msg(1, pattern(5, 1)));
    x.cs.put(kB, recv_buf());
    bs.put(kA, send_msg(2, pattern(6, 2)));
    bs.put(kB, recv_buf());
    x.ss.put(kA, recv_buf());

    // reply_recv with nothing owed is a plain recv.
    REQUIRE(reply_recv(srv, kEp, kB, kA) == kBlocked);
    REQUIRE(call(a, kEp, kA, kB) == kBlocked);
    CHECK(srv.runnable());
    CHECK(srv.rax() == kOk);
    CHECK(srv.rdx() == 0xaaa);
    check_delivered(x.ss.msg(kA), 1, pattern(5, 1));
    REQUIRE(call(b, 1, kA, kB) == kBlocked);  // queued
    CHECK(x.e->senders().front() == b.t);

    // Answer a, take b at once.
    x.ss.put(kB, send_msg(11, pattern(7, 11)));
    x.ss.put(kA, recv_buf());
    REQUIRE(reply_recv(srv, kEp, kB, kA) == kOk);
    CHECK(srv.rdx() == 0xbbb);
    check_delivered(x.ss.msg(kA), 2, pattern(6, 2));
    CHECK(a.runnable());
    CHECK(a.rax() == kOk);
    check_delivered(x.cs.msg(kB), 11, pattern(7, 11));
    CHECK(b->ipc.wait == IpcWait::kReply);
    CHECK(srv->ipc.reply_to == b.t);

    // Answer b, then block: a calls again and wakes the server.
    x.ss.put(kB, send_msg(12, pattern(8, 12)));
    x.ss.put(kA, recv_buf());
    REQUIRE(reply_recv(srv, kEp, kB, kA) == kBlocked);
    CHECK(b.runnable());
    CHECK(b.rax() == kOk);
    check_delivered(bs.msg(kB), 12, pattern(8, 12));
    CHECK(srv->ipc.reply_to == nullptr);
    x.cs.put(kA, send_msg(3));
    x.cs.put(kB, recv_buf());
    REQUIRE(call(a, kEp, kA, kB) == kBlocked);
    CHECK(srv.rax() == kOk);
    CHECK(srv.rdx() == 0xaaa);
    CHECK(x.ss.msg(kA).label == 3);
    x.ss.put(kB, send_msg(13));
    CHECK(reply(srv, kB) == kOk);
    CHECK(a.rax() == kOk);
    CHECK(ep_idle(x.e));
    for (const Worker* w : {&a, &b, &srv})
        check_no_ipc(*w);
}

TEST_CASE_METHOD(IpcTest, "ipc: reply_recv checks the endpoint first: a bad one leaves the reply owed") {
    auto [x, c, srv] = pending_call();
    give(x.ep, x.ss, 2, kW);  // no READ
    CHECK(reply_recv(srv, 2, kB, kA) == kAccessDenied);
    CHECK(reply_recv(srv, 30, kB, kA) == kInvalidCap);
    CHECK(c->ipc.wait == IpcWait::kReply);
    CHECK(srv->ipc.reply_to == c.t);
    // A bad reply message: the reply is still owed and nothing is received.
    CHECK(reply_recv(srv, kEp, kUnmapped, kA) == kFault);
    CHECK(c->ipc.wait == IpcWait::kReply);
    CHECK(srv->ipc.reply_to == c.t);
    CHECK(x.e->receivers().empty());
    CHECK(reply(srv, kB) == kOk);
    CHECK(c.rax() == kOk);
    CHECK(x.cs.msg(kB).label == 2);
    check_no_ipc(c);
    check_no_ipc(srv);
}

TEST_CASE_METHOD(IpcTest, "ipc: reply_recv with a good reply and a bad next buffer never strands the caller") {
    auto [x, c, srv] = pending_call();
    CHECK(reply_recv(srv, kEp, kB, kUserRoPage) == kFault);
    CHECK(x.e->receivers().empty());
    // Today the reply is delivered before the next buffer is checked (so the failed
    // call did change something); either way the caller is answered or still owed.
    if (c.runnable()) {
        CHECK(c.rax() == kOk);
        CHECK(x.cs.msg(kB).label == 2);
        CHECK(srv->ipc.reply_to == nullptr);
    } else {
        CHECK(srv->ipc.reply_to == c.t);
        CHECK(reply(srv, kB) == kOk);
    }
}

TEST_CASE_METHOD(IpcTest,
                 "ipc: nested calls: a server that owes a reply calls another server, and each reply finds its "
                 "caller") {
    Pair x = make_ep_pair(0x1);
    const uint32_t ep2 = new_endpoint();
    Endpoint* e2 = p.object<Endpoint>(ep2);
    give(ep2, x.ss, 2, kW, 0x2);  // the middle server calls the back server
    Space bs = make_space();
    give(ep2, bs, 1, kR);
    Worker c = spawn(x.cs, "client", 1);
    Worker mid = spawn(x.ss, "mid", 2);
    Worker back = spawn(bs, "back", 3);
    x.cs.put(kA, send_msg(1));
    x.cs.put(kB, recv_buf());
    x.ss.put(kA, recv_buf());
    x.ss.put(kC, send_msg(2));
    x.ss.put(kD, recv_buf());
    bs.put(kA, recv_buf());
    bs.put(kB, send_msg(3, pattern(3)));

    REQUIRE(call(c, kEp, kA, kB) == kBlocked);
    REQUIRE(recv(mid, kEp, kA) == kOk);
    REQUIRE(recv(back, 1, kA) == kBlocked);
    REQUIRE(call(mid, 2, kC, kD) == kBlocked);
    CHECK(back.rdx() == 0x2);
    CHECK(mid->ipc.reply_to == c.t);  // still owed to the client
    CHECK(mid->ipc.replier == back.t);
    REQUIRE(reply(back, kB) == kOk);
    CHECK(mid.rax() == kOk);
    check_delivered(x.ss.msg(kD), 3, pattern(3));
    CHECK(c.blocked());
    x.ss.put(kC, send_msg(4, pattern(4)));
    REQUIRE(reply(mid, kC) == kOk);
    CHECK(c.rax() == kOk);
    check_delivered(x.cs.msg(kB), 4, pattern(4));
    CHECK(ep_idle(x.e));
    CHECK(ep_idle(e2));
    for (const Worker* w : {&c, &mid, &back})
        check_no_ipc(*w);
}

TEST_CASE_METHOD(IpcTest, "ipc: threads of one process: a cap sent to SLOT_ANY lands in their shared CNode") {
    Space sp = make_space();
    const uint32_t ep = new_endpoint();
    give(ep, sp, 1, kAll);
    const uint32_t vmo = p.new_vmo(kPage);
    give(vmo, sp, 2, kR | kG);
    Worker a = spawn(sp, "a", 1);
    Worker b = spawn(sp, "b", 2);
    sp.put(kA, send_msg(1, pattern(8), {2}));
    sp.put(kB, recv_buf({ANVIL_SLOT_ANY}));
    REQUIRE(recv(b, 1, kB) == kBlocked);
    REQUIRE(send(a, 1, kA) == kOk);
    CHECK(b.rax() == kOk);
    anvil_msg_t got = sp.msg(kB);
    CHECK(got.ncaps == 1);
    CHECK(got.caps[0] == 3);
    got.ncaps = 0;
    CHECK(sp.cap(3)->object == p.cap(vmo)->object);
    CHECK(kernel::cap_descendant_count(sp.cap(2)) == 1);
    check_delivered(got, 1, pattern(8));
    CHECK(same_msg(sp.msg(kA), send_msg(1, pattern(8), {2})));  // the sender's message is unchanged
}

// ---- try_* ------------------------------------------------------------------------------

TEST_CASE_METHOD(IpcTest, "ipc: try_send/try_recv: WOULD_BLOCK with no peer (nothing queued), delivered with one") {
    Pair x = make_ep_pair(0x77);
    Worker s = spawn(x.cs, "s", 1);
    Worker r = spawn(x.ss, "r", 2);
    x.cs.put(kA, send_msg(1, pattern(4)));
    x.ss.put(kA, recv_buf());
    CHECK(try_send(s, kEp, kA) == kEWouldBlock);
    CHECK(sched().current(1) == s.t);
    CHECK(try_recv(r, kEp, kA) == kEWouldBlock);
    CHECK(sched().current(2) == r.t);
    CHECK(ep_idle(x.e));
    check_no_ipc(s);
    check_no_ipc(r);
    CHECK(x.ss.msg(kA).label == 0xeeeeeeeeeeeeeeeeull);

    // A waiting receiver takes a try_send.
    REQUIRE(recv(r, kEp, kA) == kBlocked);
    CHECK(try_send(s, kEp, kA) == kOk);
    CHECK(r.rax() == kOk);
    CHECK(r.rdx() == 0x77);
    check_delivered(x.ss.msg(kA), 1, pattern(4));

    // A waiting sender is taken by try_recv.
    x.cs.put(kA, send_msg(2, pattern(5)));
    x.ss.put(kA, recv_buf());
    REQUIRE(send(s, kEp, kA) == kBlocked);
    CHECK(try_recv(r, kEp, kA) == kOk);
    CHECK(r.rdx() == 0x77);
    CHECK(s.rax() == kOk);
    check_delivered(x.ss.msg(kA), 2, pattern(5));

    // A waiting caller is taken by try_recv too, and waits for its reply.
    Worker c = spawn(x.cs, "c", 3);
    x.cs.put(kC, send_msg(3));
    x.cs.put(kD, recv_buf());
    REQUIRE(call(c, kEp, kC, kD) == kBlocked);
    x.ss.put(kA, recv_buf());
    CHECK(try_recv(r, kEp, kA) == kOk);
    CHECK(c->ipc.wait == IpcWait::kReply);
    x.ss.put(kB, send_msg(4));
    CHECK(reply(r, kB) == kOk);
    CHECK(c.rax() == kOk);
    CHECK(ep_idle(x.e));
    for (const Worker* w : {&s, &r, &c})
        check_no_ipc(*w);
}

// ---- capability transfer ------------------------------------------------------------------

TEST_CASE_METHOD(IpcTest,
                 "ipc: cap transfer: caps land in the offered slots with the same rights and badge, as children") {
    const bool sender_first = GENERATE(true, false);
    INFO((sender_first ? "sender first" : "receiver first"));
    Pair x = make_ep_pair();
    const uint32_t vmo = p.new_vmo(kPage);
    const uint32_t other_ep = new_endpoint();
    give(vmo, x.cs, 5, kR | kW | kG | kM);
    give(other_ep, x.cs, 6, kW | kG, 0x4242);  // a badged endpoint cap
    kernel::KObject* vmo_obj = p.cap(vmo)->object;
    kernel::KObject* ep2_obj = p.cap(other_ep)->object;
    const uint32_t vmo_refs = vmo_obj->refs();
    Worker s = spawn(x.cs, "s", 1);
    Worker r = spawn(x.ss, "r", 2);
    x.cs.put(kA, send_msg(7, pattern(3), {5, 6}));
    x.ss.put(kA, recv_buf({10, 20}));

    if (sender_first) {
        REQUIRE(send(s, kEp, kA) == kBlocked);
        REQUIRE(recv(r, kEp, kA) == kOk);
        CHECK(s.rax() == kOk);
    } else {
        REQUIRE(recv(r, kEp, kA) == kBlocked);
        REQUIRE(send(s, kEp, kA) == kOk);
        CHECK(r.rax() == kOk);
    }
    const anvil_msg_t got = x.ss.msg(kA);
    CHECK(got.label == 7);
    CHECK(got.len == 3);
    CHECK(got.ncaps == 2);
    CHECK(got.caps[0] == 10);
    CHECK(got.caps[1] == 20);
    CHECK(got.caps[2] == 0xeeeeeeeeu);
    REQUIRE_FALSE(x.ss.empty(10));
    REQUIRE_FALSE(x.ss.empty(20));
    CHECK(x.ss.cap(10)->object == vmo_obj);
    CHECK(x.ss.cap(10)->rights == (kR | kW | kG | kM));
    CHECK(x.ss.cap(10)->badge == 0);
    CHECK(x.ss.cap(20)->object == ep2_obj);
    CHECK(x.ss.cap(20)->rights == (kW | kG));
    CHECK(x.ss.cap(20)->badge == 0x4242);
    // The sender keeps its caps; the new ones are their children.
    CHECK(x.cs.cap(5)->object == vmo_obj);
    CHECK(x.cs.cap(6)->object == ep2_obj);
    CHECK(vmo_obj->refs() == vmo_refs + 1);
    CHECK(kernel::cap_descendant_count(x.cs.cap(5)) == 1);
    CHECK(kernel::cap_descendant_count(x.cs.cap(6)) == 1);
    CHECK(x.ss.cn->used() == 3);

    // Revoking the sender's originals removes the transferred caps.
    REQUIRE(p.sys(ANVIL_SYS_cap_revoke, x.cs.cn_slot, 5).status == kOk);
    CHECK(x.ss.empty(10));
    CHECK(vmo_obj->refs() == vmo_refs);
    CHECK_FALSE(x.ss.empty(20));
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, x.cs.cn_slot, 6).status == kOk);  // children move up to p's cap
    CHECK_FALSE(x.ss.empty(20));
    REQUIRE(p.sys(ANVIL_SYS_cap_revoke, kSelfCNode, other_ep).status == kOk);
    CHECK(x.ss.empty(20));
    CHECK(ep_idle(x.e));
}

TEST_CASE_METHOD(IpcTest, "ipc: cap transfer with SLOT_ANY: several caps land in distinct free slots, lowest first") {
    Pair x = make_ep_pair();
    const uint32_t v1 = p.new_vmo(kPage), v2 = p.new_vmo(kPage), v3 = p.new_vmo(kPage), v4 = p.new_vmo(kPage);
    give(v1, x.cs, 11, kR | kG);
    give(v2, x.cs, 12, kR | kG);
    give(v3, x.cs, 13, kR | kG);
    give(v4, x.cs, 14, kR | kG);
    // The receiver's CNode: slot 1 (the endpoint), 2 and 4 taken; 3, 5, 6... free.
    give(v1, x.ss, 2, kR);
    give(v1, x.ss, 4, kR);
    Worker s = spawn(x.cs, "s", 1);
    Worker r = spawn(x.ss, "r", 2);
    x.cs.put(kA, send_msg(1, {}, {11, 12, 13, 14}));
    x.ss.put(kA, recv_buf({ANVIL_SLOT_ANY, ANVIL_SLOT_ANY, 9, ANVIL_SLOT_ANY}));
    REQUIRE(recv(r, kEp, kA) == kBlocked);
    REQUIRE(send(s, kEp, kA) == kOk);
    REQUIRE(r.rax() == kOk);
    const anvil_msg_t got = x.ss.msg(kA);
    CHECK(got.ncaps == 4);
    CHECK(got.caps[0] == 3);
    CHECK(got.caps[1] == 5);
    CHECK(got.caps[2] == 9);
    CHECK(got.caps[3] == 6);
    CHECK(x.ss.cap(3)->object == p.cap(v1)->object);
    CHECK(x.ss.cap(5)->object == p.cap(v2)->object);
    CHECK(x.ss.cap(9)->object == p.cap(v3)->object);
    CHECK(x.ss.cap(6)->object == p.cap(v4)->object);
    CHECK(x.ss.cn->used() == 3 + 4);
}

TEST_CASE_METHOD(IpcTest, "ipc: cap transfer: fewer offered slots than sent caps transfers only the first ones") {
    const uint32_t offered = GENERATE(0u, 1u);
    INFO("offered " << offered);
    Pair x = make_ep_pair();
    const uint32_t v1 = p.new_vmo(kPage), v2 = p.new_vmo(kPage);
    give(v1, x.cs, 11, kR | kG);
    give(v2, x.cs, 12, kR | kG);
    Worker s = spawn(x.cs, "s", 1);
    Worker r = spawn(x.ss, "r", 2);
    x.cs.put(kA, send_msg(1, pattern(2), {11, 12}));
    x.ss.put(kA, offered ? recv_buf({ANVIL_SLOT_ANY}) : recv_buf());
    REQUIRE(send(s, kEp, kA) == kBlocked);
    REQUIRE(recv(r, kEp, kA) == kOk);
    const anvil_msg_t got = x.ss.msg(kA);
    CHECK(got.len == 2);
    CHECK(got.ncaps == offered);
    if (offered) {
        CHECK(got.caps[0] == 2);
        CHECK(x.ss.cap(2)->object == p.cap(v1)->object);
    }
    CHECK(x.ss.cn->used() == 1 + offered);
    CHECK(kernel::cap_descendant_count(x.cs.cap(12)) == 0);
    CHECK_FALSE(x.cs.empty(11));
    CHECK_FALSE(x.cs.empty(12));
}

TEST_CASE_METHOD(IpcTest,
                 "ipc: an occupied offered slot fails the receiver with SLOT_OCCUPIED, and the sender stays queued") {
    Pair x = make_ep_pair(3);
    const uint32_t vmo = p.new_vmo(kPage);
    give(vmo, x.cs, 5, kR | kG);
    give(vmo, x.ss, 7, kR);  // occupied in the receiver
    Worker s = spawn(x.cs, "s", 1);
    Worker r = spawn(x.ss, "r", 2);
    x.cs.put(kA, send_msg(4, pattern(8), {5}));
    const anvil_msg_t bad = recv_buf({7});

    SECTION("sender first: recv returns SLOT_OCCUPIED, the sender keeps waiting") {
        REQUIRE(send(s, kEp, kA) == kBlocked);
        x.ss.put(kA, bad);
        CHECK(recv(r, kEp, kA) == kSlotOccupied);
        CHECK(s.blocked());
        CHECK(x.e->senders().front() == s.t);
        CHECK(same_msg(bad, x.ss.msg(kA)));  // buffer untouched
        CHECK(x.ss.cn->used() == 2);
        x.ss.put(kA, recv_buf({4096}));  // out of range: INVALID_CAP, same rule
        CHECK(recv(r, kEp, kA) == kInvalidCap);
        CHECK(s.blocked());
    }
    SECTION("receiver first: the receiver is woken with SLOT_OCCUPIED, the sender queues") {
        x.ss.put(kA, bad);
        REQUIRE(recv(r, kEp, kA) == kBlocked);
        CHECK(send(s, kEp, kA) == kBlocked);
        CHECK(r.runnable());
        CHECK(r.rax() == kSlotOccupied);
        CHECK(same_msg(bad, x.ss.msg(kA)));
        CHECK(x.e->senders().front() == s.t);
        CHECK(x.e->receivers().empty());
    }
    // The receiver tries again with a free slot.
    x.ss.put(kA, recv_buf({8}));
    REQUIRE(recv(r, kEp, kA) == kOk);
    CHECK(r.rdx() == 3);
    CHECK(x.ss.msg(kA).caps[0] == 8);
    CHECK(x.ss.cap(8)->object == p.cap(vmo)->object);
    CHECK(s.rax() == kOk);
    CHECK(ep_idle(x.e));
    check_no_ipc(s);
    check_no_ipc(r);
}

TEST_CASE_METHOD(IpcTest, "ipc: two caps offered the same free slot: SLOT_OCCUPIED for the receiver, nothing moves") {
    Pair x = make_ep_pair();
    const uint32_t v1 = p.new_vmo(kPage), v2 = p.new_vmo(kPage);
    give(v1, x.cs, 5, kR | kG);
    give(v2, x.cs, 6, kR | kG);
    Worker s = spawn(x.cs, "s", 1);
    Worker r = spawn(x.ss, "r", 2);
    x.cs.put(kA, send_msg(1, {}, {5, 6}));
    REQUIRE(send(s, kEp, kA) == kBlocked);
    x.ss.put(kA, recv_buf({8, 8}));
    CHECK(recv(r, kEp, kA) == kSlotOccupied);
    CHECK(x.ss.empty(8));
    CHECK(s.blocked());
    x.ss.put(kA, recv_buf({8, 9}));
    CHECK(recv(r, kEp, kA) == kOk);
    CHECK(s.rax() == kOk);
}

TEST_CASE_METHOD(IpcTest,
                 "ipc: SLOT_ANY with a full receiver CNode fails the receiver (NO_MEMORY), and the sender stays "
                 "queued") {
    Pair x = make_ep_pair();
    Space small = make_space(16);
    give(x.ep, small, 1, kR);
    const uint32_t vmo = p.new_vmo(kPage);
    for (uint32_t i = 2; i < 16; ++i)
        give(vmo, small, i, kR);
    give(vmo, x.cs, 5, kR | kG);
    Worker s = spawn(x.cs, "s", 1);
    Worker r = spawn(small, "r", 2);
    x.cs.put(kA, send_msg(1, {}, {5}));
    REQUIRE(send(s, kEp, kA) == kBlocked);
    small.put(kA, recv_buf({ANVIL_SLOT_ANY}));
    CHECK(recv(r, 1, kA) == kENoMemory);
    CHECK(s.blocked());
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, small.cn_slot, 15).status == kOk);
    CHECK(recv(r, 1, kA) == kOk);
    CHECK(small.msg(kA).caps[0] == 15);
    CHECK(s.rax() == kOk);
}

TEST_CASE_METHOD(IpcTest, "ipc: caps in a reply go to the caller's offered slots") {
    Pair x = make_ep_pair();
    const uint32_t vmo = p.new_vmo(kPage);
    give(vmo, x.ss, 5, kR | kW | kG | kM);
    Worker c = spawn(x.cs, "client", 1);
    Worker srv = spawn(x.ss, "server", 2);
    x.cs.put(kA, send_msg(1));
    x.cs.put(kB, recv_buf({ANVIL_SLOT_ANY}));
    x.ss.put(kA, recv_buf());
    x.ss.put(kB, send_msg(2, pattern(9), {5}));
    REQUIRE(call(c, kEp, kA, kB) == kBlocked);
    REQUIRE(recv(srv, kEp, kA) == kOk);
    REQUIRE(reply(srv, kB) == kOk);
    CHECK(c.rax() == kOk);
    const anvil_msg_t got = x.cs.msg(kB);
    CHECK(got.ncaps == 1);
    CHECK(got.caps[0] == 2);
    CHECK(x.cs.cap(2)->object == p.cap(vmo)->object);
    CHECK(x.cs.cap(2)->rights == (kR | kW | kG | kM));
    REQUIRE(p.sys(ANVIL_SYS_cap_revoke, x.ss.cn_slot, 5).status == kOk);
    CHECK(x.cs.empty(2));
}

// ---- badges -------------------------------------------------------------------------------

TEST_CASE_METHOD(IpcTest, "ipc: badges: each minted cap's badge reaches the receiver, and an unbadged cap gives 0") {
    Pair x = make_ep_pair();  // client slot 1: unbadged
    const uint32_t minted = p.sys(ANVIL_SYS_cap_copy, kSelfCNode, x.ep, kSelfCNode, ANVIL_SLOT_ANY, kAll, 0xabc).out0;
    REQUIRE(p.cap(minted)->badge == 0xabc);
    give(minted, x.cs, 2, kW);  // keeps the badge
    give(x.ep, x.cs, 3, kW, 0xffffffffffffffffull);
    CHECK(p.sys(ANVIL_SYS_cap_copy, kSelfCNode, minted, x.cs.cn_slot, 4, kAll, 0x1).status == kInvalidArg);  // no re-mint
    Worker s = spawn(x.cs, "s", 1);
    Worker r = spawn(x.ss, "r", 2);
    x.cs.put(kA, send_msg(1));
    const uint32_t slots[] = {1, 2, 3};
    const uint64_t badges[] = {0, 0xabc, 0xffffffffffffffffull};
    for (int i = 0; i < 3; ++i) {
        INFO("cap " << slots[i]);
        x.ss.put(kA, recv_buf());
        if (i % 2) {
            REQUIRE(recv(r, kEp, kA) == kBlocked);
            REQUIRE(send(s, slots[i], kA) == kOk);
            CHECK(r.rax() == kOk);
            CHECK(r.rdx() == badges[i]);
        } else {
            REQUIRE(call(s, slots[i], kA, kB) == kBlocked);
            REQUIRE(recv(r, kEp, kA) == kOk);
            CHECK(r.rdx() == badges[i]);
            x.ss.put(kB, send_msg(0));
            REQUIRE(reply(r, kB) == kOk);
            CHECK(s.rax() == kOk);
        }
    }
    CHECK(ep_idle(x.e));
}

// ---- PEER_CLOSED --------------------------------------------------------------------------

TEST_CASE_METHOD(IpcTest,
                 "ipc: deleting the last endpoint cap wakes every waiting sender and caller with PEER_CLOSED") {
    Pair x = make_ep_pair();
    Worker s = spawn(x.cs, "s", 1);
    Worker c = spawn(x.cs, "c", 2);
    x.cs.put(kA, send_msg(1));
    x.cs.put(kB, send_msg(2));
    x.cs.put(kC, recv_buf());
    REQUIRE(send(s, kEp, kA) == kBlocked);
    REQUIRE(call(c, kEp, kB, kC) == kBlocked);
    REQUIRE(p.sys(ANVIL_SYS_cap_revoke, kSelfCNode, x.ep).status == kOk);
    CHECK(s.blocked());  // p's cap still holds it
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, x.ep).status == kOk);
    CHECK(s.runnable());
    CHECK(s.rax() == kEPeerClosed);
    CHECK(c.runnable());
    CHECK(c.rax() == kEPeerClosed);
    check_no_ipc(s);
    check_no_ipc(c);
    CHECK(x.cs.msg(kC).label == 0xeeeeeeeeeeeeeeeeull);
    CHECK(x.cs.empty(1));
    CHECK(x.ss.empty(1));
}

TEST_CASE_METHOD(IpcTest, "ipc: deleting the last endpoint cap wakes every waiting receiver with PEER_CLOSED") {
    Pair x = make_ep_pair();
    Worker r1 = spawn(x.ss, "r1", 1);
    Worker r2 = spawn(x.ss, "r2", 2);
    x.ss.put(kA, recv_buf());
    x.ss.put(kB, recv_buf());
    REQUIRE(recv(r1, kEp, kA) == kBlocked);
    REQUIRE(recv(r2, kEp, kB) == kBlocked);
    // Caps go one by one; the last one destroys the endpoint.
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, x.ep).status == kOk);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, x.cs.cn_slot, 1).status == kOk);
    CHECK(r1.blocked());
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, x.ss.cn_slot, 1).status == kOk);
    CHECK(r1.rax() == kEPeerClosed);
    CHECK(r2.rax() == kEPeerClosed);
    CHECK(r1.runnable());
    CHECK(r2.runnable());
    check_no_ipc(r1);
    check_no_ipc(r2);
}

TEST_CASE_METHOD(IpcTest, "ipc: a caller already waiting for its reply is not disturbed by the endpoint going away") {
    auto [x, c, srv] = pending_call();
    REQUIRE(p.sys(ANVIL_SYS_cap_revoke, kSelfCNode, x.ep).status == kOk);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, x.ep).status == kOk);
    CHECK(c.blocked());
    CHECK(reply(srv, kB) == kOk);
    CHECK(c.rax() == kOk);
    CHECK(x.cs.msg(kB).label == 2);
    check_no_ipc(c);
    check_no_ipc(srv);
}

TEST_CASE_METHOD(IpcTest,
                 "ipc: a server that abandons a call (recv again, exit, fault, destroyed) gives its caller "
                 "PEER_CLOSED") {
    auto [x, c, srv] = pending_call();
    REQUIRE(c->ipc.wait == IpcWait::kReply);

    SECTION("recv again") {
        CHECK(recv(srv, kEp, kA) == kBlocked);
        CHECK(srv->ipc.reply_to == nullptr);
        // Leave nothing waiting: a sender wakes it.
        Worker s = spawn(x.cs, "s", 3);
        x.cs.put(kC, send_msg(9));
        REQUIRE(send(s, kEp, kC) == kOk);
        CHECK(srv.rax() == kOk);
    }
    SECTION("try_recv again (WOULD_BLOCK) keeps the reply owed; a blocking recv abandons it") {
        CHECK(try_recv(srv, kEp, kA) == kEWouldBlock);
        CHECK(c.blocked());
        CHECK(srv->ipc.reply_to == c.t);
        CHECK(recv(srv, kEp, kA) == kBlocked);
        Worker s = spawn(x.cs, "s", 3);
        x.cs.put(kC, send_msg(9));
        REQUIRE(send(s, kEp, kC) == kOk);
    }
    SECTION("reply_recv with a bad reply buffer does not abandon it") {
        CHECK(reply_recv(srv, kEp, kUnmapped, kA) == kFault);
        CHECK(c.blocked());
        CHECK(recv(srv, kEp, kA) == kBlocked);
        Worker s = spawn(x.cs, "s", 3);
        x.cs.put(kC, send_msg(9));
        REQUIRE(send(s, kEp, kC) == kOk);
    }
    SECTION("exit") {
        as(srv, ANVIL_SYS_thread_exit, {3});
        CHECK(srv.state() == ThreadState::kExited);
    }
    SECTION("fault") {
        run(srv);
        kernel::on_fault(srv.cpu, kernel::FaultInfo{kernel::FaultKind::kPageNotPresent, kernel::FaultAccess::kRead,
                                                    kUnmapped, 14, 4});
        CHECK(srv.state() == ThreadState::kFaulted);
    }
    SECTION("destroyed (last TCB cap deleted)") {
        REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, srv.slot).status == kOk);
        CHECK(sched().current(srv.cpu) == nullptr);
    }
    CHECK(c.runnable());
    CHECK(c.rax() == kEPeerClosed);
    CHECK(x.cs.msg(kB).label == 0xeeeeeeeeeeeeeeeeull);
    check_no_ipc(c);
    CHECK(ep_idle(x.e));
}

TEST_CASE_METHOD(IpcTest,
                 "ipc: a thread destroyed while it waits leaves its queue, and a caller destroyed frees its server") {
    Pair x = make_ep_pair();
    Worker a = spawn(x.cs, "a", 1);
    Worker b = spawn(x.cs, "b", 2);
    Worker srv = spawn(x.ss, "server", 3);
    x.cs.put(kA, send_msg(1));
    x.cs.put(kB, send_msg(2));
    x.cs.put(kC, recv_buf());
    x.ss.put(kA, recv_buf());
    x.ss.put(kB, send_msg(0));
    REQUIRE(send(a, kEp, kA) == kBlocked);
    REQUIRE(call(b, kEp, kB, kC) == kBlocked);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, a.slot).status == kOk);  // a goes
    CHECK(x.e->senders().size() == 1);
    REQUIRE(recv(srv, kEp, kA) == kOk);
    CHECK(x.ss.msg(kA).label == 2);
    CHECK(srv->ipc.reply_to == b.t);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, b.slot).status == kOk);  // the caller goes
    CHECK(srv->ipc.reply_to == nullptr);
    CHECK(reply(srv, kB) == kBadState);
    // A receiver destroyed while it waits.
    x.ss.put(kA, recv_buf());
    REQUIRE(recv(srv, kEp, kA) == kBlocked);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, srv.slot).status == kOk);
    CHECK(ep_idle(x.e));
}

// ---- closing: the last cap with READ goes ------------------------------------------------

namespace {

// A Pair whose only caps with READ are the server space's (and `also`'s, given
// a READ cap in slot 1 if not null): the controller's own is deleted, the
// client's W|G keeps the endpoint alive. A sender and a caller of the client
// space wait on it.
struct WaitingOnLastReader {
    Pair x;
    Worker s, c;
};

WaitingOnLastReader waiting_on_last_reader(Controller& ctl, const Space* also = nullptr) {
    Pair x = ctl.make_ep_pair();
    if (also)
        ctl.give(x.ep, *also, kEp, kR);
    REQUIRE(ctl.p.sys(ANVIL_SYS_cap_delete, kSelfCNode, x.ep).status == kOk);
    REQUIRE(x.e->receive_caps() == (also ? 2u : 1u));
    Worker s = ctl.spawn(x.cs, "s", 1);
    Worker c = ctl.spawn(x.cs, "c", 2);
    x.cs.put(kA, send_msg(1));
    x.cs.put(kB, send_msg(2));
    x.cs.put(kC, recv_buf());
    REQUIRE(ctl.send(s, kEp, kA) == kBlocked);
    REQUIRE(ctl.call(c, kEp, kB, kC) == kBlocked);
    return {x, s, c};
}

// The endpoint is closed and alive (the client's cap holds it): nothing waits,
// and every send from the client space fails at once.
void check_closed(Controller& ctl, const Pair& x, const Worker& w) {
    CHECK(x.e->closed());
    CHECK(ep_idle(x.e));
    x.cs.put(kA, send_msg(7));
    CHECK(ctl.send(w, kEp, kA) == kEPeerClosed);
    CHECK(ctl.try_send(w, kEp, kA) == kEPeerClosed);
    CHECK(ctl.call(w, kEp, kA, kC) == kEPeerClosed);
    // Before the message is looked at: a bad one is PEER_CLOSED too.
    CHECK(ctl.send(w, kEp, kUnmapped) == kEPeerClosed);
    CHECK(ep_idle(x.e));
    check_no_ipc(w);
}

}  // namespace

TEST_CASE_METHOD(IpcTest,
                 "ipc: when the last cap with READ goes, waiting senders and callers wake with PEER_CLOSED, and "
                 "later sends fail at once") {
    auto [x, s, c] = waiting_on_last_reader(*this);
    // More WRITE copies (one badged) do not keep it open.
    REQUIRE(p.sys(ANVIL_SYS_cap_copy, x.cs.cn_slot, kEp, x.cs.cn_slot, 2, kW, 0).status == kOk);
    REQUIRE(p.sys(ANVIL_SYS_cap_copy, x.cs.cn_slot, kEp, x.cs.cn_slot, 3, kW | kG, 0xb0).status == kOk);
    SECTION("deleted") { REQUIRE(p.sys(ANVIL_SYS_cap_delete, x.ss.cn_slot, kEp).status == kOk); }
    SECTION("its CNode destroyed (the last cap to it deleted)") {
        REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, x.ss.cn_slot).status == kOk);
    }
    CHECK(s.runnable());
    CHECK(s.rax() == kEPeerClosed);
    CHECK(c.runnable());
    CHECK(c.rax() == kEPeerClosed);
    CHECK(x.cs.msg(kC).label == 0xeeeeeeeeeeeeeeeeull);  // no reply written
    check_no_ipc(s);
    check_no_ipc(c);
    CHECK(x.e->receive_caps() == 0);
    check_closed(*this, x, s);
    CHECK(!x.cs.empty(2));
    CHECK(!x.cs.empty(3));
}

TEST_CASE_METHOD(IpcTest, "ipc: a revoke that takes the last cap with READ with it closes the endpoint") {
    auto [x, s, c] = waiting_on_last_reader(*this);
    // Revoking an endpoint cap never closes it (the revoker keeps its READ), but
    // a revoke can destroy the CNode that holds the last one: here the server
    // space's CNode is held only through caps derived from its own cap to itself.
    const uint32_t own = give(x.ss.cn_slot, x.ss, 2);  // in ss itself: holds no reference
    const SysResult back = p.sys(ANVIL_SYS_cap_copy, x.ss.cn_slot, own, kSelfCNode, ANVIL_SLOT_ANY, kAll, 0);
    REQUIRE(back.status == kOk);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, x.ss.cn_slot).status == kOk);
    CHECK(s.blocked());
    REQUIRE(p.sys(ANVIL_SYS_cap_revoke, static_cast<uint32_t>(back.out0), own).status == kOk);
    CHECK(s.rax() == kEPeerClosed);
    CHECK(c.rax() == kEPeerClosed);
    check_closed(*this, x, s);
}

TEST_CASE_METHOD(IpcTest, "ipc: destroying the process that holds the last cap with READ closes the endpoint") {
    auto [x, s, c] = waiting_on_last_reader(*this);
    // The server process: a thread in the server space, which holds its CNode.
    Worker srv = spawn(x.ss, "server", 3);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, x.ss.cn_slot).status == kOk);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, x.ss.vs_slot).status == kOk);
    CHECK(s.blocked());
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, srv.slot).status == kOk);  // the last reference to it
    CHECK(s.rax() == kEPeerClosed);
    CHECK(c.rax() == kEPeerClosed);
    check_closed(*this, x, s);
}

TEST_CASE_METHOD(IpcTest, "ipc: a cap with READ anywhere keeps the endpoint open, and WRITE-only caps do not") {
    const Space other = make_space();
    auto [x, s, c] = waiting_on_last_reader(*this, &other);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, x.ss.cn_slot, kEp).status == kOk);
    CHECK(x.e->receive_caps() == 1);
    CHECK_FALSE(x.e->closed());
    CHECK(s.blocked());
    CHECK(c.blocked());
    // The other copy receives the waiting messages, in order.
    Worker r = spawn(other, "r", 3);
    other.put(kA, recv_buf());
    REQUIRE(recv(r, kEp, kA) == kOk);
    CHECK(other.msg(kA).label == 1);
    CHECK(s.rax() == kOk);
    other.put(kA, recv_buf());
    REQUIRE(recv(r, kEp, kA) == kOk);
    CHECK(other.msg(kA).label == 2);
    CHECK(c->ipc.wait == IpcWait::kReply);
    // Closing leaves the caller its server: a reply still reaches it.
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, other.cn_slot, kEp).status == kOk);
    CHECK(x.e->closed());
    CHECK(c.blocked());
    other.put(kB, send_msg(3));
    REQUIRE(reply(r, kB) == kOk);
    CHECK(c.rax() == kOk);
    CHECK(x.cs.msg(kC).label == 3);
}

TEST_CASE_METHOD(IpcTest,
                 "ipc: a waiting receiver whose endpoint loses its last cap with READ wakes with PEER_CLOSED") {
    Pair x = make_ep_pair();
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, x.ep).status == kOk);
    Worker r = spawn(x.ss, "r", 1);
    x.ss.put(kA, recv_buf());
    REQUIRE(recv(r, kEp, kA) == kBlocked);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, x.ss.cn_slot, kEp).status == kOk);  // the client's cap remains
    CHECK(r.runnable());
    CHECK(r.rax() == kEPeerClosed);
    check_no_ipc(r);
    CHECK(ep_idle(x.e));
}

TEST_CASE_METHOD(IpcTest, "ipc: a sender suspended while it waits gets PEER_CLOSED when it resumes on a closed endpoint") {
    auto [x, s, c] = waiting_on_last_reader(*this);
    REQUIRE(p.sys(ANVIL_SYS_tcb_suspend, s.slot).status == kOk);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, x.ss.cn_slot, kEp).status == kOk);
    CHECK(c.rax() == kEPeerClosed);
    CHECK(s.state() == ThreadState::kSuspended);
    // Resumed, it re-issues its send, which fails at once.
    CHECK(s->regs().rip == kRip - 2);
    run(s);
    s->regs().rip += 2;  // the CPU executes `syscall` again
    kernel::on_syscall(s.cpu);
    CHECK(s.rax() == kEPeerClosed);
    CHECK(ep_idle(x.e));
}

TEST_CASE_METHOD(IpcTest, "fault endpoint: on a closed endpoint the fault message is dropped, queued or new") {
    Pair x = make_ep_pair();
    const uint32_t fcap = p.sys(ANVIL_SYS_cap_copy, kSelfCNode, x.ep, kSelfCNode, ANVIL_SLOT_ANY, kW, 0xf4).out0;
    Worker early = spawn(x.cs, "early", 1, fcap);
    Worker late = spawn(x.cs, "late", 2, fcap);
    as(early, ANVIL_SYS_thread_exit, {5});
    REQUIRE(x.e->senders().front() == early.t);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, x.ep).status == kOk);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, x.ss.cn_slot, kEp).status == kOk);
    CHECK(x.e->closed());
    CHECK(ep_idle(x.e));  // the queued message went
    as(late, ANVIL_SYS_thread_exit, {6});
    CHECK(late.state() == ThreadState::kExited);
    CHECK(ep_idle(x.e));  // the new one never queued
    check_no_ipc(early);
    check_no_ipc(late);
}

// ---- bad buffers --------------------------------------------------------------------------

TEST_CASE_METHOD(IpcTest, "ipc: an unreadable message fails the sender (FAULT) and nothing is queued") {
    Pair x = make_ep_pair();
    Worker s = spawn(x.cs, "s", 1);
    Worker r = spawn(x.ss, "r", 2);
    const uint64_t bad[] = {kUnmapped, kKernelHalf, 0, kUserBuf + kUserBufSize - kMsgSize + 1, ~0ull - 16};
    for (uint64_t va : bad) {
        INFO("va " << std::hex << va);
        CHECK(send(s, kEp, va) == kFault);
        CHECK(try_send(s, kEp, va) == kFault);
        CHECK(call(s, kEp, va, kB) == kFault);
    }
    // With a receiver waiting: the sender fails, the receiver keeps waiting.
    x.ss.put(kA, recv_buf());
    REQUIRE(recv(r, kEp, kA) == kBlocked);
    CHECK(send(s, kEp, kUnmapped) == kFault);
    CHECK(r.blocked());
    CHECK(x.e->receivers().front() == r.t);
    // A message at the very end of the mapping is fine.
    const uint64_t last = kUserBuf + kUserBufSize - kMsgSize;
    x.cs.put(last, send_msg(5, pattern(1024)));
    CHECK(send(s, kEp, last) == kOk);
    CHECK(r.rax() == kOk);
    check_delivered(x.ss.msg(kA), 5, pattern(1024));
    check_no_ipc(s);
    check_no_ipc(r);
}

TEST_CASE_METHOD(IpcTest, "ipc: a receive buffer that is not writable is FAULT at once, nothing queued") {
    Pair x = make_ep_pair();
    Worker s = spawn(x.cs, "s", 1);
    Worker r = spawn(x.ss, "r", 2);
    const uint64_t bad[] = {kUserRoPage, kUnmapped, kKernelHalf, kUserBuf + kUserBufSize - kMsgSize + 1};
    for (uint64_t va : bad) {
        INFO("va " << std::hex << va);
        CHECK(recv(r, kEp, va) == kFault);
        CHECK(try_recv(r, kEp, va) == kFault);
        CHECK(reply_recv(r, kEp, 0, va) == kFault);
    }
    CHECK(ep_idle(x.e));
    // With a sender waiting: the receiver fails, the sender keeps waiting.
    x.cs.put(kA, send_msg(1));
    REQUIRE(send(s, kEp, kA) == kBlocked);
    CHECK(recv(r, kEp, kUserRoPage) == kFault);
    CHECK(s.blocked());
    x.ss.put(kA, recv_buf());
    CHECK(recv(r, kEp, kA) == kOk);
    CHECK(s.rax() == kOk);
}

TEST_CASE_METHOD(IpcTest,
                 "ipc: a receiver whose buffer went bad while it waited fails alone, and the sender goes to the "
                 "next") {
    Pair x = make_ep_pair(8);
    Space rs2 = make_space();
    give(x.ep, rs2, 1, kR);
    Worker r1 = spawn(x.ss, "r1", 1);
    Worker r2 = spawn(rs2, "r2", 2);
    Worker s = spawn(x.cs, "s", 3);
    x.ss.put(kA, recv_buf());
    rs2.put(kA, recv_buf());
    x.cs.put(kA, send_msg(6, pattern(6)));
    REQUIRE(recv(r1, kEp, kA) == kBlocked);
    REQUIRE(p.sys(ANVIL_SYS_vma_unmap, x.ss.vs_slot, kUserBuf, kUserBufSize).status == kOk);

    SECTION("another receiver waits: it gets the message") {
        REQUIRE(recv(r2, 1, kA) == kBlocked);
        CHECK(send(s, kEp, kA) == kOk);
        CHECK(r1.rax() == kFault);
        CHECK(r2.rax() == kOk);
        CHECK(r2.rdx() == 8);
        check_delivered(rs2.msg(kA), 6, pattern(6));
    }
    SECTION("no other receiver: the sender queues until one comes") {
        CHECK(send(s, kEp, kA) == kBlocked);
        CHECK(r1.rax() == kFault);
        CHECK(r1.runnable());
        CHECK(x.e->senders().front() == s.t);
        CHECK(recv(r2, 1, kA) == kOk);
        CHECK(s.rax() == kOk);
        check_delivered(rs2.msg(kA), 6, pattern(6));
    }
    SECTION("try_send: WOULD_BLOCK after failing the bad receiver") {
        CHECK(try_send(s, kEp, kA) == kEWouldBlock);
        CHECK(r1.rax() == kFault);
        CHECK(ep_idle(x.e));
    }
    CHECK(ep_idle(x.e));
    for (const Worker* w : {&r1, &r2, &s})
        check_no_ipc(*w);
}

TEST_CASE_METHOD(IpcTest,
                 "ipc: a sender whose message went bad while queued fails alone, and the receiver takes the next") {
    Pair x = make_ep_pair();
    Space good = make_space();
    give(x.ep, good, 1, kW, 0x600d);
    const uint32_t vmo = p.new_vmo(kPage);
    give(vmo, x.cs, 5, kR | kG);
    Worker bad = spawn(x.cs, "bad", 1);
    Worker ok = spawn(good, "ok", 2);
    Worker r = spawn(x.ss, "r", 3);
    good.put(kA, send_msg(2, pattern(2)));

    SECTION("its buffer was unmapped") {
        x.cs.put(kA, send_msg(1));
        REQUIRE(send(bad, kEp, kA) == kBlocked);
        REQUIRE(p.sys(ANVIL_SYS_vma_unmap, x.cs.vs_slot, kUserBuf, kUserBufSize).status == kOk);
        REQUIRE(send(ok, 1, kA) == kBlocked);
        x.ss.put(kA, recv_buf());
        CHECK(recv(r, kEp, kA) == kOk);
        CHECK(bad.rax() == kFault);
    }
    SECTION("its message now says len > 1024") {
        x.cs.put(kA, send_msg(1));
        REQUIRE(send(bad, kEp, kA) == kBlocked);
        anvil_msg_t m = send_msg(1);
        m.len = 5000;
        x.cs.put(kA, m);
        REQUIRE(send(ok, 1, kA) == kBlocked);
        x.ss.put(kA, recv_buf());
        CHECK(recv(r, kEp, kA) == kOk);
        CHECK(bad.rax() == kInvalidArg);
    }
    SECTION("the cap it names was deleted") {
        x.cs.put(kA, send_msg(1, {}, {5}));
        REQUIRE(send(bad, kEp, kA) == kBlocked);
        REQUIRE(p.sys(ANVIL_SYS_cap_delete, x.cs.cn_slot, 5).status == kOk);
        REQUIRE(send(ok, 1, kA) == kBlocked);
        x.ss.put(kA, recv_buf({ANVIL_SLOT_ANY}));
        CHECK(recv(r, kEp, kA) == kOk);
        CHECK(bad.rax() == kInvalidCap);
    }
    CHECK(bad.runnable());
    CHECK(r.rdx() == 0x600d);
    check_delivered(x.ss.msg(kA), 2, pattern(2));
    CHECK(ok.rax() == kOk);
    CHECK(ep_idle(x.e));
    for (const Worker* w : {&bad, &ok, &r})
        check_no_ipc(*w);
}

TEST_CASE_METHOD(IpcTest, "ipc: a caller whose reply buffer went bad gets FAULT, and the server's reply succeeds") {
    auto [x, c, srv] = pending_call();
    REQUIRE(p.sys(ANVIL_SYS_vma_unmap, x.cs.vs_slot, kUserBuf, kUserBufSize).status == kOk);
    CHECK(reply(srv, kB) == kOk);
    CHECK(c.runnable());
    CHECK(c.rax() == kFault);
    check_no_ipc(c);
    check_no_ipc(srv);
}

// ---- suspend / resume ---------------------------------------------------------------------

TEST_CASE_METHOD(IpcTest, "ipc: tcb_suspend of a thread blocked in send/recv/call re-issues the call when it resumes") {
    Pair x = make_ep_pair(0x51);
    Worker s = spawn(x.cs, "s", 1);
    Worker r = spawn(x.ss, "r", 2);
    x.cs.put(kA, send_msg(1, pattern(12)));
    x.cs.put(kB, recv_buf());
    x.ss.put(kA, recv_buf());
    x.ss.put(kB, send_msg(2, pattern(13)));

    // Suspends a blocked worker, checks it is off every queue with its call ready to
    // run again, resumes it and re-executes the syscall instruction.
    auto suspend_and_reissue = [&](const Worker& w, uint64_t nr, IpcWait waited) {
        REQUIRE(w.blocked());
        REQUIRE(w->ipc.wait == waited);
        REQUIRE(p.sys(ANVIL_SYS_tcb_suspend, w.slot).status == kOk);
        REQUIRE(p.sys(ANVIL_SYS_tcb_suspend, w.slot).status == kOk);  // twice: rewound once
        CHECK(w.state() == ThreadState::kSuspended);
        CHECK(ep_idle(x.e));
        check_no_ipc(w);
        CHECK(w->regs().rip == kRip - 2);
        CHECK(w->regs().rax == nr);
        REQUIRE(p.sys(ANVIL_SYS_tcb_resume, w.slot).status == kOk);
        REQUIRE(run_next(w.cpu) == w.name);
        w->regs().rip += 2;  // the CPU executes `syscall` again
        kernel::on_syscall(w.cpu);
    };

    SECTION("send") {
        REQUIRE(send(s, kEp, kA) == kBlocked);
        suspend_and_reissue(s, ANVIL_SYS_ipc_send, IpcWait::kSend);
        CHECK(s.blocked());  // still nobody to take it
        CHECK(x.e->senders().size() == 1);
        CHECK(recv(r, kEp, kA) == kOk);
        CHECK(r.rdx() == 0x51);
        CHECK(s.rax() == kOk);
        check_delivered(x.ss.msg(kA), 1, pattern(12));
    }
    SECTION("send, with a receiver arriving while suspended") {
        REQUIRE(send(s, kEp, kA) == kBlocked);
        REQUIRE(p.sys(ANVIL_SYS_tcb_suspend, s.slot).status == kOk);
        REQUIRE(recv(r, kEp, kA) == kBlocked);  // the suspended sender is not taken
        REQUIRE(p.sys(ANVIL_SYS_tcb_resume, s.slot).status == kOk);
        REQUIRE(run_next(1) == "s");
        s->regs().rip += 2;
        kernel::on_syscall(1);
        CHECK(s.rax() == kOk);
        CHECK(r.rax() == kOk);
        check_delivered(x.ss.msg(kA), 1, pattern(12));
    }
    SECTION("recv") {
        REQUIRE(recv(r, kEp, kA) == kBlocked);
        suspend_and_reissue(r, ANVIL_SYS_ipc_recv, IpcWait::kRecv);
        CHECK(r.blocked());
        CHECK(send(s, kEp, kA) == kOk);
        CHECK(r.rax() == kOk);
        CHECK(r.rdx() == 0x51);
        check_delivered(x.ss.msg(kA), 1, pattern(12));
    }
    SECTION("call, still queued") {
        REQUIRE(call(s, kEp, kA, kB) == kBlocked);
        suspend_and_reissue(s, ANVIL_SYS_ipc_call, IpcWait::kCall);
        CHECK(s->ipc.wait == IpcWait::kCall);
        CHECK(recv(r, kEp, kA) == kOk);
        CHECK(reply(r, kB) == kOk);
        CHECK(s.rax() == kOk);
        check_delivered(x.cs.msg(kB), 2, pattern(13));
    }
    SECTION("reply_recv blocked in its recv") {
        REQUIRE(reply_recv(r, kEp, kB, kA) == kBlocked);
        suspend_and_reissue(r, ANVIL_SYS_ipc_reply_recv, IpcWait::kRecv);
        CHECK(r.blocked());
        CHECK(send(s, kEp, kA) == kOk);
        CHECK(r.rax() == kOk);
    }
    CHECK(ep_idle(x.e));
    check_no_ipc(s);
    check_no_ipc(r);
}

TEST_CASE_METHOD(IpcTest, "ipc: tcb_suspend of a caller waiting for its reply fails the call with BAD_STATE") {
    auto [x, c, srv] = pending_call();
    REQUIRE(p.sys(ANVIL_SYS_tcb_suspend, c.slot).status == kOk);
    CHECK(c.state() == ThreadState::kSuspended);
    CHECK(c.rax() == kBadState);
    CHECK(c->regs().rip == kRip);
    check_no_ipc(c);
    CHECK(srv->ipc.reply_to == nullptr);
    CHECK(reply(srv, kB) == kBadState);
    CHECK(x.cs.msg(kB).label == 0xeeeeeeeeeeeeeeeeull);
    REQUIRE(p.sys(ANVIL_SYS_tcb_resume, c.slot).status == kOk);
    CHECK(run_next(1) == "client");
    CHECK(c.rax() == kBadState);
}

// ---- notifications ------------------------------------------------------------------------

TEST_CASE_METHOD(IpcTest, "notify: signal ORs bits, wait takes and clears them, and bits=0 is INVALID_ARG") {
    Space sp = make_space();
    const uint32_t n = new_notification();
    Notification* note = p.object<Notification>(n);
    give(n, sp, 1, kW);
    give(n, sp, 2, kR);
    Worker a = spawn(sp, "a", 1);
    Worker b = spawn(sp, "b", 2);
    CHECK(as(a, ANVIL_SYS_notify_signal, {1, 0}) == kInvalidArg);
    CHECK(as(a, ANVIL_SYS_notify_signal, {2, 1}) == kAccessDenied);  // needs WRITE
    CHECK(as(b, ANVIL_SYS_notify_wait, {1}) == kAccessDenied);       // needs READ
    CHECK(as(a, ANVIL_SYS_notify_signal, {3, 1}) == kInvalidCap);
    CHECK(note->bits == 0);

    CHECK(as(a, ANVIL_SYS_notify_signal, {1, 0x5}) == kOk);
    CHECK(as(a, ANVIL_SYS_notify_signal, {1, 0x104}) == kOk);
    CHECK(note->bits == 0x105);
    CHECK(as(b, ANVIL_SYS_notify_wait, {2}) == kOk);
    CHECK(b.rdx() == 0x105);
    CHECK(note->bits == 0);
    // Nothing pending: the waiter blocks until a signal, which hands it the bits.
    CHECK(as(b, ANVIL_SYS_notify_wait, {2}) == kBlocked);
    CHECK(note->waiters().front() == b.t);
    CHECK(as(a, ANVIL_SYS_notify_signal, {1, 0x8000000000000000ull}) == kOk);
    CHECK(b.runnable());
    CHECK(b.rax() == kOk);
    CHECK(b.rdx() == 0x8000000000000000ull);
    CHECK(note->bits == 0);
    CHECK(note->waiters().empty());
    check_no_ipc(b);
}

TEST_CASE_METHOD(IpcTest,
                 "notify: one signal wakes one waiter (FIFO), and a destroyed notification wakes waiters with "
                 "PEER_CLOSED") {
    Space sp = make_space();
    const uint32_t n = new_notification();
    Notification* note = p.object<Notification>(n);
    give(n, sp, 1, kR | kW);
    Worker w1 = spawn(sp, "w1", 1);
    Worker w2 = spawn(sp, "w2", 2);
    Worker w3 = spawn(sp, "w3", 3);
    REQUIRE(as(w1, ANVIL_SYS_notify_wait, {1}) == kBlocked);
    REQUIRE(as(w2, ANVIL_SYS_notify_wait, {1}) == kBlocked);
    REQUIRE(as(w3, ANVIL_SYS_notify_wait, {1}) == kBlocked);
    CHECK(note->waiters().size() == 3);
    // The controller signals through its own cap.
    CHECK(p.sys(ANVIL_SYS_notify_signal, n, 0x3).status == kOk);
    CHECK(w1.runnable());
    CHECK(w1.rdx() == 0x3);
    CHECK(w2.blocked());
    CHECK(note->bits == 0);
    CHECK(p.sys(ANVIL_SYS_notify_signal, n, 0x10).status == kOk);
    CHECK(w2.runnable());
    CHECK(w2.rdx() == 0x10);
    CHECK(w3.blocked());

    SECTION("suspend re-issues the wait") {
        REQUIRE(p.sys(ANVIL_SYS_tcb_suspend, w3.slot).status == kOk);
        CHECK(note->waiters().empty());
        check_no_ipc(w3);
        CHECK(w3->regs().rip == kRip - 2);
        CHECK(w3->regs().rax == ANVIL_SYS_notify_wait);
        CHECK(p.sys(ANVIL_SYS_notify_signal, n, 0x40).status == kOk);
        CHECK(note->bits == 0x40);  // kept for the next wait
        REQUIRE(p.sys(ANVIL_SYS_tcb_resume, w3.slot).status == kOk);
        REQUIRE(run_next(3) == "w3");
        w3->regs().rip += 2;
        kernel::on_syscall(3);
        CHECK(w3.rax() == kOk);
        CHECK(w3.rdx() == 0x40);
        CHECK(note->bits == 0);
    }
    SECTION("destroyed") {
        REQUIRE(p.sys(ANVIL_SYS_cap_revoke, kSelfCNode, n).status == kOk);
        REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, n).status == kOk);
        CHECK(w3.runnable());
        CHECK(w3.rax() == kEPeerClosed);
    }
    check_no_ipc(w3);
}

// ---- timed notification waits -------------------------------------------------------------

namespace {

void ticks(uint64_t n) {
    for (uint64_t i = 0; i < n; ++i)
        kernel::clock_tick();
}

}  // namespace

TEST_CASE_METHOD(IpcTest, "notify: a timed wait polls with ticks 0 and takes pending bits at once") {
    Space sp = make_space();
    const uint32_t n = new_notification();
    give(n, sp, 1, kR | kW);
    give(n, sp, 2, kW);
    Worker w = spawn(sp, "w", 1);
    CHECK(as(w, ANVIL_SYS_notify_wait_timeout, {1, 0}) == kETimedOut);
    CHECK(as(w, ANVIL_SYS_notify_wait_timeout, {2, 5}) == kAccessDenied);  // needs READ
    CHECK(as(w, ANVIL_SYS_notify_wait_timeout, {3, 5}) == kInvalidCap);
    CHECK(as(w, ANVIL_SYS_notify_signal, {1, 0x9}) == kOk);
    CHECK(as(w, ANVIL_SYS_notify_wait_timeout, {1, 0}) == kOk);
    CHECK(w.rdx() == 0x9);
    CHECK(as(w, ANVIL_SYS_notify_signal, {1, 0x2}) == kOk);
    CHECK(as(w, ANVIL_SYS_notify_wait_timeout, {1, 7}) == kOk);
    CHECK(w.rdx() == 0x2);
    CHECK(kernel::deadline_waiters().empty());
    check_no_ipc(w);
}

TEST_CASE_METHOD(IpcTest, "notify: a timed wait ends with TIMED_OUT at its deadline unless a signal, suspend or "
                          "destroy ends it first") {
    Space sp = make_space();
    const uint32_t n = new_notification();
    Notification* note = p.object<Notification>(n);
    give(n, sp, 1, kR | kW);
    Worker w = spawn(sp, "w", 1);
    const uint64_t start = kernel::clock_ticks();
    REQUIRE(as(w, ANVIL_SYS_notify_wait_timeout, {1, 3}) == kBlocked);
    CHECK(w->deadline == start + 3);
    CHECK(kernel::deadline_waiters().front() == w.t);
    CHECK(kernel::next_deadline_in() == 3);

    SECTION("the deadline passes") {
        ticks(2);
        CHECK(w.blocked());
        CHECK(kernel::next_deadline_in() == 1);
        ticks(1);
        CHECK(w.runnable());
        CHECK(w.rax() == kETimedOut);
        CHECK(note->waiters().empty());
        CHECK(kernel::next_deadline_in() == 0);
    }
    SECTION("a signal comes first") {
        ticks(2);
        CHECK(p.sys(ANVIL_SYS_notify_signal, n, 0x11).status == kOk);
        CHECK(w.runnable());
        CHECK(w.rax() == kOk);
        CHECK(w.rdx() == 0x11);
        ticks(5);  // the old deadline passes: nothing happens to w
        CHECK(w.rax() == kOk);
    }
    SECTION("suspend takes it off the deadline list") {
        REQUIRE(p.sys(ANVIL_SYS_tcb_suspend, w.slot).status == kOk);
        CHECK(w.state() == ThreadState::kSuspended);
        ticks(5);
        CHECK(w.state() == ThreadState::kSuspended);
        CHECK(w->regs().rax == ANVIL_SYS_notify_wait_timeout);  // re-issued on resume
    }
    SECTION("destroying the notification wakes it with PEER_CLOSED") {
        REQUIRE(p.sys(ANVIL_SYS_cap_revoke, kSelfCNode, n).status == kOk);
        REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, n).status == kOk);
        CHECK(w.runnable());
        CHECK(w.rax() == kEPeerClosed);
        ticks(5);
        CHECK(w.rax() == kEPeerClosed);
    }
    CHECK(kernel::deadline_waiters().empty());
    check_no_ipc(w);
}

TEST_CASE_METHOD(IpcTest, "notify: timed waits wake in deadline order, FIFO among equal deadlines") {
    Space sp = make_space();
    const uint32_t n = new_notification();
    give(n, sp, 1, kR);
    Worker a = spawn(sp, "a", 1);
    Worker b = spawn(sp, "b", 2);
    Worker c = spawn(sp, "c", 3);
    REQUIRE(as(a, ANVIL_SYS_notify_wait_timeout, {1, 4}) == kBlocked);
    REQUIRE(as(b, ANVIL_SYS_notify_wait_timeout, {1, 2}) == kBlocked);
    REQUIRE(as(c, ANVIL_SYS_notify_wait_timeout, {1, 4}) == kBlocked);
    kernel::DeadlineList& list = kernel::deadline_waiters();
    CHECK(list.front() == b.t);
    CHECK(list.next(b.t) == a.t);
    CHECK(list.next(a.t) == c.t);
    ticks(2);
    CHECK(b.runnable());
    CHECK(a.blocked());
    CHECK(c.blocked());
    ticks(2);
    CHECK(a.runnable());
    CHECK(c.runnable());
    CHECK(a.rax() == kETimedOut);
    CHECK(c.rax() == kETimedOut);
    CHECK(list.empty());
}

// ---- fault messages -----------------------------------------------------------------------

namespace {

anvil_fault_msg_t fault_of(const anvil_msg_t& m) {
    anvil_fault_msg_t f;
    std::memcpy(&f, m.data, sizeof f);
    return f;
}

void check_fault_msg(const anvil_msg_t& m, const Worker& w, uint32_t kind, uint32_t access, uint64_t address,
                     uint64_t rip, int64_t code) {
    CHECK(m.label == ANVIL_FAULT_MSG_LABEL);
    CHECK(m.len == sizeof(anvil_fault_msg_t));
    CHECK(m.ncaps == 0);
    CHECK(all_bytes(m.data + sizeof(anvil_fault_msg_t), ANVIL_MSG_MAX_BYTES - sizeof(anvil_fault_msg_t), kRecvFill));
    const anvil_fault_msg_t f = fault_of(m);
    CHECK(f.thread_id == w->id());
    CHECK(f.kind == kind);
    CHECK(f.access == access);
    CHECK(f.address == address);
    CHECK(f.rip == rip);
    CHECK(f.exit_code == code);
}

}  // namespace

TEST_CASE_METHOD(IpcTest, "fault endpoint: thread_exit sends an EXIT message with the fault cap's badge") {
    const bool receiver_first = GENERATE(true, false);
    INFO((receiver_first ? "receiver first" : "exit first"));
    Pair x = make_ep_pair();
    const uint32_t fcap = p.sys(ANVIL_SYS_cap_copy, kSelfCNode, x.ep, kSelfCNode, ANVIL_SLOT_ANY, kW, 0xfa0).out0;
    Worker t = spawn(x.cs, "t", 1, fcap);
    Worker m = spawn(x.ss, "monitor", 2);
    x.ss.put(kA, recv_buf({ANVIL_SLOT_ANY}));
    if (receiver_first) {
        REQUIRE(recv(m, kEp, kA) == kBlocked);
        as(t, ANVIL_SYS_thread_exit, {static_cast<uint64_t>(-7)});
        CHECK(m.runnable());
        CHECK(m.rax() == kOk);
    } else {
        as(t, ANVIL_SYS_thread_exit, {static_cast<uint64_t>(-7)});
        CHECK(t->ipc.wait == IpcWait::kFaultMsg);
        CHECK(x.e->senders().front() == t.t);
        REQUIRE(recv(m, kEp, kA) == kOk);
    }
    CHECK(m.rdx() == 0xfa0);
    CHECK(t.state() == ThreadState::kExited);
    check_fault_msg(x.ss.msg(kA), t, ANVIL_FAULT_KIND_EXIT, 0, 0, kRip, -7);
    CHECK(x.ss.cn->used() == 1);  // no caps
    CHECK(ep_idle(x.e));
    check_no_ipc(t);
    check_no_ipc(m);
    CHECK(run_next(1) == "idle");
}

TEST_CASE_METHOD(IpcTest,
                 "fault endpoint: x87 and SIMD floating-point exceptions are faults of their own kinds (MF, XM)") {
    // Kinds from vectors as both backends decode them (kernel::fault_kind_of_vector).
    const uint64_t vector = GENERATE(16, 19);
    const uint32_t kind = vector == 16 ? ANVIL_FAULT_KIND_MF : ANVIL_FAULT_KIND_XM;
    CHECK(kernel::fault_kind_of_vector(vector) == (vector == 16 ? kernel::FaultKind::kX87 : kernel::FaultKind::kSimd));
    Pair x = make_ep_pair();
    const uint32_t fcap = p.sys(ANVIL_SYS_cap_copy, kSelfCNode, x.ep, kSelfCNode, ANVIL_SLOT_ANY, kW, 0xf3).out0;
    Worker t = spawn(x.cs, "t", 1, fcap);
    Worker m = spawn(x.ss, "monitor", 2);
    x.ss.put(kA, recv_buf());
    run(t);
    t->regs().rip = 0x402000;
    kernel::on_fault(1, kernel::FaultInfo{kernel::fault_kind_of_vector(vector), kernel::FaultAccess::kNone, 0,
                                          vector, 0});
    CHECK(t.state() == ThreadState::kFaulted);
    REQUIRE(recv(m, kEp, kA) == kOk);
    check_fault_msg(x.ss.msg(kA), t, kind, 0, 0, 0x402000, 0);
    CHECK(fault_of(x.ss.msg(kA)).vector == vector);
}

TEST_CASE_METHOD(IpcTest, "fault endpoint: a page fault sends a PAGE message with access and address") {
    const bool receiver_first = GENERATE(true, false);
    INFO((receiver_first ? "receiver first" : "fault first"));
    Pair x = make_ep_pair();
    const uint32_t fcap = p.sys(ANVIL_SYS_cap_copy, kSelfCNode, x.ep, kSelfCNode, ANVIL_SLOT_ANY, kW, 0xf1).out0;
    Worker t = spawn(x.cs, "t", 1, fcap);
    Worker m = spawn(x.ss, "monitor", 2);
    x.ss.put(kA, recv_buf());
    if (receiver_first)
        REQUIRE(recv(m, kEp, kA) == kBlocked);
    run(t);
    t->regs().rip = 0x402345;
    kernel::on_fault(1, kernel::FaultInfo{kernel::FaultKind::kPageProtection, kernel::FaultAccess::kWrite,
                                          kUserRoPage + 8, 14, 7});
    CHECK(t.state() == ThreadState::kFaulted);
    CHECK(sched().current(1) == nullptr);
    if (receiver_first)
        CHECK(m.rax() == kOk);
    else
        REQUIRE(recv(m, kEp, kA) == kOk);
    CHECK(m.rdx() == 0xf1);
    check_fault_msg(x.ss.msg(kA), t, ANVIL_FAULT_KIND_PAGE, 2, kUserRoPage + 8, 0x402345, 0);
    CHECK(ep_idle(x.e));
    check_no_ipc(t);
}

TEST_CASE_METHOD(IpcTest,
                 "fault endpoint: other fault kinds, queued messages are FIFO with other senders, and none without "
                 "an endpoint") {
    Pair x = make_ep_pair(0x5);
    const uint32_t fcap = p.sys(ANVIL_SYS_cap_copy, kSelfCNode, x.ep, kSelfCNode, ANVIL_SLOT_ANY, kW, 0xf2).out0;
    Worker t1 = spawn(x.cs, "t1", 1, fcap);
    Worker s = spawn(x.cs, "s", 2);
    Worker t2 = spawn(x.cs, "t2", 3, fcap);
    Worker loner = spawn(x.cs, "loner", 1);  // no fault endpoint
    run(t1);
    kernel::on_fault(1, kernel::FaultInfo{kernel::FaultKind::kInvalidOpcode, kernel::FaultAccess::kNone, 0, 6, 0});
    x.cs.put(kA, send_msg(99));
    REQUIRE(send(s, kEp, kA) == kBlocked);
    run(t2);
    kernel::on_fault(3, kernel::FaultInfo{kernel::FaultKind::kDivide, kernel::FaultAccess::kNone, 0, 0, 0});
    as(loner, ANVIL_SYS_thread_exit, {1});
    CHECK(loner.state() == ThreadState::kExited);
    CHECK(x.e->senders().size() == 3);

    Worker m = spawn(x.ss, "monitor", 2);
    x.ss.put(kA, recv_buf());
    REQUIRE(recv(m, kEp, kA) == kOk);
    CHECK(m.rdx() == 0xf2);
    check_fault_msg(x.ss.msg(kA), t1, ANVIL_FAULT_KIND_UD, 0, 0, kRip, 0);
    x.ss.put(kA, recv_buf());
    REQUIRE(recv(m, kEp, kA) == kOk);
    CHECK(m.rdx() == 0x5);
    CHECK(x.ss.msg(kA).label == 99);
    CHECK(s.rax() == kOk);
    x.ss.put(kA, recv_buf());
    REQUIRE(recv(m, kEp, kA) == kOk);
    check_fault_msg(x.ss.msg(kA), t2, ANVIL_FAULT_KIND_DE, 0, 0, kRip, 0);
    CHECK(ep_idle(x.e));
    x.ss.put(kA, recv_buf());
    CHECK(try_recv(m, kEp, kA) == kEWouldBlock);
    for (const Worker* w : {&t1, &s, &t2, &loner, &m})
        check_no_ipc(*w);
}

TEST_CASE_METHOD(IpcTest,
                 "fault endpoint: a queued fault message goes away with its thread, and a bad monitor buffer fails "
                 "the monitor") {
    Pair x = make_ep_pair();
    const uint32_t fcap = p.sys(ANVIL_SYS_cap_copy, kSelfCNode, x.ep, kSelfCNode, ANVIL_SLOT_ANY, kW, 0xf3).out0;
    Worker t = spawn(x.cs, "t", 1, fcap);
    Worker m = spawn(x.ss, "monitor", 2);
    SECTION("the thread is destroyed while its message waits") {
        as(t, ANVIL_SYS_thread_exit, {4});
        REQUIRE(x.e->senders().front() == t.t);
        REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, t.slot).status == kOk);
        CHECK(ep_idle(x.e));
        x.ss.put(kA, recv_buf());
        CHECK(try_recv(m, kEp, kA) == kEWouldBlock);
    }
    SECTION("the waiting monitor's buffer went bad: it fails, the message queues") {
        Space ms2 = make_space();
        give(x.ep, ms2, 1, kR);
        x.ss.put(kA, recv_buf());
        REQUIRE(recv(m, kEp, kA) == kBlocked);
        REQUIRE(p.sys(ANVIL_SYS_vma_unmap, x.ss.vs_slot, kUserBuf, kUserBufSize).status == kOk);
        as(t, ANVIL_SYS_thread_exit, {4});
        CHECK(m.rax() == kFault);
        CHECK(x.e->senders().front() == t.t);
        Worker m2 = spawn(ms2, "m2", 3);
        ms2.put(kA, recv_buf());
        REQUIRE(recv(m2, 1, kA) == kOk);
        CHECK(m2.rdx() == 0xf3);
        check_fault_msg(ms2.msg(kA), t, ANVIL_FAULT_KIND_EXIT, 0, 0, kRip, 4);
    }
    CHECK(ep_idle(x.e));
    check_no_ipc(m);
}

// ---- resources ----------------------------------------------------------------------------

TEST_CASE_METHOD(FourCpus, "ipc: after a full exchange, refcounts and frames come back and no thread waits anywhere") {
    // One warm-up round so the kernel heap has its slabs; the second must give
    // back every frame.
    size_t before = 0;
    for (int round = 0; round < 2; ++round) {
        INFO("round " << round);
        before = kernel::frames().free_count();
        {
            Controller ctl;  // a fresh one each round: its process goes at the end of the block
            TestProcess& p = ctl.p;
            Pair x = ctl.make_ep_pair(0x1);
            const uint32_t vmo = p.new_vmo(4 * kPage);
            kernel::KObject* vobj = p.cap(vmo)->object;
            ctl.give(vmo, x.cs, 5, kR | kW | kG | kM);
            const uint32_t ep_refs = x.e->refs();
            const uint32_t vmo_refs = vobj->refs();
            Worker c = ctl.spawn(x.cs, "client", 1);
            Worker srv = ctl.spawn(x.ss, "server", 2);
            x.cs.put(kA, send_msg(1, pattern(1024), {5, kEp}));
            x.cs.put(kB, recv_buf());
            x.ss.put(kA, recv_buf({ANVIL_SLOT_ANY, ANVIL_SLOT_ANY}));
            REQUIRE(ctl.call(c, kEp, kA, kB) == kBlocked);
            REQUIRE(ctl.recv(srv, kEp, kA) == kOk);
            CHECK(x.e->refs() == ep_refs + 1);
            CHECK(vobj->refs() == vmo_refs + 1);
            x.ss.put(kB, send_msg(2, pattern(1024, 1)));
            REQUIRE(ctl.reply(srv, kB) == kOk);
            CHECK(c.rax() == kOk);
            // The server drops what it got.
            REQUIRE(p.sys(ANVIL_SYS_cap_delete, x.ss.cn_slot, 2).status == kOk);
            REQUIRE(p.sys(ANVIL_SYS_cap_delete, x.ss.cn_slot, 3).status == kOk);
            CHECK(x.e->refs() == ep_refs);
            CHECK(vobj->refs() == vmo_refs);
            CHECK(ep_idle(x.e));
            check_no_ipc(c);
            check_no_ipc(srv);
            // A call is outstanding when the process goes: destruction must unhook both.
            x.ss.put(kA, recv_buf());
            x.cs.put(kA, send_msg(3));
            REQUIRE(ctl.recv(srv, kEp, kA) == kBlocked);
            REQUIRE(ctl.call(c, kEp, kA, kB) == kBlocked);
            REQUIRE(c->ipc.wait == IpcWait::kReply);
        }
        CHECK(scheduler_clean());
        if (round == 1)
            CHECK(kernel::frames().free_count() == before);
    }
}

TEST_CASE_METHOD(IpcTest, "ipc: data crossing page and mapping boundaries, from a mapping at a VMO offset") {
    Pair x = make_ep_pair(1);
    // Receiver: two separate VMOs mapped back to back, the first at offset 1 page.
    const uint64_t kWin = 0x30000000;
    const uint32_t v1 = p.new_vmo(3 * kPage), v2 = p.new_vmo(kPage);
    REQUIRE(p.sys(ANVIL_SYS_vma_map, x.ss.vs_slot, kWin, v1, kPage, kPage, kR | kW).status == kOk);
    REQUIRE(p.sys(ANVIL_SYS_vma_map, x.ss.vs_slot, kWin + kPage, v2, 0, kPage, kR | kW).status == kOk);
    Worker s = spawn(x.cs, "s", 1);
    Worker r = spawn(x.ss, "r", 2);
    const Bytes data = pattern(1024, 77);
    const uint64_t send_va = kUserBuf + kPage - 300;  // straddles a page of the sender
    const uint64_t recv_va = kWin + kPage - 700;      // straddles the two mappings
    x.cs.put(send_va, send_msg(0x99, data));
    x.ss.put(recv_va, recv_buf());
    REQUIRE(recv(r, kEp, recv_va) == kBlocked);
    REQUIRE(send(s, kEp, send_va) == kOk);
    CHECK(r.rax() == kOk);
    check_delivered(x.ss.msg(recv_va), 0x99, data);
    // The bytes are really in the VMOs, at the mapping's offset.
    Bytes in_v1(700 - 16), in_v2(1024 - (700 - 16));
    auto* vmo1 = p.object<kernel::Vmo>(v1);
    auto* vmo2 = p.object<kernel::Vmo>(v2);
    REQUIRE(vmo1->read(2 * kPage - in_v1.size(), in_v1.data(), in_v1.size()) == ANVIL_OK);
    REQUIRE(vmo2->read(0, in_v2.data(), in_v2.size()) == ANVIL_OK);
    CHECK(std::memcmp(in_v1.data(), data.data(), in_v1.size()) == 0);
    CHECK(std::memcmp(in_v2.data(), data.data() + in_v1.size(), in_v2.size()) == 0);
}

TEST_CASE_METHOD(IpcTest,
                 "ipc: a reply whose caps meet an occupied slot in the caller's reply buffer fails the caller only") {
    Pair x = make_ep_pair();
    const uint32_t vmo = p.new_vmo(kPage);
    give(vmo, x.ss, 5, kR | kG);
    give(vmo, x.cs, 9, kR);  // occupies the slot the caller offers
    Worker c = spawn(x.cs, "client", 1);
    Worker srv = spawn(x.ss, "server", 2);
    x.cs.put(kA, send_msg(1));
    x.cs.put(kB, recv_buf({9}));
    x.ss.put(kA, recv_buf());
    x.ss.put(kB, send_msg(2, {}, {5}));
    REQUIRE(call(c, kEp, kA, kB) == kBlocked);
    REQUIRE(recv(srv, kEp, kA) == kOk);
    CHECK(reply(srv, kB) == kOk);
    CHECK(c.runnable());
    CHECK(c.rax() == kSlotOccupied);
    CHECK(x.cs.cn->used() == 2);
    CHECK(kernel::cap_descendant_count(x.ss.cap(5)) == 0);
    check_no_ipc(c);
    check_no_ipc(srv);
}

// The sender's message and the receiver's buffer may overlap (two threads of one
// address space, or a shared VMO): the copy must behave like memmove.
TEST_CASE_METHOD(IpcTest,
                 "ipc: overlapping send and receive buffers in one address space: the receiver gets the sent bytes") {
    const uint64_t shift = GENERATE(uint64_t{64}, uint64_t{0});
    INFO("receive buffer at send buffer + " << shift);
    Pair x = make_ep_pair();
    give(x.ep, x.cs, 2, kR);
    Worker s = spawn(x.cs, "s", 1);
    Worker r = spawn(x.cs, "r", 2);  // same space as the sender
    const Bytes data = pattern(1024, 7);
    x.cs.put(kA, send_msg(1, data));
    anvil_msg_t head = recv_buf();
    REQUIRE(x.cs.vs->copy_out(kA + shift + 12, &head.ncaps, 4) == ANVIL_OK);  // offers no caps
    REQUIRE(recv(r, 2, kA + shift) == kBlocked);
    // The receiver's header overlaps the sender's data: what is sent is the data
    // as it stands in memory at the rendezvous.
    const anvil_msg_t sent = x.cs.msg(kA);
    const Bytes expected(sent.data, sent.data + 1024);
    REQUIRE(send(s, kEp, kA) == kOk);
    CHECK(r.rax() == kOk);
    const anvil_msg_t got = x.cs.msg(kA + shift);
    CHECK(got.label == 1);
    CHECK(got.len == 1024);
    CHECK(same_bytes(got.data, expected));
}

// ---- the fast path ---------------------------------------------------------------------
//
// The same client/server exchange with the fast path on and off: every result
// must be the same; only where the woken partner runs differs (handed the CPU at
// once, or queued on it). The tests named "ipc*" (not "notify:" or "fault endpoint:")
// also run with the fast path off (ctest "unit (IPC fast path off)/",
// ANVIL_IPC_FASTPATH=off).

namespace {

// Restores the fast-path setting the test found.
struct FastPath {
    bool saved = kernel::ipc_fastpath_enabled();
    explicit FastPath(bool on) { kernel::ipc_set_fastpath(on); }
    ~FastPath() { kernel::ipc_set_fastpath(saved); }
};

}  // namespace

TEST_CASE_METHOD(IpcTest,
                 "ipc fast path: call and reply_recv give the same results either way, and only placement differs") {
    const bool fast = GENERATE(true, false);
    INFO("fast path " << (fast ? "on" : "off"));
    FastPath mode(fast);
    REQUIRE(kernel::ipc_fastpath_enabled() == fast);  // nothing set up above may switch it back
    SameCpu w = same_cpu_pair();
    const Bytes req = pattern(kernel::kIpcFastBytes, 5), rep = pattern(3, 8);
    w.x.cs.put(kA, send_msg(0x11, req));
    w.x.cs.put(kB, recv_buf());
    w.x.ss.put(kA, recv_buf());
    w.x.ss.put(kB, send_msg(0x22, rep));
    const uint64_t before = kernel::ipc_fastpath_count();

    REQUIRE(recv(w.s, kEp, kA) == kBlocked);
    REQUIRE(call(w.c, kEp, kA, kB) == kBlocked);
    CHECK(w.c->ipc.wait == IpcWait::kReply);
    CHECK(w.s->ipc.reply_to == w.c.t);
    CHECK(w.s.rax() == kOk);
    CHECK(w.s.rdx() == 0xfa57);
    check_delivered(w.x.ss.msg(kA), 0x11, req);
    if (fast) {
        CHECK(sched().current(1) == w.s.t);  // handed over: no trip through the queue
        CHECK(w.s.state() == ThreadState::kRunning);
        CHECK(kernel::ipc_fastpath_count() == before + 1);
    } else {
        CHECK(sched().current(1) == nullptr);
        CHECK(w.s.runnable());
        CHECK(kernel::ipc_fastpath_count() == before);
    }

    // The server answers and waits for the next call: the client gets the CPU.
    w.x.ss.put(kA, recv_buf());
    REQUIRE(reply_recv(w.s, kEp, kB, kA) == kBlocked);
    CHECK(w.c.rax() == kOk);
    check_delivered(w.x.cs.msg(kB), 0x22, rep);
    check_no_ipc(w.c);
    CHECK(w.s->ipc.wait == IpcWait::kRecv);
    if (fast) {
        CHECK(sched().current(1) == w.c.t);
        CHECK(kernel::ipc_fastpath_count() == before + 2);
    } else {
        CHECK(w.c.runnable());
        CHECK(run_next(1) == "client");
    }
}

TEST_CASE_METHOD(IpcTest,
                 "ipc fast path: long messages, caps, other CPUs and better queued threads take the slow path") {
    FastPath mode(true);
    const uint64_t before = kernel::ipc_fastpath_count();

    SECTION("a message one byte longer than kIpcFastBytes") {
        SameCpu w = same_cpu_pair();
        w.x.cs.put(kA, send_msg(1, pattern(kernel::kIpcFastBytes + 1)));
        w.x.ss.put(kA, recv_buf());
        REQUIRE(recv(w.s, kEp, kA) == kBlocked);
        REQUIRE(call(w.c, kEp, kA, kB) == kBlocked);
        CHECK(w.s.runnable());
    }
    SECTION("a message carrying a cap") {
        SameCpu w = same_cpu_pair();
        const uint32_t vmo = p.new_vmo(kPage);
        give(vmo, w.x.cs, 5, kR | kG);
        w.x.cs.put(kA, send_msg(1, {}, {5}));
        w.x.ss.put(kA, recv_buf({ANVIL_SLOT_ANY}));
        REQUIRE(recv(w.s, kEp, kA) == kBlocked);
        REQUIRE(call(w.c, kEp, kA, kB) == kBlocked);
        CHECK(w.s.runnable());
        CHECK(w.x.ss.msg(kA).ncaps == 1);
    }
    SECTION("a server pinned to another CPU") {
        Pair x = make_ep_pair();
        Worker c = spawn(x.cs, "client", 1);
        Worker s = spawn(x.ss, "server", 2);
        x.cs.put(kA, send_msg(1));
        x.ss.put(kA, recv_buf());
        REQUIRE(recv(s, kEp, kA) == kBlocked);
        REQUIRE(call(c, kEp, kA, kB) == kBlocked);
        CHECK(s.runnable());
        CHECK(s->cpu() == 2);
    }
    SECTION("a better thread already queued on the CPU") {
        SameCpu w = same_cpu_pair();
        Space other = make_space();
        Worker vip = spawn(other, "vip", 1, 0, 90);
        w.x.cs.put(kA, send_msg(1));
        w.x.ss.put(kA, recv_buf());
        REQUIRE(recv(w.s, kEp, kA) == kBlocked);
        run(w.c);
        REQUIRE(p.sys(ANVIL_SYS_tcb_resume, vip.slot).status == kOk);  // queued behind the client
        REQUIRE(call(w.c, kEp, kA, kB) == kBlocked);
        CHECK(w.s.runnable());
        CHECK(run_next(1) == "vip");
    }
    CHECK(kernel::ipc_fastpath_count() == before);
}
