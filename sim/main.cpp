// anvil-sim: boots the Anvil kernel in the deterministic simulator and runs
// the initramfs's init. Its exit status is the code the kernel halted with.
#include "sim/machine.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace {

// Reads a whole file; on failure, `error` says why (errno's text).
bool read_file(const std::string& path, std::vector<uint8_t>* bytes, std::string* error) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
        *error = std::strerror(errno);
        return false;
    }
    uint8_t buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        bytes->insert(bytes->end(), buf, buf + n);
    const bool ok = !std::ferror(f);
    if (!ok)
        *error = std::strerror(errno);
    std::fclose(f);
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"anvil-sim: run the Anvil kernel in the deterministic simulator.\n"
                 "Exit status: the code init exited with (0-127), 125 if init faulted, 126 on a kernel panic,\n"
                 "127 if boot failed, 122 if every thread is blocked, 124 at --max-slices, 121 on an emulator error."};
    sim::Config config;
    std::string initramfs_path;
    app.add_option("--initramfs", initramfs_path, "CPIO (newc) archive holding init")->required()->check(CLI::ExistingFile);
    config.cpus = 4;
    app.add_option("--cpus", config.cpus, "number of vCPUs")->check(CLI::Range(1, 16))->capture_default_str();
    app.add_option("--seed", config.seed, "seed of the vCPU interleaving")->capture_default_str();
    app.add_option("--memory", config.memory_mib, "physical memory in MiB")->check(CLI::Range(32, 4096))->capture_default_str();
    app.add_option("--quantum", config.quantum_blocks, "preemption timer period of each vCPU, in basic blocks")
        ->check(CLI::Range(uint64_t(1), uint64_t(1) << 40))->capture_default_str();
    app.add_option("--slice", config.slice_max,
                   "longest run of one vCPU before the seeded PRNG picks the next (basic blocks)")
        ->check(CLI::Range(uint64_t(1), uint64_t(1) << 40))->capture_default_str();
    bool print_stats = false;
    app.add_flag("--stats", print_stats, "print run figures (slices, kernel entries, IRQs, virtual time, schedule digest) to stderr");
    app.add_option("--max-slices", config.max_slices, "stop after this many slices (0 = no limit)")->capture_default_str();
    app.add_option("--cmdline", config.cmdline, "kernel command line");
    std::string serial_input_path;
    app.add_option("--serial-input", serial_input_path,
                   "file whose bytes arrive on COM1's receive line (16550 UART, ports 0x3f8-0x3ff, IRQ 4), "
                   "the next one as soon as the guest has read the previous one (default: no input)");
    CLI11_PARSE(app, argc, argv);

    std::ifstream in(initramfs_path, std::ios::binary);
    if (!in) {
        fmt::print(stderr, "anvil-sim: cannot read initramfs '{}'\n", initramfs_path);
        return 2;
    }
    config.initramfs.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    std::string error;
    if (!serial_input_path.empty() && !read_file(serial_input_path, &config.serial_input, &error)) {
        fmt::print(stderr, "anvil-sim: cannot read serial input '{}': {}; give --serial-input a readable file\n",
                   serial_input_path, error);
        return 2;
    }

    sim::Machine machine(config);
    const sim::Outcome out = machine.run();
    if (print_stats) {
        const sim::Stats st = machine.stats();
        fmt::print(stderr,
                   "anvil-sim: stats: seed {} cpus {} slices {} kernel_entries {} syscalls {} timer_interrupts {} "
                   "irqs {} virtual_time {} schedule_digest {:016x}\n",
                   config.seed, config.cpus, st.slices, st.kernel_entries, st.syscalls, st.timer_interrupts,
                   st.irqs, st.virtual_time, st.schedule_digest);
    }
    switch (out.kind) {
    case sim::Outcome::Kind::kHalted: return out.exit_code;
    case sim::Outcome::Kind::kIdle: fmt::print(stderr, "anvil-sim: {}\n", out.message); return 122;
    case sim::Outcome::Kind::kSliceLimit: fmt::print(stderr, "anvil-sim: {}\n", out.message); return 124;
    case sim::Outcome::Kind::kEmulatorError: fmt::print(stderr, "anvil-sim: {}\n", out.message); return 121;
    }
    return 121;
}
