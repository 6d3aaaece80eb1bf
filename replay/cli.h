// The command lines of the host tools (anvil-sim, anvil-debug, anvil-trace):
// bad arguments exit 2 in every one of them (CLI11's own codes, 100-115, fall
// inside the range of init's exit codes, docs/exit-codes.md), unsigned options
// are read strictly, and options a trace overrides are named.
#pragma once

#include "replay/number.h"

#include <anvil/exit_codes.h>
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <initializer_list>
#include <optional>
#include <string>

namespace cli {

constexpr int kExitUsage = ANVIL_EXIT_USAGE;  // bad arguments or files

// Parses the command line. A value means "exit with it": 0 after --help (the
// help printed), kExitUsage after a bad argument (one line naming it).
inline std::optional<int> parse(CLI::App& app, int argc, char** argv, const char* tool) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0)
            return app.exit(e);  // --help
        fmt::print(stderr, "{}: {} (see {} --help)\n", tool, e.what(), tool);
        return kExitUsage;
    }
    return std::nullopt;
}

// For every unsigned 64-bit option (->transform(cli::unsigned64())): refuses
// a sign, garbage and values over 2^64-1, which CLI11 alone would wrap (-1) or
// clamp, and hands the number on in decimal (CLI11 alone reads 010 as 8).
inline CLI::Validator unsigned64() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            const std::optional<uint64_t> n = replay::parse_u64(text);
            if (!n)
                return fmt::format("\"{}\" is not a number from 0 to 18446744073709551615", text);
            text = std::to_string(*n);
            return "";
        },
        "");
}

// The options among `names` that the command line gave, as "--seed, --cpus"
// ("" if none).
inline std::string given(const CLI::App& app, std::initializer_list<const char*> names) {
    std::string list;
    for (const char* name : names)
        if (app.count(name) > 0)
            list += fmt::format("{}{}", list.empty() ? "" : ", ", name);
    return list;
}

}  // namespace cli
