// The simulator's side of the kernel's test hooks (<hal/test_hooks.h>): which
// kernel decisions a run changes (anvil-sim --perturb-leak, --perturb-handoff)
// and where that happened.
#pragma once

#include <stdint.h>

#include <vector>

namespace sim {

// What the hooks do in one run; 0 turns a hook off.
struct TestHookPlan {
    uint64_t leak_after_syscall = 0;  // the syscall (1-based) after which the caller's VSpace leaks a reference
    uint64_t refuse_handoff = 0;      // the IPC fast-path handoff (1-based) refused
};

// Sets the plan of the run about to start, counting from its first hook point.
void set_test_hooks(const TestHookPlan& plan);

// The kernel races planted in the run about to start (kStaleBadge,
// kLostSignal: every time the point is passed). Machine::boot_kernel sets
// them from the command line's `plant=NAME` words, which the trace records, so
// replays, the debugger and shrinking plant them again.
void set_planted_races(bool stale_badge, bool lost_signal);

// The kernel allocations (1-based, counted from this call on) that fail
// (anvil-sim --faults alloc-fail=N; Machine::start sets them after boot, so
// boot itself never fails this way). Each failure writes an inject record.
void set_alloc_failures(std::vector<uint64_t> allocations);

// The trace record index at which the planned handoff was refused; 0 if it was
// not (the run made fewer handoffs). What a replay should report.
uint64_t refused_handoff_record();

}  // namespace sim
