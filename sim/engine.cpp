#include "sim/engine.h"

#include "sim/cpu_fault.h"
#include "sim/unicorn_compat.h"

#include <anvil/cpuid.h>
#include <anvil/types.h>
#include <capstone/capstone.h>
#include <fmt/core.h>
#include <unicorn/unicorn.h>

#include <cstdlib>
#include <algorithm>
#include <bit>
#include <cstring>
#include <iterator>
#include <new>

#include <sys/prctl.h>

namespace sim {

namespace {

// The platform page: GDT at 0, the iretq trampoline at kTrampoline, the iret
// frame at kFrame. Mapped read+exec into every engine at ANVIL_USER_LIMIT.
constexpr uint64_t kPlatformVa = ANVIL_USER_LIMIT;
constexpr uint64_t kTrampoline = 0x100;
// A `syscall` the exception hook sends the CPU to: it stops emulation at once
// (Unicorn would otherwise run on, even into the same exception again).
constexpr uint64_t kStopPad = 0x120;
constexpr uint64_t kFrame = 0xf00;
// The word the precise-rip memory hook covers (see the constructor).
constexpr uint64_t kRipSyncWord = 0xff8;
// Unicorn register ids in hal::UserRegs field order (fs_base last).
constexpr int kRegIds[] = {
    UC_X86_REG_RIP, UC_X86_REG_RSP, UC_X86_REG_EFLAGS, UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX,
    UC_X86_REG_RDX, UC_X86_REG_RSI, UC_X86_REG_RDI, UC_X86_REG_RBP, UC_X86_REG_R8,  UC_X86_REG_R9,
    UC_X86_REG_R10, UC_X86_REG_R11, UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15,
    UC_X86_REG_FS_BASE,
};
constexpr size_t kRegCount = sizeof(kRegIds) / sizeof(kRegIds[0]);
// The general registers in ModRM order (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15).
constexpr int kGprIds[16] = {
    UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX, UC_X86_REG_RSP, UC_X86_REG_RBP,
    UC_X86_REG_RSI, UC_X86_REG_RDI, UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
    UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15,
};
constexpr uint64_t hal::UserRegs::*kGprFields[16] = {
    &hal::UserRegs::rax, &hal::UserRegs::rcx, &hal::UserRegs::rdx, &hal::UserRegs::rbx,
    &hal::UserRegs::rsp, &hal::UserRegs::rbp, &hal::UserRegs::rsi, &hal::UserRegs::rdi,
    &hal::UserRegs::r8,  &hal::UserRegs::r9,  &hal::UserRegs::r10, &hal::UserRegs::r11,
    &hal::UserRegs::r12, &hal::UserRegs::r13, &hal::UserRegs::r14, &hal::UserRegs::r15,
};
// The same registers' fields.
constexpr uint64_t hal::UserRegs::*kRegFields[] = {
    &hal::UserRegs::rip, &hal::UserRegs::rsp, &hal::UserRegs::rflags, &hal::UserRegs::rax, &hal::UserRegs::rbx,
    &hal::UserRegs::rcx, &hal::UserRegs::rdx, &hal::UserRegs::rsi, &hal::UserRegs::rdi, &hal::UserRegs::rbp,
    &hal::UserRegs::r8,  &hal::UserRegs::r9,  &hal::UserRegs::r10, &hal::UserRegs::r11, &hal::UserRegs::r12,
    &hal::UserRegs::r13, &hal::UserRegs::r14, &hal::UserRegs::r15, &hal::UserRegs::fs_base,
};
static_assert(sizeof(kRegFields) / sizeof(kRegFields[0]) == kRegCount);
static_assert(sizeof(hal::UserRegs) == kRegCount * sizeof(uint64_t));

// Register sets, bit i for kRegIds[i].
constexpr uint32_t kAllRegs = (1u << kRegCount) - 1;
// What a kernel entry reads (hal::user_regs_sync): rip, rsp, rflags, rax, rdx,
// rsi, rdi, r8, r9, r10, r12 (rsp for the kernel's check on the way back).
// Reading registers costs more per stop than anything else the simulator does,
// so a syscall or a budget stop reads only these.
constexpr uint32_t kEntryRegs = 1u << 0 | 1u << 1 | 1u << 2 | 1u << 3 | 1u << 6 | 1u << 7 | 1u << 8 |
                                1u << 10 | 1u << 11 | 1u << 12 | 1u << 14;
// rcx and r11: a syscall sets them (to rip and rflags), so it need not read them.
constexpr uint32_t kSyscallResults = 1u << 5 | 1u << 13;

void free_page(void* p) { std::free(p); }

// Unicorn 2.0.1 (QEMU's alloc_code_gen_buffer) asks for transparent huge pages
// for each engine's translation buffer, so creating an engine zeroes 2 MiB:
// more than a whole run's code needs, and a visible share of a short run with
// a few address spaces. Small pages, faulted in as code is translated, for the
// whole process (the simulated physical memory asks for none either).
void refuse_huge_pages() {
    static const bool done = prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0;
    (void)done;
}

constexpr uint32_t kIoPorts = 0x10000;
constexpr uint64_t kGeneralProtection = 13;

// An in/out instruction, as decoded from its bytes.
struct IoInsn {
    bool imm_port;     // the port is an imm8 (else DX)
    uint8_t imm;
    uint32_t width;    // bytes per access: 1, 2 or 4
};

// Decodes the instruction at `p` (n bytes available) if it is in, out, ins or
// outs, with or without prefixes. Operand size as Unicorn decodes it: 16 bits
// with 0x66, else 32; REX.W does not widen port I/O.
bool decode_io(const uint8_t* p, size_t n, IoInsn* out) {
    size_t i = 0;
    bool opsize = false;
    for (; i < n; ++i) {
        const uint8_t b = p[i];
        if (b == 0x66)
            opsize = true;
        else if (b != 0x67 && b != 0xf0 && b != 0xf2 && b != 0xf3 && b != 0x26 && b != 0x2e && b != 0x36 &&
                 b != 0x3e && b != 0x64 && b != 0x65)
            break;
    }
    bool rex_w = false;
    if (i < n && (p[i] & 0xf0) == 0x40)
        rex_w = p[i++] & 0x08;
    if (i >= n)
        return false;
    const uint8_t op = p[i];
    const bool imm = op >= 0xe4 && op <= 0xe7;
    if (!imm && !(op >= 0xec && op <= 0xef) && !(op >= 0x6c && op <= 0x6f))
        return false;
    if (imm && i + 1 >= n)
        return false;
    out->imm_port = imm;
    out->imm = imm ? p[i + 1] : 0;
    out->width = (op & 1) == 0 ? 1 : (opsize && !rex_w ? 2 : 4);
    return true;
}

// True if `b` is an opcode byte of in/out/ins/outs: a block without any such
// byte has no port I/O, and most blocks are cleared by this test alone.
bool maybe_io_opcode(uint8_t b) {
    return (b >= 0xe4 && b <= 0xe7) || (b >= 0xec && b <= 0xef) || (b >= 0x6c && b <= 0x6f);
}

}  // namespace

Engine::Engine(uint64_t* clock, IoBus* io) : platform_page_(nullptr, free_page), clock_(clock), io_(io) {
    refuse_huge_pages();
    uc_engine* uc = nullptr;
    uc_err err = uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
    if (err != UC_ERR_OK) {
        error_ = fmt::format("cannot create a Unicorn x86-64 engine: {}", uc_strerror(err));
        return;
    }
    // Guest addresses are the mappings' on every Unicorn version (paging is
    // off; sim/unicorn_compat.h has what each version does otherwise).
    err = use_flat_addresses(uc);
    if (err != UC_ERR_OK) {
        error_ = fmt::format("cannot give a Unicorn engine flat addresses: {}", uc_strerror(err));
        uc_close(uc);
        return;
    }
    platform_page_.reset(static_cast<uint8_t*>(std::aligned_alloc(hal::kPageSize, hal::kPageSize)));
    std::memset(platform_page_.get(), 0, hal::kPageSize);
    std::memcpy(platform_page_.get(), kGdt, sizeof kGdt);
    platform_page_[kTrampoline] = 0x48;  // iretq
    platform_page_[kTrampoline + 1] = 0xcf;
    platform_page_[kStopPad] = 0x0f;  // syscall
    platform_page_[kStopPad + 1] = 0x05;
    err = uc_mem_map_ptr(uc, kPlatformVa, hal::kPageSize, UC_PROT_READ | UC_PROT_EXEC, platform_page_.get());
    uc_x86_mmr gdtr{0, kPlatformVa, sizeof kGdt - 1, 0};
    if (err == UC_ERR_OK)
        err = uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr);
    // CR4.TSD: user-mode rdtsc faults, and the simulator answers with virtual
    // time (the host's TSC would make runs differ). CR4.OSFXSR and OSXMMEXCPT,
    // as the x86_64 kernel sets them: fxsave holds MXCSR and the xmm
    // registers, and an unmasked SSE exception is #XM.
    uint64_t cr4 = 0;
    if (err == UC_ERR_OK)
        err = uc_reg_read(uc, UC_X86_REG_CR4, &cr4);
    cr4 |= 1u << 2 | 1u << 9 | 1u << 10;
    if (err == UC_ERR_OK)
        err = uc_reg_write(uc, UC_X86_REG_CR4, &cr4);
    // CR0 as the x86_64 kernel sets it for user code: MP and NE (an unmasked
    // x87 exception is #MF), not EM (x87 instructions run).
    uint64_t cr0 = 0;
    if (err == UC_ERR_OK)
        err = uc_reg_read(uc, UC_X86_REG_CR0, &cr0);
    cr0 = (cr0 & ~uint64_t{1u << 2}) | 1u << 1 | 1u << 5;
    if (err == UC_ERR_OK)
        err = uc_reg_write(uc, UC_X86_REG_CR0, &cr0);
    // Exits from a list, and the list empty: no address ends emulation (only
    // the hooks do). With a plain `until` address instead, Unicorn invalidates
    // the translation at that address after every uc_emu_start, a TLB refill
    // and a page-collection walk each time the engine stops.
    if (err == UC_ERR_OK)
        err = uc_ctl_exits_enable(uc);
    uc_hook hook;
    if (err == UC_ERR_OK)
        err = uc_hook_add(uc, &hook, UC_HOOK_INSN, reinterpret_cast<void*>(&Engine::on_syscall), this, 1, 0,
                          UC_X86_INS_SYSCALL);
    if (err == UC_ERR_OK)
        err = uc_hook_add(uc, &hook, UC_HOOK_INTR, reinterpret_cast<void*>(&Engine::on_interrupt), this, 1, 0);
    if (err == UC_ERR_OK)
        err = uc_hook_add(uc, &hook, UC_HOOK_INSN, reinterpret_cast<void*>(&Engine::on_cpuid), this, 1, 0,
                          UC_X86_INS_CPUID);
    if (err == UC_ERR_OK)
        err = uc_hook_add(uc, &hook, UC_HOOK_MEM_INVALID, reinterpret_cast<void*>(&Engine::on_bad_memory), this,
                          1, 0);
    if (err == UC_ERR_OK)
        err = uc_hook_add(uc, &hook, UC_HOOK_BLOCK, reinterpret_cast<void*>(&Engine::on_block), this, 1, 0);
    if (err == UC_ERR_OK)
        err = uc_hook_add(uc, &hook, UC_HOOK_INSN, reinterpret_cast<void*>(&Engine::on_in), this, 1, 0,
                          UC_X86_INS_IN);
    if (err == UC_ERR_OK)
        err = uc_hook_add(uc, &hook, UC_HOOK_INSN, reinterpret_cast<void*>(&Engine::on_out), this, 1, 0,
                          UC_X86_INS_OUT);
    // Measured on Unicorn 2.0.1 and 2.1.1: with no data-access hook, a refused access
    // leaves rip at the start of its block, not at the instruction. The
    // translator writes rip before each access once any UC_HOOK_MEM_READ or
    // _WRITE hook exists; this one covers a platform-page word user code never
    // touches, so it never runs, and costs nothing measurable
    // (docs/benchmarks.md): every fault report then has the CPU's rip.
    if (err == UC_ERR_OK)
        err = uc_hook_add(uc, &hook, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE,
                          reinterpret_cast<void*>(&Engine::on_precise_rip), this, kPlatformVa + kRipSyncWord,
                          kPlatformVa + kRipSyncWord);
    // The CPU state to go back to after a user exception (see run()).
    if (err == UC_ERR_OK)
        err = uc_context_alloc(uc, &pristine_);
    if (err == UC_ERR_OK)
        err = uc_context_save(uc, pristine_);
    if (err != UC_ERR_OK) {
        error_ = fmt::format("cannot set up a Unicorn engine: {}", uc_strerror(err));
        uc_close(uc);
        return;
    }
    uc_ = uc;
}

Engine::~Engine() {
    if (disassembler_)
        cs_close(&disassembler_);
    if (pristine_)
        uc_context_free(pristine_);
    if (uc_)
        uc_close(uc_);
}

bool Engine::map_pages(uint64_t va, uint8_t* base, const uint64_t* offsets, size_t count, uint32_t perms) {
    constexpr uint64_t kPage = hal::kPageSize;
    if (count == 0)
        return true;
    if (va % kPage || count > (~0ull - va) / kPage)
        return false;
    const uint64_t end = va + count * kPage;
    // Nothing in [va, end) may be mapped already.
    auto next = regions_.lower_bound(va);
    if (next != regions_.end() && next->first < end)
        return false;
    if (next != regions_.begin()) {
        const auto prev = std::prev(next);
        if (prev->first + prev->second.size > va)
            return false;
    }
    // Unicorn 2.0.1 aborts (an assertion in its memory map) past about 4,096
    // regions, and adding one costs time that grows with the square of the
    // regions already there: each run of pages contiguous in host memory is one
    // region, and an address space holds at most kMaxRegions of them, so the
    // kernel answers NO_MEMORY instead of the simulator dying.
    size_t runs = 1;
    for (size_t i = 1; i < count; ++i)
        runs += offsets[i] != offsets[i - 1] + kPage;
    if (regions_.size() + runs > kMaxRegions)
        return false;
    uint32_t prot = 0;
    if (perms & hal::kMapRead)
        prot |= UC_PROT_READ;
    if (perms & hal::kMapWrite)
        prot |= UC_PROT_WRITE;
    if (perms & hal::kMapExec)
        prot |= UC_PROT_EXEC;
    size_t first = 0;  // the first page of the run being gathered
    for (size_t i = 1; i <= count; ++i) {
        if (i < count && offsets[i] == offsets[i - 1] + kPage)
            continue;
        const uint64_t run_va = va + first * kPage;
        const uint64_t size = (i - first) * kPage;
        uint8_t* host = base + offsets[first];
        if (uc_mem_map_ptr(uc_, run_va, size, prot, host) != UC_ERR_OK) {
            unmap_pages(va, first);  // the runs mapped so far: nothing changed
            return false;
        }
        regions_.emplace(run_va, Region{size, host, prot});
        first = i;
    }
    return true;
}

void Engine::unmap_pages(uint64_t va, size_t count) {
    constexpr uint64_t kPage = hal::kPageSize;
    va &= ~(kPage - 1);
    if (count == 0)
        return;
    const uint64_t end = count > (~0ull - va) / kPage ? ~0ull : va + count * kPage;
    auto it = regions_.upper_bound(va);
    if (it != regions_.begin() && std::prev(it)->first + std::prev(it)->second.size > va)
        --it;
    bool changed = false;
    while (it != regions_.end() && it->first < end) {
        const uint64_t start = it->first;
        const Region r = it->second;
        it = regions_.erase(it);
        if (uc_mem_unmap(uc_, start, r.size) != UC_ERR_OK)
            continue;
        changed = true;
        // The kernel removes whole mappings, and a region never spans two; a
        // region only partly in the range (a caller unmapping part of a
        // mapping) keeps its other pages, as two smaller regions at most.
        const auto keep = [&](uint64_t at, uint64_t size) {
            if (uc_mem_map_ptr(uc_, at, size, r.prot, r.host + (at - start)) == UC_ERR_OK)
                regions_.emplace(at, Region{size, r.host + (at - start), r.prot});
        };
        if (start < va)
            keep(start, va - start);
        if (start + r.size > end)
            keep(end, start + r.size - end);
    }
    if (changed)
        forget_checked();  // other code may appear here: check every block again
}

bool Engine::allow_ioports(uint32_t base, uint32_t count) {
    if (base > kIoPorts || count > kIoPorts - base)
        return false;
    if (count == 0)
        return true;
    if (!ioports_) {
        ioports_.reset(new (std::nothrow) uint64_t[kIoPorts / 64]());
        if (!ioports_)
            return false;
    }
    for (uint32_t port = base; port < base + count; ++port)
        ioports_[port / 64] |= 1ull << (port % 64);
    return true;
}

bool Engine::ioports_allowed(uint32_t port, uint32_t width) const {
    if (!ioports_ || port >= kIoPorts || width > kIoPorts - port)
        return false;
    for (uint32_t p = port; p < port + width; ++p) {
        if (!(ioports_[p / 64] & (1ull << (p % 64))))
            return false;
    }
    return true;
}

void Engine::load(const hal::UserRegs& regs) {
    // Unicorn register writes are costly: write only what differs from what the
    // engine holds (usually rax, rdx, rcx, r11 after a syscall), and none of the
    // registers of a partly saved `regs` it has not handed back: its own values
    // of those are the thread's.
    const uint32_t keep = partial_ == &regs ? stale_mask_ : 0;
    int ids[kRegCount];
    void* ptrs[kRegCount];
    int n = 0;
    for (uint32_t left = kAllRegs & ~keep; left; left &= left - 1) {
        const int i = std::countr_zero(left);
        const uint64_t value = regs.*kRegFields[i];
        if ((held_mask_ & (1u << i)) && held_.*kRegFields[i] == value)
            continue;
        held_.*kRegFields[i] = value;
        ids[n] = kRegIds[i];
        ptrs[n] = &(held_.*kRegFields[i]);
        ++n;
    }
    if (n)
        uc_reg_write_batch(uc_, ids, ptrs, n);
    held_mask_ |= kAllRegs & ~keep;
}

void Engine::save(hal::UserRegs& regs, uint32_t mask) {
    int ids[kRegCount];
    void* ptrs[kRegCount];
    int n = 0;
    for (uint32_t left = mask; left; left &= left - 1) {
        const int i = std::countr_zero(left);
        ids[n] = kRegIds[i];
        ptrs[n] = &(regs.*kRegFields[i]);
        ++n;
    }
    // Unicorn writes only 32 bits for EFLAGS: the upper half must be 0, not
    // what the file held (it is visible to the thread as r11 after a syscall).
    if (mask & 1u << 2)
        regs.rflags = 0;
    uc_reg_read_batch(uc_, ids, ptrs, n);
    for (uint32_t left = mask; left; left &= left - 1) {
        const int i = std::countr_zero(left);
        held_.*kRegFields[i] = regs.*kRegFields[i];
    }
    held_mask_ |= mask;
}

void Engine::sync_regs() {
    if (!partial_)
        return;
    save(*partial_, stale_mask_);
    partial_ = nullptr;
    stale_mask_ = 0;
}

// ---- x87/SSE state (hal::ExtState, in the XSAVE standard format) ----------------
//
// Unicorn emulates x87 and SSE, not AVX (its CPUID says so), so the engine
// keeps those two components and ymm's upper halves stay 0 (XSTATE_BV 3).

namespace {


template <typename T>
T get(const hal::ExtState& e, size_t at) {
    T v;
    std::memcpy(&v, e.bytes + at, sizeof v);
    return v;
}
template <typename T>
void put(hal::ExtState& e, size_t at, T v) {
    std::memcpy(e.bytes + at, &v, sizeof v);
}

// FXSAVE's layout of the legacy region (Intel SDM vol. 1, table 10-2).
constexpr size_t kFsw = 2, kFtw = 4, kFop = 6, kFip = 8, kFdp = 16, kMxcsrMask = 28;
constexpr uint64_t kXstateX87Sse = 3;

}  // namespace

// The x87/SSE registers as Unicorn names them, in one batch: the status word
// first (its TOP field places st0..7 on the register stack when written).
struct Engine::ExtRegs {
    uint16_t fsw = 0, fcw = 0, ftag = 0, fop = 0;
    uint64_t fip = 0, fdp = 0;
    uint32_t mxcsr = 0;
    uint8_t st[kStRegs][10] = {};
    uint8_t xmm[kXmmRegs][16] = {};
    static constexpr int kCount = 7 + kStRegs + kXmmRegs;
    int ids[kCount];
    void* ptrs[kCount];
    ExtRegs() {
        const int scalar_ids[7] = {UC_X86_REG_FPSW, UC_X86_REG_FPCW, UC_X86_REG_FPTAG, UC_X86_REG_FOP,
                                   UC_X86_REG_FIP,  UC_X86_REG_FDP,  UC_X86_REG_MXCSR};
        void* const scalars[7] = {&fsw, &fcw, &ftag, &fop, &fip, &fdp, &mxcsr};
        for (int i = 0; i < 7; ++i)
            ids[i] = scalar_ids[i], ptrs[i] = scalars[i];
        for (int i = 0; i < kStRegs; ++i)
            ids[7 + i] = UC_X86_REG_ST0 + i, ptrs[7 + i] = st[i];
        for (int i = 0; i < kXmmRegs; ++i)
            ids[7 + kStRegs + i] = UC_X86_REG_XMM0 + i, ptrs[7 + kStRegs + i] = xmm[i];
    }
};

void Engine::save_ext(hal::ExtState& ext) {
    ExtRegs r;
    uc_reg_read_batch(uc_, r.ids, r.ptrs, ExtRegs::kCount);
    std::memset(ext.bytes, 0, sizeof ext.bytes);
    put(ext, hal::kExtFcw, r.fcw);
    put(ext, kFsw, r.fsw);
    // The abridged tag word: bit i set when physical register i is not empty (tag 3).
    uint8_t abridged = 0;
    for (int i = 0; i < kStRegs; ++i)
        abridged |= ((r.ftag >> (2 * i)) & 3) != 3 ? uint8_t(1u << i) : 0;
    put(ext, kFtw, abridged);
    put(ext, kFop, r.fop);
    put(ext, kFip, r.fip);
    put(ext, kFdp, r.fdp);
    put(ext, hal::kExtMxcsr, r.mxcsr);
    put(ext, kMxcsrMask, uint32_t{0xffff});
    for (int i = 0; i < kStRegs; ++i)
        std::memcpy(ext.bytes + hal::kExtSt0 + 16 * i, r.st[i], 10);
    for (int i = 0; i < kXmmRegs; ++i)
        std::memcpy(ext.bytes + hal::kExtXmm0 + 16 * i, r.xmm[i], 16);
    put(ext, hal::kExtXstateBv, kXstateX87Sse);
}

void Engine::load_ext(const hal::ExtState& block) {
    // A component XSTATE_BV leaves out is in its initial state (as XRSTOR
    // makes it); MXCSR comes from the block either way.
    hal::ExtState ext = block;
    hal::ext_state_expand(ext, kXstateX87Sse);
    ExtRegs r;
    r.fcw = get<uint16_t>(ext, hal::kExtFcw);
    r.fsw = get<uint16_t>(ext, kFsw);
    r.fop = get<uint16_t>(ext, kFop);
    r.fip = get<uint64_t>(ext, kFip);
    r.fdp = get<uint64_t>(ext, kFdp);
    r.mxcsr = get<uint32_t>(ext, hal::kExtMxcsr);
    const uint8_t abridged = get<uint8_t>(ext, kFtw);
    for (int i = 0; i < kStRegs; ++i)
        r.ftag |= uint16_t((abridged >> i) & 1 ? 0 : 3) << (2 * i);
    for (int i = 0; i < kStRegs; ++i)
        std::memcpy(r.st[i], ext.bytes + hal::kExtSt0 + 16 * i, 10);
    for (int i = 0; i < kXmmRegs; ++i)
        std::memcpy(r.xmm[i], ext.bytes + hal::kExtXmm0 + 16 * i, 16);
    uc_reg_write_batch(uc_, r.ids, r.ptrs, ExtRegs::kCount);
}

void Engine::use_ext(hal::ExtState* ext) {
    if (ext == ext_owner_)
        return;
    if (ext_owner_)
        save_ext(*ext_owner_);
    if (ext)
        load_ext(*ext);
    ext_owner_ = ext;
}

void Engine::sync_ext(hal::ExtState& ext) {
    if (ext_owner_ == &ext)
        save_ext(ext);
}

Stop Engine::run(hal::UserRegs& regs, uint64_t block_budget) {
    if (partial_ != &regs)
        sync_regs();  // another thread of this address space stopped here last
    stop_pending_ = false;
    refresh_fast_limit();
    stop_ = Stop{};
    budget_end_ = block_budget ? blocks_ + block_budget : ~0ull;
    refresh_fast_limit();
    run_start_blocks_ = blocks_;
    uc_err err;
    for (;;) {
        load(regs);
        uint64_t start = regs.rip;
        if (!in_user_mode_) {
            // Drop to CPL 3 through iretq, as the hardware backend does.
            const uint64_t frame[5] = {regs.rip, kUserCs, regs.rflags, regs.rsp, kUserSs};
            std::memcpy(platform_page_.get() + kFrame, frame, sizeof frame);
            const uint64_t rsp = kPlatformVa + kFrame;
            uc_reg_write(uc_, UC_X86_REG_RSP, &rsp);
            held_mask_ = 0;  // rsp now differs from regs until the iretq
            start = kPlatformVa + kTrampoline;
            in_user_mode_ = true;
        }
        err = uc_emu_start(uc_, start, ~0ull, 0, 0);
        held_mask_ = 0;  // the thread ran: what the engine holds is unknown
        // A syscall or the end of the budget, and nothing more to do in this
        // run: only the entry registers now, the rest when someone asks
        // (sync_regs). Anything else (a fault, an emulated instruction, a block
        // to instrument) reads them all: the engine may go back to its pristine
        // state below.
        const bool entry_only = err == UC_ERR_OK && stop_pending_ && !exception_taken_ &&
                                !resume_after_emulation_ && !instrument_pending_ &&
                                (stop_.kind == StopKind::kSyscall || stop_.kind == StopKind::kBudget);
        if (entry_only) {
            save(regs, kEntryRegs);
            partial_ = &regs;
            stale_mask_ = kAllRegs & ~kEntryRegs & (stop_.kind == StopKind::kSyscall ? ~kSyscallResults : kAllRegs);
        } else {
            save(regs, kAllRegs);
            partial_ = nullptr;
            stale_mask_ = 0;
        }
        if (at_stop_pad_ || rip_fixup_) {
            at_stop_pad_ = false;
            refresh_fast_limit();
            rip_fixup_ = false;
            regs.rip = continue_at_;
        }
        if (instrument_pending_) {
            // on_block stopped before a block with in/out ran: hook them, then
            // run the block again from its start (regs.rip).
            instrument_pending_ = false;
            instrument_pending_block();
            if (err == UC_ERR_OK && !stop_pending_ && !exception_taken_ && !resume_after_emulation_)
                continue;
        }
        if (err == UC_ERR_INSN_INVALID && !stop_pending_) {
            // Unicorn reports an undefined instruction as an error, not through
            // the interrupt hook: it is the thread's #UD, not the machine's
            // (or, for a few instructions, the CPU's #GP: cpu_fault).
            stop_pending_ = true;
            refresh_fast_limit();
            stop_.kind = StopKind::kFault;
            const CpuFault f = cpu_fault(
                CpuFaultInput{6, regs.rip, 0, regs.rflags},
                [this](uint64_t va, void* out, size_t len) { return read(va, out, len); },
                [&regs](unsigned i) { return regs.*kGprFields[i & 15]; });
            stop_.fault = f.info;
            regs.rip = f.rip;
            exception_taken_ = true;
        }
        if (!resume_after_emulation_ && !exception_taken_)
            break;
        // An exception went through a hook (a fault, or the #GP of an emulated
        // rdtsc). Unicorn still holds it as "in delivery" (only a delivered
        // exception clears that), so the next one would become a double fault:
        // go back to the CPU state saved at creation and re-enter user mode
        // through the trampoline.
        const bool resume = resume_after_emulation_;
        resume_after_emulation_ = false;
        exception_taken_ = false;
        // (The pristine state's x87/SSE registers are not the thread's.)
        if (ext_owner_)
            save_ext(*ext_owner_);
        uc_context_restore(uc_, pristine_);
        if (ext_owner_)
            load_ext(*ext_owner_);
        held_mask_ = 0;
        in_user_mode_ = false;
        if (!resume || stop_pending_ || (err != UC_ERR_OK && err != UC_ERR_INSN_INVALID))
            break;
    }
    if (stop_pending_) {
        if (stop_.kind == StopKind::kSyscall) {
            // The syscall instruction's architectural effects, as on hardware.
            regs.rcx = regs.rip;
            regs.r11 = regs.rflags;
        }
        return stop_;
    }
    Stop s;
    s.kind = StopKind::kError;
    s.error = err == UC_ERR_OK ? "emulation stopped without a kernel entry"
                               : fmt::format("emulator error at rip 0x{:x}: {}", regs.rip, uc_strerror(err));
    return s;
}

Stop Engine::run(hal::UserRegs& regs, uint64_t block_budget, DebugControl* debug) {
    if (!debug)
        return run(regs, block_budget);
    uc_hook hook;
    if (uc_hook_add(uc_, &hook, UC_HOOK_CODE, reinterpret_cast<void*>(&Engine::on_debug_insn), this, 0,
                    kPlatformVa - 1) != UC_ERR_OK) {
        Stop s;
        s.kind = StopKind::kError;
        s.error = "cannot add the debugger's instruction hook";
        return s;
    }
    // A new code hook reaches only blocks translated after it: drop the user
    // code's, before (so the slice runs hooked) and after (so later slices do
    // not call a deleted hook).
    drop_user_translations();
    debug_ = debug;
    const Stop s = run(regs, block_budget);
    debug_ = nullptr;
    uc_hook_del(uc_, hook);
    drop_user_translations();
    return s;
}

void Engine::drop_user_translations() {
    // Block by block over the executable regions, not Unicorn's whole-cache
    // flush: on Unicorn 2.0.1 that zeroes the whole 1 GiB code buffer, which
    // in a freshly forked debugger view cost about a second per flush.
    for (const auto& [va, r] : regions_)
        if (r.prot & UC_PROT_EXEC)
            uc_ctl_remove_cache(uc_, va, va + r.size);
}

bool Engine::breakpoint_matches(const Breakpoints& b, uint64_t addr) {
    const auto it = b.find(addr);
    if (it == b.end())
        return false;
    if (it->second.empty())
        return true;
    uint8_t code[64];
    const size_t n = std::min(it->second.size(), sizeof code);
    return uc_mem_read(uc_, addr, code, n) == UC_ERR_OK && std::memcmp(code, it->second.data(), n) == 0;
}

void Engine::on_debug_insn(uc_struct* uc, uint64_t addr, uint32_t, void* self) {
    auto* e = static_cast<Engine*>(self);
    DebugControl* d = e->debug_;
    if (!d || e->stop_pending_ || e->at_stop_pad_)
        return;
    const bool at_break = d->breakpoints && d->executed >= d->break_from && e->breakpoint_matches(*d->breakpoints, addr);
    if (at_break && d->collect)
        d->hits.push_back(d->executed);
    if (d->executed >= d->limit || (at_break && !d->collect)) {
        // Before the instruction: nothing of it has run, rip is at it.
        d->at_breakpoint = at_break && !d->collect;
        e->stop_pending_ = true;
        e->refresh_fast_limit();
        e->stop_.kind = StopKind::kDebug;
        uc_emu_stop(uc);
        return;
    }
    ++d->executed;
}

void Engine::set_watch(const Breakpoints& addresses) {
    for (auto it = watch_hooks_.begin(); it != watch_hooks_.end();) {
        if (addresses.count(it->first)) {
            ++it;
            continue;
        }
        uc_hook_del(uc_, it->second);
        uc_ctl_remove_cache(uc_, it->first, it->first + 1);
        it = watch_hooks_.erase(it);
    }
    for (const auto& [va, bytes] : addresses) {
        if (watch_hooks_.count(va))
            continue;
        uc_hook hook;
        if (uc_hook_add(uc_, &hook, UC_HOOK_CODE, reinterpret_cast<void*>(&Engine::on_watch), this, va, va) ==
            UC_ERR_OK) {
            watch_hooks_[va] = hook;
            uc_ctl_remove_cache(uc_, va, va + 1);
        }
    }
    watch_ = addresses;
}

void Engine::on_watch(uc_struct* uc, uint64_t addr, uint32_t, void* self) {
    (void)uc;
    auto* e = static_cast<Engine*>(self);
    if (!e->stop_pending_ && !e->at_stop_pad_ && e->breakpoint_matches(e->watch_, addr))
        e->watch_hit_ = true;
}

void Engine::set_rip_stop(uint64_t rip, std::function<bool(const hal::UserRegs&)> match) {
    clear_rip_stop();
    uc_hook hook;
    if (uc_hook_add(uc_, &hook, UC_HOOK_CODE, reinterpret_cast<void*>(&Engine::on_rip_stop), this, rip, rip) !=
        UC_ERR_OK)
        return;
    rip_stop_ = rip;
    rip_stop_match_ = std::move(match);
    rip_stop_hook_ = hook;
    // A new code hook reaches only blocks translated after it.
    uc_ctl_remove_cache(uc_, rip, rip + 1);
}

void Engine::clear_rip_stop() {
    if (!rip_stop_hook_)
        return;
    uc_hook_del(uc_, rip_stop_hook_);
    uc_ctl_remove_cache(uc_, rip_stop_, rip_stop_ + 1);
    rip_stop_hook_ = 0;
    rip_stop_ = 0;
    rip_stop_match_ = nullptr;
}

void Engine::on_rip_stop(uc_struct* uc, uint64_t addr, uint32_t, void* self) {
    auto* e = static_cast<Engine*>(self);
    if (e->stop_pending_ || e->at_stop_pad_ || addr != e->rip_stop_ || !e->rip_stop_match_)
        return;
    hal::UserRegs now{};
    e->save(now, kAllRegs);
    now.rip = addr;
    if (!e->rip_stop_match_(now))
        return;
    // Before the instruction: nothing of it has run, rip is at it.
    e->stop_pending_ = true;
    e->refresh_fast_limit();
    e->stop_.kind = StopKind::kDebug;
    uc_emu_stop(uc);
}

void Engine::set_write_log(std::vector<OldByte>* log) {
    write_log_ = log;
    if (log && !write_log_hook_) {
        // As set_data_watches: the exact-rip hook already sends every access
        // through Unicorn's helpers, so no block needs translating again.
        uc_hook hook;
        if (uc_hook_add(uc_, &hook, UC_HOOK_MEM_WRITE, reinterpret_cast<void*>(&Engine::on_logged_write), this, 0,
                        kPlatformVa - 1) == UC_ERR_OK)
            write_log_hook_ = hook;
    } else if (!log && write_log_hook_) {
        uc_hook_del(uc_, write_log_hook_);
        write_log_hook_ = 0;
    }
}

void Engine::on_logged_write(uc_struct*, int, uint64_t addr, int size, int64_t, void* self) {
    auto* e = static_cast<Engine*>(self);
    if (!e->write_log_ || e->at_stop_pad_ || size <= 0)
        return;
    // Unicorn calls the hook before the store: memory still holds the old
    // bytes. Byte by byte, since a store may straddle two mappings.
    for (int i = 0; i < size; ++i)
        if (uint8_t* p = e->host_of(addr + static_cast<uint64_t>(i)))
            e->write_log_->push_back(OldByte{p, *p});
}

void Engine::undo_writes(const std::vector<OldByte>& log) {
    for (auto it = log.rbegin(); it != log.rend(); ++it)
        *it->host = it->value;
}

void Engine::set_data_watches(const std::vector<DataWatch>* watches, std::vector<DataHit>* hits) {
    const bool on = watches && !watches->empty() && hits;
    data_watches_ = on ? watches : nullptr;
    data_hits_ = on ? hits : nullptr;
    if (on && !data_hook_) {
        // One hook over all of user space. Blocks need no new translation:
        // the exact-rip hook (Engine::Engine) already sends every access
        // through Unicorn's helpers, which call each access hook in range.
        uc_hook hook;
        if (uc_hook_add(uc_, &hook, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE,
                        reinterpret_cast<void*>(&Engine::on_data_access), this, 0, kPlatformVa - 1) == UC_ERR_OK)
            data_hook_ = hook;
    } else if (!on && data_hook_) {
        uc_hook_del(uc_, data_hook_);
        data_hook_ = 0;
    }
}

uint8_t* Engine::host_of(uint64_t va) const {
    auto it = regions_.upper_bound(va);
    if (it == regions_.begin())
        return nullptr;
    --it;
    return va - it->first < it->second.size ? it->second.host + (va - it->first) : nullptr;
}

void Engine::on_data_access(uc_struct*, int type, uint64_t addr, int size, int64_t value, void* self) {
    auto* e = static_cast<Engine*>(self);
    if (!e->data_watches_ || e->at_stop_pad_ || size <= 0)
        return;
    const bool write = type == UC_MEM_WRITE;
    // The host bytes of the access, looked up once (each byte, since an
    // access may straddle two mappings).
    constexpr int kMaxAccess = 64;
    const int n = std::min(size, kMaxAccess);
    const uint8_t* bytes[kMaxAccess];
    for (int i = 0; i < n; ++i)
        bytes[i] = e->host_of(addr + static_cast<uint64_t>(i));
    const auto& watches = *e->data_watches_;
    for (size_t w = 0; w < watches.size(); ++w) {
        const DataWatch& watch = watches[w];
        if (!(write ? watch.writes : watch.reads))
            continue;
        // The access's bytes that are watched bytes. Unicorn calls the hook
        // before the store, so memory still holds the old bytes. The hook's
        // value holds the first 8 bytes of a store: a watched byte beyond
        // them (a 16-byte store) counts as changed (inverted).
        uint64_t old_value = 0;
        std::memcpy(&old_value, watch.host, watch.len);
        uint64_t new_value = old_value;
        bool touched = false;
        for (int i = 0; i < n; ++i) {
            const uint8_t* p = bytes[i];
            if (!p || p < watch.host || p >= watch.host + watch.len)
                continue;
            touched = true;
            if (!write)
                continue;
            const unsigned at = static_cast<unsigned>(p - watch.host) * 8;
            const uint64_t byte = i < 8 ? (static_cast<uint64_t>(value) >> (8 * i)) & 0xff : ~(old_value >> at) & 0xff;
            new_value = (new_value & ~(0xffull << at)) | byte << at;
        }
        if (!touched)
            continue;
        DataHit h;
        h.watch = w;
        h.write = write;
        h.va = addr;
        h.size = static_cast<uint32_t>(size);
        h.instruction = e->debug_ ? e->debug_->executed : 0;
        h.old_value = old_value;
        h.new_value = new_value;
        e->data_hits_->push_back(h);
    }
}

bool Engine::read(uint64_t va, void* out, size_t len) { return uc_mem_read(uc_, va, out, len) == UC_ERR_OK; }

void Engine::on_syscall(uc_struct* uc, void* self) {
    auto* e = static_cast<Engine*>(self);
    if (e->at_stop_pad_) {
        uc_emu_stop(uc);  // the stop pad: not the thread's syscall
        return;
    }
    e->stop_pending_ = true;
    e->refresh_fast_limit();
    e->stop_.kind = StopKind::kSyscall;
    uc_emu_stop(uc);
}

int Engine::on_cpuid(uc_struct* uc, void* self) {
    // Anvil's table, as the x86_64 kernel answers a user CPUID (anvil/cpuid.h),
    // not Unicorn's own CPU model.
    auto* e = static_cast<Engine*>(self);
    uint64_t leaf = 0;
    uc_reg_read(uc, UC_X86_REG_RAX, &leaf);
    const anvil_cpuid_leaf v = anvil_cpuid_answer(static_cast<uint32_t>(leaf), e->cpu_);
    const uint64_t out[4] = {v.eax, v.ebx, v.ecx, v.edx};
    const int ids[4] = {UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX};
    for (int i = 0; i < 4; ++i)
        uc_reg_write(uc, ids[i], &out[i]);
    return 1;  // instead of the instruction
}

bool Engine::emulate_timestamp(uc_struct* uc) {
    uint64_t rip = 0;
    uint8_t insn[3] = {};
    uc_reg_read(uc, UC_X86_REG_RIP, &rip);
    if (uc_mem_read(uc, rip, insn, sizeof insn) != UC_ERR_OK || insn[0] != 0x0f)
        return false;
    uint64_t length;
    if (insn[1] == 0x31) {
        length = 2;  // rdtsc
    } else if (insn[1] == 0x01 && insn[2] == 0xf9) {
        length = 3;  // rdtscp: ecx = TSC_AUX, which is 0 here
        const uint64_t aux = 0;
        uc_reg_write(uc, UC_X86_REG_RCX, &aux);
    } else {
        return false;
    }
    // Virtual time: the machine's clock at the start of this slice plus the
    // blocks run since.
    const uint64_t now = *clock_ + (blocks_ - run_start_blocks_), lo = now & 0xffffffffu, hi = now >> 32;
    uc_reg_write(uc, UC_X86_REG_RAX, &lo);
    uc_reg_write(uc, UC_X86_REG_RDX, &hi);
    continue_at_ = rip + length;
    return true;
}

void Engine::on_interrupt(uc_struct* uc, uint32_t intno, void* self) {
    auto* e = static_cast<Engine*>(self);
    if (e->stop_pending_ || e->at_stop_pad_)
        return;  // already leaving: an exception raised on the way out is not the thread's
    uint64_t rip = 0;
    uc_reg_read(uc, UC_X86_REG_RIP, &rip);
    e->exception_taken_ = true;
    if (intno == 13 && e->emulate_timestamp(uc)) {
        e->resume_after_emulation_ = true;  // run() continues at continue_at_
    } else {
        e->stop_pending_ = true;
        e->refresh_fast_limit();
        e->stop_.kind = StopKind::kFault;
        uint64_t rflags = 0;
        uc_reg_read(uc, UC_X86_REG_EFLAGS, &rflags);
        const CpuFault f = cpu_fault(
            CpuFaultInput{intno, rip, e->insn_ending_at(rip), rflags},
            [e](uint64_t va, void* out, size_t len) { return e->read(va, out, len); },
            [uc](unsigned i) {
                uint64_t v = 0;
                uc_reg_read(uc, kGprIds[i & 15], &v);
                return v;
            });
        e->stop_.fault = f.info;
        e->continue_at_ = f.rip;  // as the CPU would push it
    }
    // Leave through the stop pad: nothing more of the thread runs in this slice.
    e->at_stop_pad_ = true;
    e->refresh_fast_limit();
    const uint64_t pad = kPlatformVa + kStopPad;
    uc_reg_write(uc, UC_X86_REG_RIP, &pad);
    uc_emu_stop(uc);
}

void Engine::on_precise_rip(uc_struct*, int, uint64_t, int, int64_t, void*) {}

bool Engine::on_bad_memory(uc_struct* uc, int type, uint64_t addr, int size, int64_t value, void* self) {
    auto* e = static_cast<Engine*>(self);
    kernel::FaultAccess access = kernel::FaultAccess::kRead;
    if (type == UC_MEM_WRITE_UNMAPPED || type == UC_MEM_WRITE_PROT)
        access = kernel::FaultAccess::kWrite;
    else if (type == UC_MEM_FETCH_UNMAPPED || type == UC_MEM_FETCH_PROT)
        access = kernel::FaultAccess::kExec;
    const bool present = type == UC_MEM_READ_PROT || type == UC_MEM_WRITE_PROT || type == UC_MEM_FETCH_PROT;
    e->exception_taken_ = true;  // Unicorn holds it as a pending #PF
    e->stop_pending_ = true;
    e->refresh_fast_limit();
    e->stop_.kind = StopKind::kFault;
    e->stop_.fault = memory_fault(access, present, addr);
    return false;  // stop emulation; rip stays at the faulting instruction (on_precise_rip)
}

bool Engine::open_disassembler() {
    if (!disassembler_) {
        csh handle = 0;
        if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK)
            return false;
        disassembler_ = handle;
    }
    return true;
}

uint64_t Engine::insn_ending_at(uint64_t rip) {
    // Traps and software interrupts stop past their instruction, which ends
    // the block running now (an interrupt ends a block; a single-step trap
    // comes after a block of one instruction).
    const uint64_t start = block_ >> 16;
    const uint32_t size = static_cast<uint32_t>(block_ & 0xffff);
    if (size == 0 || rip <= start || rip > start + size)
        return 0;
    if (!open_disassembler())
        return 0;
    std::vector<uint8_t> code(size);
    if (uc_mem_read(uc_, start, code.data(), size) != UC_ERR_OK)
        return 0;
    cs_insn* insn = cs_malloc(disassembler_);
    if (!insn)
        return 0;
    const uint8_t* p = code.data();
    size_t left = code.size();
    uint64_t address = start, found = 0;
    while (cs_disasm_iter(disassembler_, &p, &left, &address, insn)) {
        if (insn->address + insn->size == rip) {
            found = insn->address;
            break;
        }
    }
    cs_free(insn, 1);
    return found;
}

// Port I/O. Measured on Unicorn 2.0.1: its translator skips the x86 I/O
// permission check entirely (its gen_check_io returns at once: CPL 3 with IOPL 0
// runs in/out without #GP, and a TSS with an I/O bitmap changes nothing), so the
// in/out hooks are the only place ports are checked. But those hooks come too
// late to fault: inside them rip is not synced (it holds the block start or the
// last synced address) nor are the lazily computed flags, and neither
// uc_emu_stop() nor a rip write there keeps the rest of the block from running.
// A UC_HOOK_CODE hook, in contrast, runs before its instruction with rip and
// rflags in sync, and uc_emu_stop() in it stops before the instruction. So:
//  - on_block checks every block before it first runs (a small direct-mapped
//    table remembers checked blocks until an unmap; two blocks that share a
//    slot are checked again in turn, which costs time, never precision); a
//    block holding in/out instructions (found with capstone) is stopped before
//    it runs, each of those instructions gets a one-address code hook, the
//    block's translation is dropped, and the block runs again, now instrumented;
//  - on_io_site, before each in/out, faults an ungranted access as #GP at the
//    instruction with nothing of it done, exactly like a hardware #GP;
//  - on_in/on_out then perform granted accesses on the IoBus, and check again:
//    code the table did not see (rewritten in place without an unmap) still never
//    reaches an ungranted port; its #GP is reported with the in/out's rip but the
//    rest of that block has run (the only imprecise case).
// Only blocks with port I/O cost anything beyond the table lookup.
void Engine::on_block(uc_struct* uc, uint64_t addr, uint32_t size, void* self) {
    auto* e = static_cast<Engine*>(self);
    // The hot path, for every basic block of user code: one compare for the
    // budget (fast_limit_ is 0 while a stop is pending), one table probe;
    // everything else is out of line, so this needs no saved registers. Virtual time is not touched here: the machine adds
    // the slice's blocks when it ends. Every instruction here counts (about 2 %
    // of a tight loop's time each, measured): the table sits in the engine and
    // is indexed by the low bits of the address alone.
    const uint64_t key = block_key(addr, size);
    if (__builtin_expect(e->blocks_ >= e->fast_limit_ || e->checked_slot(addr) != key, 0)) {
        on_block_miss(uc, addr, size, self);
        return;
    }
    e->block_ = key;  // user addresses have 47 bits, blocks are < 64 KiB
    ++e->blocks_;
}

void Engine::on_block_miss(uc_struct* uc, uint64_t addr, uint32_t size, void* self) {
    static_cast<Engine*>(self)->on_block_slow(uc, addr, size);
}

void Engine::on_block_slow(uc_struct* uc, uint64_t addr, uint32_t size) {
    // Stopping here keeps this block from running, so the budget is checked
    // before the block is counted: a budget of N runs exactly N blocks.
    if (blocks_ >= budget_end_) {
        if (!stop_pending_) {
            stop_pending_ = true;
            refresh_fast_limit();
            stop_.kind = StopKind::kBudget;
            if (!at_stop_pad_)
                stop_at_block(addr);
        }
        uc_emu_stop(uc);
        return;
    }
    if (!stop_pending_ && !at_stop_pad_) {
        CheckedBlock& slot = checked_slot(addr);
        if (slot != block_key(addr, size)) {
            std::vector<uint64_t> sites;
            if (find_io_sites(uc, addr, size, &sites)) {
                pending_sites_ = std::move(sites);
                pending_start_ = addr;
                pending_size_ = size;
                instrument_pending_ = true;
                stop_at_block(addr);
                uc_emu_stop(uc);  // not counted: it runs (and counts) once instrumented
                return;
            }
            slot = block_key(addr, size);
        }
    }
    block_ = block_key(addr, size);
    ++blocks_;
}

void Engine::stop_at_block(uint64_t start) {
    // Measured on Unicorn 2.0.1: once a block has run a code hook (on_io_site),
    // rip in a later block hook is stale when the blocks are chained (it holds the
    // hooked instruction's address), and stopping there leaves it so. The thread
    // resumes at the block, which is known here.
    continue_at_ = start;
    rip_fixup_ = true;
}

void Engine::forget_checked() { checked_.fill(CheckedBlock{0}); }

// The addresses of the in/out instructions of the block [start, start + size),
// in order. False if it has none.
bool Engine::find_io_sites(uc_struct* uc, uint64_t start, uint32_t size, std::vector<uint64_t>* sites) {
    std::vector<uint8_t> code(size);
    if (size == 0 || uc_mem_read(uc, start, code.data(), size) != UC_ERR_OK)
        return false;
    bool candidate = false;
    for (uint8_t b : code)
        candidate |= maybe_io_opcode(b);
    if (!candidate)
        return false;
    if (!open_disassembler())
        return false;  // the in/out hooks still refuse ungranted ports
    cs_insn* insn = cs_malloc(disassembler_);
    if (!insn)
        return false;
    const uint8_t* p = code.data();
    size_t left = code.size();
    uint64_t address = start;
    IoInsn io;
    while (cs_disasm_iter(disassembler_, &p, &left, &address, insn)) {
        if (decode_io(insn->bytes, insn->size, &io))
            sites->push_back(insn->address);
    }
    cs_free(insn, 1);
    return !sites->empty();
}

void Engine::instrument_pending_block() {
    for (uint64_t site : pending_sites_) {
        if (io_sites_.count(site))
            continue;
        uc_hook hook;
        if (uc_hook_add(uc_, &hook, UC_HOOK_CODE, reinterpret_cast<void*>(&Engine::on_io_site), this, site,
                        site) == UC_ERR_OK)
            io_sites_.insert(site);
    }
    // Unicorn 2.0.1 applies a new code hook only to blocks translated after it.
    uc_ctl_remove_cache(uc_, pending_start_, pending_start_ + pending_size_);
    checked_slot(pending_start_) = block_key(pending_start_, pending_size_);
    pending_sites_.clear();
}

void Engine::on_io_site(uc_struct* uc, uint64_t addr, uint32_t size, void* self) {
    auto* e = static_cast<Engine*>(self);
    if (e->stop_pending_ || e->at_stop_pad_)
        return;
    uint8_t bytes[16];
    IoInsn io;
    if (size > sizeof bytes || uc_mem_read(uc, addr, bytes, size) != UC_ERR_OK || !decode_io(bytes, size, &io))
        return;  // other code at this address now
    uint32_t port = io.imm;
    if (!io.imm_port) {
        uint64_t rdx = 0;
        uc_reg_read(uc, UC_X86_REG_RDX, &rdx);
        port = rdx & 0xffff;
    }
    if (e->ioports_allowed(port, io.width))
        return;  // on_in/on_out perform it
    // Nothing of the instruction has run: rip is at it, as for a hardware #GP.
    e->stop_pending_ = true;
    e->refresh_fast_limit();
    e->stop_.kind = StopKind::kFault;
    e->stop_.fault =
        kernel::FaultInfo{kernel::FaultKind::kGeneralProtection, kernel::FaultAccess::kNone, 0, kGeneralProtection, 0};
    uc_emu_stop(uc);
}

// Called by on_in/on_out for every access: true if it must not reach the bus.
bool Engine::io_access_denied(uc_struct* uc, uint32_t port, uint32_t width) {
    // The index of this access among the block's in/out instructions.
    if (io_block_ != blocks_) {
        io_block_ = blocks_;
        io_index_ = 0;
    }
    const uint32_t index = io_index_++;
    const uint64_t block_start = block_ >> 16;
    const uint32_t block_size = static_cast<uint32_t>(block_ & 0xffff);
    if (stop_pending_ || at_stop_pad_)
        return true;  // leaving: the rest of the block must not touch devices
    if (ioports_allowed(port, width))
        return false;
    // Code on_block did not see (see above): find the in/out this is, refuse it
    // and check the block again next time.
    std::vector<uint64_t> sites;
    continue_at_ = block_start;
    if (find_io_sites(uc, block_start, block_size, &sites))
        continue_at_ = sites[index < sites.size() ? index : sites.size() - 1];
    rip_fixup_ = true;
    forget_checked();
    stop_pending_ = true;
    refresh_fast_limit();
    stop_.kind = StopKind::kFault;
    stop_.fault =
        kernel::FaultInfo{kernel::FaultKind::kGeneralProtection, kernel::FaultAccess::kNone, 0, kGeneralProtection, 0};
    uc_emu_stop(uc);
    return true;
}

uint32_t Engine::on_in(uc_struct* uc, uint32_t port, int size, void* self) {
    auto* e = static_cast<Engine*>(self);
    const uint32_t width = static_cast<uint32_t>(size);
    if (e->io_access_denied(uc, port, width))
        return 0xffffffffu;
    uint32_t value = 0;
    for (uint32_t i = 0; i < width; ++i) {
        const uint8_t byte = e->io_ ? e->io_->port_read(static_cast<uint16_t>(port + i)) : 0xff;
        value |= uint32_t(byte) << (8 * i);
    }
    return value;
}

void Engine::on_out(uc_struct* uc, uint32_t port, int size, uint32_t value, void* self) {
    auto* e = static_cast<Engine*>(self);
    const uint32_t width = static_cast<uint32_t>(size);
    if (e->io_access_denied(uc, port, width) || !e->io_)
        return;
    for (uint32_t i = 0; i < width; ++i)
        e->io_->port_write(static_cast<uint16_t>(port + i), static_cast<uint8_t>(value >> (8 * i)));
}

}  // namespace sim
