// The simulator's step debugger (anvil-debug, tools/anvil debug): a command
// loop over a simulated run, stopping at kernel events.
//
// The run happens in a worker process forked from a pristine debugger process
// (one that never booted the kernel). Because a run is deterministic, going
// back is going forward again: `prev` starts a fresh worker and re-executes to
// the previous stop with console output off. Breakpoints live in the debugger
// and are handed to every new worker.
#pragma once

#include "replay/trace_reader.h"
#include "sim/machine.h"

#include <cstdio>
#include <string>
#include <vector>

namespace sim {

struct DebugOptions {
    Config config;
    const replay::Trace* trace = nullptr;  // --trace: the run must match it record by record
    std::FILE* commands = stdin;           // where commands come from
    bool echo_commands = false;            // --script: print each command after the prompt
};

// Runs the command loop until `quit` or the end of the commands. Returns the
// process exit status (0; 2 if the simulator could not start).
int debug_main(const DebugOptions& options);

}  // namespace sim
