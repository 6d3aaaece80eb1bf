// A schedule given as its vCPU switches (--schedule script, docs/scheduling.md):
// what `tools/anvil shrink` searches over. Between switches the running vCPU
// keeps running, across kernel entries, until its thread blocks, yields or
// takes a timer tick; then the next vCPU with a thread after it, round-robin,
// runs (so spin-waits end as under the other schedules). A switch (cpu, at,
// to) says: when vCPU `cpu` has run `at` basic blocks in all, `to` runs next
// (if it has a thread): a preemption if `cpu` could have run on. A trace of such a run holds its schedule in its slice
// records, so its replay needs nothing else (replay::switches).
#pragma once

#include "replay/trace_reader.h"

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace sim {

using Switch = replay::Switch;

class ScriptSchedule {
public:
    ScriptSchedule(const std::vector<Switch>& switches, uint32_t cpus);

    // Of `ready` vCPUs (ascending), the one to run and the most blocks it may
    // run before its next switch (~0 >> 1: none); cpu_time: each vCPU's blocks.
    uint32_t pick(const std::vector<uint32_t>& ready, const std::vector<uint64_t>& cpu_time, uint64_t* budget);
    // vCPU `cpu` ran a slice and has now run `cpu_time` blocks in all;
    // `moves_on`: its thread yielded or took a timer tick.
    void after_slice(uint32_t cpu, uint64_t cpu_time, bool moves_on);

private:
    std::vector<std::deque<Switch>> pending_;  // per vCPU, in order of `at`
    uint32_t current_ = 0;
    bool have_current_ = false;
    uint32_t next_ = 0;
    bool have_next_ = false;
    bool moves_on_ = false;
};

// Reads switches from text, one "CPU AT TO" a line ('#' starts a comment).
// False with `error` naming the line if one does not read or names a vCPU
// outside 0..cpus-1.
bool parse_switches(const std::string& text, uint32_t cpus, std::vector<Switch>* out, std::string* error);

}  // namespace sim
