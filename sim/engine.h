// One Unicorn engine: the CPU view of one user address space. User code runs at
// CPL 3, entered through an iretq trampoline in the platform page that every
// address space reserves (ANVIL_USER_LIMIT); kernel entries (syscall, faults,
// timer) stop emulation and are reported to the caller.
#pragma once

#include <hal/hal.h>
#include <hal/kernel_entry.h>

#include <cstdint>
#include <memory>
#include <string>

struct uc_struct;
struct uc_context;

namespace sim {

// Why a slice of user execution ended.
// kBudget: the slice's block budget ran out; no kernel entry happened.
enum class StopKind { kSyscall, kFault, kBudget, kError };

struct Stop {
    StopKind kind = StopKind::kError;
    kernel::FaultInfo fault{};  // kFault
    std::string error;          // kError: what the emulator said
};

class Engine {
public:
    // `clock` is the machine's virtual time in basic blocks, shared by all engines;
    // it advances as this engine runs and is what user-mode rdtsc reads.
    explicit Engine(uint64_t* clock);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // True if the engine could be created; error() says why not.
    bool ok() const { return uc_ != nullptr; }
    const std::string& error() const { return error_; }

    // Maps one 4 KiB page at `va` onto host memory `host` with hal::kMap* perms.
    bool map_page(uint64_t va, void* host, uint32_t perms);
    void unmap_page(uint64_t va);

    // Loads `regs`, runs user code until a kernel entry or until `block_budget`
    // basic blocks have run (0 = no limit), then saves the registers into `regs`.
    Stop run(hal::UserRegs& regs, uint64_t block_budget);

    // Basic blocks this engine has executed.
    uint64_t blocks() const { return blocks_; }

private:
    static void on_syscall(uc_struct* uc, void* self);
    static void on_interrupt(uc_struct* uc, uint32_t intno, void* self);
    static bool on_bad_memory(uc_struct* uc, int type, uint64_t addr, int size, int64_t value, void* self);
    static void on_block(uc_struct* uc, uint64_t addr, uint32_t size, void* self);

    // Emulates rdtsc/rdtscp at rip (they #GP at CPL 3 because CR4.TSD is set).
    bool emulate_timestamp(uc_struct* uc);
    void load(const hal::UserRegs& regs);
    void save(hal::UserRegs& regs);

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
    hal::UserRegs held_{};     // the registers the engine holds now, if held_valid_
    bool held_valid_ = false;
    uint64_t* clock_;
    uint64_t blocks_ = 0;
    uint64_t budget_end_ = 0;
};

}  // namespace sim
