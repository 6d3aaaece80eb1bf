// Bytes as hex text, as the worker protocol (worker.h) and GDB's carry them.
#pragma once

#include <fmt/core.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace replay::debug {

// Bytes as lowercase hex, two digits each.
inline std::string to_hex(const void* data, size_t len) {
    std::string s;
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < len; ++i)
        s += fmt::format("{:02x}", p[i]);
    return s;
}

// Two hex digits a byte back to bytes (a trailing odd digit is dropped).
inline std::vector<uint8_t> from_hex(std::string_view s) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < s.size(); i += 2)
        out.push_back(static_cast<uint8_t>(std::strtoul(std::string(s.substr(i, 2)).c_str(), nullptr, 16)));
    return out;
}

}  // namespace replay::debug
