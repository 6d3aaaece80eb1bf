// PCT, probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010), as
// the simulator's vCPU schedule (--schedule pct, docs/scheduling.md).
//
// Every thread gets a random priority the first time it is ready to run; of
// the vCPUs with a thread, the one whose thread has the highest priority runs,
// until its next kernel entry. depth - 1 change points are drawn among the
// first `steps` kernel entries (steps are kernel entries: syscalls, faults and
// timer ticks, the only points where threads of a microkernel meet, and far
// fewer than basic blocks, which PCT's bound 1/(n * steps^(depth-1)) rewards).
// At change point i the thread that made the entry drops to priority depth - i,
// below every initial priority. A thread that yields or takes a timer tick
// drops below every other thread too, so that spin-waits and loops that never
// enter the kernel cannot starve the others (a thread polling with other
// syscalls can: --max-slices bounds such a run).
#pragma once

#include "sim/prng.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

namespace sim {

class Pct {
public:
    // Draws the change points from `prng` (the machine's, so the seed decides them).
    Pct(uint32_t depth, uint64_t steps, Prng& prng);

    // Of `ready` vCPUs, running `threads[cpu]`, the one to run next.
    uint32_t pick(const std::vector<uint32_t>& ready, const std::vector<uint64_t>& threads);
    // `thread` made a kernel entry; `yielded`: it gave up its CPU (thread_yield
    // or a timer tick).
    void on_entry(uint64_t thread, bool yielded);

    // The change points, as kernel entry counts (1-based), in order.
    const std::vector<uint64_t>& change_points() const { return change_points_; }

private:
    uint64_t priority_of(uint64_t thread);

    Prng& prng_;
    uint64_t entries_ = 0;
    size_t next_change_ = 0;
    uint64_t lowest_;                          // below every priority handed out so far
    std::vector<uint64_t> change_points_;
    std::map<uint64_t, uint64_t> priorities_;  // thread id -> priority (ordered: deterministic)
};

}  // namespace sim
