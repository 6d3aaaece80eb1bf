// The processes of one debugging session (session.h).
#include "replay/debug/session.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace replay::debug {

Session g_session;

std::string worker_fifo(uint64_t id, const char* end) { return fmt::format("{}/w{}.{}", g_session.dir, id, end); }
std::string checkpoint_fifo(uint64_t step) { return fmt::format("{}/cp-{}", g_session.dir, step); }

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

void thin_checkpoints() {
    std::vector<uint64_t> cps = checkpoints();
    while (cps.size() > kMaxCheckpoints) {
        std::vector<uint64_t> kept;
        for (size_t i = 0; i < cps.size(); ++i) {
            if (i % 2 == 0) {
                kept.push_back(cps[i]);
                continue;
            }
            const int fd = open(checkpoint_fifo(cps[i]).c_str(), O_WRONLY | O_NONBLOCK);
            if (fd >= 0) {
                ssize_t ignored = write(fd, "exit\n", 5);
                (void)ignored;
                close(fd);
            }
            unlink(checkpoint_fifo(cps[i]).c_str());
        }
        cps = kept;
    }
}

}  // namespace replay::debug
