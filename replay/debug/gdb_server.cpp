// The GDB remote stub of anvil-debug (--gdb PORT; docs/debugging.md): serves
// the GDB remote serial protocol on 127.0.0.1 over a simulated run, through
// the same worker processes as the command loop (replay/debug/debugger.h).
//
// What gdb sees: an x86-64 target (GNU/Linux OS ABI, so that `catch syscall`
// works, with Anvil's syscall table installed as GDB's amd64-linux syscall
// file), Anvil's threads as its threads, each thread's registers and the
// memory of its address space. The target is read-only: writing registers or
// memory would make the run differ from the one being debugged. Breakpoints
// are kept by the stub (Z0/Z1), never written into guest memory; with
// --program they fire only in processes whose code at that address is the
// program's. Execution can go backwards (reverse-stepi, reverse-continue),
// by re-execution from checkpoints.
//
// The pieces: the framing and the decoding of packets are gdb::Connection and
// gdb::parse_request (gdb_connection.h), the registers and target description
// gdb_target.h; this file is the server, which answers each typed request.
#include "kernel/boot/elf.h"
#include "replay/debug/debugger.h"
#include "replay/debug/gdb_connection.h"
#include "replay/debug/gdb_target.h"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

namespace sim {

namespace {

using gdb::Request;
using Kind = gdb::Request::Kind;

std::string hex_text(const std::string& s) { return to_hex(s.data(), s.size()); }

class Stub {
public:
    Stub(DebugController& c, int fd) : c_(c), fd_(fd), layout_(gdb::register_layout()) {
        if (!c.options().program_elf.empty()) {
            const char* error = nullptr;
            have_program_ = kernel::elf::parse(c.options().program_elf.data(), c.options().program_elf.size(),
                                               &program_, &error) == ANVIL_OK;
        }
    }

    int serve() {
        thread_ = first_thread();
        stop_reply_ = fmt::format("T05thread:{:x};", thread_);
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
            done_ = true;
            conn_.reply("OK");
            return;
        default:
            conn_.reply(handle(r));
        }
    }

    std::string handle(const Request& r) {
        switch (r.kind) {
        case Kind::kUnsupported: return "";
        case Kind::kBad: case Kind::kWrite: return std::string(gdb::kErrArguments);
        case Kind::kStopReason: return stop_reply_;
        case Kind::kReadRegisters: return registers(thread_);
        case Kind::kReadRegister: return one_register(r.addr);
        case Kind::kReadMemory: return memory(r.addr, r.length);
        case Kind::kSetThread:
            if (r.thread != gdb::kAnyThread && r.thread != gdb::kAllThreads) {
                if (!alive(r.thread))
                    return std::string(gdb::kErrNoThread);
                thread_ = r.thread;
            }
            return "OK";
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
            bps_[r.addr] = program_bytes(r.addr);
            settings_dirty_ = true;
            return "OK";
        case Kind::kRemoveBreakpoint:
            bps_.erase(r.addr);
            settings_dirty_ = true;
            return "OK";
        case Kind::kSupported:
            return fmt::format("PacketSize={:x};qXfer:features:read+;QCatchSyscalls+;ReverseStep+;"
                               "ReverseContinue+;swbreak+;QStartNoAckMode+;vContSupported+",
                               gdb::kMaxPacket);
        case Kind::kReadTargetXml: return target_xml_part(r.addr, r.length);
        case Kind::kThreadListFirst: {
            std::string out;
            for (uint64_t t : threads())
                out += fmt::format("{}{:x}", out.empty() ? "m" : ",", t);
            return out.empty() ? "l" : out;
        }
        case Kind::kThreadListNext: return "l";
        case Kind::kThreadExtraInfo: return hex_text(c_.ask(fmt::format("=tinfo {}", r.thread), "tinfo"));
        case Kind::kCurrentThread: return fmt::format("QC{:x}", thread_);
        case Kind::kAttached: return "1";
        case Kind::kSymbol: return "OK";
        case Kind::kCatchSyscalls: return catch_syscalls(r);
        case Kind::kContQuery: return "vCont;c;C;s;S";
        case Kind::kStartNoAck: case Kind::kKill: case Kind::kDetach: break;  // answer()'s
        }
        return "";
    }

    std::string target_xml_part(uint64_t off, uint64_t len) {
        const std::string xml = gdb::target_xml();
        if (off >= xml.size())
            return "l";
        const std::string part = xml.substr(off, std::min<uint64_t>(len, gdb::kMaxPacket / 2));
        return (off + part.size() >= xml.size() ? "l" : "m") + part;
    }

    // ---- Threads, registers, memory ----

    std::vector<uint64_t> threads() {
        std::istringstream in(c_.ask("=threads", "threads"));
        std::vector<uint64_t> out;
        uint64_t t;
        while (in >> t)
            out.push_back(t);
        return out;
    }

    bool alive(uint64_t t) {
        const std::vector<uint64_t> all = threads();
        return std::find(all.begin(), all.end(), t) != all.end();
    }

    uint64_t first_thread() {
        const uint64_t focus = std::strtoull(c_.ask("=focus", "focus").c_str(), nullptr, 10);
        if (focus)
            return focus;
        const std::vector<uint64_t> t = threads();
        return t.empty() ? 1 : t.front();
    }

    // The `g` reply for thread t; empty if it does not exist.
    std::string register_hex(uint64_t t) { return c_.ask(fmt::format("=regs {}", t), "regs"); }

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
        const std::string data = c_.ask(fmt::format("=mem {} {:x} {:x}", thread_, addr, len), "mem");
        return data.empty() ? std::string(gdb::kErrMemory) : data;
    }

    // ---- Breakpoints and catchpoints ----

    // The program's bytes at `va` (up to 32), to tell its code from other programs'.
    std::vector<uint8_t> program_bytes(uint64_t va) {
        if (!have_program_)
            return {};
        const std::vector<uint8_t>& f = c_.options().program_elf;
        for (size_t i = 0; i < program_.segment_count; ++i) {
            const kernel::elf::Segment& s = program_.segments[i];
            if (va < s.vaddr || va >= s.vaddr + s.filesz)
                continue;
            const uint64_t at = s.offset + (va - s.vaddr);
            const uint64_t n = std::min<uint64_t>(32, s.vaddr + s.filesz - va);
            return std::vector<uint8_t>(f.begin() + static_cast<long>(at), f.begin() + static_cast<long>(at + n));
        }
        return {};
    }

    std::string catch_syscalls(const Request& r) {
        switch (r.catch_mode) {
        case Request::Catch::kOff: catch_line_ = "=catch off"; break;
        case Request::Catch::kAll: catch_line_ = "=catch all"; break;
        case Request::Catch::kList:
            catch_line_ = "=catch";
            for (uint64_t nr : r.syscalls)
                catch_line_ += fmt::format(" {}", nr);
            break;
        }
        settings_dirty_ = true;
        return "OK";
    }

    // Hands breakpoints and catches to the worker (and to every later one).
    void sync_settings() {
        if (!settings_dirty_)
            return;
        std::string bp = "=bp";
        for (const auto& [va, bytes] : bps_) {
            bp += fmt::format(" {:x}:", va);
            for (uint8_t b : bytes)
                bp += fmt::format("{:02x}", b);
        }
        c_.settings = {bp, catch_line_};
        for (const std::string& s : c_.settings)
            c_.send(s);
        settings_dirty_ = false;
    }

    // ---- Running ----

    std::string stopped(uint64_t t, const std::string& why) {
        thread_ = t;
        stop_reply_ = fmt::format("T05{}thread:{:x};", why, t);
        return stop_reply_;
    }

    std::string exited(int code) {
        stop_reply_ = fmt::format("W{:02x}", code & 0xff);
        return stop_reply_;
    }

    // "stopped KIND ..." from the worker, as a stop reply.
    std::string stop_from(const std::string& r, uint64_t fallback) {
        std::istringstream in(r);
        std::string kind;
        uint64_t a = 0, b = 0;
        in >> kind >> a >> b;
        at_breakpoint_ = kind == "bp";
        if (kind == "exit")
            return exited(static_cast<int>(a));
        if (kind == "end")
            return exited(0);
        if (kind == "bp")
            return stopped(a, "swbreak:;");
        if (kind == "entry")
            return stopped(a, fmt::format("syscall_entry:{:x};", b));
        if (kind == "return")
            return stopped(a, fmt::format("syscall_return:{:x};", b));
        if (kind == "interrupt") {
            thread_ = a ? a : fallback;
            stop_reply_ = fmt::format("T02thread:{:x};", thread_);  // SIGINT, as gdb expects
            return stop_reply_;
        }
        return stopped(a ? a : fallback, "");
    }

    std::string resume_step(uint64_t t) {
        sync_settings();
        const uint64_t k = c_.position().insns;
        if (!c_.leave_view())
            return exited(121);
        std::string r = c_.ask(fmt::format("=stepi {} 1 {}", t, k), "stopped");
        if (r.rfind("end", 0) == 0 || r.empty())
            return exited(exit_code());
        return stop_from(r, t);
    }

    int exit_code() {
        // The run is over: ask where it ended (a continue answers at once).
        const std::string r = c_.ask("=cont 0 0", "stopped");
        std::istringstream in(r);
        std::string kind;
        int code = 0;
        in >> kind >> code;
        return code;
    }

    std::string resume_continue() {
        sync_settings();
        if (interrupt_pending()) {  // Ctrl-C came right behind the packet: stop before running
            stop_reply_ = fmt::format("T02thread:{:x};", thread_);
            return stop_reply_;
        }
        bool skip = at_breakpoint_;
        for (;;) {
            const uint64_t k = c_.position().insns;
            if (!c_.leave_view())
                return exited(121);
            std::vector<std::string> replies;
            c_.interrupt_fd = fd_;  // gdb's Ctrl-C reaches the worker while it runs
            const bool sent = c_.send(fmt::format("=cont {} {}", k, skip ? 1 : 0), &replies);
            c_.interrupt_fd = -1;
            if (!sent)
                return exited(121);
            skip = false;
            for (const std::string& r : replies) {
                if (r.rfind("goto ", 0) == 0) {
                    if (!c_.go(Position{std::strtoull(r.c_str() + 5, nullptr, 10), 0, false}))
                        return exited(121);
                } else if (r.rfind("stopped ", 0) == 0) {
                    return stop_from(r.substr(8), thread_);
                }
            }
        }
    }

    std::string reverse_step(uint64_t t) {
        sync_settings();
        std::string why;
        at_breakpoint_ = false;
        if (!c_.reverse_stepi(t, &why))
            return stopped(t, "replaylog:begin;");
        return stopped(t, "");
    }

    std::string reverse_continue() {
        sync_settings();
        DebugController::Found f;
        at_breakpoint_ = false;
        if (!c_.reverse_continue(&f))
            return exited(121);
        if (f.kind == "bp") {
            at_breakpoint_ = true;
            return stopped(f.thread, "swbreak:;");
        }
        if (f.kind == "entry")
            return stopped(f.thread, fmt::format("syscall_entry:{:x};", f.nr));
        if (f.kind == "return")
            return stopped(f.thread, fmt::format("syscall_return:{:x};", f.nr));
        return stopped(thread_, "replaylog:begin;");
    }

    DebugController& c_;
    int fd_;
    std::vector<gdb::RegSlot> layout_;
    gdb::Connection conn_;
    char in_buf_[4096];
    size_t in_pos_ = 0, in_len_ = 0;
    bool done_ = false;
    uint64_t thread_ = 1;          // the thread gdb has selected
    std::string stop_reply_;
    bool at_breakpoint_ = false;   // the last stop was at a breakpoint (resuming passes it)
    Breakpoints bps_;
    std::string catch_line_ = "=catch off";
    bool settings_dirty_ = false;
    kernel::elf::Image program_{};
    bool have_program_ = false;
};

}  // namespace

int gdb_serve(DebugController& control, int port) {
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
    const int fd = accept(listener, nullptr, nullptr);
    close(listener);
    if (fd < 0) {
        fmt::print(stderr, "anvil-debug: accept: {}\n", std::strerror(errno));
        return 2;
    }
    Stub stub(control, fd);
    const int status = stub.serve();
    close(fd);
    fmt::print("anvil-debug: gdb disconnected\n");
    return status;
}

}  // namespace sim
