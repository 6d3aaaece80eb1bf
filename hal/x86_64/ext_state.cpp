// User threads' x87/SSE/AVX state (hal::ExtState, the XSAVE standard format).
//
// Every entry from ring 3 saves the running thread's registers into its
// ExtState if this CPU's registers hold them (x86_trap, before the BKL), so the
// block is current whenever the thread is not in user mode, whichever CPU
// picks it next. Leaving for ring 3, a CPU loads the thread's block only if its
// registers hold another's (PerCpu::ext_live): a thread that makes a syscall and
// goes straight back, or the only thread on its CPU, loads nothing. With
// `fpu=lazy` on the command line that load waits for the thread's first x87,
// SSE or AVX instruction: CR0.TS makes it a #NM (ext_first_use), and a thread
// that never uses them is neither loaded nor saved. A load makes every other
// CPU forget it held that block (a thread that moved on changed its state
// since). The kernel is built general-registers-only, so nothing else touches
// these registers.
//
// XSAVE/XRSTOR (x87, SSE and, where CPUID reports it, AVX in XCR0) when the CPU
// has XSAVE, else FXSAVE/FXRSTOR, which fill and read the same legacy region.
#include "hal/x86_64/arch.h"
#include "hal/x86_64/cpu.h"
#include "hal/x86_64/serial.h"

#include <hal/hal.h>
#include <hal/kernel_entry.h>

namespace x86 {

namespace {

constexpr uint32_t kCpuid1EcxXsave = 1u << 26;
constexpr uint32_t kCpuid1EcxAvx = 1u << 28;
constexpr uint64_t kCr4Osxsave = 1u << 18;
constexpr uint64_t kXcr0X87 = 1u << 0, kXcr0Sse = 1u << 1, kXcr0Avx = 1u << 2;
constexpr uint64_t kCr0Ts = 1u << 3;

bool g_lazy = false;  // fpu=lazy: load on first use (#NM), not on resume
bool g_xsave = false;
uint64_t g_xcr0 = 0;
uint32_t g_mxcsr_mask = 0;  // the MXCSR bits this CPU accepts (fxsave's MXCSR_MASK)

void xsetbv(uint32_t reg, uint64_t value) {
    asm volatile("xsetbv" ::"c"(reg), "a"(static_cast<uint32_t>(value)), "d"(static_cast<uint32_t>(value >> 32)));
}

}  // namespace

void ext_enable() {
    // MXCSR_MASK (0 means the default 0xffbf: SDM vol. 1, 11.6.6).
    alignas(16) static uint8_t probe[512];
    asm volatile("fxsave64 %0" : "=m"(probe));
    g_mxcsr_mask = probe[28] | probe[29] << 8 | probe[30] << 16 | uint32_t(probe[31]) << 24;
    if (g_mxcsr_mask == 0)
        g_mxcsr_mask = 0xffbf;
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & kCpuid1EcxXsave))
        return;  // FXSAVE (CR4.OSFXSR, set by enable_features)
    write_cr4(read_cr4() | kCr4Osxsave);
    uint64_t xcr0 = kXcr0X87 | kXcr0Sse;
    if (c & kCpuid1EcxAvx)
        xcr0 |= kXcr0Avx;
    xsetbv(0, xcr0);
    // The XSAVE area these components need must fit ExtState.
    cpuid(0xd, 0, &a, &b, &c, &d);
    if (b > sizeof(hal::ExtState))
        kernel::panic("x86_64: the XSAVE area of x87, SSE and AVX (%u bytes) is larger than hal::ExtState", b);
    g_xsave = true;
    g_xcr0 = xcr0;
}

void ext_set_lazy(bool lazy) { g_lazy = lazy; }

void ext_report() {
    if (!g_xsave) {
        print("x86_64: x87/SSE state by FXSAVE (no XSAVE)\n");
        return;
    }
    print(g_xcr0 & kXcr0Avx ? "x86_64: x87/SSE/AVX state by XSAVE, XCR0 " : "x86_64: x87/SSE state by XSAVE, XCR0 ");
    print_hex(g_xcr0, 1);
    print("\n");
}

namespace {

// Without XSAVE the block still means what XSAVE's would (XSTATE_BV names
// the components it holds; a left-out one is in its initial state), as in
// the simulator: fxsave64 writes x87 and SSE, fxrstor64 loads them whole.
constexpr uint64_t kFxsaveComponents = kXcr0X87 | kXcr0Sse;

void ext_save(hal::ExtState* ext) {
    if (g_xsave) {
        asm volatile("xsave64 %0" : "+m"(*ext) : "a"(static_cast<uint32_t>(g_xcr0)), "d"(static_cast<uint32_t>(g_xcr0 >> 32)));
        return;
    }
    asm volatile("fxsave64 %0" : "+m"(*ext));
    ext->bytes[hal::kExtXstateBv] = kFxsaveComponents;
}

void ext_load(hal::ExtState* ext) {
    if (g_xsave) {
        asm volatile("xrstor64 %0" ::"m"(*ext), "a"(static_cast<uint32_t>(g_xcr0)), "d"(static_cast<uint32_t>(g_xcr0 >> 32)));
        return;
    }
    hal::ext_state_expand(*ext, kFxsaveComponents);
    asm volatile("fxrstor64 %0" ::"m"(*ext));
}

// No CPU's registers count as holding `ext`: the next CPU to run its thread
// loads it. A CPU writes its own ext_live without the BKL (at entry, and on a
// #NM), but only with the thread it runs, which is never one another CPU is
// taking or whose block the kernel changes (it is running there). The exchange
// leaves a CPU that has meanwhile taken another block alone.
void ext_drop(hal::ExtState* ext) {
    for (PerCpu& pc : g_percpu) {
        hal::ExtState* expected = ext;
        __atomic_compare_exchange_n(&pc.ext_live, &expected, nullptr, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    }
}

// Loads `ext` on this CPU; another CPU that ran its thread before holds its
// state of then, and forgets it.
void ext_take(PerCpu* pc, hal::ExtState* ext) {
    ext_drop(ext);
    ext_load(ext);
    pc->ext_live = ext;
}

// CR0.TS: set, the thread's first x87/SSE/AVX instruction raises #NM.
void set_ts(PerCpu* pc, bool ts) {
    if (pc->ext_ts == ts)
        return;
    write_cr0(ts ? read_cr0() | kCr0Ts : read_cr0() & ~kCr0Ts);
    pc->ext_ts = ts;
}

}  // namespace

void ext_entered(PerCpu* pc) {
    // Lazily, a thread whose block is not live has not touched the registers
    // since it was resumed (TS is set: saving would itself raise #NM).
    if (g_lazy && pc->ext_live != pc->user_ext)
        return;
    ext_save(pc->user_ext);
    pc->ext_live = pc->user_ext;
}

void ext_resume(PerCpu* pc, hal::ExtState* ext) {
    pc->user_ext = ext;
    const bool live = pc->ext_live == ext;
    if (g_lazy)
        set_ts(pc, !live);
    else if (!live)
        ext_take(pc, ext);
}

bool ext_first_use(PerCpu* pc) {
    if (!pc->ext_ts)
        return false;  // not ours: a #NM without TS is the thread's own fault
    set_ts(pc, false);
    ext_take(pc, pc->user_ext);
    return true;
}

}  // namespace x86

void hal::ext_state_sync(ExtState&) {}  // saved at every entry from user mode

void hal::ext_state_forget(ExtState& ext) { x86::ext_drop(&ext); }

bool hal::ext_state_valid(const ExtState& ext) {
    // Without XSAVE, fxrstor reads the legacy region only: x87 and SSE.
    return ext_state_loadable(ext, x86::g_xsave ? x86::g_xcr0 : x86::kFxsaveComponents, x86::g_mxcsr_mask);
}
