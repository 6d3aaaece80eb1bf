// The mechanics under endpoints and notifications: putting a thread to wait on
// a queue, waking it with a result, the fast path's switch, and copying message
// bytes between address spaces. The rules of IPC (who waits, who is woken, what
// transfers) are the objects': kernel/object/endpoint.cpp and notification.cpp.
#pragma once

#include "kernel/lib/list.h"
#include "kernel/object/thread.h"

#include <stdint.h>

namespace kernel {

class VSpace;

// The queue a waiting thread is linked on.
using WaitQueue = List<Thread, &Thread::run_link>;

// No CPU to hand over: ipc_wake() queues the thread through the scheduler.
constexpr uint32_t kNoCpu = ~0u;

// Blocks the current thread, waiting for `wait` on `object`, linked at the end
// of `queue` (null for kReply, which waits on no queue).
void ipc_block(Thread& self, IpcWait wait, KObject* object, WaitQueue* queue);
// Makes a blocked thread runnable with `status` (and `out0` if OK). With a
// `direct_cpu`, the fast path: the thread that just blocked on that CPU hands
// it straight to `t` if the scheduler allows (same result, no run-queue trip,
// no cross-CPU wake-up).
void ipc_wake(Thread* t, Status status, uint64_t out0, uint32_t direct_cpu = kNoCpu);

// The fast path: a call, or the reply of a reply_recv whose receive blocks, with
// at most kIpcFastBytes of data and no caps hands its CPU straight to the woken
// partner (Scheduler::handoff) instead of queueing it. Results are the slow
// path's; only where the partner runs differs. On unless the kernel command
// line says `ipc.fastpath=off`; tests run both ways.
constexpr uint32_t kIpcFastBytes = 128;
void ipc_set_fastpath(bool on);
bool ipc_fastpath_enabled();
// True if a message of `len` bytes and `ncaps` caps may take the fast path.
bool ipc_fast_message(uint32_t len, uint32_t ncaps);
// Wake-ups the fast path has done directly so far.
uint64_t ipc_fastpath_count();

// Copies `len` bytes (at most a message) from one address space to another,
// both ranges already checked.
void ipc_copy(VSpace* src, uint64_t src_va, VSpace* dst, uint64_t dst_va, uint64_t len);

}  // namespace kernel
