// Host tests of the engine's register file handling: after a syscall or a
// budget stop Engine::run reads only the entry registers (hal::user_regs_sync)
// and keeps the others until sync_regs() or another thread's run asks for them.
#include "sim/engine.h"

#include <anvil/cpuid.h>

#include "catch.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace {

constexpr uint64_t kCode = 0x400000, kStack = 0x7f0000;

// One engine with a code page and a stack page.
class Threads {
public:
    explicit Threads(const std::vector<uint8_t>& code) : engine_(&clock_) {
        REQUIRE(engine_.ok());
        code_.reset(static_cast<uint8_t*>(std::aligned_alloc(hal::kPageSize, hal::kPageSize)));
        stack_.reset(static_cast<uint8_t*>(std::aligned_alloc(hal::kPageSize, hal::kPageSize)));
        std::memset(code_.get(), 0, hal::kPageSize);
        REQUIRE(code.size() <= hal::kPageSize);
        std::memcpy(code_.get(), code.data(), code.size());
        REQUIRE(engine_.map_page(kCode, code_.get(), hal::kMapRead | hal::kMapExec));
        REQUIRE(engine_.map_page(kStack, stack_.get(), hal::kMapRead | hal::kMapWrite));
    }

    static hal::UserRegs at(uint64_t offset) {
        hal::UserRegs r{};
        r.rip = kCode + offset;
        r.rsp = kStack + hal::kPageSize;
        r.rflags = hal::kUserRflags;
        return r;
    }

    sim::Engine& engine() { return engine_; }
    const uint8_t* stack() const { return stack_.get(); }

private:
    struct Free {
        void operator()(uint8_t* p) const { std::free(p); }
    };
    uint64_t clock_ = 0;
    sim::Engine engine_;
    std::unique_ptr<uint8_t, Free> code_, stack_;
};

// mov r64, imm32 (sign-extended), as bytes.
std::vector<uint8_t> mov(uint8_t rex, uint8_t modrm, uint32_t imm) {
    return {rex, 0xc7, modrm, uint8_t(imm), uint8_t(imm >> 8), uint8_t(imm >> 16), uint8_t(imm >> 24)};
}

std::vector<uint8_t> join(std::initializer_list<std::vector<uint8_t>> parts) {
    std::vector<uint8_t> out;
    for (const auto& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

const std::vector<uint8_t> kSyscall = {0x0f, 0x05};

}  // namespace

TEST_CASE("sim engine: a syscall stop reads the entry registers, sync_regs brings the rest, and runs in between keep "
          "them") {
    Threads t(join({
        mov(0x48, 0xc3, 0x1111),  // 0x00 mov rbx, 0x1111
        mov(0x49, 0xc5, 0x1313),  // 0x07 mov r13, 0x1313
        mov(0x48, 0xc0, 7),       // 0x0e mov rax, 7
        mov(0x48, 0xc7, 8),       // 0x15 mov rdi, 8
        kSyscall,                 // 0x1c
        mov(0x48, 0xc3, 0x2222),  // 0x1e mov rbx, 0x2222
        {0x4c, 0x89, 0xe8},       // 0x25 mov rax, r13
        kSyscall,                 // 0x28
    }));
    hal::UserRegs r = Threads::at(0);
    REQUIRE(t.engine().run(r, 0).kind == sim::StopKind::kSyscall);
    CHECK(r.rip == kCode + 0x1e);
    CHECK(r.rax == 7);
    CHECK(r.rdi == 8);
    CHECK(r.rcx == r.rip);  // the syscall instruction's own results
    CHECK(r.r11 == r.rflags);

    // The kernel writes an entry register; the others stay in the engine, and the
    // next run must not overwrite them with the file's old values.
    r.rax = 0;
    REQUIRE(t.engine().run(r, 0).kind == sim::StopKind::kSyscall);
    CHECK(r.rip == kCode + 0x2a);
    CHECK(r.rax == 0x1313);  // r13 survived the stop in between
    t.engine().sync_regs();
    CHECK(r.rbx == 0x2222);
    CHECK(r.r13 == 0x1313);
    CHECK(r.rsp == kStack + hal::kPageSize);
}

TEST_CASE("sim engine: a register written after sync_regs reaches the thread") {
    Threads t(join({
        kSyscall,           // 0x00
        {0x4c, 0x89, 0xe8}, // 0x02 mov rax, r13
        {0x48, 0x89, 0xdf}, // 0x05 mov rdi, rbx
        kSyscall,           // 0x08
    }));
    hal::UserRegs r = Threads::at(0);
    REQUIRE(t.engine().run(r, 0).kind == sim::StopKind::kSyscall);
    t.engine().sync_regs();  // as hal::user_regs_sync does before tcb_set_regs
    r.r13 = 0x99;
    r.rbx = 0x77;
    REQUIRE(t.engine().run(r, 0).kind == sim::StopKind::kSyscall);
    CHECK(r.rax == 0x99);
    CHECK(r.rdi == 0x77);
}

TEST_CASE("sim engine: another thread running on the engine completes the register file of the one before") {
    Threads t(join({
        mov(0x48, 0xc3, 0xa1),  // 0x00 thread A: mov rbx, 0xa1
        kSyscall,               // 0x07
        {0x48, 0x89, 0xd8},     // 0x09 mov rax, rbx
        kSyscall,               // 0x0c
        mov(0x48, 0xc3, 0xb2),  // 0x0e thread B: mov rbx, 0xb2
        kSyscall,               // 0x15
    }));
    hal::UserRegs a = Threads::at(0), b = Threads::at(0x0e);
    REQUIRE(t.engine().run(a, 0).kind == sim::StopKind::kSyscall);
    REQUIRE(t.engine().run(b, 0).kind == sim::StopKind::kSyscall);
    CHECK(a.rbx == 0xa1);  // read back before B's registers went in
    t.engine().sync_regs();
    CHECK(b.rbx == 0xb2);
    REQUIRE(t.engine().run(a, 0).kind == sim::StopKind::kSyscall);
    CHECK(a.rax == 0xa1);  // A resumed with its own rbx
}

TEST_CASE("sim engine: a budget stop keeps every register, then the thread goes on") {
    Threads t(join({
        mov(0x49, 0xc7, 0),        // 0x00 mov r15, 0
        mov(0x48, 0xc1, 0),        // 0x07 mov rcx, 0
        {0x49, 0xff, 0xc7},        // 0x0e loop: inc r15
        {0x48, 0xff, 0xc1},        // 0x11 inc rcx
        {0x49, 0x83, 0xff, 0x20},  // 0x14 cmp r15, 32
        {0x75, 0xf4},              // 0x18 jne loop
        {0x4c, 0x89, 0xf8},        // 0x1a mov rax, r15
        {0x48, 0x89, 0xcf},        // 0x1d mov rdi, rcx
        kSyscall,                  // 0x20
    }));
    hal::UserRegs r = Threads::at(0);
    sim::Stop s;
    int runs = 0;
    do {
        s = t.engine().run(r, 3);
        REQUIRE(++runs < 100);
    } while (s.kind == sim::StopKind::kBudget);
    REQUIRE(s.kind == sim::StopKind::kSyscall);
    CHECK(runs > 5);
    CHECK(r.rax == 32);
    CHECK(r.rdi == 32);  // rcx, not read at a budget stop, was never overwritten
}

TEST_CASE("sim engine: pages contiguous in host memory share one Unicorn region, and unmapping part of one keeps the "
          "rest") {
    Threads t({0xf4});
    sim::Engine& e = t.engine();
    const size_t before = e.regions();  // the code and stack pages
    constexpr uint64_t P = hal::kPageSize, kVa = 0x800000;
    std::unique_ptr<uint8_t, void (*)(void*)> host(static_cast<uint8_t*>(std::aligned_alloc(P, 8 * P)), std::free);
    for (uint64_t i = 0; i < 8; ++i)
        std::memset(host.get() + i * P, int(0x10 + i), P);
    const uint64_t offsets[] = {0, P, 2 * P, 5 * P, 6 * P};  // two runs
    REQUIRE(e.map_pages(kVa, host.get(), offsets, 5, hal::kMapRead | hal::kMapWrite));
    CHECK(e.regions() == before + 2);
    const auto byte_at = [&](uint64_t va) {
        uint8_t b = 0;
        return e.read(va, &b, 1) ? int(b) : -1;
    };
    CHECK(byte_at(kVa) == 0x10);
    CHECK(byte_at(kVa + 2 * P + 7) == 0x12);
    CHECK(byte_at(kVa + 3 * P) == 0x15);
    CHECK(byte_at(kVa + 4 * P + 4095) == 0x16);
    CHECK(byte_at(kVa + 5 * P) == -1);

    // Overlapping what is mapped: refused, nothing changed.
    CHECK_FALSE(e.map_pages(kVa + 4 * P, host.get(), offsets, 2, hal::kMapRead));
    CHECK(e.regions() == before + 2);
    CHECK(byte_at(kVa + 5 * P) == -1);

    // The middle page of the first run: the pages on both sides stay.
    e.unmap_pages(kVa + P, 1);
    CHECK(e.regions() == before + 3);
    CHECK(byte_at(kVa + P) == -1);
    CHECK(byte_at(kVa) == 0x10);
    CHECK(byte_at(kVa + 2 * P) == 0x12);
    CHECK(byte_at(kVa + 3 * P) == 0x15);

    // Everything, with pages not mapped in the range: skipped.
    e.unmap_pages(kVa - P, 8);
    CHECK(e.regions() == before);
    for (uint64_t i = 0; i < 5; ++i)
        CHECK(byte_at(kVa + i * P) == -1);
}

TEST_CASE("sim engine: a mapping that would pass the region limit is refused whole, and a long contiguous one is one "
          "region") {
    Threads t({0xf4});
    sim::Engine& e = t.engine();
    const size_t before = e.regions();
    constexpr uint64_t P = hal::kPageSize, kVa = 0x10000000;
    const size_t room = sim::Engine::kMaxRegions - before;
    // room + 1 pages, none next to another in host memory: one region too many.
    std::vector<uint64_t> offsets(room + 1);
    for (size_t i = 0; i < offsets.size(); ++i)
        offsets[i] = 2 * i * P;
    std::unique_ptr<uint8_t, void (*)(void*)> host(static_cast<uint8_t*>(std::aligned_alloc(P, 2 * offsets.size() * P)),
                                                   std::free);
    std::memset(host.get(), 0x5a, 2 * offsets.size() * P);
    CHECK_FALSE(e.map_pages(kVa, host.get(), offsets.data(), offsets.size(), hal::kMapRead));
    CHECK(e.regions() == before);
    uint8_t b = 0;
    CHECK_FALSE(e.read(kVa, &b, 1));

    // 2 * (room + 1) pages in one run: one region.
    offsets.resize(2 * offsets.size());
    for (size_t i = 0; i < offsets.size(); ++i)
        offsets[i] = i * P;
    REQUIRE(e.map_pages(kVa, host.get(), offsets.data(), offsets.size(), hal::kMapRead));
    CHECK(e.regions() == before + 1);
    CHECK(e.read(kVa + (offsets.size() - 1) * P, &b, 1));
    CHECK(b == 0x5a);
}

TEST_CASE("sim engine: a write log undoes every byte a run stored, and nothing else") {
    Threads t(join({
        mov(0x48, 0xc0, 0x55667788),  // 0x00 mov rax, 0x55667788
        {0x50},                       // 0x07 push rax
        {0x50},                       // 0x08 push rax
        kSyscall,                     // 0x09
        {0x50},                       // 0x0b push rax
        kSyscall,                     // 0x0c
    }));
    const uint64_t top = kStack + hal::kPageSize;
    uint8_t before[24];
    REQUIRE(t.engine().read(top - sizeof before, before, sizeof before));
    hal::UserRegs r = Threads::at(0);
    std::vector<sim::Engine::OldByte> log;
    t.engine().set_write_log(&log);
    REQUIRE(t.engine().run(r, 0).kind == sim::StopKind::kSyscall);
    t.engine().set_write_log(nullptr);
    CHECK(log.size() == 16);  // two 8-byte pushes, byte by byte
    uint64_t pushed = 0;
    REQUIRE(t.engine().read(top - 8, &pushed, sizeof pushed));
    CHECK(pushed == 0x55667788);
    sim::Engine::undo_writes(log);
    uint8_t after[24];
    REQUIRE(t.engine().read(top - sizeof after, after, sizeof after));
    CHECK(std::memcmp(before, after, sizeof before) == 0);
    // Without the log, stores are not noted.
    REQUIRE(t.engine().run(r, 0).kind == sim::StopKind::kSyscall);
    CHECK(log.size() == 16);
}

// Each thread's x87/SSE state (hal::ExtState) as the engine saves it is what
// the CPU's own fxsave64 writes, and threads sharing an engine keep their own.
TEST_CASE("sim engine: a thread's x87/SSE state is saved as fxsave64 writes it, and threads of one engine keep their own") {
    // fld1; fldpi; ldmxcsr 0x7f80 (round toward zero); xmm3 = 0x1234567;
    // xmm12 = 0x89abcdef; fxsave64 [rdi]; syscall, then (at 0x3c):
    // rax = xmm3; rbx = mxcsr; syscall.
    const std::vector<uint8_t> code = {
        0xd9, 0xe8, 0xd9, 0xeb, 0xb8, 0x80, 0x7f, 0x00, 0x00, 0x89, 0x87, 0x00, 0x08, 0x00, 0x00, 0x0f,
        0xae, 0x97, 0x00, 0x08, 0x00, 0x00, 0x48, 0xc7, 0xc0, 0x67, 0x45, 0x23, 0x01, 0x66, 0x48, 0x0f,
        0x6e, 0xd8, 0x48, 0xbb, 0xef, 0xcd, 0xab, 0x89, 0x00, 0x00, 0x00, 0x00, 0x66, 0x4c, 0x0f, 0x6e,
        0xe3, 0x48, 0x0f, 0xae, 0x07, 0xb8, 0x07, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x66, 0x48, 0x0f, 0x7e,
        0xd8, 0x0f, 0xae, 0x9f, 0x00, 0x08, 0x00, 0x00, 0x8b, 0x9f, 0x00, 0x08, 0x00, 0x00, 0x0f, 0x05};
    constexpr uint64_t kSecond = 0x3c;
    Threads t(code);
    hal::ExtState a, b;
    hal::ext_state_init(a);
    hal::ext_state_init(b);

    hal::UserRegs ra = Threads::at(0);
    ra.rdi = kStack;
    t.engine().use_ext(&a);
    REQUIRE(t.engine().run(ra, 0).kind == sim::StopKind::kSyscall);
    REQUIRE(ra.rip == kCode + kSecond);
    t.engine().sync_ext(a);
    const uint8_t* fx = t.stack();
    CHECK(std::memcmp(a.bytes, fx, 5) == 0);                          // FCW, FSW, abridged FTW
    CHECK(std::memcmp(a.bytes + 24, fx + 24, 4) == 0);                // MXCSR
    for (int i = 0; i < 8; ++i)
        CHECK(std::memcmp(a.bytes + 32 + 16 * i, fx + 32 + 16 * i, 10) == 0);  // st0..7
    CHECK(std::memcmp(a.bytes + 160, fx + 160, 16 * 16) == 0);        // xmm0..15
    CHECK(a.bytes[4] == 0xc0);                                        // two registers in use
    uint32_t mxcsr = 0;
    std::memcpy(&mxcsr, a.bytes + hal::kExtMxcsr, 4);
    CHECK(mxcsr == 0x7f80);

    // Another thread of the engine starts from the default state...
    hal::UserRegs rb = Threads::at(kSecond);
    rb.rdi = kStack;
    t.engine().use_ext(&b);
    REQUIRE(t.engine().run(rb, 0).kind == sim::StopKind::kSyscall);
    t.engine().sync_regs();
    CHECK(rb.rax == 0);
    CHECK(rb.rbx == 0x1f80);
    // ... and the first finds its own again.
    t.engine().use_ext(&a);
    REQUIRE(t.engine().run(ra, 0).kind == sim::StopKind::kSyscall);
    t.engine().sync_regs();
    CHECK(ra.rax == 0x1234567);
    CHECK(ra.rbx == 0x7f80);
}

// hal::ext_state_expand, which the engine and the x86_64 kernel's FXRSTOR path
// load through: a component XSTATE_BV leaves out is its initial state (FCW
// 0x37f, the rest 0), MXCSR and the components it holds are kept.
TEST_CASE("hal: ext_state_expand writes the components XSTATE_BV leaves out in their initial state") {
    hal::ExtState ext;
    std::memset(ext.bytes, 0xa5, sizeof ext.bytes);
    std::memset(ext.bytes + hal::kExtXstateBv, 0, 64);
    ext.bytes[hal::kExtXstateBv] = 2;  // SSE only
    hal::ext_state_expand(ext, 3);
    CHECK(ext.bytes[hal::kExtXstateBv] == 3);
    CHECK((ext.bytes[hal::kExtFcw] == 0x7f && ext.bytes[hal::kExtFcw + 1] == 0x03));
    for (size_t i = 2; i < hal::kExtMxcsr; ++i)
        CHECK(ext.bytes[i] == 0);  // FSW, FTW, FOP, FIP, FDP
    for (size_t i = hal::kExtMxcsr; i < hal::kExtSt0; ++i)
        CHECK(ext.bytes[i] == 0xa5);  // MXCSR and MXCSR_MASK stay
    for (size_t i = hal::kExtSt0; i < hal::kExtXmm0; ++i)
        CHECK(ext.bytes[i] == 0);
    for (size_t i = hal::kExtXmm0; i < hal::kExtXmm0 + 256; ++i)
        CHECK(ext.bytes[i] == 0xa5);  // SSE was held
    for (size_t i = hal::kExtYmmHi0; i < hal::kExtYmmHi0 + 256; ++i)
        CHECK(ext.bytes[i] == 0xa5);  // AVX is not among the components

    ext.bytes[hal::kExtXstateBv] = 1;
    ext.bytes[hal::kExtFcw] = 0x40;
    hal::ext_state_expand(ext, 7);
    CHECK(ext.bytes[hal::kExtXstateBv] == 7);
    CHECK(ext.bytes[hal::kExtFcw] == 0x40);  // x87 was held
    for (size_t i = hal::kExtXmm0; i < hal::kExtXmm0 + 256; ++i)
        CHECK(ext.bytes[i] == 0);
    for (size_t i = hal::kExtYmmHi0; i < hal::kExtYmmHi0 + 256; ++i)
        CHECK(ext.bytes[i] == 0);
}

// CPUID in the engine is Anvil's table (anvil/cpuid.h), not Unicorn's CPU
// model: the same values the x86_64 kernel gives user code, with the vCPU's
// index as leaf 1's APIC ID, and a leaf past the highest read as leaf 1.
TEST_CASE("sim engine: CPUID answers from anvil/cpuid.h") {
    // (syscall overwrites rcx: ecx goes to r8 first.)
    const std::vector<uint8_t> kMovR8Rcx = {0x49, 0x89, 0xc8};
    Threads t(join({
        mov(0x48, 0xc0, 1),  // 0x00 mov rax, 1
        {0x0f, 0xa2},        // 0x07 cpuid
        kMovR8Rcx,           // 0x09 mov r8, rcx
        kSyscall,            // 0x0c
        mov(0x48, 0xc0, 2),  // 0x0e mov rax, 2 (past the highest basic leaf)
        {0x0f, 0xa2},        // 0x15 cpuid
        kMovR8Rcx,           // 0x17 mov r8, rcx
        kSyscall,            // 0x1a
    }));
    hal::UserRegs r = Threads::at(0);
    t.engine().use_cpu(3);
    REQUIRE(t.engine().run(r, 0).kind == sim::StopKind::kSyscall);
    t.engine().sync_regs();
    CHECK(r.rax == ANVIL_CPUID_VERSION);
    CHECK(r.rbx == (ANVIL_CPUID1_EBX | 3u << 24));
    CHECK(r.r8 == 0);
    CHECK(r.rdx == ANVIL_CPUID1_EDX);
    t.engine().use_cpu(1);
    REQUIRE(t.engine().run(r, 0).kind == sim::StopKind::kSyscall);
    t.engine().sync_regs();
    CHECK(r.rax == ANVIL_CPUID_VERSION);
    CHECK(r.rbx == (ANVIL_CPUID1_EBX | 1u << 24));
    CHECK(r.rdx == ANVIL_CPUID1_EDX);
}

// The simulator keeps no AVX state (docs/x86_64.md) because Unicorn emulates
// none: an AVX instruction is an invalid opcode there. If a Unicorn release
// adds AVX, this fails, and the engine's ExtState has to keep the upper
// halves of ymm0..15 (and anvil/cpuid.h may promise AVX).
TEST_CASE("sim engine: Unicorn runs no AVX instruction") {
    Threads t(join({
        {0xc5, 0xfc, 0x58, 0xc0},  // 0x00 vaddps ymm0, ymm0, ymm0
        kSyscall,                  // 0x04
    }));
    hal::UserRegs r = Threads::at(0);
    const sim::Stop s = t.engine().run(r, 0);
    REQUIRE(s.kind == sim::StopKind::kFault);
    CHECK(s.fault.kind == kernel::FaultKind::kInvalidOpcode);
    CHECK(r.rip == kCode);
}
