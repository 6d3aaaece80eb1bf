// libFuzzer harness: the GDB stub's protocol layer (replay/debug/gdb_connection) on any
// bytes from "gdb", as the stub runs it: every byte through the framing, every
// packet decoded into a request and answered, QStartNoAckMode switching the
// acknowledgements off. The first byte picks the starting mode and lets a
// short input stand for a long packet (LLVMFuzzerTestOneInput below).
//
// Checks: the framing never holds more than kMaxPacket bytes; every packet it
// yields fits the bound and comes back unchanged through frame() (which
// escapes every $ # } *) and a fresh connection; every refusal has a reason; what goes back to gdb is exactly the
// acknowledgement the mode calls for and the reply (or, for a '-', the last
// reply again); decoded requests are consistent (a stepped thread is among the
// threads named, a catch list is never empty, numbers encode back to them).
#include "fuzz/check.h"
#include "replay/debug/gdb_connection.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

namespace {

using namespace replay::debug::gdb;
using Kind = Request::Kind;

// frame(p) through a fresh connection: p again, or refused if its escapes make it too long.
void check_round_trip(const std::string& p) {
    Connection d;
    const std::string framed = frame(p);
    // gdb reads '*' as run-length encoding and '$' '#' as framing: all escaped.
    for (size_t i = 1; i + 3 < framed.size(); ++i) {
        const char c = framed[i];
        FUZZ_CHECK(c != '$' && c != '#' && c != '*', "frame() left a special byte unescaped");
        i += c == '}';
    }
    int packets = 0, refused = 0;
    for (char b : framed) {
        const Input in = d.feed(b);
        if (in == Input::kPacket) {
            ++packets;
            FUZZ_CHECK(d.packet() == p, "frame() and the framing disagree on a payload");
        }
        refused += in == Input::kRefused;
    }
    FUZZ_CHECK(d.take_output() == "+", "a framed packet was not acknowledged once");
    if (framed.size() - 4 <= kMaxPacket)
        FUZZ_CHECK(packets == 1 && refused == 0, "a packet within the bound did not come back");
    else
        FUZZ_CHECK(packets == 0 && refused == 1, "a packet past the bound was not refused");
}

void check_request(const std::string& p) {
    const Request r = parse_request(p);
    for (uint64_t t : r.named)
        FUZZ_CHECK(t != kAnyThread && t != kAllThreads, "a named thread is 0 or -1");
    if (r.kind != Kind::kContinue && r.kind != Kind::kStep)
        FUZZ_CHECK(r.named.empty(), "threads named by a request that runs nothing");
    if (r.kind == Kind::kStep && r.thread != kAnyThread)
        FUZZ_CHECK(std::find(r.named.begin(), r.named.end(), r.thread) != r.named.end(),
                   "the stepped thread is not among the threads named");
    FUZZ_CHECK((r.kind == Kind::kCatchSyscalls && r.catch_mode == Request::Catch::kList) == !r.syscalls.empty(),
               "a syscall list without list mode, or an empty one");
    if (r.kind != Kind::kUnsupported)
        FUZZ_CHECK(!p.empty(), "an empty packet decoded as a request");
    // Numbers decode to what encodes back to them.
    if (r.kind == Kind::kReadMemory) {
        const Request again = parse_request(fmt::format("m{:x},{:x}", r.addr, r.length));
        FUZZ_CHECK(again.kind == Kind::kReadMemory && again.addr == r.addr && again.length == r.length,
                   "m ADDR,LEN does not encode back");
    }
    if (r.kind == Kind::kInsertBreakpoint || r.kind == Kind::kRemoveBreakpoint) {
        const Request again = parse_request(fmt::format("{}0,{:x},1", p[0], r.addr));
        FUZZ_CHECK(again.kind == r.kind && again.addr == r.addr, "Z/z ADDR does not encode back");
    }
    if (r.kind == Kind::kSetThread && r.thread != kAllThreads) {
        const Request again = parse_request(fmt::format("Hg{:x}", r.thread));
        FUZZ_CHECK(again.kind == Kind::kSetThread && again.thread == r.thread, "H THREAD does not encode back");
    }
}

// One connection, as the stub runs it, with the checks above on each byte.
class Session {
public:
    explicit Session(bool ack) : ack_(ack) {
        if (!ack)
            c_.start_no_ack();
    }

    void feed(char b) {
        const Input in = c_.feed(b);
        FUZZ_CHECK(c_.held() <= kMaxPacket, "the framing holds more than kMaxPacket bytes");
        FUZZ_CHECK(c_.acknowledging() == ack_, "the acknowledgement mode changed by itself");
        std::string expect;
        switch (in) {
        case Input::kPacket: {
            const std::string p = c_.packet();
            FUZZ_CHECK(p.size() <= kMaxPacket, "a packet longer than kMaxPacket");
            check_round_trip(p);
            check_request(p);
            c_.reply(p);  // an echo: replies of any bytes get framed
            last_ = frame(p);
            expect = (ack_ ? "+" : "") + last_;
            if (parse_request(p).kind == Kind::kStartNoAck) {  // as the stub does
                c_.start_no_ack();
                ack_ = false;
            }
            break;
        }
        case Input::kRefused:
            FUZZ_CHECK(!c_.refusal().empty(), "a refusal without a reason");
            c_.reply(kErrPacket);
            last_ = frame(kErrPacket);
            expect = (ack_ ? "+" : "") + last_;
            break;
        case Input::kInterrupt:
            FUZZ_CHECK(b == '\x03', "an interrupt from another byte");
            break;
        case Input::kNone:
            break;
        }
        const std::string out = c_.take_output();
        if (in != Input::kNone)
            FUZZ_CHECK(out == expect, "the output is not the acknowledgement and the reply");
        else if (!(ack_ && b == '-' && out == last_))  // (that is a resend)
            FUZZ_CHECK(out.empty() || (ack_ && out == "-"), "unexpected output between packets");
    }

private:
    Connection c_;
    bool ack_;
    std::string last_;  // the last reply, framed
};

}  // namespace

// The first byte: bit 0 starts in no-ack mode; bit 1 makes "\xfe N" stand for
// N x 128 more of the byte before it (32 KiB in all at most), so that small
// inputs make packets past the 16 KiB bound (big inputs would slow every run).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    Session session((data[0] & 1) == 0);
    const bool repeats = data[0] & 2;
    size_t budget = 2 * kMaxPacket;  // repeated bytes per input, at most
    for (size_t i = 1; i < size; ++i) {
        if (repeats && data[i] == 0xfe && i > 1 && i + 1 < size) {
            for (size_t n = std::min(size_t{data[i + 1]} * 128, budget); n > 0; --n, --budget)
                session.feed(static_cast<char>(data[i - 1]));
            ++i;
            continue;
        }
        session.feed(static_cast<char>(data[i]));
    }
    return 0;
}
