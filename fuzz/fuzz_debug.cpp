// libFuzzer harness: anvil-debug's command language (replay/debug/command) on any
// bytes, read as a script (--script): one command per line, each parsed as the
// command loop parses it before anything reaches a worker.
//
// Checks: a refusal (unknown word, bad arguments) always says why and has no
// line to send; an accepted command's canonical line (what the worker is sent)
// parses back to the same command; arguments are inside the ranges the workers
// rely on (mem 1..4096 bytes, disas 1..512 instructions, thread ids and counts
// from 1, syscall numbers inside the table).
#include "fuzz/check.h"
#include "replay/debug/command.h"

#include <anvil/syscalls.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

using replay::debug::DebugCommand;
using Kind = replay::debug::DebugCommand::Kind;

void check_line(std::string_view text) {
    const DebugCommand c = replay::debug::parse_command(text);
    const std::string line = c.line();
    if (c.kind == Kind::kUnknown || c.kind == Kind::kBad) {
        FUZZ_CHECK(!c.error.empty(), "a refused command without a reason");
        FUZZ_CHECK(line.empty(), "a refused command with a line to send");
        return;
    }
    FUZZ_CHECK(c.error.empty(), "an accepted command with an error");
    FUZZ_CHECK(line.empty() == (c.kind == Kind::kNone), "a command without a line, or a blank line with one");
    FUZZ_CHECK(replay::debug::parse_command(line) == c, "the canonical line does not parse back to the command");
    switch (c.kind) {
    case Kind::kMem: FUZZ_CHECK(c.number >= 1 && c.number <= 4096, "mem length out of range"); break;
    case Kind::kDisas: FUZZ_CHECK(c.number >= 1 && c.number <= 512, "disas count out of range"); break;
    case Kind::kEvents: FUZZ_CHECK(c.number >= 1, "events count 0"); break;
    case Kind::kThread: FUZZ_CHECK(c.thread >= 1, "thread 0"); break;
    case Kind::kBreak:
        FUZZ_CHECK(!c.breakpoint.describe().empty(), "a breakpoint without a description");
        if (c.breakpoint.kind == replay::debug::Breakpoint::Kind::kSyscall)
            FUZZ_CHECK(c.breakpoint.value < ANVIL_SYS_COUNT, "a syscall breakpoint outside the table");
        break;
    default: break;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view script(reinterpret_cast<const char*>(data), size);
    size_t at = 0;
    while (at <= script.size()) {
        const size_t end = std::min(script.find('\n', at), script.size());
        check_line(script.substr(at, end - at));
        at = end + 1;
    }
    return 0;
}
