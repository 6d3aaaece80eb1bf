#include "replay/debug/debugger.h"

#include "replay/debug/command.h"

#include "kernel/cap/cap.h"
#include "kernel/object/cnode.h"
#include "kernel/object/endpoint.h"
#include "kernel/object/thread.h"
#include "kernel/object/vmo.h"
#include "kernel/object/vspace.h"
#include "kernel/sched/scheduler.h"
#include "kernel/trace/trace.h"
#include "replay/number.h"
#include "sim/trace_sink.h"

#include <anvil/syscalls.h>
#include <capstone/capstone.h>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

namespace sim {

std::string to_hex(const void* data, size_t len) {
    std::string s;
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < len; ++i)
        s += fmt::format("{:02x}", p[i]);
    return s;
}

namespace {

const anvil_syscall_desc_t kSyscalls[] = {ANVIL_SYSCALLS(ANVIL_SYSCALL_DESC_INIT)};

// A worker forks a checkpoint every this many steps (the debugger process thins
// them out past kMaxCheckpoints, so going back re-executes at most a few
// intervals' worth; see DebugController::thin_checkpoints).
constexpr uint64_t kCheckpointEvery = 2000;
constexpr size_t kMaxCheckpoints = 40;

// Set by SIGINT (Ctrl-C at the terminal reaches every process of the session)
// or SIGUSR1 (the GDB stub forwarding gdb's interrupt): a worker stops a
// running command at the next step.
volatile sig_atomic_t g_interrupted = 0;
void on_interrupt(int) { g_interrupted = 1; }

// The session's shared state, inherited by every process it forks.
struct Session {
    std::string dir;        // FIFOs: w<ID>.cmd/.out per worker, cp-<STEP> per checkpoint
    int lifeline = -1;      // read end of a pipe only the debugger process writes to
};
Session g_session;

std::string worker_fifo(uint64_t id, const char* end) { return fmt::format("{}/w{}.{}", g_session.dir, id, end); }
std::string checkpoint_fifo(uint64_t step) { return fmt::format("{}/cp-{}", g_session.dir, step); }

// The steps that have a checkpoint, ascending.
std::vector<uint64_t> checkpoint_list() {
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

// Past kMaxCheckpoints, every other checkpoint goes (never the one at boot),
// until they fit: the spacing doubles where the run is old, memory stays bounded.
void thin_checkpoint_list() {
    std::vector<uint64_t> cps = checkpoint_list();
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


std::vector<uint8_t> unhex(const std::string& s) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < s.size(); i += 2)
        out.push_back(static_cast<uint8_t>(std::strtoul(s.substr(i, 2).c_str(), nullptr, 16)));
    return out;
}

// ---- What the worker sees of the trace: every record as it is written ----------

class EventSink final : public TraceSink {
public:
    explicit EventSink(const replay::Trace* expected) : expected_(expected) {}

    void write(const void* data, size_t len) override {
        const auto* p = static_cast<const uint8_t*>(data);
        if (expected_ && !diverged_) {
            for (size_t i = 0; i < len; ++i) {
                const uint64_t at = trace_.bytes.size() + i;
                if (at >= expected_->bytes.size() || expected_->bytes[at] != p[i]) {
                    diverged_ = true;
                    break;
                }
            }
        }
        trace_.bytes.insert(trace_.bytes.end(), p, p + len);
        if (!have_header_) {
            replay::Trace t;
            std::string error;
            if (trace_.bytes.size() >= sizeof(trace::Header) && replay::parse(trace_.bytes, &t, &error)) {
                trace_.header = t.header;
                trace_.cmdline = t.cmdline;
                trace_.records_begin = t.records_begin;
                pos_ = t.records_begin;
                have_header_ = true;
            }
            return;
        }
        replay::Record r;
        std::string error;
        uint64_t pos = pos_;
        while (replay::next(trace_, &pos, &r, &error)) {
            r.index = records_.size();
            records_.push_back(r);
            pos_ = pos;
        }
    }

    const std::vector<replay::Record>& records() const { return records_; }
    bool diverged() const { return diverged_; }

private:
    const replay::Trace* expected_;
    replay::Trace trace_;
    bool have_header_ = false;
    uint64_t pos_ = 0;
    std::vector<replay::Record> records_;
    bool diverged_ = false;
};

// ---- Command arguments -------------------------------------------------------

// An optional numeric argument of a command: the next word, read strictly
// (replay::parse_u64: no sign, no garbage, nothing over 2^64-1).
struct NumberArg {
    bool given = false;  // there was a word
    uint64_t value = 0;
    std::string error;   // what to print if the word is not a number
};

// Reads the next word of `in` as a number in `base`; `what` names what it
// should be in the error ("a thread id").
NumberArg number_arg(std::istringstream& in, const char* what, int base = 10) {
    NumberArg a;
    std::string word;
    if (!(in >> word))
        return a;
    a.given = true;
    if (const std::optional<uint64_t> n = replay::parse_u64(word, base))
        a.value = *n;
    else
        a.error = fmt::format("\"{}\" is not {}", word, what);
    return a;
}

// ---- The worker: a machine under the debugger's control -------------------------

class Worker {
public:
    explicit Worker(const DebugOptions& o) : options_(o), sink_(o.trace), machine_(o.config) {}

    // Boots; quietly if a fast_forward is to follow (the boot log was shown once).
    bool start(bool quiet, std::string* error) {
        machine_.set_trace_sink(&sink_);
        machine_.set_echo(!quiet);
        kernel::trace_set_flush_each(true);
        Outcome out;
        if (!machine_.start(&out)) {
            *error = out.message;
            return false;
        }
        maybe_checkpoint();
        return true;
    }

    // Serves commands from the FIFOs of worker `id` until they close.
    [[noreturn]] void serve(uint64_t id) {
        signal(SIGCHLD, SIG_DFL);  // (checkpoints ignore it; this process waits for its children)
        signal(SIGINT, on_interrupt);
        signal(SIGUSR1, on_interrupt);
        in_ = std::fopen(worker_fifo(id, "cmd").c_str(), "r");
        out_ = std::fopen(worker_fifo(id, "out").c_str(), "w");
        if (!in_ || !out_)
            _exit(1);
        status();
        loop();
    }

    // Runs to step `target` (re-execution when going back: console output the
    // session has shown once is not shown again, see echo()).
    void fast_forward(uint64_t target) {
        while (steps_ < target && step_once()) {
        }
    }

private:
    [[noreturn]] void loop() {
        char line[8192];
        while (std::fgets(line, sizeof line, in_)) {
            std::string cmd(line);
            while (!cmd.empty() && (cmd.back() == '\n' || cmd.back() == '\r'))
                cmd.pop_back();
            if (view_ && cmd == "leave")
                _exit(0);
            g_interrupted = 0;  // (a Ctrl-C typed at the prompt reached this process too)
            execute(cmd);
            std::fflush(stdout);
            status();
        }
        _exit(0);
    }

    void reply(const std::string& text) { fmt::print(out_, "R {}\n", text); }

    // The status line that ends every answer: position, the previous kernel
    // event's step, whether the run is over, and the thread of the next slice.
    void status() {
        const Machine::Slice* p = machine_.planned();
        fmt::print(out_, "S {} {} {} {} {} {} {}\n", steps_, prev_stop(), ended_ ? 1 : 0, view_ ? view_k_ : 0,
                   p && p->ran && !view_ ? 1 : 0, p ? p->thread : 0, getpid());
        std::fflush(out_);
    }

    // ---- Moving, faithfully ----

    // Console output goes to the terminal only the first time the session's
    // run passes a point: re-executions (going back, scans) stay quiet.
    void echo() { machine_.set_echo(steps_ >= shown_); }

    // One machine step (Machine::step in its parts): plans the next slice, or
    // delivers interrupts (a step), or runs the planned slice and its kernel entry.
    bool step_once() {
        if (ended_)
            return false;
        echo();
        const size_t before = recs().size();
        Outcome out;
        if (!machine_.planned()) {
            if (!machine_.plan_slice(&out))
                return end(out);
            if (!machine_.planned()) {
                complete_step(0, before);
                return true;
            }
        }
        const Machine::Slice p = *machine_.planned();
        if (!p.ran && !machine_.run_slice(&out, nullptr))
            return end(out);
        if (!machine_.finish_slice(&out)) {
            complete_step(p.thread, before);
            return end(out);
        }
        complete_step(p.thread, before);
        return true;
    }

    // Plans the next slice (taking interrupt steps on the way); false at the end.
    bool plan() {
        echo();
        while (!ended_ && !machine_.planned()) {
            const size_t before = recs().size();
            Outcome out;
            if (!machine_.plan_slice(&out))
                return end(out);
            if (!machine_.planned())
                complete_step(0, before);
        }
        return !ended_;
    }

    bool run_user() {
        echo();
        Outcome out;
        return machine_.run_slice(&out, nullptr) || end(out);
    }

    bool finish() {
        echo();
        const size_t before = recs().size();
        const uint64_t thread = machine_.planned()->thread;
        Outcome out;
        const bool more = machine_.finish_slice(&out);
        complete_step(thread, before);
        return more || end(out);
    }

    bool end(const Outcome& out) {
        ended_ = true;
        outcome_ = out;
        return false;
    }

    void complete_step(uint64_t thread, size_t records_before) {
        ++steps_;
        shown_ = std::max(shown_, steps_);
        slice_thread_.push_back(thread);
        if (recs().size() > records_before)
            record_steps_.push_back(steps_);
        for (size_t i = records_before; i < recs().size(); ++i) {
            const replay::Record& r = recs()[i];
            if (r.k() == trace::Kind::k_syscall) {
                in_syscall_[r.f[1]] = r.f[2];
            } else if (r.k() == trace::Kind::k_sysret || r.k() == trace::Kind::k_wake) {
                const uint64_t t = r.k() == trace::Kind::k_sysret ? r.f[1] : r.f[0];
                const auto it = in_syscall_.find(t);
                if (it != in_syscall_.end()) {
                    if (caught(it->second))
                        returns_.push_back({t, it->second});
                    in_syscall_.erase(it);
                }
            }
        }
        maybe_checkpoint();
    }

    // ---- Checkpoints ----

    void maybe_checkpoint() {
        if (view_ || steps_ % kCheckpointEvery != 0 || access(checkpoint_fifo(steps_).c_str(), F_OK) == 0)
            return;
        thin_checkpoint_list();
        std::fflush(stdout);
        if (out_)
            std::fflush(out_);
        const pid_t pid = fork();
        if (pid == 0)
            checkpoint_main();
    }

    // A copy of the run at this step, waiting to be asked for a new worker.
    [[noreturn]] void checkpoint_main() {
        signal(SIGCHLD, SIG_IGN);  // its workers are reaped by the kernel
        signal(SIGINT, SIG_IGN);
        if (in_)
            close(fileno(in_));
        if (out_)
            close(fileno(out_));
        const std::string path = checkpoint_fifo(steps_), tmp = path + ".new";
        if (mkfifo(tmp.c_str(), 0600) != 0)
            _exit(0);
        const int fd = open(tmp.c_str(), O_RDWR);
        if (fd < 0 || rename(tmp.c_str(), path.c_str()) != 0)
            _exit(0);
        std::string pending;
        for (;;) {
            pollfd fds[2] = {{fd, POLLIN, 0}, {g_session.lifeline, POLLIN, 0}};
            if (poll(fds, 2, -1) < 0 && errno != EINTR)
                break;
            if (fds[1].revents)
                break;  // the debugger is gone
            char buf[256];
            const ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0)
                continue;
            pending.append(buf, static_cast<size_t>(n));
            size_t nl;
            while ((nl = pending.find('\n')) != std::string::npos) {
                std::istringstream cmd(pending.substr(0, nl));
                pending.erase(0, nl + 1);
                std::string word;
                uint64_t id = 0, target = 0, shown = 0;
                cmd >> word >> id >> target >> shown;
                if (word == "exit") {
                    unlink(path.c_str());
                    _exit(0);
                }
                if (word == "spawn" && fork() == 0) {
                    close(fd);
                    in_ = out_ = nullptr;
                    shown_ = std::max(shown_, shown);
                    fast_forward(target);
                    serve(id);
                }
            }
        }
        unlink(path.c_str());
        _exit(0);
    }

    // ---- Inside a slice: probes and views ----

    struct Probe {
        uint64_t thread = 0;
        uint64_t executed = 0;
        bool stopped = false;        // by the limit or a breakpoint
        bool at_breakpoint = false;
        std::vector<uint64_t> hits;  // collect
        bool reached(uint64_t limit) const { return stopped && !at_breakpoint && executed == limit; }
    };

    // Runs the planned slice in a throwaway copy of this process with the
    // instruction hook and reports what happened.
    Probe probe(uint64_t limit, const Breakpoints* bps, uint64_t break_from, bool collect) {
        Probe r;
        r.thread = machine_.planned()->thread;
        int fds[2];
        if (pipe(fds) != 0)
            return r;
        std::fflush(stdout);
        std::fflush(out_);
        const pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            machine_.set_echo(false);
            DebugControl d;
            d.limit = limit;
            d.breakpoints = bps;
            d.break_from = break_from;
            d.collect = collect;
            Outcome out;
            machine_.run_slice(&out, &d);
            std::string text = fmt::format("{} {} {}", d.executed,
                                           machine_.slice_stop().kind == StopKind::kDebug ? 1 : 0,
                                           d.at_breakpoint ? 1 : 0);
            for (uint64_t h : d.hits)
                text += fmt::format(" {}", h);
            text += "\n";
            ssize_t ignored = write(fds[1], text.data(), text.size());
            (void)ignored;
            _exit(0);
        }
        close(fds[1]);
        std::string text;
        char buf[4096];
        ssize_t n;
        while ((n = read(fds[0], buf, sizeof buf)) > 0)
            text.append(buf, static_cast<size_t>(n));
        close(fds[0]);
        if (pid > 0)
            waitpid(pid, nullptr, 0);
        std::istringstream in(text);
        int stopped = 0, at_bp = 0;
        in >> r.executed >> stopped >> at_bp;
        r.stopped = stopped;
        r.at_breakpoint = at_bp;
        uint64_t h;
        while (in >> h)
            r.hits.push_back(h);
        return r;
    }

    // Becomes (in a child) a view of the planned slice after `k` instructions;
    // this process waits until the view is left, then answers for it.
    void become_view(uint64_t k, const std::string& answer) {
        std::fflush(stdout);
        std::fflush(out_);
        const pid_t pid = fork();
        if (pid == 0) {
            machine_.set_echo(false);
            DebugControl d;
            d.limit = k;
            Outcome out;
            machine_.run_slice(&out, &d);
            view_ = true;
            view_k_ = d.executed;
            focus_ = machine_.planned()->thread;
            if (!answer.empty())
                reply(answer);
            status();
            loop();
        }
        if (pid > 0)
            waitpid(pid, nullptr, 0);
    }

    // ---- Moving commands (the debugger process has left any view first) ----

    // Steps thread `t` by `n` of its instructions from instruction `k` of the
    // next slice, stopping just before its next one.
    void stepi(uint64_t t, uint64_t n, uint64_t k) {
        for (;;) {
            if (!plan()) {
                reply("stopped end");
                return;
            }
            if (g_interrupted && !machine_.planned()->ran) {
                reply(fmt::format("stopped interrupt {}", machine_.planned()->thread));
                return;
            }
            const Machine::Slice p = *machine_.planned();
            if (p.ran) {  // at a syscall's entry: that instruction has run
                if (p.thread == t && n > 0)
                    --n;
                if (!finish())
                    continue;
                k = 0;
                continue;
            }
            if (p.thread != t) {
                if (run_user())
                    finish();
                k = 0;
                continue;
            }
            // A count beyond the run (up to 2^64-1) runs to its end, never wraps.
            const uint64_t until = n > ~0ull - k ? ~0ull : k + n;
            const Probe r = probe(until, nullptr, 0, false);
            if (r.reached(until)) {
                focus_ = t;
                const std::string answer = fmt::format("stopped step {}", t);
                if (until > 0)
                    become_view(until, answer);
                else
                    reply(answer);
                return;
            }
            n -= std::min(n, r.executed > k ? r.executed - k : 0);
            if (run_user())
                finish();
            k = 0;
        }
    }

    bool caught(uint64_t nr) const { return catching_ && (catch_all_ || catch_.count(nr)); }

    // True if the slice just run ended in a syscall the debugger catches.
    bool caught_entry(uint64_t* nr) {
        const Machine::Slice* p = machine_.planned();
        if (!p || !p->ran || machine_.slice_stop().kind != StopKind::kSyscall)
            return false;
        kernel::Thread* t = find_thread(p->thread);
        *nr = t ? t->regs().rax : ~0ull;
        return t && caught(*nr);
    }

    // Runs on from instruction `k` of the next slice (past it if `skip`, as when
    // resuming from a breakpoint there) to the next breakpoint hit, caught
    // syscall entry or return, or the end of the run.
    void cont(uint64_t k, bool skip) {
        bool first = true;
        returns_.clear();
        for (;;) {
            if (!plan()) {
                reply(fmt::format("stopped exit {}", exit_code()));
                return;
            }
            if (!returns_.empty()) {
                reply(fmt::format("stopped return {} {}", returns_[0].first, returns_[0].second));
                return;
            }
            const Machine::Slice p = *machine_.planned();
            if (g_interrupted && !p.ran) {
                focus_ = p.thread;
                reply(fmt::format("stopped interrupt {}", p.thread));
                return;
            }
            if (!p.ran) {
                if (first && !bps_.empty()) {
                    const Probe r = probe(~0ull, &bps_, k + (skip ? 1 : 0), false);
                    if (r.at_breakpoint) {
                        focus_ = p.thread;
                        const std::string answer = fmt::format("stopped bp {}", p.thread);
                        if (r.executed > 0)
                            become_view(r.executed, answer);
                        else
                            reply(answer);
                        return;
                    }
                }
                if (!run_user())
                    continue;
                const bool hit = machine_.take_watch_hit();
                if (hit && !first) {
                    // This slice hit a breakpoint: the debugger goes back to its
                    // start (from a checkpoint) and resolves it there.
                    reply(fmt::format("goto {}", steps_));
                    return;
                }
                uint64_t nr = 0;
                if (caught_entry(&nr)) {
                    focus_ = p.thread;
                    reply(fmt::format("stopped entry {} {}", p.thread, nr));
                    return;
                }
            }
            first = false;
            if (!finish())
                continue;
            if (!returns_.empty()) {
                focus_ = returns_[0].first;
                reply(fmt::format("stopped return {} {}", returns_[0].first, returns_[0].second));
                return;
            }
        }
    }

    // From a checkpoint up to step `hi`: the last breakpoint hit, caught entry
    // or caught return on the way (a return at step `hi` itself only if !exclude_hi).
    void scan(uint64_t hi, bool exclude_hi) {
        std::string last = "none";
        while (steps_ < hi && plan()) {
            returns_.clear();
            const Machine::Slice p = *machine_.planned();
            const uint64_t step = steps_ + 1;
            if (p.ran) {  // (a worker at a checkpoint is never at an entry)
                finish();
                continue;
            }
            if (!run_user())
                break;
            const bool hit = machine_.take_watch_hit();
            uint64_t nr = 0;
            const bool entry = caught_entry(&nr);
            finish();
            if (!returns_.empty() && !(exclude_hi && step == hi))
                last = fmt::format("{} return {} {}", steps_, returns_.back().first, returns_.back().second);
            else if (entry)
                last = fmt::format("{} entry {} {}", step, p.thread, nr);
            else if (hit)
                last = fmt::format("{} bp {} 0", step, p.thread);
        }
        reply("scan " + last);
    }

    int exit_code() const { return outcome_.status(); }

    // ---- Commands ----

    void execute(const std::string& line) {
        std::istringstream in(line);
        std::string cmd;
        in >> cmd;
        if (!cmd.empty() && cmd[0] == '=') {
            machine_command(cmd.substr(1), in);
            return;
        }
        if (view_ && (cmd == "continue" || cmd == "c" || cmd == "next" || cmd == "n")) {
            fmt::print("(inside a slice: the debugger leaves it first)\n");
            return;
        }
        if (cmd == "continue" || cmd == "c")
            run(false);
        else if (cmd == "next" || cmd == "n")
            run(true);
        else if (cmd == "where")
            where();
        else if (cmd == "events")
            events(in);
        else if (cmd == "syscall")
            syscall();
        else if (cmd == "threads")
            threads();
        else if (cmd == "runqueues")
            runqueues();
        else if (cmd == "endpoints")
            endpoints();
        else if (cmd == "caps")
            caps(in);
        else if (cmd == "vspace")
            vspace(in);
        else if (cmd == "regs")
            regs(in);
        else if (cmd == "mem")
            mem(in);
        else if (cmd == "disas")
            disas(in);
        else if (cmd == "thread")
            focus(in);
        else if (cmd == "break") {  // the command loop sends only breakpoints it parsed
            std::string args;
            std::getline(in, args);
            Breakpoint b{};
            if (parse_break(args, &b).empty())
                breaks_.push_back(b);
        } else if (cmd == "delete") {  // the debugger process has checked N
            const NumberArg id = number_arg(in, "a breakpoint number");
            if (!id.given)
                breaks_.clear();
            else if (id.error.empty() && id.value >= 1 && id.value <= breaks_.size())
                breaks_.erase(breaks_.begin() + static_cast<long>(id.value - 1));
        }
    }

    // The debugger process's requests; answers are "R ..." lines.
    void machine_command(const std::string& cmd, std::istringstream& in) {
        if (cmd == "goto") {  // forward to a step
            uint64_t target = 0;
            in >> target;
            fast_forward(target);
        } else if (cmd == "entry") {  // run the next slice up to its kernel entry
            if (plan() && !machine_.planned()->ran)
                run_user();
        } else if (cmd == "plan") {
            plan();
        } else if (cmd == "view") {
            uint64_t k = 0;
            in >> k;
            if (plan() && !machine_.planned()->ran && k > 0)
                become_view(k, "");
        } else if (cmd == "stepi") {
            uint64_t t = 0, n = 1, k = 0;
            in >> t >> n >> k;
            stepi(t, n, k);
        } else if (cmd == "cont") {
            uint64_t k = 0;
            int skip = 0;
            in >> k >> skip;
            cont(k, skip != 0);
        } else if (cmd == "scan") {
            uint64_t hi = 0;
            int exclude = 0;
            in >> hi >> exclude;
            scan(hi, exclude != 0);
        } else if (cmd == "probe" || cmd == "collect") {
            uint64_t limit = ~0ull;
            in >> limit;
            if (!plan() || machine_.planned()->ran) {
                reply("probe none");
                return;
            }
            const Probe r = cmd == "probe" ? probe(limit, nullptr, 0, false) : probe(limit, &bps_, 0, true);
            std::string text = fmt::format("probe {} {} {}", r.thread, r.executed, r.reached(limit) ? 1 : 0);
            for (uint64_t h : r.hits)
                text += fmt::format(" {}", h);
            reply(text);
        } else if (cmd == "find") {  // the last step at or before S whose slice ran thread T
            uint64_t t = 0, s = 0;
            in >> t >> s;
            uint64_t found = 0;
            for (uint64_t j = std::min<uint64_t>(s, slice_thread_.size()); j > 0; --j)
                if (slice_thread_[j - 1] == t) {
                    found = j;
                    break;
                }
            reply(fmt::format("find {}", found));
        } else if (cmd == "bp") {  // ADDR:HEXBYTES ... (the whole set)
            bps_.clear();
            std::string item;
            while (in >> item) {
                const size_t colon = item.find(':');
                bps_[std::strtoull(item.substr(0, colon).c_str(), nullptr, 16)] =
                    colon == std::string::npos ? std::vector<uint8_t>{} : unhex(item.substr(colon + 1));
            }
            if (!view_)
                machine_.set_watch(bps_);
        } else if (cmd == "catch") {  // off | all | NR...
            std::string what;
            in >> what;
            catching_ = what != "off";
            catch_all_ = what == "all";
            catch_.clear();
            if (catching_ && !catch_all_) {
                catch_.insert(std::strtoull(what.c_str(), nullptr, 10));
                uint64_t nr;
                while (in >> nr)
                    catch_.insert(nr);
            }
        } else if (cmd == "focus") {
            uint64_t t = 0;
            if (in >> t)
                focus_ = t;
            reply(fmt::format("focus {}", focus_thread()));
        } else if (cmd == "threads") {
            std::string text = "threads";
            for (kernel::KObject* o = kernel::KObject::first_live(); o; o = o->next_live())
                if (o->type() == ANVIL_OBJ_TCB &&
                    static_cast<kernel::Thread*>(o)->state() != kernel::ThreadState::kExited)
                    text += fmt::format(" {}", o->id());
            reply(text);
        } else if (cmd == "tinfo") {
            uint64_t id = 0;
            in >> id;
            kernel::Thread* t = find_thread(id);
            reply(t ? fmt::format("tinfo {} on cpu {}{}", kernel::thread_state_name(t->state()), t->cpu(), waits_on(t))
                    : "tinfo gone");
        } else if (cmd == "regs") {
            uint64_t id = 0;
            in >> id;
            kernel::Thread* t = find_thread(id);
            reply(t ? "regs " + gdb_registers(t->regs()) : "regs");
        } else if (cmd == "mem") {
            uint64_t id = 0, va = 0, len = 0;
            in >> id >> std::hex >> va >> len;
            kernel::Thread* t = find_thread(id);
            std::vector<uint8_t> buf;
            // As much as is readable from `va` on (gdb asks across ends of mappings).
            while (t && t->vspace() && buf.size() < len && len <= 65536) {
                const uint64_t at = va + buf.size();
                const uint64_t chunk = std::min(len - buf.size(), hal::kPageSize - at % hal::kPageSize);
                std::vector<uint8_t> part(chunk);
                if (t->vspace()->copy_in(part.data(), at, chunk) != ANVIL_OK)
                    break;
                buf.insert(buf.end(), part.begin(), part.end());
            }
            reply("mem " + to_hex(buf.data(), buf.size()));
        } else if (cmd == "show") {  // where the focus thread is, with its instruction
            where();
            kernel::Thread* t = find_thread(focus_thread());
            if (t) {
                std::istringstream at(fmt::format("{:x} 1", t->regs().rip));
                disas(at);
            }
        }
    }

    // The registers in the order of the stub's target description (gdb_server.cpp):
    // rax rbx rcx rdx rsi rdi rbp rsp r8..r15 rip eflags cs ss ds es fs gs,
    // st0..7, the x87 control words, xmm0..15, mxcsr, orig_rax, fs_base, gs_base.
    // The simulator keeps no x87/SSE state per thread: those read as unavailable.
    static std::string gdb_registers(const hal::UserRegs& r) {
        std::string s;
        auto u64 = [&](uint64_t v) { s += to_hex(&v, 8); };
        auto u32 = [&](uint32_t v) { s += to_hex(&v, 4); };
        for (uint64_t v : {r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9, r.r10, r.r11, r.r12,
                           r.r13, r.r14, r.r15, r.rip})
            u64(v);
        u32(static_cast<uint32_t>(r.rflags));
        for (uint32_t seg : {0x23u, 0x1bu, 0u, 0u, 0u, 0u})
            u32(seg);
        s += std::string(8 * 10 * 2, 'x') + std::string(8 * 4 * 2, 'x');  // st0..7, fctrl..fop
        s += std::string(16 * 16 * 2, 'x') + std::string(4 * 2, 'x');     // xmm0..15, mxcsr
        u64(~0ull);  // orig_rax: not in a syscall restart
        u64(r.fs_base);
        u64(0);      // gs_base
        return s;
    }

    const std::vector<replay::Record>& recs() const { return sink_.records(); }

    uint64_t prev_stop() const {
        for (size_t i = record_steps_.size(); i-- > 0;)
            if (record_steps_[i] < steps_)
                return record_steps_[i];
        return 0;
    }

    // continue (or next: stop after the first step that wrote records).
    void run(bool next) {
        if (ended_) {
            fmt::print("the run has ended ({})\n", end_text());
            return;
        }
        const size_t first = recs().size();
        for (;;) {
            const size_t before = recs().size();
            const bool more = step_once();
            if (sink_.diverged()) {
                fmt::print("the run diverged from the trace at or before record #{}\n", recs().size() - 1);
                break;
            }
            const std::string hit = breakpoint_hit(before);
            if (!hit.empty()) {
                fmt::print("breakpoint: {}\n", hit);
                break;
            }
            if (next && recs().size() > before)
                break;
            if (!more)
                break;
            if (g_interrupted) {
                fmt::print("interrupted\n");
                break;
            }
        }
        const size_t shown_from = next ? first : (recs().size() > first + 5 ? recs().size() - 5 : first);
        if (shown_from > first)
            fmt::print("  ... {} events\n", shown_from - first);
        for (size_t i = shown_from; i < recs().size(); ++i)
            fmt::print("  {}\n", replay::format(recs()[i]));
        if (ended_)
            fmt::print("the run has ended ({})\n", end_text());
        where();
    }

    std::string end_text() const {
        if (outcome_.kind == Outcome::Kind::kHalted)
            return fmt::format("the machine halted with code {}", outcome_.exit_code);
        return outcome_.message;
    }

    // The first breakpoint the records from `from` on satisfy, described; "" if none.
    std::string breakpoint_hit(size_t from) {
        for (size_t i = from; i < recs().size(); ++i) {
            const replay::Record& r = recs()[i];
            for (const Breakpoint& b : breaks_) {
                const bool hit =
                    (b.kind == Breakpoint::Kind::kEvent && r.index == b.value) ||
                    (b.kind == Breakpoint::Kind::kFault && r.k() == trace::Kind::k_fault) ||
                    (b.kind == Breakpoint::Kind::kSyscall && r.k() == trace::Kind::k_syscall && r.f[2] == b.value &&
                     (!b.thread || r.f[1] == b.thread));
                if (hit) {
                    focus_ = r.field("thread", focus_);
                    return fmt::format("{} at {}", b.describe(), replay::format(r));
                }
            }
        }
        return "";
    }

    // The thread commands look at: set by `thread T`, else the last syscall's or
    // fault's thread.
    uint64_t focus_thread() const {
        if (focus_)
            return focus_;
        for (size_t i = recs().size(); i-- > 0;) {
            const replay::Record& r = recs()[i];
            if (r.k() == trace::Kind::k_syscall || r.k() == trace::Kind::k_fault)
                return r.f[1];
        }
        return 0;
    }

    static kernel::Thread* find_thread(uint64_t id) {
        for (kernel::KObject* o = kernel::KObject::first_live(); o; o = o->next_live())
            if (o->type() == ANVIL_OBJ_TCB && o->id() == id)
                return static_cast<kernel::Thread*>(o);
        return nullptr;
    }

    // The thread named by the next argument, or the focus thread.
    kernel::Thread* thread_arg(std::istringstream& in) {
        const NumberArg arg = number_arg(in, "a thread id (see `threads`)");
        if (!arg.error.empty()) {
            fmt::print("{}\n", arg.error);
            return nullptr;
        }
        const uint64_t id = arg.given ? arg.value : focus_thread();
        kernel::Thread* t = find_thread(id);
        if (!t)
            fmt::print("no live thread {} (see `threads`)\n", id);
        return t;
    }

    void where() {
        const Machine::Slice* p = machine_.planned();
        std::string inside;
        if (view_)
            inside = fmt::format(", {} instruction{} into a slice of thread {} on cpu {}", view_k_,
                                 view_k_ == 1 ? "" : "s", p->thread, p->cpu);
        else if (p && p->ran && machine_.slice_stop().kind == StopKind::kSyscall)
            inside = fmt::format(", thread {} entering a syscall on cpu {}", p->thread, p->cpu);
        fmt::print("at event #{} (step {}{}, virtual time {} blocks), cpu {}, thread {}\n",
                   recs().empty() ? 0 : recs().back().index, steps_, inside, machine_.virtual_time(),
                   machine_.last_cpu(), focus_thread());
    }

    void events(std::istringstream& in) {
        const NumberArg count = number_arg(in, "a number of events");
        if (!count.error.empty()) {
            fmt::print("{}\n", count.error);
            return;
        }
        const uint64_t n = count.given ? count.value : 10;
        const size_t from = recs().size() > n ? recs().size() - n : 0;
        for (size_t i = from; i < recs().size(); ++i)
            fmt::print("  {}\n", replay::format(recs()[i]));
    }

    void syscall() {
        const uint64_t t = focus_thread();
        for (size_t i = recs().size(); i-- > 0;) {
            const replay::Record& r = recs()[i];
            if (r.k() != trace::Kind::k_syscall || r.f[1] != t)
                continue;
            fmt::print("{}\n", replay::format(r));
            for (size_t j = i + 1; j < recs().size(); ++j) {
                const replay::Record& x = recs()[j];
                if ((x.k() == trace::Kind::k_sysret && x.f[1] == t) || (x.k() == trace::Kind::k_wake && x.f[0] == t)) {
                    fmt::print("  result: {}\n", replay::format(x));
                    return;
                }
            }
            fmt::print("  result: not yet (thread {} is {})\n", t,
                       find_thread(t) ? kernel::thread_state_name(find_thread(t)->state()) : "gone");
            return;
        }
        fmt::print("thread {} has made no syscall yet\n", t);
    }

    static std::string waits_on(kernel::Thread* t) {
        using kernel::IpcWait;
        const char* what = "";
        switch (t->ipc.wait) {
        case IpcWait::kNone: return "";
        case IpcWait::kSend: what = "send on"; break;
        case IpcWait::kCall: what = "call on"; break;
        case IpcWait::kRecv: what = "recv on"; break;
        case IpcWait::kReply: return fmt::format(" waits for a reply from thread {}",
                                                 t->ipc.replier ? t->ipc.replier->id() : 0);
        case IpcWait::kNotify: what = "notify_wait on"; break;
        case IpcWait::kFaultMsg: what = "fault message on"; break;
        }
        return fmt::format(" {} {} {}", what, t->ipc.object ? kernel::object_type_name(t->ipc.object->type()) : "?",
                           t->ipc.object ? t->ipc.object->id() : 0);
    }

    void threads() {
        fmt::print("{:>6} {:<10} {:>4} {:>4} {:>8}  waiting\n", "thread", "state", "cpu", "prio", "affinity");
        for (kernel::KObject* o = kernel::KObject::first_live(); o; o = o->next_live()) {
            if (o->type() != ANVIL_OBJ_TCB)
                continue;
            auto* t = static_cast<kernel::Thread*>(o);
            fmt::print("{:>6} {:<10} {:>4} {:>4} {:>8} {}\n", t->id(), kernel::thread_state_name(t->state()),
                       t->cpu(), t->priority(),
                       t->affinity() == ANVIL_CPU_ANY ? std::string("any") : fmt::format("{}", t->affinity()),
                       waits_on(t));
        }
    }

    void runqueues() {
        kernel::Scheduler& s = kernel::scheduler();
        for (uint32_t cpu = 0; cpu < s.cpu_count(); ++cpu) {
            std::string line = fmt::format("cpu {}: running {}", cpu, s.current(cpu) ? s.current(cpu)->id() : 0);
            for (uint32_t p = kernel::Thread::kMaxPriority + 1; p-- > 0;) {
                auto& q = s.queue(cpu).at(p);
                for (kernel::Thread* t = q.front(); t; t = q.next(t))
                    line += fmt::format(" | {} (prio {})", t->id(), p);
            }
            fmt::print("{}\n", line);
        }
    }

    void endpoints() {
        bool any = false;
        for (kernel::KObject* o = kernel::KObject::first_live(); o; o = o->next_live()) {
            if (o->type() == ANVIL_OBJ_ENDPOINT) {
                auto* e = static_cast<kernel::Endpoint*>(o);
                std::string s, r;
                for (kernel::Thread* t = e->senders().front(); t; t = e->senders().next(t))
                    s += fmt::format(" {}", t->id());
                for (kernel::Thread* t = e->receivers().front(); t; t = e->receivers().next(t))
                    r += fmt::format(" {}", t->id());
                if (!s.empty() || !r.empty()) {
                    fmt::print("endpoint {}: senders [{}] receivers [{}]\n", e->id(), s, r);
                    any = true;
                }
            } else if (o->type() == ANVIL_OBJ_NOTIFICATION) {
                auto* n = static_cast<kernel::Notification*>(o);
                std::string w;
                for (kernel::Thread* t = n->waiters().front(); t; t = n->waiters().next(t))
                    w += fmt::format(" {}", t->id());
                if (n->bits || !w.empty()) {
                    fmt::print("notification {}: bits 0x{:x} waiters [{}]\n", n->id(), n->bits, w);
                    any = true;
                }
            }
        }
        if (!any)
            fmt::print("no thread waits on an endpoint or notification, and no notification has bits\n");
    }

    void caps(std::istringstream& in) {
        kernel::Thread* t = thread_arg(in);
        if (!t || !t->cnode())
            return;
        kernel::CNode* cn = t->cnode();
        fmt::print("cnode {} of thread {} ({} slots, {} used)\n", cn->id(), t->id(), cn->size(), cn->used());
        fmt::print("{:>5} {:<12} {:>6} {:>10} {:>8}  derived from\n", "slot", "type", "rights", "badge", "object");
        for (uint32_t i = 1; i < cn->size(); ++i) {
            kernel::Cap* c = cn->slot(i);
            if (c->empty())
                continue;
            const std::string parent =
                c->parent ? fmt::format("cnode {} slot {}", c->parent->cnode->id(), c->parent->index) : "-";
            fmt::print("{:>5} {:<12} {:>#6x} {:>#10x} {:>8}  {}\n", i, kernel::object_type_name(c->object->type()),
                       c->rights, c->badge, c->object->id(), parent);
        }
    }

    void vspace(std::istringstream& in) {
        kernel::Thread* t = thread_arg(in);
        if (!t || !t->vspace())
            return;
        kernel::VSpace* vs = t->vspace();
        fmt::print("vspace {} of thread {}\n", vs->id(), t->id());
        for (kernel::Mapping* m = vs->mappings().front(); m; m = vs->mappings().next(m))
            fmt::print("  0x{:012x}-0x{:012x} {}{}{} vmo {} offset 0x{:x}\n", m->va, m->va + m->len,
                       m->perms & ANVIL_PERM_R ? 'r' : '-', m->perms & ANVIL_PERM_W ? 'w' : '-',
                       m->perms & ANVIL_PERM_X ? 'x' : '-', m->vmo->id(), m->offset);
    }

    void regs(std::istringstream& in) {
        kernel::Thread* t = thread_arg(in);
        if (!t)
            return;
        const hal::UserRegs& r = t->regs();
        fmt::print("thread {} ({}): rip 0x{:x} rsp 0x{:x} rflags 0x{:x}\n", t->id(),
                   kernel::thread_state_name(t->state()), r.rip, r.rsp, r.rflags);
        fmt::print("  rax 0x{:x} rbx 0x{:x} rcx 0x{:x} rdx 0x{:x}\n", r.rax, r.rbx, r.rcx, r.rdx);
        fmt::print("  rsi 0x{:x} rdi 0x{:x} rbp 0x{:x} r8 0x{:x} r9 0x{:x}\n", r.rsi, r.rdi, r.rbp, r.r8, r.r9);
        fmt::print("  r10 0x{:x} r11 0x{:x} r12 0x{:x} r13 0x{:x} r14 0x{:x} r15 0x{:x} fs_base 0x{:x}\n", r.r10,
                   r.r11, r.r12, r.r13, r.r14, r.r15, r.fs_base);
    }

    // Reads user memory of the focus thread's address space (as the kernel would).
    bool read_user(uint64_t va, uint8_t* out, uint64_t len) {
        kernel::Thread* t = find_thread(focus_thread());
        return t && t->vspace() && t->vspace()->copy_in(out, va, len) == ANVIL_OK;
    }

    void mem(std::istringstream& in) {
        const NumberArg addr = number_arg(in, "a hex address", 16);
        const NumberArg size = number_arg(in, "a number of bytes");
        if (!addr.error.empty() || !size.error.empty()) {
            fmt::print("{}\n", addr.error.empty() ? size.error : addr.error);
            return;
        }
        const uint64_t va = addr.value, len = size.value;
        if (!addr.given || !size.given || len == 0 || len > 4096 || va > ~0ull - len) {
            fmt::print("usage: mem ADDR LEN (hex address, 1..4096 bytes, in the focus thread's address space)\n");
            return;
        }
        std::vector<uint8_t> buf(len);
        if (!read_user(va, buf.data(), len)) {
            fmt::print("0x{:x}..0x{:x} is not all mapped readable in thread {}'s address space\n", va, va + len,
                       focus_thread());
            return;
        }
        for (uint64_t i = 0; i < len; i += 16) {
            std::string hex, text;
            for (uint64_t j = i; j < i + 16 && j < len; ++j) {
                hex += fmt::format("{:02x} ", buf[j]);
                text += buf[j] >= 32 && buf[j] < 127 ? static_cast<char>(buf[j]) : '.';
            }
            fmt::print("0x{:012x}  {:<48} {}\n", va + i, hex, text);
        }
    }

    void disas(std::istringstream& in) {
        kernel::Thread* t = find_thread(focus_thread());
        const NumberArg addr = number_arg(in, "a hex address", 16);
        const NumberArg lines = number_arg(in, "a number of instructions");
        if (!addr.error.empty() || !lines.error.empty()) {
            fmt::print("{}\n", addr.error.empty() ? lines.error : addr.error);
            return;
        }
        const uint64_t va = addr.given ? addr.value : t ? t->regs().rip : 0;
        const uint64_t n = lines.given ? lines.value : 8;
        uint8_t code[16 * 32];
        uint64_t len = sizeof code;
        while (len > 0 && !read_user(va, code, len))
            len -= 16;  // up to the end of the mapping
        if (len == 0) {
            fmt::print("nothing readable at 0x{:x}\n", va);
            return;
        }
        csh cs;
        if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
            return;
        cs_insn* insn = nullptr;
        const size_t count = cs_disasm(cs, code, len, va, n, &insn);
        for (size_t i = 0; i < count; ++i)
            fmt::print("  0x{:012x}: {} {}\n", insn[i].address, insn[i].mnemonic, insn[i].op_str);
        cs_free(insn, count);
        cs_close(&cs);
    }

    void focus(std::istringstream& in) {
        const NumberArg id = number_arg(in, "a thread id (see `threads`)");
        if (!id.given)
            fmt::print("usage: thread T (a thread id; see `threads`)\n");
        else if (!id.error.empty())
            fmt::print("{}\n", id.error);
        else if (!find_thread(id.value))
            fmt::print("no live thread {}\n", id.value);
        else {
            focus_ = id.value;
            fmt::print("thread {}\n", id.value);
        }
    }

    const DebugOptions& options_;
    EventSink sink_;
    Machine machine_;
    std::FILE* in_ = nullptr;
    std::FILE* out_ = nullptr;
    std::vector<Breakpoint> breaks_;       // the command loop's (kernel events)
    std::vector<uint64_t> record_steps_;   // steps that wrote records, in order
    std::vector<uint64_t> slice_thread_;   // per step (from 1): the thread its slice ran, 0 for none
    uint64_t steps_ = 0;
    uint64_t shown_ = 0;                   // steps whose console output the session has shown
    uint64_t focus_ = 0;
    bool ended_ = false;
    Outcome outcome_;
    bool view_ = false;                    // this process is a view, view_k_ instructions into the slice
    uint64_t view_k_ = 0;
    Breakpoints bps_;                      // the GDB stub's (instructions)
    bool catching_ = false, catch_all_ = false;
    std::set<uint64_t> catch_;
    std::map<uint64_t, uint64_t> in_syscall_;                 // thread -> syscall it has not returned from
    std::vector<std::pair<uint64_t, uint64_t>> returns_;      // caught returns (thread, nr) of the last steps

    friend int worker_first(const DebugOptions& o, uint64_t id);
};

// The first worker: boots and serves worker 0's FIFOs.
int worker_first(const DebugOptions& o, uint64_t id) {
    Worker* w = new Worker(o);  // lives until the process exits
    std::string error;
    if (!w->start(false, &error)) {
        fmt::print(stderr, "anvil-debug: {}\n", error);
        // Answer the debugger anyway, so it does not wait forever.
        std::FILE* in = std::fopen(worker_fifo(id, "cmd").c_str(), "r");
        std::FILE* out = std::fopen(worker_fifo(id, "out").c_str(), "w");
        (void)in;
        if (out)
            std::fclose(out);
        _exit(2);
    }
    w->serve(id);
}

}  // namespace

// ---- The debugger process's side ------------------------------------------------

DebugController::DebugController(const DebugOptions& options) : options_(options) {}

DebugController::~DebugController() {
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

bool DebugController::start() {
    char tmpl[] = "/tmp/anvil-debug.XXXXXX";
    if (!mkdtemp(tmpl))
        return false;
    dir_ = tmpl;
    g_session.dir = dir_;
    int life[2];
    if (pipe(life) != 0)
        return false;
    g_session.lifeline = life[0];
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
        _exit(worker_first(options_, id));
    }
    return open_worker(id);
}

bool DebugController::open_worker(uint64_t id) {
    to_ = std::fopen(worker_fifo(id, "cmd").c_str(), "w");
    from_ = std::fopen(worker_fifo(id, "out").c_str(), "r");
    unlink(worker_fifo(id, "cmd").c_str());  // both ends are open: the names are not needed
    unlink(worker_fifo(id, "out").c_str());
    return to_ && from_ && read_status(nullptr);
}

void DebugController::close_worker() {
    if (to_)
        std::fclose(to_);
    if (from_)
        std::fclose(from_);
    to_ = from_ = nullptr;
    in_buf_.clear();
    worker_pid_ = -1;
}

bool DebugController::read_line(std::string* line) {
    const int fd = fileno(from_);
    for (;;) {
        const size_t nl = in_buf_.find('\n');
        if (nl != std::string::npos) {
            *line = in_buf_.substr(0, nl);
            in_buf_.erase(0, nl + 1);
            return true;
        }
        pollfd fds[2] = {{fd, POLLIN, 0}, {interrupt_fd, POLLIN, 0}};
        if (poll(fds, interrupt_fd >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        if (interrupt_fd >= 0 && (fds[1].revents & POLLIN)) {
            // gdb's interrupt (a 0x03 byte while the target runs): tell the worker.
            char c = 0;
            if (read(interrupt_fd, &c, 1) == 1 && c == 0x03 && worker_pid_ > 0)
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

bool DebugController::read_status(std::vector<std::string>* replies) {
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
        thin_checkpoints();
        return true;
    }
    return false;
}

bool DebugController::send(const std::string& line, std::vector<std::string>* replies) {
    if (!to_)
        return false;
    fmt::print(to_, "{}\n", line);
    std::fflush(to_);
    return read_status(replies);
}

std::string DebugController::ask(const std::string& line, const std::string& word) {
    std::vector<std::string> replies;
    send(line, &replies);
    for (const std::string& r : replies)
        if (r.rfind(word, 0) == 0)
            return r.size() > word.size() ? r.substr(word.size() + 1) : "";
    return "";
}

bool DebugController::leave_view() {
    if (!in_view())
        return true;
    if (!send("leave"))
        return false;
    // Settings made while in the view went to the view only: the worker gets them now.
    for (const std::string& s : settings)
        if (!send(s))
            return false;
    return true;
}

std::vector<uint64_t> DebugController::checkpoints() const { return checkpoint_list(); }

void DebugController::thin_checkpoints() { thin_checkpoint_list(); }

bool DebugController::spawn_from(uint64_t checkpoint, uint64_t target) {
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
    for (const std::string& s : settings)
        send(s);
    return true;
}

bool DebugController::go(const Position& p) {
    const bool ahead = p.steps > pos_.steps || (p.steps == pos_.steps && !pos_.entry);
    if (ahead) {
        if (!leave_view())
            return false;
        if (p.steps > pos_.steps && !send(fmt::format("=goto {}", p.steps)))
            return false;
    } else {
        uint64_t from = 0;
        for (uint64_t c : checkpoints())
            if (c <= p.steps)
                from = c;
        if (!spawn_from(from, p.steps))
            return false;
    }
    if (p.entry)
        return send("=entry");
    if (p.insns > 0)
        return send(fmt::format("=view {}", p.insns));
    return true;
}

bool DebugController::reverse_stepi(uint64_t thread, std::string* why) {
    const Position cur = pos_;
    // The slice to look in first: the current one, if it is this thread's and
    // has run some of its instructions; else its last slice before.
    uint64_t j = 0, limit = ~0ull;
    if (thread_ == thread && (cur.insns > 0 || cur.entry)) {
        j = cur.steps + 1;
        limit = cur.entry ? ~0ull : cur.insns;
    } else {
        j = std::strtoull(ask(fmt::format("=find {} {}", thread, cur.steps), "find").c_str(), nullptr, 10);
    }
    for (;;) {
        if (j == 0) {
            *why = fmt::format("thread {} has run no instruction before this point", thread);
            return go(cur) && false;
        }
        if (!go(Position{j - 1, 0, false}))
            return false;
        std::istringstream r(ask(fmt::format("=probe {}", limit), "probe"));
        uint64_t t = 0, executed = 0;
        r >> t >> executed;
        if (executed > 0)
            return executed - 1 == 0 || go(Position{j - 1, executed - 1, false});
        limit = ~0ull;
        j = std::strtoull(ask(fmt::format("=find {} {}", thread, j - 1), "find").c_str(), nullptr, 10);
    }
}

bool DebugController::reverse_continue(Found* found) {
    const Position cur = pos_;
    *found = Found{};
    // Earlier in the current slice?
    if (cur.insns > 0 || cur.entry) {
        if (!go(Position{cur.steps, 0, false}))
            return false;
        std::istringstream r(ask(fmt::format("=collect {}", cur.entry ? ~0ull : cur.insns), "probe"));
        uint64_t t = 0, executed = 0, reached = 0, h = 0, last = ~0ull;
        r >> t >> executed >> reached;
        while (r >> h)
            last = h;
        if (last != ~0ull) {
            *found = Found{"bp", t, 0};
            return last == 0 || go(Position{cur.steps, last, false});
        }
    }
    // Earlier steps, one checkpoint interval at a time, newest first.
    const std::vector<uint64_t> cps = checkpoints();
    uint64_t hi = cur.steps;
    bool exclude = cur.insns == 0 && !cur.entry;
    for (size_t i = cps.size(); i-- > 0;) {
        if (cps[i] >= hi)
            continue;
        if (!spawn_from(cps[i], cps[i]))
            return false;
        std::istringstream r(ask(fmt::format("=scan {} {}", hi, exclude ? 1 : 0), "scan"));
        std::string first;
        r >> first;
        if (first != "none") {
            const uint64_t step = std::strtoull(first.c_str(), nullptr, 10);
            r >> found->kind >> found->thread >> found->nr;
            if (found->kind == "return")
                return go(Position{step, 0, false});
            if (found->kind == "entry")
                return go(Position{step - 1, 0, true});
            if (!go(Position{step - 1, 0, false}))
                return false;
            std::istringstream c(ask("=collect", "probe"));
            uint64_t t = 0, executed = 0, reached = 0, h = 0, last = 0;
            c >> t >> executed >> reached;
            while (c >> h)
                last = h;
            return last == 0 || go(Position{step - 1, last, false});
        }
        hi = cps[i];
        exclude = false;
    }
    // Nothing before: the start of the run.
    return go(Position{0, 0, false});
}

// ---- The command loop -------------------------------------------------------------

namespace {

class CommandLoop {
public:
    explicit CommandLoop(DebugController& c) : c_(c), options_(c.options()) {}

    int run() {
        fmt::print("anvil-debug: stopped after boot; `help` lists the commands\n");
        const bool interactive = options_.commands == stdin && isatty(STDIN_FILENO);
        char line[1024];
        for (;;) {
            std::string cmd;
            if (interactive) {
                char* typed = readline("(anvil) ");
                if (!typed)
                    break;
                cmd = typed;
                if (!cmd.empty())
                    add_history(typed);
                std::free(typed);
            } else {
                fmt::print("(anvil) ");
                std::fflush(stdout);
                if (!std::fgets(line, sizeof line, options_.commands))
                    break;
                cmd = line;
            }
            while (!cmd.empty() && (cmd.back() == '\n' || cmd.back() == '\r'))
                cmd.pop_back();
            if (options_.echo_commands) {
                fmt::print("{}\n", cmd);
                std::fflush(stdout);
            }
            std::istringstream in(cmd);
            std::string word;
            in >> word;
            if (word.empty() || word[0] == '#')
                continue;
            if (word == "quit" || word == "q")
                break;
            if (!command(word, in, cmd)) {
                fmt::print(stderr, "anvil-debug: the simulator worker died\n");
                return 2;
            }
            std::fflush(stdout);
        }
        return 0;
    }

private:
    // False only if the worker is gone.
    bool command(const std::string& word, std::istringstream& in, const std::string& line) {
        const DebugCommand cmd = parse_command(line);
        if (!cmd.error.empty()) {  // unknown, or bad arguments: nothing is done
            fmt::print("{}\n", cmd.error);
            return true;
        }
        if (word == "help") {
            help();
            return true;
        }
        if (word == "prev" || word == "p")
            return prev();
        if (word == "stepi" || word == "si") {
            const NumberArg n = number_arg(in, "a number of instructions (1 or more)");
            if (!n.error.empty() || (n.given && n.value == 0)) {
                fmt::print("{}\n", n.error.empty() ? "stepi steps 1 or more instructions" : n.error);
                return true;
            }
            return stepi(n.given ? n.value : 1);
        }
        if (word == "reverse-stepi" || word == "rsi")
            return reverse_stepi();
        if (word == "break" || word == "delete") {
            breakpoint_command(cmd);
            return true;
        }
        const bool moves = cmd.kind == DebugCommand::Kind::kContinue || cmd.kind == DebugCommand::Kind::kNext;
        if (moves && !c_.leave_view())
            return false;
        return c_.send(cmd.line());
    }

    uint64_t focus() { return std::strtoull(c_.ask("=focus", "focus").c_str(), nullptr, 10); }

    bool stepi(uint64_t n) {
        const uint64_t t = focus();
        if (t == 0) {
            fmt::print("no thread to step yet (make one the focus with `thread T`)\n");
            return true;
        }
        const uint64_t k = c_.position().insns;
        if (!c_.leave_view())
            return false;
        const std::string r = c_.ask(fmt::format("=stepi {} {} {}", t, n, k), "stopped");
        if (r == "end")
            fmt::print("thread {} ran no further: the run has ended\n", t);
        return c_.send(fmt::format("=focus {}", t)) && c_.send("=show");
    }

    bool reverse_stepi() {
        const uint64_t t = focus();
        if (t == 0) {
            fmt::print("no thread to step back yet (make one the focus with `thread T`)\n");
            return true;
        }
        std::string why;
        if (!c_.reverse_stepi(t, &why)) {
            if (why.empty())
                return false;
            fmt::print("{}\n", why);
            return true;
        }
        return c_.send(fmt::format("=focus {}", t)) && c_.send("=show");
    }

    // Keeps the debugger's list in step with the worker's.
    void breakpoint_command(const DebugCommand& cmd) {
        switch (cmd.kind) {
        case DebugCommand::Kind::kDelete:
            if (cmd.number > breaks_.size()) {
                fmt::print("no breakpoint {}\n", cmd.number);
                return;
            }
            if (cmd.number)
                breaks_.erase(breaks_.begin() + static_cast<long>(cmd.number - 1));
            else
                breaks_.clear();
            break;
        case DebugCommand::Kind::kBreakList:
            for (size_t i = 0; i < breaks_.size(); ++i)
                fmt::print("  {}: {}\n", i + 1, breaks_[i].line());
            if (breaks_.empty())
                fmt::print("no breakpoints\n");
            return;
        default:
            breaks_.push_back(cmd.breakpoint);
            fmt::print("breakpoint {}: {}\n", breaks_.size(), cmd.breakpoint.describe());
            break;
        }
        set_breaks();
    }

    // Every worker gets the whole list: the current one now, new ones on spawn.
    void set_breaks() {
        c_.settings.assign(1, "delete");
        for (const Breakpoint& b : breaks_)
            c_.settings.push_back(b.line());
        for (const std::string& s : c_.settings)
            c_.send(s);
    }

    bool prev() {
        const Position cur = c_.position();
        if (cur.insns > 0 || cur.entry) {  // inside a slice: back to its start
            if (!c_.go(Position{cur.steps, 0, false}))
                return false;
            return c_.send("where");
        }
        if (cur.steps == 0) {
            fmt::print("already at the start of the run\n");
            return true;
        }
        if (!c_.go(Position{c_.prev_stop(), 0, false}))
            return false;
        return c_.send("where");
    }

    void help() {
        fmt::print(
            "Moving (a position is a kernel event, or an instruction inside a slice; the run is deterministic):\n"
            "  continue | c          run to the next breakpoint or the end\n"
            "  next | n              run to the next kernel event(s) and show them\n"
            "  prev | p              back to the previous stop (re-executes from the nearest checkpoint)\n"
            "  stepi [N] | si [N]    run N user instructions of the focus thread (other threads run\n"
            "                        as the schedule has them) and stop before its next one\n"
            "  reverse-stepi | rsi   back to just before the focus thread's previous instruction\n"
            "  break syscall NAME|NUMBER [thread T] | break event N | break fault\n"
            "  break                 list breakpoints;  delete [N]: delete one or all\n"
            "Looking (at the focus thread: the last syscall's or fault's, the stepped one, or `thread T`):\n"
            "  where                 event index, step, virtual time, CPU, thread\n"
            "  events [N]            the last N events (default 10)\n"
            "  syscall               the focus thread's last syscall, decoded, and its result\n"
            "  threads | runqueues | endpoints\n"
            "  caps [T] | vspace [T] the CNode / the mappings of thread T's process\n"
            "  regs [T] | mem ADDR LEN | disas [ADDR [N]]\n"
            "  thread T              make T the focus thread\n"
            "  quit\n"
            "At a terminal, the arrow keys edit the line and walk the history.\n"
            "For source-level debugging, run anvil-debug --gdb PORT and connect gdb (docs/debugging.md).\n");
    }

    DebugController& c_;
    const DebugOptions& options_;
    std::vector<Breakpoint> breaks_;
};

}  // namespace

int debug_main(const DebugOptions& options) {
    DebugController c(options);
    if (!c.start()) {
        fmt::print(stderr, "anvil-debug: the simulator could not start\n");
        return 2;
    }
    if (options.gdb_port >= 0)
        return gdb_serve(c, options.gdb_port);
    // Ctrl-C interrupts a running command (the worker sees it), not the debugger.
    signal(SIGINT, SIG_IGN);
    CommandLoop loop(c);
    return loop.run();
}

}  // namespace sim
