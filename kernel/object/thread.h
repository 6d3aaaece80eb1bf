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
class Endpoint;
class Thread;
class VSpace;

// What a blocked (or dead, for kFaultMsg) thread waits for in IPC.
enum class IpcWait : uint8_t {
    kNone,
    kSend,      // on an endpoint's senders, with a message
    kCall,      // on an endpoint's senders, with a message; then kReply
    kRecv,      // on an endpoint's receivers, with a buffer
    kReply,     // on no queue: waiting for `replier` to answer its call
    kNotify,    // on a notification's waiters
    kFaultMsg,  // exited/faulted, on its fault endpoint's senders with `fault`
};

// A thread's IPC state. Who links to whom: a server that took a call holds
// `reply_to` (the caller); the caller, in kReply, holds `replier` (the server).
struct IpcState {
    IpcWait wait = IpcWait::kNone;
    KObject* object = nullptr;   // the endpoint or notification whose queue we are on
    uint64_t msg_va = 0;         // kSend/kCall: the message; kRecv: the buffer
    uint64_t reply_va = 0;       // kCall/kReply: where the reply goes
    uint64_t badge = 0;          // kSend/kCall/kFaultMsg: the badge the receiver gets
    Thread* reply_to = nullptr;  // the caller this thread owes a reply
    Thread* replier = nullptr;   // kReply: the thread that owes us one
    anvil_fault_msg_t fault{};   // kFaultMsg: the kernel's message about this thread
};

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

    // The whole register file, made current first (hal::user_regs_sync).
    hal::UserRegs& regs() {
        hal::user_regs_sync(regs_);
        return regs_;
    }
    // The register file as a kernel entry left it: only rip, rflags and the
    // syscall registers (rax, rdi, rsi, rdx, r8, r9, r10, r12) are sure to be
    // current; the syscall, IPC and scheduling paths use only those.
    hal::UserRegs& entry_regs() { return regs_; }
    // The x87/SSE/AVX state, made current first (hal::ext_state_sync); after
    // writing it, call hal::ext_state_forget so the backend reloads it.
    hal::ExtState& ext() {
        hal::ext_state_sync(*ext_);
        return *ext_;
    }
    // As the backend last handed it back (for the backend's own loading).
    hal::ExtState& entry_ext() { return *ext_; }
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
    // The endpoint told when this thread faults or exits (a counted reference),
    // and the badge of the cap it was given by; null = none.
    Endpoint* fault_endpoint() const { return fault_ep_; }
    uint64_t fault_badge() const { return fault_badge_; }
    void set_fault_endpoint(Endpoint* ep, uint64_t badge);

    IpcState ipc;

    const char* name() const { return name_; }
    void set_name(const char* name);

    ListNode run_link;  // on a run queue (kRunnable) or a wait queue (kBlocked)
    // On the deadline list (kernel/sched/timeout.h) while blocked in a timed
    // notification wait, which ends at clock tick `deadline` (0: no deadline).
    ListNode deadline_link;
    uint64_t deadline = 0;

private:
    KERNEL_HEAP_FRIENDS;
    Thread() : KObject(ANVIL_OBJ_TCB) {}
    void destroy() override;

    hal::UserRegs regs_{};
    hal::ExtState* ext_ = nullptr;  // its own block: 64-byte aligned, as XSAVE needs
    ThreadState state_ = ThreadState::kInactive;
    CNode* cnode_ = nullptr;
    VSpace* vspace_ = nullptr;
    uint32_t priority_ = 0;
    uint32_t affinity_ = ANVIL_CPU_ANY;
    uint32_t cpu_ = 0;
    bool root_ = false;
    int64_t exit_code_ = 0;
    uint64_t ipc_buffer_ = 0;
    Endpoint* fault_ep_ = nullptr;
    uint64_t fault_badge_ = 0;
    char name_[kNameLength] = {};
};

}  // namespace kernel
