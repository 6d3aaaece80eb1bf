// The debugger's built-in command loop (docs/debugging.md): reads command
// lines from the terminal or a script, parses each whole (command.h) and
// carries it out on the Timeline: moves itself, and has the worker print what
// the looking commands show.
#include "replay/debug/front_end.h"

#include "replay/debug/command.h"
#include "replay/number.h"

#include <fmt/core.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

namespace replay::debug {

namespace {


// An optional numeric argument of a command: the next word, read strictly
// (parse_u64: no sign, no garbage, nothing over 2^64-1).
struct NumberArg {
    bool given = false;  // there was a word
    uint64_t value = 0;
    std::string error;   // what to print if the word is not a number
};

// Reads the next word of `in` as a decimal number; `what` names what it
// should be in the error ("a number of instructions").
NumberArg number_arg(std::istringstream& in, const char* what) {
    NumberArg a;
    std::string word;
    if (!(in >> word))
        return a;
    a.given = true;
    if (const std::optional<uint64_t> n = parse_u64(word))
        a.value = *n;
    else
        a.error = fmt::format("\"{}\" is not {}", word, what);
    return a;
}

class CommandLoop {
public:
    explicit CommandLoop(Timeline& t) : timeline_(t), options_(t.options()) {}

    int run() {
        fmt::print("anvil-debug: stopped after boot; `help` lists the commands\n");
        const bool interactive = options_.commands == stdin && isatty(STDIN_FILENO);
        char line[1024];
        for (;;) {
            std::string cmd;
            if (interactive) {
                char* typed = readline("(anvil) ");
                if (!typed)
                    break;
                cmd = typed;
                if (!cmd.empty())
                    add_history(typed);
                std::free(typed);
            } else {
                fmt::print("(anvil) ");
                std::fflush(stdout);
                if (!std::fgets(line, sizeof line, options_.commands))
                    break;
                cmd = line;
            }
            while (!cmd.empty() && (cmd.back() == '\n' || cmd.back() == '\r'))
                cmd.pop_back();
            if (options_.echo_commands) {
                fmt::print("{}\n", cmd);
                std::fflush(stdout);
            }
            std::istringstream in(cmd);
            std::string word;
            in >> word;
            if (word.empty() || word[0] == '#')
                continue;
            if (word == "quit" || word == "q")
                break;
            if (!command(word, in, cmd)) {
                fmt::print(stderr, "anvil-debug: the simulator worker died\n");
                return 2;
            }
            std::fflush(stdout);
        }
        return 0;
    }

private:
    // False only if the worker is gone.
    bool command(const std::string& word, std::istringstream& in, const std::string& line) {
        const DebugCommand cmd = parse_command(line);
        if (!cmd.error.empty()) {  // unknown, or bad arguments: nothing is done
            fmt::print("{}\n", cmd.error);
            return true;
        }
        if (word == "help") {
            help();
            return true;
        }
        if (word == "prev" || word == "p")
            return prev();
        const bool by_instruction = word == "stepi" || word == "si" || word == "reverse-stepi" || word == "rsi" ||
                                    cmd.kind == DebugCommand::Kind::kWatch;
        if (by_instruction && following()) {
            fmt::print("{} needs the run instruction by instruction; a QEMU trace is followed from kernel entry to "
                       "kernel entry (docs/debugging.md, \"QEMU traces\")\n",
                       word);
            return true;
        }
        if (word == "stepi" || word == "si") {
            const NumberArg n = number_arg(in, "a number of instructions (1 or more)");
            if (!n.error.empty() || (n.given && n.value == 0)) {
                fmt::print("{}\n", n.error.empty() ? "stepi steps 1 or more instructions" : n.error);
                return true;
            }
            return stepi(n.given ? n.value : 1);
        }
        if (word == "reverse-stepi" || word == "rsi")
            return reverse_stepi();
        if (word == "break" || word == "delete" || cmd.kind == DebugCommand::Kind::kBreak) {
            breakpoint_command(cmd);
            return true;
        }
        switch (cmd.kind) {
        case DebugCommand::Kind::kWatch: return watch(cmd);
        case DebugCommand::Kind::kUnwatch: return unwatch(cmd);
        case DebugCommand::Kind::kReverseContinue: return reverse_continue();
        case DebugCommand::Kind::kGotoEvent: return goto_event(cmd.number);
        case DebugCommand::Kind::kContinue:
            if (!watches_.empty())  // the timeline resolves watch hits inside slices
                return continue_to_stop();
            break;
        default: break;
        }
        const bool moves = cmd.kind == DebugCommand::Kind::kContinue || cmd.kind == DebugCommand::Kind::kNext;
        if (moves && !timeline_.leave_view())
            return false;
        return timeline_.execute(cmd.line());
    }

    // Debugging a QEMU trace: the machine follows it (sim/follow.cpp), which
    // runs each thread's user code up to its next kernel entry in one piece.
    bool following() const { return options_.trace && options_.trace->from_qemu(); }

    bool stepi(uint64_t n) {
        const uint64_t t = timeline_.focus();
        if (t == 0) {
            fmt::print("no thread to step yet (make one the focus with `thread T`)\n");
            return true;
        }
        const std::optional<Stop> stop = timeline_.stepi(t, n);
        if (!stop)
            return false;
        if (stop->kind == Stop::Kind::kExited)
            fmt::print("thread {} ran no further: the run has ended\n", t);
        return timeline_.set_focus(t) && timeline_.show();
    }

    bool reverse_stepi() {
        const uint64_t t = timeline_.focus();
        if (t == 0) {
            fmt::print("no thread to step back yet (make one the focus with `thread T`)\n");
            return true;
        }
        const std::optional<Stop> stop = timeline_.reverse_stepi(t);
        if (!stop)
            return false;
        if (stop->kind == Stop::Kind::kStartOfRun) {
            fmt::print("thread {} has run no instruction before this point\n", t);
            return true;
        }
        return timeline_.set_focus(t) && timeline_.show();
    }

    // ---- Watchpoints, and moving to them ----

    bool watch(const DebugCommand& cmd) {
        const uint64_t t = timeline_.focus();
        if (t == 0) {
            fmt::print("no thread to watch memory of yet (make one the focus with `thread T`)\n");
            return true;
        }
        std::vector<Watch> next = watches_;
        next.push_back(Watch{static_cast<Watch::Type>(cmd.watch_type), t, cmd.addr, static_cast<uint32_t>(cmd.number),
                             false});
        std::string why;
        if (!timeline_.set_watches(next, &why)) {
            fmt::print("cannot watch: {}\n", why);
            return true;
        }
        watches_ = std::move(next);
        fmt::print("watchpoint {}: {}\n", watches_.size(), describe(watches_.back()));
        return true;
    }

    bool unwatch(const DebugCommand& cmd) {
        if (cmd.number > watches_.size()) {
            fmt::print("no watchpoint {}\n", cmd.number);
            return true;
        }
        std::vector<Watch> next = watches_;
        if (cmd.number)
            next.erase(next.begin() + static_cast<long>(cmd.number - 1));
        else
            next.clear();
        std::string why;
        if (!timeline_.set_watches(next, &why))
            return false;
        watches_ = std::move(next);
        return true;
    }

    static std::string describe(const Watch& w) {
        const char* what = w.type == Watch::Type::kRead ? "reads of" : w.type == Watch::Type::kAccess ? "accesses to"
                                                                                                      : "writes to";
        return fmt::format("{} {} byte{} at 0x{:x} (as thread {} maps it; every process that maps that memory)", what,
                           w.len, w.len == 1 ? "" : "s", w.va, w.thread);
    }

    // Prints a stop of continue or reverse-continue, then where the run is.
    bool show_stop(const std::optional<Stop>& stop, bool backwards) {
        if (!stop)
            return false;
        switch (stop->kind) {
        case Stop::Kind::kWatch: {
            const uint32_t len = stop->watch < watches_.size() ? watches_[stop->watch].len : 8;
            const uint64_t mask = len >= 8 ? ~0ull : (1ull << (8 * len)) - 1;
            fmt::print("watchpoint {}: thread {} {} 0x{:x}: old 0x{:x}, new 0x{:x}{}\n", stop->watch + 1,
                       stop->thread, stop->old_value == stop->new_value ? "accessed" : "wrote", stop->addr,
                       stop->old_value & mask, stop->new_value & mask,
                       backwards ? " (going back: just before the access)" : "");
            std::fflush(stdout);  // before the worker's lines
            return timeline_.set_focus(stop->thread) && timeline_.show();
        }
        case Stop::Kind::kEvent:
            if (backwards) {
                fmt::print("breakpoint: {} (going back: just after that step)\n", stop->what);
                std::fflush(stdout);
                return timeline_.set_focus(stop->thread) && timeline_.execute("where");
            }
            return timeline_.execute("where");
        case Stop::Kind::kStartOfRun:
            fmt::print("no breakpoint or watchpoint hit before this point: back at the start of the run\n");
            std::fflush(stdout);
            return timeline_.execute("where");
        case Stop::Kind::kExited:
            fmt::print("the run has ended (exit status {})\n", stop->exit_code);
            return true;
        default:
            return timeline_.execute("where");
        }
    }

    bool continue_to_stop() { return show_stop(timeline_.cont(false, -1), false); }

    bool reverse_continue() {
        if (watches_.empty() && breaks_.empty()) {
            fmt::print("reverse-continue goes back to the previous breakpoint or watchpoint hit: set one with "
                       "`break ...` or `watch ...` (or go to a kernel event: goto event N)\n");
            return true;
        }
        return show_stop(timeline_.reverse_continue(), true);
    }

    bool goto_event(uint64_t n) {
        bool reached = false;
        if (!timeline_.goto_event(n, &reached))
            return false;
        if (!reached) {
            fmt::print("the run ends before event #{}\n", n);
            std::fflush(stdout);
        }
        return timeline_.execute("where");
    }

    // Keeps the debugger's list in step with the worker's.
    void breakpoint_command(const DebugCommand& cmd) {
        switch (cmd.kind) {
        case DebugCommand::Kind::kDelete:
            if (cmd.number > breaks_.size()) {
                fmt::print("no breakpoint {}\n", cmd.number);
                return;
            }
            if (cmd.number)
                breaks_.erase(breaks_.begin() + static_cast<long>(cmd.number - 1));
            else
                breaks_.clear();
            break;
        case DebugCommand::Kind::kBreakList:
            for (size_t i = 0; i < breaks_.size(); ++i)
                fmt::print("  {}: {}\n", i + 1, breaks_[i].line());
            if (breaks_.empty())
                fmt::print("no breakpoints\n");
            return;
        default:
            breaks_.push_back(cmd.breakpoint);
            fmt::print("breakpoint {}: {}\n", breaks_.size(), cmd.breakpoint.describe());
            break;
        }
        // Every worker gets the whole list: the current one now, new ones on spawn.
        timeline_.set_breakpoints(breaks_);
    }

    bool prev() {
        const Position cur = timeline_.position();
        if (cur.insns > 0 || cur.entry) {  // inside a slice: back to its start
            if (!timeline_.go(Position{cur.steps, 0, false}))
                return false;
            return timeline_.execute("where");
        }
        if (cur.steps == 0) {
            fmt::print("already at the start of the run\n");
            return true;
        }
        if (!timeline_.go(Position{timeline_.prev_stop(), 0, false}))
            return false;
        return timeline_.execute("where");
    }

    void help() {
        fmt::print(
            "Moving (a position is a kernel event, or an instruction inside a slice; the run is deterministic):\n"
            "  continue | c          run to the next breakpoint or the end\n"
            "  next | n              run to the next kernel event(s) and show them\n"
            "  prev | p              back to the previous stop (re-executes from the nearest checkpoint)\n"
            "  stepi [N] | si [N]    run N user instructions of the focus thread (other threads run\n"
            "                        as the schedule has them) and stop before its next one\n"
            "  reverse-stepi | rsi   back to just before the focus thread's previous instruction\n"
            "  goto event N          to just after kernel event N, forwards or backwards\n"
            "  watch ADDR [LEN]      stop where a write changes LEN (1..8, default 8) bytes at ADDR of the\n"
            "                        focus thread's memory (in every process mapping it); rwatch: reads;\n"
            "                        awatch: any access;  unwatch [N]: delete one or all\n"
            "  watch slot T S | watch endpoint E | watch thread T\n"
            "                        stop after each step that changes slot S of thread T's cnode,\n"
            "                        endpoint E's queues, or thread T's state (listed by `break`)\n"
            "  reverse-continue | rc back to the previous breakpoint or watchpoint hit\n"
            "  break syscall NAME|NUMBER [thread T] | break event N | break fault\n"
            "  break                 list breakpoints;  delete [N]: delete one or all\n"
            "Looking (at the focus thread: the last syscall's or fault's, the stepped one, or `thread T`):\n"
            "  where | when          event index, step (and instruction in the slice), virtual time,\n"
            "                        CPU, thread\n"
            "  events [N]            the last N events (default 10)\n"
            "  syscall               the focus thread's last syscall, decoded, and its result\n"
            "  threads | runqueues | endpoints\n"
            "  caps [T] | vspace [T] the CNode / the mappings of thread T's process\n"
            "  regs [T] | mem ADDR LEN | disas [ADDR [N]]\n"
            "  thread T              make T the focus thread\n"
            "  quit\n"
            "At a terminal, the arrow keys edit the line and walk the history.\n"
            "For source-level debugging, run anvil-debug --gdb PORT and connect gdb (docs/debugging.md).\n");
    }

    Timeline& timeline_;
    const DebugOptions& options_;
    std::vector<Breakpoint> breaks_;
    std::vector<Watch> watches_;
};

}  // namespace

int run_command_loop(Timeline& timeline) {
    // Ctrl-C interrupts a running command (the worker sees it), not the debugger.
    signal(SIGINT, SIG_IGN);
    CommandLoop loop(timeline);
    return loop.run();
}

}  // namespace replay::debug
