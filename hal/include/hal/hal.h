// The hardware abstraction layer: the only interface kernel/ may call below itself.
//
// Two backends implement it, chosen at link time: hal/x86_64 (real hardware / QEMU)
// and hal/sim (the Unicorn-based simulator). Every declaration is the same for
// both, and the kernel must not depend on which one runs; where the backends
// differ in a way a caller can see (whether machine_halt returns, which
// registers an entry saves), the item's comment says what each does. Calls are
// made with the big kernel lock held unless noted.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace hal {

using paddr_t = uint64_t;  // a physical address
using vaddr_t = uint64_t;  // a virtual address

constexpr uint64_t kPageSize = 4096;
constexpr size_t kMaxMemRanges = 64;
constexpr size_t kMaxCmdline = 256;

// ---- Boot information -------------------------------------------------------

// A range of physical memory.
struct MemRange {
    paddr_t base;
    uint64_t size;
};

// What the backend hands the kernel at boot. `usable` lists free RAM only: the
// backend has already carved out its own image, boot data and the initramfs.
struct BootInfo {
    MemRange usable[kMaxMemRanges];
    size_t usable_count;
    const uint8_t* initramfs;   // kernel-readable bytes of the initramfs (CPIO newc)
    size_t initramfs_size;
    uint32_t cpu_count;         // CPUs the backend can run (>= 1)
    char cmdline[kMaxCmdline];  // NUL-terminated kernel command line ("" if none)
    // Recording (docs/trace-format.md): whether to write a trace through
    // trace_write, and what the trace header says about the machine. The kernel
    // also records when the command line has the word "trace".
    struct {
        bool enabled;
        uint32_t backend;       // trace::Backend
        uint64_t seed, quantum, slice_max;  // simulator only; 0 on hardware
        uint64_t memory_bytes;              // the machine's RAM
        uint64_t unicorn_version;           // simulator: uc_version() (the header's); 0 on hardware
        uint32_t schedule, pct_depth;       // simulator: trace::Schedule and its parameters; 0 on hardware
        uint64_t pct_steps;
    } trace;
};

// ---- Physical memory --------------------------------------------------------

// A kernel pointer to physical address `pa` (which must be RAM from BootInfo).
// The mapping is linear: phys_to_virt(pa) == (char*)phys_to_virt(0) + pa, so the
// kernel can invert it for pointers into RAM.
void* phys_to_virt(paddr_t pa);

// ---- Console and machine control ---------------------------------------------

// Writes bytes to the kernel console (COM1 on x86_64, stdout in the simulator).
void console_write(const char* s, size_t len);

// Asks the machine to stop with `code` as its exit status. The x86_64 backend
// never returns; the simulator returns, and stops once the current kernel entry
// is finished. The kernel must therefore finish its entry normally after this.
void machine_halt(int code);

// Appends bytes to the trace (a file in the simulator, COM2 on x86_64). Called
// only while recording; the bytes are the kernel's encoded records.
void trace_write(const void* data, size_t len);

// Stops everything after a fatal kernel error (message already printed).
[[noreturn]] void panic_halt();

// ---- User context -------------------------------------------------------------

// A user thread's register file, saved on every kernel entry and loaded on resume.
struct UserRegs {
    uint64_t rip, rsp, rflags;
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t fs_base;
};

// The rflags a user thread starts with and is always sanitised to (IF set, IOPL 0).
constexpr uint64_t kUserRflags = 0x202;
// rflags bits a user thread may change: CF PF AF ZF SF DF OF (not TF, IF, IOPL, AC).
constexpr uint64_t kUserRflagsMask = 0xcd5;

// True if `va` is canonical with 48-bit virtual addresses (bits 63..47 equal):
// the only addresses a return to user mode can load and a CPU can access.
constexpr bool is_canonical(uint64_t va) {
    return va < 0x0000800000000000ull || va >= 0xffff800000000000ull;
}

// Makes every field of a thread's register file current. After a syscall or the
// end of a slice the simulator fills in only the entry registers (rip, rsp, rflags,
// rax, rdi, rsi, rdx, r8, r9, r10, r12; rcx and r11 after a syscall) and keeps
// the rest in the emulator until this is called; whatever reads or writes any
// other field (or hands the file to another address space) calls it first.
// x86_64 saves every register on entry: a no-op.
void user_regs_sync(UserRegs& regs);

// A user thread's extended state: its x87, SSE and AVX registers, in the XSAVE
// standard (non-compacted) format of the Intel SDM, vol. 1, 13.4 on both
// backends: the legacy region at 0 (FXSAVE's layout: FCW at 0, FSW at 2,
// abridged FTW at 4, MXCSR at 24, st0..7 at 32, xmm0..15 at 160), the XSAVE
// header at 512 (XSTATE_BV, the components held, at 512), and the upper halves
// of ymm0..15 at 576. The kernel only keeps it, one per thread; the kernel
// itself never uses these registers (it is built general-registers-only).
constexpr size_t kExtStateSize = 1024;  // 832 used: legacy 512, header 64, AVX 256
struct alignas(64) ExtState {
    uint8_t bytes[kExtStateSize];
};
// Offsets in ExtState::bytes.
constexpr size_t kExtFcw = 0, kExtMxcsr = 24, kExtSt0 = 32, kExtXmm0 = 160, kExtXstateBv = 512, kExtYmmHi0 = 576;
// The architectural default a new thread starts from: FCW 0x37f (every x87
// exception masked, double extended precision, round to nearest), MXCSR
// 0x1f80 (every SSE exception masked, round to nearest), every register 0.
inline void ext_state_init(ExtState& ext) {
    for (uint8_t& b : ext.bytes)
        b = 0;
    ext.bytes[kExtFcw] = 0x7f, ext.bytes[kExtFcw + 1] = 0x03;
    ext.bytes[kExtMxcsr] = 0x80, ext.bytes[kExtMxcsr + 1] = 0x1f;
}
// Makes `ext` current in memory. A backend may keep a thread's extended state
// in the CPU or the emulator until asked, as for user_regs_sync.
void ext_state_sync(ExtState& ext);
// The kernel wrote `ext` (its thread resumes from what it holds now), or is
// about to free it: the backend drops any copy it keeps of it.
void ext_state_forget(ExtState& ext);
// True if this backend can load `ext`: MXCSR has no bit the CPU refuses,
// XSTATE_BV names only components it keeps, the rest of the XSAVE header is 0
// (a CPU raises #GP on loading anything else).
bool ext_state_valid(const ExtState& ext);
// The checks every backend makes, with the components it keeps (XCR0's bits)
// and the MXCSR bits its CPU accepts.
inline bool ext_state_loadable(const ExtState& ext, uint64_t components, uint32_t mxcsr_mask) {
    uint64_t xstate_bv = 0;
    uint32_t mxcsr = 0;
    for (int i = 7; i >= 0; --i)
        xstate_bv = xstate_bv << 8 | ext.bytes[kExtXstateBv + i];
    for (int i = 3; i >= 0; --i)
        mxcsr = mxcsr << 8 | ext.bytes[kExtMxcsr + i];
    for (size_t i = kExtXstateBv + 8; i < kExtYmmHi0; ++i)
        if (ext.bytes[i] != 0)
            return false;  // XCOMP_BV and the reserved bytes of the header
    return (xstate_bv & ~components) == 0 && (mxcsr & ~mxcsr_mask) == 0;
}
// For a backend that loads a block's registers whole (FXRSTOR, the simulator),
// as XRSTOR would load them: every one of `components` (x87 1, SSE 2, AVX 4)
// that XSTATE_BV leaves out is written in its initial state, and XSTATE_BV
// then names them all. MXCSR stays: XRSTOR takes it from the block either way.
inline void ext_state_expand(ExtState& ext, uint64_t components) {
    const uint8_t held = ext.bytes[kExtXstateBv];
    auto zero = [&](size_t from, size_t to) {
        for (size_t i = from; i < to; ++i)
            ext.bytes[i] = 0;
    };
    if ((components & 1) && !(held & 1)) {  // FCW 0x37f, every other x87 field 0
        zero(kExtFcw, kExtMxcsr);
        zero(kExtSt0, kExtXmm0);
        ext.bytes[kExtFcw] = 0x7f, ext.bytes[kExtFcw + 1] = 0x03;
    }
    if ((components & 2) && !(held & 2))
        zero(kExtXmm0, kExtXmm0 + 16 * 16);
    if ((components & 4) && !(held & 4))
        zero(kExtYmmHi0, kExtYmmHi0 + 16 * 16);
    ext.bytes[kExtXstateBv] = static_cast<uint8_t>(held | components);
}

// ---- Address spaces ------------------------------------------------------------

// A backend handle to one user address space (x86_64: a PML4 frame; sim: an engine).
using AsHandle = uint64_t;
constexpr AsHandle kNoAs = 0;

// Mapping permissions (same bit values as ANVIL_PERM_R/W/X).
enum : uint32_t { kMapRead = 1u << 0, kMapWrite = 1u << 1, kMapExec = 1u << 2 };

// Creates an empty user address space; kNoAs if out of memory.
AsHandle as_create();
// Destroys an address space (all user mappings go; frames are not freed: the
// kernel owns them). It must not be active on any CPU.
void as_destroy(AsHandle as);
// Maps `count` 4 KiB user pages from `va` onto frames[0..count) with kMap*
// permissions. Returns false if out of memory for the backend's own structures
// (nothing changed). One call per mapping: a backend may keep physically
// contiguous frames together (the simulator maps each run as one region).
bool as_map(AsHandle as, vaddr_t va, const paddr_t* frames, size_t count, uint32_t perms);
// Removes the mappings of `count` user pages from `va` (pages not mapped are
// skipped) and flushes them from TLBs.
void as_unmap(AsHandle as, vaddr_t va, size_t count);

// ---- IO ports and device interrupts ----------------------------------------------

// Lets user code running in `as` execute in/out on ports [base, base + count)
// (x86_64: the I/O permission bitmap the CPU's TSS uses while `as` is active; sim:
// the engine's in/out hook checks the same set). Grants only ever widen and last
// until as_destroy. Any other port access from user mode is a #GP fault, reported
// through on_fault as kGeneralProtection. Returns false if `base + count` exceeds
// 0x10000 or the backend is out of memory (nothing changed).
bool as_allow_ioports(AsHandle as, uint16_t base, uint32_t count);

// Legacy (ISA) interrupt lines 0 .. kIrqLines-1 are what IRQ caps name.
constexpr uint32_t kIrqLines = 16;

// Starts delivering ISA interrupt `irq` to the kernel: each interrupt then causes one
// kernel::on_irq(cpu, irq) call on some CPU, with the interrupt already acknowledged
// at the interrupt controller (edge semantics: a device that keeps its line raised is
// not reported again until it lowers and raises it). Returns false if the backend
// cannot route `irq` (out of range, or used by the backend itself, e.g. the timer).
bool irq_enable(uint32_t irq);
// Stops delivering `irq` (no-op if not enabled).
void irq_disable(uint32_t irq);

// ---- CPUs -----------------------------------------------------------------------

// Index of the CPU running this kernel entry (0 .. cpu_count-1).
uint32_t cpu_id();

// Makes `cpu` ask next_to_run() again (an IPI on x86_64; the simulator re-polls
// every vCPU each step, so there it does nothing). If `cpu` is running a user
// thread, on return it has left user mode, the thread's registers are saved in
// its Resume::regs, and it runs no user code before calling next_to_run(cpu);
// an entry it was making is undone (a syscall is re-issued when the thread
// resumes, a faulting instruction runs again). Called with the big kernel lock
// held. An idle CPU may see several on_timer() calls in a row afterwards.
void cpu_wake(uint32_t cpu);

// ---- Services the kernel provides to the backend ----------------------------------

// Page-table (or other backend bookkeeping) frames come from the kernel's frame
// allocator: one zeroed 4 KiB frame, or 0 if none is left.
paddr_t kernel_alloc_frame();
// Returns a frame obtained from kernel_alloc_frame().
void kernel_free_frame(paddr_t pa);

}  // namespace hal
