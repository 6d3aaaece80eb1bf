// The simulator's side of the kernel's test hooks (<hal/test_hooks.h>): which
// kernel decisions a run changes (anvil-sim --perturb-leak, --perturb-handoff)
// and where that happened.
#pragma once

#include <stdint.h>

namespace sim {

// What the hooks do in one run; 0 turns a hook off.
struct TestHookPlan {
    uint64_t leak_after_syscall = 0;  // the syscall (1-based) after which the caller's VSpace leaks a reference
    uint64_t refuse_handoff = 0;      // the IPC fast-path handoff (1-based) refused
};

// Sets the plan of the run about to start, counting from its first hook point.
void set_test_hooks(const TestHookPlan& plan);

// The trace record index at which the planned handoff was refused; 0 if it was
// not (the run made fewer handoffs). What a replay should report.
uint64_t refused_handoff_record();

}  // namespace sim
