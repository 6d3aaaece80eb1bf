// One Unicorn engine: the CPU view of one user address space. User code runs at
// CPL 3, entered through an iretq trampoline in the platform page that every
// address space reserves (ANVIL_USER_LIMIT); kernel entries (syscall, faults,
// timer) stop emulation and are reported to the caller. User-mode in/out reach
// the machine's devices through an IoBus, on the ports granted to the address
// space; any other port is a #GP.
#pragma once

#include <hal/hal.h>
#include <hal/kernel_entry.h>

#include <array>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

struct uc_struct;
struct uc_context;

namespace sim {

// The IO port space user-mode in/out reach (the machine's devices). Byte wide,
// like the ISA bus: the engine splits a 16- or 32-bit access into consecutive
// ports, lowest first.
class IoBus {
public:
    virtual uint8_t port_read(uint16_t port) = 0;
    virtual void port_write(uint16_t port, uint8_t value) = 0;

protected:
    ~IoBus() = default;
};

// Why a slice of user execution ended.
// kBudget: the slice's block budget ran out; no kernel entry happened.
// kDebug: a DebugControl stopped it before an instruction (the debugger's).
enum class StopKind { kSyscall, kFault, kBudget, kError, kDebug };

// Debugger breakpoints: instruction addresses, each with the code bytes that
// must be there for it to count (empty: any code), so that a breakpoint set in
// one program does not fire in another that has other code at that address.
using Breakpoints = std::map<uint64_t, std::vector<uint8_t>>;

// What the debugger asks of one slice (Engine::run): count the user
// instructions it starts and stop before instruction `limit` (0-based) or at a
// breakpoint. Costs a hook on every instruction, so it is only ever used by
// the debugger, in a process that is thrown away afterwards.
struct DebugControl {
    uint64_t limit = ~0ull;
    const Breakpoints* breakpoints = nullptr;
    uint64_t break_from = 0;   // breakpoints count from this instruction index on
    bool collect = false;      // note breakpoint hits in `hits` instead of stopping
    // Results.
    uint64_t executed = 0;     // user instructions started (the stop is before the next)
    bool at_breakpoint = false;
    std::vector<uint64_t> hits;  // collect: indices of the instructions at breakpoints
};

// A data watchpoint (the debugger's watch, rwatch and awatch): user accesses
// to `len` bytes of the machine's memory, whichever address space makes them
// (a shared page is watched in every process that maps it).
struct DataWatch {
    const uint8_t* host = nullptr;  // the watched bytes
    uint32_t len = 0;               // 1..8
    bool reads = false;
    bool writes = true;
};

// An access to watched bytes, noted while the run goes on undisturbed.
struct DataHit {
    size_t watch = 0;          // index in the watch list
    bool write = false;
    uint64_t va = 0;           // the access's address and size
    uint32_t size = 0;
    // With DebugControl: instructions started when the access was made, so
    // the accessing instruction is number `instruction - 1` of the slice.
    uint64_t instruction = 0;
    // The watched bytes before and after the access (little-endian; equal
    // for a read, and for a write that stores what was there).
    uint64_t old_value = 0;
    uint64_t new_value = 0;
};

struct Stop {
    StopKind kind = StopKind::kError;
    kernel::FaultInfo fault{};  // kFault
    std::string error;          // kError: what the emulator said
};

class Engine {
public:
    // `clock` is the machine's virtual time in basic blocks, shared by all engines;
    // it advances as this engine runs and is what user-mode rdtsc reads. `io`
    // serves granted in/out (null: granted ports read all ones, writes vanish).
    explicit Engine(uint64_t* clock, IoBus* io = nullptr);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // True if the engine could be created; error() says why not.
    bool ok() const { return uc_ != nullptr; }
    const std::string& error() const { return error_; }

    // Maps `count` 4 KiB pages from `va` onto host memory base + offsets[i] with
    // hal::kMap* perms: each run of pages contiguous in host memory becomes one
    // Unicorn region. False (nothing changed) if a page is mapped already, or if
    // the address space would hold more than kMaxRegions regions.
    bool map_pages(uint64_t va, uint8_t* base, const uint64_t* offsets, size_t count, uint32_t perms);
    // One page at `va` onto `host`.
    bool map_page(uint64_t va, void* host, uint32_t perms) {
        const uint64_t offset = 0;
        return map_pages(va, static_cast<uint8_t*>(host), &offset, 1, perms);
    }
    // Unmaps `count` pages from `va`; pages not mapped are skipped.
    void unmap_pages(uint64_t va, size_t count);
    // Unicorn regions an address space may hold (see map_pages).
    static constexpr size_t kMaxRegions = 3840;
    size_t regions() const { return regions_.size(); }

    // Lets user code use ports [base, base + count) (hal::as_allow_ioports).
    // False if the range passes 0xffff or memory runs out (nothing changed).
    bool allow_ioports(uint32_t base, uint32_t count);
    // True if every port of a `width`-byte access at `port` is granted.
    bool ioports_allowed(uint32_t port, uint32_t width) const;
    // True if any port is granted: user code here may act on a device.
    bool has_ioports() const { return ioports_ != nullptr; }

    // Loads `regs`, runs user code until a kernel entry or until `block_budget`
    // basic blocks have run (0 = no limit), then saves the registers into `regs`:
    // after a syscall or a budget stop only the entry registers (hal.h,
    // user_regs_sync), the others when sync_regs() asks for them; every one of
    // them after a fault or an error.
    Stop run(hal::UserRegs& regs, uint64_t block_budget);

    // With `debug`: counts instructions and may stop early (kDebug); see DebugControl.
    Stop run(hal::UserRegs& regs, uint64_t block_budget, DebugControl* debug);
    // Completes the register file the last run() left partly saved, if any.
    void sync_regs();
    // The same, only if that register file is `regs`.
    void sync_regs(const hal::UserRegs* regs) {
        if (partial_ == regs)
            sync_regs();
    }

    // The x87/SSE state of the thread the next run()s run (hal::ExtState):
    // loaded into the engine if it holds another thread's, which is saved
    // into that thread's block first. Threads of one address space share an
    // engine; each keeps its own state so.
    void use_ext(hal::ExtState* ext);
    // The vCPU the next run() is on: its index is the initial APIC ID a user
    // CPUID reads (anvil/cpuid.h), as QEMU numbers one CPU per package.
    void use_cpu(uint32_t cpu) { cpu_ = cpu; }
    // Saves the engine's x87/SSE registers into `ext` if they are its thread's.
    void sync_ext(hal::ExtState& ext);
    // `ext` changed or is going: the engine no longer holds its state.
    void forget_ext(hal::ExtState& ext) {
        if (ext_owner_ == &ext)
            ext_owner_ = nullptr;
    }

    // Basic blocks this engine has executed.
    uint64_t blocks() const { return blocks_; }

    // The debugger's breakpoints while the run goes on undisturbed: executing
    // one only sets a flag, which take_watch_hit() reads and clears. A hook per
    // address, so code elsewhere costs nothing.
    void set_watch(const Breakpoints& addresses);
    bool take_watch_hit() {
        const bool hit = watch_hit_;
        watch_hit_ = false;
        return hit;
    }
    // Data watchpoints: while `watches` is non-null and not empty, every user
    // access to watched bytes appends a DataHit to *hits (an access hook that
    // only notes: what runs and how long it takes in blocks do not change).
    // Both lists are the caller's and outlive the engine's use of them.
    void set_data_watches(const std::vector<DataWatch>* watches, std::vector<DataHit>* hits);

    // Following a QEMU trace: run() stops (StopKind::kDebug) before the
    // instruction at `rip` the first time `match` accepts the thread's whole
    // register file there; a hook on that one address, so code elsewhere
    // costs nothing. clear_rip_stop() removes it.
    void set_rip_stop(uint64_t rip, std::function<bool(const hal::UserRegs&)> match);
    void clear_rip_stop();

    // Undoing a run: while `log` is non-null, every user store first appends
    // the bytes it overwrites, so that undo_writes() can put them back.
    struct OldByte {
        uint8_t* host;
        uint8_t value;
    };
    void set_write_log(std::vector<OldByte>* log);
    // Puts the bytes of `log` back, newest first.
    static void undo_writes(const std::vector<OldByte>& log);

    // Reads user memory as the thread sees it (false if not all mapped).
    bool read(uint64_t va, void* out, size_t len);
    // The host bytes behind user address `va` (null if unmapped).
    uint8_t* host_of(uint64_t va) const;

private:
    // A checked block (its in/out instructions, if any, are instrumented), as the
    // key start << 16 | size; 0 is an empty slot (no block starts at 0).
    using CheckedBlock = uint64_t;
    static uint64_t block_key(uint64_t start, uint32_t size) { return start << 16 | size; }
    // Forgets every checked block (code may have changed).
    void forget_checked();
    static constexpr unsigned kCheckedBits = 12;
    static constexpr size_t kCheckedSlots = size_t(1) << kCheckedBits;  // direct-mapped by start address

    static void on_syscall(uc_struct* uc, void* self);
    static int on_cpuid(uc_struct* uc, void* self);
    static void on_interrupt(uc_struct* uc, uint32_t intno, void* self);
    static void on_precise_rip(uc_struct* uc, int type, uint64_t addr, int size, int64_t value, void* self);
    static bool on_bad_memory(uc_struct* uc, int type, uint64_t addr, int size, int64_t value, void* self);
    static void on_block(uc_struct* uc, uint64_t addr, uint32_t size, void* self);
    // on_block_slow with on_block's own signature: on_block reaches it with a
    // plain jump, moving no argument.
    __attribute__((noinline)) static void on_block_miss(uc_struct* uc, uint64_t addr, uint32_t size, void* self);
    void on_block_slow(uc_struct* uc, uint64_t addr, uint32_t size);
    static void on_io_site(uc_struct* uc, uint64_t addr, uint32_t size, void* self);
    static uint32_t on_in(uc_struct* uc, uint32_t port, int size, void* self);
    static void on_out(uc_struct* uc, uint32_t port, int size, uint32_t value, void* self);
    static void on_debug_insn(uc_struct* uc, uint64_t addr, uint32_t size, void* self);
    static void on_watch(uc_struct* uc, uint64_t addr, uint32_t size, void* self);
    static void on_rip_stop(uc_struct* uc, uint64_t addr, uint32_t size, void* self);
    static void on_logged_write(uc_struct* uc, int type, uint64_t addr, int size, int64_t value, void* self);
    static void on_data_access(uc_struct* uc, int type, uint64_t addr, int size, int64_t value, void* self);
    bool breakpoint_matches(const Breakpoints& b, uint64_t addr);

    // Port I/O (see the comment above on_block in engine.cpp).
    void stop_at_block(uint64_t start);
    // Direct-mapped by the start's low bits: one instruction on the path every
    // block takes; the blocks of a loop are close together, so they rarely collide.
    CheckedBlock& checked_slot(uint64_t start) { return checked_[start & (kCheckedSlots - 1)]; }
    bool find_io_sites(uc_struct* uc, uint64_t start, uint32_t size, std::vector<uint64_t>* sites);
    void instrument_pending_block();
    bool io_access_denied(uc_struct* uc, uint32_t port, uint32_t width);

    // Emulates rdtsc/rdtscp at rip (they #GP at CPL 3 because CR4.TSD is set).
    bool emulate_timestamp(uc_struct* uc);
    // Opens the capstone handle on first use; false if capstone refuses.
    bool open_disassembler();
    // The start of the instruction of the running block that ends at `rip`; 0 if none.
    uint64_t insn_ending_at(uint64_t rip);
    void load(const hal::UserRegs& regs);
    // Reads the registers of `mask` (bit i: kRegIds[i]) into `regs`.
    void save(hal::UserRegs& regs, uint32_t mask);

    uc_struct* uc_ = nullptr;
    uc_context* pristine_ = nullptr;  // CPU state at creation: CPL 0, no exception in delivery
    std::string error_;
    std::unique_ptr<uint8_t[], void (*)(void*)> platform_page_;  // GDT + trampoline
    bool in_user_mode_ = false;
    bool stop_pending_ = false;
    bool resume_after_emulation_ = false;  // an instruction was emulated in a hook
    bool exception_taken_ = false;         // a user exception or fault stopped the engine
    bool at_stop_pad_ = false;             // an exception hook sent the CPU to the stop pad
    uint64_t continue_at_ = 0;             // where the thread resumes after the stop pad
    Stop stop_;
    hal::UserRegs held_{};     // the registers the engine holds now: those of held_mask_
    uint32_t held_mask_ = 0;   // bit i: held_ has kRegIds[i]'s value
    hal::UserRegs* partial_ = nullptr;  // a register file run() saved only partly
    hal::ExtState* ext_owner_ = nullptr;  // whose x87/SSE state the engine holds (use_ext)
    uint32_t cpu_ = 0;                    // the vCPU running it (use_cpu)
    static constexpr int kStRegs = 8, kXmmRegs = 16;
    struct ExtRegs;
    void save_ext(hal::ExtState& ext);
    void load_ext(const hal::ExtState& ext);
    uint32_t stale_mask_ = 0;  // its registers the engine has not read back yet
    uint64_t* clock_;
    uint64_t blocks_ = 0;
    // The user regions mapped in Unicorn, by first address: runs of pages
    // contiguous in both address space and host memory, with one protection.
    struct Region {
        uint64_t size;
        uint8_t* host;
        uint32_t prot;
    };
    std::map<uint64_t, Region> regions_;
    void drop_user_translations();  // every translated block of user code
    uint64_t budget_end_ = ~0ull;      // blocks_ value at which the slice ends
    uint64_t fast_limit_ = ~0ull;      // budget_end_, or 0 while stop_pending_ or at_stop_pad_
    void refresh_fast_limit() { fast_limit_ = (stop_pending_ || at_stop_pad_) ? 0 : budget_end_; }
    uint64_t run_start_blocks_ = 0;    // blocks_ when the current slice began

    IoBus* io_;
    std::unique_ptr<uint64_t[]> ioports_;  // granted ports, one bit each; null = none
    std::array<CheckedBlock, kCheckedSlots> checked_{};  // in the engine: no pointer to load per block
    std::set<uint64_t> io_sites_;          // in/out instructions with a code hook
    std::vector<uint64_t> pending_sites_;  // in/out of a block that must be instrumented first
    uint64_t pending_start_ = 0;
    uint32_t pending_size_ = 0;
    bool instrument_pending_ = false;
    bool rip_fixup_ = false;               // run() sets rip to continue_at_ (Unicorn's may be stale)
    uint64_t block_ = 0;                   // the block running now: start << 16 | size
    uint64_t io_block_ = ~0ull;            // blocks_ when io_index_ was last reset
    uint32_t io_index_ = 0;                // in/out accesses so far in that block
    size_t disassembler_ = 0;              // capstone handle, opened on first use
    DebugControl* debug_ = nullptr;        // run(): the debugger's control, if any
    Breakpoints watch_;                    // set_watch(): the addresses and their hooks
    std::map<uint64_t, size_t> watch_hooks_;
    bool watch_hit_ = false;
    const std::vector<DataWatch>* data_watches_ = nullptr;  // set_data_watches()
    std::vector<DataHit>* data_hits_ = nullptr;
    size_t data_hook_ = 0;  // its uc_hook (0: none)
    uint64_t rip_stop_ = 0;  // set_rip_stop(): the address, its predicate and hook (0: none)
    std::function<bool(const hal::UserRegs&)> rip_stop_match_;
    size_t rip_stop_hook_ = 0;
    std::vector<OldByte>* write_log_ = nullptr;  // set_write_log() and its hook
    size_t write_log_hook_ = 0;
};

}  // namespace sim
