// The second phase of shrinking (sim/move_switches.h), on predicates whose
// answer is known.
#include "sim/move_switches.h"

#include "catch.h"

#include <algorithm>

namespace {

using replay::Switch;
using Fails = std::function<bool(const std::vector<Switch>&)>;

bool has_at(const std::vector<Switch>& v, uint32_t cpu, uint64_t from, uint64_t to) {
    return std::any_of(v.begin(), v.end(), [&](const Switch& s) { return s.cpu == cpu && s.at >= from && s.at <= to; });
}

}  // namespace

TEST_CASE("move_switches: offsets go nearest first, later before earlier, up to the reach") {
    CHECK(sim::offsets({24, 8, 0, 32}) == std::vector<int64_t>{8, -8, 16, -16, 24, -24});
    CHECK(sim::offsets({0, 8, 4096, 32}).empty());
    // Past the reach, the multiples of the coarse step up to the far reach.
    CHECK(sim::offsets({24, 8, 100, 32}) ==
          std::vector<int64_t>{8, -8, 16, -16, 24, -24, 32, -32, 64, -64, 96, -96});
    CHECK(sim::offsets({64, 8, 64, 32}).size() == 16);  // a far reach inside the reach adds none
}

TEST_CASE("move_switches: two switches around a window become one moved into it") {
    // Fails with a switch of cpu 0 inside blocks 200..208, or with both of the
    // trace's own switches (150 and 260), which ddmin cannot take apart.
    int runs = 0;
    const Fails fails = [&](const std::vector<Switch>& v) {
        ++runs;
        return has_at(v, 0, 200, 208) || (has_at(v, 0, 150, 150) && has_at(v, 0, 260, 260));
    };
    const std::vector<Switch> two{{0, 150, 1}, {0, 260, 1}};
    REQUIRE(fails(two));
    const std::vector<Switch> one = sim::fewer_by_moving(two, fails, {});
    REQUIRE(one.size() == 1);
    CHECK(fails(one));
    CHECK(one[0].at >= 200);
    CHECK(one[0].at <= 208);
    CHECK(runs < 100);
}

TEST_CASE("move_switches: a failure that needs two switches keeps both, unmoved") {
    const Fails fails = [](const std::vector<Switch>& v) {
        return has_at(v, 0, 100, 100) && has_at(v, 1, 300, 300);
    };
    const std::vector<Switch> two{{0, 100, 1}, {1, 300, 0}};
    CHECK(sim::fewer_by_moving(two, fails, {}) == two);
}

TEST_CASE("move_switches: a window out of reach is not found") {
    const Fails fails = [](const std::vector<Switch>& v) {
        return has_at(v, 0, 1000, 1008) || (has_at(v, 0, 150, 150) && has_at(v, 0, 260, 260));
    };
    const std::vector<Switch> two{{0, 150, 1}, {0, 260, 1}};
    CHECK(sim::fewer_by_moving(two, fails, {}) == two);
}

TEST_CASE("move_switches: two switches that make up for each other go together") {
    // The failure needs the switch at 500, and an even number of stops on
    // cpu 0 wherever they are: taking out one of them passes however another
    // is moved, taking out both fails.
    const Fails fails = [](const std::vector<Switch>& v) {
        return has_at(v, 1, 500, 500) &&
               std::count_if(v.begin(), v.end(), [](const Switch& s) { return s.cpu == 0; }) % 2 == 0;
    };
    const std::vector<Switch> three{{0, 100, 1}, {0, 200, 1}, {1, 500, 0}};
    CHECK(sim::fewer_by_moving(three, fails, {}) == std::vector<Switch>{{1, 500, 0}});
}
