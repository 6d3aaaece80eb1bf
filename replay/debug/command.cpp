// The command language of anvil-debug's command loop (command.h).
#include "replay/debug/command.h"

#include <anvil/syscalls.h>
#include <fmt/core.h>

#include <charconv>
#include <vector>

namespace replay::debug {

namespace {

constexpr uint64_t kMaxMem = 4096;    // mem: bytes shown at most
constexpr uint64_t kMaxDisas = 512;   // disas: instructions at most (of 512 bytes read)
constexpr uint64_t kDefaultEvents = 10;
constexpr uint64_t kDefaultDisas = 8;

// The line's words, split at white space (as the workers' std::istream reads them).
std::vector<std::string_view> words_of(std::string_view s) {
    constexpr std::string_view kSpace = " \t\r\n\v\f";
    std::vector<std::string_view> out;
    for (size_t at = s.find_first_not_of(kSpace); at != std::string_view::npos;
         at = s.find_first_not_of(kSpace, at)) {
        const size_t end = std::min(s.find_first_of(kSpace, at), s.size());
        out.push_back(s.substr(at, end - at));
        at = end;
    }
    return out;
}

// A whole word as a number: decimal, or hex after 0x; or, with `hex`, hex with
// an optional 0x.
bool number(std::string_view w, uint64_t* out, bool hex = false) {
    int base = hex ? 16 : 10;
    if (w.size() > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X')) {
        w.remove_prefix(2);
        base = 16;
    }
    const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), *out, base);
    return ec == std::errc() && end == w.data() + w.size();
}

std::string syscall_name(uint64_t nr) { return nr < ANVIL_SYS_COUNT ? anvil_syscall_desc(nr)->name : "?"; }

DebugCommand bad(std::string error) {
    DebugCommand c;
    c.kind = DebugCommand::Kind::kBad;
    c.error = std::move(error);
    return c;
}

struct Word {
    const char* name;
    const char* alias;
    DebugCommand::Kind kind;
};
const Word kWords[] = {
    {"quit", "q", DebugCommand::Kind::kQuit},
    {"help", nullptr, DebugCommand::Kind::kHelp},
    {"prev", "p", DebugCommand::Kind::kPrev},
    {"stepi", "si", DebugCommand::Kind::kStepi},
    {"reverse-stepi", "rsi", DebugCommand::Kind::kReverseStepi},
    {"continue", "c", DebugCommand::Kind::kContinue},
    {"next", "n", DebugCommand::Kind::kNext},
    {"where", "when", DebugCommand::Kind::kWhere},
    {"events", nullptr, DebugCommand::Kind::kEvents},
    {"syscall", nullptr, DebugCommand::Kind::kSyscall},
    {"threads", nullptr, DebugCommand::Kind::kThreads},
    {"runqueues", nullptr, DebugCommand::Kind::kRunqueues},
    {"endpoints", nullptr, DebugCommand::Kind::kEndpoints},
    {"caps", nullptr, DebugCommand::Kind::kCaps},
    {"vspace", nullptr, DebugCommand::Kind::kVspace},
    {"regs", nullptr, DebugCommand::Kind::kRegs},
    {"mem", nullptr, DebugCommand::Kind::kMem},
    {"disas", nullptr, DebugCommand::Kind::kDisas},
    {"thread", nullptr, DebugCommand::Kind::kThread},
    {"break", nullptr, DebugCommand::Kind::kBreak},
    {"delete", nullptr, DebugCommand::Kind::kDelete},
    {"watch", nullptr, DebugCommand::Kind::kWatch},
    {"rwatch", nullptr, DebugCommand::Kind::kWatch},
    {"awatch", nullptr, DebugCommand::Kind::kWatch},
    {"unwatch", nullptr, DebugCommand::Kind::kUnwatch},
    {"reverse-continue", "rc", DebugCommand::Kind::kReverseContinue},
    {"goto", nullptr, DebugCommand::Kind::kGotoEvent},
};

const char* name_of(DebugCommand::Kind k) {
    for (const Word& w : kWords)
        if (w.kind == k)
            return w.name;
    return "";
}

// The arguments of the command `c.kind` (`name`) into `c`; false (and c an
// error) if they are not what it takes.
bool parse_arguments(DebugCommand& c, const std::string& name, const std::vector<std::string_view>& a) {
    using Kind = DebugCommand::Kind;
    const size_t n = a.size();
    auto fail = [&](std::string error) {
        c = bad(std::move(error));
        return false;
    };
    switch (c.kind) {
    case Kind::kEvents:
        c.number = kDefaultEvents;
        if (n > 1 || (n == 1 && (!number(a[0], &c.number) || c.number == 0)))
            return fail("usage: events [N] (N >= 1, default 10)");
        return true;
    case Kind::kCaps:
    case Kind::kVspace:
    case Kind::kRegs:
        if (n > 1 || (n == 1 && (!number(a[0], &c.thread) || c.thread == 0)))
            return fail(fmt::format("usage: {} [T] (a thread id; default the focus thread)", name));
        return true;
    case Kind::kMem:
        if (n != 2 || !number(a[0], &c.addr, true) || !number(a[1], &c.number) || c.number == 0 ||
            c.number > kMaxMem)
            return fail("usage: mem ADDR LEN (hex address, 1..4096 bytes, in the focus thread's address space)");
        c.has_addr = true;
        return true;
    case Kind::kDisas:
        c.number = kDefaultDisas;
        c.has_addr = n >= 1;
        if (n > 2 || (n >= 1 && !number(a[0], &c.addr, true)) ||
            (n == 2 && (!number(a[1], &c.number) || c.number == 0 || c.number > kMaxDisas)))
            return fail("usage: disas [ADDR [N]] (hex address, default the focus thread's pc; 1..512 "
                        "instructions, default 8)");
        return true;
    case Kind::kThread:
        if (n != 1 || !number(a[0], &c.thread) || c.thread == 0)
            return fail("usage: thread T (a thread id, see `threads`)");
        return true;
    case Kind::kDelete:
    case Kind::kUnwatch:
        if (n > 1 || (n == 1 && (!number(a[0], &c.number) || c.number == 0)))
            return fail(c.kind == Kind::kDelete
                            ? "usage: delete [N] (breakpoint N, from 1, as `break` lists them; all without N)"
                            : "usage: unwatch [N] (watchpoint N, from 1, in the order set; all without N)");
        return true;
    case Kind::kWatch:
        if (name == "watch" && n > 0 && (a[0] == "slot" || a[0] == "endpoint" || a[0] == "thread")) {
            std::string args;
            for (std::string_view w : a)
                args += std::string(w) + " ";
            c.kind = Kind::kBreak;
            const std::string error = parse_object_watch(args, &c.breakpoint);
            return error.empty() || fail(error);
        }
        c.watch_type = name == "rwatch" ? 3 : name == "awatch" ? 4 : 2;
        c.number = 8;
        if (n < 1 || n > 2 || !number(a[0], &c.addr, true) ||
            (n == 2 && (!number(a[1], &c.number) || c.number == 0 || c.number > 8)))
            return fail(fmt::format("usage: {} ADDR [LEN] (hex address in the focus thread's address space, "
                                    "1..8 bytes, default 8)", name));
        c.has_addr = true;
        return true;
    case Kind::kGotoEvent:
        if (n != 2 || a[0] != "event" || !number(a[1], &c.number))
            return fail("usage: goto event N (a record index, forwards or backwards)");
        return true;
    case Kind::kStepi:
        for (std::string_view w : a)
            c.count += (c.count.empty() ? "" : " ") + std::string(w);
        return true;
    case Kind::kBreak:
        break;
    default:
        if (n > 0)
            return fail(fmt::format("{} takes no arguments", name));
        return true;
    }
    // break: list, or one breakpoint.
    if (n == 0) {
        c.kind = Kind::kBreakList;
        return true;
    }
    std::string args;
    for (std::string_view w : a)
        args += std::string(w) + " ";
    const std::string error = parse_break(args, &c.breakpoint);
    return error.empty() || fail(error);
}

}  // namespace

std::string Breakpoint::describe() const {
    switch (kind) {
    case Kind::kSyscall: return fmt::format("syscall {}{}", syscall_name(value), thread ? fmt::format(" thread {}", thread) : "");
    case Kind::kEvent: return fmt::format("event #{}", value);
    case Kind::kFault: return "fault";
    case Kind::kSlot: return fmt::format("watch slot {} of thread {}'s cnode", value, thread);
    case Kind::kEndpoint: return fmt::format("watch endpoint {}'s queues", value);
    case Kind::kThread: return fmt::format("watch thread {}'s state", value);
    }
    return "?";
}

std::string Breakpoint::line() const {
    switch (kind) {
    case Kind::kSyscall:
        return fmt::format("break syscall {}{}", syscall_name(value), thread ? fmt::format(" thread {}", thread) : "");
    case Kind::kEvent: return fmt::format("break event {}", value);
    case Kind::kFault: return "break fault";
    case Kind::kSlot: return fmt::format("watch slot {} {}", thread, value);
    case Kind::kEndpoint: return fmt::format("watch endpoint {}", value);
    case Kind::kThread: return fmt::format("watch thread {}", value);
    }
    return "";
}

std::string parse_object_watch(std::string_view args, Breakpoint* b) {
    const std::vector<std::string_view> a = words_of(args);
    Breakpoint r;
    if (a.size() == 3 && a[0] == "slot" && number(a[1], &r.thread) && r.thread != 0 && number(a[2], &r.value)) {
        r.kind = Breakpoint::Kind::kSlot;
    } else if (a.size() == 2 && a[0] == "endpoint" && number(a[1], &r.value) && r.value != 0) {
        r.kind = Breakpoint::Kind::kEndpoint;
    } else if (a.size() == 2 && a[0] == "thread" && number(a[1], &r.value) && r.value != 0) {
        r.kind = Breakpoint::Kind::kThread;
    } else {
        return "usage: watch slot T S (slot S of thread T's cnode) | watch endpoint E (its queues) | "
               "watch thread T (its state)";
    }
    *b = r;
    return "";
}

std::string parse_break(std::string_view args, Breakpoint* b) {
    const std::vector<std::string_view> a = words_of(args);
    const std::string usage = "usage: break syscall NAME|NUMBER [thread T] | break event N | break fault";
    Breakpoint r;
    if (a.empty())
        return usage;
    if (a[0] == "fault") {
        if (a.size() != 1)
            return "usage: break fault (no arguments)";
        r.kind = Breakpoint::Kind::kFault;
    } else if (a[0] == "event") {
        r.kind = Breakpoint::Kind::kEvent;
        if (a.size() != 2 || !number(a[1], &r.value))
            return "usage: break event N (a record index)";
    } else if (a[0] == "syscall") {
        r.kind = Breakpoint::Kind::kSyscall;
        if (a.size() < 2)
            return "break syscall needs a name or number";
        r.value = ANVIL_SYS_COUNT;
        for (uint64_t i = 0; i < ANVIL_SYS_COUNT; ++i)
            if (a[1] == anvil_syscall_desc(i)->name)
                r.value = i;
        uint64_t nr = 0;
        if (r.value == ANVIL_SYS_COUNT) {
            if (!number(a[1], &nr) || nr >= ANVIL_SYS_COUNT)
                return fmt::format("no syscall named \"{}\"", a[1]);
            r.value = nr;
        }
        if (a.size() > 2 && (a.size() != 4 || a[2] != "thread" || !number(a[3], &r.thread) || r.thread == 0))
            return "usage: break syscall NAME|NUMBER [thread T]";
    } else {
        return usage;
    }
    *b = r;
    return "";
}

std::string DebugCommand::line() const {
    switch (kind) {
    case Kind::kNone:
    case Kind::kUnknown:
    case Kind::kBad: return "";
    case Kind::kStepi: return count.empty() ? "stepi" : "stepi " + count;
    case Kind::kEvents: return fmt::format("events {}", number);
    case Kind::kCaps:
    case Kind::kVspace:
    case Kind::kRegs: return thread ? fmt::format("{} {}", name_of(kind), thread) : name_of(kind);
    case Kind::kMem: return fmt::format("mem {:x} {}", addr, number);
    case Kind::kDisas: return has_addr ? fmt::format("disas {:x} {}", addr, number) : "disas";
    case Kind::kThread: return fmt::format("thread {}", thread);
    case Kind::kBreak: return breakpoint.line();
    case Kind::kBreakList: return "break";
    case Kind::kDelete: return number ? fmt::format("delete {}", number) : "delete";
    case Kind::kWatch:
        return fmt::format("{} {:x} {}", watch_type == 3 ? "rwatch" : watch_type == 4 ? "awatch" : "watch", addr,
                           number);
    case Kind::kUnwatch: return number ? fmt::format("unwatch {}", number) : "unwatch";
    case Kind::kGotoEvent: return fmt::format("goto event {}", number);
    default: return name_of(kind);
    }
}

DebugCommand parse_command(std::string_view line) {
    std::vector<std::string_view> a = words_of(line);
    DebugCommand c;
    if (a.empty() || a[0][0] == '#')
        return c;
    const std::string word(a[0]);
    a.erase(a.begin());
    c.kind = DebugCommand::Kind::kUnknown;
    for (const Word& w : kWords)
        if (word == w.name || (w.alias && word == w.alias))
            c.kind = w.kind;
    if (c.kind == DebugCommand::Kind::kUnknown) {
        c.error = fmt::format("unknown command \"{}\" (`help` lists them)", word);
        return c;
    }
    parse_arguments(c, word, a);
    return c;
}

}  // namespace replay::debug
