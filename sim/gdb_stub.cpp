// The GDB remote stub of anvil-debug (--gdb PORT; docs/debugging.md): serves
// the GDB remote serial protocol on 127.0.0.1 over a simulated run, through
// the same worker processes as the command loop (sim/debugger.h).
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
#include "kernel/boot/elf.h"
#include "sim/debugger.h"

#include <anvil/syscalls.h>
#include <arpa/inet.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>
#include <sstream>

namespace sim {

namespace {

const anvil_syscall_desc_t kSyscalls[] = {ANVIL_SYSCALLS(ANVIL_SYSCALL_DESC_INIT)};

// Register numbers and sizes as the target description below lists them
// (Worker::gdb_registers sends them in this order).
struct RegSlot {
    unsigned offset, size;  // bytes, in the `g` packet
};

std::vector<RegSlot> register_layout() {
    std::vector<RegSlot> slots;
    unsigned at = 0;
    auto add = [&](unsigned n, unsigned size) {
        for (unsigned i = 0; i < n; ++i) {
            slots.push_back({at, size});
            at += size;
        }
    };
    add(17, 8);  // rax..r15, rip
    add(7, 4);   // eflags, cs ss ds es fs gs
    add(8, 10);  // st0..st7
    add(8, 4);   // fctrl fstat ftag fiseg fioff foseg fooff fop
    add(16, 16); // xmm0..xmm15
    add(1, 4);   // mxcsr
    add(3, 8);   // orig_rax, fs_base, gs_base
    return slots;
}

std::string target_xml() {
    std::string x =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n"
        "<architecture>i386:x86-64</architecture>\n<osabi>GNU/Linux</osabi>\n"
        "<feature name=\"org.gnu.gdb.i386.core\">\n";
    unsigned n = 0;
    auto reg = [&](const std::string& name, unsigned bits, const char* type, const char* group = nullptr) {
        x += fmt::format("<reg name=\"{}\" bitsize=\"{}\" type=\"{}\" regnum=\"{}\"{}/>\n", name, bits, type, n++,
                         group ? fmt::format(" group=\"{}\"", group) : "");
    };
    for (const char* r : {"rax", "rbx", "rcx", "rdx", "rsi", "rdi"})
        reg(r, 64, "int64");
    reg("rbp", 64, "data_ptr");
    reg("rsp", 64, "data_ptr");
    for (int i = 8; i < 16; ++i)
        reg(fmt::format("r{}", i), 64, "int64");
    reg("rip", 64, "code_ptr");
    reg("eflags", 32, "int32");
    for (const char* r : {"cs", "ss", "ds", "es", "fs", "gs"})
        reg(r, 32, "int32");
    for (int i = 0; i < 8; ++i)
        reg(fmt::format("st{}", i), 80, "i387_ext");
    for (const char* r : {"fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"})
        reg(r, 32, "int", "float");
    x += "</feature>\n<feature name=\"org.gnu.gdb.i386.sse\">\n";
    for (int i = 0; i < 16; ++i)
        reg(fmt::format("xmm{}", i), 128, "uint128", "vector");
    reg("mxcsr", 32, "int", "vector");
    x += "</feature>\n<feature name=\"org.gnu.gdb.i386.linux\">\n";
    reg("orig_rax", 64, "int");
    x += "</feature>\n<feature name=\"org.gnu.gdb.i386.segments\">\n";
    reg("fs_base", 64, "int");
    reg("gs_base", 64, "int");
    x += "</feature>\n</target>\n";
    return x;
}

std::string hex_text(const std::string& s) { return to_hex(s.data(), s.size()); }

class Stub {
public:
    Stub(DebugController& c, int fd) : c_(c), fd_(fd), layout_(register_layout()) {
        if (!c.options().program_elf.empty()) {
            const char* error = nullptr;
            have_program_ = kernel::elf::parse(c.options().program_elf.data(), c.options().program_elf.size(),
                                               &program_, &error) == ANVIL_OK;
        }
    }

    int serve() {
        thread_ = first_thread();
        stop_reply_ = fmt::format("T05thread:{:x};", thread_);
        std::string packet;
        while (read_packet(&packet)) {
            const std::string answer = handle(packet);
            if (answered_) {  // (QStartNoAckMode answers before acknowledgements stop)
                answered_ = false;
                continue;
            }
            if (done_) {
                if (!answer.empty())
                    send_packet(answer);
                break;
            }
            send_packet(answer);
        }
        return 0;
    }

private:
    // ---- Framing ----

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

    bool read_packet(std::string* out) {
        char c;
        for (;;) {
            if (!read_byte(&c))
                return false;
            if (c == '$')
                break;
            // '+'/'-' acknowledgements and a stray interrupt (0x03) between commands.
        }
        out->clear();
        while (read_byte(&c) && c != '#') {
            if (c == '}') {
                char e;
                if (!read_byte(&e))
                    return false;
                c = static_cast<char>(e ^ 0x20);
            }
            out->push_back(c);
        }
        char sum[2];
        if (!read_byte(&sum[0]) || !read_byte(&sum[1]))
            return false;
        if (ack_)
            write_all("+");
        return true;
    }

    void write_all(const std::string& s) {
        size_t done = 0;
        while (done < s.size()) {
            const ssize_t n = write(fd_, s.data() + done, s.size() - done);
            if (n <= 0)
                return;
            done += static_cast<size_t>(n);
        }
    }

    void send_packet(const std::string& body) {
        std::string escaped;
        for (char c : body) {
            if (c == '$' || c == '#' || c == '}' || c == '*') {
                escaped.push_back('}');
                escaped.push_back(static_cast<char>(c ^ 0x20));
            } else {
                escaped.push_back(c);
            }
        }
        unsigned sum = 0;
        for (unsigned char c : escaped)
            sum += c;
        write_all(fmt::format("${}#{:02x}", escaped, sum & 0xff));
        if (ack_) {  // wait for '+'
            char c;
            while (read_byte(&c) && c != '+') {
            }
        }
    }

    // ---- Commands ----

    std::string handle(const std::string& p) {
        if (p.empty())
            return "";
        switch (p[0]) {
        case '?': return stop_reply_;
        case 'g': return registers(thread_);
        case 'p': return one_register(std::strtoul(p.c_str() + 1, nullptr, 16));
        case 'G': case 'P': case 'M': case 'X':
            return "E01";  // read-only target (see the top of this file)
        case 'm': return memory(p);
        case 'H': {
            const long long t = std::strtoll(p.c_str() + 2, nullptr, 16);
            if (t > 0)
                thread_ = static_cast<uint64_t>(t);
            return "OK";
        }
        case 'T': return alive(std::strtoull(p.c_str() + 1, nullptr, 16)) ? "OK" : "E01";
        case 'c': case 'C': return resume_continue();
        case 's': case 'S': return resume_step(thread_);
        case 'b':
            if (p == "bs")
                return reverse_step(thread_);
            if (p == "bc")
                return reverse_continue();
            return "";
        case 'Z': case 'z': return breakpoint(p);
        case 'k': done_ = true; return "";
        case 'D': done_ = true; return "OK";
        case 'v': return v_packet(p);
        case 'q': case 'Q': return query(p);
        default: return "";
        }
    }

    std::string query(const std::string& p) {
        if (p.rfind("qSupported", 0) == 0)
            return "PacketSize=4000;qXfer:features:read+;QCatchSyscalls+;ReverseStep+;ReverseContinue+;swbreak+;"
                   "QStartNoAckMode+;vContSupported+";
        if (p == "QStartNoAckMode") {
            send_packet("OK");
            ack_ = false;
            answered_ = true;
            return "";
        }
        if (p.rfind("qXfer:features:read:target.xml:", 0) == 0) {
            const std::string xml = target_xml();
            unsigned long off = 0, len = 0;
            std::sscanf(p.c_str() + std::strlen("qXfer:features:read:target.xml:"), "%lx,%lx", &off, &len);
            if (off >= xml.size())
                return "l";
            const std::string part = xml.substr(off, len);
            return (off + part.size() >= xml.size() ? "l" : "m") + part;
        }
        if (p == "qfThreadInfo") {
            std::string out;
            for (uint64_t t : threads())
                out += fmt::format("{}{:x}", out.empty() ? "m" : ",", t);
            return out.empty() ? "l" : out;
        }
        if (p == "qsThreadInfo")
            return "l";
        if (p.rfind("qThreadExtraInfo,", 0) == 0) {
            const uint64_t t = std::strtoull(p.c_str() + 17, nullptr, 16);
            return hex_text(c_.ask(fmt::format("=tinfo {}", t), "tinfo"));
        }
        if (p == "qC")
            return fmt::format("QC{:x}", thread_);
        if (p == "qAttached")
            return "1";
        if (p.rfind("qSymbol", 0) == 0)
            return "OK";
        if (p.rfind("QCatchSyscalls:", 0) == 0)
            return catch_syscalls(p.substr(15));
        return "";
    }

    std::string v_packet(const std::string& p) {
        if (p == "vCont?")
            return "vCont;c;C;s;S";
        if (p.rfind("vCont;", 0) == 0) {
            // The first step action decides (gdb steps one thread and lets the
            // others run as they would); else continue.
            std::istringstream in(p.substr(6));
            std::string action;
            while (std::getline(in, action, ';')) {
                if (action.empty() || (action[0] != 's' && action[0] != 'S'))
                    continue;
                const size_t colon = action.find(':');
                uint64_t t = thread_;
                if (colon != std::string::npos) {
                    const long long id = std::strtoll(action.c_str() + colon + 1, nullptr, 16);
                    if (id > 0)
                        t = static_cast<uint64_t>(id);
                }
                return resume_step(t);
            }
            return resume_continue();
        }
        if (p.rfind("vKill", 0) == 0) {
            done_ = true;
            return "OK";
        }
        return "";
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
        for (uint64_t x : threads())
            if (x == t)
                return true;
        return false;
    }

    uint64_t first_thread() {
        const uint64_t focus = std::strtoull(c_.ask("=focus", "focus").c_str(), nullptr, 10);
        if (focus)
            return focus;
        const std::vector<uint64_t> t = threads();
        return t.empty() ? 1 : t.front();
    }

    std::string registers(uint64_t t) {
        const std::string r = c_.ask(fmt::format("=regs {}", t), "regs");
        return r.empty() ? "E01" : r;
    }

    std::string one_register(unsigned long n) {
        const std::string all = registers(thread_);
        if (all == "E01" || n >= layout_.size())
            return "E01";
        return all.substr(layout_[n].offset * 2, layout_[n].size * 2);
    }

    std::string memory(const std::string& p) {
        unsigned long long addr = 0, len = 0;
        if (std::sscanf(p.c_str() + 1, "%llx,%llx", &addr, &len) != 2)
            return "E01";
        const std::string data = c_.ask(fmt::format("=mem {} {:x} {:x}", thread_, addr, len), "mem");
        return data.empty() ? "E14" : data;
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

    std::string breakpoint(const std::string& p) {
        // Z0/Z1 (software/hardware: the same here), z0/z1; no watchpoints.
        if (p.size() < 3 || (p[1] != '0' && p[1] != '1'))
            return "";
        const uint64_t addr = std::strtoull(p.c_str() + 3, nullptr, 16);
        if (p[0] == 'Z')
            bps_[addr] = program_bytes(addr);
        else
            bps_.erase(addr);
        settings_dirty_ = true;
        return "OK";
    }

    std::string catch_syscalls(const std::string& args) {
        if (args == "0") {
            catch_line_ = "=catch off";
        } else if (args == "1") {
            catch_line_ = "=catch all";
        } else if (args.rfind("1;", 0) == 0) {
            catch_line_ = "=catch";
            std::istringstream in(args.substr(2));
            std::string nr;
            while (std::getline(in, nr, ';'))
                catch_line_ += fmt::format(" {}", std::strtoull(nr.c_str(), nullptr, 16));
        } else {
            return "E01";
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
    std::vector<RegSlot> layout_;
    char in_buf_[4096];
    size_t in_pos_ = 0, in_len_ = 0;
    bool ack_ = true;
    bool done_ = false;
    bool answered_ = false;        // handle() has sent the answer itself
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

std::string gdb_syscalls_xml() {
    std::string x = "<?xml version=\"1.0\"?>\n<!-- Anvil's syscalls, for gdb's catch syscall NAME: generated by "
                    "anvil-debug from kernel/include/anvil/syscalls.h -->\n<syscalls_info>\n";
    for (uint32_t i = 0; i < ANVIL_SYS_COUNT; ++i)
        x += fmt::format("  <syscall name=\"{}\" number=\"{}\"/>\n", kSyscalls[i].name, i);
    x += "</syscalls_info>\n";
    return x;
}

}  // namespace sim
