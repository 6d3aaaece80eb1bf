// The GDB remote stub of anvil-debug (--gdb PORT; docs/debugging.md): serves
// the GDB remote serial protocol on 127.0.0.1 over a simulated run, through
// the same Timeline as the command loop (replay/timeline.h).
//
// What gdb sees: an x86-64 target (GNU/Linux OS ABI, so that `catch syscall`
// works, with Anvil's syscall table installed as GDB's amd64-linux syscall
// file). With gdb's multiprocess extensions, each Anvil process is an
// inferior (its id the VSpace's object id, its executable the program it
// runs, qXfer:exec-file, from programs.h), and its threads are that
// inferior's threads, named after the program (qXfer:threads). A process that
// starts during a continue is shown to gdb by a stop gdb resumes by itself (a
// "library" event naming the new process's thread): gdb adds the inferior,
// reads its symbols and inserts its breakpoints. Each thread has its registers
// and the memory of its address space. The target is read-only: writing
// registers or memory would make the run differ from the one being debugged.
// Breakpoints are kept by the stub (Z0/Z1), never written into guest memory,
// and belong to the process gdb set them in. Execution can go backwards
// (reverse-stepi, reverse-continue), by re-execution from checkpoints.
//
// The pieces: the framing and the decoding of packets are gdb::Connection and
// gdb::parse_request (gdb_connection.h), the registers and target description
// gdb_target.h, the run the Timeline; this file is the server, which answers
// each typed request.
#include "replay/debug/command.h"
#include "replay/debug/front_end.h"
#include "replay/debug/gdb_connection.h"
#include "replay/debug/gdb_server.h"
#include "replay/debug/gdb_target.h"
#include "replay/debug/hex.h"
#include "replay/debug/programs.h"

#include <anvil/exit_codes.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace replay::debug {

namespace {

using gdb::Request;
using Kind = gdb::Request::Kind;

std::string hex_text(const std::string& s) { return to_hex(s.data(), s.size()); }

class Stub {
public:
    Stub(Timeline& t, int fd, ProgramFiles& programs)
        : timeline_(t), fd_(fd), layout_(gdb::register_layout()), programs_(programs) {}

    int serve() {
        refresh();
        thread_ = first_thread();
        refresh();
        char c;
        while (!done_ && read_byte(&c)) {
            switch (conn_.feed(c)) {
            case gdb::Input::kNone:
            case gdb::Input::kInterrupt:  // nothing runs between packets: nothing to stop
                break;
            case gdb::Input::kRefused:
                fmt::print(stderr, "anvil-debug: gdb packet refused: {}\n", conn_.refusal());
                conn_.reply(gdb::kErrPacket);
                break;
            case gdb::Input::kPacket:
                flush();  // the acknowledgement goes out before a long run
                answer(gdb::parse_request(conn_.packet()));
                break;
            }
            flush();
        }
        return 0;
    }

private:
    // ---- Bytes ----

    bool read_byte(char* c) {
        if (in_pos_ == in_len_) {
            const ssize_t n = read(fd_, in_buf_, sizeof in_buf_);
            if (n <= 0)
                return false;
            in_len_ = static_cast<size_t>(n);
            in_pos_ = 0;
        }
        *c = in_buf_[in_pos_++];
        return true;
    }

    // True (and the byte taken) if gdb's interrupt is the next byte already read.
    bool interrupt_pending() {
        if (in_pos_ < in_len_ && in_buf_[in_pos_] == '\x03') {
            ++in_pos_;
            return true;
        }
        return false;
    }

    void flush() {
        const std::string s = conn_.take_output();
        size_t done = 0;
        while (done < s.size()) {
            const ssize_t n = write(fd_, s.data() + done, s.size() - done);
            if (n <= 0)
                return;
            done += static_cast<size_t>(n);
        }
    }

    // ---- Requests ----

    void answer(const Request& r) {
        switch (r.kind) {
        case Kind::kStartNoAck:
            conn_.reply("OK");  // still acknowledged; nothing after it is
            conn_.start_no_ack();
            return;
        case Kind::kKill:
            done_ = true;
            return;
        case Kind::kDetach:
            // gdb detaches its inferiors one by one: the session is left
            // when the last one is (each is a process gdb has been shown).
            conn_.reply("OK");
            if (r.process != gdb::kAnyThread &&
                std::find(detached_from_.begin(), detached_from_.end(), r.process) == detached_from_.end())
                detached_from_.push_back(r.process);
            if (r.process == gdb::kAnyThread || detached_from_.size() >= known_.size()) {
                done_ = true;
                detached_ = true;
            }
            return;
        default:
            conn_.reply(handle(r));
        }
    }

    std::string handle(const Request& r) {
        switch (r.kind) {
        case Kind::kUnsupported: return "";
        case Kind::kBad: return std::string(gdb::kErrArguments);
        case Kind::kWrite:
            fmt::print(stderr, "anvil-debug: gdb asked to write registers or memory: refused, the run is a "
                               "recording (docs/debugging.md)\n");
            return std::string(gdb::kErrWrite);
        case Kind::kStopReason:
            // (before any move: written now, when gdb has said whether it speaks multiprocess)
            if (stop_reply_.empty())
                shown(thread_);
            return stop_reply_.empty() ? fmt::format("T05thread:{};", tid(thread_)) : stop_reply_;
        case Kind::kReadRegisters: return registers(thread_);
        case Kind::kReadRegister: return one_register(r.addr);
        case Kind::kReadMemory: return memory(r.addr, r.length);
        case Kind::kSetThread: {
            const uint64_t t = pick(r);
            if (t == gdb::kAnyThread)
                return "OK";
            if (!alive(t))
                return std::string(gdb::kErrNoThread);
            thread_ = t;
            return "OK";
        }
        case Kind::kThreadAlive: return alive(r.thread) ? "OK" : std::string(gdb::kErrNoThread);
        case Kind::kContinue:
        case Kind::kStep: {
            // Every thread named must exist, and the one to step: else nothing moves.
            const uint64_t t = r.thread == gdb::kAnyThread ? thread_ : r.thread;
            for (uint64_t n : r.named)
                if (!alive(n))
                    return std::string(gdb::kErrNoThread);
            if (r.kind == Kind::kContinue)
                return resume_continue();
            if (!alive(t))
                return std::string(gdb::kErrNoThread);
            return resume_step(t);
        }
        case Kind::kReverseStep: return reverse_step(thread_);
        case Kind::kReverseContinue: return reverse_continue();
        case Kind::kInsertBreakpoint:
            bps_[breakpoint_process()].insert(r.addr);
            settings_dirty_ = true;
            return "OK";
        case Kind::kRemoveBreakpoint: {
            auto it = bps_.find(breakpoint_process());
            if (it != bps_.end() && it->second.erase(r.addr) && it->second.empty())
                bps_.erase(it);
            settings_dirty_ = true;
            return "OK";
        }
        case Kind::kInsertWatchpoint: return insert_watch(r);
        case Kind::kRemoveWatchpoint: return remove_watch(r);
        case Kind::kSupported:
            multiprocess_ = r.text.find("multiprocess+") != std::string::npos;
            return fmt::format("PacketSize={:x};qXfer:features:read+;QCatchSyscalls+;ReverseStep+;"
                               "ReverseContinue+;swbreak+;QStartNoAckMode+;vContSupported+;"
                               "qXfer:threads:read+;qXfer:exec-file:read+{}",
                               gdb::kMaxPacket, multiprocess_ ? ";multiprocess+" : "");
        case Kind::kReadTargetXml: return part(gdb::target_xml(), r.addr, r.length);
        case Kind::kReadExecFile: return exec_file(r);
        case Kind::kReadThreads: return part(threads_xml(), r.addr, r.length);
        case Kind::kThreadListFirst: {
            refresh();
            std::string out;
            for (const ProcessInfo& p : procs_)
                for (uint64_t t : p.threads)
                    if (listed(p)) {
                        out += fmt::format("{}{}", out.empty() ? "m" : ",", tid(t));
                        shown(t);
                    }
            return out.empty() ? "l" : out;
        }
        case Kind::kThreadListNext: return "l";
        case Kind::kThreadExtraInfo: return hex_text(timeline_.thread_info(r.thread));
        case Kind::kCurrentThread: return fmt::format("QC{}", tid(thread_));
        case Kind::kAttached: return "1";
        case Kind::kSymbol: return "OK";
        case Kind::kCatchSyscalls: return catch_syscalls(r);
        case Kind::kContQuery: return "vCont;c;C;s;S";
        case Kind::kMonitor: return monitor(r.text);
        case Kind::kStartNoAck: case Kind::kKill: case Kind::kDetach: break;  // answer()'s
        }
        return "";
    }

    // Bytes [off, off+len) of a qXfer object: "m" and them, or "l" and the last ones.
    static std::string part(const std::string& object, uint64_t off, uint64_t len) {
        if (off >= object.size())
            return "l";
        const std::string p = object.substr(off, std::min<uint64_t>(len, gdb::kMaxPacket / 2));
        return (off + p.size() >= object.size() ? "l" : "m") + p;
    }

    // ---- Processes and threads ----

    // The processes and their threads now (after every move), the selected
    // thread's process first: gdb gives the first it hears of inferior 1,
    // whose program is the file named on gdb's command line, if one is.
    // Once the run has ended there are none: its threads ran their last.
    void refresh() {
        procs_ = timeline_.ended() ? std::vector<ProcessInfo>{} : timeline_.processes();
        const auto selected = std::find_if(procs_.begin(), procs_.end(), [&](const ProcessInfo& p) {
            return std::find(p.threads.begin(), p.threads.end(), thread_) != p.threads.end();
        });
        if (selected != procs_.end())
            std::rotate(procs_.begin(), selected, selected + 1);
    }

    // Which processes the thread lists name: at attach every one; after the
    // first move only those gdb has heard of. A process that gdb found in a
    // list after a stop would be taken for a new attach (gdb prints where it
    // is and drops the stop being reported), so new processes reach gdb as
    // the thread of a stop: a continue meets each one first (kProcess).
    bool listed(const ProcessInfo& p) const {
        return !moved_ || std::find(known_.begin(), known_.end(), p.id) != known_.end();
    }

    // Notes that gdb has now heard of thread t's process.
    void shown(uint64_t t) {
        const ProcessInfo* p = process_of(t);
        if (p && std::find(known_.begin(), known_.end(), p->id) == known_.end())
            known_.push_back(p->id);
    }

    std::vector<uint64_t> threads() const {
        std::vector<uint64_t> all;
        for (const ProcessInfo& p : procs_)
            all.insert(all.end(), p.threads.begin(), p.threads.end());
        return all;
    }

    const ProcessInfo* process(uint64_t id) const {
        for (const ProcessInfo& p : procs_)
            if (p.id == id)
                return &p;
        return nullptr;
    }

    const ProcessInfo* process_of(uint64_t t) const {
        for (const ProcessInfo& p : procs_)
            if (std::find(p.threads.begin(), p.threads.end(), t) != p.threads.end())
                return &p;
        return nullptr;
    }

    bool alive(uint64_t t) const { return process_of(t) != nullptr; }

    // A thread as gdb names it: "pPROCESS.THREAD" with the multiprocess extensions.
    std::string tid(uint64_t t) const {
        const ProcessInfo* p = multiprocess_ ? process_of(t) : nullptr;
        return p ? fmt::format("p{:x}.{:x}", p->id, t) : fmt::format("{:x}", t);
    }

    // The thread a request names: its own, or for "pP.-1"/"pP.0" the first of
    // process P; kAnyThread for "any" or "all".
    uint64_t pick(const Request& r) const {
        if (r.thread != gdb::kAnyThread && r.thread != gdb::kAllThreads)
            return r.thread;
        if (r.process == gdb::kAnyThread || r.process == gdb::kAllThreads)
            return gdb::kAnyThread;
        const ProcessInfo* p = process(r.process);
        return p ? p->threads.front() : ~0ull;  // (~0: no such process, never alive)
    }

    uint64_t first_thread() {
        const uint64_t focus = timeline_.focus();
        if (focus && alive(focus))
            return focus;
        const std::vector<uint64_t> t = threads();
        return t.empty() ? 1 : t.front();
    }

    // The process a breakpoint gdb inserts now belongs to: gdb selects a
    // thread of it first (Hg). Without the multiprocess extensions, every process.
    uint64_t breakpoint_process() const {
        const ProcessInfo* p = multiprocess_ ? process_of(thread_) : nullptr;
        return p ? p->id : 0;
    }

    std::string exec_file(const Request& r) {
        const ProcessInfo* p = r.process == gdb::kAnyThread ? process_of(thread_) : process(r.process);
        if (!p)
            return std::string(gdb::kErrNoThread);
        const std::string path = programs_.path(p->name);
        if (path.empty())
            return std::string(gdb::kErrArguments);
        return part(path, r.addr, r.length);
    }

    // qXfer:threads: every thread, named after its process's program.
    std::string threads_xml() {
        refresh();
        std::string xml = "<?xml version=\"1.0\"?>\n<threads>\n";
        for (const ProcessInfo& p : procs_)
            for (uint64_t t : p.threads) {
                if (!listed(p))
                    continue;
                xml += fmt::format("<thread id=\"{}\" name=\"{}\"/>\n", tid(t),
                                   p.name.empty() ? "?" : xml_text(p.name));
                shown(t);
            }
        return xml + "</threads>\n";
    }

    static std::string xml_text(const std::string& s) {
        std::string out;
        for (char c : s) {
            switch (c) {
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '&': out += "&amp;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
            }
        }
        return out;
    }

    // ---- Registers, memory ----

    // The `g` reply for thread t; empty if it does not exist.
    std::string register_hex(uint64_t t) {
        const std::optional<gdb::ThreadRegisters> r = timeline_.registers(t);
        return r ? gdb::pack_registers(*r) : "";
    }

    std::string registers(uint64_t t) {
        const std::string r = register_hex(t);
        return r.empty() ? std::string(gdb::kErrNoThread) : r;
    }

    std::string one_register(uint64_t n) {
        if (n >= layout_.size())
            return std::string(gdb::kErrArguments);
        const std::string all = register_hex(thread_);
        if (all.empty())
            return std::string(gdb::kErrNoThread);
        return all.substr(layout_[n].offset * 2, layout_[n].size * 2);
    }

    std::string memory(uint64_t addr, uint64_t len) {
        // At most what fits one reply (fewer bytes than asked is a valid answer).
        len = std::min<uint64_t>(len, gdb::kMaxPacket / 2);
        if (len == 0)
            return "";
        const std::vector<uint8_t> data = timeline_.memory(thread_, addr, len);
        return data.empty() ? std::string(gdb::kErrMemory) : to_hex(data.data(), data.size());
    }

    // ---- Breakpoints and catchpoints ----

    std::string catch_syscalls(const Request& r) {
        switch (r.catch_mode) {
        case Request::Catch::kOff: catches_ = {SyscallCatch::Mode::kOff, {}}; break;
        case Request::Catch::kAll: catches_ = {SyscallCatch::Mode::kAll, {}}; break;
        case Request::Catch::kList: catches_ = {SyscallCatch::Mode::kList, r.syscalls}; break;
        }
        settings_dirty_ = true;
        return "OK";
    }

    // ---- monitor (qRcmd): the kernel's views and navigation ----

    // The answer: the text as one console-output packet ('O'), then OK.
    std::string monitor(const std::string& text) {
        std::string out = monitor_text(text);
        if (!out.empty() && out.back() != '\n')
            out += '\n';
        conn_.reply("O" + hex_text(out));
        return "OK";
    }

    std::string monitor_text(const std::string& text) {
        const DebugCommand cmd = parse_command(text);
        using K = DebugCommand::Kind;
        switch (cmd.kind) {
        case K::kNone:
        case K::kHelp:
            return "monitor commands (the kernel's view of the run; docs/debugging.md):\n"
                   "  when | where       the position: event index, step, instruction in the slice\n"
                   "  threads | runqueues | endpoints\n"
                   "  caps [T] | vspace [T]   thread T's CNode / mappings (default: the selected thread)\n"
                   "  events [N]         the last N kernel events\n"
                   "  syscall            the selected thread's last syscall and its result\n"
                   "  goto event N       move the run to just after event N (either way); then\n"
                   "                     `maint flush register-cache` and `frame` show the new position\n";
        case K::kWhere:
        case K::kThreads:
        case K::kRunqueues:
        case K::kEndpoints:
        case K::kEvents:
            return timeline_.capture(cmd.line());
        case K::kCaps:
        case K::kVspace:
        case K::kSyscall: {
            DebugCommand c = cmd;
            if (!c.thread && c.kind != K::kSyscall)
                c.thread = thread_;
            timeline_.set_focus(thread_);
            return timeline_.capture(c.line());
        }
        case K::kGotoEvent: {
            bool reached = false;
            moved_ = true;
            if (!timeline_.goto_event(cmd.number, &reached))
                return "the simulator worker died";
            refresh();
            const uint64_t t = timeline_.focus();
            if (t && alive(t))
                thread_ = t;
            at_breakpoint_ = false;
            stop_reply_ = fmt::format("T05thread:{};", tid(thread_));
            return (reached ? "" : fmt::format("the run ends before event #{}\n", cmd.number)) +
                   timeline_.capture("where") +
                   "(gdb: `maint flush register-cache`, then `frame`, to see the new position)\n";
        }
        case K::kUnknown:
        case K::kBad:
            return cmd.error + "\n`monitor help` lists the monitor commands";
        default:
            return fmt::format("`{}` is not a monitor command (`monitor help` lists them; moving is gdb's: "
                               "continue, stepi, reverse-continue...)", text);
        }
    }

    // ---- Watchpoints (Z2 write, Z3 read, Z4 access) ----

    // Watches the bytes in the selected thread's address space now (they are
    // physical memory: other processes mapping them are watched too).
    std::string insert_watch(const Request& r) {
        if (watches_.size() >= kMaxWatches)
            return std::string(gdb::kErrArguments);
        std::vector<Watch> next = watches_;
        // (gdb's watchpoint belongs to the inferior it was set in)
        next.push_back(Watch{static_cast<Watch::Type>(r.watch_type), thread_, r.addr,
                             static_cast<uint32_t>(r.length), multiprocess_});
        std::string why;
        if (!timeline_.set_watches(next, &why))
            return std::string(gdb::kErrArguments);
        watches_ = std::move(next);
        return "OK";
    }

    std::string remove_watch(const Request& r) {
        std::vector<Watch> next;
        for (const Watch& w : watches_)
            if (!(w.va == r.addr && w.len == r.length && static_cast<int>(w.type) == r.watch_type &&
                  (!multiprocess_ || process_of(w.thread) == process_of(thread_))))
                next.push_back(w);
        std::string why;
        if (next.size() != watches_.size() && !timeline_.set_watches(next, &why))
            return std::string(gdb::kErrArguments);
        watches_ = std::move(next);
        return "OK";
    }

    // Hands breakpoints and catches to the worker (and to every later one).
    void sync_settings() {
        if (!settings_dirty_)
            return;
        timeline_.set_code_stops(bps_, catches_);
        settings_dirty_ = false;
    }

    // ---- Running ----

    std::string stopped(uint64_t t, const std::string& why) {
        thread_ = t;
        shown(t);
        stop_reply_ = fmt::format("T05{}thread:{};", why, tid(t));
        return stop_reply_;
    }

    // The run is over: gdb hears it as the exit of init (the first process
    // made, so the lowest id), whose exit code it is.
    std::string exited(int code) {
        stop_reply_ = fmt::format("W{:02x}", code & 0xff);
        if (multiprocess_ && !known_.empty())
            stop_reply_ += fmt::format(";process:{:x}", *std::min_element(known_.begin(), known_.end()));
        return stop_reply_;
    }

    // A stop of the timeline as a stop reply (nullopt: the worker died);
    // `fallback` is the thread to name if the stop names none.
    std::string stop_reply(const std::optional<Stop>& s, uint64_t fallback) {
        at_breakpoint_ = s && s->kind == Stop::Kind::kBreakpoint;
        if (!s)
            return exited(ANVIL_EXIT_EMULATOR_ERROR);
        refresh();
        uint64_t t = s->thread ? s->thread : fallback;
        if (!alive(t) && s->kind != Stop::Kind::kExited)
            t = first_thread();  // (going back to before the thread was)
        switch (s->kind) {
        case Stop::Kind::kStep: return stopped(t, "");
        case Stop::Kind::kBreakpoint: return stopped(t, "swbreak:;");
        case Stop::Kind::kSyscallEntry: return stopped(t, fmt::format("syscall_entry:{:x};", s->syscall));
        case Stop::Kind::kSyscallReturn: return stopped(t, fmt::format("syscall_return:{:x};", s->syscall));
        case Stop::Kind::kInterrupt:
            thread_ = t;
            shown(thread_);
            stop_reply_ = fmt::format("T02thread:{};", tid(thread_));  // SIGINT, as gdb expects
            return stop_reply_;
        case Stop::Kind::kProcess: return stopped(t, "library:;");  // gdb adds the inferior and resumes
        case Stop::Kind::kExited: return exited(s->exit_code);
        case Stop::Kind::kStartOfRun: return stopped(t, "replaylog:begin;");
        case Stop::Kind::kEvent: return stopped(t, "");  // (gdb sets no event breakpoints)
        case Stop::Kind::kWatch: {
            const Watch::Type type = s->watch < watches_.size() ? watches_[s->watch].type : Watch::Type::kWrite;
            const char* reason = type == Watch::Type::kRead ? "rwatch" : type == Watch::Type::kAccess ? "awatch" : "watch";
            return stopped(t, fmt::format("{}:{:x};", reason, s->addr));
        }
        }
        return stopped(t, "");
    }

    std::string resume_step(uint64_t t) {
        sync_settings();
        moved_ = true;
        return stop_reply(timeline_.stepi(t, 1), t);
    }

    std::string resume_continue() {
        sync_settings();
        moved_ = true;
        if (interrupt_pending()) {  // Ctrl-C came right behind the packet: stop before running
            stop_reply_ = fmt::format("T02thread:{};", tid(thread_));
            return stop_reply_;
        }
        // gdb's Ctrl-C reaches the worker while it runs.
        return stop_reply(timeline_.cont(at_breakpoint_, fd_, multiprocess_ ? &known_ : nullptr), thread_);
    }

    std::string reverse_step(uint64_t t) {
        sync_settings();
        moved_ = true;
        return stop_reply(timeline_.reverse_stepi(t), t);
    }

    std::string reverse_continue() {
        sync_settings();
        moved_ = true;
        return stop_reply(timeline_.reverse_continue(), thread_);
    }

    Timeline& timeline_;
    int fd_;
    std::vector<gdb::RegSlot> layout_;
    gdb::Connection conn_;
    char in_buf_[4096];
    size_t in_pos_ = 0, in_len_ = 0;
    bool done_ = false;

public:
    bool detached_ = false;        // gdb detached (D): another may attach

private:
    uint64_t thread_ = 1;          // the thread gdb has selected
    std::string stop_reply_;
    bool at_breakpoint_ = false;   // the last stop was at a breakpoint (resuming passes it)
    ProgramFiles& programs_;
    bool multiprocess_ = false;        // gdb speaks the multiprocess extensions
    std::vector<ProcessInfo> procs_;   // refresh()
    bool moved_ = false;               // the run has moved since gdb attached (listed())
    std::vector<uint64_t> known_;      // every process gdb has been shown, in order
    std::vector<uint64_t> detached_from_;  // the processes gdb has detached from (D;P)
    CodeBreakpoints bps_;
    // gdb's watchpoints, in the order set (a stop names its index). As many
    // as x86 has debug registers for, twice over.
    static constexpr size_t kMaxWatches = 8;
    std::vector<Watch> watches_;
    SyscallCatch catches_;
    bool settings_dirty_ = false;
};

}  // namespace

bool serve_gdb_connection(Timeline& timeline, int fd, ProgramFiles& programs, bool* detached) {
    Stub stub(timeline, fd, programs);
    const int status = stub.serve();
    *detached = stub.detached_;
    return status == 0;
}

}  // namespace replay::debug
