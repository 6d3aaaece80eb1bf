// Catch2 for Anvil's host tests, 2.x (one header) or 3.x (a header per part): every
// test file includes this instead of a Catch2 header, and writes 3.x's names.
// tests/CMakeLists.txt sets ANVIL_CATCH2_MAJOR from the Catch2 it found.
#pragma once

#if ANVIL_CATCH2_MAJOR == 2

#include <catch2/catch.hpp>

#include <string>

namespace Catch::Matchers {
// 3.x's name for the substring matcher (3.x's Contains matches an element of a range).
inline StdString::ContainsMatcher ContainsSubstring(const std::string& str,
                                                    CaseSensitive::Choice sensitivity = CaseSensitive::Yes) {
    return Contains(str, sensitivity);
}
}  // namespace Catch::Matchers

#elif ANVIL_CATCH2_MAJOR == 3

#include <catch2/catch_test_macros.hpp>
#include <catch2/catch_tostring.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/generators/catch_generators_range.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#else
#error "ANVIL_CATCH2_MAJOR must be 2 or 3 (tests/CMakeLists.txt sets it from find_package(Catch2))"
#endif
