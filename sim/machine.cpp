#include "sim/machine.h"

#include "kernel/introspect.h"
#include "hal/sim/test_hooks.h"
#include "sim/trace_sink.h"
#include "sim/unicorn_compat.h"

#include <fmt/core.h>
#include <anvil/syscalls.h>
#include <hal/kernel_entry.h>
#include <sys/mman.h>

#include <bit>
#include <cstdio>
#include <cstring>
#include <utility>

namespace sim {

namespace {
Machine* g_active = nullptr;
constexpr uint64_t kPage = hal::kPageSize;
// Physical memory below this is never handed to the kernel (as on a PC).
constexpr uint64_t kLowReserved = 1ull << 20;
// ISA lines the backend keeps, as on a PC (and as hal/x86_64 does): 0 is the
// system timer, 2 the cascade of the second 8259.
constexpr uint32_t kReservedIrqs = (1u << 0) | (1u << 2);
// Marks a delivered IRQ in the schedule digest (slices start with a cpu number).
constexpr uint64_t kDigestIrq = 0x4952510000000000ull;
// Marks a timer tick an idle machine took in the schedule digest.
constexpr uint64_t kDigestIdleTick = 0x5449434b00000000ull;
// An idle machine takes at most this many ticks to reach a deadline (each is a
// kernel entry and a trace record); a farther one ends the run as idle.
constexpr uint64_t kMaxIdleTicks = 100000;
// Advances to deadlines in a row with no input arriving and no interrupt in
// between, after which the run ends as idle: a driver that polls on a timeout
// waits for input that will never come, and the run would otherwise not end.
constexpr uint64_t kMaxIdleAdvances = 100;
}  // namespace

Machine* Machine::active() { return g_active; }

Machine::Machine(Config config)
    : config_(std::move(config)),
      prng_(config_.seed),
      fault_prng_(fault_prng(config_.seed)),
      com1_([this](uint8_t byte) { console_write(reinterpret_cast<const char*>(&byte), 1); },
            [this] { irq_edge(Uart16550::kCom1Irq); }) {
    memory_size_ = config_.memory_mib << 20;
    void* mem = mmap(nullptr, memory_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    memory_ = mem == MAP_FAILED ? nullptr : static_cast<uint8_t*>(mem);
    // COM1 as the x86_64 kernel console leaves it (hal/x86_64/serial.cpp: 115200
    // 8N1, DTR|RTS, no interrupts), so a driver finds it the same on both backends
    // (here the kernel console itself does not go through the UART).
    com1_.write(Uart16550::kLcr, Uart16550::kLcrDlab);
    com1_.write(Uart16550::kData, 1);
    com1_.write(Uart16550::kIer, 0);
    com1_.write(Uart16550::kLcr, 0x03);
    com1_.write(Uart16550::kMcr, Uart16550::kMcrDtr | Uart16550::kMcrRts);
    // The input as it arrives, uart-* faults applied; start_faults() records them.
    if (config_.faults.serial_gap)
        com1_.pace_input();
    com1_.add_input(apply_uart_faults(config_.faults, config_.serial_input, &fault_prng_,
                                      [this](uint64_t what, uint64_t index, uint64_t value) {
                                          uart_faults_.push_back({what, index, value});
                                      }));
}

Machine::~Machine() {
    engines_.clear();
    if (memory_)
        munmap(memory_, memory_size_);
    if (g_active == this)
        g_active = nullptr;
}

void* Machine::phys_to_virt(uint64_t pa) { return memory_ + pa; }

void Machine::console_write(const char* s, size_t len) {
    console_.append(s, len);
    if (config_.echo_console) {
        std::fwrite(s, 1, len, stdout);
        std::fflush(stdout);
    }
}

void Machine::trace_write(const void* data, size_t len) {
    if (!trace_sink_ || trace_ended_)
        return;
    if (config_.trace_limit) {
        // A cut trace's replay: what the trace holds, then nothing.
        len = std::min<uint64_t>(len, config_.trace_limit - trace_written_);
        trace_written_ += len;
        if (trace_written_ == config_.trace_limit) {
            trace_ended_ = true;
            halted_ = true;  // at the end of this kernel entry (a halt the kernel asks for comes later)
        }
    }
    trace_sink_->write(data, len);
}

void Machine::request_halt(int code) {
    halted_ = true;
    halt_code_ = code;
}

uint64_t Machine::as_create() {
    auto e = std::make_unique<Engine>(&clock_, this);
    if (!e->ok()) {
        fmt::print(stderr, "anvil-sim: {}\n", e->error());
        return hal::kNoAs;
    }
    if (!watch_.empty())
        e->set_watch(watch_);
    e->set_data_watches(&data_watches_, &data_hits_);
    const uint64_t id = next_as_++;
    engines_.emplace(id, std::move(e));
    return id;
}

void Machine::as_destroy(uint64_t as) { engines_.erase(as); }

Engine* Machine::engine(uint64_t as) {
    auto it = engines_.find(as);
    return it == engines_.end() ? nullptr : it->second.get();
}

bool Machine::as_map(uint64_t as, uint64_t va, const uint64_t* frames, size_t count, uint32_t perms) {
    Engine* e = engine(as);
    if (!e)
        return false;
    for (size_t i = 0; i < count; ++i) {
        if (frames[i] % kPage || frames[i] >= memory_size_ || memory_size_ - frames[i] < kPage)
            return false;
    }
    return e->map_pages(va, memory_, frames, count, perms);
}

void Machine::as_unmap(uint64_t as, uint64_t va, size_t count) {
    if (Engine* e = engine(as))
        e->unmap_pages(va, count);
}

bool Machine::as_allow_ioports(uint64_t as, uint32_t base, uint32_t count) {
    Engine* e = engine(as);
    return e && e->allow_ioports(base, count);
}

void Machine::user_regs_sync(hal::UserRegs* regs) {
    // At most one engine holds part of a register file back: the one of the
    // address space its thread last ran in (Thread::bind syncs before a move).
    for (auto& [as, e] : engines_)
        e->sync_regs(regs);
}

void Machine::ext_state(hal::ExtState* ext, bool forget) {
    // At most one engine holds it: the one its thread last ran in.
    for (auto& [as, e] : engines_)
        forget ? e->forget_ext(*ext) : e->sync_ext(*ext);
}

uint8_t Machine::port_read(uint16_t port) {
    if (port < Uart16550::kCom1Base || port >= Uart16550::kCom1Base + Uart16550::kPortCount)
        return 0xff;  // nothing answers: the ISA bus floats high
    const bool on_the_way = com1_.input_on_the_way();
    const uint8_t value = com1_.read(port - Uart16550::kCom1Base);
    // Paced input: the guest took the byte in RBR; the next is gap slices away.
    if (!on_the_way && com1_.input_on_the_way())
        input_due_slice_ = stats_.slices + config_.faults.serial_gap;
    return value;
}

void Machine::port_write(uint16_t port, uint8_t value) {
    if (port >= Uart16550::kCom1Base && port < Uart16550::kCom1Base + Uart16550::kPortCount)
        com1_.write(port - Uart16550::kCom1Base, value);
}

bool Machine::irq_enable(uint32_t irq) {
    if (irq >= hal::kIrqLines || (kReservedIrqs & (1u << irq)))
        return false;
    irq_enabled_ |= 1u << irq;
    return true;
}

void Machine::irq_disable(uint32_t irq) {
    if (irq >= hal::kIrqLines)
        return;
    irq_enabled_ &= ~(1u << irq);
    irq_pending_ &= ~(1u << irq);
}

void Machine::irq_edge(uint32_t irq) {
    // Like an IOAPIC input: an edge on a masked line is lost, and edges arriving
    // before the kernel takes the pending one make a single interrupt.
    if (!(irq_enabled_ & (1u << irq)))
        return;
    lost_edges_ &= ~(1u << irq);
    if (chance(&fault_prng_, faults_.irq_drop)) {
        kernel::on_injected(kInjectIrqDrop, irq, 0);
        lost_edges_ |= 1u << irq;
        return;
    }
    if (chance(&fault_prng_, faults_.irq_delay)) {
        kernel::on_injected(kInjectIrqDelay, irq, faults_.irq_delay_slices);
        delayed_irqs_.push_back({irq, stats_.slices + faults_.irq_delay_slices});
        return;
    }
    irq_pending_ |= 1u << irq;
}

void Machine::release_delayed_irqs(bool idle) {
    std::erase_if(delayed_irqs_, [&](const DelayedIrq& d) {
        if (!due(d.due_slice, idle))
            return false;
        if (irq_enabled_ & (1u << d.irq))  // masked meanwhile: lost, as any edge on a masked line
            irq_pending_ |= 1u << d.irq;
        return true;
    });
}

void Machine::release_serial_input(bool idle) {
    if (com1_.input_on_the_way() && due(input_due_slice_, idle)) {
        com1_.arrive();  // its interrupt edge, if any, goes through irq_edge (and its faults)
        idle_advances_ = 0;
    }
}

void Machine::deliver_irqs(bool cpu0_idle) {
    current_cpu_ = 0;
    idle_advances_ = 0;
    while (irq_pending_ && !halted_) {
        const uint32_t irq = static_cast<uint32_t>(std::countr_zero(irq_pending_));  // lowest line first
        irq_pending_ &= ~(1u << irq);  // acknowledged before the kernel sees it (hal.h)
        ++stats_.irqs;
        ++stats_.kernel_entries;
        digest(kDigestIrq | irq);
        kernel::on_irq(0, irq);
    }
    // As the hardware backend does after an interrupt that woke an idle CPU.
    if (cpu0_idle && !halted_)
        kernel::on_idle(0);
}

bool Machine::advance_to_deadline() {
    const uint64_t ticks = kernel::next_deadline_in();
    if (ticks == 0 || ticks > kMaxIdleTicks || idle_advances_ >= kMaxIdleAdvances)
        return false;
    ++idle_advances_;
    current_cpu_ = 0;
    for (uint64_t i = 0; i < ticks && !halted_; ++i) {
        ++stats_.timer_interrupts;
        ++stats_.kernel_entries;
        digest(kDigestIdleTick);
        kernel::on_timer(0);
    }
    if (!halted_)
        kernel::on_idle(0);
    return true;
}

bool Machine::prepare(hal::BootInfo* info, std::string* error) {
    if (!memory_) {
        *error = fmt::format("cannot allocate {} MiB of simulated physical memory", config_.memory_mib);
        return false;
    }
    g_active = this;
    // The initramfs sits at the top of physical memory, outside the usable range.
    const uint64_t rd_size = (config_.initramfs.size() + kPage - 1) / kPage * kPage;
    if (rd_size > max_initramfs_bytes(config_.memory_mib)) {
        *error = fmt::format("initramfs of {} bytes does not fit in {} MiB of memory", config_.initramfs.size(),
                             config_.memory_mib);
        return false;
    }
    const uint64_t rd_base = memory_size_ - rd_size;
    if (!config_.initramfs.empty())
        std::memcpy(memory_ + rd_base, config_.initramfs.data(), config_.initramfs.size());
    *info = hal::BootInfo{};
    info->usable[0] = {kLowReserved, rd_base - kLowReserved};
    info->usable_count = 1;
    info->initramfs = memory_ + rd_base;
    info->initramfs_size = config_.initramfs.size();
    info->cpu_count = config_.cpus;
    std::snprintf(info->cmdline, sizeof info->cmdline, "%s", config_.cmdline.c_str());
    info->trace.enabled = trace_sink_ != nullptr;
    info->trace.backend = static_cast<uint32_t>(trace::Backend::kSim);
    info->trace.seed = config_.seed;
    info->trace.quantum = config_.quantum_blocks;
    info->trace.slice_max = config_.slice_max;
    info->trace.memory_bytes = memory_size_;
    info->trace.unicorn_version = unicorn_version();
    const bool pct = config_.schedule == trace::Schedule::kPct;
    info->trace.schedule = static_cast<uint32_t>(config_.schedule);
    info->trace.pct_depth = pct ? config_.pct_depth : 0;
    info->trace.pct_steps = pct ? config_.pct_steps : 0;
    return true;
}

void Machine::digest(uint64_t value) {
    // One multiply-xorshift step per value: this runs four times per slice, so a
    // byte-wise hash would cost a visible share of the simulator's time.
    uint64_t h = (stats_.schedule_digest ^ value) * 0x9e3779b97f4a7c15ull;
    stats_.schedule_digest = h ^ (h >> 32);
}

bool Machine::invariants_hold(Outcome* out, const char* after) {
    if (!config_.check_invariants)
        return true;
    char why[256];
    if (kernel::check_invariants(why, sizeof why))
        return true;
    out->kind = Outcome::Kind::kInvariant;
    out->message = fmt::format("kernel invariant violated after {} (trace record #{}, slice {}): {}", after,
                               kernel::trace_records(), stats_.slices, why);
    return false;
}

// The kernel races `plant=NAME` words of the command line plant (testing aid,
// userspace/bugs; hal/sim/test_hooks.h): set from the command line the trace
// records, so replays, the debugger and shrinking plant them again.
void plant_races(const std::string& cmdline) {
    const std::string words = " " + cmdline + " ";
    set_planted_races(words.find(" plant=stale-badge ") != std::string::npos,
                      words.find(" plant=lost-signal ") != std::string::npos);
}

bool Machine::boot_kernel(Outcome* out) {
    hal::BootInfo info;
    if (!prepare(&info, &out->message)) {
        out->kind = Outcome::Kind::kEmulatorError;
        return false;
    }
    current_cpu_ = 0;
    plant_races(config_.cmdline);
    set_alloc_failures({});  // none at boot, whatever an earlier machine planned
    kernel::boot(info);
    return true;
}

bool Machine::start_faults(Outcome* out) {
    faults_ = resolve_faults(config_.faults, config_.seed);
    const std::string text = faults_.empty() ? "" : format_faults(faults_);
    kernel::on_fault_plan(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    std::vector<uint64_t> allocations;
    for (const FaultPoint& p : faults_.alloc_fails)
        allocations.push_back(p.lo);
    set_alloc_failures(std::move(allocations));
    for (const FaultSpec::Kill& k : faults_.kills) {
        uint32_t index = 0;
        if (!service_index(config_.initramfs, k.service, &index, &out->message)) {
            out->kind = Outcome::Kind::kEmulatorError;
            return false;
        }
        kill_service_.push_back(index);
        kill_slices_.push_back(0);
    }
    for (const auto& [what, index, value] : uart_faults_)
        kernel::on_injected(what, index, value);
    return true;
}

int64_t Machine::service_of(const kernel::Thread* t) const {
    if (!t->fault_endpoint() || t->fault_badge() == 0)
        return -1;
    // init's own service threads report to an endpoint in init's CNode.
    for (kernel::KObject* o = kernel::KObject::first_live(); o; o = o->next_live()) {
        if (o->type() != ANVIL_OBJ_TCB || !static_cast<kernel::Thread*>(o)->is_root())
            continue;
        kernel::CNode* cnode = static_cast<kernel::Thread*>(o)->cnode();
        for (uint32_t slot = 1; cnode && slot < cnode->size(); ++slot) {
            if (cnode->slot(slot)->object == t->fault_endpoint())
                return static_cast<int64_t>(t->fault_badge()) - 1;
        }
    }
    return -1;
}

bool Machine::kill_now(uint32_t cpu) {
    if (kill_service_.empty())
        return false;
    const kernel::Thread* t = kernel::scheduler().current(cpu);
    if (!t)
        return false;
    auto [it, added] = service_of_thread_.try_emplace(t->id(), -1);
    if (added)
        it->second = service_of(t);
    bool kill = false;
    for (size_t i = 0; i < kill_service_.size(); ++i) {
        if (it->second != kill_service_[i])
            continue;
        if (++kill_slices_[i] == faults_.kills[i].slice.lo && !kill) {
            kill = true;
            kernel::on_injected(kInjectKill, t->id(), kill_service_[i]);
        }
    }
    return kill;
}

bool Machine::start(Outcome* out) {
    if (!boot_kernel(out))
        return false;
    // The input is part of the run: a replay feeds the recorded bytes.
    kernel::on_input(config_.serial_input.data(), config_.serial_input.size());
    if (!start_faults(out))
        return false;
    cpu_time_.assign(config_.cpus, 0);
    cpu_deadline_.assign(config_.cpus, config_.quantum_blocks);
    stats_.schedule_digest = 0xcbf29ce484222325ull;
    resumes_.assign(config_.cpus, kernel::Resume{});
    if (config_.schedule == trace::Schedule::kPct)
        pct_ = std::make_unique<Pct>(config_.pct_depth, config_.pct_steps, prng_);
    if (config_.schedule == trace::Schedule::kScript)
        script_ = std::make_unique<ScriptSchedule>(config_.script, config_.cpus);
    return true;
}

Outcome Machine::run() {
    Outcome out;
    if (!start(&out))
        return out;
    while (step(&out)) {
    }
    return out;
}

bool Machine::step(Outcome* out) {
    if (!plan_slice(out))
        return false;
    if (!planned())
        return true;  // interrupts were delivered instead
    return (plan_.ran || run_slice(out, nullptr)) && finish_slice(out);
}

bool Machine::plan_slice(Outcome* result) {
    if (follower_)
        return follow_step(result);
    Outcome& out = *result;
    std::vector<uint32_t>& ready = ready_;
    std::vector<kernel::Resume>& resumes = resumes_;
    plan_ = Slice{};
    if (trace_ended_) {
        out.kind = Outcome::Kind::kTraceEnd;
        out.message = fmt::format("the trace ends here: it was {}; the run stopped at its last complete record",
                                  config_.trace_cut);
        return false;
    }
    if (halted_) {
        out.kind = Outcome::Kind::kHalted;
        out.exit_code = halt_code_;
        return false;
    }
    // Which vCPUs have a thread to run? The PRNG picks one of them.
    // Asking a vCPU can only take threads from other vCPUs' queues, never
    // change what another vCPU already runs, so each answer stays valid.
    ready.clear();
    for (uint32_t cpu = 0; cpu < config_.cpus; ++cpu) {
        current_cpu_ = cpu;
        if (kernel::next_to_run(cpu, &resumes[cpu]))
            ready.push_back(cpu);
    }
    if (halted_)
        return plan_slice(result);
    // Device interrupts (raised by a vCPU's in/out during its last slice) go
    // to vCPU 0, where an IOAPIC sends them on hardware, here between slices:
    // every vCPU is then at a kernel boundary with its thread's registers
    // saved (Engine::run saves them when a slice ends, as for the timer), and
    // the point depends only on the seed and the guest, never on the host.
    // Then every vCPU is asked again what it runs. Paced input arrives first,
    // so that its edge can be held back with the others.
    release_serial_input(ready.empty());
    if (!delayed_irqs_.empty())
        release_delayed_irqs(ready.empty());
    if (irq_pending_) {
        deliver_irqs(ready.empty() || ready[0] != 0);
        return invariants_hold(&out, "an interrupt");
    }
    if (ready.empty() && advance_to_deadline())
        return invariants_hold(&out, "a timer interrupt");
    if (ready.empty()) {
        out.kind = Outcome::Kind::kIdle;
        out.message = "every vCPU is idle and no thread can run (all threads blocked, exited or faulted)";
        if (idle_advances_ >= kMaxIdleAdvances)
            out.message += fmt::format("; the last {} deadlines passed with no input and no interrupt",
                                       kMaxIdleAdvances);
        if ((lost_edges_ & (1u << Uart16550::kCom1Irq)) && com1_.irq_line())
            out.message += "; COM1's interrupt line has stayed high since irq-drop took its rising edge, and an "
                           "edge-triggered line interrupts only when it rises again (docs/reliability.md)";
        return false;
    }
    if (config_.max_slices && stats_.slices >= config_.max_slices) {
        out.kind = Outcome::Kind::kSliceLimit;
        out.message = fmt::format("stopped after {} slices (--max-slices)", stats_.slices);
        return false;
    }
    // A signal stops the run here, between slices, as a replay of its trace
    // stops (this point is reached exactly once per slice count).
    const int signal = stop_signal_ && *stop_signal_ ? *stop_signal_ : 0;
    if (signal || (config_.stop_signal && stats_.slices >= config_.stop_at_slice)) {
        out.kind = Outcome::Kind::kInterrupted;
        out.exit_code = 128 + (signal ? signal : config_.stop_signal);
        out.message = signal ? fmt::format("stopped by {} after {} slices", signal_name(signal), stats_.slices)
                             : fmt::format("stopped after {} slices, where {} stopped the recorded run",
                                           stats_.slices, signal_name(config_.stop_signal));
        return false;
    }
    ++stats_.slices;
    uint64_t slice = 0;
    const uint32_t cpu = pick_cpu(&slice);
    slice += stats_.slices == config_.perturb_slice ? 1 : 0;
    const uint64_t to_timer = cpu_deadline_[cpu] > cpu_time_[cpu] ? cpu_deadline_[cpu] - cpu_time_[cpu] : 1;
    current_cpu_ = cpu;
    const kernel::Resume r = resumes[cpu];
    if (!engine(r.as)) {
        out.kind = Outcome::Kind::kEmulatorError;
        out.message = fmt::format("thread {} has no address space engine", r.thread_id);
        return false;
    }
    plan_ = Slice{true, false, cpu, r.thread_id, r.as, slice < to_timer ? slice : to_timer};
    return true;
}

uint32_t Machine::pick_cpu(uint64_t* slice) {
    // A vCPU's timer interrupt comes at its own virtual-time deadline, whatever
    // the slice. With one vCPU ready there is nothing to interleave: the others
    // can only become ready through its kernel entries (which end the slice
    // anyway), so it runs to its timer deadline, saving slice switches.
    constexpr uint64_t kToKernelEntry = ~0ull >> 1;
    // A script decides even for a vCPU alone: its next switch bounds the slice.
    if (script_)
        return script_->pick(ready_, cpu_time_, slice);
    if (ready_.size() == 1) {
        *slice = kToKernelEntry;
        return ready_[0];
    }
    // PCT: the highest-priority thread runs to its next kernel entry.
    if (pct_) {
        std::vector<uint64_t> threads(config_.cpus, 0);
        for (const uint32_t cpu : ready_)
            threads[cpu] = resumes_[cpu].thread_id;
        *slice = kToKernelEntry;
        return pct_->pick(ready_, threads);
    }
    // Random: the PRNG picks the vCPU and how long it runs before the next pick.
    const uint32_t cpu = ready_[prng_.below(ready_.size())];
    *slice = 1 + prng_.below(config_.slice_max);
    return cpu;
}

bool Machine::run_slice(Outcome* out, DebugControl* debug) {
    const uint32_t cpu = plan_.cpu;
    const kernel::Resume r = resumes_[cpu];
    Engine* e = engine(r.as);
    current_cpu_ = cpu;
    e->use_cpu(cpu);
    e->use_ext(r.ext);
    const uint64_t before = e->blocks();
    // A killed service faults where it stands, before running any more.
    slice_stop_ = kill_now(cpu) ? Stop{StopKind::kFault, {kernel::FaultKind::kOther, kernel::FaultAccess::kNone, 0, 0, 0}, {}}
                                : e->run(*r.regs, plan_.budget, debug);
    if (slice_stop_.kind == StopKind::kDebug)
        return true;  // stopped inside the slice: this machine can only be looked at now
    plan_.ran = true;
    const uint64_t ran = e->blocks() - before;
    clock_ += ran;
    cpu_time_[cpu] += ran;
    digest(cpu);
    digest(r.thread_id);
    digest(ran);
    digest(static_cast<uint64_t>(slice_stop_.kind));
    kernel::on_slice(cpu, r.thread_id, ran, static_cast<uint64_t>(slice_stop_.kind) + 1);
    if (slice_stop_.kind == StopKind::kError) {
        out->kind = Outcome::Kind::kEmulatorError;
        out->message = fmt::format("thread {}: {}", r.thread_id, slice_stop_.error);
        return false;
    }
    return true;
}

bool Machine::finish_slice(Outcome* out) {
    const uint32_t cpu = plan_.cpu;
    const uint64_t thread = plan_.thread;
    const Stop stop = slice_stop_;
    plan_ = Slice{};
    current_cpu_ = cpu;
    if (follower_) {
        follow_finish();
        last_cpu_ = cpu;
        return true;
    }
    const bool yields = stop.kind == StopKind::kSyscall && resumes_[cpu].regs->rax == ANVIL_SYS_thread_yield;
    switch (stop.kind) {
    case StopKind::kSyscall:
        ++stats_.syscalls;
        ++stats_.kernel_entries;
        kernel::on_syscall(cpu);
        break;
    case StopKind::kFault:
        ++stats_.kernel_entries;
        kernel::on_fault(cpu, stop.fault);
        break;
    case StopKind::kBudget:
        break;  // another vCPU's turn; this one resumes where it stopped
    case StopKind::kError:
    case StopKind::kDebug:
        return false;  // run_slice said so already
    }
    const char* entry = stop.kind == StopKind::kSyscall ? "a syscall"
                        : stop.kind == StopKind::kFault ? "a fault"
                                                         : nullptr;
    const bool tick = cpu_time_[cpu] >= cpu_deadline_[cpu] && !halted_;
    if (tick) {
        ++stats_.timer_interrupts;
        ++stats_.kernel_entries;
        cpu_deadline_[cpu] = cpu_time_[cpu] + config_.quantum_blocks;
        kernel::on_timer(cpu);
        entry = entry ? entry : "a timer interrupt";
    }
    if (pct_ && entry)
        pct_->on_entry(thread, yields || tick);
    if (script_)
        script_->after_slice(cpu, cpu_time_[cpu], yields || tick);
    last_cpu_ = cpu;
    return !entry || invariants_hold(out, entry);
}

void Machine::set_watch(const Breakpoints& everywhere, const std::map<uint64_t, Breakpoints>& per_as) {
    watch_ = everywhere;
    watch_per_as_ = per_as;
    for (auto& [as, e] : engines_) {
        const auto it = watch_per_as_.find(as);
        if (it == watch_per_as_.end()) {
            e->set_watch(watch_);
            continue;
        }
        Breakpoints both = watch_;
        both.insert(it->second.begin(), it->second.end());
        e->set_watch(both);
    }
}

bool Machine::take_watch_hit() {
    bool hit = false;
    for (auto& [as, e] : engines_)
        hit |= e->take_watch_hit();
    return hit;
}

void Machine::set_data_watches(std::vector<DataWatch> watches) {
    data_watches_ = std::move(watches);
    data_hits_.clear();
    for (auto& [as, e] : engines_)
        e->set_data_watches(&data_watches_, &data_hits_);
}

std::vector<DataHit> Machine::take_data_hits() { return std::exchange(data_hits_, {}); }

bool Machine::user_phys(uint64_t as, uint64_t va, uint64_t* pa) {
    Engine* e = engine(as);
    const uint8_t* host = e ? e->host_of(va) : nullptr;
    if (!host || host < memory_ || host >= memory_ + memory_size_)
        return false;
    *pa = static_cast<uint64_t>(host - memory_);
    return true;
}

}  // namespace sim

namespace sim {

int stop_signal_of(int64_t code) {
    const int64_t s = code - 128;
    return s == SIGINT || s == SIGTERM || s == SIGHUP ? static_cast<int>(s) : 0;
}

std::string signal_name(int signal) {
    switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    }
    return fmt::format("signal {}", signal);
}

uint64_t max_initramfs_bytes(uint64_t memory_mib) {
    const uint64_t memory = memory_mib << 20;
    const uint64_t kept = kLowReserved + (16ull << 20);
    return memory > kept ? std::min(memory / 2, memory - kept) / kPage * kPage : 0;
}

bool load_run_files(RunFiles* files, const replay::Trace* trace, Config* config, std::string* error) {
    const uint64_t max_initramfs = max_initramfs_bytes(config->memory_mib);
    std::string& path = files->initramfs;
    if (path.empty() && trace && !trace->packed_initramfs.empty()) {
        // A pack brings its own (attach() checked its hash).
        if (trace->packed_initramfs.size() > max_initramfs) {
            *error = fmt::format("the pack's initramfs is {}, more than the {} allowed (half the trace's memory)",
                                 replay::size_text(trace->packed_initramfs.size()), replay::size_text(max_initramfs));
            return false;
        }
        path = "the pack's initramfs";
        config->initramfs = trace->packed_initramfs;
        return true;
    }
    if (path.empty() && trace)
        path = replay::find_initramfs(files->initramfs_search, trace->header.initramfs_hash, max_initramfs);
    if (path.empty()) {
        *error = trace ? fmt::format("no initramfs with the trace's hash {:016x} ({} bytes) found; give it with "
                                     "--initramfs (or a directory with --initramfs-search)",
                                     trace->header.initramfs_hash, trace->header.initramfs_size)
                       : "--initramfs is required";
        return false;
    }
    std::string why;
    if (!replay::read_file(path, max_initramfs, &config->initramfs, &why,
                           fmt::format("(at most half of the {} MiB of simulated memory, --memory)",
                                       config->memory_mib))) {
        *error = fmt::format("cannot read the initramfs {}: {}", path, why);
        return false;
    }
    if (trace) {
        const uint64_t hash = trace::fnv1a(trace::kFnvOffset, config->initramfs.data(), config->initramfs.size());
        if (hash != trace->header.initramfs_hash) {
            *error = fmt::format("{} is not the initramfs the trace was recorded with (hash {:016x}, {} bytes; this "
                                 "one {:016x}, {} bytes)",
                                 path, trace->header.initramfs_hash, trace->header.initramfs_size, hash,
                                 config->initramfs.size());
            return false;
        }
        return true;
    }
    if (!files->serial_input.empty() &&
        !replay::read_file(files->serial_input, kMaxSerialInputBytes, &config->serial_input, &why,
                           "for serial input")) {
        *error = fmt::format("cannot read serial input {}: {}; give --serial-input a readable file", files->serial_input,
                             why);
        return false;
    }
    return true;
}

bool config_from_trace(const replay::Trace& t, const replay::Summary& summary, Config* config, std::string* error) {
    if (t.from_qemu()) {
        // Schedule-following: the same CPUs and command line (init hands it to
        // the services, so even the word "trace" matters); the interleaving
        // comes from the trace itself, and so does the input (its records).
        config->cpus = t.header.cpus;
        config->cmdline = t.cmdline;
        return true;
    }
    // Said before the run, not found as a divergence somewhere in it (format
    // version 2 traces do not name their Unicorn: 0).
    if (t.header.unicorn_version && t.header.unicorn_version != unicorn_version()) {
        *error = fmt::format("the trace was recorded with Unicorn {} and this simulator runs Unicorn {}: basic "
                             "blocks, and so the run's interleaving, differ between Unicorn versions, so it would "
                             "not replay (replay it where Unicorn {} is installed; anvil-trace reads it anywhere)",
                             replay::unicorn_version_text(t.header.unicorn_version),
                             replay::unicorn_version_text(unicorn_version()),
                             replay::unicorn_version_text(t.header.unicorn_version));
        return false;
    }
    config->seed = t.header.seed;
    config->cpus = t.header.cpus;
    config->quantum_blocks = t.header.quantum;
    config->slice_max = t.header.slice_max;
    config->schedule = static_cast<trace::Schedule>(t.header.schedule);
    config->pct_depth = t.header.pct_depth;
    config->pct_steps = t.header.pct_steps;
    if (config->schedule == trace::Schedule::kScript)
        config->script = replay::switches(t, error);
    config->memory_mib = t.header.memory_bytes >> 20;
    config->cmdline = t.cmdline;
    config->faults = FaultSpec{};
    config->max_slices = summary.end_code == ANVIL_EXIT_SLICE_LIMIT ? summary.slices : 0;
    config->stop_signal = stop_signal_of(summary.end_code);
    config->stop_at_slice = config->stop_signal ? summary.slices : 0;
    config->trace_limit = summary.cut ? t.bytes.size() : 0;
    config->trace_cut = summary.cut ? t.cut_text() : "";
    // The input record comes right after boot, before the first slice.
    uint64_t pos = t.records_begin;
    replay::Record r;
    while (replay::next(t, &pos, &r, error)) {
        if (r.k() == trace::Kind::k_input)
            config->serial_input = r.input;
        if (r.k() == trace::Kind::k_faults &&
            !parse_faults(std::string(r.input.begin(), r.input.end()), &config->faults, error)) {
            *error = fmt::format("the trace's faults record does not read: {}", *error);
            return false;
        }
        if (r.k() == trace::Kind::k_slice)
            break;
    }
    return error->empty();
}

}  // namespace sim
