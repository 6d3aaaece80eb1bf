// anvil-bench-debug (tools/anvil bench debug): how long the debugger's moves
// take, each beside a plain run of the simulator to the same point, and what
// its checkpoints cost in memory (docs/benchmarks.md, "The debugger").
//
// Two workloads, both live runs (a run is deterministic, so the same as
// replaying its trace):
//  - the race demo (seed 2, 4 vCPUs), inside the stretch where both processes
//    increment the shared counter: stepi, reverse-stepi, next over a
//    syscall, prev (back one kernel event), continue and reverse-continue to
//    a watchpoint on the counter;
//  - the syscall fuzzer with enough operations for over a million kernel
//    events: continue to a breakpoint 10,000 events ahead, going back 10,000
//    events, and going to events spread over the whole run, in a shuffled
//    order (forwards and backwards).
// The baselines are fresh simulator runs, from boot, to the same step: what
// getting there would cost without checkpoints.
#include "replay/cli.h"
#include "replay/timeline.h"
#include "sim/machine.h"

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <fmt/core.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <dirent.h>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace {

// Host time, for the figures only: nothing the simulated runs do depends on
// it (they are the same runs, whatever the clock says).
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// One figure: the debugger's times for a move and the plain runs to the same steps.
struct Figure {
    std::string what;
    std::vector<double> ms;
    std::vector<uint64_t> steps;  // where each move ended (for the baseline)
    std::vector<double> baseline_ms;
    double target_ms;
    bool fuzz = false;  // the fuzzer's run (else the race's)
};

// Proportional set size, in KiB, of this process and its descendants (the
// debugger's worker, checkpoints and views), and how many there are.
uint64_t session_pss_kib(int* processes) {
    const pid_t self = getpid();
    std::vector<pid_t> all;
    if (DIR* d = opendir("/proc")) {
        while (dirent* e = readdir(d)) {
            const pid_t pid = static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10));
            if (pid <= 0)
                continue;
            // Walk up the parents: ours if we are among them.
            for (pid_t p = pid; p > 1;) {
                if (p == self) {
                    all.push_back(pid);
                    break;
                }
                std::ifstream stat(fmt::format("/proc/{}/stat", p));
                std::string line;
                std::getline(stat, line);
                const size_t close = line.rfind(')');
                if (close == std::string::npos)
                    break;
                int ppid = 0;
                char state = 0;
                if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) != 2)
                    break;
                p = ppid;
            }
        }
        closedir(d);
    }
    uint64_t kib = 0;
    for (pid_t pid : all) {
        std::ifstream in(fmt::format("/proc/{}/smaps_rollup", pid));
        std::string key;
        uint64_t value = 0;
        while (in >> key) {
            if (key == "Pss:" && in >> value) {
                kib += value;
                break;
            }
        }
    }
    *processes = static_cast<int>(all.size());
    return kib;
}

// A plain simulator run from boot to `steps` steps, in a child process (one
// machine per process); its wall-clock time in ms.
double plain_run_ms(const sim::Config& config, uint64_t steps) {
    std::fflush(stdout);
    const Clock::time_point t0 = Clock::now();
    const pid_t pid = fork();
    if (pid == 0) {
        sim::Config c = config;
        c.echo_console = false;
        sim::Machine m(c);
        sim::Outcome out;
        bool more = m.start(&out);
        for (uint64_t i = 0; more && i < steps; ++i)
            more = m.step(&out);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return ms_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"anvil-bench-debug: median latencies of the debugger's moves (stepi, reverse-stepi, next, prev,\n"
                 "continue and reverse-continue to a watchpoint, 10,000 events ahead and back, jumps anywhere in a\n"
                 "run of over a million events), each beside a plain simulator run to the same point, and the\n"
                 "checkpoints' memory. Prints figures only; exit 0, or 2 for bad arguments or files."};
    std::string race_path, fuzz_path;
    unsigned rounds = 7;
    uint64_t fuzz_ops = 45000;
    app.add_option("--race", race_path, "the race demo's initramfs (build/userspace/initramfs-race.cpio)")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--fuzz", fuzz_path, "the syscall fuzzer's initramfs (build/userspace/initramfs-fuzz.cpio)")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--rounds", rounds, "repetitions of each move (median)")->check(CLI::Range(1u, 100u))
        ->capture_default_str();
    app.add_option("--fuzz-ops", fuzz_ops, "the fuzzer's operations (45,000: about 1.06 million events)")
        ->check(CLI::Range(uint64_t(1000), uint64_t(10000000)))
        ->capture_default_str();
    if (const std::optional<int> code = cli::parse(app, argc, argv, "anvil-bench-debug"))
        return *code;

    // The workers print the console and the command answers on stdout: the
    // figures go to the real stdout, everything else to /dev/null.
    std::fflush(stdout);
    const int out_fd = dup(STDOUT_FILENO);
    std::FILE* out = fdopen(out_fd, "w");
    const int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, STDOUT_FILENO);
    auto progress = [&](const std::string& s) {
        fmt::print(stderr, "anvil-bench-debug: {}\n", s);
    };

    std::vector<Figure> figures;
    int cp_processes = 0;
    uint64_t cp_kib = 0;
    uint64_t fuzz_events = 0;
    sim::Config race_config, fuzz_config;
    {
        sim::RunFiles files;
        files.initramfs = race_path;
        std::string error;
        race_config.cpus = 4;
        race_config.seed = 2;
        if (!sim::load_run_files(&files, nullptr, &race_config, &error)) {
            fmt::print(stderr, "anvil-bench-debug: {}\n", error);
            return cli::kExitUsage;
        }
        files.initramfs = fuzz_path;
        fuzz_config.cpus = 4;
        fuzz_config.cmdline = fmt::format("fuzz.ops={}", fuzz_ops);
        if (!sim::load_run_files(&files, nullptr, &fuzz_config, &error)) {
            fmt::print(stderr, "anvil-bench-debug: {}\n", error);
            return cli::kExitUsage;
        }
    }

    // ---- The race: small moves inside the increments ----
    {
        progress("the race demo: stepping inside the increments");
        replay::DebugOptions o;
        o.config = race_config;
        replay::Timeline t(o);
        // race's main thread; its ids follow the objects init makes first, so
        // a change there moves it (and event 516 must stay between the copy's
        // vma_map and its exit).
        constexpr uint64_t kRace = 34;
        bool reached = false;
        if (!t.start() || !t.goto_event(516, &reached) || !reached || !t.set_focus(kRace)) {
            fmt::print(stderr, "anvil-bench-debug: the race demo did not reach its increments\n");
            return 1;
        }
        auto measure = [&](const std::string& what, double target, const std::function<bool()>& move) {
            Figure f{what, {}, {}, {}, target};
            for (unsigned i = 0; i < rounds; ++i) {
                const Clock::time_point t0 = Clock::now();
                if (!move())
                    break;
                f.ms.push_back(ms_since(t0));
                f.steps.push_back(t.position().steps);
            }
            figures.push_back(f);
        };
        t.stepi(kRace, 1);  // into the slice
        measure("stepi", 20, [&] { return t.stepi(kRace, 1).has_value(); });
        measure("reverse-stepi", 20, [&] { return t.reverse_stepi(kRace).has_value(); });
        measure("next (over a syscall)", 50, [&] { return t.leave_view() && t.execute("next"); });
        measure("prev (back one kernel event)", 50,
                [&] { return t.go(replay::Position{t.prev_stop(), 0, false}); });
        std::string why;
        if (!t.set_watches({replay::Watch{replay::Watch::Type::kWrite, kRace, 0x200000000000, 8, false}}, &why)) {
            fmt::print(stderr, "anvil-bench-debug: cannot watch the race's counter: {}\n", why);
            return 1;
        }
        measure("continue to a watchpoint", 50, [&] { return t.cont(false, -1).has_value(); });
        measure("reverse-continue to a watchpoint", 50, [&] { return t.reverse_continue().has_value(); });
    }

    // ---- The fuzzer: long moves in a run of over a million events ----
    {
        progress(fmt::format("the syscall fuzzer ({} operations): running to its end", fuzz_ops));
        replay::DebugOptions o;
        o.config = fuzz_config;
        replay::Timeline t(o);
        bool reached = false;
        if (!t.start() || !t.goto_event(~0ull - 1, &reached)) {
            fmt::print(stderr, "anvil-bench-debug: the fuzzer's run did not start\n");
            return 1;
        }
        // The run's length in events: the last event goto reaches.
        uint64_t lo = 0, hi = 1ull << 26;
        while (lo + 1 < hi) {  // the largest event that exists (the run is over: no stepping)
            const uint64_t mid = (lo + hi) / 2;
            bool r = false;
            if (!t.goto_event(mid, &r))
                return 1;
            (r ? lo : hi) = mid;
        }
        fuzz_events = lo + 1;
        progress(fmt::format("{} events; jumping", fuzz_events));
        const uint64_t mid = fuzz_events / 2;
        Figure ahead{"continue to a breakpoint 10,000 events ahead", {}, {}, {}, 1000, true};
        Figure back{"back 10,000 events (goto event)", {}, {}, {}, 1000, true};
        for (unsigned i = 0; i < rounds; ++i) {
            const uint64_t from = mid + i * 20000;
            if (!t.goto_event(from, &reached))
                return 1;
            t.set_breakpoints({replay::debug::Breakpoint{replay::debug::Breakpoint::Kind::kEvent, from + 10000, 0}});
            Clock::time_point t0 = Clock::now();
            if (!t.execute("continue"))
                return 1;
            ahead.ms.push_back(ms_since(t0));
            ahead.steps.push_back(t.position().steps);
            t.set_breakpoints({});
            t0 = Clock::now();
            if (!t.goto_event(from, &reached))
                return 1;
            back.ms.push_back(ms_since(t0));
            back.steps.push_back(t.position().steps);
        }
        figures.push_back(ahead);
        figures.push_back(back);
        // Events spread over the run, visited in a shuffled order.
        Figure jump{fmt::format("go to any event of {} (goto event)", fuzz_events), {}, {}, {}, 1000, true};
        const unsigned jumps = std::max(rounds * 3, 12u);
        uint64_t x = 0x9e3779b97f4a7c15ull;
        for (unsigned i = 0; i < jumps; ++i) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            const uint64_t target = x % fuzz_events;
            const Clock::time_point t0 = Clock::now();
            if (!t.goto_event(target, &reached))
                return 1;
            jump.ms.push_back(ms_since(t0));
            jump.steps.push_back(t.position().steps);
        }
        figures.push_back(jump);
        cp_kib = session_pss_kib(&cp_processes);
    }

    // ---- Baselines: plain runs to the same steps (no debugger running now) ----
    signal(SIGCHLD, SIG_DFL);
    progress("baselines: plain simulator runs to the same points");
    for (Figure& f : figures) {
        const sim::Config& c = f.fuzz ? fuzz_config : race_config;
        for (size_t i = 0; i < f.steps.size() && i < 5; ++i)
            f.baseline_ms.push_back(plain_run_ms(c, f.steps[i]));
    }

    fmt::print(out, "debugger moves: median of {} (ms), beside a plain simulator run from boot to the same point\n",
               rounds);
    fmt::print(out, "{:<52} {:>10} {:>10} {:>12} {:>8}\n", "move", "median", "worst", "plain run", "target");
    for (const Figure& f : figures) {
        const double worst = f.ms.empty() ? 0 : *std::max_element(f.ms.begin(), f.ms.end());
        fmt::print(out, "{:<52} {:>10.1f} {:>10.1f} {:>12.1f} {:>8}\n", f.what, median(f.ms), worst,
                   median(f.baseline_ms), fmt::format("<= {:.0f}", f.target_ms));
    }
    fmt::print(out, "checkpoints of the fuzzer's session: {} processes, {:.0f} MiB proportional set size\n",
               cp_processes, cp_kib / 1024.0);
    std::fclose(out);
    return 0;
}
