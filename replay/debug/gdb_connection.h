// The GDB remote serial protocol as the stub (replay/debug/gdb_server.cpp) speaks it:
// framing (bytes from gdb in; packets, acknowledgements and resends out) and
// the decoding of a packet into a typed request. No I/O and no simulator here,
// so the unit tests (tests/unit/test_gdb_connection.cpp) and fuzz-gdb drive it
// with plain bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace replay::debug::gdb {

// The longest packet payload taken, as received (escapes included); the stub
// advertises it as PacketSize (in hex: 4000). A longer packet is discarded as
// it arrives, so no more than this is ever held.
inline constexpr size_t kMaxPacket = 0x4000;

// Error replies (gdb shows the number; the text is in docs/debugging.md).
inline constexpr std::string_view kErrArguments = "E01";  // bad or missing arguments
inline constexpr std::string_view kErrPacket = "E02";     // a packet refused by the framing (refusal())
inline constexpr std::string_view kErrNoThread = "E03";   // the thread named does not exist (any more)
inline constexpr std::string_view kErrMemory = "E14";     // no readable memory there (EFAULT)
// A write (G P M X): gdb shows the text for registers; for memory it says
// "Cannot access memory", and the stub's log says why.
inline constexpr std::string_view kErrWrite =
    "E.the run is a recording: anvil-debug cannot change registers or memory";

// What one byte from gdb completed.
enum class Input {
    kNone,       // nothing for the server: inside a packet, or an acknowledgement
    kPacket,     // a whole packet with a good checksum: packet() holds its payload
    kRefused,    // a whole packet the framing refuses (refusal() says why): answer kErrPacket
    kInterrupt,  // the byte 0x03 between packets (gdb's Ctrl-C)
};

// One connection's framing state. Acknowledges each packet ('+', or '-' for a
// bad checksum, after which gdb sends it again) until no-ack mode starts, and
// sends the last reply again when gdb answers it with '-'.
class Connection {
public:
    // Takes the next byte from gdb.
    Input feed(char c);
    // The payload of the last kPacket, escapes undone.
    const std::string& packet() const { return packet_; }
    // Why the last kRefused packet was refused.
    const std::string& refusal() const { return refusal_; }

    // Queues `body` as a packet to gdb (escaped, with its checksum).
    void reply(std::string_view body);
    // QStartNoAckMode, after its OK is queued: no more '+'/'-' either way.
    void start_no_ack() { ack_ = false; }
    bool acknowledging() const { return ack_; }

    // The bytes queued for gdb since the last call (acknowledgements, packets).
    std::string take_output();

    // Bytes held for the packet being received (never more than kMaxPacket).
    size_t held() const { return raw_.size(); }

private:
    enum class State { kIdle, kBody, kSum1, kSum2 };
    Input finish_packet();

    State state_ = State::kIdle;
    std::string raw_;         // the payload so far, as received, up to kMaxPacket
    bool too_long_ = false;   // the payload passed kMaxPacket: the rest is only summed
    unsigned sum_ = 0;        // the checksum of every payload byte received
    int sent_sum_ = 0;        // the checksum gdb sent (-1: not two hex digits)
    bool ack_ = true;
    std::string packet_;
    std::string refusal_;
    std::string last_reply_;  // framed, for a resend
    std::string out_;
};

// `body` as one packet: $, the payload with # $ } * escaped, #, the checksum.
std::string frame(std::string_view body);

// Thread ids in requests: "0" (any thread) and "-1" (all threads); the same
// for processes in the multiprocess form "pPROCESS.THREAD".
inline constexpr uint64_t kAnyThread = 0;
inline constexpr uint64_t kAllThreads = ~0ull;

// A packet decoded: what gdb asks for, with its arguments.
struct Request {
    enum class Kind {
        kUnsupported,        // a packet the stub does not know: the empty reply
        kBad,                // a known packet with bad or missing arguments: kErrArguments
        kWrite,              // G P M X: refused, the target is a recording (kErrWrite)
        kStopReason,         // ?
        kReadRegisters,      // g
        kReadRegister,       // p N: number
        kReadMemory,         // m ADDR,LEN: addr, length
        kSetThread,          // Hg T, Hc T: thread (kAnyThread, kAllThreads or an id), process
        kThreadAlive,        // T T: thread, process
        kContinue,           // c, C SIG, vCont without a step action: threads named
        kStep,               // s, S SIG, vCont;s[:T]: thread (kAnyThread: the selected one), threads named
        kReverseStep,        // bs
        kReverseContinue,    // bc
        kInsertBreakpoint,   // Z0/Z1,ADDR,KIND: addr
        kRemoveBreakpoint,   // z0/z1,ADDR,KIND: addr
        kInsertWatchpoint,   // Z2/Z3/Z4,ADDR,LEN: watch_type, addr, length
        kRemoveWatchpoint,   // z2/z3/z4,ADDR,LEN: watch_type, addr, length
        kKill,               // k, vKill
        kDetach,             // D, D;P: process (kAnyThread: every one)
        kSupported,          // qSupported[:FEATURES]: text (gdb's features)
        kStartNoAck,         // QStartNoAckMode
        kReadTargetXml,      // qXfer:features:read:target.xml:OFF,LEN: addr (offset), length
        kReadExecFile,       // qXfer:exec-file:read:P:OFF,LEN: process (kAnyThread: none named), addr, length
        kReadThreads,        // qXfer:threads:read::OFF,LEN: addr, length
        kThreadListFirst,    // qfThreadInfo
        kThreadListNext,     // qsThreadInfo
        kThreadExtraInfo,    // qThreadExtraInfo,T: thread, process
        kCurrentThread,      // qC
        kAttached,           // qAttached
        kSymbol,             // qSymbol
        kCatchSyscalls,      // QCatchSyscalls:0 | 1 | 1;NR;...: catch_mode, syscalls
        kContQuery,          // vCont?
        kMonitor,            // qRcmd,HEX (gdb's `monitor TEXT`): text
    };
    enum class Catch { kOff, kAll, kList };

    Kind kind = Kind::kUnsupported;
    uint64_t thread = kAnyThread;
    uint64_t process = kAnyThread;  // "pP.T": P (thread ids are Anvil's, unique without it)
    uint64_t addr = 0;
    uint64_t length = 0;
    std::vector<uint64_t> named;  // kContinue, kStep: the thread ids the actions name (each must exist)
    int watch_type = 0;  // 2 write, 3 read, 4 access
    Catch catch_mode = Catch::kOff;
    std::vector<uint64_t> syscalls;
    std::string text;  // kMonitor: the command, decoded
};

// Decodes one packet payload. Never reads outside `p`; anything malformed is kBad.
Request parse_request(std::string_view p);

// A hex number of 1 to 16 digits filling all of `s`; false otherwise.
bool parse_hex(std::string_view s, uint64_t* out);

}  // namespace replay::debug::gdb
