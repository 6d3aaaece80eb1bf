#include "sim/script_schedule.h"

#include <fmt/core.h>

#include <algorithm>
#include <sstream>

namespace sim {

ScriptSchedule::ScriptSchedule(const std::vector<Switch>& switches, uint32_t cpus) : pending_(cpus) {
    for (const Switch& s : switches)
        pending_[s.cpu].push_back(s);
    for (auto& q : pending_)
        std::stable_sort(q.begin(), q.end(), [](const Switch& a, const Switch& b) { return a.at < b.at; });
}

uint32_t ScriptSchedule::pick(const std::vector<uint32_t>& ready, const std::vector<uint64_t>& cpu_time,
                              uint64_t* budget) {
    auto is_ready = [&](uint32_t cpu) { return std::find(ready.begin(), ready.end(), cpu) != ready.end(); };
    // Round-robin: the first ready vCPU after the current one (itself if alone).
    const auto after = std::upper_bound(ready.begin(), ready.end(), current_);
    uint32_t cpu = !have_current_ || after == ready.end() ? ready[0] : *after;
    if (have_next_ && is_ready(next_))
        cpu = next_;
    else if (have_current_ && !moves_on_ && is_ready(current_))
        cpu = current_;
    have_next_ = false;
    moves_on_ = false;
    current_ = cpu;
    have_current_ = true;
    const std::deque<Switch>& q = pending_[cpu];
    *budget = q.empty() ? ~0ull >> 1 : q.front().at > cpu_time[cpu] ? q.front().at - cpu_time[cpu] : 1;
    return cpu;
}

void ScriptSchedule::after_slice(uint32_t cpu, uint64_t cpu_time, bool moves_on) {
    moves_on_ = moves_on;
    std::deque<Switch>& q = pending_[cpu];
    while (!q.empty() && q.front().at <= cpu_time) {
        next_ = q.front().to;
        have_next_ = true;
        q.pop_front();
    }
}

bool parse_switches(const std::string& text, uint32_t cpus, std::vector<Switch>* out, std::string* error) {
    std::istringstream lines(text);
    std::string line;
    for (unsigned number = 1; std::getline(lines, line); ++number) {
        line = line.substr(0, line.find('#'));
        if (line.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        std::istringstream words(line);
        uint64_t cpu = 0, at = 0, to = 0;
        std::string rest;
        if (!(words >> cpu >> at >> to) || (words >> rest) || cpu >= cpus || to >= cpus) {
            *error = fmt::format("line {}: '{}' is not \"CPU AT TO\" with CPUs from 0 to {}", number, line, cpus - 1);
            return false;
        }
        out->push_back({static_cast<uint32_t>(cpu), at, static_cast<uint32_t>(to)});
    }
    return true;
}

}  // namespace sim
