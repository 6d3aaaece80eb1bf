// The debugger's time-travel engine (timeline.h): the debugger process's side
// of the worker protocol (replay/debug/worker.h describes it). Every reply of
// a worker is read here, and only here, into typed values.
#include "replay/timeline.h"

#include "replay/debug/hex.h"
#include "replay/debug/session.h"
#include "replay/debug/worker.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace replay {

using debug::checkpoint_fifo;
using debug::worker_fifo;

namespace {

// A worker's "stopped KIND THREAD [NR]" (or "stopped exit CODE"), without "stopped ".
Stop parse_stop(const std::string& r) {
    std::istringstream in(r);
    std::string kind, a, b;
    in >> kind >> a >> b;
    const uint64_t first = std::strtoull(a.c_str(), nullptr, 10);
    Stop s;
    s.thread = first;
    s.syscall = std::strtoull(b.c_str(), nullptr, 10);
    if (kind == "exit") {
        s = Stop::of(Stop::Kind::kExited, 0, static_cast<int>(first));
    } else if (kind == "bp") {
        s.kind = Stop::Kind::kBreakpoint;
    } else if (kind == "entry") {
        s.kind = Stop::Kind::kSyscallEntry;
    } else if (kind == "return") {
        s.kind = Stop::Kind::kSyscallReturn;
    } else if (kind == "interrupt") {
        s.kind = Stop::Kind::kInterrupt;
    } else if (kind == "event") {
        s.kind = Stop::Kind::kEvent;
    } else if (kind == "process") {
        s.kind = Stop::Kind::kProcess;
    } else if (kind == "watch") {  // "watch T I OLD NEW"
        s.kind = Stop::Kind::kWatch;
        s.watch = s.syscall;
        s.syscall = 0;
        in >> s.old_value >> s.new_value;
    } else {
        s.kind = Stop::Kind::kStep;
    }
    return s;
}

// A worker's "probe THREAD EXECUTED REACHED" and its hits (format_hits;
// zeros for "probe none").
struct ProbeReply {
    uint64_t thread = 0;
    uint64_t executed = 0;
    std::vector<uint64_t> hits;              // collect: the instructions at breakpoints
    std::vector<sim::DataHit> watch_hits;    // collect: in order

    // The last stop going backwards in the probed part of the slice: a
    // breakpoint (stop before its instruction) or a watch (stop before the
    // accessing instruction, number `instruction - 1`), whichever is later;
    // false if none.
    bool last_stop(uint64_t* at, const sim::DataHit** watch) const {
        const bool bp = !hits.empty();
        const bool w = !watch_hits.empty();
        if (!bp && !w)
            return false;
        const uint64_t wat = w ? watch_hits.back().instruction - 1 : 0;
        *watch = w && (!bp || wat >= hits.back()) ? &watch_hits.back() : nullptr;
        *at = *watch ? wat : hits.back();
        return true;
    }
};

ProbeReply parse_probe(const std::string& r) {
    std::istringstream in(r);
    ProbeReply p;
    uint64_t reached = 0;
    in >> p.thread >> p.executed >> reached;
    debug::parse_hits(in, &p.hits, &p.watch_hits);
    // (an access is always by a counted instruction: instruction >= 1)
    std::erase_if(p.watch_hits, [](const sim::DataHit& h) { return h.instruction == 0; });
    return p;
}

}  // namespace

Timeline::Timeline(const DebugOptions& options) : options_(options) {}

Timeline::~Timeline() {
    close_worker();
    if (lifeline_ >= 0)
        close(lifeline_);  // every checkpoint and worker exits
    if (!dir_.empty()) {
        if (DIR* d = opendir(dir_.c_str())) {
            while (dirent* e = readdir(d))
                if (e->d_name[0] != '.')
                    unlink((dir_ + "/" + e->d_name).c_str());
            closedir(d);
        }
        rmdir(dir_.c_str());
    }
}

bool Timeline::start() {
    char tmpl[] = "/tmp/anvil-debug.XXXXXX";
    if (!mkdtemp(tmpl))
        return false;
    dir_ = tmpl;
    debug::g_session.dir = dir_;
    int life[2];
    if (pipe(life) != 0)
        return false;
    debug::g_session.lifeline = life[0];
    lifeline_ = life[1];
    fcntl(lifeline_, F_SETFD, FD_CLOEXEC);
    // Orphaned checkpoints and workers are reaped here, automatically.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGCHLD, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    const uint64_t id = next_id_++;
    if (mkfifo(worker_fifo(id, "cmd").c_str(), 0600) != 0 || mkfifo(worker_fifo(id, "out").c_str(), 0600) != 0)
        return false;
    std::fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        close(lifeline_);
        _exit(debug::worker_first(options_, id));
    }
    return open_worker(id);
}

// ---- The worker's FIFOs --------------------------------------------------------

bool Timeline::open_worker(uint64_t id) {
    to_ = std::fopen(worker_fifo(id, "cmd").c_str(), "w");
    from_ = std::fopen(worker_fifo(id, "out").c_str(), "r");
    unlink(worker_fifo(id, "cmd").c_str());  // both ends are open: the names are not needed
    unlink(worker_fifo(id, "out").c_str());
    return to_ && from_ && read_status(nullptr);
}

void Timeline::close_worker() {
    if (to_)
        std::fclose(to_);
    if (from_)
        std::fclose(from_);
    to_ = from_ = nullptr;
    in_buf_.clear();
    worker_pid_ = -1;
}

bool Timeline::read_line(std::string* line) {
    const int fd = fileno(from_);
    for (;;) {
        const size_t nl = in_buf_.find('\n');
        if (nl != std::string::npos) {
            *line = in_buf_.substr(0, nl);
            in_buf_.erase(0, nl + 1);
            return true;
        }
        pollfd fds[2] = {{fd, POLLIN, 0}, {interrupt_fd_, POLLIN, 0}};
        if (poll(fds, interrupt_fd_ >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        if (interrupt_fd_ >= 0 && (fds[1].revents & POLLIN)) {
            // gdb's interrupt (a 0x03 byte while the target runs): tell the worker.
            char c = 0;
            if (read(interrupt_fd_, &c, 1) == 1 && c == 0x03 && worker_pid_ > 0)
                kill(worker_pid_, SIGUSR1);
        }
        if (fds[0].revents & (POLLIN | POLLHUP)) {
            char buf[65536];
            const ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0)
                return false;
            in_buf_.append(buf, static_cast<size_t>(n));
        }
    }
}

bool Timeline::read_status(std::vector<std::string>* replies) {
    std::string s;
    while (from_ && read_line(&s)) {
        if (s.rfind("R ", 0) == 0) {
            if (replies)
                replies->push_back(s.substr(2));
            continue;
        }
        unsigned long long steps = 0, prev = 0, insns = 0, thread = 0;
        int ended = 0, entry = 0, pid = 0;
        if (std::sscanf(s.c_str(), "S %llu %llu %d %llu %d %llu %d", &steps, &prev, &ended, &insns, &entry, &thread,
                        &pid) != 7)
            return false;
        pos_ = Position{steps, insns, entry != 0};
        shown_ = std::max<uint64_t>(shown_, steps);
        prev_ = prev;
        ended_ = ended;
        thread_ = thread;
        worker_pid_ = pid;
        debug::thin_checkpoints();
        return true;
    }
    return false;
}

// Sends one command line to the process at the current position; the
// worker's "R ..." reply lines go to *replies. False if the worker died.
bool Timeline::send(const std::string& line, std::vector<std::string>* replies) {
    if (!to_)
        return false;
    fmt::print(to_, "{}\n", line);
    std::fflush(to_);
    return read_status(replies);
}

// The first reply of `line` that starts with `word` (without it); "" if none.
std::string Timeline::ask(const std::string& line, const std::string& word) {
    std::vector<std::string> replies;
    send(line, &replies);
    for (const std::string& r : replies)
        if (r.rfind(word, 0) == 0)
            return r.size() > word.size() ? r.substr(word.size() + 1) : "";
    return "";
}

// ---- Positions -------------------------------------------------------------------

bool Timeline::leave_view() {
    if (!in_view())
        return true;
    if (!send("leave"))
        return false;
    // Settings made while in the view went to the view only: the worker gets them now.
    return send_settings();
}

bool Timeline::send_settings() {
    for (const std::string& s : settings_)
        if (!send(s))
            return false;
    return watch_setting_.empty() || send(watch_setting_);
}

bool Timeline::spawn_from(uint64_t checkpoint, uint64_t target) {
    const uint64_t id = next_id_++;
    if (mkfifo(worker_fifo(id, "cmd").c_str(), 0600) != 0 || mkfifo(worker_fifo(id, "out").c_str(), 0600) != 0)
        return false;
    const int fd = open(checkpoint_fifo(checkpoint).c_str(), O_WRONLY | O_NONBLOCK);
    if (fd < 0)
        return false;
    const std::string cmd = fmt::format("spawn {} {} {}\n", id, target, shown_);
    const bool sent = write(fd, cmd.data(), cmd.size()) == static_cast<ssize_t>(cmd.size());
    close(fd);
    if (!sent)
        return false;
    close_worker();  // the old worker (and its view) see end-of-file and exit
    if (!open_worker(id))
        return false;
    send_settings();
    return true;
}

bool Timeline::go(const Position& p) {
    const bool ahead = p.steps > pos_.steps || (p.steps == pos_.steps && !pos_.entry);
    // The nearest checkpoint at or before the target: going back starts
    // there, and so does going forward when it is further on than the worker
    // (the run has been there before), by more than an interval.
    uint64_t from = 0;
    for (uint64_t c : debug::checkpoints())
        if (c <= p.steps)
            from = c;
    if (ahead && from < pos_.steps + debug::kCheckpointEvery) {
        if (!leave_view())
            return false;
        if (p.steps > pos_.steps && !send(fmt::format("=goto {}", p.steps)))
            return false;
    } else if (!spawn_from(from, p.steps)) {
        return false;
    }
    if (p.entry)
        return send("=entry");
    if (p.insns > 0)
        return send(fmt::format("=view {}", p.insns));
    return true;
}

// ---- Moving ----------------------------------------------------------------------

std::optional<Stop> Timeline::stepi(uint64_t thread, uint64_t n) {
    const uint64_t k = pos_.insns;
    if (!leave_view())
        return std::nullopt;
    const std::string r = ask(fmt::format("=stepi {} {} {}", thread, n, k), "stopped");
    if (r.empty())
        return std::nullopt;
    return parse_stop(r);
}

std::optional<Stop> Timeline::cont(bool skip_breakpoint, int interrupt_fd,
                                   const std::vector<uint64_t>* known_processes) {
    std::string known;
    if (known_processes) {
        known = " 0";  // (never a process: the list is never empty)
        for (uint64_t p : *known_processes)
            known += fmt::format(",{:x}", p);
    }
    for (;;) {
        const uint64_t k = pos_.insns;
        if (!leave_view())
            return std::nullopt;
        std::vector<std::string> replies;
        interrupt_fd_ = interrupt_fd;  // gdb's Ctrl-C reaches the worker while it runs
        const bool sent = send(fmt::format("=cont {} {}{}", k, skip_breakpoint ? 1 : 0, known), &replies);
        interrupt_fd_ = -1;
        if (!sent)
            return std::nullopt;
        skip_breakpoint = false;
        for (const std::string& r : replies) {
            if (r.rfind("goto ", 0) == 0) {
                // The slice before hit a breakpoint: resolve it from the slice's start.
                if (!go(Position{std::strtoull(r.c_str() + 5, nullptr, 10), 0, false}))
                    return std::nullopt;
            } else if (r.rfind("stopped ", 0) == 0) {
                Stop stop = parse_stop(r.substr(8));
                if (stop.kind == Stop::Kind::kWatch)
                    stop = watch_stop(stop.thread, stop.watch, stop.old_value, stop.new_value);
                return stop;
            }
        }
    }
}

std::optional<Stop> Timeline::reverse_stepi(uint64_t thread) {
    const Position cur = pos_;
    auto last_slice_of_thread = [&](uint64_t before) {
        return std::strtoull(ask(fmt::format("=find {} {}", thread, before), "find").c_str(), nullptr, 10);
    };
    // The slice to look in first: the current one, if it is this thread's and
    // has run some of its instructions; else its last slice before.
    uint64_t j = 0, limit = ~0ull;
    if (thread_ == thread && (cur.insns > 0 || cur.entry)) {
        j = cur.steps + 1;
        limit = cur.entry ? ~0ull : cur.insns;
    } else {
        j = last_slice_of_thread(cur.steps);
    }
    for (;;) {
        if (j == 0) {
            if (!go(cur))
                return std::nullopt;
            return Stop::of(Stop::Kind::kStartOfRun, thread);
        }
        if (!go(Position{j - 1, 0, false}))
            return std::nullopt;
        const uint64_t executed = parse_probe(ask(fmt::format("=probe {}", limit), "probe")).executed;
        if (executed > 0) {
            if (executed - 1 > 0 && !go(Position{j - 1, executed - 1, false}))
                return std::nullopt;
            return Stop::of(Stop::Kind::kStep, thread);
        }
        limit = ~0ull;
        j = last_slice_of_thread(j - 1);
    }
}

std::optional<Stop> Timeline::reverse_continue() {
    const Position cur = pos_;
    // Earlier in the current slice?
    if (cur.insns > 0 || cur.entry) {
        if (!go(Position{cur.steps, 0, false}))
            return std::nullopt;
        ProbeReply p = parse_probe(ask(fmt::format("=collect {}", cur.entry ? ~0ull : cur.insns), "probe"));
        // (a breakpoint at the current instruction is where we are, not before)
        if (!cur.entry)
            std::erase_if(p.hits, [&](uint64_t h) { return h >= cur.insns; });
        uint64_t at = 0;
        const sim::DataHit* w = nullptr;
        if (p.last_stop(&at, &w)) {
            if (at > 0 && !go(Position{cur.steps, at, false}))
                return std::nullopt;
            return w ? watch_stop(p.thread, w->watch, w->new_value, w->old_value)
                     : Stop::of(Stop::Kind::kBreakpoint, p.thread);
        }
    }
    // Earlier steps, one checkpoint interval at a time, newest first.
    const std::vector<uint64_t> cps = debug::checkpoints();
    uint64_t hi = cur.steps;
    bool exclude = cur.insns == 0 && !cur.entry;
    for (size_t i = cps.size(); i-- > 0;) {
        if (cps[i] >= hi)
            continue;
        if (!spawn_from(cps[i], cps[i]))
            return std::nullopt;
        // "none", or "STEP KIND THREAD NR": the last stop in the interval.
        std::istringstream r(ask(fmt::format("=scan {} {}", hi, exclude ? 1 : 0), "scan"));
        std::string first;
        r >> first;
        if (first != "none") {
            const uint64_t step = std::strtoull(first.c_str(), nullptr, 10);
            std::string kind;
            Stop found;
            r >> kind >> found.thread;
            if (kind == "event") {  // "event T HEXTEXT"
                std::string hex;
                r >> hex;
                const std::vector<uint8_t> text = debug::from_hex(hex);
                found = Stop::of(Stop::Kind::kEvent, found.thread);
                found.what.assign(text.begin(), text.end());
                return go(Position{step, 0, false}) ? std::optional(found) : std::nullopt;
            }
            r >> found.syscall;
            if (kind == "return") {
                found.kind = Stop::Kind::kSyscallReturn;
                return go(Position{step, 0, false}) ? std::optional(found) : std::nullopt;
            }
            if (kind == "entry") {
                found.kind = Stop::Kind::kSyscallEntry;
                return go(Position{step - 1, 0, true}) ? std::optional(found) : std::nullopt;
            }
            found.kind = Stop::Kind::kBreakpoint;
            if (!go(Position{step - 1, 0, false}))
                return std::nullopt;
            const ProbeReply p = parse_probe(ask("=collect", "probe"));
            uint64_t at = 0;
            const sim::DataHit* w = nullptr;
            if (!p.last_stop(&at, &w))
                at = 0;
            if (at > 0 && !go(Position{step - 1, at, false}))
                return std::nullopt;
            // Going backwards a watch reports the values the other way round:
            // "old" is the later one, as gdb shows them.
            return w ? watch_stop(found.thread, w->watch, w->new_value, w->old_value) : found;
        }
        hi = cps[i];
        exclude = false;
    }
    // Nothing before: the start of the run.
    if (!go(Position{0, 0, false}))
        return std::nullopt;
    return Stop{};
}

bool Timeline::goto_event(uint64_t n, bool* reached) {
    if (!leave_view())
        return false;
    // Known to the worker (behind it)? Else start from the last checkpoint
    // the run made before the event, when that is ahead of the worker.
    std::string step = ask(fmt::format("=eventstep {} known", n), "eventstep");
    if (step.empty()) {
        uint64_t from = 0;
        for (uint64_t c : debug::checkpoints())
            if (c > pos_.steps && debug::checkpoint_records(c) <= n)
                from = c;
        if (from > pos_.steps && !spawn_from(from, from))
            return false;
        step = ask(fmt::format("=eventstep {}", n), "eventstep");
    }
    *reached = !step.empty();
    if (!*reached)  // the run ended first: the worker is at its end
        return true;
    return go(Position{std::strtoull(step.c_str(), nullptr, 10), 0, false});
}

// ---- Settings --------------------------------------------------------------------

void Timeline::apply_settings(std::vector<std::string> lines) {
    settings_ = std::move(lines);
    for (const std::string& s : settings_)
        send(s);
}

bool Timeline::set_watches(const std::vector<Watch>& watches, std::string* why) {
    std::string line = "=watch";  // PA:LEN:TYPE:VA:PROCESS ...
    std::vector<std::string> pas;
    for (const Watch& w : watches) {
        const auto kept = std::find(watches_.begin(), watches_.end(), w);
        // "PA PROCESS": the memory, and the process of the thread it was set in
        const std::string where = kept != watches_.end()
                                      ? watch_pas_[static_cast<size_t>(kept - watches_.begin())]
                                      : ask(fmt::format("=phys {} {:x} {}", w.thread, w.va, w.len), "phys");
        if (where.empty() || where == "none") {
            *why = fmt::format("{} bytes at 0x{:x} of thread {} are not mapped here", w.len, w.va, w.thread);
            return false;
        }
        pas.push_back(where);
        const size_t space = where.find(' ');
        line += fmt::format(" {}:{}:{}:{:x}:{}", where.substr(0, space), w.len, static_cast<int>(w.type), w.va,
                            w.own_process && space != std::string::npos ? where.substr(space + 1) : "0");
    }
    watches_ = watches;
    watch_pas_ = std::move(pas);
    watch_setting_ = watches.empty() ? "" : line;
    return send(watches.empty() ? "=watch" : line);
}

Stop Timeline::watch_stop(uint64_t thread, size_t watch, uint64_t old_value, uint64_t new_value) const {
    Stop s;
    s.kind = Stop::Kind::kWatch;
    s.thread = thread;
    s.watch = watch;
    s.addr = watch < watches_.size() ? watches_[watch].va : 0;
    s.old_value = old_value;
    s.new_value = new_value;
    return s;
}

void Timeline::set_breakpoints(const std::vector<debug::Breakpoint>& breakpoints) {
    std::vector<std::string> lines{"delete"};
    for (const debug::Breakpoint& b : breakpoints)
        lines.push_back(b.line());
    apply_settings(std::move(lines));
}

void Timeline::set_code_stops(const CodeBreakpoints& breakpoints, const SyscallCatch& catches) {
    std::string bp = "=bp";  // PROCESS:ADDR ...
    for (const auto& [process, addresses] : breakpoints)
        for (uint64_t va : addresses)
            bp += fmt::format(" {:x}:{:x}", process, va);
    std::string catch_line;
    switch (catches.mode) {
    case SyscallCatch::Mode::kOff: catch_line = "=catch off"; break;
    case SyscallCatch::Mode::kAll: catch_line = "=catch all"; break;
    case SyscallCatch::Mode::kList:
        catch_line = "=catch";
        for (uint64_t nr : catches.syscalls)
            catch_line += fmt::format(" {}", nr);
        break;
    }
    apply_settings({bp, catch_line});
}

// ---- Looking ---------------------------------------------------------------------

uint64_t Timeline::focus() { return std::strtoull(ask("=focus", "focus").c_str(), nullptr, 10); }

bool Timeline::set_focus(uint64_t thread) { return send(fmt::format("=focus {}", thread)); }

std::vector<uint64_t> Timeline::threads() {
    std::istringstream in(ask("=threads", "threads"));
    std::vector<uint64_t> out;
    uint64_t t;
    while (in >> t)
        out.push_back(t);
    return out;
}

std::vector<debug::ProcessInfo> Timeline::processes() {
    std::istringstream in(ask("=procs", "procs"));
    std::vector<debug::ProcessInfo> out;
    std::string item;
    while (in >> item) {  // PROCESS:HEXNAME:T,T...
        debug::ProcessInfo p;
        char* c = item.data();
        p.id = std::strtoull(c, &c, 16);
        char* name = ++c;
        while (*c && *c != ':')
            ++c;
        const std::vector<uint8_t> bytes = debug::from_hex(std::string(name, static_cast<size_t>(c - name)));
        p.name.assign(bytes.begin(), bytes.end());
        while (*c == ':' || *c == ',')
            p.threads.push_back(std::strtoull(c + 1, &c, 16));
        out.push_back(std::move(p));
    }
    return out;
}

std::string Timeline::thread_info(uint64_t thread) { return ask(fmt::format("=tinfo {}", thread), "tinfo"); }

std::optional<debug::gdb::ThreadRegisters> Timeline::registers(uint64_t thread) {
    // "GPRS-HEX EXT-HEX" (the register file, then the x87/SSE state)
    std::istringstream in(ask(fmt::format("=regs {}", thread), "regs"));
    std::string gprs, ext;
    in >> gprs >> ext;
    const std::vector<uint8_t> bytes = debug::from_hex(gprs);
    debug::gdb::ThreadRegisters r;
    if (bytes.size() != sizeof r.regs)
        return std::nullopt;
    std::memcpy(&r.regs, bytes.data(), sizeof r.regs);
    r.ext = debug::from_hex(ext);
    return r;
}

std::vector<uint8_t> Timeline::memory(uint64_t thread, uint64_t va, uint64_t len) {
    return debug::from_hex(ask(fmt::format("=mem {} {:x} {:x}", thread, va, len), "mem"));
}

bool Timeline::execute(const std::string& line) { return send(line); }

bool Timeline::show() { return send("=show"); }

std::string Timeline::capture(const std::string& line) {
    const std::vector<uint8_t> bytes = debug::from_hex(ask("=capture " + line, "captured"));
    return std::string(bytes.begin(), bytes.end());
}

}  // namespace replay
