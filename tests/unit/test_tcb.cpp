// Host tests of the thread control calls (tcb_create, tcb_configure,
// tcb_set_regs/get_regs, tcb_resume/suspend) through the syscall layer.
#include "kernel/introspect.h"
#include "kernel_env.h"

using namespace anvil_test;
using kernel::Thread;
using kernel::ThreadState;

namespace {

constexpr uint64_t kCpuAny = ANVIL_CPU_ANY;
constexpr uint64_t kIplBits = 0x3000, kIf = 0x200;

SysResult configure(TestProcess& p, uint64_t tcb, uint64_t priority = 50, uint64_t cpu = kCpuAny,
                    uint64_t cnode = kSelfCNode, uint64_t vspace = kSelfVSpace, uint64_t ipc_buffer = 0,
                    uint64_t fault_ep = 0) {
    return p.sys(ANVIL_SYS_tcb_configure, tcb, cnode, vspace, ipc_buffer, priority, cpu, fault_ep);
}

// A new thread, configured to run in the caller's CNode and VSpace.
uint32_t configured_tcb(TestProcess& p, uint64_t priority = 50) {
    const uint32_t tcb = p.new_tcb();
    REQUIRE(configure(p, tcb, priority).status == kOk);
    return tcb;
}

size_t queued() { return kernel::scheduler().queue(0).count(); }

anvil_regs_t sample_regs() {
    static_assert(sizeof(anvil_regs_t) == 19 * sizeof(uint64_t));
    uint64_t words[19];
    for (int i = 0; i < 19; ++i)
        words[i] = 0x0101010101010101ull * (i + 1);
    anvil_regs_t r;
    std::memcpy(&r, words, sizeof r);
    r.rip = 0x400000;
    r.rsp = 0x7fff0000;
    r.rflags = 0x202;
    r.fs_base = 0x12340000;
    return r;
}

bool same_regs(const anvil_regs_t& a, const anvil_regs_t& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

// ---- tcb_create / tcb_configure ----------------------------------------------------------

TEST_CASE("tcb_create: a new inactive thread in the lowest free slot, without EXEC") {
    TestProcess p;
    const SysResult r = p.sys(ANVIL_SYS_tcb_create);
    REQUIRE(r.status == kOk);
    CHECK(r.out0 == 4);
    const Thread* t = p.object<Thread>(4);
    CHECK(t->type() == ANVIL_OBJ_TCB);
    CHECK(p.cap(4)->rights == (kAll & ~kX));
    CHECK(t->state() == ThreadState::kInactive);
    CHECK(t->cnode() == nullptr);
    CHECK(t->vspace() == nullptr);
    CHECK(p.new_tcb() == 5);
}

TEST_CASE("tcb_configure: binds the CNode and VSpace and sets priority, CPU and IPC buffer") {
    TestProcess p;
    const uint32_t tcb = p.new_tcb();
    const uint32_t cn = p.new_cnode(16);
    const uint32_t vs = p.new_vspace();
    REQUIRE(configure(p, tcb, 42, 0, cn, vs, 0x70000000).status == kOk);
    const Thread* t = p.object<Thread>(tcb);
    CHECK(t->cnode() == p.object<kernel::CNode>(cn));
    CHECK(t->vspace() == p.object<kernel::VSpace>(vs));
    CHECK(t->priority() == 42);
    CHECK(t->affinity() == 0);
    CHECK(t->ipc_buffer() == 0x70000000);
    CHECK(t->state() == ThreadState::kInactive);

    // Configuring again rebinds.
    REQUIRE(configure(p, tcb, 7, kCpuAny).status == kOk);
    CHECK(t->cnode() == p.cnode());
    CHECK(t->vspace() == p.vspace());
    CHECK(t->priority() == 7);
    CHECK(t->affinity() == ANVIL_CPU_ANY);
}

TEST_CASE("tcb_configure: the priority is at most 255 and never above the caller's") {
    {
        TestProcess p(100);
        const uint32_t tcb = p.new_tcb();
        const Thread* t = p.object<Thread>(tcb);
        CHECK(configure(p, tcb, 101).status == kAccessDenied);
        CHECK(configure(p, tcb, 255).status == kAccessDenied);
        CHECK(t->cnode() == nullptr);
        for (uint64_t prio : U64s{256, 1000, 1ull << 32, UINT64_MAX}) {
            CAPTURE(prio);
            CHECK(configure(p, tcb, prio).status == kInvalidArg);
        }
        CHECK(t->cnode() == nullptr);
        CHECK(configure(p, tcb, 100).status == kOk);
        CHECK(t->priority() == 100);
        CHECK(configure(p, tcb, 0).status == kOk);
        CHECK(t->priority() == 0);
    }
    {
        TestProcess top(255);
        const uint32_t tcb = top.new_tcb();
        CHECK(configure(top, tcb, 256).status == kInvalidArg);
        CHECK(configure(top, tcb, 255).status == kOk);
        CHECK(top.object<Thread>(tcb)->priority() == 255);
    }
}

TEST_CASE("tcb_configure: the CPU is ANVIL_CPU_ANY or an existing CPU") {
    TestProcess p;
    const uint32_t tcb = p.new_tcb();
    for (uint64_t cpu : U64s{1, 2, 16, ANVIL_CPU_ANY - 1, ANVIL_CPU_ANY + 1ull, UINT64_MAX}) {
        CAPTURE(cpu);
        CHECK(configure(p, tcb, 50, cpu).status == kInvalidArg);
    }
    CHECK(p.object<Thread>(tcb)->cnode() == nullptr);
    CHECK(configure(p, tcb, 50, 0).status == kOk);
    CHECK(p.object<Thread>(tcb)->affinity() == 0);
    CHECK(configure(p, tcb, 50, kCpuAny).status == kOk);
    CHECK(p.object<Thread>(tcb)->affinity() == ANVIL_CPU_ANY);
}

TEST_CASE("tcb_configure: the IPC buffer is 0 or a page-aligned user address") {
    TestProcess p;
    const uint32_t tcb = p.new_tcb();
    for (uint64_t ipc : U64s{0x70000001, 0x70000800, ANVIL_USER_LIMIT, kKernelHalf, ANVIL_USER_LIMIT - 8}) {
        CAPTURE(ipc);
        CHECK(configure(p, tcb, 50, kCpuAny, kSelfCNode, kSelfVSpace, ipc).status == kInvalidArg);
    }
    CHECK(p.object<Thread>(tcb)->cnode() == nullptr);
    CHECK(configure(p, tcb, 50, kCpuAny, kSelfCNode, kSelfVSpace, 0).status == kOk);
    CHECK(configure(p, tcb, 50, kCpuAny, kSelfCNode, kSelfVSpace, ANVIL_USER_LIMIT - kPage).status == kOk);
}

TEST_CASE("tcb_configure: wrong cap types are WRONG_TYPE, empty slots INVALID_CAP") {
    TestProcess p;
    const uint32_t tcb = p.new_tcb();
    const uint32_t vmo = p.new_vmo(kPage);
    CHECK(configure(p, vmo).status == kWrongType);
    CHECK(configure(p, kSelfCNode).status == kWrongType);
    CHECK(configure(p, tcb, 50, kCpuAny, kSelfVSpace, kSelfVSpace).status == kWrongType);
    CHECK(configure(p, tcb, 50, kCpuAny, vmo, kSelfVSpace).status == kWrongType);
    CHECK(configure(p, tcb, 50, kCpuAny, kSelfCNode, kSelfCNode).status == kWrongType);
    CHECK(configure(p, tcb, 50, kCpuAny, kSelfCNode, tcb).status == kWrongType);
    // No endpoint exists yet: any other cap as fault_ep is the wrong type.
    CHECK(configure(p, tcb, 50, kCpuAny, kSelfCNode, kSelfVSpace, 0, vmo).status == kWrongType);
    CHECK(configure(p, tcb, 50, kCpuAny, kSelfCNode, kSelfVSpace, 0, kSelfTcb).status == kWrongType);

    CHECK(configure(p, 0).status == kInvalidCap);
    CHECK(configure(p, 100).status == kInvalidCap);
    CHECK(configure(p, tcb, 50, kCpuAny, 100, kSelfVSpace).status == kInvalidCap);
    CHECK(configure(p, tcb, 50, kCpuAny, kSelfCNode, 0).status == kInvalidCap);
    CHECK(configure(p, tcb, 50, kCpuAny, kSelfCNode, kSelfVSpace, 0, 100).status == kInvalidCap);
    CHECK(p.object<Thread>(tcb)->cnode() == nullptr);
}

TEST_CASE("tcb_configure: needs MANAGE on the TCB cap") {
    TestProcess p;
    const uint32_t tcb = p.new_tcb();
    const uint32_t unmanaged = p.copy(tcb, kAll & ~kM);
    CHECK(configure(p, unmanaged).status == kAccessDenied);
    CHECK(p.object<Thread>(tcb)->cnode() == nullptr);
    CHECK(configure(p, tcb).status == kOk);
}

TEST_CASE("tcb_configure: needs MANAGE on the CNode and VSpace caps") {
    // Running a thread inside them is control over both.
    TestProcess p;
    const uint32_t tcb = p.new_tcb();
    const uint32_t cnode_rw = p.copy(kSelfCNode, kAll & ~kM);
    const uint32_t vspace_rw = p.copy(kSelfVSpace, kAll & ~kM);
    CHECK(configure(p, tcb, 50, kCpuAny, cnode_rw, kSelfVSpace).status == kAccessDenied);
    CHECK(configure(p, tcb, 50, kCpuAny, kSelfCNode, vspace_rw).status == kAccessDenied);
    CHECK(p.object<Thread>(tcb)->cnode() == nullptr);
    CHECK(configure(p, tcb, 50, kCpuAny, kSelfCNode, kSelfVSpace).status == kOk);
}

TEST_CASE("tcb_configure: refused while the thread is runnable") {
    // A queued thread's priority must not change under the run queue.
    TestProcess p;
    const uint32_t tcb = configured_tcb(p, 50);
    REQUIRE(p.sys(ANVIL_SYS_tcb_resume, tcb).status == kOk);
    CHECK(configure(p, tcb, 60).status == kBadState);
    CHECK(p.object<Thread>(tcb)->priority() == 50);
    REQUIRE(p.sys(ANVIL_SYS_tcb_suspend, tcb).status == kOk);
    CHECK(configure(p, tcb, 60).status == kOk);
}

// ---- tcb_resume / tcb_suspend -----------------------------------------------------------

TEST_CASE("tcb_resume: an unconfigured thread is BAD_STATE") {
    TestProcess p;
    const uint32_t tcb = p.new_tcb();
    const size_t before = queued();
    CHECK(p.sys(ANVIL_SYS_tcb_resume, tcb).status == kBadState);
    CHECK(p.object<Thread>(tcb)->state() == ThreadState::kInactive);
    CHECK(queued() == before);
}

TEST_CASE("tcb_resume/tcb_suspend: inactive, runnable, suspended, runnable again") {
    TestProcess p;
    const uint32_t tcb = configured_tcb(p);
    Thread* t = p.object<Thread>(tcb);
    const size_t before = queued();
    CHECK(t->state() == ThreadState::kInactive);
    CHECK(p.sys(ANVIL_SYS_tcb_suspend, tcb).status == kOk);  // not running: nothing to do
    CHECK(t->state() == ThreadState::kInactive);

    CHECK(p.sys(ANVIL_SYS_tcb_resume, tcb).status == kOk);
    CHECK(t->state() == ThreadState::kRunnable);
    CHECK(queued() == before + 1);
    CHECK(p.sys(ANVIL_SYS_tcb_resume, tcb).status == kOk);  // already going
    CHECK(queued() == before + 1);

    CHECK(p.sys(ANVIL_SYS_tcb_suspend, tcb).status == kOk);
    CHECK(t->state() == ThreadState::kSuspended);
    CHECK(queued() == before);
    CHECK(p.sys(ANVIL_SYS_tcb_suspend, tcb).status == kOk);
    CHECK(t->state() == ThreadState::kSuspended);

    CHECK(p.sys(ANVIL_SYS_tcb_resume, tcb).status == kOk);
    CHECK(t->state() == ThreadState::kRunnable);
    CHECK(queued() == before + 1);
    REQUIRE(p.sys(ANVIL_SYS_tcb_suspend, tcb).status == kOk);
    CHECK(queued() == before);
}

TEST_CASE("tcb_resume/tcb_suspend: need MANAGE on a TCB cap") {
    TestProcess p;
    const uint32_t tcb = configured_tcb(p);
    const uint32_t unmanaged = p.copy(tcb, kAll & ~kM);
    CHECK(p.sys(ANVIL_SYS_tcb_resume, unmanaged).status == kAccessDenied);
    CHECK(p.object<Thread>(tcb)->state() == ThreadState::kInactive);
    REQUIRE(p.sys(ANVIL_SYS_tcb_resume, tcb).status == kOk);
    CHECK(p.sys(ANVIL_SYS_tcb_suspend, unmanaged).status == kAccessDenied);
    CHECK(p.object<Thread>(tcb)->state() == ThreadState::kRunnable);
    CHECK(p.sys(ANVIL_SYS_tcb_resume, kSelfVSpace).status == kWrongType);
    CHECK(p.sys(ANVIL_SYS_tcb_suspend, 100).status == kInvalidCap);
    REQUIRE(p.sys(ANVIL_SYS_tcb_suspend, tcb).status == kOk);
}

TEST_CASE("tcb: deleting the last cap of a runnable thread takes it off the run queue") {
    // ABI: when the last cap to an object goes it is destroyed, and threads stop.
    TestProcess p;
    const uint32_t tcb = configured_tcb(p);
    const size_t before = queued();
    REQUIRE(p.sys(ANVIL_SYS_tcb_resume, tcb).status == kOk);
    REQUIRE(queued() == before + 1);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, tcb).status == kOk);
    CHECK(queued() == before);
}

// ---- tcb_set_regs / tcb_get_regs --------------------------------------------------------

TEST_CASE("tcb_set_regs/tcb_get_regs: registers round-trip while the thread is stopped") {
    TestProcess p;
    const uint32_t tcb = p.new_tcb();  // inactive counts as stopped
    const anvil_regs_t in = sample_regs();
    p.put(kUserBuf, in);
    REQUIRE(p.sys(ANVIL_SYS_tcb_set_regs, tcb, kUserBuf).status == kOk);
    CHECK(p.object<Thread>(tcb)->regs().rip == in.rip);
    REQUIRE(p.sys(ANVIL_SYS_tcb_get_regs, tcb, kUserBuf + 1024).status == kOk);
    CHECK(same_regs(p.get<anvil_regs_t>(kUserBuf + 1024), in));
}

TEST_CASE("tcb_set_regs: rflags are sanitised: IOPL cleared, IF set") {
    TestProcess p;
    const uint32_t tcb = p.new_tcb();
    anvil_regs_t in = sample_regs();
    constexpr uint64_t kCf = 0x1, kDf = 0x400, kOf = 0x800, kNt = 0x4000, kVm = 0x20000, kAc = 0x40000,
                       kId = 0x200000;
    in.rflags = kIplBits | kCf | kDf | kOf | kNt | kVm | kAc | kId | (1ull << 40);  // IF clear
    p.put(kUserBuf, in);
    REQUIRE(p.sys(ANVIL_SYS_tcb_set_regs, tcb, kUserBuf).status == kOk);
    REQUIRE(p.sys(ANVIL_SYS_tcb_get_regs, tcb, kUserBuf).status == kOk);
    const uint64_t rflags = p.get<anvil_regs_t>(kUserBuf).rflags;
    CAPTURE(rflags);
    CHECK((rflags & kIplBits) == 0);
    CHECK((rflags & kIf) != 0);
    CHECK((rflags & 0x2) != 0);  // reserved bit 1 always reads 1
    CHECK((rflags & (kNt | kVm | kAc | kId | (1ull << 40))) == 0);
    CHECK((rflags & (kCf | kDf | kOf)) == (kCf | kDf | kOf));

    in.rflags = 0;
    p.put(kUserBuf, in);
    REQUIRE(p.sys(ANVIL_SYS_tcb_set_regs, tcb, kUserBuf).status == kOk);
    CHECK(p.object<Thread>(tcb)->regs().rflags == 0x202);
}

TEST_CASE("tcb_set_regs: rip, rsp or fs_base outside the user half is INVALID_ARG") {
    TestProcess p;
    const uint32_t tcb = p.new_tcb();
    const anvil_regs_t good = sample_regs();
    p.put(kUserBuf, good);
    REQUIRE(p.sys(ANVIL_SYS_tcb_set_regs, tcb, kUserBuf).status == kOk);
    for (uint64_t bad : U64s{ANVIL_USER_LIMIT, 0x0000800000000000ull, kKernelHalf, UINT64_MAX}) {
        CAPTURE(bad);
        for (int field = 0; field < 3; ++field) {
            CAPTURE(field);
            anvil_regs_t in = good;
            in.rax = 0xdead;
            (field == 0 ? in.rip : field == 1 ? in.rsp : in.fs_base) = bad;
            p.put(kUserBuf, in);
            CHECK(p.sys(ANVIL_SYS_tcb_set_regs, tcb, kUserBuf).status == kInvalidArg);
        }
    }
    REQUIRE(p.sys(ANVIL_SYS_tcb_get_regs, tcb, kUserBuf).status == kOk);
    CHECK(same_regs(p.get<anvil_regs_t>(kUserBuf), good));
}

TEST_CASE("tcb_set_regs/tcb_get_regs: only while the thread is stopped") {
    TestProcess p;
    const uint32_t tcb = configured_tcb(p);
    const anvil_regs_t in = sample_regs();
    p.put(kUserBuf, in);
    REQUIRE(p.sys(ANVIL_SYS_tcb_set_regs, tcb, kUserBuf).status == kOk);
    REQUIRE(p.sys(ANVIL_SYS_tcb_resume, tcb).status == kOk);

    anvil_regs_t other = in;
    other.rax = 0xbad;
    p.put(kUserBuf, other);
    p.write_user(kUserBuf + 1024, Bytes(sizeof(anvil_regs_t), 0xee));
    CHECK(p.sys(ANVIL_SYS_tcb_set_regs, tcb, kUserBuf).status == kBadState);
    CHECK(p.sys(ANVIL_SYS_tcb_get_regs, tcb, kUserBuf + 1024).status == kBadState);
    CHECK(p.read_user(kUserBuf + 1024, sizeof(anvil_regs_t)) == Bytes(sizeof(anvil_regs_t), 0xee));
    CHECK(p.object<Thread>(tcb)->regs().rax == in.rax);
    // The caller itself is running.
    CHECK(p.sys(ANVIL_SYS_tcb_get_regs, kSelfTcb, kUserBuf + 1024).status == kBadState);

    REQUIRE(p.sys(ANVIL_SYS_tcb_suspend, tcb).status == kOk);
    CHECK(p.sys(ANVIL_SYS_tcb_get_regs, tcb, kUserBuf + 1024).status == kOk);
    CHECK(same_regs(p.get<anvil_regs_t>(kUserBuf + 1024), in));
    CHECK(p.sys(ANVIL_SYS_tcb_set_regs, tcb, kUserBuf).status == kOk);
    CHECK(p.object<Thread>(tcb)->regs().rax == 0xbad);
}

TEST_CASE("tcb_set_regs/tcb_get_regs: need WRITE / READ on the TCB cap") {
    TestProcess p;
    const uint32_t tcb = p.new_tcb();
    const uint32_t no_write = p.copy(tcb, kAll & ~kW);
    const uint32_t no_read = p.copy(tcb, kAll & ~kR);
    anvil_regs_t in = sample_regs();
    p.put(kUserBuf, in);
    p.write_user(kUserBuf + 1024, Bytes(sizeof(anvil_regs_t), 0xee));
    CHECK(p.sys(ANVIL_SYS_tcb_set_regs, no_write, kUserBuf).status == kAccessDenied);
    CHECK(p.sys(ANVIL_SYS_tcb_get_regs, no_read, kUserBuf + 1024).status == kAccessDenied);
    CHECK(p.object<Thread>(tcb)->regs().rip == 0);
    CHECK(p.read_user(kUserBuf + 1024, sizeof(anvil_regs_t)) == Bytes(sizeof(anvil_regs_t), 0xee));
    CHECK(p.sys(ANVIL_SYS_tcb_set_regs, no_read, kUserBuf).status == kOk);
    CHECK(p.sys(ANVIL_SYS_tcb_get_regs, no_write, kUserBuf + 1024).status == kOk);
    CHECK(p.sys(ANVIL_SYS_tcb_get_regs, kSelfVSpace, kUserBuf).status == kWrongType);
    CHECK(p.sys(ANVIL_SYS_tcb_set_regs, 100, kUserBuf).status == kInvalidCap);
}

TEST_CASE("tcb_set_regs/tcb_get_regs: bad user pointers are FAULT and nothing is written") {
    TestProcess p;
    const uint32_t tcb = p.new_tcb();
    const anvil_regs_t good = sample_regs();
    p.put(kUserBuf, good);
    REQUIRE(p.sys(ANVIL_SYS_tcb_set_regs, tcb, kUserBuf).status == kOk);

    const uint64_t straddle = kUserBuf + kUserBufSize - 16;
    p.write_user(straddle, Bytes(16, 0xee));
    for (uint64_t ptr : U64s{0, kUnmapped, kKernelHalf, straddle, ANVIL_USER_LIMIT - 8, UINT64_MAX - 7}) {
        CAPTURE(ptr);
        CHECK(p.sys(ANVIL_SYS_tcb_set_regs, tcb, ptr).status == kFault);
        CHECK(p.sys(ANVIL_SYS_tcb_get_regs, tcb, ptr).status == kFault);
    }
    CHECK(p.sys(ANVIL_SYS_tcb_get_regs, tcb, kUserRoPage).status == kFault);
    CHECK(p.read_user(straddle, 16) == Bytes(16, 0xee));
    Bytes ro(kPage);
    REQUIRE(p.ro_vmo()->read(0, ro.data(), ro.size()) == ANVIL_OK);
    CHECK(ro == Bytes(kPage, kRoFill));
    // A read-only page is a fine source for set_regs (its bytes are not canonical
    // addresses, so they are refused as arguments, not as a fault).
    CHECK(p.sys(ANVIL_SYS_tcb_set_regs, tcb, kUserRoPage).status == kInvalidArg);
    REQUIRE(p.sys(ANVIL_SYS_tcb_get_regs, tcb, kUserBuf).status == kOk);
    CHECK(same_regs(p.get<anvil_regs_t>(kUserBuf), good));
}
