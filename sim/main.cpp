// anvil-sim: boots the Anvil kernel in the deterministic simulator and runs
// the initramfs's init. Its exit status is the code the kernel halted with.
#include "sim/machine.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <fstream>
#include <iterator>

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
    app.add_flag("--stats", print_stats, "print run figures (slices, kernel entries, virtual time, schedule digest) to stderr");
    app.add_option("--max-slices", config.max_slices, "stop after this many slices (0 = no limit)")->capture_default_str();
    app.add_option("--cmdline", config.cmdline, "kernel command line");
    CLI11_PARSE(app, argc, argv);

    std::ifstream in(initramfs_path, std::ios::binary);
    if (!in) {
        fmt::print(stderr, "anvil-sim: cannot read initramfs '{}'\n", initramfs_path);
        return 2;
    }
    config.initramfs.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());

    sim::Machine machine(config);
    const sim::Outcome out = machine.run();
    if (print_stats) {
        const sim::Stats st = machine.stats();
        fmt::print(stderr,
                   "anvil-sim: stats: seed {} cpus {} slices {} kernel_entries {} syscalls {} timer_interrupts {} "
                   "virtual_time {} schedule_digest {:016x}\n",
                   config.seed, config.cpus, st.slices, st.kernel_entries, st.syscalls, st.timer_interrupts,
                   st.virtual_time, st.schedule_digest);
    }
    switch (out.kind) {
    case sim::Outcome::Kind::kHalted: return out.exit_code;
    case sim::Outcome::Kind::kIdle: fmt::print(stderr, "anvil-sim: {}\n", out.message); return 122;
    case sim::Outcome::Kind::kSliceLimit: fmt::print(stderr, "anvil-sim: {}\n", out.message); return 124;
    case sim::Outcome::Kind::kEmulatorError: fmt::print(stderr, "anvil-sim: {}\n", out.message); return 121;
    }
    return 121;
}
