// A machine under the debugger's control (worker.h): moving faithfully,
// checkpoints, and the probes and views that look inside a slice.
#include "replay/debug/worker.h"

#include "kernel/introspect.h"
#include "replay/debug/hex.h"
#include "replay/debug/kernel_view.h"
#include "replay/debug/session.h"

#include <anvil/syscalls.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <hal/kernel_entry.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace replay::debug {

using sim::DebugControl;
using sim::Machine;
using sim::Outcome;
using sim::StopKind;

volatile sig_atomic_t g_interrupted = 0;

namespace {

void on_interrupt(int) { g_interrupted = 1; }

}  // namespace

void EventSink::write(const void* data, size_t len) {
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
        Trace t;
        std::string error;
        if (trace_.bytes.size() >= sizeof(trace::Header) && parse(trace_.bytes, &t, &error)) {
            trace_.header = t.header;
            trace_.cmdline = t.cmdline;
            trace_.records_begin = t.records_begin;
            pos_ = t.records_begin;
            have_header_ = true;
        }
        return;
    }
    Record r;
    std::string error;
    uint64_t pos = pos_;
    while (next(trace_, &pos, &r, &error)) {
        r.index = records_.size();
        records_.push_back(r);
        pos_ = pos;
    }
}

// ---- Starting and serving ----------------------------------------------------------

bool Worker::start(bool quiet, std::string* error) {
    machine_.set_trace_sink(&sink_);
    machine_.set_echo(!quiet);
    kernel::trace_set_flush_each(true);
    Outcome out;
    const bool started = options_.trace && options_.trace->from_qemu() ? machine_.start_follow(*options_.trace, &out)
                                                                      : machine_.start(&out);
    if (!started) {
        *error = out.message;
        return false;
    }
    record_step_.resize(recs().size(), 0);  // the boot's records
    maybe_checkpoint();
    return true;
}

void Worker::serve(uint64_t id) {
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

void Worker::fast_forward(uint64_t target) {
    while (steps_ < target && step_once()) {
    }
}

void Worker::loop() {
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

void Worker::reply(const std::string& text) { fmt::print(out_, "R {}\n", text); }

// The status line that ends every answer: position, the previous kernel
// event's step, whether the run is over, and the thread of the next slice.
void Worker::status() {
    const Machine::Slice* p = machine_.planned();
    fmt::print(out_, "S {} {} {} {} {} {} {}\n", steps_, prev_stop(), ended_ ? 1 : 0, view_ ? view_k_ : 0,
               p && p->ran && !view_ ? 1 : 0, p ? p->thread : 0, getpid());
    std::fflush(out_);
}

// ---- Moving, faithfully -----------------------------------------------------

// Console output goes to the terminal only the first time the session's
// run passes a point: re-executions (going back, scans) stay quiet.
void Worker::echo() { machine_.set_echo(steps_ >= shown_); }

// One machine step (Machine::step in its parts): plans the next slice, or
// delivers interrupts (a step), or runs the planned slice and its kernel entry.
bool Worker::step_once() {
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
bool Worker::plan() {
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

bool Worker::run_user() {
    echo();
    Outcome out;
    return machine_.run_slice(&out, nullptr) || end(out);
}

bool Worker::finish() {
    echo();
    const size_t before = recs().size();
    const uint64_t thread = machine_.planned()->thread;
    Outcome out;
    const bool more = machine_.finish_slice(&out);
    complete_step(thread, before);
    return more || end(out);
}

bool Worker::end(const Outcome& out) {
    ended_ = true;
    outcome_ = out;
    return false;
}

void Worker::complete_step(uint64_t thread, size_t records_before) {
    ++steps_;
    record_step_.resize(recs().size(), steps_);
    shown_ = std::max(shown_, steps_);
    slice_thread_.push_back(thread);
    if (recs().size() > records_before)
        record_steps_.push_back(steps_);
    for (size_t i = records_before; i < recs().size(); ++i) {
        const Record& r = recs()[i];
        if (r.k() == trace::Kind::k_syscall) {
            in_syscall_[r.f[1]] = r.f[2];
            resumed_ |= r.f[2] == ANVIL_SYS_tcb_resume;  // (a new process starts so)
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
    if (machine_.address_spaces_made() != as_made_ && bps_.size() > bps_.count(0))
        set_code_watch();  // a new process may be one a breakpoint names
    maybe_checkpoint();
}

// ---- Checkpoints ------------------------------------------------------------

void Worker::maybe_checkpoint() {
    if (view_ || steps_ % kCheckpointEvery != 0 || access(checkpoint_fifo(steps_).c_str(), F_OK) == 0)
        return;
    thin_checkpoints();
    note_checkpoint_records(steps_, recs().size());
    std::fflush(stdout);
    if (out_)
        std::fflush(out_);
    const pid_t pid = fork();
    if (pid == 0)
        checkpoint_main();
}

// A copy of the run at this step, waiting to be asked for a new worker.
void Worker::checkpoint_main() {
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

// ---- Inside a slice: probes and views ---------------------------------------

// Runs the planned slice in a throwaway copy of this process with the
// instruction hook and reports what happened.
Worker::Probe Worker::probe(uint64_t limit, const sim::Breakpoints* bps, uint64_t break_from, bool collect) {
    Probe r;
    r.thread = machine_.planned()->thread;
    if (machine_.planned()->ran)
        return r;  // (following a QEMU trace: planned at its entry, no instruction left to run)
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
        std::vector<sim::DataHit> watch_hits;
        for (const sim::DataHit& h : machine_.take_data_hits())
            if (stops_at(h))
                watch_hits.push_back(h);
        text += format_hits(d.hits, watch_hits) + "\n";
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
    parse_hits(in, &r.hits, &r.watch_hits);
    return r;
}

// Becomes (in a child) a view of the planned slice after `k` instructions;
// this process waits until the view is left, then answers for it.
void Worker::become_view(uint64_t k, const std::string& answer) {
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

// ---- Running to a stop (the debugger process has left any view first) -------

// Steps thread `t` by `n` of its instructions from instruction `k` of the
// next slice, stopping just before its next one.
void Worker::stepi(uint64_t t, uint64_t n, uint64_t k) {
    for (;;) {
        if (!plan()) {
            reply(fmt::format("stopped exit {}", exit_code()));
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

// True if the slice just run ended in a syscall the debugger catches.
bool Worker::caught_entry(uint64_t* nr) {
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
void Worker::cont(uint64_t k, bool skip) {
    bool first = true;
    // At a caught entry already (stopped there): not caught again.
    const bool at_entry = machine_.planned() && machine_.planned()->ran;
    returns_.clear();
    snapshot_objects();
    resumed_ = true;  // (a process the caller does not know may be running already)
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
            const sim::Breakpoints* bps = slice_breakpoints(p.thread);
            if (first && (bps || !watches_.empty())) {
                const Probe r = probe(~0ull, bps, k + (skip ? 1 : 0), false);
                // The first access a watch stops at by an instruction from k on
                // (the run stops after it), unless a breakpoint comes first.
                for (const sim::DataHit& h : r.watch_hits) {
                    if (h.instruction <= k || (r.at_breakpoint && h.instruction > r.executed))
                        continue;
                    focus_ = p.thread;
                    become_view(h.instruction, fmt::format("stopped watch {} {} {} {}", p.thread, h.watch,
                                                           h.old_value, h.new_value));
                    return;
                }
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
            const bool watched = take_watch_stop();  // (the first slice's were the probe's)
            if ((hit || watched) && !first) {
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
        // Following a QEMU trace, plan() runs each slice to its entry.
        uint64_t nr = 0;
        if (p.ran && !(first && at_entry) && caught_entry(&nr)) {
            focus_ = p.thread;
            reply(fmt::format("stopped entry {} {}", p.thread, nr));
            return;
        }
        first = false;
        const size_t before = recs().size();
        if (!finish())
            continue;
        if (!returns_.empty()) {
            focus_ = returns_[0].first;
            reply(fmt::format("stopped return {} {}", returns_[0].first, returns_[0].second));
            return;
        }
        if (const uint64_t t = new_process_thread()) {
            focus_ = t;
            reply(fmt::format("stopped process {}", t));
            return;
        }
        // The command loop's breakpoints on kernel events (gdb sets none).
        const std::string hit = breakpoint_hit(before);
        if (!hit.empty()) {
            fmt::print("breakpoint: {}\n", hit);
            reply(fmt::format("stopped event {}", focus_thread()));
            return;
        }
    }
}

// From a checkpoint up to step `hi`: the last breakpoint hit, caught entry
// or caught return on the way (a return at step `hi` itself only if !exclude_hi).
void Worker::scan(uint64_t hi, bool exclude_hi) {
    std::string last = "none";
    snapshot_objects();
    // The command loop's breakpoints and object watches that step `step` hit:
    // "STEP event T HEXTEXT" (what it hit, for people).
    auto event = [&](uint64_t step, size_t before) {
        if (breaks_.empty())
            return;
        const std::string hit = breakpoint_hit(before);
        if (!hit.empty() && !(exclude_hi && step == hi))
            last = fmt::format("{} event {} {}", step, focus_thread(), to_hex(hit.data(), hit.size()));
    };
    while (steps_ < hi && plan()) {
        returns_.clear();
        const Machine::Slice p = *machine_.planned();
        const uint64_t step = steps_ + 1;
        const size_t before = recs().size();
        // (A worker at a checkpoint is never at an entry; following a QEMU
        // trace, plan() runs each slice to its entry.)
        if (!p.ran && !run_user())
            break;
        const bool hit = machine_.take_watch_hit();
        const bool watched = take_watch_stop();
        uint64_t nr = 0;
        const bool entry = caught_entry(&nr);
        finish();
        if (!returns_.empty() && !(exclude_hi && step == hi))
            last = fmt::format("{} return {} {}", steps_, returns_.back().first, returns_.back().second);
        else if (entry)
            last = fmt::format("{} entry {} {}", step, p.thread, nr);
        else if (hit || watched)
            last = fmt::format("{} {} {} 0", step, watched ? "watch" : "bp", p.thread);
        event(step, before);
    }
    reply("scan " + last);
}

// ---- What the run has passed ------------------------------------------------

uint64_t Worker::prev_stop() const {
    for (size_t i = record_steps_.size(); i-- > 0;)
        if (record_steps_[i] < steps_)
            return record_steps_[i];
    return 0;
}

// The thread commands look at: set by `thread T`, else the last syscall's or
// fault's thread.
uint64_t Worker::focus_thread() const {
    if (focus_)
        return focus_;
    for (size_t i = recs().size(); i-- > 0;) {
        const Record& r = recs()[i];
        if (r.k() == trace::Kind::k_syscall || r.k() == trace::Kind::k_fault)
            return r.f[1];
    }
    return 0;
}


// ---- The first worker -------------------------------------------------------

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

}  // namespace replay::debug
