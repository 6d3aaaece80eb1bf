// The PCT schedule's rules (sim/pct.h): change points, priorities, drops.
#include "sim/pct.h"

#include "catch.h"

#include <algorithm>

namespace {

// The vCPU PCT picks when vCPU i runs thread threads[i], all of them ready.
uint32_t pick_of(sim::Pct& pct, const std::vector<uint64_t>& threads) {
    std::vector<uint32_t> ready;
    for (uint32_t cpu = 0; cpu < threads.size(); ++cpu)
        ready.push_back(cpu);
    return pct.pick(ready, threads);
}

}  // namespace

TEST_CASE("pct: depth - 1 change points, sorted, among the first steps kernel entries") {
    for (uint64_t seed = 1; seed <= 50; ++seed) {
        sim::Prng prng(seed);
        sim::Pct pct(4, 20, prng);
        const std::vector<uint64_t>& points = pct.change_points();
        REQUIRE(points.size() == 3);
        CHECK(std::is_sorted(points.begin(), points.end()));
        CHECK(points.front() >= 1);
        CHECK(points.back() <= 20);
    }
    sim::Prng prng(1);
    CHECK(sim::Pct(1, 20, prng).change_points().empty());
}

TEST_CASE("pct: the highest-priority thread runs until a change point drops it below every other") {
    sim::Prng prng(7);
    sim::Pct pct(2, 5, prng);
    const std::vector<uint64_t> threads = {11, 12, 13};
    const uint32_t first = pick_of(pct, threads);
    // Without an entry that changes anything, the pick stays.
    CHECK(pick_of(pct, threads) == first);
    const uint64_t change = pct.change_points()[0];
    for (uint64_t entry = 1; entry < change; ++entry) {
        pct.on_entry(threads[first], false);
        CHECK(pick_of(pct, threads) == first);
    }
    pct.on_entry(threads[first], false);  // the change point
    const uint32_t second = pick_of(pct, threads);
    CHECK(second != first);
    // The dropped thread is below all others: it runs only when alone.
    const uint32_t third = 3 - first - second;
    pct.on_entry(threads[second], true);  // the second yields: it drops below the first
    CHECK(pick_of(pct, threads) == third);
    pct.on_entry(threads[third], true);
    CHECK(pick_of(pct, threads) == first);
    CHECK(pct.pick({second}, threads) == second);
}

TEST_CASE("pct: the same seed gives the same priorities and change points") {
    sim::Prng a(42), b(42), c(43);
    sim::Pct x(3, 1000, a), y(3, 1000, b), z(3, 1000, c);
    CHECK(x.change_points() == y.change_points());
    CHECK(x.change_points() != z.change_points());
    const std::vector<uint64_t> threads = {5, 6, 7, 8};
    CHECK(pick_of(x, threads) == pick_of(y, threads));
}
