// anvil-debug: the step debugger over a simulated run (docs/debugging.md).
#include "kernel/introspect.h"
#include "kernel/trace/events.h"
#include "replay/cli.h"
#include "replay/trace_reader.h"
#include "replay/debug/front_end.h"
#include "replay/debug/gdb_target.h"
#include "replay/timeline.h"
#include "sim/schedule_cli.h"

#include <CLI/CLI.hpp>
#include <anvil_build_id.h>
#include <fmt/core.h>
#include <sys/stat.h>

namespace {

// Runs the command loop, or the GDB server, over the run; returns the exit
// status (2 if the simulator could not start).
int debug(const replay::DebugOptions& options) {
    replay::Timeline timeline(options);
    if (!timeline.start()) {
        fmt::print(stderr, "anvil-debug: the simulator could not start\n");
        return 2;
    }
    if (options.gdb_port >= 0)
        return replay::debug::gdb_serve(timeline, options.gdb_port);
    return replay::debug::run_command_loop(timeline);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"anvil-debug: step through a simulated Anvil run at kernel events.\n"
                 "Commands come from the terminal, or from --script FILE (one per line; `help` lists them).\n"
                 "Exit status: 0 when the session ends (quit, the end of the script, gdb detaching); 2 for bad\n"
                 "arguments or files (bounded as for anvil-sim: see anvil-sim --help), or if the simulator\n"
                 "cannot start or its worker dies."};
    replay::DebugOptions options;
    sim::Config& config = options.config;
    config.cpus = 4;
    sim::RunFiles files;
    std::string trace_path, script_path;
    app.add_option("--initramfs", files.initramfs, "CPIO archive holding init (with --trace: found by hash if omitted)")
        ->check(CLI::ExistingFile);
    app.add_option("--initramfs-search", files.initramfs_search,
                   "with --trace and no --initramfs: directories to look in");
    app.add_option("--cpus", config.cpus, "number of vCPUs")->check(CLI::Range(1, 16))->capture_default_str();
    app.add_option("--seed", config.seed, "seed of the vCPU interleaving (0 to 2^64-1)")
        ->transform(cli::unsigned64())
        ->capture_default_str();
    app.add_option("--quantum", config.quantum_blocks, "preemption timer period, in basic blocks")
        ->transform(cli::unsigned64())
        ->check(CLI::Range(uint64_t(1), uint64_t(1) << 40))
        ->capture_default_str();
    app.add_option("--slice", config.slice_max, "longest slice of one vCPU, in basic blocks")
        ->transform(cli::unsigned64())
        ->check(CLI::Range(uint64_t(1), uint64_t(1) << 40))
        ->capture_default_str();
    std::string switches_path;
    sim::add_schedule_options(app, &config, &switches_path);
    app.add_option("--cmdline", config.cmdline, "kernel command line");
    app.add_option("--serial-input", files.serial_input, "bytes for COM1's receive line")->check(CLI::ExistingFile);
    uint64_t serial_gap = 0;
    sim::add_serial_gap_option(app, &serial_gap);
    app.add_option("--trace", trace_path,
                   "debug the run a trace (or a pack of one, with its initramfs) recorded: a simulator trace with its "
                   "configuration and input, checked record by record; a QEMU trace followed kernel entry by kernel "
                   "entry (no stepi, reverse-stepi or memory watchpoints, no --gdb)")
        ->check(CLI::ExistingFile);
    app.add_option("--script", script_path,
                   "read commands from this file (or a pipe) instead of the terminal; not a device")
        ->check(CLI::ExistingFile);
    app.add_option("--gdb", options.gdb_port,
                   "serve the GDB remote protocol on 127.0.0.1:PORT instead of the command loop (0: any free port, "
                   "printed)")
        ->check(CLI::Range(0, 65535));
    app.add_option("--program", options.program,
                   "with --gdb: run to the start of the first process that runs this initramfs program before "
                   "gdb attaches, and show gdb that process first");
    app.add_option("--symbols", options.symbol_dirs,
                   "with --gdb: directories holding the unstripped programs the initramfs was packed from "
                   "(gdb reads each process's symbols there; default: the initramfs's directory)")
        ->check(CLI::ExistingDirectory);
    bool syscalls_xml = false;
    app.add_flag("--gdb-syscalls-xml", syscalls_xml,
                 "print Anvil's syscall table in GDB's syscall XML format and exit (for `catch syscall NAME`)");
    if (const std::optional<int> code = cli::parse(app, argc, argv, "anvil-debug"))
        return *code;
    if (syscalls_xml) {
        fmt::print("{}", replay::debug::gdb::syscalls_xml());
        return 0;
    }

    config.faults.serial_gap = serial_gap;
    std::string error;
    if (trace_path.empty() && !sim::read_switches(switches_path, &config, &error)) {
        fmt::print(stderr, "anvil-debug: {}\n", error);
        return cli::kExitUsage;
    }
    replay::Trace trace;
    if (!trace_path.empty()) {
        replay::Summary summary;
        if (!replay::load(trace_path, &trace, &error) || !replay::validate(trace, &error, &summary)) {
            fmt::print(stderr, "anvil-debug: {}\n", error);
            return cli::kExitUsage;
        }
        if (const std::string why = replay::check_build(trace, ANVIL_BUILD_ID); !why.empty()) {
            fmt::print(stderr, "anvil-debug: {}: {}\n", trace_path, why);
            return cli::kExitUsage;
        }
        if (trace.from_qemu() && options.gdb_port >= 0) {
            fmt::print(stderr,
                       "anvil-debug: {} is a QEMU trace: its run is followed from kernel entry to kernel entry, "
                       "without the instruction stepping gdb needs; debug it without --gdb (docs/debugging.md, "
                       "\"QEMU traces\")\n",
                       trace_path);
            return cli::kExitUsage;
        }
        if (!sim::config_from_trace(trace, summary, &config, &error)) {
            fmt::print(stderr, "anvil-debug: {}: {}\n", trace_path, error);
            return cli::kExitUsage;
        }
        if (trace.from_qemu())
            fmt::print(stderr,
                       "anvil-debug: {} is a QEMU trace: the simulator follows it (docs/replay.md), one kernel "
                       "entry a step, with every event and object to look at; stepi, reverse-stepi and memory "
                       "watchpoints are not available\n",
                       trace_path);
        options.trace = &trace;
        const std::string ignored =
            cli::given(app, {"--seed", "--cpus", "--quantum", "--slice", "--cmdline", "--serial-input",
                              "--serial-gap", "--schedule", "--pct-depth", "--pct-steps", "--switches"});
        if (!ignored.empty())
            fmt::print(stderr,
                       "anvil-debug: warning: ignoring {}: the trace's run has its own seed and configuration "
                       "(anvil-trace stats {} shows them)\n",
                       ignored, trace_path);
    }
    if (!sim::load_run_files(&files, options.trace, &config, &error)) {
        fmt::print(stderr, "anvil-debug: {}\n", error);
        return cli::kExitUsage;
    }
    const std::string& initramfs_path = files.initramfs;
    if (!options.program.empty()) {
        kernel::cpio::Entry e;
        const char* why = nullptr;
        kernel::elf::Image image;
        if (kernel::cpio::find(config.initramfs.data(), config.initramfs.size(), options.program.c_str(), &e, &why) !=
            ANVIL_OK) {
            fmt::print(stderr, "anvil-debug: no program \"{}\" in {}{}{}\n", options.program, initramfs_path,
                       why ? ": " : "", why ? why : "");
            return cli::kExitUsage;
        }
        if (kernel::elf::parse(e.data, e.size, &image, &why) != ANVIL_OK) {
            fmt::print(stderr, "anvil-debug: {} in {} is not a program: {}\n", options.program, initramfs_path, why);
            return cli::kExitUsage;
        }
    }
    if (options.symbol_dirs.empty()) {
        const size_t slash = initramfs_path.rfind('/');
        options.symbol_dirs.push_back(slash == std::string::npos ? "." : initramfs_path.substr(0, slash));
    }
    std::FILE* script = nullptr;
    if (!script_path.empty()) {
        // A pipe is a fine script (--script <(...)); a device such as /dev/zero never ends.
        struct stat st;
        if (stat(script_path.c_str(), &st) == 0 && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
            fmt::print(stderr, "anvil-debug: --script {} is a device; give a file of commands\n", script_path);
            return cli::kExitUsage;
        }
        script = std::fopen(script_path.c_str(), "r");
        if (!script) {
            fmt::print(stderr, "anvil-debug: cannot read {}\n", script_path);
            return cli::kExitUsage;
        }
        options.commands = script;
        options.echo_commands = true;
    }
    const int status = debug(options);
    if (script)
        std::fclose(script);
    return status;
}
