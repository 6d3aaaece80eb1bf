// A thread (TCB): a user register file, a scheduling state, and the CNode and
// VSpace it runs with. Blocked threads are just a state plus a queue link: no
// kernel stack is kept for them (DESIGN.md, event-driven kernel).
#pragma once

#include "kernel/lib/list.h"
#include "kernel/lib/result.h"
#include "kernel/object/object.h"
#include "kernel/vm/kheap.h"

#include <hal/hal.h>

namespace kernel {

class CNode;
class VSpace;

enum class ThreadState : uint8_t {
    kInactive,   // created, not yet configured/resumed; on no queue
    kRunnable,   // on its CPU's run queue
    kRunning,    // current on a CPU; on no queue
    kBlocked,    // waiting on an object; on that object's wait queue
    kSuspended,  // stopped by tcb_suspend; on no queue
    kExited,     // ended by thread_exit; on no queue
    kFaulted,    // stopped by a user fault; on no queue
};

const char* thread_state_name(ThreadState s);

class Thread final : public KObject {
public:
    static constexpr uint32_t kMaxPriority = 255;
    static constexpr size_t kNameLength = 16;

    static Result<Thread*> create();

    hal::UserRegs& regs() { return regs_; }
    ThreadState state() const { return state_; }
    void set_state(ThreadState s) { state_ = s; }

    // Binds the thread to a CNode and VSpace (takes references, drops old ones).
    void bind(CNode* cnode, VSpace* vspace);
    CNode* cnode() const { return cnode_; }
    VSpace* vspace() const { return vspace_; }

    uint32_t priority() const { return priority_; }
    void set_priority(uint32_t p) { priority_ = p; }
    uint32_t affinity() const { return affinity_; }  // a CPU index or ANVIL_CPU_ANY
    void set_affinity(uint32_t cpu) { affinity_ = cpu; }
    uint32_t cpu() const { return cpu_; }            // the CPU it runs / last ran on
    void set_cpu(uint32_t cpu) { cpu_ = cpu; }

    // The root thread is init's first thread: when it ends, the machine halts.
    bool is_root() const { return root_; }
    void set_root(bool root) { root_ = root; }

    int64_t exit_code() const { return exit_code_; }
    void set_exit_code(int64_t code) { exit_code_ = code; }

    uint64_t ipc_buffer() const { return ipc_buffer_; }
    void set_ipc_buffer(uint64_t va) { ipc_buffer_ = va; }
    // Slot (in the thread's CNode) of the endpoint told about faults/exit; 0 = none.
    uint32_t fault_endpoint_slot() const { return fault_ep_slot_; }
    void set_fault_endpoint_slot(uint32_t slot) { fault_ep_slot_ = slot; }

    const char* name() const { return name_; }
    void set_name(const char* name);

    ListNode run_link;  // on a run queue (kRunnable) or a wait queue (kBlocked)

private:
    KERNEL_HEAP_FRIENDS;
    Thread() : KObject(ANVIL_OBJ_TCB) {}
    void destroy() override;

    hal::UserRegs regs_{};
    ThreadState state_ = ThreadState::kInactive;
    CNode* cnode_ = nullptr;
    VSpace* vspace_ = nullptr;
    uint32_t priority_ = 0;
    uint32_t affinity_ = ANVIL_CPU_ANY;
    uint32_t cpu_ = 0;
    bool root_ = false;
    int64_t exit_code_ = 0;
    uint64_t ipc_buffer_ = 0;
    uint32_t fault_ep_slot_ = 0;
    char name_[kNameLength] = {};
};

}  // namespace kernel
