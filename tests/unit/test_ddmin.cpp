// Delta debugging (sim/ddmin.h), on predicates whose answer is known.
#include "sim/ddmin.h"

#include "catch.h"

#include <algorithm>

namespace {

bool has(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::vector<int> one_to(int n) {
    std::vector<int> v;
    for (int i = 1; i <= n; ++i)
        v.push_back(i);
    return v;
}

}  // namespace

TEST_CASE("ddmin: keeps exactly the elements the failure needs, in order") {
    int runs = 0;
    const std::function<bool(const std::vector<int>&)> needs_3_17_40 = [&](const std::vector<int>& v) {
        ++runs;
        return has(v, 3) && has(v, 17) && has(v, 40);
    };
    CHECK(sim::ddmin(one_to(64), needs_3_17_40) == std::vector<int>{3, 17, 40});
    CHECK(runs < 200);  // far fewer than the 2^64 subsets
}

TEST_CASE("ddmin: a failure that needs nothing gives the empty list, and one element stays one") {
    const std::function<bool(const std::vector<int>&)> always = [](const std::vector<int>&) { return true; };
    CHECK(sim::ddmin(one_to(10), always).empty());
    const std::function<bool(const std::vector<int>&)> needs_5 = [](const std::vector<int>& v) { return has(v, 5); };
    CHECK(sim::ddmin(one_to(10), needs_5) == std::vector<int>{5});
}

TEST_CASE("ddmin: the result is one-minimal when the failure needs any two of a group") {
    // Fails with at least two of {2, 9, 30}: no single element can be taken out
    // of the result, though other two-element results exist.
    const std::function<bool(const std::vector<int>&)> two_of = [](const std::vector<int>& v) {
        return has(v, 2) + has(v, 9) + has(v, 30) >= 2;
    };
    const std::vector<int> r = sim::ddmin(one_to(32), two_of);
    REQUIRE(r.size() == 2);
    for (size_t i = 0; i < r.size(); ++i) {
        std::vector<int> less = r;
        less.erase(less.begin() + static_cast<long>(i));
        CHECK_FALSE(two_of(less));
    }
}
