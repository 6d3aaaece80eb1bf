#include "sim/debugger.h"

#include "kernel/cap/cap.h"
#include "kernel/object/cnode.h"
#include "kernel/object/endpoint.h"
#include "kernel/object/thread.h"
#include "kernel/object/vmo.h"
#include "kernel/object/vspace.h"
#include "kernel/sched/scheduler.h"
#include "kernel/trace/trace.h"
#include "sim/trace_sink.h"

#include <anvil/syscalls.h>
#include <capstone/capstone.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <fmt/core.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace sim {

namespace {

const anvil_syscall_desc_t kSyscalls[] = {ANVIL_SYSCALLS(ANVIL_SYSCALL_DESC_INIT)};

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

// ---- Breakpoints ---------------------------------------------------------------

struct Breakpoint {
    enum class Kind { kSyscall, kEvent, kFault } kind;
    uint64_t value = 0;   // syscall number or event index
    uint64_t thread = 0;  // kSyscall: only this thread (0: any)
    std::string describe() const {
        switch (kind) {
        case Kind::kSyscall:
            return fmt::format("syscall {}{}", value < ANVIL_SYS_COUNT ? kSyscalls[value].name : "?",
                               thread ? fmt::format(" thread {}", thread) : "");
        case Kind::kEvent: return fmt::format("event #{}", value);
        case Kind::kFault: return "fault";
        }
        return "?";
    }
};

// Parses "break ..." arguments; empty error on success.
std::string parse_break(std::istringstream& in, Breakpoint* b) {
    std::string what;
    in >> what;
    if (what == "fault") {
        b->kind = Breakpoint::Kind::kFault;
        return "";
    }
    if (what == "event") {
        b->kind = Breakpoint::Kind::kEvent;
        if (!(in >> b->value))
            return "break event needs a record index";
        return "";
    }
    if (what == "syscall") {
        b->kind = Breakpoint::Kind::kSyscall;
        std::string name;
        if (!(in >> name))
            return "break syscall needs a name or number";
        b->value = ANVIL_SYS_COUNT;
        for (uint64_t i = 0; i < ANVIL_SYS_COUNT; ++i)
            if (name == kSyscalls[i].name)
                b->value = i;
        if (b->value == ANVIL_SYS_COUNT) {
            char* end = nullptr;
            const unsigned long long n = std::strtoull(name.c_str(), &end, 0);
            if (!end || *end || n >= ANVIL_SYS_COUNT)
                return fmt::format("no syscall named \"{}\"", name);
            b->value = n;
        }
        std::string word;
        if (in >> word) {
            if (word != "thread" || !(in >> b->thread))
                return "usage: break syscall NAME|NUMBER [thread T]";
        }
        return "";
    }
    return "usage: break syscall NAME|NUMBER [thread T] | break event N | break fault";
}

// ---- The worker: a machine under the debugger's control -------------------------

class Worker {
public:
    Worker(const DebugOptions& o) : options_(o), sink_(o.trace), machine_(o.config) {}

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
        return true;
    }

    // Runs to step `target` silently (re-execution for `prev`).
    void fast_forward(uint64_t target) {
        machine_.set_echo(false);
        while (steps_ < target && step()) {
        }
        machine_.set_echo(true);
    }

    void add_break(const Breakpoint& b) { breaks_.push_back(b); }

    // One command; output to stdout. Returns false for `quit`.
    bool execute(const std::string& line) {
        std::istringstream in(line);
        std::string cmd;
        in >> cmd;
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
        else if (cmd == "break") {
            Breakpoint b{};
            if (parse_break(in, &b).empty())
                add_break(b);
        } else if (cmd == "delete") {
            uint64_t id = 0;
            if (in >> id) {
                if (id >= 1 && id <= breaks_.size())
                    breaks_.erase(breaks_.begin() + static_cast<long>(id - 1));
            } else {
                breaks_.clear();
            }
        }
        std::fflush(stdout);
        return true;
    }

    uint64_t steps() const { return steps_; }
    // The position of the previous kernel event: the last step before this one
    // that wrote records (0: boot).
    uint64_t prev_stop() const {
        for (size_t i = record_steps_.size(); i-- > 0;)
            if (record_steps_[i] < steps_)
                return record_steps_[i];
        return 0;
    }
    bool ended() const { return ended_; }

private:
    const std::vector<replay::Record>& recs() const { return sink_.records(); }

    bool step() {
        if (ended_)
            return false;
        const size_t before = recs().size();
        Outcome out;
        const bool more = machine_.step(&out);
        ++steps_;
        if (recs().size() > before)
            record_steps_.push_back(steps_);
        if (!more) {
            ended_ = true;
            outcome_ = out;
        }
        return more;
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
            const bool more = step();
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
        uint64_t id = 0;
        if (!(in >> id)) {
            in.clear();
            id = focus_thread();
        }
        kernel::Thread* t = find_thread(id);
        if (!t)
            fmt::print("no live thread {} (see `threads`)\n", id);
        return t;
    }

    void where() {
        fmt::print("at event #{} (step {}, virtual time {} blocks), cpu {}, thread {}\n",
                   recs().empty() ? 0 : recs().back().index, steps_, machine_.virtual_time(), machine_.last_cpu(),
                   focus_thread());
    }

    void events(std::istringstream& in) {
        size_t n = 10;
        in >> n;
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
        uint64_t va = 0, len = 0;
        in >> std::hex >> va >> std::dec >> len;
        if (!in || len == 0 || len > 4096) {
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
        uint64_t va = t ? t->regs().rip : 0, n = 8;
        std::string a;
        if (in >> a)
            va = std::strtoull(a.c_str(), nullptr, 16);
        in >> n;
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
        uint64_t id = 0;
        if (in >> id && find_thread(id)) {
            focus_ = id;
            fmt::print("thread {}\n", id);
        } else {
            fmt::print("no live thread {}\n", id);
        }
    }

    const DebugOptions& options_;
    EventSink sink_;
    Machine machine_;
    std::vector<Breakpoint> breaks_;
    std::vector<uint64_t> record_steps_;  // steps that wrote records, in order
    uint64_t steps_ = 0;
    uint64_t focus_ = 0;
    bool ended_ = false;
    Outcome outcome_;
};

// ---- The debugger process: commands in, a worker per position ---------------------

class Session {
public:
    explicit Session(const DebugOptions& o) : options_(o) {}
    ~Session() { stop_worker(); }

    // A worker at step `target` (0: just booted).
    bool spawn(uint64_t target) {
        stop_worker();
        int to[2], from[2];
        if (pipe(to) != 0 || pipe(from) != 0)
            return false;
        std::fflush(stdout);
        const pid_t pid = fork();
        if (pid < 0)
            return false;
        if (pid == 0) {
            close(to[1]);
            close(from[0]);
            worker_main(to[0], from[1], target);
            std::fflush(stdout);
            _exit(0);
        }
        close(to[0]);
        close(from[1]);
        pid_ = pid;
        to_ = fdopen(to[1], "w");
        from_ = fdopen(from[0], "r");
        return read_status();
    }

    // Sends a command to the worker and waits until it has done it.
    bool send(const std::string& line) {
        if (!to_)
            return false;
        fmt::print(to_, "{}\n", line);
        std::fflush(to_);
        return read_status();
    }

    int loop() {
        if (!spawn(0)) {
            fmt::print(stderr, "anvil-debug: the simulator could not start\n");
            return 2;
        }
        fmt::print("anvil-debug: stopped after boot; `help` lists the commands\n");
        // At a terminal: line editing and history (GNU readline).
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
            if (word == "help") {
                help();
                continue;
            }
            if (word == "prev" || word == "p") {
                prev();
                continue;
            }
            if (word == "stepi" || word == "reverse-stepi") {
                fmt::print("{}: not built yet (the debugger stops at kernel events; instruction stepping comes with "
                           "the GDB stub)\n",
                           word);
                continue;
            }
            if (word == "break" || word == "delete") {
                if (!breakpoint_command(word, in))
                    continue;
            }
            if (!known(word)) {
                fmt::print("unknown command \"{}\" (`help` lists them)\n", word);
                continue;
            }
            if (!send(cmd)) {
                fmt::print(stderr, "anvil-debug: the simulator worker died\n");
                return 2;
            }
        }
        return 0;
    }

private:
    static bool known(const std::string& w) {
        static const char* kCommands[] = {"continue", "c",      "next",    "n",       "where",     "events",
                                          "syscall",  "threads", "runqueues", "endpoints", "caps",  "vspace",
                                          "regs",     "mem",    "disas",   "thread",  "break",     "delete"};
        for (const char* k : kCommands)
            if (w == k)
                return true;
        return false;
    }

    // Keeps the debugger's list in step with the worker's; false if not to send.
    bool breakpoint_command(const std::string& word, std::istringstream& in) {
        if (word == "delete") {
            uint64_t id = 0;
            if (in >> id) {
                if (id < 1 || id > breaks_.size()) {
                    fmt::print("no breakpoint {}\n", id);
                    return false;
                }
                breaks_.erase(breaks_.begin() + static_cast<long>(id - 1));
            } else {
                breaks_.clear();
            }
            return true;
        }
        std::string rest;
        std::getline(in, rest);
        if (rest.find_first_not_of(' ') == std::string::npos) {
            for (size_t i = 0; i < breaks_.size(); ++i)
                fmt::print("  {}: {}\n", i + 1, breaks_[i]);
            if (breaks_.empty())
                fmt::print("no breakpoints\n");
            return false;
        }
        std::istringstream args(rest);
        Breakpoint b{};
        const std::string error = parse_break(args, &b);
        if (!error.empty()) {
            fmt::print("{}\n", error);
            return false;
        }
        breaks_.push_back("break" + rest);
        fmt::print("breakpoint {}: {}\n", breaks_.size(), b.describe());
        return true;
    }

    void prev() {
        if (status_steps_ == 0) {
            fmt::print("already at the start of the run\n");
            return;
        }
        const uint64_t target = status_prev_;
        if (!spawn(target)) {
            fmt::print(stderr, "anvil-debug: cannot restart the simulator\n");
            return;
        }
        send("where");
    }

    void help() {
        fmt::print(
            "Moving (a position is a kernel event; the run is deterministic):\n"
            "  continue | c          run to the next breakpoint or the end\n"
            "  next | n              run to the next kernel event(s) and show them\n"
            "  prev | p              back to the previous stop (re-executes the run from boot)\n"
            "  break syscall NAME|NUMBER [thread T] | break event N | break fault\n"
            "  break                 list breakpoints;  delete [N]: delete one or all\n"
            "Looking (at the focus thread: the last syscall's or fault's, or `thread T`):\n"
            "  where                 event index, virtual time, CPU, thread\n"
            "  events [N]            the last N events (default 10)\n"
            "  syscall               the focus thread's last syscall, decoded, and its result\n"
            "  threads | runqueues | endpoints\n"
            "  caps [T] | vspace [T] the CNode / the mappings of thread T's process\n"
            "  regs [T] | mem ADDR LEN | disas [ADDR] [N]\n"
            "  thread T              make T the focus thread\n"
            "  quit\n"
            "At a terminal, the arrow keys edit the line and walk the history.\n"
            "Not built yet: stepi, reverse-stepi (instruction stepping), the GDB stub.\n");
    }

    void worker_main(int in_fd, int out_fd, uint64_t target) {
        std::FILE* in = fdopen(in_fd, "r");
        std::FILE* out = fdopen(out_fd, "w");
        Worker w(options_);
        std::string error;
        if (!w.start(target > 0, &error)) {
            fmt::print(stderr, "anvil-debug: {}\n", error);
            return;
        }
        for (const std::string& b : breaks_)
            w.execute(b);
        w.fast_forward(target);
        auto status = [&] {
            fmt::print(out, "{} {} {}\n", w.steps(), w.prev_stop(), w.ended() ? 1 : 0);
            std::fflush(out);
        };
        status();
        char line[1024];
        while (std::fgets(line, sizeof line, in)) {
            std::string cmd(line);
            while (!cmd.empty() && cmd.back() == '\n')
                cmd.pop_back();
            w.execute(cmd);
            status();
        }
    }

    bool read_status() {
        unsigned long long steps = 0, prev = 0;
        int ended = 0;
        if (!from_ || std::fscanf(from_, "%llu %llu %d", &steps, &prev, &ended) != 3)
            return false;
        status_steps_ = steps;
        status_prev_ = prev;
        return true;
    }

    void stop_worker() {
        if (to_)
            std::fclose(to_);
        if (from_)
            std::fclose(from_);
        to_ = from_ = nullptr;
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        pid_ = -1;
    }

    const DebugOptions& options_;
    std::vector<std::string> breaks_;  // as typed, for new workers
    pid_t pid_ = -1;
    std::FILE* to_ = nullptr;
    std::FILE* from_ = nullptr;
    uint64_t status_steps_ = 0;
    uint64_t status_prev_ = 0;
};

}  // namespace

int debug_main(const DebugOptions& options) {
    Session s(options);
    return s.loop();
}

}  // namespace sim
