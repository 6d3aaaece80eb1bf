// anvil-sim: boots the Anvil kernel in the deterministic simulator and runs
// the initramfs's init. Its exit status is the code the kernel halted with.
#include "kernel/introspect.h"
#include "hal/sim/test_hooks.h"
#include "replay/cli.h"
#include "replay/trace_reader.h"
#include "sim/machine.h"
#include "sim/schedule_cli.h"
#include "sim/trace_sink.h"

#include <anvil_build_id.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <hal/kernel_entry.h>

#include <csignal>
#include <cstdio>
#include <optional>

int exit_status(const sim::Outcome& out) { return out.status(); }

// SIGINT, SIGTERM or SIGHUP while recording: the machine stops at its next
// slice boundary and the trace is finished there. A second one kills at once
// (the trace's chunks still leave a readable prefix).
volatile std::sig_atomic_t g_stop_signal = 0;
void on_stop_signal(int signal) {
    g_stop_signal = signal;
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    for (const int s : {SIGINT, SIGTERM, SIGHUP})
        sigaction(s, &dfl, nullptr);
}
void catch_stop_signals() {
    struct sigaction sa = {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    for (const int s : {SIGINT, SIGTERM, SIGHUP})
        sigaction(s, &sa, nullptr);
}

int main(int argc, char** argv) {
    CLI::App app{"anvil-sim: run the Anvil kernel in the deterministic simulator.\n"
                 "Exit status: the code init exited with (0-127), 125 if init faulted, 126 on a kernel panic,\n"
                 "127 if boot failed, 122 if every thread is blocked, 124 at --max-slices, 121 on an emulator error,\n"
                 "120 if --replay diverged from the trace, 123 if --replay reached the end of a trace cut short\n"
                 "(every record it holds matched), 119 if --check-invariants found a broken invariant, 128+N if\n"
                 "signal N (SIGHUP, SIGINT, SIGTERM) stopped a --record run (its trace is finished)\n"
                 "(2: bad arguments or files). Files are read whole and must be regular and not empty: the\n"
                 "initramfs at most half the simulated memory (128 MiB with --memory 256), serial input at most\n"
                 "16 MiB, a trace at most 1 GiB."};
    sim::Config config;
    sim::RunFiles files;
    app.add_option("--initramfs", files.initramfs, "CPIO (newc) archive holding init (required unless --replay)")
        ->check(CLI::ExistingFile);
    config.cpus = 4;
    app.add_option("--cpus", config.cpus, "number of vCPUs")->check(CLI::Range(1, 16))->capture_default_str();
    app.add_option("--seed", config.seed, "seed of the vCPU interleaving (0 to 2^64-1)")
        ->transform(cli::unsigned64())
        ->capture_default_str();
    app.add_option("--memory", config.memory_mib, "physical memory in MiB")->check(CLI::Range(32, 4096))->capture_default_str();
    app.add_option("--quantum", config.quantum_blocks, "preemption timer period of each vCPU, in basic blocks")
        ->transform(cli::unsigned64())
        ->check(CLI::Range(uint64_t(1), uint64_t(1) << 40))
        ->capture_default_str();
    app.add_option("--slice", config.slice_max,
                   "longest run of one vCPU before the seeded PRNG picks the next (basic blocks)")
        ->transform(cli::unsigned64())
        ->check(CLI::Range(uint64_t(1), uint64_t(1) << 40))
        ->capture_default_str();
    std::string switches_path;
    sim::add_schedule_options(app, &config, &switches_path);
    bool print_stats = false;
    app.add_flag("--stats", print_stats, "print run figures (slices, kernel entries, IRQs, virtual time, schedule digest) to stderr");
    app.add_option("--max-slices", config.max_slices, "stop after this many slices (0 = no limit)")
        ->transform(cli::unsigned64())
        ->capture_default_str();
    app.add_option("--cmdline", config.cmdline, "kernel command line");
    app.add_option("--serial-input", files.serial_input,
                   "file whose bytes arrive on COM1's receive line (16550 UART, ports 0x3f8-0x3ff, IRQ 4), "
                   "the next one as soon as the guest has read the previous one, or --serial-gap slices later "
                   "(default: no input)");
    uint64_t serial_gap = 0;
    sim::add_serial_gap_option(app, &serial_gap);
    std::string faults;
    app.add_option("--faults", faults,
                   "inject faults, drawn from the seed and recorded in the trace (a replay makes them again): "
                   "comma-separated items kill=NAME[@N|@N..M] (init's service NAME faults at its Nth slice; "
                   "default @1..20), alloc-fail[=N|=N..M] (the Nth kernel allocation after boot fails with "
                   "NO_MEMORY; default 1..2000), irq-drop=P, irq-delay=P:D (each device interrupt lost, or held "
                   "back D slices, with probability P%), uart-drop=P, uart-corrupt=P (each serial input byte lost, "
                   "or changed). kill and alloc-fail may repeat. docs/reliability.md")
        ->check([&config](const std::string& text) {
            std::string error;
            if (!sim::parse_faults(text, &config.faults, &error))
                return error;
            return config.faults.serial_gap ? "serial-gap is not a fault: give --serial-gap N" : std::string();
        });
    std::string record_path, replay_path;
    app.add_option("--record", record_path,
                   "record the run's kernel events to this trace file (format: docs/trace-format.md)");
    app.add_option("--replay", replay_path,
                   "replay a simulator trace exactly: run with its configuration and input, compare every event, "
                   "report the first divergence (exit 120); the run options the trace sets are ignored, with a "
                   "warning naming them. A pack (anvil-trace pack) brings its initramfs; a trace recorded with "
                   "another Unicorn version is refused (exit 2)");
    app.add_option("--initramfs-search", files.initramfs_search,
                   "with --replay and no --initramfs: look for the trace's initramfs (by hash) among the *.cpio "
                   "files of these directories");
    uint64_t refuse_handoff = 0;
    app.add_option("--perturb-handoff", refuse_handoff,
                   "testing aid: the kernel refuses its Nth IPC fast-path handoff (one changed kernel decision), "
                   "so a replay diverges there")
        ->transform(cli::unsigned64());
    app.add_flag("--check-invariants", config.check_invariants,
                 "check the kernel's invariants after every kernel entry; a violation stops the run (exit 119), "
                 "keeps its trace and prints the command that replays it");
    uint64_t leak_at = 0;
    app.add_option("--perturb-leak", leak_at,
                   "testing aid: after the Nth syscall the kernel leaks a reference (a planted bug for "
                   "--check-invariants to find)")
        ->transform(cli::unsigned64());
    app.add_option("--perturb-slice", config.perturb_slice,
                   "testing aid: make slice N (1-based) one basic block longer, so a replay diverges there")
        ->transform(cli::unsigned64());
    if (const std::optional<int> code = cli::parse(app, argc, argv, "anvil-sim"))
        return *code;
    config.faults.serial_gap = serial_gap;
    if (!record_path.empty() && !replay_path.empty()) {
        fmt::print(stderr, "anvil-sim: --record and --replay do not go together\n");
        return cli::kExitUsage;
    }
    std::string error;
    if (replay_path.empty() && !sim::read_switches(switches_path, &config, &error)) {
        fmt::print(stderr, "anvil-sim: {}\n", error);
        return cli::kExitUsage;
    }

    replay::Trace expected;
    if (!replay_path.empty()) {
        if (!replay::load(replay_path, &expected, &error)) {
            fmt::print(stderr, "anvil-sim: cannot replay: {}\n", error);
            return cli::kExitUsage;
        }
        if (const std::string why = replay::check_build(expected, ANVIL_BUILD_ID); !why.empty()) {
            fmt::print(stderr, "anvil-sim: cannot replay {}: {}\n", replay_path, why);
            return cli::kExitUsage;
        }
        replay::Summary summary;
        if (!replay::validate(expected, &error, &summary)) {
            fmt::print(stderr, "anvil-sim: cannot replay {}: {}\n", replay_path, error);
            return cli::kExitUsage;
        }
        const uint64_t perturb = config.perturb_slice;
        if (!sim::config_from_trace(expected, summary, &config, &error)) {
            fmt::print(stderr, "anvil-sim: cannot replay: {}\n", error);
            return cli::kExitUsage;
        }
        config.perturb_slice = perturb;
        // A QEMU trace is followed on the memory asked for; all else comes from the trace.
        const bool qemu = expected.from_qemu();
        const std::string ignored =
            qemu ? cli::given(app, {"--seed", "--cpus", "--quantum", "--slice", "--max-slices", "--cmdline",
                                    "--serial-input", "--serial-gap", "--schedule", "--pct-depth", "--pct-steps",
                                    "--switches", "--faults"})
                 : cli::given(app, {"--seed", "--cpus", "--memory", "--quantum", "--slice", "--max-slices",
                                    "--cmdline", "--serial-input", "--serial-gap", "--schedule", "--pct-depth",
                                    "--pct-steps", "--switches", "--faults"});
        if (!ignored.empty())
            fmt::print(stderr,
                       "anvil-sim: warning: ignoring {}: a replay runs with the trace's seed and configuration "
                       "(anvil-trace stats {} shows them)\n",
                       ignored, replay_path);
    }
    if (!sim::load_run_files(&files, replay_path.empty() ? nullptr : &expected, &config, &error)) {
        fmt::print(stderr, "anvil-sim: {}{}\n", replay_path.empty() ? "" : "cannot replay: ", error);
        return cli::kExitUsage;
    }
    if (!sim::check_fault_services(config.faults, config.initramfs, &error)) {
        fmt::print(stderr, "anvil-sim: {}{}\n", replay_path.empty() ? "" : "cannot replay: ", error);
        return cli::kExitUsage;
    }

    sim::Machine machine(config);
    if (!replay_path.empty() && expected.cut)
        fmt::print(stderr, "anvil-sim: {} was {}: replaying what it holds\n", replay_path, expected.cut_text());
    if (!replay_path.empty() && expected.from_qemu()) {
        uint64_t followed = 0;
        const sim::Outcome out = machine.follow(expected, &followed);
        if (out.kind == sim::Outcome::Kind::kHalted) {
            fmt::print(stderr,
                       "anvil-sim: schedule-following replay of a QEMU trace: followed {} kernel entries in the "
                       "trace's order; the run exited {} (what this does and does not guarantee: "
                       "docs/replay.md)\n",
                       followed, out.exit_code);
            return 0;
        }
        fmt::print(stderr, "anvil-sim: {}\n", out.message);
        return exit_status(out);
    }
    sim::FileTraceSink file_sink;
    sim::ReplaySink replay_sink(expected);
    // Checking invariants always records, so that a violation can be replayed;
    // the trace is kept only then.
    const bool auto_record = config.check_invariants && record_path.empty() && replay_path.empty();
    if (auto_record)
        record_path = fmt::format("anvil-check-seed-{}.atrace", config.seed);
    if (!record_path.empty()) {
        if (!file_sink.open(record_path, &error)) {
            fmt::print(stderr, "anvil-sim: {}\n", error);
            return cli::kExitUsage;
        }
        machine.set_trace_sink(&file_sink);
        catch_stop_signals();
        machine.set_stop_signal(&g_stop_signal);
    } else if (!replay_path.empty()) {
        replay_sink.ctx = &machine;
        replay_sink.on_diverge = [](void* m) { static_cast<sim::Machine*>(m)->request_halt(ANVIL_EXIT_DIVERGED); };
        machine.set_trace_sink(&replay_sink);
    }
    sim::set_test_hooks({.leak_after_syscall = leak_at, .refuse_handoff = refuse_handoff});
    const sim::Outcome out = machine.run();
    if (refuse_handoff) {
        if (const uint64_t at = sim::refused_handoff_record())
            fmt::print(stderr, "anvil-sim: perturbation: IPC handoff #{} refused at record #{}\n", refuse_handoff, at);
        else
            fmt::print(stderr, "anvil-sim: perturbation: the run made fewer than {} IPC handoffs\n", refuse_handoff);
    }
    int status = exit_status(out);
    if (out.kind != sim::Outcome::Kind::kHalted && out.kind != sim::Outcome::Kind::kTraceEnd)
        fmt::print(stderr, "anvil-sim: {}\n", out.message);
    // Ends the trace if the kernel did not (idle, slice limit, emulator error).
    kernel::trace_finish(status);
    if (print_stats) {
        const sim::Stats st = machine.stats();
        fmt::print(stderr,
                   "anvil-sim: stats: seed {} cpus {} slices {} kernel_entries {} syscalls {} timer_interrupts {} "
                   "irqs {} virtual_time {} schedule_digest {:016x}\n",
                   config.seed, config.cpus, st.slices, st.kernel_entries, st.syscalls, st.timer_interrupts,
                   st.irqs, st.virtual_time, st.schedule_digest);
    }
    if (out.kind == sim::Outcome::Kind::kInvariant && replay_path.empty()) {
        // The testing aids change the run, so the replay needs them too.
        std::string aids;
        if (leak_at)
            aids += fmt::format(" --perturb-leak {}", leak_at);
        if (refuse_handoff)
            aids += fmt::format(" --perturb-handoff {}", refuse_handoff);
        if (config.perturb_slice)
            aids += fmt::format(" --perturb-slice {}", config.perturb_slice);
        fmt::print(stderr,
                   "anvil-sim: the run's trace is {}; replay it with: tools/anvil replay {} --check-invariants{}\n",
                   record_path, record_path, aids);
    }
    if (auto_record && out.kind != sim::Outcome::Kind::kInvariant) {
        std::remove(record_path.c_str());
    } else if (!record_path.empty()) {
        if (!file_sink.error().empty()) {
            fmt::print(stderr, "anvil-sim: {}\n", file_sink.error());
            return cli::kExitUsage;
        }
        const uint64_t records = kernel::trace_records();
        fmt::print(stderr, "anvil-sim: recorded {} records, {} bytes ({:.1f} bytes per record) to {}\n", records,
                   file_sink.bytes(), records ? double(file_sink.bytes()) / double(records) : 0.0, record_path);
    }
    if (config.check_invariants)
        fmt::print(stderr, "anvil-sim: {} invariant checks\n", kernel::invariant_checks());
    if (!replay_path.empty() && out.kind != sim::Outcome::Kind::kInvariant) {
        if (replay_sink.diverged()) {
            fmt::print(stderr, "anvil-sim: {}", replay_sink.report());
            return ANVIL_EXIT_DIVERGED;
        }
        if (out.kind == sim::Outcome::Kind::kTraceEnd && replay_sink.complete()) {
            fmt::print(stderr, "anvil-sim: the trace ends here (cut short): {} records replayed, all matched\n",
                       expected.cut_records);
            return ANVIL_EXIT_CUT_SHORT;
        }
        if (!replay_sink.complete()) {
            fmt::print(stderr, "anvil-sim: replay ended after {} of the trace's {} bytes without a difference\n",
                       replay_sink.produced_size(), expected.bytes.size());
            return ANVIL_EXIT_DIVERGED;
        }
        fmt::print(stderr, "anvil-sim: replay identical: every record of {} matched (the run exited {}{})\n",
                   replay_path, status,
                   sim::stop_signal_of(status) ? ", stopped where " + sim::signal_name(sim::stop_signal_of(status)) +
                                                     " stopped the recording"
                                               : "");
        return 0;
    }
    return status;
}
