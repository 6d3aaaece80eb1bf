// The debugger's time-travel engine (anvil-debug, tools/anvil debug): one
// simulated run that its front ends (the command loop, replay/debug/command_loop.cpp;
// the GDB server, replay/debug/gdb_server.cpp) move forwards and backwards and
// look at. Its answers are typed (Stop, Position, registers, bytes): the
// front ends never see the worker protocol.
//
// Processes. The run happens in a worker process (replay/debug/worker.h); the
// debugger process sends it commands through FIFOs and reads a status line
// back after each. Because a run is deterministic, going back is going
// forward again from an earlier copy of the run:
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

#include "hal/hal.h"
#include "replay/debug/gdb_target.h"
#include "replay/debug/command.h"
#include "replay/debug/kernel_view.h"
#include "replay/trace_reader.h"
#include "sim/engine.h"
#include "sim/machine.h"

#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace replay {

struct DebugOptions {
    sim::Config config;
    const Trace* trace = nullptr;          // --trace: the run must match it record by record
    std::FILE* commands = stdin;           // where commands come from
    bool echo_commands = false;            // --script: print each command after the prompt
    int gdb_port = -1;                     // --gdb: serve the GDB remote protocol on 127.0.0.1:PORT
    std::string program;                   // --program: the program the session is about
    std::vector<std::string> symbol_dirs;  // --symbols: where the unstripped programs are
};

// A position in the run: `steps` machine steps done, then `insns` user
// instructions of the next slice (a view), or, with `entry`, that slice run to
// its kernel entry, which is not made yet (a syscall about to enter the kernel).
struct Position {
    uint64_t steps = 0;
    uint64_t insns = 0;
    bool entry = false;
};

// Where and why a run stopped.
struct Stop {
    enum class Kind {
        kStep,           // a stepi is done: `thread` is just before its next instruction
        kBreakpoint,     // `thread` is at an instruction breakpoint
        kSyscallEntry,   // `thread` is about to enter caught syscall `syscall`
        kSyscallReturn,  // `thread` has returned from caught syscall `syscall`
        kInterrupt,      // Ctrl-C or gdb's interrupt: `thread` was about to run
        kExited,         // the run is over, with `exit_code`
        kStartOfRun,     // going back found nothing earlier (reverse_stepi: no instruction of `thread`)
        kWatch,          // `thread` accessed watched memory: forwards just after the
                         // instruction, backwards just before it
        kEvent,          // a kernel event matched a command-loop breakpoint (it printed it)
        kProcess,        // a process the caller did not know started: `thread` is its first thread
    };
    Kind kind = Kind::kStartOfRun;
    uint64_t thread = 0;
    uint64_t syscall = 0;
    int exit_code = 0;
    // kWatch: which watch (its index and address), the watched bytes before
    // and after the access (little-endian).
    size_t watch = 0;
    uint64_t addr = 0;
    uint64_t old_value = 0;
    uint64_t new_value = 0;
    // kEvent going backwards: what the command-loop breakpoint or object watch
    // hit, for people (going forwards the worker prints it).
    std::string what;

    static Stop of(Kind kind, uint64_t thread = 0, int exit_code = 0) {
        Stop s;
        s.kind = kind;
        s.thread = thread;
        s.exit_code = exit_code;
        return s;
    }
};

// A data watchpoint: `len` (1..8) bytes at `va` of `thread`'s address space.
// It watches the memory there, so a page shared with other processes is
// watched in each of them, whatever address they map it at (unless
// own_process).
struct Watch {
    enum class Type { kWrite = 2, kRead = 3, kAccess = 4 };  // gdb's Z2, Z3, Z4
    Type type = Type::kWrite;
    uint64_t thread = 0;
    uint64_t va = 0;
    uint32_t len = 0;
    // Only accesses by threads of `thread`'s process stop (gdb's watchpoints
    // belong to an inferior); else any process's, the memory being shared.
    bool own_process = false;
    // watch: a write that changes the bytes; rwatch: a read; awatch: either.
    bool operator==(const Watch&) const = default;
};

// Instruction breakpoints: addresses by process (debug::ProcessInfo::id; 0:
// in every process).
using CodeBreakpoints = std::map<uint64_t, std::set<uint64_t>>;

// The syscalls whose entries and returns stop a continue (gdb's catch syscall).
struct SyscallCatch {
    enum class Mode { kOff, kAll, kList };
    Mode mode = Mode::kOff;
    std::vector<uint64_t> syscalls;  // kList
};

// The debugger process's handle on the worker processes. Moving calls return
// nullopt (and queries nothing) when the worker died.
class Timeline {
public:
    explicit Timeline(const DebugOptions& options);
    ~Timeline();
    Timeline(const Timeline&) = delete;
    Timeline& operator=(const Timeline&) = delete;

    // Boots the first worker; false if the simulator could not start.
    bool start();
    const DebugOptions& options() const { return options_; }
    // A directory of the session's own, removed with its files when it ends.
    const std::string& scratch_dir() const { return dir_; }

    // ---- Positions ----

    Position position() const { return pos_; }
    uint64_t prev_stop() const { return prev_; }  // the step of the previous kernel event
    bool ended() const { return ended_; }
    uint64_t slice_thread() const { return thread_; }  // the next slice's thread (0: none planned)
    // True if the current process is a view (inside a slice).
    bool in_view() const { return pos_.insns > 0; }
    // Leaves a view for its worker (at the start of the slice); no-op otherwise.
    bool leave_view();
    // Goes to a position of this run (re-executing from a checkpoint if it is
    // behind, or from the worker if it is ahead).
    bool go(const Position& p);

    // ---- Moving ----

    // Runs `n` user instructions of `thread` (other threads run as the schedule
    // has them) and stops just before its next one: kStep, kInterrupt or kExited.
    std::optional<Stop> stepi(uint64_t thread, uint64_t n);
    // Runs to the next instruction breakpoint, caught syscall entry or return,
    // interrupt or the end of the run (past a breakpoint at the current position
    // if `skip_breakpoint`). A 0x03 byte on `interrupt_fd` (gdb's Ctrl-C; -1:
    // none) interrupts it. With `known_processes`, a process not in it that
    // starts stops it too (kProcess, just after the step that started it).
    std::optional<Stop> cont(bool skip_breakpoint, int interrupt_fd,
                             const std::vector<uint64_t>* known_processes = nullptr);
    // To just before `thread`'s previous instruction: kStep, or kStartOfRun
    // (staying here) if it has run none.
    std::optional<Stop> reverse_stepi(uint64_t thread);
    // To the last breakpoint hit (instructions, or the command loop's kernel
    // events and object watches: kEvent, just after the step), watchpoint hit,
    // caught syscall entry or caught syscall return before the current
    // position; kStartOfRun (at step 0) if there is none.
    std::optional<Stop> reverse_continue();
    // To just after kernel event (trace record) `n`, forwards or backwards;
    // false if the run ends before it (staying at the end) or the worker died.
    bool goto_event(uint64_t n, bool* reached);

    // ---- Settings: the current process gets them now, every later worker on spawn ----

    // The command loop's breakpoints on kernel events (`continue` and `next` stop at them).
    void set_breakpoints(const std::vector<debug::Breakpoint>& breakpoints);
    // The GDB server's instruction breakpoints and syscall catches.
    void set_code_stops(const CodeBreakpoints& breakpoints, const SyscallCatch& catches);
    // The data watchpoints (continue and reverse_continue stop at them).
    // A new watch's address is resolved here and now, a kept one keeps the
    // memory it was set on. False, with *why, if a new one's bytes are not
    // mapped now; the old set stays.
    bool set_watches(const std::vector<Watch>& watches, std::string* why);

    // ---- Looking ----

    // The thread commands look at (set_focus, else the last syscall's or fault's; 0: none).
    uint64_t focus();
    bool set_focus(uint64_t thread);
    // The live threads, by id.
    std::vector<uint64_t> threads();
    // The processes with started threads, by id, with the programs they run.
    std::vector<debug::ProcessInfo> processes();
    // A line about a thread for people: "blocked on cpu 1 recv on endpoint 4"; "gone".
    std::string thread_info(uint64_t thread);
    // A thread's registers; nullopt if it does not exist.
    std::optional<debug::gdb::ThreadRegisters> registers(uint64_t thread);
    // Up to `len` bytes of a thread's address space from `va`: as many as are
    // readable (none if the first is not).
    std::vector<uint8_t> memory(uint64_t thread, uint64_t va, uint64_t len);
    // Has the current process run a command of the command loop (its canonical
    // line, DebugCommand::line), which prints its answer to the terminal.
    bool execute(const std::string& line);
    // Prints where the focus thread is, with its next instruction.
    bool show();
    // What a command of the command loop prints here (a canonical line that
    // only looks: `where`, `threads`, `caps 3`...), as text.
    std::string capture(const std::string& line);

private:
    bool spawn_from(uint64_t checkpoint, uint64_t target);
    bool open_worker(uint64_t id);
    void close_worker();
    bool send(const std::string& line, std::vector<std::string>* replies = nullptr);
    std::string ask(const std::string& line, const std::string& word);
    bool read_status(std::vector<std::string>* replies);
    bool read_line(std::string* line);
    void apply_settings(std::vector<std::string> lines);

    const DebugOptions& options_;
    std::string dir_;       // the FIFOs
    int lifeline_ = -1;     // write end: every process of the session exits when it closes
    uint64_t next_id_ = 0;  // worker FIFO names
    uint64_t shown_ = 0;    // the furthest step a worker has reached (its console output was shown)
    std::FILE* to_ = nullptr;
    std::FILE* from_ = nullptr;
    std::string in_buf_;    // what was read from the worker past the last line
    int worker_pid_ = -1;   // the process that answered last (SIGUSR1 interrupts it)
    int interrupt_fd_ = -1; // while waiting for a worker: a 0x03 byte here interrupts it
    Position pos_;
    uint64_t prev_ = 0;
    uint64_t thread_ = 0;
    bool ended_ = false;
    // Worker settings that every new worker must have (breakpoints and
    // catches), as the command lines that set them.
    std::vector<std::string> settings_;
    std::string watch_setting_;    // "=watch ...", as settings_
    std::vector<Watch> watches_;   // set_watches()
    std::vector<std::string> watch_pas_;  // each one's memory and process: "PA PROCESS" (hex)
    bool send_settings();
    Stop watch_stop(uint64_t thread, size_t watch, uint64_t old_value, uint64_t new_value) const;
};

}  // namespace replay
