// anvil-debug: the step debugger over a simulated run (docs/debugging.md).
#include "kernel/boot/cpio.h"
#include "kernel/boot/elf.h"
#include "kernel/trace/events.h"
#include "replay/trace_reader.h"
#include "sim/debugger.h"

#include <CLI/CLI.hpp>
#include <anvil_build_id.h>
#include <fmt/core.h>

int main(int argc, char** argv) {
    CLI::App app{"anvil-debug: step through a simulated Anvil run at kernel events.\n"
                 "Commands come from the terminal, or from --script FILE (one per line; `help` lists them)."};
    sim::DebugOptions options;
    sim::Config& config = options.config;
    config.cpus = 4;
    std::string initramfs_path, trace_path, script_path, serial_input_path;
    app.add_option("--initramfs", initramfs_path, "CPIO archive holding init (with --trace: found by hash if omitted)")
        ->check(CLI::ExistingFile);
    std::vector<std::string> search_dirs;
    app.add_option("--initramfs-search", search_dirs, "with --trace and no --initramfs: directories to look in");
    app.add_option("--cpus", config.cpus, "number of vCPUs")->check(CLI::Range(1, 16))->capture_default_str();
    app.add_option("--seed", config.seed, "seed of the vCPU interleaving")->capture_default_str();
    app.add_option("--quantum", config.quantum_blocks, "preemption timer period, in basic blocks")
        ->capture_default_str();
    app.add_option("--slice", config.slice_max, "longest slice of one vCPU, in basic blocks")->capture_default_str();
    app.add_option("--cmdline", config.cmdline, "kernel command line");
    app.add_option("--serial-input", serial_input_path, "bytes for COM1's receive line")->check(CLI::ExistingFile);
    app.add_option("--trace", trace_path,
                   "debug the run a simulator trace recorded: its configuration and input, checked record by record")
        ->check(CLI::ExistingFile);
    app.add_option("--script", script_path, "read commands from this file instead of the terminal")
        ->check(CLI::ExistingFile);
    app.add_option("--gdb", options.gdb_port,
                   "serve the GDB remote protocol on 127.0.0.1:PORT instead of the command loop (0: any free port, "
                   "printed)")
        ->check(CLI::Range(0, 65535));
    app.add_option("--program", options.program,
                   "with --gdb: the initramfs program being debugged (breakpoints fire only where its code is)");
    bool syscalls_xml = false;
    app.add_flag("--gdb-syscalls-xml", syscalls_xml,
                 "print Anvil's syscall table in GDB's syscall XML format and exit (for `catch syscall NAME`)");
    CLI11_PARSE(app, argc, argv);
    if (syscalls_xml) {
        fmt::print("{}", sim::gdb_syscalls_xml());
        return 0;
    }

    std::string error;
    replay::Trace trace;
    if (!trace_path.empty()) {
        replay::Summary summary;
        if (!replay::load(trace_path, &trace, &error) || !replay::validate(trace, &error, &summary)) {
            fmt::print(stderr, "anvil-debug: {}\n", error);
            return 2;
        }
        if (const std::string why = replay::check_build(trace, ANVIL_BUILD_ID); !why.empty()) {
            fmt::print(stderr, "anvil-debug: {}: {}\n", trace_path, why);
            return 2;
        }
        if (trace.header.backend != static_cast<uint32_t>(trace::Backend::kSim)) {
            fmt::print(stderr, "anvil-debug: {} is a QEMU trace; the debugger takes simulator traces\n", trace_path);
            return 2;
        }
        if (!sim::config_from_trace(trace, summary, &config, &error)) {
            fmt::print(stderr, "anvil-debug: {}: {}\n", trace_path, error);
            return 2;
        }
        options.trace = &trace;
    }
    if (initramfs_path.empty() && options.trace)
        initramfs_path = replay::find_initramfs(search_dirs, trace.header.initramfs_hash);
    if (initramfs_path.empty()) {
        fmt::print(stderr, "anvil-debug: {}\n",
                   options.trace ? "no initramfs with the trace's hash found; give --initramfs"
                                 : "--initramfs is required");
        return 2;
    }
    if (!replay::read_file(initramfs_path, &config.initramfs, &error)) {
        fmt::print(stderr, "anvil-debug: cannot read {}: {}\n", initramfs_path, error);
        return 2;
    }
    if (options.trace &&
        trace::fnv1a(trace::kFnvOffset, config.initramfs.data(), config.initramfs.size()) !=
            trace.header.initramfs_hash) {
        fmt::print(stderr, "anvil-debug: {} is not the initramfs {} was recorded with\n", initramfs_path, trace_path);
        return 2;
    }
    if (!serial_input_path.empty() && !options.trace &&
        !replay::read_file(serial_input_path, &config.serial_input, &error)) {
        fmt::print(stderr, "anvil-debug: cannot read {}: {}\n", serial_input_path, error);
        return 2;
    }
    if (!options.program.empty()) {
        kernel::cpio::Entry e;
        const char* why = nullptr;
        kernel::elf::Image image;
        if (kernel::cpio::find(config.initramfs.data(), config.initramfs.size(), options.program.c_str(), &e, &why) !=
            ANVIL_OK) {
            fmt::print(stderr, "anvil-debug: no program \"{}\" in {}{}{}\n", options.program, initramfs_path,
                       why ? ": " : "", why ? why : "");
            return 2;
        }
        if (kernel::elf::parse(e.data, e.size, &image, &why) != ANVIL_OK) {
            fmt::print(stderr, "anvil-debug: {} in {} is not a program: {}\n", options.program, initramfs_path, why);
            return 2;
        }
        options.program_elf.assign(e.data, e.data + e.size);
    }
    std::FILE* script = nullptr;
    if (!script_path.empty()) {
        script = std::fopen(script_path.c_str(), "r");
        if (!script) {
            fmt::print(stderr, "anvil-debug: cannot read {}\n", script_path);
            return 2;
        }
        options.commands = script;
        options.echo_commands = true;
    }
    const int status = sim::debug_main(options);
    if (script)
        std::fclose(script);
    return status;
}
