// The Catch2 runner for Anvil's host tests of kernel logic: Catch2's own main,
// written out so that 2.x and 3.x run the same one (3.x's Catch2WithMain is this).
#define CATCH_CONFIG_RUNNER  // 2.x: Catch2's implementation is compiled here, without a main
#include "catch.h"

#if ANVIL_CATCH2_MAJOR >= 3
#include <catch2/catch_session.hpp>
#endif

int main(int argc, char* argv[]) { return Catch::Session().run(argc, argv); }
