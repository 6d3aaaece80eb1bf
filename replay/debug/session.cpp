// The processes of one debugging session (session.h).
#include "replay/debug/session.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace replay::debug {

Session g_session;

std::string worker_fifo(uint64_t id, const char* end) { return fmt::format("{}/w{}.{}", g_session.dir, id, end); }
std::string checkpoint_fifo(uint64_t step) { return fmt::format("{}/cp-{}", g_session.dir, step); }

std::string format_hits(const std::vector<uint64_t>& hits, const std::vector<sim::DataHit>& watch_hits) {
    std::string text;
    for (uint64_t h : hits)
        text += fmt::format(" {}", h);
    text += " ;";
    for (const sim::DataHit& h : watch_hits)
        text += fmt::format(" {}:{}:{}:{}", h.instruction, h.watch, h.old_value, h.new_value);
    return text;
}

void parse_hits(std::istream& in, std::vector<uint64_t>* hits, std::vector<sim::DataHit>* watch_hits) {
    std::string word;
    while (in >> word && word != ";")
        hits->push_back(std::strtoull(word.c_str(), nullptr, 10));
    while (in >> word) {
        sim::DataHit h;
        char* p = word.data();
        h.instruction = std::strtoull(p, &p, 10);
        h.watch = std::strtoull(p + 1, &p, 10);
        h.old_value = std::strtoull(p + 1, &p, 10);
        h.new_value = std::strtoull(p + 1, &p, 10);
        watch_hits->push_back(h);
    }
}

std::vector<uint64_t> checkpoints() {
    std::vector<uint64_t> steps;
    if (DIR* d = opendir(g_session.dir.c_str())) {
        while (dirent* e = readdir(d)) {
            const std::string name = e->d_name;
            if (name.rfind("cp-", 0) == 0 && name.find('.') == std::string::npos)
                steps.push_back(std::strtoull(name.c_str() + 3, nullptr, 10));
        }
        closedir(d);
    }
    std::sort(steps.begin(), steps.end());
    return steps;
}

namespace {
std::string records_file(uint64_t step) { return fmt::format("{}/cpn-{}", g_session.dir, step); }
}  // namespace

void note_checkpoint_records(uint64_t step, uint64_t records) {
    if (std::FILE* f = std::fopen(records_file(step).c_str(), "w")) {
        fmt::print(f, "{}\n", records);
        std::fclose(f);
    }
}

uint64_t checkpoint_records(uint64_t step) {
    uint64_t records = ~0ull;
    if (std::FILE* f = std::fopen(records_file(step).c_str(), "r")) {
        unsigned long long n = 0;
        if (std::fscanf(f, "%llu", &n) == 1)
            records = n;
        std::fclose(f);
    }
    return records;
}

void thin_checkpoints() {
    // Drop the checkpoint whose neighbours are closest together, one at a
    // time: the spacing stays even over the whole run (the longest
    // re-execution, from the checkpoint before a target, stays short
    // everywhere), never the one at boot nor the newest (where the user is).
    std::vector<uint64_t> cps = checkpoints();
    while (cps.size() > kMaxCheckpoints) {
        size_t drop = 1;
        for (size_t i = 2; i + 1 < cps.size(); ++i)
            if (cps[i + 1] - cps[i - 1] < cps[drop + 1] - cps[drop - 1])
                drop = i;
        const int fd = open(checkpoint_fifo(cps[drop]).c_str(), O_WRONLY | O_NONBLOCK);
        if (fd >= 0) {
            ssize_t ignored = write(fd, "exit\n", 5);
            (void)ignored;
            close(fd);
        }
        unlink(checkpoint_fifo(cps[drop]).c_str());
        unlink(records_file(cps[drop]).c_str());
        cps.erase(cps.begin() + static_cast<long>(drop));
    }
}

}  // namespace replay::debug
