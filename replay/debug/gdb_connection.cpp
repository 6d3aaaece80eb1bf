// The GDB remote serial protocol's framing and packet decoding (gdb_connection.h).
#include "replay/debug/gdb_connection.h"

#include <fmt/core.h>

namespace replay::debug::gdb {

namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

}  // namespace

bool parse_hex(std::string_view s, uint64_t* out) {
    if (s.empty() || s.size() > 16)
        return false;
    uint64_t v = 0;
    for (char c : s) {
        const int d = hex_digit(c);
        if (d < 0)
            return false;
        v = v << 4 | static_cast<uint64_t>(d);
    }
    *out = v;
    return true;
}

// ---- Framing ---------------------------------------------------------------------

Input Connection::feed(char c) {
    switch (state_) {
    case State::kIdle:
        if (c == '$') {
            raw_.clear();
            raw_.reserve(kMaxPacket);
            too_long_ = false;
            sum_ = 0;
            state_ = State::kBody;
        } else if (c == '-' && ack_) {  // gdb got our last reply damaged
            out_ += last_reply_;
        } else if (c == '\x03') {
            return Input::kInterrupt;
        }
        return Input::kNone;  // '+' and stray bytes between packets
    case State::kBody:
        if (c == '#') {
            state_ = State::kSum1;
        } else if (c == '$') {  // never inside a payload (escaped): gdb started over
            state_ = State::kIdle;
            return feed(c);
        } else {
            sum_ += static_cast<unsigned char>(c);
            if (raw_.size() < kMaxPacket)
                raw_.push_back(c);
            else
                too_long_ = true;
        }
        return Input::kNone;
    case State::kSum1:
    case State::kSum2: {
        const int d = hex_digit(c);
        if (state_ == State::kSum1) {
            sent_sum_ = d < 0 ? -1 : d << 4;
            state_ = State::kSum2;
        } else {
            sent_sum_ = d < 0 || sent_sum_ < 0 ? -1 : sent_sum_ | d;
            state_ = State::kIdle;
        }
        if (c == '$') {  // the checksum cut short by a new packet: this one is damaged
            sent_sum_ = -1;
            state_ = State::kIdle;
            const Input in = finish_packet();
            feed(c);
            return in;
        }
        return state_ == State::kIdle ? finish_packet() : Input::kNone;
    }
    }
    return Input::kNone;
}

Input Connection::finish_packet() {
    if (sent_sum_ != static_cast<int>(sum_ & 0xff)) {
        if (ack_) {  // gdb sends it again
            out_ += '-';
            return Input::kNone;
        }
        refusal_ = "bad checksum";
        return Input::kRefused;
    }
    if (ack_)
        out_ += '+';
    if (too_long_) {
        refusal_ = fmt::format("packet longer than {} bytes", kMaxPacket);
        return Input::kRefused;
    }
    packet_.clear();
    for (size_t i = 0; i < raw_.size(); ++i) {
        if (raw_[i] != '}') {
            packet_.push_back(raw_[i]);
        } else if (i + 1 < raw_.size()) {
            packet_.push_back(static_cast<char>(raw_[++i] ^ 0x20));
        } else {
            refusal_ = "packet ends in the escape character }";
            return Input::kRefused;
        }
    }
    return Input::kPacket;
}

void Connection::reply(std::string_view body) {
    last_reply_ = frame(body);
    out_ += last_reply_;
}

std::string Connection::take_output() {
    std::string out;
    out.swap(out_);
    return out;
}

std::string frame(std::string_view body) {
    std::string s = "$";
    unsigned sum = 0;
    auto put = [&](char c) {
        s.push_back(c);
        sum += static_cast<unsigned char>(c);
    };
    for (char c : body) {
        if (c == '$' || c == '#' || c == '}' || c == '*') {
            put('}');
            put(static_cast<char>(c ^ 0x20));
        } else {
            put(c);
        }
    }
    return s + fmt::format("#{:02x}", sum & 0xff);
}

// ---- Requests --------------------------------------------------------------------

namespace {

using Kind = Request::Kind;

Request of(Kind k) {
    Request r;
    r.kind = k;
    return r;
}

bool starts(std::string_view p, std::string_view prefix) { return p.substr(0, prefix.size()) == prefix; }

// A thread id or "-1" (all): hex, "0" (any) or "-1".
bool parse_id(std::string_view s, uint64_t* out) {
    if (s == "-1") {
        *out = kAllThreads;
        return true;
    }
    return parse_hex(s, out);
}

// A thread id: "T", or with the multiprocess extensions "pP.T" or "pP" (every
// thread of process P); T and P as parse_id takes them.
bool parse_thread(std::string_view s, uint64_t* process, uint64_t* thread) {
    *process = kAnyThread;
    if (s.empty() || s[0] != 'p')
        return parse_id(s, thread);
    s.remove_prefix(1);
    const size_t dot = s.find('.');
    if (dot == std::string_view::npos) {
        *thread = kAllThreads;
        return parse_id(s, process);
    }
    return parse_id(s.substr(0, dot), process) && parse_id(s.substr(dot + 1), thread);
}

// "A<sep>B", both hex.
bool parse_pair(std::string_view s, char sep, uint64_t* a, uint64_t* b) {
    const size_t at = s.find(sep);
    return at != std::string_view::npos && parse_hex(s.substr(0, at), a) && parse_hex(s.substr(at + 1), b);
}

// c / s (no address: resuming elsewhere would change the run) and C SIG / S SIG
// (the signal is ignored: Anvil threads get none).
Request resume(std::string_view p, Kind kind) {
    uint64_t sig = 0;
    if (p.size() == 1 && (p[0] == 'c' || p[0] == 's'))
        return of(kind);
    if ((p[0] == 'C' || p[0] == 'S') && parse_hex(p.substr(1), &sig))
        return of(kind);
    return of(Kind::kBad);
}

// vCont;ACTION[:THREAD];...: the first step action decides (gdb steps one thread
// and lets the others run as they would), else all continue.
Request vcont(std::string_view actions) {
    Request r = of(Kind::kContinue);
    for (;;) {
        const size_t semi = actions.find(';');
        std::string_view a = actions.substr(0, semi);
        if (a.empty())
            return of(Kind::kBad);
        const char op = a[0];
        a.remove_prefix(1);
        if (op == 'C' || op == 'S') {
            uint64_t sig = 0;
            const size_t colon = a.find(':');
            if (!parse_hex(a.substr(0, colon), &sig))
                return of(Kind::kBad);
            a = colon == std::string_view::npos ? std::string_view() : a.substr(colon);
        } else if (op != 'c' && op != 's') {
            return of(Kind::kBad);
        }
        uint64_t t = kAllThreads, process = kAnyThread;
        if (!a.empty() && (a[0] != ':' || !parse_thread(a.substr(1), &process, &t)))
            return of(Kind::kBad);
        if (t != kAllThreads && t != kAnyThread)
            r.named.push_back(t);
        if ((op == 's' || op == 'S') && r.kind != Kind::kStep) {
            r.kind = Kind::kStep;
            r.thread = t == kAllThreads ? kAnyThread : t;
        }
        if (semi == std::string_view::npos)
            return r;
        actions = actions.substr(semi + 1);
    }
}

Request breakpoint(std::string_view p) {
    if (p.size() < 2)
        return of(Kind::kBad);
    const bool insert = p[0] == 'Z';
    Request r;
    if (p[1] == '0' || p[1] == '1') {
        r = of(insert ? Kind::kInsertBreakpoint : Kind::kRemoveBreakpoint);
    } else if (p[1] >= '2' && p[1] <= '4') {
        r = of(insert ? Kind::kInsertWatchpoint : Kind::kRemoveWatchpoint);
        r.watch_type = p[1] - '0';
    } else {
        return of(Kind::kUnsupported);
    }
    uint64_t kind = 0;
    if (p.size() < 3 || p[2] != ',' || !parse_pair(p.substr(3), ',', &r.addr, &kind))
        return of(Kind::kBad);
    if (r.watch_type) {  // KIND is the length: 1 to 8 bytes
        if (kind < 1 || kind > 8)
            return of(Kind::kBad);
        r.length = kind;
    }
    return r;
}

Request catch_syscalls(std::string_view args) {
    Request r = of(Kind::kCatchSyscalls);
    if (args == "0")
        return r;
    r.catch_mode = Request::Catch::kAll;
    if (args == "1")
        return r;
    if (!starts(args, "1;"))
        return of(Kind::kBad);
    r.catch_mode = Request::Catch::kList;
    args.remove_prefix(2);
    for (;;) {
        const size_t semi = args.find(';');
        uint64_t nr = 0;
        if (!parse_hex(args.substr(0, semi), &nr))
            return of(Kind::kBad);
        r.syscalls.push_back(nr);
        if (semi == std::string_view::npos)
            return r;
        args.remove_prefix(semi + 1);
    }
}

// qXfer:OBJECT:read:ANNEX:OFFSET,LENGTH for the objects the stub serves.
Request xfer(std::string_view p) {
    Request r;
    if (starts(p, "features:read:")) {
        r = of(Kind::kReadTargetXml);
        p.remove_prefix(14);
        if (!starts(p, "target.xml:"))
            return of(Kind::kBad);
        p.remove_prefix(11);
    } else if (starts(p, "exec-file:read:")) {  // ANNEX: the process (hex), or empty: the selected one
        r = of(Kind::kReadExecFile);
        p.remove_prefix(15);
        const size_t colon = p.find(':');
        if (colon == std::string_view::npos || (colon > 0 && !parse_hex(p.substr(0, colon), &r.process)))
            return of(Kind::kBad);
        p.remove_prefix(colon + 1);
    } else if (starts(p, "threads:read::")) {
        r = of(Kind::kReadThreads);
        p.remove_prefix(14);
    } else {
        return of(Kind::kUnsupported);
    }
    return parse_pair(p, ',', &r.addr, &r.length) ? r : of(Kind::kBad);
}

Request query(std::string_view p) {
    constexpr std::string_view kXfer = "qXfer:";
    if (p == "qSupported" || starts(p, "qSupported:")) {
        Request r = of(Kind::kSupported);
        r.text = p.substr(std::min<size_t>(p.size(), 11));
        return r;
    }
    if (p == "QStartNoAckMode")
        return of(Kind::kStartNoAck);
    if (starts(p, kXfer))
        return xfer(p.substr(kXfer.size()));
    if (p == "qfThreadInfo")
        return of(Kind::kThreadListFirst);
    if (p == "qsThreadInfo")
        return of(Kind::kThreadListNext);
    if (starts(p, "qThreadExtraInfo,")) {
        Request r = of(Kind::kThreadExtraInfo);
        return parse_thread(p.substr(17), &r.process, &r.thread) ? r : of(Kind::kBad);
    }
    if (p == "qC")
        return of(Kind::kCurrentThread);
    if (p == "qAttached" || starts(p, "qAttached:"))
        return of(Kind::kAttached);
    if (starts(p, "qSymbol:"))
        return of(Kind::kSymbol);
    if (starts(p, "QCatchSyscalls:"))
        return catch_syscalls(p.substr(15));
    if (starts(p, "qRcmd,")) {
        Request r = of(Kind::kMonitor);
        const std::string_view hex = p.substr(6);
        if (hex.size() % 2)
            return of(Kind::kBad);
        for (size_t i = 0; i < hex.size(); i += 2) {
            uint64_t byte = 0;
            if (!parse_hex(hex.substr(i, 2), &byte))
                return of(Kind::kBad);
            r.text += static_cast<char>(byte);
        }
        return r;
    }
    return of(Kind::kUnsupported);
}

}  // namespace

Request parse_request(std::string_view p) {
    if (p.empty())
        return of(Kind::kUnsupported);
    switch (p[0]) {
    case '?': return of(p.size() == 1 ? Kind::kStopReason : Kind::kBad);
    case 'g': return of(p.size() == 1 ? Kind::kReadRegisters : Kind::kBad);
    case 'G': case 'P': case 'M': case 'X': return of(Kind::kWrite);
    case 'p': {
        Request r = of(Kind::kReadRegister);
        return parse_hex(p.substr(1), &r.addr) ? r : of(Kind::kBad);
    }
    case 'm': {
        Request r = of(Kind::kReadMemory);
        return parse_pair(p.substr(1), ',', &r.addr, &r.length) ? r : of(Kind::kBad);
    }
    case 'H': {
        Request r = of(Kind::kSetThread);
        if (p.size() < 2 || (p[1] != 'g' && p[1] != 'c') || !parse_thread(p.substr(2), &r.process, &r.thread))
            return of(Kind::kBad);
        return r;
    }
    case 'T': {
        Request r = of(Kind::kThreadAlive);
        return parse_thread(p.substr(1), &r.process, &r.thread) ? r : of(Kind::kBad);
    }
    case 'c': case 'C': return resume(p, Kind::kContinue);
    case 's': case 'S': return resume(p, Kind::kStep);
    case 'b':
        if (p == "bs")
            return of(Kind::kReverseStep);
        if (p == "bc")
            return of(Kind::kReverseContinue);
        return of(Kind::kUnsupported);
    case 'Z': case 'z': return breakpoint(p);
    case 'k': return of(p.size() == 1 ? Kind::kKill : Kind::kBad);
    case 'D': {  // D, or D;PROCESS with the multiprocess extensions
        Request r = of(Kind::kDetach);
        if (p.size() == 1)
            return r;
        return p[1] == ';' && parse_hex(p.substr(2), &r.process) ? r : of(Kind::kBad);
    }
    case 'v':
        if (p == "vCont?")
            return of(Kind::kContQuery);
        if (starts(p, "vCont;"))
            return vcont(p.substr(6));
        if (p == "vKill" || starts(p, "vKill;"))
            return of(Kind::kKill);
        return of(Kind::kUnsupported);
    case 'q': case 'Q': return query(p);
    default: return of(Kind::kUnsupported);
    }
}

}  // namespace replay::debug::gdb
