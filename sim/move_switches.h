// The second phase of tools/anvil shrink (docs/replay.md): after ddmin
// (sim/ddmin.h) the switches left are one-minimal among the trace's own
// switch points, but a switch tied to a vCPU's block count often needs a
// partner only because the schedule around it shifted when others were taken
// out. This phase takes one switch out and moves another one to a nearby
// point of the same vCPU (`at` earlier or later by a few blocks), which also
// merges two switches into one; a candidate is kept only if it still fails.
#pragma once

#include "replay/trace_reader.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace sim {

// How far (in basic blocks of the switch's vCPU) and in which steps a switch
// is moved: nearest first, later before earlier; fine steps up to `reach`,
// then coarse ones up to `far_reach`. A step below a failure's window in
// blocks cannot step over it: the race demo's lost update needs a stop among
// the 9 blocks between a read and its write, and its loop's round is 161
// blocks, which the fine range covers. The coarse range is for a switch that
// only made up for start-up timing (another thread started a few hundred
// blocks later or earlier): a coarse step can step over a small window, but
// its multiples fall at every phase of a loop whose round it does not divide.
struct Moves {
    uint64_t reach = 168;
    uint64_t step = 8;
    uint64_t far_reach = 4096;  // 0 or <= reach: no coarse range
    uint64_t far_step = 32;
};

// The offsets `moves` tries, nearest first: +step, -step, +2 step, ... up to
// the reach, then the multiples of far_step beyond it up to far_reach.
inline std::vector<int64_t> offsets(const Moves& moves) {
    std::vector<int64_t> out;
    auto both = [&](uint64_t d) {
        out.push_back(static_cast<int64_t>(d));
        out.push_back(-static_cast<int64_t>(d));
    };
    for (uint64_t d = moves.step; moves.step && d <= moves.reach; d += moves.step)
        both(d);
    if (moves.far_step && moves.reach)
        for (uint64_t d = (moves.reach / moves.far_step + 1) * moves.far_step; d <= moves.far_reach; d += moves.far_step)
            both(d);
    return out;
}

// `list` fails (`fails(list)`); returns a list of as few switches as taking
// one out and moving one other finds, or else taking two out and moving one
// other, repeated while that succeeds. The
// switches moved first are the ones nearest in the list to the one taken out
// (the likeliest to do its work).
inline std::vector<replay::Switch> fewer_by_moving(std::vector<replay::Switch> list,
                                                   const std::function<bool(const std::vector<replay::Switch>&)>& fails,
                                                   const Moves& moves) {
    const std::vector<int64_t> deltas = offsets(moves);
    // `candidate` becomes the list if it fails.
    auto take = [&](std::vector<replay::Switch>& candidate) {
        if (!fails(candidate))
            return false;
        list = std::move(candidate);
        return true;
    };
    // `rest` with its switch `j` moved by each offset in turn, until one fails.
    auto take_moved = [&](const std::vector<replay::Switch>& rest, size_t j) {
        for (const int64_t d : deltas) {
            if (d < 0 && rest[j].at <= static_cast<uint64_t>(-d))
                continue;
            std::vector<replay::Switch> moved = rest;
            moved[j].at = rest[j].at + static_cast<uint64_t>(d);
            if (take(moved))
                return true;
        }
        return false;
    };
    // One switch fewer: `out` of `list` taken out and another moved; false if no move fails.
    auto one_fewer = [&](size_t out) {
        std::vector<replay::Switch> rest = list;
        rest.erase(rest.begin() + static_cast<long>(out));
        if (take(rest))  // ddmin's list is one-minimal, but one that moves made may not be
            return true;
        for (size_t distance = 1; distance <= rest.size(); ++distance) {
            for (const size_t j : {out + distance - 1, out - distance}) {  // after `out`, then before (wraps: skipped)
                if (j < rest.size() && take_moved(rest, j))
                    return true;
            }
        }
        return false;
    };
    // Two switches fewer, and then one other moved: a pair that only makes up
    // for each other (two stops of one thread that together leave the threads
    // on the vCPUs they had) goes only together, and ddmin's chunks are
    // contiguous. Tried only when no single switch can go (it costs about
    // k^2/2 times the moves of one).
    auto two_fewer = [&]() {
        for (size_t i = 0; i + 1 < list.size(); ++i)
            for (size_t j = i + 1; j < list.size(); ++j) {
                std::vector<replay::Switch> rest = list;
                rest.erase(rest.begin() + static_cast<long>(j));
                rest.erase(rest.begin() + static_cast<long>(i));
                if (take(rest))
                    return true;
                for (size_t k = 0; k < rest.size(); ++k)
                    if (take_moved(rest, k))
                        return true;
            }
        return false;
    };
    for (bool fewer = true; fewer && list.size() > 1;) {
        fewer = false;
        for (size_t out = 0; out < list.size() && !fewer; ++out)
            fewer = one_fewer(out);
        if (!fewer && list.size() > 2)
            fewer = two_fewer();
    }
    return list;
}

}  // namespace sim
