// The simulator's test hooks (hal/sim/test_hooks.h): the kernel's hook points
// counted, and the one the plan names fired.
#include "hal/sim/test_hooks.h"

#include "sim/faults.h"

#include <hal/kernel_entry.h>
#include <hal/test_hooks.h>

#include <algorithm>

namespace sim {

namespace {
TestHookPlan g_plan;
uint64_t g_syscalls_done = 0;  // kSyscallDone points passed
uint64_t g_handoffs = 0;       // kIpcHandoff points passed
uint64_t g_refused_at_record = 0;
bool g_stale_badge = false, g_lost_signal = false;
std::vector<uint64_t> g_alloc_failures;  // sorted
uint64_t g_allocations = 0;              // kAllocate points passed since set_alloc_failures

bool allocation_fails() {
    ++g_allocations;
    if (!std::binary_search(g_alloc_failures.begin(), g_alloc_failures.end(), g_allocations))
        return false;
    kernel::on_injected(kInjectAllocFail, g_allocations, 0);
    return true;
}
}  // namespace

void set_alloc_failures(std::vector<uint64_t> allocations) {
    std::sort(allocations.begin(), allocations.end());
    g_alloc_failures = std::move(allocations);
    g_allocations = 0;
}

void set_planted_races(bool stale_badge, bool lost_signal) {
    g_stale_badge = stale_badge;
    g_lost_signal = lost_signal;
}

void set_test_hooks(const TestHookPlan& plan) {
    g_plan = plan;
    g_syscalls_done = g_handoffs = g_refused_at_record = 0;
}

uint64_t refused_handoff_record() { return g_refused_at_record; }

}  // namespace sim

bool hal::test_hook(TestHook point) {
    using namespace sim;
    switch (point) {
    case TestHook::kSyscallDone:
        return ++g_syscalls_done == g_plan.leak_after_syscall;
    case TestHook::kIpcHandoff:
        if (++g_handoffs != g_plan.refuse_handoff)
            return false;
        g_refused_at_record = kernel::trace_records();
        return true;
    case TestHook::kStaleBadge:
        return g_stale_badge;
    case TestHook::kLostSignal:
        return g_lost_signal;
    case TestHook::kAllocate:
        return allocation_fails();
    }
    return false;
}
