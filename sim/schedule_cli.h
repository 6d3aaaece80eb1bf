// The timing options anvil-sim and anvil-debug share: the schedule's
// --schedule, --pct-depth, --pct-steps, --switches (docs/scheduling.md), and
// the pacing of serial input, --serial-gap.
#pragma once

#include "replay/cli.h"
#include "sim/machine.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <map>
#include <optional>
#include <string>

namespace sim {

// Adds the options; --switches names a file, read by read_switches after parsing.
inline void add_schedule_options(CLI::App& app, Config* config, std::string* switches_path) {
    const std::map<std::string, trace::Schedule> names = {
        {"random", trace::Schedule::kRandom}, {"pct", trace::Schedule::kPct}, {"script", trace::Schedule::kScript}};
    app.add_option("--schedule", config->schedule,
                   "how the vCPU interleaving is picked: random (a seeded PRNG picks the vCPU and a slice of "
                   "1..--slice blocks) or pct (random thread priorities, the highest runs to its next kernel entry, "
                   "--pct-depth - 1 priority change points among the first --pct-steps kernel entries) or script "
                   "(the vCPU switches of --switches; between them a vCPU runs while it has a thread, then the "
                   "lowest-numbered one with a thread: what tools/anvil shrink searches)")
        ->transform(CLI::CheckedTransformer(names, CLI::ignore_case))
        ->default_str("random");
    app.add_option("--pct-depth", config->pct_depth,
                   "with --schedule pct: the depth of bug aimed at (change points + 1)")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app.add_option("--pct-steps", config->pct_steps,
                   "with --schedule pct: the kernel entries the change points are drawn among (about a run's length: "
                   "anvil-sim --stats prints kernel_entries); after them the schedule is random")
        ->transform(cli::unsigned64())
        ->check(CLI::Range(uint64_t(1), uint64_t(1) << 40))
        ->capture_default_str();
    app.add_option("--switches", *switches_path,
                   "with --schedule script: a file of vCPU switches, one \"CPU AT TO\" a line: when vCPU CPU has "
                   "run AT basic blocks in all, vCPU TO runs next ('#' starts a comment)")
        ->check(CLI::ExistingFile);
}

// Adds --serial-gap; `gap` goes into config->faults.serial_gap after parsing
// (--faults, parsed in any order, sets the whole spec).
inline void add_serial_gap_option(CLI::App& app, uint64_t* gap) {
    app.add_option("--serial-gap", *gap,
                   fmt::format("pace the serial input: after the guest reads a byte, the next arrives this many "
                               "slices later (0 to {}; 0: at once), or as soon as no vCPU has a thread to run; "
                               "recorded in the trace (docs/reliability.md)",
                               kMaxGapSlices))
        ->transform(CLI::Validator(
            [](std::string& text) -> std::string {
                const std::optional<uint64_t> n = replay::parse_u64(text);
                if (!n || *n > kMaxGapSlices)
                    return fmt::format("\"{}\" is not a number of slices from 0 to {}", text, kMaxGapSlices);
                text = std::to_string(*n);
                return "";
            },
            ""))
        ->type_name("SLICES")
        ->capture_default_str();
}

// Reads --switches into config->script; false with `error` (one sentence) if
// it does not go with the schedule or does not read.
inline bool read_switches(const std::string& path, Config* config, std::string* error) {
    if (path.empty())
        return true;
    if (config->schedule != trace::Schedule::kScript) {
        *error = "--switches goes with --schedule script";
        return false;
    }
    std::vector<uint8_t> bytes;
    std::string why;
    if (!replay::read_file(path, 64ull << 20, &bytes, &why)) {
        *error = fmt::format("cannot read the switches {}: {}", path, why);
        return false;
    }
    if (!parse_switches(std::string(bytes.begin(), bytes.end()), config->cpus, &config->script, &why)) {
        *error = fmt::format("{}: {}", path, why);
        return false;
    }
    return true;
}

}  // namespace sim
