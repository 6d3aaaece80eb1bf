// The command language of anvil-debug's command loop (docs/debugging.md): one
// line decoded into a typed command with its arguments checked, before any of
// it reaches a worker, which is sent the command's canonical line. No
// simulator here: the unit tests and fuzz-debug parse lines alone.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace replay::debug {

// A breakpoint on kernel events (the command loop's `break`), or a watch on
// a kernel object (`watch slot|endpoint|thread ...`), which stops after each
// step that changes what it watches. Both are listed by `break`.
struct Breakpoint {
    enum class Kind {
        kSyscall,   // break syscall NAME [thread T]
        kEvent,     // break event N
        kFault,     // break fault
        kSlot,      // watch slot T S: slot S of the CNode of thread T's process
        kEndpoint,  // watch endpoint E: endpoint (object id) E's queues
        kThread,    // watch thread T: thread T's state (and what it waits on)
    };
    Kind kind = Kind::kFault;
    uint64_t value = 0;   // syscall number, event index, slot, endpoint id or thread id
    uint64_t thread = 0;  // kSyscall: only this thread (0: any); kSlot: whose CNode
    bool watches_object() const { return kind >= Kind::kSlot; }

    // For people: "syscall ipc_call thread 3".
    std::string describe() const;
    // The `break` command that makes it: parses back to this breakpoint.
    std::string line() const;
    bool operator==(const Breakpoint&) const = default;
};

// Parses the arguments of `break` ("syscall ipc_call thread 3", "event 400",
// "fault"); returns an empty string on success, else what is wrong.
std::string parse_break(std::string_view args, Breakpoint* b);
// Parses the arguments of a kernel-object `watch` ("slot 7 4", "endpoint 12",
// "thread 9"); the same.
std::string parse_object_watch(std::string_view args, Breakpoint* b);

// One command line, decoded.
struct DebugCommand {
    enum class Kind {
        kNone,          // an empty line or a comment (#...)
        kUnknown,       // no such command (error says so)
        kBad,           // a command with bad arguments (error says what is wrong)
        kQuit,
        kHelp,
        kPrev,
        kStepi,         // stepi [N]: `count` holds N as typed (the command loop reads it)
        kReverseStepi,
        kContinue,
        kNext,
        kWhere,
        kEvents,        // events [N]: number (default 10)
        kSyscall,
        kThreads,
        kRunqueues,
        kEndpoints,
        kCaps,          // caps [T], vspace [T], regs [T]: thread (0: the focus thread)
        kVspace,
        kRegs,
        kMem,           // mem ADDR LEN: addr, number (1..4096)
        kDisas,         // disas [ADDR [N]]: addr if has_addr, number (default 8)
        kThread,        // thread T: thread
        kBreak,         // break ARGS: breakpoint
        kBreakList,     // break (no arguments)
        kDelete,        // delete [N]: number (0: all)
        kWatch,         // watch|rwatch|awatch ADDR [LEN]: addr, number (1..8, default 8), watch_type
                        // (watch slot|endpoint|thread ...: kBreak, an object watch)
        kUnwatch,       // unwatch [N]: number (0: all)
        kReverseContinue,
        kGotoEvent,     // goto event N: number
    };

    Kind kind = Kind::kNone;
    std::string error;           // kUnknown, kBad
    std::string count;           // kStepi
    uint64_t number = 0;
    uint64_t addr = 0;
    bool has_addr = false;
    uint64_t thread = 0;
    int watch_type = 0;  // kWatch: 2 watch (writes that change the bytes), 3 rwatch (reads), 4 awatch
    Breakpoint breakpoint;

    // The canonical text of the command (what a worker is sent); parses back
    // to the same command. Empty for kNone, kUnknown and kBad.
    std::string line() const;
    bool operator==(const DebugCommand&) const = default;
};

// Decodes one line (without its newline).
DebugCommand parse_command(std::string_view line);

}  // namespace replay::debug
