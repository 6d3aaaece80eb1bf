// Host tests of the engine's debugger hooks (sim::DebugControl, Engine::set_watch):
// counting user instructions, stopping before the Nth or at a breakpoint, the
// code-bytes filter of breakpoints, and that counting does not change what runs.
#include "sim/engine.h"
#include "tests/unit/code_run.h"

#include "catch.h"

#include <vector>

namespace {

using code_run::CodeRun;
using code_run::kCode;

// 32 instructions: mov, ten rounds of add/dec/jnz, syscall.
const std::vector<uint8_t> kLoop = {
    0xb9, 0x0a, 0x00, 0x00, 0x00,  // 0x00 mov ecx, 10        (instruction 0)
    0x83, 0xc0, 0x01,              // 0x05 add eax, 1          (1, 4, 7, ...)
    0xff, 0xc9,                    // 0x08 dec ecx             (2, 5, 8, ...)
    0x75, 0xf9,                    // 0x0a jnz 0x05            (3, 6, 9, ...)
    0x0f, 0x05,                    // 0x0c syscall             (31)
};
constexpr uint64_t kDec = kCode + 0x08;

// Engine::run with the debugger's control; then every register read back.
sim::Stop debug_run(CodeRun& r, sim::DebugControl* d) {
    const sim::Stop s = r.engine().run(r.regs, 0, d);
    r.engine().sync_regs();
    return s;
}

}  // namespace

TEST_CASE("sim debug: an instruction limit stops before that instruction, nothing of it done") {
    CodeRun r(kLoop);
    sim::DebugControl d;
    d.limit = 5;
    const sim::Stop s = debug_run(r, &d);
    REQUIRE(s.kind == sim::StopKind::kDebug);
    CHECK(d.executed == 5);
    CHECK_FALSE(d.at_breakpoint);
    CHECK(r.regs.rip == kDec);  // instruction 5 is the second dec
    CHECK(r.regs.rax == 2);     // two adds ran
    CHECK(r.regs.rcx == 9);     // one dec ran
}

TEST_CASE("sim debug: counting every instruction changes neither the result nor the blocks run") {
    CodeRun plain(kLoop), counted(kLoop);
    const sim::Stop a = plain.run();
    sim::DebugControl d;
    const sim::Stop b = debug_run(counted, &d);
    REQUIRE(a.kind == sim::StopKind::kSyscall);
    REQUIRE(b.kind == sim::StopKind::kSyscall);
    CHECK(d.executed == 32);  // the syscall counts: it was started
    CHECK(counted.engine().blocks() == plain.engine().blocks());
    CHECK(counted.regs.rax == plain.regs.rax);
    CHECK(counted.regs.rip == plain.regs.rip);
    // The same engine runs on afterwards without the hook, as before.
    counted.regs.rip = kCode;
    CHECK(counted.run().kind == sim::StopKind::kSyscall);
}

TEST_CASE("sim debug: breakpoints stop before the instruction, from break_from on, where the code matches") {
    sim::Breakpoints bps{{kDec, {}}};
    SECTION("the first hit") {
        CodeRun r(kLoop);
        sim::DebugControl d;
        d.breakpoints = &bps;
        REQUIRE(debug_run(r, &d).kind == sim::StopKind::kDebug);
        CHECK(d.at_breakpoint);
        CHECK(d.executed == 2);
        CHECK(r.regs.rip == kDec);
        CHECK(r.regs.rcx == 10);
    }
    SECTION("past one hit (as when resuming from it)") {
        CodeRun r(kLoop);
        sim::DebugControl d;
        d.breakpoints = &bps;
        d.break_from = 3;
        REQUIRE(debug_run(r, &d).kind == sim::StopKind::kDebug);
        CHECK(d.executed == 5);
        CHECK(r.regs.rcx == 9);
    }
    SECTION("collecting every hit runs to the end") {
        CodeRun r(kLoop);
        sim::DebugControl d;
        d.breakpoints = &bps;
        d.collect = true;
        REQUIRE(debug_run(r, &d).kind == sim::StopKind::kSyscall);
        CHECK(d.hits == std::vector<uint64_t>{2, 5, 8, 11, 14, 17, 20, 23, 26, 29});
    }
    SECTION("code bytes: matching ones count, other code at the address does not") {
        sim::Breakpoints match{{kDec, {0xff, 0xc9}}}, other{{kDec, {0x90, 0x90}}};
        CodeRun r1(kLoop), r2(kLoop);
        sim::DebugControl d1, d2;
        d1.breakpoints = &match;
        d2.breakpoints = &other;
        CHECK(debug_run(r1, &d1).kind == sim::StopKind::kDebug);
        CHECK(d1.at_breakpoint);
        CHECK(debug_run(r2, &d2).kind == sim::StopKind::kSyscall);
        CHECK_FALSE(d2.at_breakpoint);
    }
}

TEST_CASE("sim debug: a watched address sets a flag and changes nothing") {
    CodeRun plain(kLoop), watched(kLoop);
    watched.engine().set_watch({{kDec, {}}, {kCode + 0x100, {}}});
    REQUIRE(plain.run().kind == sim::StopKind::kSyscall);
    REQUIRE(watched.run().kind == sim::StopKind::kSyscall);
    CHECK(watched.engine().take_watch_hit());
    CHECK_FALSE(watched.engine().take_watch_hit());  // read and cleared
    CHECK(watched.engine().blocks() == plain.engine().blocks());
    CHECK(watched.regs.rax == plain.regs.rax);
    // Only the unexecuted address left: no hit.
    watched.engine().set_watch({{kCode + 0x100, {}}});
    watched.regs.rip = kCode;
    REQUIRE(watched.run().kind == sim::StopKind::kSyscall);
    CHECK_FALSE(watched.engine().take_watch_hit());
}

namespace {

// Stores and a load around the data page's bytes 8..11.
const std::vector<uint8_t> kStores = {
    0x48, 0xbf, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x00, 0x00,  // movabs rdi, kData  (instruction 0)
    0xc7, 0x47, 0x08, 0x05, 0x00, 0x00, 0x00,                    // mov dword [rdi+8], 5  (1: 0 -> 5)
    0xc7, 0x47, 0x08, 0x05, 0x00, 0x00, 0x00,                    // mov dword [rdi+8], 5  (2: 5 -> 5)
    0xc6, 0x47, 0x09, 0x01,                                      // mov byte [rdi+9], 1   (3: 5 -> 0x105)
    0x48, 0x8b, 0x47, 0x08,                                      // mov rax, [rdi+8]      (4: a read)
    0x48, 0xc7, 0xc0, 0x11, 0x22, 0x33, 0x44,                    // mov rax, 0x44332211   (5)
    0x48, 0x89, 0x47, 0x04,                                      // mov [rdi+4], rax      (6: bytes 4..11)
    0xc6, 0x47, 0x0c, 0x07,                                      // mov byte [rdi+12], 7  (7: next to them)
    0x0f, 0x05,                                                  // syscall               (8)
};

}  // namespace

TEST_CASE("sim debug: data watches note each access to the watched bytes, old and new value, and change nothing") {
    CodeRun plain(kStores), watched(kStores);
    std::vector<sim::DataWatch> watches = {{watched.data() + 8, 4, false, true}};
    std::vector<sim::DataHit> hits;
    // Both run once first; the blocks are translated before the watch exists
    // and it still sees them.
    for (CodeRun* r : {&plain, &watched}) {
        REQUIRE(r->run().kind == sim::StopKind::kSyscall);
        std::memset(r->data(), 0, 16);
        r->regs = hal::UserRegs{};
        r->regs.rip = kCode;
        r->regs.rsp = code_run::kStack + hal::kPageSize;
        r->regs.rflags = hal::kUserRflags;
    }
    watched.engine().set_data_watches(&watches, &hits);
    REQUIRE(plain.run().kind == sim::StopKind::kSyscall);
    sim::DebugControl d;
    REQUIRE(debug_run(watched, &d).kind == sim::StopKind::kSyscall);
    CHECK(watched.engine().blocks() == plain.engine().blocks());
    CHECK(watched.regs.rax == plain.regs.rax);
    CHECK(std::memcmp(watched.data(), plain.data(), 16) == 0);

    REQUIRE(hits.size() == 4);  // the writes of instructions 1, 2, 3 and 6
    CHECK(hits[0].write);
    CHECK(hits[0].instruction == 2);
    CHECK(hits[0].va == code_run::kData + 8);
    CHECK(hits[0].old_value == 0);
    CHECK(hits[0].new_value == 5);
    CHECK(hits[1].instruction == 3);
    CHECK(hits[1].old_value == hits[1].new_value);  // stored what was there
    CHECK(hits[2].instruction == 4);
    CHECK(hits[2].size == 1);
    CHECK(hits[2].new_value == 0x105);
    CHECK(hits[3].instruction == 7);
    CHECK(hits[3].va == code_run::kData + 4);
    CHECK(hits[3].size == 8);
    CHECK(hits[3].old_value == 0x105);
    CHECK(hits[3].new_value == 0);  // rax's high half lands on bytes 8..11

    // Reads only: the load, and nothing once the watches are gone.
    watches[0].reads = true;
    watches[0].writes = false;
    hits.clear();
    watched.regs.rip = kCode;
    REQUIRE(watched.run().kind == sim::StopKind::kSyscall);
    REQUIRE(hits.size() == 1);
    CHECK_FALSE(hits[0].write);
    CHECK(hits[0].size == 8);
    CHECK(hits[0].old_value == hits[0].new_value);
    watched.engine().set_data_watches(nullptr, nullptr);
    watched.regs.rip = kCode;
    REQUIRE(watched.run().kind == sim::StopKind::kSyscall);
    CHECK(hits.size() == 1);
}
