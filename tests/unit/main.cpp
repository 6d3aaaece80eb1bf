// The Catch2 runner for Anvil's host tests of kernel logic.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
