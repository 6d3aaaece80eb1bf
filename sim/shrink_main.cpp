// anvil-shrink: the smallest schedule that still fails the way a simulator
// trace's run failed (tools/anvil shrink, docs/replay.md). The trace's vCPU
// switches (replay::switches) become a script schedule (sim/script_schedule.h);
// delta debugging (sim/ddmin.h) takes out every switch the failure does not
// need, then a second phase (sim/move_switches.h) takes out one more at a time
// by moving another to a nearby point, each candidate run in a child process;
// the switches left are printed
// in kernel terms and the shrunk run is recorded, a trace that replays and
// opens in the debugger with nothing else.
#include "replay/cli.h"
#include "replay/trace_reader.h"
#include "sim/ddmin.h"
#include "sim/machine.h"
#include "sim/move_switches.h"
#include "sim/trace_sink.h"

#include <anvil/syscalls.h>
#include <anvil_build_id.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <hal/kernel_entry.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <optional>

namespace {

constexpr int kExitNoShrink = 1;  // the trace did not fail, or its failure does not come back

// Runs `config` in a child process (the kernel's state is global: one run per
// process), recording to `record` if not empty; its exit status, or -1.
int run_child(const sim::Config& config, const std::string& record) {
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        sim::Machine machine(config);
        sim::FileTraceSink sink;
        std::string error;
        if (!record.empty()) {
            if (!sink.open(record, &error))
                _exit(255);
            machine.set_trace_sink(&sink);
        }
        const sim::Outcome out = machine.run();
        kernel::trace_finish(out.status());
        _exit(out.status() & 0xff);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

// One essential switch, as the shrunk trace shows it.
struct Found {
    replay::Switch sw;
    uint64_t thread = 0;       // running on sw.cpu when it was switched away
    uint64_t ran_to = 0;       // the next thread on sw.to
    bool mid_user = false;     // stopped in user code, not at a kernel entry
    bool moves_on = false;     // the thread blocked, yielded or took a timer tick: the vCPU moved on anyway
    std::string before, after; // the thread's syscalls around the switch ("" if none)
    bool stay() const { return sw.to == sw.cpu; }
    // A switch away from a thread that could have run on (the preemption).
    bool preemption() const { return !stay() && !moves_on; }
};

// Whether record `r`, after the slice that ends at `f`'s point, shows its
// thread unable to run on there: a timer tick or a yield (the vCPU moves on
// round-robin) or a switch away from it (it blocked or exited).
bool stops_thread(const replay::Record& r, const Found& f) {
    switch (r.k()) {
    case trace::Kind::k_timer:
        return r.field("cpu") == f.sw.cpu;
    case trace::Kind::k_syscall:
        return r.field("thread") == f.thread && r.field("nr") == ANVIL_SYS_thread_yield;
    case trace::Kind::k_sched:
        return r.field("cpu") == f.sw.cpu && r.field("from") == f.thread;
    default:
        return false;
    }
}

// Finds each of `essential` in trace `t`: the slice of its vCPU that ends at
// its point, the thread, and that thread's syscalls before and after it.
std::vector<Found> locate(const replay::Trace& t, const std::vector<replay::Switch>& essential) {
    std::vector<Found> found;
    for (const replay::Switch& s : essential) {
        Found f;
        f.sw = s;
        found.push_back(f);
    }
    std::vector<uint64_t> cpu_time(t.header.cpus, 0);
    std::map<uint64_t, std::string> last_syscall;  // thread -> its latest syscall record, formatted
    std::vector<size_t> waiting_next;              // found[] whose thread's next syscall is still to come
    std::vector<size_t> waiting_target;            // found[] whose target vCPU's next slice is still to come
    uint64_t pos = t.records_begin, index = 0;
    replay::Record r;
    std::string error;
    std::vector<size_t> ending;  // found[] whose slice just ended: what its kernel entry did
    while (replay::next(t, &pos, &r, &error)) {
        r.index = index++;
        for (const size_t i : ending)
            found[i].moves_on |= stops_thread(r, found[i]);
        if (r.k() == trace::Kind::k_syscall) {
            const uint64_t thread = r.field("thread");
            last_syscall[thread] = replay::format(r);
            std::erase_if(waiting_next, [&](size_t i) {
                if (found[i].thread != thread)
                    return false;
                found[i].after = replay::format(r);
                return true;
            });
        }
        if (r.k() != trace::Kind::k_slice)
            continue;
        ending.clear();
        const auto cpu = static_cast<uint32_t>(r.field("cpu"));
        if (cpu >= cpu_time.size())
            break;
        std::erase_if(waiting_target, [&](size_t i) {
            if (found[i].sw.to != cpu)
                return false;
            found[i].ran_to = r.field("thread");
            return true;
        });
        cpu_time[cpu] += r.field("blocks");
        for (size_t i = 0; i < found.size(); ++i) {
            Found& f = found[i];
            if (f.sw.cpu != cpu || f.thread || cpu_time[cpu] < f.sw.at)
                continue;
            f.thread = r.field("thread");
            f.mid_user = r.field("why") == 3;
            ending.push_back(i);
            f.before = last_syscall[f.thread];
            waiting_next.push_back(i);
            waiting_target.push_back(i);
        }
    }
    return found;
}

// What an essential switch did, in the words print_found uses.
const char* what_of(const Found& f) {
    if (f.stay())
        return "stay: cpu {0} kept thread {1} running after its kernel entry (the default would move on)";
    if (f.moves_on)
        return "switch: thread {1} could not run on on cpu {0} (it blocked, yielded or took a timer tick); cpu {2} "
               "ran next{3}";
    if (f.mid_user)
        return "preemption: cpu {0} stopped thread {1} in user code; cpu {2} ran next{3}";
    return "preemption: after thread {1}'s kernel entry on cpu {0}, cpu {2} ran next{3}";
}

void print_found(const std::vector<Found>& found) {
    unsigned n = 0;
    for (const Found& f : found) {
        fmt::print("  {}. ", ++n);
        fmt::print(fmt::runtime(what_of(f)), f.sw.cpu, f.thread, f.sw.to,
                   f.ran_to ? fmt::format(" (thread {})", f.ran_to) : "");
        fmt::print(" (cpu {} at {} blocks)\n", f.sw.cpu, f.sw.at);
        fmt::print("       thread {} between {}\n", f.thread, f.before.empty() ? "its start" : f.before);
        fmt::print("       {:>{}} and {}\n", "", std::to_string(f.thread).size() + 7,
                   f.after.empty() ? "the end of the run" : f.after);
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"anvil-shrink: find the fewest vCPU switches that still make a simulator trace's run fail the "
                 "same way (the same exit status): delta debugging over the trace's switches, then taking out one "
                 "more at a time by moving another (--reach, --step); print them in kernel terms and record that "
                 "run.\n"
                 "Exit status: 0 shrunk (the trace written), 1 the trace's run did not fail or its failure did not "
                 "come back under a script of its own switches, 2 bad arguments or an unusable trace."};
    std::string trace_path, out_path;
    sim::RunFiles files;
    app.add_option("trace", trace_path, "a simulator trace (or pack) of a failing run")->required();
    app.add_option("-o,--out", out_path, "where to write the shrunk run's trace")->required();
    app.add_option("--initramfs", files.initramfs, "the trace's initramfs (default: found by hash)")
        ->check(CLI::ExistingFile);
    app.add_option("--initramfs-search", files.initramfs_search, "directories to look for the initramfs in");
    sim::Moves moves;
    app.add_option("--reach", moves.reach, "how far a switch is moved in the second phase, in basic blocks of its vCPU "
                                           "(0: none moved, nor by --far-reach)")
        ->capture_default_str();
    app.add_option("--step", moves.step, "the steps a switch is moved in, in basic blocks")
        ->capture_default_str()
        ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
    app.add_option("--far-reach", moves.far_reach,
                   "past --reach, how far a switch is moved in coarser steps, in basic blocks (0: not at all)")
        ->capture_default_str();
    app.add_option("--far-step", moves.far_step, "the coarser steps past --reach, in basic blocks")
        ->capture_default_str()
        ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
    if (const std::optional<int> code = cli::parse(app, argc, argv, "anvil-shrink"))
        return *code;

    if (access(out_path.c_str(), F_OK) == 0) {
        fmt::print(stderr, "anvil-shrink: {} exists; remove it or name another --out\n", out_path);
        return cli::kExitUsage;
    }
    replay::Trace trace;
    replay::Summary summary;
    std::string error;
    if (!replay::load(trace_path, &trace, &error) || !replay::validate(trace, &error, &summary)) {
        fmt::print(stderr, "anvil-shrink: {}: {}\n", trace_path, error);
        return cli::kExitUsage;
    }
    if (const std::string why = replay::check_build(trace, ANVIL_BUILD_ID); !why.empty()) {
        fmt::print(stderr, "anvil-shrink: {}: {}\n", trace_path, why);
        return cli::kExitUsage;
    }
    if (trace.header.backend != static_cast<uint32_t>(trace::Backend::kSim) || summary.cut) {
        fmt::print(stderr, "anvil-shrink: {} is {}: shrinking takes a whole simulator trace\n", trace_path,
                   summary.cut ? "cut short" : "a QEMU trace");
        return cli::kExitUsage;
    }
    sim::Config base;
    if (!sim::config_from_trace(trace, summary, &base, &error) || !sim::load_run_files(&files, &trace, &base, &error)) {
        fmt::print(stderr, "anvil-shrink: {}: {}\n", trace_path, error);
        return cli::kExitUsage;
    }
    const int failure = static_cast<int>(summary.end_code & 0xff);
    if (failure == 0) {
        fmt::print(stderr, "anvil-shrink: {}'s run exited 0: there is no failure to keep\n", trace_path);
        return kExitNoShrink;
    }
    base.echo_console = false;
    base.schedule = trace::Schedule::kScript;
    // A candidate that livelocks stops here (exit 124: not the failure).
    base.max_slices = 10 * summary.slices + 100000;
    const std::vector<replay::Switch> all = replay::switches(trace, &error);
    fmt::print("shrink: {} exited {}; its schedule has {} vCPU switches\n", trace_path, failure, all.size());

    uint64_t tried = 0;
    const std::function<bool(const std::vector<replay::Switch>&)> fails = [&](const std::vector<replay::Switch>& s) {
        sim::Config c = base;
        c.script = s;
        const bool same = run_child(c, "") == failure;
        fmt::print(stderr, "\rshrink: {} schedules tried, this one {} switches: {}   ", ++tried, s.size(),
                   same ? "fails" : "passes");
        return same;
    };
    if (!fails(all)) {
        fmt::print(stderr, "\nanvil-shrink: run again as a script of its own {} switches, {} does not exit {}: "
                           "not shrunk\n", all.size(), trace_path, failure);
        return kExitNoShrink;
    }
    const std::vector<replay::Switch> minimal = sim::ddmin(all, fails);
    const uint64_t tried_ddmin = tried;
    const std::vector<replay::Switch> essential = sim::fewer_by_moving(minimal, fails, moves);
    fmt::print(stderr, "\n");
    fmt::print("shrink: delta debugging kept {} switches ({} schedules); moving switches left {} ({} schedules)\n",
               minimal.size(), tried_ddmin, essential.size(), tried - tried_ddmin);

    base.script = essential;
    base.max_slices = 0;
    if (run_child(base, out_path) != failure) {
        fmt::print(stderr, "anvil-shrink: recording the shrunk run to {} failed\n", out_path);
        return cli::kExitUsage;
    }
    replay::Trace shrunk;
    if (!replay::load(out_path, &shrunk, &error)) {
        fmt::print(stderr, "anvil-shrink: {}: {}\n", out_path, error);
        return cli::kExitUsage;
    }
    const std::vector<Found> found = locate(shrunk, essential);
    const auto count = [&](auto is) { return std::count_if(found.begin(), found.end(), is); };
    fmt::print("shrink: {} schedules tried; {} of the {} switches are essential: {} preemptions ({} in user code, {} "
               "at kernel entries), {} switches where the thread could not run on, {} stays (between them a vCPU runs "
               "until its thread blocks, yields or takes a timer tick, then the next one runs)\n",
               tried, essential.size(), all.size(), count([](const Found& f) { return f.preemption(); }),
               count([](const Found& f) { return f.preemption() && f.mid_user; }),
               count([](const Found& f) { return f.preemption() && !f.mid_user; }),
               count([](const Found& f) { return !f.stay() && f.moves_on; }),
               count([](const Found& f) { return f.stay(); }));
    print_found(found);
    fmt::print("shrink: wrote {} (exits {} again): tools/anvil replay {}; tools/anvil debug --trace {}\n", out_path,
               failure, out_path, out_path);
    return 0;
}
