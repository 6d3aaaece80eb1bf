// The simulated machine: physical memory as one host buffer, N vCPUs run on one
// host thread in an order drawn from a seeded PRNG, one Unicorn engine per user
// address space, the console, and a 16550 UART at COM1 behind an interrupt
// controller that routes ISA lines to vCPU 0. It drives the kernel through the
// same entry points as the hardware backend (hal/include/hal/kernel_entry.h).
#pragma once

#include "sim/engine.h"
#include "sim/faults.h"
#include "replay/trace_reader.h"
#include "sim/pct.h"
#include "sim/prng.h"
#include "sim/script_schedule.h"
#include "sim/uart.h"

#include <anvil/exit_codes.h>

#include <array>
#include <csignal>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kernel {
class Thread;
}

namespace sim {

struct Config {
    uint64_t memory_mib = 256;     // physical memory size
    uint32_t cpus = 1;             // vCPUs
    uint64_t seed = 1;             // decides the vCPU interleaving
    uint64_t quantum_blocks = 10000;  // preemption timer period per vCPU, in basic blocks
    uint64_t slice_max = 1000;     // a vCPU runs 1..slice_max blocks before the PRNG picks again
    uint64_t max_slices = 0;       // stop after this many slices (0 = no limit)
    // How the vCPU interleaving is picked (docs/scheduling.md); with kPct,
    // change points = pct_depth - 1, drawn among the first pct_steps kernel entries.
    trace::Schedule schedule = trace::Schedule::kRandom;
    uint32_t pct_depth = 3;
    uint64_t pct_steps = 2000;
    std::vector<Switch> script;  // with kScript
    std::string cmdline;           // kernel command line
    std::vector<uint8_t> initramfs;
    std::vector<uint8_t> serial_input;  // bytes arriving on COM1's receive line
    bool echo_console = true;      // copy console output to stdout
    uint64_t perturb_slice = 0;    // testing aid: slice N (1-based) runs one block longer (0 = never)
    bool check_invariants = false; // run the kernel's invariant checker after every kernel entry
    FaultSpec faults;              // what the run breaks on purpose (--faults; sim/faults.h), and --serial-gap
    // Replaying a trace cut short (replay::Trace::cut): the run stops once the
    // kernel has written this many trace bytes, its complete prefix (0: no
    // limit), at the end of that kernel entry; `trace_cut` describes the cut.
    uint64_t trace_limit = 0;
    std::string trace_cut;
    // Replaying a run a signal stopped: stop the same way before slice
    // stop_at_slice + 1 (stop_signal 0: never).
    int stop_signal = 0;
    uint64_t stop_at_slice = 0;
};

// Figures about a run. All but host_ns are deterministic.
struct Stats {
    uint64_t slices = 0;          // vCPU slices run
    uint64_t kernel_entries = 0;  // syscalls, faults, timer and device interrupts
    uint64_t syscalls = 0;
    uint64_t timer_interrupts = 0;
    uint64_t irqs = 0;            // device interrupts delivered (kernel::on_irq calls)
    uint64_t virtual_time = 0;    // basic blocks run by all vCPUs
    uint64_t schedule_digest = 0; // a running hash of every slice's (cpu, thread, blocks, stop) and IRQ
};

// How a run ended.
struct Outcome {
    enum class Kind {
        kHalted,
        kIdle,
        kSliceLimit,
        kEmulatorError,
        kDiverged,
        kInvariant,
        kTraceEnd,     // the replay reached the end of a trace cut short
        kInterrupted,  // a signal stopped the run (exit_code: 128 + the signal)
    } kind = Kind::kHalted;
    int exit_code = 0;    // kHalted: the code the kernel halted with; kInterrupted: 128 + signal
    std::string message;  // human-readable reason for anything but kHalted

    // The simulator's exit status for this outcome (<anvil/exit_codes.h>).
    int status() const {
        switch (kind) {
        case Kind::kHalted: return exit_code;
        case Kind::kIdle: return ANVIL_EXIT_IDLE;
        case Kind::kSliceLimit: return ANVIL_EXIT_SLICE_LIMIT;
        case Kind::kEmulatorError: return ANVIL_EXIT_EMULATOR_ERROR;
        case Kind::kDiverged: return ANVIL_EXIT_DIVERGED;
        case Kind::kInvariant: return ANVIL_EXIT_INVARIANT;
        case Kind::kTraceEnd: return ANVIL_EXIT_CUT_SHORT;
        case Kind::kInterrupted: return exit_code;
        }
        return ANVIL_EXIT_EMULATOR_ERROR;
    }
};

class Follower;  // sim/follow.cpp

class Machine : public IoBus {
public:
    explicit Machine(Config config);
    ~Machine();
    Machine(const Machine&) = delete;
    Machine& operator=(const Machine&) = delete;

    // Boots the kernel and runs until it halts or nothing can run.
    Outcome run();

    // run() in steps, for the debugger: start() boots; each step() runs one
    // slice of one vCPU and the kernel entries it leads to (or delivers pending
    // interrupts). step() returns false when the run is over, with *out saying how.
    bool start(Outcome* out);
    bool step(Outcome* out);
    // step() in finer parts, for the debugger's instruction stepping:
    // plan_slice() picks what runs next (or delivers pending interrupts, and
    // then plans nothing); run_slice() runs the planned slice's user code, up
    // to its kernel entry (with `debug`, it may stop inside the slice: such a
    // machine can only be looked at afterwards); finish_slice() makes the
    // kernel entries. Each returns false when the run is over (*out says how).
    struct Slice {
        bool planned = false;
        bool ran = false;       // run_slice() ran it to its end
        uint32_t cpu = 0;
        uint64_t thread = 0;
        uint64_t as = 0;
        uint64_t budget = 0;    // blocks
    };
    bool plan_slice(Outcome* out);
    bool run_slice(Outcome* out, DebugControl* debug);
    bool finish_slice(Outcome* out);
    // The slice plan_slice() planned (null if none), and how run_slice() ended it.
    const Slice* planned() const { return plan_.planned ? &plan_ : nullptr; }
    const Stop& slice_stop() const { return slice_stop_; }
    // The engine of an address space (null if none).
    Engine* engine_of(uint64_t as) { return engine(as); }
    // The debugger's breakpoints (Engine::set_watch): `everywhere` on every
    // engine, now and later, and `per_as` on those address spaces besides;
    // take_watch_hit() says whether any was executed since it was last asked.
    void set_watch(const Breakpoints& everywhere, const std::map<uint64_t, Breakpoints>& per_as = {});
    // How many address spaces have been made so far (a new one means a new process).
    uint64_t address_spaces_made() const { return next_as_ - 1; }
    bool take_watch_hit();
    // The debugger's data watchpoints on every engine, now and later
    // (Engine::set_data_watches); take_data_hits() hands over the accesses
    // made since it was last asked, in the order they were made.
    void set_data_watches(std::vector<DataWatch> watches);
    std::vector<DataHit> take_data_hits();
    // The physical address behind user address `va` of address space `as`, as
    // that space maps it now; false if unmapped. A data watch watches memory
    // there (phys_to_virt), in every process that maps it.
    bool user_phys(uint64_t as, uint64_t va, uint64_t* pa);

    // The vCPU the last step ran, and the machine's virtual time.
    uint32_t last_cpu() const { return last_cpu_; }
    uint64_t virtual_time() const { return clock_; }
    // Console echo to stdout (the debugger turns it off while re-executing).
    void set_echo(bool on) { config_.echo_console = on; }

    // Schedule-following replay of a QEMU trace (sim/follow.cpp): boots like
    // run(), then makes the kernel entries happen in the trace's order (each
    // syscall or fault by the thread the trace names, timer ticks and IRQs
    // where it has them, at the user instruction they interrupted), feeds
    // COM1 the input the trace has read, and checks each syscall's number and
    // arguments and every result. *entries_followed counts the entries.
    Outcome follow(const replay::Trace& t, uint64_t* entries_followed);
    // follow() in steps, for the debugger: start_follow() boots (instead of
    // start()); then each plan_slice() follows the trace to its next kernel
    // entry: an interrupt is delivered (nothing planned), a syscall or fault
    // is planned with its user code already run (Slice::ran), up to the
    // entry, for finish_slice() to make. `t` must outlive the machine.
    bool start_follow(const replay::Trace& t, Outcome* out);
    bool following() const { return follower_ != nullptr; }

    // Makes this machine the one the HAL acts on and describes it for the kernel
    // (loading the initramfs into the top of memory). run() does this itself;
    // host tests call it to drive kernel code without booting init.
    bool prepare(hal::BootInfo* info, std::string* error);

    // Everything the kernel wrote to the console.
    const std::string& console() const { return console_; }
    Stats stats() const {
        Stats s = stats_;
        s.virtual_time = clock_;
        return s;
    }

    // ---- The HAL's view (hal/sim calls these) ----
    void* phys_to_virt(uint64_t pa);
    void console_write(const char* s, size_t len);
    void request_halt(int code);
    uint32_t current_cpu() const { return current_cpu_; }
    uint64_t as_create();
    void as_destroy(uint64_t as);
    bool as_map(uint64_t as, uint64_t va, const uint64_t* frames, size_t count, uint32_t perms);
    void as_unmap(uint64_t as, uint64_t va, size_t count);
    bool as_allow_ioports(uint64_t as, uint32_t base, uint32_t count);
    void user_regs_sync(hal::UserRegs* regs);
    // hal::ext_state_sync (forget: hal::ext_state_forget).
    void ext_state(hal::ExtState* ext, bool forget);
    bool irq_enable(uint32_t irq);
    void trace_write(const void* data, size_t len);

    // Records the run (hal::trace_write) into `sink`; call before run().
    void set_trace_sink(class TraceSink* sink) { trace_sink_ = sink; }
    // A signal handler stores its signal's number in *signal: the run then
    // stops between two slices (Outcome::kInterrupted), where the trace is
    // whole, so the caller can finish it.
    void set_stop_signal(const volatile std::sig_atomic_t* signal) { stop_signal_ = signal; }
    void irq_disable(uint32_t irq);

    // ---- Devices ----
    // The port space user in/out reach (engines call these).
    uint8_t port_read(uint16_t port) override;
    void port_write(uint16_t port, uint8_t value) override;
    // ISA lines with an interrupt waiting for delivery, one bit each.
    uint32_t pending_irqs() const { return irq_pending_; }
    const Uart16550& com1() const { return com1_; }

    // The machine the HAL functions act on (one per process at a time).
    static Machine* active();

private:
    friend class Follower;
    struct FollowerDelete {
        void operator()(Follower* f) const;
    };
    std::unique_ptr<Follower, FollowerDelete> follower_;  // start_follow()
    bool follow_step(Outcome* out);  // plan_slice() and finish_slice() while following
    void follow_finish();
    Engine* engine(uint64_t as);
    void digest(uint64_t value);
    // Prepares the machine and boots the kernel; false (with *out) if it cannot.
    bool boot_kernel(Outcome* out);
    // With --check-invariants: false (and *out says which invariant broke, after
    // which entry) if the kernel's state is inconsistent now.
    bool invariants_hold(Outcome* out, const char* after);
    void irq_edge(uint32_t irq);
    void deliver_irqs(bool cpu0_idle);
    // Every vCPU idle and a thread waiting with a deadline: vCPU 0 takes the
    // timer interrupts that end it (time passes while nothing runs); false if none
    // waits, the nearest deadline is more than kMaxIdleTicks away, or
    // kMaxIdleAdvances came in a row with no input and no interrupt.
    bool advance_to_deadline();
    // Fault injection (sim/faults.h), set up by start(): the resolved spec
    // recorded, allocation failures planned, serial input with its faults.
    bool start_faults(Outcome* out);
    // Interrupt edges held back by irq-delay whose time has come (all of
    // them if `idle`: time passes while nothing runs) become pending.
    void release_delayed_irqs(bool idle);
    // Paced serial input (--serial-gap): the byte on its way arrives in COM1
    // if its time has come, or at once if `idle`.
    void release_serial_input(bool idle);
    // True if something due at `slice` is due now: its slice has passed, or
    // nothing can run (`idle`), so time would pass until it happens.
    bool due(uint64_t slice, bool idle) const { return idle || slice <= stats_.slices; }
    // True if the thread about to run on `cpu` is a service a kill item
    // names and this is the slice it dies at (an inject record is written).
    bool kill_now(uint32_t cpu);
    // The manifest index of the init service `t` is (its fault badge - 1,
    // with init's fault endpoint), or -1.
    int64_t service_of(const kernel::Thread* t) const;
    // The schedule's pick among ready_ (nonempty): a vCPU, and the longest it runs.
    uint32_t pick_cpu(uint64_t* slice);

    Config config_;
    uint8_t* memory_ = nullptr;
    uint64_t memory_size_ = 0;
    std::map<uint64_t, std::unique_ptr<Engine>> engines_;  // ordered: deterministic
    uint64_t next_as_ = 1;
    uint64_t clock_ = 0;  // virtual time: basic blocks run by all vCPUs
    // Each vCPU's own virtual time and the next timer interrupt.
    std::vector<uint64_t> cpu_time_;
    std::vector<uint64_t> cpu_deadline_;
    Stats stats_;
    Prng prng_;
    FaultSpec faults_;                  // config_.faults, every point resolved (start_faults)
    Prng fault_prng_;                   // decides irq-* and uart-* faults, nothing else
    std::vector<uint32_t> kill_service_;  // per kill item: the service's manifest index
    std::vector<uint64_t> kill_slices_;   // per kill item: the service's slices so far
    std::map<uint64_t, int64_t> service_of_thread_;  // thread id -> service_of (cache)
    struct DelayedIrq {
        uint32_t irq;
        uint64_t due_slice;
    };
    std::vector<DelayedIrq> delayed_irqs_;
    uint64_t input_due_slice_ = 0;  // paced input: when the byte on its way arrives
    uint64_t idle_advances_ = 0;    // advance_to_deadline()s since input or an interrupt last came
    std::vector<std::array<uint64_t, 3>> uart_faults_;  // (what, index, value) of each uart-* fault made
    std::unique_ptr<Pct> pct_;  // with Schedule::kPct
    std::unique_ptr<ScriptSchedule> script_;  // with Schedule::kScript
    uint32_t current_cpu_ = 0;
    uint32_t last_cpu_ = 0;
    std::vector<uint32_t> ready_;               // step(): vCPUs with a thread
    std::vector<kernel::Resume> resumes_;       // step(): what each vCPU runs
    bool halted_ = false;
    class TraceSink* trace_sink_ = nullptr;
    uint64_t trace_written_ = 0;  // bytes, counted with Config::trace_limit
    bool trace_ended_ = false;    // Config::trace_limit reached
    const volatile std::sig_atomic_t* stop_signal_ = nullptr;
    int halt_code_ = 0;
    std::string console_;
    Uart16550 com1_;
    uint32_t irq_enabled_ = 0;  // lines the kernel asked for (hal::irq_enable)
    uint32_t irq_pending_ = 0;  // edges seen on enabled lines, not delivered yet
    uint32_t lost_edges_ = 0;   // lines whose last edge irq-drop took (the idle message names COM1's)
    Slice plan_;                // plan_slice() .. finish_slice()
    Stop slice_stop_;
    Breakpoints watch_;
    std::map<uint64_t, Breakpoints> watch_per_as_;
    std::vector<DataWatch> data_watches_;
    std::vector<DataHit> data_hits_;
};

// The configuration of a run a simulator trace recorded: seed, CPUs, quantum,
// slice length, memory, command line, serial input, and the faults with the
// input's pacing (its faults record); and, if the run was
// stopped by max_slices or a signal (`summary`, from replay::validate), where,
// and if the trace was cut short, its length, so that a replay stops where the
// recording did. False (with `error`) if the trace was recorded with another
// Unicorn version than the one that runs (it could not replay), or if the
// records before the first slice do not read. For a QEMU trace (followed,
// not replayed): its CPUs and command line only.
bool config_from_trace(const replay::Trace& t, const replay::Summary& summary, Config* config, std::string* error);

// Bounds on the files a run reads, checked before they are read (anvil-sim
// --help, docs/exit-codes.md). An initramfs fills at most half the simulated
// memory (it is copied to the top of physical memory; the kernel, its heap and
// the programs unpacked from it need the rest), and leaves 16 MiB above the
// low reserved megabyte: 128 MiB with the default 256 MiB.
uint64_t max_initramfs_bytes(uint64_t memory_mib);
// Serial input arrives one byte at a time as the guest reads COM1 (the test
// suite's is 60 bytes); it is recorded into the trace too.
constexpr uint64_t kMaxSerialInputBytes = 16ull << 20;

// The files of a run, as the command line names them.
// The signal a run's exit code 128 + N says stopped it (SIGINT, SIGTERM,
// SIGHUP), or 0.
int stop_signal_of(int64_t code);
// "SIGINT", "SIGTERM", "SIGHUP" or "signal N".
std::string signal_name(int signal);

struct RunFiles {
    std::string initramfs;                      // "" with a trace: found by hash in initramfs_search
    std::vector<std::string> initramfs_search;  // directories of *.cpio files
    std::string serial_input;                   // "" for none; a trace holds its own input
};

// Reads the run's files into *config within the bounds above: the initramfs
// (with `trace`, the one it was recorded with, by hash) and, without a trace,
// the serial input. With a trace, *config holds its configuration already
// (its memory size bounds the initramfs); a trace read from a pack brings its
// initramfs, used unless files->initramfs names one. files->initramfs becomes
// the path read ("the pack's initramfs"). False with `error`: one sentence naming the file and what is wrong.
bool load_run_files(RunFiles* files, const replay::Trace* trace, Config* config, std::string* error);

}  // namespace sim
