// Test hooks: the points where a test may make the kernel take one other
// decision, or plant a bug, to show that replay and the invariant checker
// catch it (DESIGN.md: test hooks stay out of the shipped binary).
//
// At each point the kernel asks `test_hook(point)`, and the backend answers.
// Only the simulator's HAL wires the hooks (hal/sim/test_hooks.cpp, set by
// anvil-sim's --perturb-* options). The x86_64 backend's answer is a constant
// false, so the compiler drops every hook point and kernel.elf holds no code or
// state of any (`nm kernel.elf` names none). Each build of the kernel finds its
// backend's test_hook through its include path, <hal_backend/test_hooks.h>, so
// no kernel file knows the backend and none needs an #ifdef.
//
// A new hook is a point below, the kernel's call at it, and the simulator's
// plan for it.
#pragma once

#include <stdint.h>

namespace hal {

enum class TestHook : uint32_t {
    // A syscall's result has been written. Yes: the caller's VSpace takes a
    // reference nobody holds, a leak for --check-invariants to find.
    kSyscallDone,
    // The IPC fast path is about to hand its CPU to the thread it woke. Yes: it
    // queues the thread instead, one changed kernel decision for a replay to
    // report.
    kIpcHandoff,
    // Planted races for the bug-finding benchmark (userspace/bugs, `plant=NAME`
    // on the command line), each showing only when one thread gets to the
    // kernel before another:
    // ipc_recv takes a queued sender. Yes: it reports badge 0, not the sender's.
    kStaleBadge,
    // notify_signal finds no waiter. Yes: the bits are dropped, not kept.
    kLostSignal,
    // The kernel is about to allocate (a heap block, or frames). Yes: the
    // allocation fails as if memory had run out (fault injection,
    // anvil-sim --faults alloc-fail=N).
    kAllocate,
};

}  // namespace hal

// bool hal::test_hook(TestHook point): true if the hook at `point` fires now.
#include <hal_backend/test_hooks.h>
