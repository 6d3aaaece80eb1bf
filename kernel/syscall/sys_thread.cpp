// Thread lifecycle calls of the calling thread: exit and yield.
#include "kernel/lib/format.h"
#include "kernel/object/endpoint.h"
#include "kernel/object/thread.h"
#include "kernel/sched/scheduler.h"
#include "kernel/syscall/syscall.h"
#include "kernel/trace/trace.h"

#include <hal/hal.h>

namespace kernel {

Status sys_thread_exit(Thread& self, const sys::thread_exit_args& a, sys::thread_exit_out&) {
    const int64_t code = a.code;
    self.set_exit_code(code);
    trace_event(trace::Kind::k_exit, self.id(), trace_zigzag(code));
    scheduler().deschedule(&self, ThreadState::kExited);
    ipc_release_callers(&self);
    anvil_fault_msg_t report{};
    report.kind = ANVIL_FAULT_KIND_EXIT;
    report.exit_code = code;
    ipc_report_stop(&self, report);
    if (self.is_root()) {
        kprintf("anvil: init exited with code %lld\n", static_cast<long long>(code));
        halt_machine(static_cast<int>(code & 0x7f));
    }
    return ANVIL_OK;
}

Status sys_thread_yield(Thread& self, const sys::thread_yield_args&, sys::thread_yield_out&) {
    scheduler().yield(self.cpu());
    return ANVIL_OK;
}

}  // namespace kernel
