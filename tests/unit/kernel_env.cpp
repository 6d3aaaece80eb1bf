#include "kernel_env.h"

#include "kernel/introspect.h"
#include "sim/machine.h"

#include <hal/hal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

namespace anvil_test {

using kernel::ThreadState;

namespace {
// Never destroyed: kernel objects live in its memory until the process ends.
sim::Machine* g_machine = nullptr;

// ctest runs the IPC tests a second time against the slow path only
// (ANVIL_IPC_FASTPATH=off). Applied before main, not at kernel_env()'s first use:
// a test that sets the fast path itself (test_ipc.cpp's FastPath) before its
// first kernel_env() call must not have its setting overridden.
[[maybe_unused]] const bool g_fastpath_from_env = [] {
    if (const char* mode = std::getenv("ANVIL_IPC_FASTPATH"); mode && std::strcmp(mode, "off") == 0)
        kernel::ipc_set_fastpath(false);
    return true;
}();

bool is_scheduled(ThreadState s) {
    return s == ThreadState::kRunnable || s == ThreadState::kRunning || s == ThreadState::kBlocked;
}
}  // namespace

void kernel_env() {
    static const bool ready = [] {
        sim::Config config;
        config.memory_mib = 256;
        config.cpus = 1;
        config.echo_console = false;
        g_machine = new sim::Machine(config);
        hal::BootInfo info;
        std::string error;
        if (!g_machine->prepare(&info, &error)) {
            std::fprintf(stderr, "kernel_env: %s\n", error.c_str());
            std::abort();
        }
        kernel::frames().init(info.usable, info.usable_count);
        kernel::scheduler().init(1);
        return true;
    }();
    (void)ready;
}

Bytes pattern(size_t len, uint8_t seed) {
    Bytes b(len);
    for (size_t i = 0; i < len; ++i)
        b[i] = static_cast<uint8_t>(i % 251 + seed);
    return b;
}

TestProcess::TestProcess(uint32_t priority) {
    kernel_env();
    auto cn = kernel::CNode::create(kSlots);
    auto vs = kernel::VSpace::create();
    auto th = kernel::Thread::create();
    REQUIRE(cn.ok());
    REQUIRE(vs.ok());
    REQUIRE(th.ok());
    cnode_ = cn.value();
    vspace_ = vs.value();
    thread_ = th.value();
    REQUIRE(cnode_->install(kSelfCNode, cnode_, kAll) == ANVIL_OK);
    REQUIRE(cnode_->install(kSelfVSpace, vspace_, kAll) == ANVIL_OK);
    REQUIRE(cnode_->install(kSelfTcb, thread_, kAll) == ANVIL_OK);
    thread_->retain();  // ours, so a test that deletes slot 3 cannot free it
    thread_->bind(cnode_, vspace_);
    thread_->set_priority(priority);

    auto buf = kernel::Vmo::create(kUserBufSize);
    auto ro = kernel::Vmo::create(kPage);
    REQUIRE(buf.ok());
    REQUIRE(ro.ok());
    const Bytes fill(kPage, kRoFill);
    REQUIRE(ro.value()->write(0, fill.data(), fill.size()) == ANVIL_OK);
    REQUIRE(vspace_->map(kUserBuf, buf.value(), 0, kUserBufSize, ANVIL_PERM_R | ANVIL_PERM_W) == ANVIL_OK);
    REQUIRE(vspace_->map(kUserRoPage, ro.value(), 0, kPage, ANVIL_PERM_R) == ANVIL_OK);
    ro_vmo_ = ro.value();  // held by its mapping

    // The caller of a syscall is the running thread of its CPU.
    kernel::scheduler().make_runnable(thread_);
    REQUIRE(kernel::scheduler().pick(0) == thread_);
}

TestProcess::~TestProcess() {
    // Stop every thread this process names, so the scheduler holds none of them.
    for (uint32_t i = 1; i < cnode_->size(); ++i) {
        kernel::Cap* c = cnode_->slot(i);
        if (!c->empty() && c->object->type() == ANVIL_OBJ_TCB) {
            auto* t = static_cast<kernel::Thread*>(c->object);
            if (is_scheduled(t->state()))
                kernel::scheduler().deschedule(t, ThreadState::kSuspended);
        }
    }
    if (is_scheduled(thread_->state()))
        kernel::scheduler().deschedule(thread_, ThreadState::kSuspended);
    // The thread keeps the CNode alive while its slots are emptied; objects that
    // only reference each other (cycles through other CNodes) may leak.
    for (uint32_t i = 1; i < cnode_->size(); ++i)
        cnode_->clear(i);
    thread_->bind(nullptr, nullptr);
    thread_->release();
}

void load_syscall(hal::UserRegs& r, uint64_t nr, U64s args) {
    uint64_t a[ANVIL_SYSCALL_MAX_ARGS] = {};
    size_t n = 0;
    for (uint64_t v : args)
        a[n++] = v;
    r.rax = nr;
    r.rdi = a[0];
    r.rsi = a[1];
    r.rdx = a[2];
    r.r10 = a[3];
    r.r8 = a[4];
    r.r9 = a[5];
    r.r12 = a[6];
}

SysResult TestProcess::sys_raw(uint64_t nr, std::initializer_list<uint64_t> args) {
    hal::UserRegs& r = thread_->regs();
    load_syscall(r, nr, args);
    kernel::dispatch_syscall(*thread_);
    return {Code{static_cast<int>(static_cast<int64_t>(r.rax))}, r.rdx, r.r10};
}

void TestProcess::write_user(uint64_t va, const Bytes& bytes) {
    REQUIRE(vspace_->copy_out(va, bytes.data(), bytes.size()) == ANVIL_OK);
}

Bytes TestProcess::read_user(uint64_t va, uint64_t len) {
    Bytes b(len);
    REQUIRE(vspace_->copy_in(b.data(), va, len) == ANVIL_OK);
    return b;
}

namespace {
uint32_t created_slot(const SysResult& r) {
    REQUIRE(r.status == kOk);
    return static_cast<uint32_t>(r.out0);
}
}  // namespace

uint32_t TestProcess::new_vmo(uint64_t size) { return created_slot(sys(ANVIL_SYS_vmo_create, size)); }
uint32_t TestProcess::new_cnode(uint32_t slots) { return created_slot(sys(ANVIL_SYS_cnode_create, slots)); }
uint32_t TestProcess::new_vspace() { return created_slot(sys(ANVIL_SYS_vspace_create)); }
uint32_t TestProcess::new_tcb() { return created_slot(sys(ANVIL_SYS_tcb_create)); }

uint32_t TestProcess::copy(uint32_t slot, uint32_t mask) {
    return created_slot(sys(ANVIL_SYS_cap_copy, kSelfCNode, slot, kSelfCNode, ANVIL_SLOT_ANY, mask, 0));
}

}  // namespace anvil_test

namespace anvil_test {

bool scheduler_clean() {
    for (uint32_t cpu = 0; cpu < kernel::kMaxCpus; ++cpu)
        if (kernel::scheduler().current(cpu) || !kernel::scheduler().queue(cpu).empty())
            return false;
    return true;
}

SmpGuard::SmpGuard(uint32_t cpus) {
    kernel_env();
    REQUIRE(scheduler_clean());
    kernel::scheduler().init(cpus);
    REQUIRE(kernel::scheduler().cpu_count() == cpus);
}

SmpGuard::~SmpGuard() {
    const bool clean = scheduler_clean();
    for (uint32_t cpu = 0; cpu < kernel::kMaxCpus; ++cpu) {
        while (kernel::Thread* t = kernel::scheduler().queue(cpu).pop_highest())
            t->set_state(kernel::ThreadState::kSuspended);
        if (cpu < kernel::scheduler().cpu_count())
            if (kernel::Thread* t = kernel::scheduler().current(cpu))
                kernel::scheduler().deschedule(t, kernel::ThreadState::kSuspended);
    }
    kernel::scheduler().init(1);
    if (std::uncaught_exceptions() == 0)
        CHECK(clean);
}

}  // namespace anvil_test
