// Host tests of anvil-debug's command language (replay/debug/command.h): each
// command with its arguments, bad arguments refused with a usage line, and
// canonical lines that parse back to the same command.
#include "replay/debug/command.h"

#include <anvil/syscalls.h>
#include "catch.h"

#include <string>

namespace {

using replay::debug::Breakpoint;
using replay::debug::DebugCommand;
using Kind = replay::debug::DebugCommand::Kind;

DebugCommand parse(const std::string& line) { return replay::debug::parse_command(line); }

}  // namespace

TEST_CASE("debug commands: every command of the help text, with aliases and defaults") {
    CHECK(parse("").kind == Kind::kNone);
    CHECK(parse("   # a comment").kind == Kind::kNone);
    CHECK(parse("c").kind == Kind::kContinue);
    CHECK(parse("continue").kind == Kind::kContinue);
    CHECK(parse("n").kind == Kind::kNext);
    CHECK(parse("p").kind == Kind::kPrev);
    CHECK(parse("rsi").kind == Kind::kReverseStepi);
    CHECK(parse("q").kind == Kind::kQuit);
    CHECK(parse("events").number == 10);
    CHECK(parse("events 3").number == 3);
    CHECK(parse("caps").thread == 0);
    CHECK(parse("regs 7").thread == 7);
    DebugCommand m = parse("mem 0x7ffff000 64");
    CHECK(m.kind == Kind::kMem);
    CHECK(m.addr == 0x7ffff000);
    CHECK(m.number == 64);
    CHECK(parse("mem 7ffff000 64").addr == 0x7ffff000);  // hex with or without 0x
    DebugCommand d = parse("disas");
    CHECK_FALSE(d.has_addr);
    CHECK(d.number == 8);
    d = parse("disas 401000 3");
    CHECK(d.has_addr);
    CHECK(d.addr == 0x401000);
    CHECK(d.number == 3);
    CHECK(parse("thread 9").thread == 9);
    CHECK(parse("break").kind == Kind::kBreakList);
    CHECK(parse("delete").number == 0);
    CHECK(parse("delete 2").number == 2);
    CHECK(parse("stepi 3").count == "3");  // the count is the command loop's to read
    DebugCommand w = parse("watch 200000000000");
    CHECK(w.kind == Kind::kWatch);
    CHECK(w.watch_type == 2);
    CHECK(w.addr == 0x200000000000);
    CHECK(w.number == 8);
    w = parse("rwatch 0x10 4");
    CHECK(w.watch_type == 3);
    CHECK(w.number == 4);
    CHECK(parse("awatch 10 1").watch_type == 4);
    CHECK(parse("unwatch").number == 0);
    CHECK(parse("unwatch 2").number == 2);
    CHECK(parse("rc").kind == Kind::kReverseContinue);
    CHECK(parse("reverse-continue").kind == Kind::kReverseContinue);
    CHECK(parse("when").kind == Kind::kWhere);
    w = parse("goto event 500");
    CHECK(w.kind == Kind::kGotoEvent);
    CHECK(w.number == 500);
}

TEST_CASE("debug commands: breakpoints by syscall name or number, event and fault") {
    DebugCommand b = parse("break syscall ipc_call thread 3");
    REQUIRE(b.kind == Kind::kBreak);
    CHECK(b.breakpoint.kind == Breakpoint::Kind::kSyscall);
    CHECK(b.breakpoint.thread == 3);
    CHECK(b.breakpoint.describe() == "syscall ipc_call thread 3");
    CHECK(parse("break syscall " + std::to_string(b.breakpoint.value)).breakpoint.value == b.breakpoint.value);
    b = parse("break event 400");
    CHECK(b.breakpoint.kind == Breakpoint::Kind::kEvent);
    CHECK(b.breakpoint.value == 400);
    CHECK(b.line() == "break event 400");
    CHECK(parse("break fault").breakpoint.kind == Breakpoint::Kind::kFault);
}

TEST_CASE("debug commands: watches on kernel objects are breakpoints: slot, endpoint, thread") {
    DebugCommand w = parse("watch slot 7 11");
    REQUIRE(w.kind == Kind::kBreak);
    CHECK(w.breakpoint.kind == Breakpoint::Kind::kSlot);
    CHECK(w.breakpoint.thread == 7);
    CHECK(w.breakpoint.value == 11);
    CHECK(w.breakpoint.watches_object());
    CHECK(w.breakpoint.describe() == "watch slot 11 of thread 7's cnode");
    w = parse("watch endpoint 13");
    CHECK(w.breakpoint.kind == Breakpoint::Kind::kEndpoint);
    CHECK(w.breakpoint.value == 13);
    w = parse("watch thread 18");
    CHECK(w.breakpoint.kind == Breakpoint::Kind::kThread);
    CHECK(w.line() == "watch thread 18");
    CHECK_FALSE(parse("break event 4").breakpoint.watches_object());
    // An address is still a memory watchpoint.
    CHECK(parse("watch 10").kind == Kind::kWatch);
}

TEST_CASE("debug commands: bad arguments are refused with a usage line, unknown words named") {
    for (const char* line :
         {"delete foo", "delete 0", "delete 1 2", "events 0", "events x", "events -1", "caps x", "caps 0",
          "regs 1 2", "mem", "mem 10", "mem zz 4", "mem 10 0", "mem 10 4097", "mem 10 -1", "disas zz",
          "disas 10 0", "disas 10 513", "disas 10 2 3", "thread", "thread x", "thread 0", "where now", "c 5",
          "next x", "prev 2", "help me", "break syscall", "break syscall no_such_call", "break syscall 99999",
          "break syscall ipc_call thread", "break syscall ipc_call thread 0", "break syscall ipc_call core 1",
          "break event", "break event -1", "break event 5x", "break fault now", "break nothing", "watch",
          "watch zz", "watch 10 0", "watch 10 9", "watch 10 4 4", "rwatch", "unwatch 0", "unwatch x", "rc 1",
          "goto", "goto 5", "goto event", "goto event x", "goto step 5", "watch slot", "watch slot 7",
          "watch slot 0 3", "watch slot 7 x", "watch endpoint", "watch endpoint 0", "watch thread 3 4",
          "rwatch slot 7 1"}) {
        INFO(line);
        const DebugCommand c = parse(line);
        CHECK(c.kind == Kind::kBad);
        CHECK_FALSE(c.error.empty());
        CHECK(c.line().empty());
    }
    const DebugCommand u = parse("frobnicate 3");
    CHECK(u.kind == Kind::kUnknown);
    CHECK(u.error == "unknown command \"frobnicate\" (`help` lists them)");
}

TEST_CASE("debug commands: the canonical line of each command parses back to it") {
    for (const char* line : {"c", "next", "where", "events 3", "syscall", "threads", "runqueues", "endpoints",
                             "caps", "vspace 4", "regs", "mem 0x10 16", "disas", "disas 401000", "disas 0x40 2",
                             "thread 5", "break", "break syscall 0", "break syscall ipc_call thread 2",
                             "break event 0x10", "break fault", "delete", "delete 3", "stepi", "stepi  5 ",
                             "rsi", "prev", "help", "quit", "watch 10", "rwatch 0x10 2", "awatch 10 8",
                             "unwatch", "unwatch 1", "rc", "goto event 7", "watch slot 7 0x10", "watch endpoint 13",
                             "watch thread 18"}) {
        INFO(line);
        const DebugCommand c = parse(line);
        REQUIRE(c.error.empty());
        REQUIRE_FALSE(c.line().empty());
        CHECK(parse(c.line()) == c);
    }
    CHECK(parse("mem 0x10 16").line() == "mem 10 16");
    CHECK(parse("disas 401000").line() == "disas 401000 8");
}
