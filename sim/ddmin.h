// Delta debugging (Zeller and Hildebrandt, "Simplifying and isolating
// failure-inducing input", TSE 2002): the smallest subset of a list that
// still fails, one-minimal (taking out any one more element makes it pass).
// tools/anvil shrink runs it over a failing schedule's vCPU switches.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

namespace sim {

// `fails(subset)` runs the subset (in the list's order); `all` must fail.
// The empty list is tried first: a failure that needs none of the elements.
template <typename T>
std::vector<T> ddmin(std::vector<T> all, const std::function<bool(const std::vector<T>&)>& fails) {
    if (fails({}))
        return {};
    // The parts of `list` cut into n nearly equal runs, and their complements.
    auto part = [](const std::vector<T>& list, size_t n, size_t i, bool complement) {
        std::vector<T> out;
        const size_t begin = list.size() * i / n, end = list.size() * (i + 1) / n;
        for (size_t j = 0; j < list.size(); ++j)
            if ((j >= begin && j < end) != complement)
                out.push_back(list[j]);
        return out;
    };
    size_t n = 2;
    while (all.size() >= 2) {
        bool reduced = false;
        for (size_t i = 0; i < n && !reduced; ++i) {
            std::vector<T> subset = part(all, n, i, false);
            if (fails(subset)) {
                all = std::move(subset);
                n = 2;
                reduced = true;
            }
        }
        for (size_t i = 0; i < n && !reduced && n > 2; ++i) {
            std::vector<T> rest = part(all, n, i, true);
            if (fails(rest)) {
                all = std::move(rest);
                n = n - 1 > 2 ? n - 1 : 2;
                reduced = true;
            }
        }
        if (reduced)
            continue;
        if (n >= all.size())
            break;
        n = 2 * n < all.size() ? 2 * n : all.size();
    }
    return all;
}

}  // namespace sim
