// libFuzzer harness: the GDB stub's protocol layer (sim/gdb_connection) on any
// bytes from "gdb", as the stub runs it: every byte through the framing, every
// packet decoded into a request and answered, QStartNoAckMode switching the
// acknowledgements off. The first byte picks the starting mode (odd: no-ack).
//
// Checks: the framing never holds more than kMaxPacket bytes; every packet it
// yields fits the bound and comes back unchanged through frame() (which
// escapes every $ # } *) and a fresh connection; every refusal has a reason; what goes back to gdb is exactly the
// acknowledgement the mode calls for and the reply (or, for a '-', the last
// reply again); decoded requests are consistent (a stepped thread is among the
// threads named, a catch list is never empty, numbers encode back to them).
#include "fuzz/check.h"
#include "sim/gdb_connection.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

namespace {

using namespace sim::gdb;
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    Connection c;
    bool ack = (data[0] & 1) == 0;
    if (!ack)
        c.start_no_ack();
    std::string last;  // the last reply, framed
    for (size_t i = 1; i < size; ++i) {
        const char b = static_cast<char>(data[i]);
        const Input in = c.feed(b);
        FUZZ_CHECK(c.held() <= kMaxPacket, "the framing holds more than kMaxPacket bytes");
        FUZZ_CHECK(c.acknowledging() == ack, "the acknowledgement mode changed by itself");
        std::string expect;
        switch (in) {
        case Input::kPacket: {
            const std::string p = c.packet();
            FUZZ_CHECK(p.size() <= kMaxPacket, "a packet longer than kMaxPacket");
            check_round_trip(p);
            check_request(p);
            c.reply(p);  // an echo: replies of any bytes get framed
            last = frame(p);
            expect = (ack ? "+" : "") + last;
            if (parse_request(p).kind == Kind::kStartNoAck) {  // as the stub does
                c.start_no_ack();
                ack = false;
            }
            break;
        }
        case Input::kRefused:
            FUZZ_CHECK(!c.refusal().empty(), "a refusal without a reason");
            c.reply(kErrPacket);
            last = frame(kErrPacket);
            expect = (ack ? "+" : "") + last;
            break;
        case Input::kInterrupt:
            FUZZ_CHECK(b == '\x03', "an interrupt from another byte");
            break;
        case Input::kNone:
            break;
        }
        const std::string out = c.take_output();
        if (in != Input::kNone)
            FUZZ_CHECK(out == expect, "the output is not the acknowledgement and the reply");
        else if (ack && b == '-' && out == last)
            ;  // a resend
        else
            FUZZ_CHECK(out.empty() || (ack && out == "-"), "unexpected output between packets");
    }
    return 0;
}
