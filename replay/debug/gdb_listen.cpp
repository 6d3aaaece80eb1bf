// anvil-debug --gdb: the listening side of the GDB server (gdb_server.h).
// Serves one gdb at a time on 127.0.0.1; before the first, --program runs
// the session on to the start of that program's first process.
#include "replay/debug/front_end.h"
#include "replay/debug/gdb_server.h"
#include "replay/debug/programs.h"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace replay::debug {

namespace {

// --program: on to the start of the first process running `name`.
bool run_to_program(Timeline& timeline, const std::string& name) {
    for (;;) {
        std::vector<uint64_t> known;
        for (const ProcessInfo& p : timeline.processes()) {
            if (p.name == name) {
                timeline.set_focus(p.threads.front());
                return true;
            }
            known.push_back(p.id);
        }
        const std::optional<Stop> s = timeline.cont(false, -1, &known);
        if (!s) {
            fmt::print(stderr, "anvil-debug: the simulator worker died\n");
            return false;
        }
        if (s->kind == Stop::Kind::kExited) {
            fmt::print("anvil-debug: no process ran {} before the run ended (exit {}); gdb sees the end\n", name,
                       s->exit_code);
            return true;
        }
    }
}

}  // namespace

int gdb_serve(Timeline& timeline, int port) {
    ProgramFiles programs(timeline.options().config.initramfs, timeline.options().symbol_dirs,
                          timeline.scratch_dir());
    if (!timeline.options().program.empty() && !run_to_program(timeline, timeline.options().program))
        return 2;
    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0) {
        fmt::print(stderr, "anvil-debug: cannot create a socket: {}\n", std::strerror(errno));
        return 2;
    }
    const int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only
    if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listener, 1) != 0) {
        fmt::print(stderr, "anvil-debug: cannot listen on 127.0.0.1:{}: {}\n", port, std::strerror(errno));
        close(listener);
        return 2;
    }
    socklen_t len = sizeof addr;
    getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    fmt::print("anvil-debug: GDB stub listening on 127.0.0.1:{}\n", ntohs(addr.sin_port));
    std::fflush(stdout);
    // One gdb at a time. `detach` leaves the run where it is, its recording
    // untouched, for the next gdb to attach; `kill` or a dropped connection
    // ends the session.
    for (;;) {
        const int fd = accept(listener, nullptr, nullptr);
        if (fd < 0) {
            fmt::print(stderr, "anvil-debug: accept: {}\n", std::strerror(errno));
            close(listener);
            return 2;
        }
        bool detached = false;
        const bool ok = serve_gdb_connection(timeline, fd, programs, &detached);
        close(fd);
        if (!detached || !ok) {
            close(listener);
            fmt::print("anvil-debug: gdb disconnected\n");
            return ok ? 0 : 2;
        }
        // The next gdb brings its own breakpoints and watchpoints.
        std::string why;
        timeline.set_code_stops({}, {});
        timeline.set_watches({}, &why);
        fmt::print("anvil-debug: gdb detached; the run stays where it is: attach again on 127.0.0.1:{} "
                   "(Ctrl-C ends anvil-debug)\n", ntohs(addr.sin_port));
        std::fflush(stdout);
    }
}

}  // namespace replay::debug
