// One strict parser for the numbers users type into the host tools: options
// (through cli.h) and the debugger's commands. std::strtoull, which they used
// before, reads "-1" as 2^64-1, clamps what overflows and stops at garbage.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace replay {

// `text` as an unsigned 64-bit number: digits of `base` only (base 16 may
// start with 0x), no sign, no spaces; nullopt if it is not one or exceeds 2^64-1.
inline std::optional<uint64_t> parse_u64(std::string_view text, int base = 10) {
    if (base == 16 && text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
        text.remove_prefix(2);
    uint64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value, base);
    if (text.empty() || ec != std::errc() || ptr != end)
        return std::nullopt;
    return value;
}

}  // namespace replay
