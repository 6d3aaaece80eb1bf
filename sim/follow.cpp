// Schedule-following replay of a QEMU trace (Machine::follow; docs/replay.md,
// "Schedule-following replay"). The simulator boots the same kernel and
// initramfs with its own timer and interleaving off and makes the trace's
// kernel entries happen in the trace's order: each syscall or fault by the
// thread the trace names, each timer tick or device interrupt where the trace
// has it, the user thread it interrupted first brought to the instruction and
// registers the trace recorded (user_at), COM1's input bytes as the trace has
// them read. The kernel's results (sysret, wake, ipc, exit records) are
// compared with the trace's as they come. A trace of several CPUs is followed
// the same way when the recording kernel ran user code one CPU at a time (its
// header says `serialized`); one whose CPUs ran user code at once (an older
// kernel's) leaves each stretch's timing open, and the follower tries a few
// points for it (Follower::concurrent_).
#include "sim/machine.h"

#include "kernel/introspect.h"
#include "sim/trace_sink.h"

#include <anvil/syscalls.h>
#include <fmt/core.h>
#include <hal/kernel_entry.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <unordered_map>
#include <unordered_set>

namespace sim {

namespace {

// Longest a followed thread may run before its next kernel entry, how long it
// runs before the other threads get a turn, and how long a thread may run to
// reach the point where an interrupt found it (basic blocks).
constexpr uint64_t kFollowBudget = uint64_t(1) << 30;
constexpr uint64_t kFollowSlice = uint64_t(1) << 16;
constexpr uint64_t kPositionBudget = uint64_t(1) << 26;
// With CPUs that ran user code at once (Follower::concurrent_), how often a
// thread's run to its next syscall is undone and made again after the others
// ran on, and the most bytes it may store (each logged to undo it).
constexpr unsigned kRetries = 32;
constexpr size_t kMaxLoggedBytes = size_t(1) << 22;
// How long a thread's stretch run ahead (an early candidate) may run before
// its next kernel entry, in basic blocks; one that runs longer is not kept.
constexpr uint64_t kEarlyBudget = kFollowSlice;
// Records shown before a divergence.
constexpr size_t kContext = 10;
// Results the kernel made that the trace has not (yet), or the other way
// round, before that counts as a divergence.
constexpr size_t kMaxUnpaired = 64;

bool is_entry(trace::Kind k) {
    return k == trace::Kind::k_syscall || k == trace::Kind::k_fault || k == trace::Kind::k_timer ||
           k == trace::Kind::k_irq;
}

bool same_regs(const hal::UserRegs& a, const hal::UserRegs& b) {
    return std::memcmp(&a, &b, sizeof a) == 0;
}

// The registers a syscall entry is compared by: the number and the seven
// argument registers, as the trace records them (f[2] to f[9]).
bool syscall_as_recorded(const hal::UserRegs& at, const replay::Record& r) {
    const uint64_t made[8] = {at.rax, at.rdi, at.rsi, at.rdx, at.r10, at.r8, at.r9, at.r12};
    return r.k() == trace::Kind::k_syscall && std::equal(made, made + 8, r.f + 2);
}

// Several QEMU CPUs ran user code at once: a trace of more than one CPU from a
// kernel that did not serialize user code while it recorded (docs/replay.md).
// Otherwise every stretch of user code ran alone, between two records.
bool runs_user_code_at_once(const trace::Header& h) {
    return h.cpus > 1 && h.schedule != static_cast<uint32_t>(trace::Schedule::kSerialized);
}

// Instructions the SDM faults on and QEMU's TCG runs (docs/x86_64.md lists
// its departures); the simulator faults as the SDM says, so a QEMU trace
// cannot be followed past them. Departures where both fault (another vector
// or error code) need no entry: a QEMU trace's fault_at record gives the
// kernel QEMU's. Matched by their bytes at the rip of the simulator's fault.
struct Departure {
    uint8_t bytes[2];
    uint8_t len;
    const char* name;
    const char* what;
};
constexpr Departure kQemuDepartures[] = {
    {{0x0f, 0x09}, 2, "wbinvd at CPL 3", "the SDM has #GP(0), QEMU 10 runs it"},
    {{0xce, 0x00}, 1, "into in 64-bit mode", "the SDM has #UD, QEMU 10 runs it"},
};

// The departure whose instruction is at `rip` in `e`, or null.
const Departure* departure_at(Engine* e, uint64_t rip) {
    uint8_t code[2] = {};
    if (!e || !e->read(rip, code, 1))
        return nullptr;
    e->read(rip + 1, code + 1, 1);  // (an unmapped second byte leaves 0)
    for (const Departure& d : kQemuDepartures)
        if (std::memcmp(code, d.bytes, d.len) == 0)
            return &d;
    return nullptr;
}

bool is_result(trace::Kind k) {
    return k == trace::Kind::k_sysret || k == trace::Kind::k_wake || k == trace::Kind::k_ipc ||
           k == trace::Kind::k_exit;
}

// Two result records say the same, but for the CPU (the simulator places
// threads on its CPUs itself).
bool same_result(const replay::Record& a, const replay::Record& b) {
    if (a.kind != b.kind || a.count != b.count)
        return false;
    const unsigned from = a.k() == trace::Kind::k_sysret ? 1 : 0;  // sysret's cpu field
    for (unsigned i = from; i < a.count; ++i)
        if (a.f[i] != b.f[i])
            return false;
    return true;
}

// "thread 32 (process: vspace 3, init)": its process, as the kernel knows it
// now: the address space's object id, and the name the kernel gave it (only
// init has one; the others are named by init's manifest, in user space).
std::string thread_text(uint64_t id) {
    for (kernel::KObject* o = kernel::KObject::first_live(); o; o = o->next_live()) {
        if (o->type() != ANVIL_OBJ_TCB || o->id() != id)
            continue;
        const auto* t = static_cast<kernel::Thread*>(o);
        const uint64_t vs = t->vspace() ? t->vspace()->id() : 0;
        return t->name()[0] ? fmt::format("thread {} (process: vspace {}, {})", id, vs, t->name())
                            : fmt::format("thread {} (process: vspace {})", id, vs);
    }
    return fmt::format("thread {} (gone)", id);
}

// Decodes the records the simulated kernel writes while it follows, keeping
// its results for comparison with the trace's, and hands every byte on to the
// sink that was there before (the debugger's, which lists the run's events).
class ResultSink final : public TraceSink {
public:
    explicit ResultSink(TraceSink* next) : next_(next) {}
    void write(const void* data, size_t len) override {
        if (next_)
            next_->write(data, len);
        const auto* p = static_cast<const uint8_t*>(data);
        // The header and command line come first, in their own writes.
        while (len && skip_ != 0) {
            if (seen_ < sizeof(trace::Header))
                head_[seen_] = *p;
            ++seen_, ++p, --len;
            if (seen_ == sizeof(trace::Header))
                skip_ = trace::get_le(head_ + 10, 2) - sizeof(trace::Header);  // Header::header_size
            else if (seen_ > sizeof(trace::Header))
                --skip_;
        }
        stream_.header.version = trace::kVersion;
        stream_.bytes.insert(stream_.bytes.end(), p, p + len);
        replay::Record r;
        std::string error;
        while (pos_ < stream_.bytes.size() && replay::next(stream_, &pos_, &r, &error)) {
            if (is_result(r.k()))
                results.push_back(r);
            if (r.k() == trace::Kind::k_fault)
                faults.push_back(r.f[1]);
        }
    }
    std::deque<replay::Record> results;
    // The threads of the faults the kernel recorded and the follower has not
    // accounted for: those it raised itself, picking a thread whose registers
    // cannot be resumed (kernel::next_to_run), as on hardware.
    std::deque<uint64_t> faults;

    TraceSink* const next_;

private:
    uint8_t head_[sizeof(trace::Header)] = {};
    uint64_t seen_ = 0;
    uint64_t skip_ = ~0ull;
    replay::Trace stream_;
    uint64_t pos_ = 0;
};

}  // namespace

// Walks the trace one kernel entry at a time. Each step() reads records up to
// the next kernel entry: a timer tick or device interrupt is delivered there
// and then (nothing is planned); a syscall or fault is reached by running the
// thread the trace names up to its next kernel entry, which step() leaves
// planned and run (Machine::Slice::ran) for finish() to make.
class Follower {
public:
    Follower(Machine& m, const replay::Trace& t)
        : m_(m), t_(t), concurrent_(runs_user_code_at_once(t.header)), qemu_running_(t.header.cpus, 0),
          busy_until_(t.header.cpus, 0), resumes_(m.config_.cpus), ready_(m.config_.cpus), sink_(m.trace_sink_) {}

    // Boots the machine; false (with *out) if it cannot.
    bool start(Outcome* out);
    // One kernel entry of the trace, as above; false when the following is
    // over (the end record, the machine halted, the trace cut short, or a
    // divergence), with *out saying how.
    bool step(Machine::Slice* plan, Stop* stop, Outcome* out);
    // Makes the kernel entry step() planned.
    void finish();
    uint64_t entries_followed() const { return followed_; }

private:
    // ---- The simulated machine ----
    void ask();
    int cpu_of(uint64_t thread);
    bool run_slice(uint32_t cpu, Stop* stop, uint64_t* ran);
    bool run_slice(uint32_t cpu, hal::UserRegs& regs, uint64_t budget, Stop* stop, uint64_t* ran);
    int cpu_running(uint64_t thread);

    // ---- Following ----
    bool position(const replay::Record& r);
    bool entry(const replay::Record& r);
    bool compare_results(bool at_end);
    bool others_run_on(uint32_t cpu, uint64_t thread);
    bool record(const replay::Record& r);
    void conclude(bool ok, const std::string& read_error);
    void run_ahead();
    // A thread's registers and x87/SSE state, to put back when its run is undone.
    struct Snapshot {
        hal::UserRegs regs{};
        hal::ExtState ext;
    };
    Snapshot snapshot(uint32_t cpu);
    void restore(uint32_t cpu, const Snapshot& s);
    bool take_early(uint32_t cpu, uint64_t thread, const replay::Record& r, const hal::UserRegs& before,
                    const std::vector<Engine::OldByte>& late_writes, Stop* stop);

    // ---- Reporting ----
    bool diverge(const replay::Record& at, const std::string& got);
    std::string limit_text(const replay::Record& at) const;

    Machine& m_;
    const replay::Trace& t_;
    // The QEMU CPUs ran user code at the same time (several, not serialized):
    // each thread's stretch is then run at one of a few candidate points.
    const bool concurrent_;
    Outcome out_;
    bool over_ = false;
    uint64_t pos_ = 0;  // the next record's byte in the trace
    // What each QEMU CPU runs (sched records), and the last record at which
    // each ran a user thread.
    std::vector<uint64_t> qemu_running_;
    std::vector<uint64_t> busy_until_;
    std::vector<kernel::Resume> resumes_;
    std::vector<bool> ready_;
    // Threads that ran up to their next kernel entry before the trace reached it.
    std::map<uint64_t, Stop> parked_;
    // With CPUs that ran user code at once, each ready thread's next stretch
    // of user code as it ran right after its kernel exit (run ahead, then
    // undone): the registers it started from and ended with, how it stopped,
    // each byte it changed. At its entry the trace decides between it and the
    // stretch run then.
    struct Store {
        uint8_t* host;
        uint8_t before, after;
    };
    struct Candidate {
        hal::UserRegs start{}, end{};
        hal::ExtState ext_start, ext_end;  // its x87/SSE state before and after
        Stop stop;
        std::vector<Store> stores;
    };
    std::map<uint64_t, Candidate> early_;
    // Each thread's last kernel entry (record index), for the report.
    std::map<uint64_t, uint64_t> last_entry_;
    // The trace's results not yet paired with the kernel's, and the kernel's.
    std::deque<replay::Record> expected_;
    ResultSink sink_;
    // The records just read (the report shows them).
    std::deque<replay::Record> recent_;
    // The interrupted thread of the last user_at record (until its interrupt).
    uint64_t interrupted_ = 0;
    // The last fault_at record (until its fault).
    replay::Record fault_at_;
    bool have_fault_at_ = false;
    // The syscall or fault entry() ran up to, for finish() to make.
    bool planned_ = false;
    replay::Record entry_;
    uint32_t entry_cpu_ = 0;
    Stop entry_stop_;
    // Interrupt positions the follower could not reach: how many, the last
    // and its thread.
    // The QEMU departure from the SDM at the simulator's last fault, if any.
    const Departure* departure_ = nullptr;
    uint64_t missed_ = 0;
    std::string last_miss_;
    uint64_t last_miss_thread_ = 0;
    uint64_t followed_ = 0;
    uint64_t index_ = 0;
};

void Follower::ask() {
    for (uint32_t cpu = 0; cpu < m_.config_.cpus; ++cpu) {
        m_.current_cpu_ = cpu;
        ready_[cpu] = kernel::next_to_run(cpu, &resumes_[cpu]);
    }
}

int Follower::cpu_running(uint64_t thread) {
    for (uint32_t cpu = 0; cpu < m_.config_.cpus; ++cpu)
        if (ready_[cpu] && resumes_[cpu].thread_id == thread)
            return static_cast<int>(cpu);
    return -1;
}

// The vCPU running `thread`, making it run there if it is merely runnable
// (rotating the run queues as timer ticks do, as the preemption the QEMU run
// had, but without advancing the kernel's clock: only the trace's ticks do).
int Follower::cpu_of(uint64_t thread) {
    for (int round = 0; round < 64; ++round) {
        ask();
        if (const int cpu = cpu_running(thread); cpu >= 0)
            return cpu;
        for (uint32_t cpu = 0; cpu < m_.config_.cpus; ++cpu) {
            m_.current_cpu_ = cpu;
            kernel::scheduler().rotate(cpu);
        }
    }
    return -1;
}

bool Follower::run_slice(uint32_t cpu, Stop* stop, uint64_t* ran) {
    return run_slice(cpu, *resumes_[cpu].regs, kFollowSlice, stop, ran);
}

// Runs `regs` (the register file of the thread on `cpu`, or a copy of it)
// in that thread's address space for at most `budget` blocks.
bool Follower::run_slice(uint32_t cpu, hal::UserRegs& regs, uint64_t budget, Stop* stop, uint64_t* ran) {
    m_.current_cpu_ = cpu;
    Engine* e = m_.engine(resumes_[cpu].as);
    if (!e)
        return false;
    const uint64_t before = e->blocks();
    e->use_cpu(cpu);
    e->use_ext(resumes_[cpu].ext);
    *stop = e->run(regs, budget);
    *ran = e->blocks() - before;
    m_.clock_ += *ran;
    ++m_.stats_.slices;
    return true;
}

Follower::Snapshot Follower::snapshot(uint32_t cpu) {
    Snapshot s;
    m_.user_regs_sync(resumes_[cpu].regs);
    s.regs = *resumes_[cpu].regs;
    m_.ext_state(resumes_[cpu].ext, false);
    s.ext = *resumes_[cpu].ext;
    return s;
}

void Follower::restore(uint32_t cpu, const Snapshot& s) {
    m_.user_regs_sync(resumes_[cpu].regs);
    *resumes_[cpu].regs = s.regs;
    *resumes_[cpu].ext = s.ext;
    m_.ext_state(resumes_[cpu].ext, true);  // (the engine loads it again)
}

// A user_at record: run the thread it names to the instruction and registers
// where the QEMU interrupt found it, so the interrupt lands at the same point
// of its code. Not reaching it is no divergence by itself (the syscalls that
// follow decide), but it is noted: the report names it as the limit that applies.
bool Follower::position(const replay::Record& r) {
    const uint64_t thread = r.f[1], rip = r.f[2], hash = r.f[3];
    interrupted_ = thread;
    auto miss = [&](const std::string& why) {
        ++missed_;
        last_miss_ = fmt::format("record #{}: {} {}", r.index, thread_text(thread), why);
        last_miss_thread_ = thread;
        return true;
    };
    if (parked_.count(thread))
        return miss("had already run on to its next kernel entry");
    const int c = cpu_of(thread);
    if (c < 0)
        return miss("was not runnable");
    const auto cpu = static_cast<uint32_t>(c);
    Engine* e = m_.engine(resumes_[cpu].as);
    if (!e)
        return miss("has no address space");
    // With CPUs that ran user code at once, a run that does not come to the
    // position is undone: the thread stays where it was, and its run to its
    // next entry keeps the repairs entry() makes (a parked run has none).
    bool undoable = concurrent_;
    std::vector<Engine::OldByte> writes;
    const Snapshot before = snapshot(cpu);
    e->set_write_log(undoable ? &writes : nullptr);
    e->set_rip_stop(rip, [hash](const hal::UserRegs& regs) { return kernel::user_regs_hash(regs) == hash; });
    uint64_t spent = 0;
    Stop stop;
    for (;;) {
        uint64_t ran = 0;
        run_slice(cpu, &stop, &ran);
        spent += ran;
        if (undoable && writes.size() > kMaxLoggedBytes) {
            e->set_write_log(nullptr);
            undoable = false;
        }
        if (stop.kind != StopKind::kBudget || spent >= kPositionBudget)
            break;
    }
    e->clear_rip_stop();
    e->set_write_log(nullptr);
    if (undoable && stop.kind != StopKind::kDebug && stop.kind != StopKind::kError) {
        Engine::undo_writes(writes);
        restore(cpu, before);
    }
    switch (stop.kind) {
    case StopKind::kDebug:
        return true;  // there
    case StopKind::kSyscall:
    case StopKind::kFault:
        if (!undoable)
            parked_[thread] = stop;
        return miss(fmt::format("reached its next kernel entry first (rip 0x{:x} with those registers never came)", rip));
    case StopKind::kBudget:
        return miss(fmt::format("ran {} blocks without reaching rip 0x{:x} with those registers", spent, rip));
    case StopKind::kError:
        return diverge(r, fmt::format("{}: {}", thread_text(thread), stop.error));
    }
    return true;
}

// A kernel entry: a timer tick or device interrupt, delivered; a syscall or
// fault, made by running the thread the trace names up to its next entry.
bool Follower::entry(const replay::Record& r) {
    if (r.k() == trace::Kind::k_irq || r.k() == trace::Kind::k_timer) {
        // Where the QEMU CPU's thread runs here (the user_at record named it,
        // or the CPU's last sched record did).
        const uint64_t thread =
            interrupted_ ? interrupted_ : (r.f[0] < qemu_running_.size() ? qemu_running_[r.f[0]] : 0);
        interrupted_ = 0;
        ask();
        const int cpu = thread ? cpu_running(thread) : -1;
        if (r.k() == trace::Kind::k_irq) {
            const auto on = static_cast<uint32_t>(cpu >= 0 ? cpu : 0);
            m_.current_cpu_ = on;
            kernel::on_irq(on, static_cast<uint32_t>(r.f[1]));
        } else if (cpu >= 0) {
            m_.current_cpu_ = static_cast<uint32_t>(cpu);
            kernel::on_timer(static_cast<uint32_t>(cpu));
        } else {
            // An idle QEMU CPU's tick: it still advances the kernel's clock,
            // which ends timed waits (kernel/sched/timeout.h).
            kernel::clock_tick();
        }
        ++m_.stats_.kernel_entries;
        return true;
    }
    if (r.k() == trace::Kind::k_fault) {
        ask();  // (picking the thread may be what raises it)
        auto& made = sink_.faults;
        if (auto it = std::find(made.begin(), made.end(), r.f[1]); it != made.end()) {
            made.erase(it);  // the kernel raised it here too, when it picked the thread
            have_fault_at_ = false;
            last_entry_[r.f[1]] = r.index;
            return true;
        }
    }
    // If the thread spins (waiting on memory another thread writes), the
    // others run in between, each up to its own next entry, where it waits
    // (parked) until the trace reaches that entry.
    //
    // With CPUs that ran user code at once, the thread's run is also made
    // undoable (its registers before it and every byte it stores): if it does
    // not come to the syscall the trace has, the threads of the other CPUs run
    // on a slice, and the thread runs again from where it was. On the QEMU
    // CPUs they ran at the same time; a thread that waits for another's
    // progress through shared memory (limit 2 in docs/replay.md) then sees it.
    // A serialized trace needs none of it: nothing ran beside the thread.
    const uint64_t thread = r.f[1];
    Stop stop;
    uint32_t cpu = 0;
    std::vector<Engine::OldByte> writes;
    Snapshot before;
    bool undoable = false;
    unsigned attempt = 0;
    for (uint64_t spent = 0;;) {
        const int c = cpu_of(thread);
        if (c < 0)
            return diverge(r, fmt::format("{} is not runnable here", thread_text(thread)));
        cpu = static_cast<uint32_t>(c);
        if (auto p = parked_.find(thread); p != parked_.end()) {
            stop = p->second;
            parked_.erase(p);
            break;
        }
        Engine* e = m_.engine(resumes_[cpu].as);
        if (!e)
            return diverge(r, fmt::format("{} has no address space", thread_text(thread)));
        if (spent == 0 && concurrent_ && attempt < kRetries) {
            before = snapshot(cpu);
            writes.clear();
            undoable = true;
        }
        uint64_t ran = 0;
        e->set_write_log(undoable ? &writes : nullptr);
        run_slice(cpu, &stop, &ran);
        e->set_write_log(nullptr);
        undoable = undoable && writes.size() <= kMaxLoggedBytes;
        spent += ran;
        if (stop.kind == StopKind::kSyscall && undoable && r.k() == trace::Kind::k_syscall &&
            !syscall_as_recorded(*resumes_[cpu].regs, r)) {
            if (take_early(cpu, thread, r, before.regs, writes, &stop))
                break;
            if (others_run_on(cpu, thread)) {
                Engine::undo_writes(writes);
                restore(cpu, before);
                ++attempt;
                spent = 0;
                undoable = false;
                continue;
            }
        }
        if (stop.kind != StopKind::kBudget)
            break;
        if (spent >= kFollowBudget)
            return diverge(r, fmt::format("{} ran {} blocks without a kernel entry (the other threads are parked at "
                                          "their next kernel entries or blocked)",
                                          thread_text(thread), spent));
        ask();
        for (uint32_t other = 0; other < m_.config_.cpus; ++other) {
            if (other == cpu || !ready_[other] || parked_.count(resumes_[other].thread_id))
                continue;
            Stop s2;
            uint64_t ran2 = 0;
            if (run_slice(other, &s2, &ran2) && (s2.kind == StopKind::kSyscall || s2.kind == StopKind::kFault))
                parked_[resumes_[other].thread_id] = s2;
            else if (s2.kind == StopKind::kError)
                return diverge(r, fmt::format("{}: {}", thread_text(resumes_[other].thread_id), s2.error));
        }
    }
    m_.current_cpu_ = cpu;
    const hal::UserRegs& regs = *resumes_[cpu].regs;
    switch (stop.kind) {
    case StopKind::kSyscall: {
        departure_ = nullptr;
        replay::Record made;
        made.kind = static_cast<uint8_t>(trace::Kind::k_syscall);
        made.count = 10;
        made.index = r.index;
        const uint64_t f[10] = {r.f[0], thread, regs.rax, regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9,
                                regs.r12};
        std::copy(f, f + 10, made.f);
        if (r.k() != trace::Kind::k_syscall)
            return diverge(r, fmt::format("{} made a syscall: {}", thread_text(thread), replay::format(made)));
        // Pointers and values must match too, or the thread is computing
        // something else (a data race the schedule alone cannot fix).
        if (!syscall_as_recorded(regs, r))
            return diverge(r, fmt::format("{} made {}", thread_text(thread), replay::format(made)));
        break;
    }
    case StopKind::kFault:
        departure_ = departure_at(m_.engine(resumes_[cpu].as), regs.rip);
        if (r.k() != trace::Kind::k_fault)
            return diverge(r, fmt::format("{} faulted (kind {}, address 0x{:x}, rip 0x{:x})", thread_text(thread),
                                          static_cast<uint32_t>(stop.fault.kind), stop.fault.addr, regs.rip));
        break;
    case StopKind::kBudget:  // (the loop above only ends at an entry or an error)
    case StopKind::kDebug:
    case StopKind::kError:
        out_.kind = Outcome::Kind::kEmulatorError;
        out_.message = fmt::format("{}: {}", thread_text(thread), stop.error);
        return false;
    }
    planned_ = true;
    entry_ = r;
    entry_cpu_ = cpu;
    entry_stop_ = stop;
    return true;
}

// Makes the syscall or fault entry() ran the thread up to.
void Follower::finish() {
    const replay::Record& r = entry_;
    const uint32_t cpu = entry_cpu_;
    const uint64_t thread = r.f[1];
    m_.current_cpu_ = cpu;
    if (entry_stop_.kind == StopKind::kSyscall) {
        ++m_.stats_.syscalls;
        kernel::on_syscall(cpu);
    } else {
        // The fault as QEMU's CPU reported it: emulators differ in some
        // (docs/x86_64.md), and what the kernel reports must be the same.
        kernel::FaultInfo fault = entry_stop_.fault;
        fault.kind = static_cast<kernel::FaultKind>(r.f[2]);
        fault.access = static_cast<kernel::FaultAccess>(r.f[3]);
        fault.addr = r.f[4];
        if (have_fault_at_ && fault_at_.f[1] == thread) {
            fault.vector = fault_at_.f[2];
            fault.error = fault_at_.f[3];
            resumes_[cpu].regs->rip = fault_at_.f[4];
        }
        have_fault_at_ = false;
        kernel::on_fault(cpu, fault);
        if (!sink_.faults.empty() && sink_.faults.back() == thread)
            sink_.faults.pop_back();  // the follower's own
    }
    ++m_.stats_.kernel_entries;
    last_entry_[thread] = r.index;
    early_.erase(thread);
}

// With CPUs that ran user code at once: each thread ready on a simulated CPU
// whose stretch of user code has not been run ahead from where it is now runs
// it, up to its next kernel entry, and the run is undone (early_). That is the
// earliest the stretch could have started: right after the thread's kernel
// exit, on the memory of that point. A poller that QEMU ran before another
// CPU's store, and that the follower reaches only after it, made its syscall
// there.
void Follower::run_ahead() {
    ask();
    for (uint32_t cpu = 0; cpu < m_.config_.cpus; ++cpu) {
        const uint64_t thread = resumes_[cpu].thread_id;
        if (!ready_[cpu] || parked_.count(thread))
            continue;
        m_.user_regs_sync(resumes_[cpu].regs);
        const hal::UserRegs& now = *resumes_[cpu].regs;
        // A driver's stretch is not run ahead: device accesses cannot be undone.
        Engine* e = m_.engine(resumes_[cpu].as);
        if (!e || e->has_ioports()) {
            early_.erase(thread);
            continue;
        }
        hal::ExtState& ext = *resumes_[cpu].ext;
        e->sync_ext(ext);
        if (auto it = early_.find(thread); it != early_.end() && same_regs(it->second.start, now) &&
                                           std::memcmp(&it->second.ext_start, &ext, sizeof ext) == 0)
            continue;  // run ahead from here already
        early_.erase(thread);
        Candidate c;
        c.start = now;
        c.end = now;
        c.ext_start = ext;
        std::vector<Engine::OldByte> writes;
        uint64_t ran = 0;
        e->set_write_log(&writes);
        run_slice(cpu, c.end, kEarlyBudget, &c.stop, &ran);
        e->set_write_log(nullptr);
        e->sync_regs(&c.end);
        // (its x87/SSE registers too: kept, and put back as they were)
        e->sync_ext(ext);
        c.ext_end = ext;
        ext = c.ext_start;
        e->forget_ext(ext);
        // Each byte once: what it held before the stretch and after it.
        std::unordered_set<uint8_t*> seen;
        for (const Engine::OldByte& w : writes)
            if (seen.insert(w.host).second)
                c.stores.push_back(Store{w.host, w.value, 0});
        for (Store& st : c.stores)
            st.after = *st.host;
        Engine::undo_writes(writes);
        if (c.stop.kind == StopKind::kSyscall && writes.size() <= kMaxLoggedBytes)
            early_[thread] = std::move(c);
    }
}

// The stretch just run at the trace's entry `r` did not make the syscall the
// trace has; if the one run ahead from the same registers (run_ahead) did,
// and no byte it stored has changed since, it is what the QEMU CPU ran: the
// stretch just run is undone and the early one's stores and registers put in
// its place. A sound choice: both are the thread's code run on memory as it
// was at some point between its kernel exit and this entry.
bool Follower::take_early(uint32_t cpu, uint64_t thread, const replay::Record& r, const hal::UserRegs& before,
                          const std::vector<Engine::OldByte>& late_writes, Stop* stop) {
    const auto it = early_.find(thread);
    if (it == early_.end())
        return false;
    const Candidate& c = it->second;
    if (!same_regs(c.start, before) || !syscall_as_recorded(c.end, r))
        return false;
    // What each byte held before the stretch just run: the first value it logged.
    std::unordered_map<uint8_t*, uint8_t> held;
    for (const Engine::OldByte& w : late_writes)
        held.emplace(w.host, w.value);
    for (const Store& st : c.stores) {
        const auto h = held.find(st.host);
        if ((h != held.end() ? h->second : *st.host) != st.before)
            return false;  // stored to since by another thread or the kernel
    }
    Engine::undo_writes(late_writes);
    for (const Store& st : c.stores)
        *st.host = st.after;
    m_.user_regs_sync(resumes_[cpu].regs);
    *resumes_[cpu].regs = c.end;
    *resumes_[cpu].ext = c.ext_end;
    if (Engine* e = m_.engine(resumes_[cpu].as))
        e->forget_ext(*resumes_[cpu].ext);
    *stop = c.stop;
    early_.erase(it);
    return true;
}

// Runs what the simulated CPUs other than `cpu` run (not `thread`, not a
// parked thread) for a follow slice each, parking each that reaches a
// kernel entry; false if there was none to run.
bool Follower::others_run_on(uint32_t cpu, uint64_t thread) {
    ask();
    bool any = false;
    for (uint32_t other = 0; other < m_.config_.cpus; ++other) {
        const uint64_t id = resumes_[other].thread_id;
        if (other == cpu || !ready_[other] || id == thread || parked_.count(id))
            continue;
        Stop s;
        uint64_t ran = 0;
        if (!run_slice(other, &s, &ran))
            continue;
        any = true;
        if (s.kind == StopKind::kSyscall || s.kind == StopKind::kFault)
            parked_[id] = s;
    }
    return any;
}

// Pairs the kernel's results with the trace's, in order. What the trace has
// and the kernel has not made yet (or the other way round) waits, within a bound.
bool Follower::compare_results(bool at_end) {
    std::deque<replay::Record>& got = sink_.results;
    while (!expected_.empty() && !got.empty()) {
        const replay::Record& want = expected_.front();
        replay::Record made = got.front();
        made.index = want.index;
        if (!same_result(want, made))
            return diverge(want, fmt::format("the kernel's result was: {}", replay::format(made)));
        expected_.pop_front();
        got.pop_front();
    }
    if (!expected_.empty() && (at_end || expected_.size() > kMaxUnpaired))
        return diverge(expected_.front(), "the kernel made no such result");
    if (!got.empty() && (at_end || got.size() > kMaxUnpaired)) {
        replay::Record made = got.front();
        made.index = index_;
        return diverge(recent_.back(), fmt::format("the kernel made a result the trace does not have: {}",
                                                   replay::format(made)));
    }
    return true;
}

// Which documented limit (docs/replay.md, "What cannot be followed") explains
// a divergence at `at`, as far as the follower can tell.
std::string Follower::limit_text(const replay::Record& at) const {
    if (t_.header.version <= trace::kVersionNoUserAt)
        return fmt::format("limit 1 (interrupt positions): a version {} trace does not say where interrupts found "
                           "user code; record it again with this build",
                           t_.header.version);
    if (departure_ && t_.header.backend == static_cast<uint32_t>(trace::Backend::kQemu))
        return fmt::format("limit 4 (QEMU departs from the SDM): the simulator's last fault was at {} ({}); the "
                           "simulator faults as the SDM says (docs/x86_64.md)",
                           departure_->name, departure_->what);
    const uint64_t thread = at.field("thread", at.field("receiver", 0));
    const auto last = last_entry_.find(thread);
    const uint64_t since = last == last_entry_.end() ? 0 : last->second;
    const uint64_t qcpu = at.field("cpu", ~0ull);
    for (uint32_t c = 0; c < busy_until_.size(); ++c) {
        if (c != qcpu && busy_until_[c] > since && concurrent_)
            return fmt::format("limit 2 (SMP memory races): since this thread's last kernel entry (#{}) QEMU CPU {} "
                               "also ran user code (until #{}); how far each got between kernel entries is not "
                               "recorded, so threads that wait on each other through shared memory may see other "
                               "values here",
                               since, c, busy_until_[c]);
    }
    // On several CPUs a thread whose registers at an interrupt never came
    // had mostly read other values in shared memory than in QEMU before: a
    // race that shows only at this entry.
    if (missed_ && concurrent_ && last_miss_thread_ == thread)
        return fmt::format("limit 2 (SMP memory races), seen through limit 1 (interrupt positions): {} interrupt "
                           "position(s) were not reached, the last at {}; on several CPUs that is mostly a thread "
                           "that read other values in shared memory than in QEMU, before this record",
                           missed_, last_miss_);
    if (missed_)
        return fmt::format("limit 1 (interrupt positions): {} interrupt position(s) were not reached, the last at {}",
                           missed_, last_miss_);
    return "none of the documented limits applies: the kernel or the simulator acted differently here (a bug to "
           "report with this trace)";
}

bool Follower::diverge(const replay::Record& at, const std::string& got) {
    out_.kind = Outcome::Kind::kDiverged;
    std::string s = fmt::format("schedule-following replay diverged at record #{} (byte {} of the trace)\n", at.index,
                                t_.file_offset(at.offset));
    s += fmt::format("  expected: {}\n", replay::format(at));
    s += fmt::format("  got:      {}\n", got);
    s += fmt::format("  the {} records before it:\n", recent_.size() > 1 ? recent_.size() - 1 : 0);
    for (const replay::Record& r : recent_)
        if (r.index < at.index)
            s += fmt::format("    {}\n", replay::format(r));
    s += fmt::format("  {}", limit_text(at));
    out_.message = s;
    return false;
}

bool Follower::start(Outcome* out) {
    // The kernel's own records, one at a time, for their results.
    m_.set_trace_sink(&sink_);
    kernel::trace_set_flush_each(true);
    pos_ = t_.records_begin;
    if (!m_.boot_kernel(out)) {
        over_ = true;
        return false;
    }
    return true;
}

bool Follower::step(Machine::Slice* plan, Stop* stop, Outcome* out) {
    planned_ = false;
    // The last entry is made: with CPUs that ran user code at once, the ready
    // threads' next stretches run ahead from it.
    if (followed_ > 0 && !over_ && !m_.halted_ && concurrent_)
        run_ahead();
    while (!over_) {
        // The machine halted: the results of its last entry still pair up.
        if (m_.halted_) {
            conclude(compare_results(false), "");
            break;
        }
        replay::Record r;
        std::string error;
        if (!replay::next(t_, &pos_, &r, &error)) {
            conclude(true, error);
            break;
        }
        r.index = index_++;
        if (!record(r)) {
            conclude(false, "");
            break;
        }
        if (r.k() == trace::Kind::k_end) {
            conclude(true, "");
            break;
        }
        if (!is_entry(r.k()))
            continue;
        ++followed_;
        if (planned_) {
            *plan = Machine::Slice{true, true, entry_cpu_, r.f[1], resumes_[entry_cpu_].as, 0};
            *stop = entry_stop_;
        }
        return true;
    }
    *out = out_;
    return false;
}

// Takes in one record of the trace; false on a divergence.
bool Follower::record(const replay::Record& r) {
    recent_.push_back(r);
    if (recent_.size() > kContext + 1)
        recent_.pop_front();
    for (uint32_t c = 0; c < qemu_running_.size(); ++c)
        if (qemu_running_[c])
            busy_until_[c] = r.index;
    switch (r.k()) {
    case trace::Kind::k_sched:
        if (r.f[0] < qemu_running_.size())
            qemu_running_[r.f[0]] = r.f[2];
        return true;
    case trace::Kind::k_input:
        m_.com1_.add_input(r.input);
        return true;
    case trace::Kind::k_user_at:
        return position(r);
    case trace::Kind::k_fault_at:
        fault_at_ = r;
        have_fault_at_ = true;
        return true;
    case trace::Kind::k_syscall:
    case trace::Kind::k_fault:
    case trace::Kind::k_timer:
    case trace::Kind::k_irq:
        return compare_results(false) && entry(r);
    case trace::Kind::k_end:
        return compare_results(true);
    default:
        if (is_result(r.k()))
            expected_.push_back(r);
        return true;
    }
}

// The following is over: says how in out_ (unless a divergence said so
// already: !ok), and gives the machine its own trace sink back.
void Follower::conclude(bool ok, const std::string& read_error) {
    over_ = true;
    m_.set_trace_sink(sink_.next_);
    if (!ok)
        return;
    if (!read_error.empty()) {
        out_.kind = Outcome::Kind::kEmulatorError;
        out_.message = read_error;
        return;
    }
    out_.kind = Outcome::Kind::kHalted;
    out_.exit_code = m_.halt_code_;
    if (!m_.halted_ && t_.cut) {
        out_.kind = Outcome::Kind::kTraceEnd;
        out_.message = fmt::format("the trace ends here: it was {}; followed {} kernel entries in its order, to its "
                                   "last complete record",
                                   t_.cut_text(), followed_);
    } else if (!m_.halted_) {
        out_.kind = Outcome::Kind::kDiverged;
        out_.message = "the trace ended but the simulated machine did not halt";
    }
}

void Machine::FollowerDelete::operator()(Follower* f) const { delete f; }

bool Machine::start_follow(const replay::Trace& t, Outcome* out) {
    follower_.reset(new Follower(*this, t));
    return follower_->start(out);
}

bool Machine::follow_step(Outcome* out) {
    plan_ = Slice{};
    return follower_->step(&plan_, &slice_stop_, out);
}

void Machine::follow_finish() { follower_->finish(); }

Outcome Machine::follow(const replay::Trace& t, uint64_t* entries_followed) {
    Outcome out;
    if (start_follow(t, &out)) {
        while (step(&out)) {
        }
    }
    *entries_followed = follower_->entries_followed();
    return out;
}

}  // namespace sim
