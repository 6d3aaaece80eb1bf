#include "kernel/object/thread.h"

#include "kernel/object/cnode.h"
#include "kernel/object/endpoint.h"
#include "kernel/object/vspace.h"
#include "kernel/sched/scheduler.h"
#include "kernel/vm/kheap.h"

namespace kernel {

const char* thread_state_name(ThreadState s) {
    switch (s) {
    case ThreadState::kInactive: return "inactive";
    case ThreadState::kRunnable: return "runnable";
    case ThreadState::kRunning: return "running";
    case ThreadState::kBlocked: return "blocked";
    case ThreadState::kSuspended: return "suspended";
    case ThreadState::kExited: return "exited";
    case ThreadState::kFaulted: return "faulted";
    }
    return "?";
}

Result<Thread*> Thread::create() {
    // kalloc's blocks are aligned to their size (kheap.cpp): 1 KiB.
    static_assert(sizeof(hal::ExtState) == 1024);
    auto* ext = static_cast<hal::ExtState*>(kalloc(sizeof(hal::ExtState)));
    if (!ext)
        return Result<Thread*>::error(ANVIL_ERR_NO_MEMORY);
    Thread* t = make<Thread>();
    if (!t) {
        kfree(ext, sizeof(hal::ExtState));
        return Result<Thread*>::error(ANVIL_ERR_NO_MEMORY);
    }
    hal::ext_state_init(*ext);
    t->ext_ = ext;
    t->regs_.rflags = hal::kUserRflags;
    return t;
}

void Thread::bind(CNode* cnode, VSpace* vspace) {
    // The registers an address space's backend still holds must reach the
    // file before the thread leaves it (or is destroyed).
    if (vspace != vspace_) {
        hal::user_regs_sync(regs_);
        hal::ext_state_sync(*ext_);
        hal::ext_state_forget(*ext_);
    }
    if (cnode)
        cnode->retain();
    if (vspace)
        vspace->retain();
    if (cnode_)
        cnode_->release();
    if (vspace_)
        vspace_->release();
    cnode_ = cnode;
    vspace_ = vspace;
}

void Thread::set_name(const char* name) {
    size_t i = 0;
    for (; name[i] && i + 1 < kNameLength; ++i)
        name_[i] = name[i];
    name_[i] = '\0';
}

void Thread::set_fault_endpoint(Endpoint* ep, uint64_t badge) {
    if (ep)
        ep->retain();
    if (fault_ep_)
        fault_ep_->release();
    fault_ep_ = ep;
    fault_badge_ = badge;
}

void Thread::destroy() {
    // The last cap is gone: the thread stops wherever it is, leaves every IPC
    // queue, and a caller waiting for its reply hears PEER_CLOSED.
    ipc_abort_wait(this);
    ipc_release_callers(this);
    if (state_ == ThreadState::kRunnable || state_ == ThreadState::kRunning || state_ == ThreadState::kBlocked)
        scheduler().deschedule(this, ThreadState::kExited);
    set_fault_endpoint(nullptr, 0);
    bind(nullptr, nullptr);
    hal::ext_state_forget(*ext_);
    kfree(ext_, sizeof(hal::ExtState));
    unmake(this);
}

}  // namespace kernel
