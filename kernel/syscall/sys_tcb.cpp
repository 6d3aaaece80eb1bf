// Thread control calls: tcb_create, tcb_configure, tcb_set_regs, tcb_get_regs,
// tcb_resume, tcb_suspend.
#include "kernel/object/cnode.h"
#include "kernel/object/endpoint.h"
#include "kernel/object/thread.h"
#include "kernel/object/vspace.h"
#include "kernel/sched/scheduler.h"
#include "kernel/syscall/lookup.h"
#include "kernel/syscall/syscall.h"

namespace kernel {

namespace {

// Registers may be read or written only while the thread is not running.
bool is_stopped(ThreadState s) {
    return s == ThreadState::kInactive || s == ThreadState::kSuspended || s == ThreadState::kExited ||
           s == ThreadState::kFaulted;
}

void to_abi(const hal::UserRegs& r, anvil_regs_t* out) {
    *out = anvil_regs_t{r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp,
                        r.r8,  r.r9,  r.r10,    r.r11, r.r12, r.r13, r.r14, r.r15, r.fs_base};
}

// A user address the CPU can load into rip/rsp/fs_base without faulting in the
// kernel's return path (canonical lower half).
bool is_user_canonical(uint64_t va) { return va < ANVIL_USER_LIMIT; }

}  // namespace

Status sys_tcb_create(Thread& self, const sys::tcb_create_args&, sys::tcb_create_out& out) {
    return install_new_object(self, out.out, [] { return Thread::create(); });
}

Status sys_tcb_configure(Thread& self, const sys::tcb_configure_args& a, sys::tcb_configure_out&) {
    const uint64_t ipc_buffer = a.ipc_buffer_va, priority = a.priority.reg(), cpu = a.cpu.reg();
    TRY_ASSIGN(tcb, lookup_object<Thread>(self, a.tcb, ANVIL_OBJ_TCB, ANVIL_RIGHT_MANAGE));
    // Running a thread inside a CNode and an address space is control over both.
    TRY_ASSIGN(cnode, lookup_object<CNode>(self, a.cnode, ANVIL_OBJ_CNODE, ANVIL_RIGHT_MANAGE));
    TRY_ASSIGN(vspace, lookup_object<VSpace>(self, a.vspace, ANVIL_OBJ_VSPACE, ANVIL_RIGHT_MANAGE));
    Cap* fault_cap = nullptr;
    if (a.fault_ep.reg() != ANVIL_CAP_NULL) {
        TRY_ASSIGN(cap, lookup_cap(self, a.fault_ep, ANVIL_OBJ_ENDPOINT, ANVIL_RIGHT_WRITE));
        fault_cap = cap;
    }
    if (priority > Thread::kMaxPriority)
        return ANVIL_ERR_INVALID_ARG;
    if (priority > self.priority())
        return ANVIL_ERR_ACCESS_DENIED;
    if (cpu != ANVIL_CPU_ANY && cpu >= scheduler().cpu_count())
        return ANVIL_ERR_INVALID_ARG;
    if (ipc_buffer != 0 && (ipc_buffer % hal::kPageSize != 0 || !user_range_ok(ipc_buffer, hal::kPageSize)))
        return ANVIL_ERR_INVALID_ARG;
    if (!is_stopped(tcb->state()) || tcb->state() == ThreadState::kExited || tcb->state() == ThreadState::kFaulted)
        return ANVIL_ERR_BAD_STATE;
    tcb->bind(cnode, vspace);
    tcb->set_priority(a.priority.value());
    tcb->set_affinity(a.cpu.value());
    tcb->set_ipc_buffer(ipc_buffer);
    tcb->set_fault_endpoint(fault_cap ? static_cast<Endpoint*>(fault_cap->object) : nullptr,
                            fault_cap ? fault_cap->badge : 0);
    return ANVIL_OK;
}

Status sys_tcb_set_regs(Thread& self, const sys::tcb_set_regs_args& a, sys::tcb_set_regs_out&) {
    TRY_ASSIGN(tcb, lookup_object<Thread>(self, a.tcb, ANVIL_OBJ_TCB, ANVIL_RIGHT_WRITE));
    anvil_regs_t in;
    TRY(self.vspace()->copy_in(&in, a.regs.va(), sizeof in));
    if (!is_stopped(tcb->state()) || tcb->state() == ThreadState::kExited)
        return ANVIL_ERR_BAD_STATE;
    if (!is_user_canonical(in.rip) || !is_user_canonical(in.rsp) || !is_user_canonical(in.fs_base))
        return ANVIL_ERR_INVALID_ARG;
    hal::UserRegs& r = tcb->regs();
    r = hal::UserRegs{in.rip, in.rsp, (in.rflags & hal::kUserRflagsMask) | hal::kUserRflags,
                      in.rax, in.rbx, in.rcx, in.rdx, in.rsi, in.rdi, in.rbp,
                      in.r8,  in.r9,  in.r10, in.r11, in.r12, in.r13, in.r14, in.r15, in.fs_base};
    return ANVIL_OK;
}

Status sys_tcb_get_regs(Thread& self, const sys::tcb_get_regs_args& a, sys::tcb_get_regs_out&) {
    TRY_ASSIGN(tcb, lookup_object<Thread>(self, a.tcb, ANVIL_OBJ_TCB, ANVIL_RIGHT_READ));
    if (!is_stopped(tcb->state()))
        return ANVIL_ERR_BAD_STATE;
    anvil_regs_t regs;
    to_abi(tcb->regs(), &regs);
    return self.vspace()->copy_out(a.out.va(), &regs, sizeof regs);
}

// Another thread's x87/SSE/AVX registers (anvil_ext_state_t: the first
// ANVIL_EXT_STATE_SIZE bytes of hal::ExtState), as for tcb_get_regs and
// tcb_set_regs: READ or WRITE on the TCB, the thread stopped.
static_assert(ANVIL_EXT_STATE_SIZE <= sizeof(hal::ExtState));
static_assert(ANVIL_EXT_MXCSR == hal::kExtMxcsr && ANVIL_EXT_XSTATE_BV == hal::kExtXstateBv);

Status sys_tcb_get_ext_state(Thread& self, const sys::tcb_get_ext_state_args& a, sys::tcb_get_ext_state_out&) {
    TRY_ASSIGN(tcb, lookup_object<Thread>(self, a.tcb, ANVIL_OBJ_TCB, ANVIL_RIGHT_READ));
    if (!is_stopped(tcb->state()))
        return ANVIL_ERR_BAD_STATE;
    return self.vspace()->copy_out(a.out.va(), tcb->ext().bytes, ANVIL_EXT_STATE_SIZE);
}

Status sys_tcb_set_ext_state(Thread& self, const sys::tcb_set_ext_state_args& a, sys::tcb_set_ext_state_out&) {
    TRY_ASSIGN(tcb, lookup_object<Thread>(self, a.tcb, ANVIL_OBJ_TCB, ANVIL_RIGHT_WRITE));
    hal::ExtState in;
    hal::ext_state_init(in);
    TRY(self.vspace()->copy_in(in.bytes, a.state.va(), ANVIL_EXT_STATE_SIZE));
    if (!is_stopped(tcb->state()) || tcb->state() == ThreadState::kExited)
        return ANVIL_ERR_BAD_STATE;
    if (!hal::ext_state_valid(in))
        return ANVIL_ERR_INVALID_ARG;
    hal::ExtState& ext = tcb->ext();
    ext = in;
    hal::ext_state_forget(ext);  // (its thread resumes from the block)
    return ANVIL_OK;
}

Status sys_tcb_resume(Thread& self, const sys::tcb_resume_args& a, sys::tcb_resume_out&) {
    TRY_ASSIGN(tcb, lookup_object<Thread>(self, a.tcb, ANVIL_OBJ_TCB, ANVIL_RIGHT_MANAGE));
    switch (tcb->state()) {
    case ThreadState::kInactive:
    case ThreadState::kSuspended:
        if (!tcb->cnode() || !tcb->vspace())
            return ANVIL_ERR_BAD_STATE;  // never configured
        scheduler().make_runnable(tcb);
        return ANVIL_OK;
    case ThreadState::kRunnable:
    case ThreadState::kRunning:
    case ThreadState::kBlocked:
        return ANVIL_OK;  // already going
    case ThreadState::kExited:
    case ThreadState::kFaulted:
        return ANVIL_ERR_BAD_STATE;
    }
    return ANVIL_ERR_BAD_STATE;
}

Status sys_tcb_suspend(Thread& self, const sys::tcb_suspend_args& a, sys::tcb_suspend_out&) {
    TRY_ASSIGN(tcb, lookup_object<Thread>(self, a.tcb, ANVIL_OBJ_TCB, ANVIL_RIGHT_MANAGE));
    switch (tcb->state()) {
    case ThreadState::kBlocked:
        ipc_interrupt(tcb);  // its call is re-issued on resume (see endpoint.cpp)
        scheduler().deschedule(tcb, ThreadState::kSuspended);
        return ANVIL_OK;
    case ThreadState::kRunnable:
    case ThreadState::kRunning:
        scheduler().deschedule(tcb, ThreadState::kSuspended);
        return ANVIL_OK;
    case ThreadState::kInactive:
    case ThreadState::kSuspended:
        return ANVIL_OK;
    case ThreadState::kExited:
    case ThreadState::kFaulted:
        return ANVIL_ERR_BAD_STATE;
    }
    return ANVIL_ERR_BAD_STATE;
}

}  // namespace kernel
