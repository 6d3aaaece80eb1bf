// A harness for host tests of the kernel through its syscall layer: one simulated
// machine per test process (kernel globals cannot be reset) and, per test, a fresh
// process (CNode, VSpace, thread) that makes syscalls through kernel::dispatch_syscall.
#pragma once

#include "kernel/introspect.h"

#include <anvil/status.h>
#include <anvil/syscalls.h>
#include <anvil/types.h>

#include "catch.h"

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

namespace anvil_test {

// Makes the simulated machine active and initialises the frame allocator and the
// scheduler (one CPU), the first time it is called in this process.
void kernel_env();

// A status that Catch prints by name.
struct Code {
    int v;
    friend bool operator==(Code, Code) = default;
};

inline constexpr Code kOk{ANVIL_OK}, kInvalidCap{ANVIL_ERR_INVALID_CAP}, kWrongType{ANVIL_ERR_WRONG_TYPE},
    kAccessDenied{ANVIL_ERR_ACCESS_DENIED}, kInvalidArg{ANVIL_ERR_INVALID_ARG}, kNoMemory{ANVIL_ERR_NO_MEMORY},
    kSlotOccupied{ANVIL_ERR_SLOT_OCCUPIED}, kAddrInUse{ANVIL_ERR_ADDR_IN_USE}, kAlignment{ANVIL_ERR_ALIGNMENT},
    kBadState{ANVIL_ERR_BAD_STATE}, kFault{ANVIL_ERR_FAULT}, kNotSupported{ANVIL_ERR_NOT_SUPPORTED},
    kOutOfRange{ANVIL_ERR_OUT_OF_RANGE};

// What a syscall returned: status (rax) and the out registers (rdx, r10), which
// are meaningful only when the status is kOk.
struct SysResult {
    Code status;
    uint64_t out0 = 0;
    uint64_t out1 = 0;
};

using Bytes = std::vector<uint8_t>;
using U64s = std::initializer_list<uint64_t>;

// Loads syscall `nr` and its arguments into a register file, as the libanvil
// wrappers would (<anvil/syscalls.h>: rax, then rdi rsi rdx r10 r8 r9 r12).
void load_syscall(hal::UserRegs& r, uint64_t nr, U64s args);

constexpr uint64_t kPage = 4096;
// The process's scratch buffer: a VMO mapped read-write.
constexpr uint64_t kUserBuf = 0x10000000;
constexpr uint64_t kUserBufSize = 64 * 1024;
// One read-only page, filled with kRoFill.
constexpr uint64_t kUserRoPage = 0x10100000;
constexpr uint8_t kRoFill = 0xa5;
// Never mapped by the harness.
constexpr uint64_t kUnmapped = 0x20000000;
constexpr uint64_t kKernelHalf = 0xffff800000000000ull;

constexpr uint32_t kR = ANVIL_RIGHT_READ, kW = ANVIL_RIGHT_WRITE, kX = ANVIL_RIGHT_EXEC, kM = ANVIL_RIGHT_MANAGE,
                   kG = ANVIL_RIGHT_GRANT, kAll = ANVIL_RIGHTS_ALL;
constexpr uint32_t kSelfCNode = ANVIL_CAP_SELF_CNODE, kSelfVSpace = ANVIL_CAP_SELF_VSPACE,
                   kSelfTcb = ANVIL_CAP_SELF_TCB;

// A process like boot/process.cpp builds: CNode (256 slots) with caps to itself,
// its VSpace and its thread in slots 1/2/3 (all rights), and the thread current
// on CPU 0. Everything its CNode holds is deleted when it goes.
class TestProcess {
public:
    static constexpr uint32_t kSlots = 256;

    explicit TestProcess(uint32_t priority = 100);
    ~TestProcess();
    TestProcess(const TestProcess&) = delete;
    TestProcess& operator=(const TestProcess&) = delete;

    kernel::CNode* cnode() const { return cnode_; }
    kernel::VSpace* vspace() const { return vspace_; }
    kernel::Thread* thread() const { return thread_; }
    kernel::Vmo* ro_vmo() const { return ro_vmo_; }

    // Syscall `nr` with up to seven arguments (rdi, rsi, rdx, r10, r8, r9, r12).
    SysResult sys_raw(uint64_t nr, std::initializer_list<uint64_t> args);
    template <typename... A>
    SysResult sys(uint64_t nr, A... args) {
        static_assert(sizeof...(A) <= ANVIL_SYSCALL_MAX_ARGS);
        return sys_raw(nr, {static_cast<uint64_t>(args)...});
    }

    // The cap in the process's own slot (null if out of range).
    kernel::Cap* cap(uint32_t slot) const { return cnode_->slot(slot); }
    // The object behind an occupied slot.
    template <typename T>
    T* object(uint32_t slot) const {
        kernel::Cap* c = cap(slot);
        REQUIRE(c);
        REQUIRE(!c->empty());
        return static_cast<T*>(c->object);
    }

    // User memory of the process's VSpace (through VSpace::copy_out / copy_in).
    void write_user(uint64_t va, const Bytes& bytes);
    Bytes read_user(uint64_t va, uint64_t len);
    template <typename T>
    void put(uint64_t va, const T& value) {
        Bytes b(sizeof(T));
        std::memcpy(b.data(), &value, sizeof(T));
        write_user(va, b);
    }
    template <typename T>
    T get(uint64_t va) {
        T value;
        const Bytes b = read_user(va, sizeof(T));
        std::memcpy(&value, b.data(), sizeof(T));
        return value;
    }

    // Convenience wrappers that REQUIRE success and return the new slot.
    uint32_t new_vmo(uint64_t size);
    uint32_t new_cnode(uint32_t slots = 256);
    uint32_t new_vspace();
    uint32_t new_tcb();
    // cap_copy within the process's own CNode into the lowest free slot.
    uint32_t copy(uint32_t slot, uint32_t mask);

private:
    kernel::CNode* cnode_ = nullptr;
    kernel::VSpace* vspace_ = nullptr;
    kernel::Thread* thread_ = nullptr;
    kernel::Vmo* ro_vmo_ = nullptr;
};

// Bytes 0, 1, 2, ... (mod 251) shifted by `seed`.
Bytes pattern(size_t len, uint8_t seed = 0);

}  // namespace anvil_test

namespace Catch {
template <>
struct StringMaker<anvil_test::Code> {
    static std::string convert(anvil_test::Code c) {
        const char* name = anvil_status_name(c.v, nullptr);
        return name ? name : std::to_string(c.v);
    }
};
template <>
struct StringMaker<kernel::ThreadState> {
    static std::string convert(kernel::ThreadState s) { return kernel::thread_state_name(s); }
};
}  // namespace Catch


namespace anvil_test {

// True if no CPU has a current thread or anything queued.
bool scheduler_clean();

// Runs the scheduler with `cpus` CPUs for one test and puts the harness's single
// CPU back at the end. Declare it before any TestProcess, so that the processes
// are gone when it checks that the scheduler is clean; after a failure it also
// clears whatever was left, so the next test is unaffected.
class SmpGuard {
public:
    explicit SmpGuard(uint32_t cpus = 4);
    ~SmpGuard();
    SmpGuard(const SmpGuard&) = delete;
    SmpGuard& operator=(const SmpGuard&) = delete;
};

}  // namespace anvil_test
