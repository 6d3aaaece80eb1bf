// The simulator's step debugger (anvil-debug, tools/anvil debug): a command
// loop, or a GDB remote stub, over a simulated run.
//
// Processes. The run happens in a worker process; the debugger process (the
// command loop or the GDB stub) sends it commands through FIFOs and reads a
// status line back after each. Because a run is deterministic, going back is
// going forward again from an earlier copy of the run:
//  - every few thousand steps the worker forks a checkpoint, a copy of itself
//    that waits; to go back, the nearest checkpoint at or before the target
//    forks a new worker, which re-executes from there with console output off;
//  - a position inside a slice (after some user instructions) is reached by a
//    view: a copy of the worker forked at the slice's start that runs the slice
//    with an instruction-counting hook up to that point and stops there. A view
//    can only be looked at; moving on goes back to its worker, which then runs
//    the slice undisturbed. The worker itself never runs a debugging hook that
//    could change what it does, so every position is the one the undebugged run
//    passes through.
#pragma once

#include "replay/trace_reader.h"
#include "sim/engine.h"
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
    int gdb_port = -1;                     // --gdb: serve the GDB remote protocol on 127.0.0.1:PORT
    std::string program;                   // --program: breakpoints only where this program's code is
    std::vector<uint8_t> program_elf;      // its ELF file (from the initramfs)
};

// Runs the command loop until `quit` or the end of the commands, or the GDB
// stub until gdb detaches. Returns the process exit status (0; 2 if the
// simulator could not start).
int debug_main(const DebugOptions& options);

// A position in the run: `steps` machine steps done, then `insns` user
// instructions of the next slice (a view), or, with `entry`, that slice run to
// its kernel entry, which is not made yet (a syscall about to enter the kernel).
struct Position {
    uint64_t steps = 0;
    uint64_t insns = 0;
    bool entry = false;
};

// The debugger process's handle on the worker processes (replay/debug/debugger.cpp).
class DebugController {
public:
    explicit DebugController(const DebugOptions& options);
    ~DebugController();
    DebugController(const DebugController&) = delete;
    DebugController& operator=(const DebugController&) = delete;

    // Boots the first worker; false if the simulator could not start.
    bool start();

    // Sends one command line to the process at the current position; the
    // worker's "R ..." reply lines go to *replies. False if the worker died.
    bool send(const std::string& line, std::vector<std::string>* replies = nullptr);
    // The first reply of `line` that starts with `word` (without it); "" if none.
    std::string ask(const std::string& line, const std::string& word);

    // Goes to a position of this run (re-executing from a checkpoint if it is
    // behind, or from the worker if it is ahead).
    bool go(const Position& p);

    Position position() const { return pos_; }
    uint64_t prev_stop() const { return prev_; }  // the step of the previous kernel event
    bool ended() const { return ended_; }
    uint64_t slice_thread() const { return thread_; }  // the next slice's thread (0: none planned)
    // True if the current process is a view (inside a slice).
    bool in_view() const { return pos_.insns > 0; }
    // Leaves a view for its worker (at the start of the slice); no-op otherwise.
    bool leave_view();

    // Reverse execution for thread `thread`: to just before its previous
    // instruction. False (and *why) if there is none.
    bool reverse_stepi(uint64_t thread, std::string* why);

    // An event reverse_continue() found: where it is and what it was.
    struct Found {
        std::string kind;  // "bp", "entry", "return" or "" (the start of the run)
        uint64_t thread = 0;
        uint64_t nr = 0;
    };
    // To the last breakpoint hit, caught syscall entry or caught syscall return
    // before the current position (Breakpoints and catches as the worker has them).
    bool reverse_continue(Found* found);

    const DebugOptions& options() const { return options_; }

private:
    bool spawn_from(uint64_t checkpoint, uint64_t target);
    bool open_worker(uint64_t id);
    void close_worker();
    bool read_status(std::vector<std::string>* replies);
    bool read_line(std::string* line);
    std::vector<uint64_t> checkpoints() const;  // steps that have one, ascending
    void thin_checkpoints();

    const DebugOptions& options_;
    std::string dir_;       // the FIFOs
    int lifeline_ = -1;     // write end: every process of the session exits when it closes
    uint64_t next_id_ = 0;  // worker FIFO names
    uint64_t shown_ = 0;    // the furthest step a worker has reached (its console output was shown)
    std::FILE* to_ = nullptr;
    std::FILE* from_ = nullptr;
    std::string in_buf_;    // what was read from the worker past the last line
    int worker_pid_ = -1;   // the process that answered last (SIGUSR1 interrupts it)
    Position pos_;
    uint64_t prev_ = 0;
    uint64_t thread_ = 0;
    bool ended_ = false;

public:
    // While waiting for a worker: a 0x03 byte on this fd (gdb's interrupt)
    // interrupts it (-1: none).
    int interrupt_fd = -1;
    // Worker settings that every new worker must have: breakpoints and catches
    // (the GDB stub), as the command lines that set them.
    std::vector<std::string> settings;
};

// Serves the GDB remote protocol (replay/debug/gdb_server.cpp); returns the exit status.
int gdb_serve(DebugController& control, int port);

// Bytes as lowercase hex, two digits each (the worker protocol and GDB's).
std::string to_hex(const void* data, size_t len);

// Anvil's syscalls in GDB's syscall XML format (for `catch syscall NAME`).
std::string gdb_syscalls_xml();

}  // namespace sim
