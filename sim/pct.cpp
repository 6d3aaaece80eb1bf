#include "sim/pct.h"

#include <algorithm>

namespace sim {

namespace {
// Initial priorities lie above this: change points and yields hand out the
// priorities below it, each lower than the last.
constexpr uint64_t kInitialBase = uint64_t(1) << 62;
}  // namespace

Pct::Pct(uint32_t depth, uint64_t steps, Prng& prng)
    : prng_(prng), lowest_(kInitialBase) {
    for (uint32_t i = 1; i < depth; ++i)
        change_points_.push_back(1 + prng_.below(steps));
    std::sort(change_points_.begin(), change_points_.end());
}

uint64_t Pct::priority_of(uint64_t thread) {
    const auto [it, added] = priorities_.try_emplace(thread, 0);
    if (added)
        it->second = kInitialBase + prng_.below(kInitialBase);
    return it->second;
}

uint32_t Pct::pick(const std::vector<uint32_t>& ready, const std::vector<uint64_t>& threads) {
    uint32_t best = ready[0];
    uint64_t best_priority = priority_of(threads[best]);
    for (size_t i = 1; i < ready.size(); ++i) {
        const uint64_t p = priority_of(threads[ready[i]]);
        if (p > best_priority) {
            best = ready[i];
            best_priority = p;
        }
    }
    return best;
}

void Pct::on_entry(uint64_t thread, bool yielded) {
    ++entries_;
    // Several change points may fall on one entry: the thread drops once per point.
    bool change = false;
    while (next_change_ < change_points_.size() && change_points_[next_change_] == entries_) {
        ++next_change_;
        change = true;
    }
    if (change || yielded) {
        priority_of(thread);
        priorities_[thread] = --lowest_;
    }
}

}  // namespace sim
