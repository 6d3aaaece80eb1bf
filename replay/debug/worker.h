// A machine under the debugger's control: one simulated run in a worker
// process (docs/debugging.md, "How it works"). The worker moves only as the
// undebugged run would and forks a checkpoint every kCheckpointEvery steps;
// probes and views, copies forked at a slice's start, run the slice with an
// instruction hook (the worker itself never does). worker.cpp moves, forks and
// probes; worker_commands.cpp answers the commands and keeps the settings.
//
// The protocol (the other end is replay/timeline.cpp, which alone reads the
// replies). The debugger process writes one command a line to w<ID>.cmd; the
// worker answers on w<ID>.out with "R ..." reply lines and then one status line
// "S STEPS PREV_STOP ENDED VIEW_INSNS AT_ENTRY SLICE_THREAD PID". Commands:
//  - a command of the command loop, as DebugCommand::line() writes it (`where`,
//    `threads`, `break ...`, ...): its answer goes to the terminal;
//  - =goto S, =entry, =plan, =view K: move (forward to step S; the next slice to
//    its kernel entry; plan it; become a view K instructions into it);
//  - =stepi T N K, =cont K SKIP [P,P...]: run; reply "stopped step T", "stopped bp T",
//    "stopped entry T NR", "stopped return T NR", "stopped interrupt T",
//    "stopped exit CODE", or (=cont) "goto S": the slice after step S hit a
//    breakpoint, to be resolved from its start; with a list of processes,
//    =cont also stops when a process not in it appears: "stopped process T"
//    (T its first thread);
//  - =scan S EXCLUDE: from a checkpoint to step S, reply "scan none" or
//    "scan STEP bp|entry|return T NR", the last stop on the way;
//  - =probe LIMIT, =collect [LIMIT]: run the next slice in a probe, reply
//    "probe none" or "probe T EXECUTED REACHED" and the hits (format_hits:
//    breakpoint hits of =collect, then the watch hits);
//  - =find T S: reply "find STEP", the last step at or before S whose slice ran T;
//  - =eventstep N [known]: reply "eventstep STEP", the step that wrote record
//    N, running on to it if the run has not (no reply if the run ends first;
//    with `known`, no reply rather than running);
//  - =bp PROCESS:ADDR..., =catch off|all|NR...: the stops of =cont and =scan
//    (breakpoints of process 0 are in every process);
//  - =watch PA:LEN:TYPE:VA:PROCESS... (the whole set; TYPE 2 write, 3 read, 4 access;
//    PROCESS 0: an access by any process stops):
//    data watchpoints, also stops of =cont ("stopped watch T I OLD NEW": watch
//    I, the watched bytes' values before and after) and =scan ("scan STEP
//    watch T I"); =phys T VA LEN: reply "phys PA" if the LEN bytes at VA of
//    T's address space are mapped and physically contiguous, else "phys none";
//  - =focus [T], =threads, =procs, =tinfo T, =regs T, =mem T VA LEN, =show: look; the
//    replies are "focus T", "threads T...", "procs P:HEXNAME:T,T... ...", "tinfo TEXT", "regs HEX" (the
//    hal::UserRegs, empty if no thread T), "mem HEX";
//  - =capture LINE: a command of the command loop whose output is the reply,
//    "captured HEX" (the GDB server's `monitor` commands);
//  - leave (a view only): the view exits and its worker answers again.
// A checkpoint reads "spawn ID TARGET SHOWN" (fork a worker that runs to step
// TARGET and serves FIFOs ID) or "exit" from its own FIFO, cp-<STEP>.
#pragma once

#include "replay/debug/command.h"
#include "replay/timeline.h"
#include "replay/trace_reader.h"
#include "sim/engine.h"
#include "sim/machine.h"
#include "sim/trace_sink.h"

#include <csignal>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace kernel {
class Thread;
}

namespace replay::debug {

// Set by SIGINT (Ctrl-C at the terminal reaches every process of the session)
// or SIGUSR1 (the GDB server forwarding gdb's interrupt): a worker stops a
// running command at the next step.
extern volatile sig_atomic_t g_interrupted;

// What the worker sees of the trace: every record as it is written, checked
// against the expected trace (--trace) byte by byte.
class EventSink final : public sim::TraceSink {
public:
    explicit EventSink(const Trace* expected) : expected_(expected) {}

    void write(const void* data, size_t len) override;

    const std::vector<Record>& records() const { return records_; }
    bool diverged() const { return diverged_; }

private:
    const Trace* expected_;
    Trace trace_;
    bool have_header_ = false;
    uint64_t pos_ = 0;
    std::vector<Record> records_;
    bool diverged_ = false;
};

class Worker {
public:
    explicit Worker(const DebugOptions& o) : options_(o), sink_(o.trace && !o.trace->from_qemu() ? o.trace : nullptr), machine_(o.config) {}

    // Boots; quietly if a fast_forward is to follow (the boot log was shown once).
    bool start(bool quiet, std::string* error);

    // Serves commands from the FIFOs of worker `id` until they close.
    [[noreturn]] void serve(uint64_t id);

    // Runs to step `target` (re-execution when going back: console output the
    // session has shown once is not shown again, see echo()).
    void fast_forward(uint64_t target);

private:
    [[noreturn]] void loop();
    void reply(const std::string& text);
    void status();

    // ---- Moving, faithfully (worker.cpp) ----
    void echo();
    bool step_once();
    bool plan();
    bool run_user();
    bool finish();
    bool end(const sim::Outcome& out);
    void complete_step(uint64_t thread, size_t records_before);

    // ---- Checkpoints ----
    void maybe_checkpoint();
    [[noreturn]] void checkpoint_main();

    // ---- Inside a slice: probes and views ----
    struct Probe {
        uint64_t thread = 0;
        uint64_t executed = 0;
        bool stopped = false;        // by the limit or a breakpoint
        bool at_breakpoint = false;
        std::vector<uint64_t> hits;  // collect
        std::vector<sim::DataHit> watch_hits;  // the accesses the watches stop at, in order
        bool reached(uint64_t limit) const { return stopped && !at_breakpoint && executed == limit; }
    };
    Probe probe(uint64_t limit, const sim::Breakpoints* bps, uint64_t break_from, bool collect);
    void become_view(uint64_t k, const std::string& answer);

    // ---- Running to a stop (the timeline's moves) ----
    void stepi(uint64_t t, uint64_t n, uint64_t k);
    bool caught(uint64_t nr) const { return catching_ && (catch_all_ || catch_.count(nr)); }
    // The accesses the watches stop at: writes that change the bytes (watch),
    // reads (rwatch), any access (awatch).
    bool stops_at(const sim::DataHit& h) const;
    bool take_watch_stop();  // the last slice made such an access
    bool caught_entry(uint64_t* nr);
    void cont(uint64_t k, bool skip);
    void scan(uint64_t hi, bool exclude_hi);
    int exit_code() const { return outcome_.status(); }

    const std::vector<Record>& recs() const { return sink_.records(); }
    uint64_t prev_stop() const;
    uint64_t focus_thread() const;

    // ---- Commands (worker_commands.cpp) ----
    void execute(const std::string& line);
    void command(const DebugCommand& cmd);
    void machine_command(const std::string& cmd, std::istringstream& in);
    void run(bool next);
    std::string end_text() const;
    std::string breakpoint_hit(size_t from);
    kernel::Thread* thread_or_focus(uint64_t id);
    void where();
    void events(uint64_t n);
    void syscall();
    void focus(uint64_t id);
    void show();

    const DebugOptions& options_;
    EventSink sink_;
    sim::Machine machine_;
    std::FILE* in_ = nullptr;
    std::FILE* out_ = nullptr;
    std::vector<Breakpoint> breaks_;       // the command loop's (kernel events, object watches)
    std::vector<std::string> object_states_;  // per breaks_ entry: object_state() when last looked
    // Takes every object watch's state as it is here (a run compares with it).
    void snapshot_objects();
    std::vector<uint64_t> record_steps_;   // steps that wrote records, in order
    std::vector<uint64_t> record_step_;    // per record: the step that wrote it
    std::vector<uint64_t> slice_thread_;   // per step (from 1): the thread its slice ran, 0 for none
    uint64_t steps_ = 0;
    uint64_t shown_ = 0;                   // steps whose console output the session has shown
    uint64_t focus_ = 0;
    bool ended_ = false;
    sim::Outcome outcome_;
    bool view_ = false;                    // this process is a view, view_k_ instructions into the slice
    uint64_t view_k_ = 0;
    // The GDB server's instruction breakpoints, by process (0: in every process).
    std::map<uint64_t, sim::Breakpoints> bps_;
    sim::Breakpoints slice_bps_;           // slice_breakpoints()'s answer
    uint64_t as_made_ = 0;                 // address spaces made when the code watch was last set
    // The breakpoints of thread `thread`'s process (nullptr: none).
    const sim::Breakpoints* slice_breakpoints(uint64_t thread);
    // Hands the breakpoints to the machine (each process's to its address space).
    void set_code_watch();
    // With =cont's process list: the first thread of a live process not in it (0: none).
    std::vector<uint64_t> known_processes_;
    bool watch_processes_ = false;
    uint64_t new_process_thread();
    bool resumed_ = false;                 // a step since new_process_thread() last looked resumed a thread
    std::map<uint64_t, std::string> program_names_;  // by process: program_of()
    bool catching_ = false, catch_all_ = false;
    std::set<uint64_t> catch_;
    struct Watch {
        uint64_t pa = 0;
        uint32_t len = 0;
        int type = 2;  // 2 write, 3 read, 4 access (gdb's Z2, Z3, Z4)
        uint64_t va = 0;
        uint64_t process = 0;  // only accesses by this process's threads (0: any)
    };
    std::vector<Watch> watches_;
    void set_watches(std::vector<Watch> w);
    std::map<uint64_t, uint64_t> in_syscall_;                 // thread -> syscall it has not returned from
    std::vector<std::pair<uint64_t, uint64_t>> returns_;      // caught returns (thread, nr) of the last steps
};

// The first worker (in a process the debugger forked): boots and serves worker
// `id`'s FIFOs; returns only if the simulator could not start (the exit status).
int worker_first(const DebugOptions& o, uint64_t id);

}  // namespace replay::debug
