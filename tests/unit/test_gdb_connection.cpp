// Host tests of the GDB stub's protocol layer (replay/debug/gdb_connection.h): framing
// with checksums, acknowledgements and resends, the packet size bound, and the
// decoding of packets into requests, malformed ones included.
#include "replay/debug/gdb_connection.h"

#include "catch.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace {

using replay::debug::gdb::Connection;
using replay::debug::gdb::Input;
using replay::debug::gdb::Request;
using Kind = replay::debug::gdb::Request::Kind;

// What feeding `bytes` produced: each non-kNone input, with the packet or refusal.
struct Fed {
    std::vector<Input> inputs;
    std::vector<std::string> texts;
    std::string output;
};

Fed feed(Connection& c, const std::string& bytes) {
    Fed f;
    for (char b : bytes) {
        const Input in = c.feed(b);
        if (in == Input::kNone)
            continue;
        f.inputs.push_back(in);
        f.texts.push_back(in == Input::kPacket ? c.packet() : in == Input::kRefused ? c.refusal() : "");
    }
    f.output = c.take_output();
    return f;
}

Request parse(const std::string& p) { return replay::debug::gdb::parse_request(p); }

}  // namespace

TEST_CASE("gdb connection: a packet with a good checksum is acknowledged with + and taken") {
    Connection c;
    const Fed f = feed(c, "+$qC#b4");
    REQUIRE(f.inputs == std::vector<Input>{Input::kPacket});
    CHECK(f.texts[0] == "qC");
    CHECK(f.output == "+");
    CHECK(replay::debug::gdb::frame("qC") == "$qC#b4");
}

TEST_CASE("gdb connection: a bad checksum is answered with - and the packet dropped, its resend taken") {
    Connection c;
    Fed f = feed(c, "$qC#b5");
    CHECK(f.inputs.empty());
    CHECK(f.output == "-");
    f = feed(c, "$qC#zz");  // not hex
    CHECK(f.inputs.empty());
    CHECK(f.output == "-");
    f = feed(c, "$qC#b$qC#B4");  // cut short by the next packet; upper-case digits are fine
    REQUIRE(f.inputs == std::vector<Input>{Input::kPacket});
    CHECK(f.texts[0] == "qC");
    CHECK(f.output == "-+");
}

TEST_CASE("gdb connection: gdb's - makes the last reply go out again, + does not") {
    Connection c;
    c.reply("OK");
    CHECK(c.take_output() == "$OK#9a");
    feed(c, "+");
    CHECK(c.take_output().empty());
    CHECK(feed(c, "-").output == "$OK#9a");
    CHECK(feed(c, "-").output == "$OK#9a");
}

TEST_CASE("gdb connection: after QStartNoAckMode nothing is acknowledged and a bad checksum is refused") {
    Connection c;
    REQUIRE(feed(c, "$QStartNoAckMode#b0").output == "+");
    c.reply("OK");
    c.start_no_ack();
    CHECK(c.take_output() == "$OK#9a");
    Fed f = feed(c, "+$?#3f-");
    CHECK(f.inputs == std::vector<Input>{Input::kPacket});
    CHECK(f.output.empty());  // neither + for the packet nor a resend for the -
    f = feed(c, "$?#00");
    REQUIRE(f.inputs == std::vector<Input>{Input::kRefused});
    CHECK(f.texts[0] == "bad checksum");
    CHECK(f.output.empty());
}

TEST_CASE("gdb connection: a packet longer than PacketSize is discarded as it arrives and refused") {
    Connection c;
    const size_t n = 4 * 1024 * 1024;  // far past the bound, as gdb never sends
    c.feed('$');
    unsigned sum = 0;
    size_t most = 0, inputs = 0;
    for (size_t i = 0; i < n; ++i) {
        inputs += c.feed('a') != Input::kNone;
        sum += 'a';
        most = std::max(most, c.held());
    }
    CHECK(inputs == 0);
    CHECK(most == replay::debug::gdb::kMaxPacket);
    char tail[8];
    std::snprintf(tail, sizeof tail, "#%02x", sum & 0xff);
    const Fed f = feed(c, tail);
    REQUIRE(f.inputs == std::vector<Input>{Input::kRefused});
    CHECK(f.texts[0] == "packet longer than 16384 bytes");
    CHECK(f.output == "+");  // it arrived whole: not sent again
    // The next packet is read as usual, and one of exactly the bound is taken.
    CHECK(feed(c, "$qC#b4").texts == std::vector<std::string>{"qC"});
    const std::string full(replay::debug::gdb::kMaxPacket, 'm');
    CHECK(feed(c, replay::debug::gdb::frame(full)).texts == std::vector<std::string>{full});
}

TEST_CASE("gdb connection: escapes are undone, a packet ending in the escape character is refused") {
    Connection c;
    CHECK(feed(c, replay::debug::gdb::frame("a$b#c}d*e")).texts == std::vector<std::string>{"a$b#c}d*e"});
    CHECK(replay::debug::gdb::frame("#") == "$}\x03#80");
    const Fed f = feed(c, "$ab}#40");
    REQUIRE(f.inputs == std::vector<Input>{Input::kRefused});
    CHECK(f.texts[0] == "packet ends in the escape character }");
}

TEST_CASE("gdb connection: 0x03 between packets is an interrupt, inside one a payload byte") {
    Connection c;
    CHECK(feed(c, "\x03").inputs == std::vector<Input>{Input::kInterrupt});
    const Fed f = feed(c, replay::debug::gdb::frame("a\x03"));
    CHECK(f.inputs == std::vector<Input>{Input::kPacket});
}

TEST_CASE("gdb requests: short and malformed packets are bad arguments, unknown ones unsupported") {
    for (const char* p : {"H", "Hg", "Hx1", "Hgzz", "p", "pzz", "m", "m10", "m10,", "m,4", "mzz,4", "T", "Z", "z", "Z0",
                          "Z0,", "Z0,10", "z1,zz,1", "c10", "Cxx", "s10", "S", "g0", "?x", "vCont;", "vCont;x",
                          "vCont;s:", "vCont;s:zz", "vCont;c;", "vCont;C", "qThreadExtraInfo,",
                          "qXfer:features:read:target.xml:", "qXfer:features:read:other.xml:0,10",
                          "QCatchSyscalls:", "QCatchSyscalls:2", "QCatchSyscalls:1;", "QCatchSyscalls:1;zz",
                          "m11111111111111111,1", "k0", "Dx", "Z2,10,0", "Z2,10,9", "z3,10", "Z4,zz,4"})
        CHECK(parse(p).kind == Kind::kBad);
    for (const char* p : {"", "Z5,10,4", "bx", "vMustReplyEmpty", "qOffsets", "!", "R00"})
        CHECK(parse(p).kind == Kind::kUnsupported);
    for (const char* p : {"G00", "P1=0", "M10,1:00", "X10,1:a"})
        CHECK(parse(p).kind == Kind::kWrite);
}

TEST_CASE("gdb requests: arguments are decoded") {
    Request r = parse("m7ffff000,40");
    CHECK(r.kind == Kind::kReadMemory);
    CHECK(r.addr == 0x7ffff000);
    CHECK(r.length == 0x40);
    r = parse("Hg1f");
    CHECK(r.kind == Kind::kSetThread);
    CHECK(r.thread == 0x1f);
    CHECK(parse("Hc-1").thread == replay::debug::gdb::kAllThreads);
    CHECK(parse("Hg0").thread == replay::debug::gdb::kAnyThread);
    r = parse("p10");
    CHECK(r.kind == Kind::kReadRegister);
    CHECK(r.addr == 16);
    r = parse("Z0,401000,1");
    CHECK(r.kind == Kind::kInsertBreakpoint);
    CHECK(r.addr == 0x401000);
    CHECK(parse("z1,401000,1").kind == Kind::kRemoveBreakpoint);
    r = parse("qRcmd,7768656e");
    CHECK(r.kind == Kind::kMonitor);
    CHECK(r.text == "when");
    CHECK(parse("qRcmd,").text.empty());
    CHECK(parse("qRcmd,776").kind == Kind::kBad);
    CHECK(parse("qRcmd,7z").kind == Kind::kBad);
    r = parse("Z2,200000000000,8");
    CHECK(r.kind == Kind::kInsertWatchpoint);
    CHECK(r.watch_type == 2);
    CHECK(r.addr == 0x200000000000);
    CHECK(r.length == 8);
    CHECK(parse("Z3,10,1").watch_type == 3);
    r = parse("z4,10,2");
    CHECK(r.kind == Kind::kRemoveWatchpoint);
    CHECK(r.watch_type == 4);
    CHECK(r.length == 2);
    r = parse("qXfer:features:read:target.xml:7f,ffb");
    CHECK(r.kind == Kind::kReadTargetXml);
    CHECK(r.addr == 0x7f);
    CHECK(r.length == 0xffb);
    r = parse("QCatchSyscalls:1;a;1f");
    CHECK(r.kind == Kind::kCatchSyscalls);
    CHECK(r.catch_mode == Request::Catch::kList);
    CHECK(r.syscalls == std::vector<uint64_t>{10, 31});
    CHECK(parse("QCatchSyscalls:1").catch_mode == Request::Catch::kAll);
    CHECK(parse("QCatchSyscalls:0").catch_mode == Request::Catch::kOff);
    CHECK(parse("qSupported:multiprocess+;swbreak+").kind == Kind::kSupported);
    CHECK(parse("D;1").kind == Kind::kDetach);
    CHECK(parse("vKill;1").kind == Kind::kKill);
}

TEST_CASE("gdb requests: multiprocess thread ids, exec-file and threads objects, detach of one process") {
    Request r = parse("Hgp1f.2a");
    CHECK(r.kind == Kind::kSetThread);
    CHECK(r.process == 0x1f);
    CHECK(r.thread == 0x2a);
    r = parse("Hgp1f.0");
    CHECK(r.process == 0x1f);
    CHECK(r.thread == replay::debug::gdb::kAnyThread);
    r = parse("Hcp-1.-1");
    CHECK(r.process == replay::debug::gdb::kAllThreads);
    CHECK(r.thread == replay::debug::gdb::kAllThreads);
    CHECK(parse("Tp3.7").thread == 7);
    CHECK(parse("qThreadExtraInfo,p3.7").thread == 7);
    r = parse("vCont;s:p3.7;c:p-1.-1");
    CHECK(r.kind == Kind::kStep);
    CHECK(r.thread == 7);
    CHECK(r.named == std::vector<uint64_t>{7});
    r = parse("vCont;c:p3.-1");
    CHECK(r.kind == Kind::kContinue);
    CHECK(r.named.empty());
    r = parse("qXfer:exec-file:read:f:0,fff");
    CHECK(r.kind == Kind::kReadExecFile);
    CHECK(r.process == 0xf);
    CHECK(r.length == 0xfff);
    CHECK(parse("qXfer:exec-file:read::10,20").process == replay::debug::gdb::kAnyThread);
    r = parse("qXfer:threads:read::0,1000");
    CHECK(r.kind == Kind::kReadThreads);
    CHECK(r.length == 0x1000);
    CHECK(parse("qXfer:libraries:read::0,10").kind == Kind::kUnsupported);
    CHECK(parse("D;1f").process == 0x1f);
    CHECK(parse("D").process == replay::debug::gdb::kAnyThread);
    CHECK(parse("qSupported:multiprocess+;swbreak+").text == "multiprocess+;swbreak+");
    for (const char* p : {"Hgp", "Hgp.1", "Hgpzz.1", "Hgp1.zz", "qXfer:exec-file:read:zz:0,1",
                          "qXfer:exec-file:read:1", "qXfer:threads:read::", "D;", "D;zz"}) {
        INFO(p);
        CHECK(parse(p).kind == Kind::kBad);
    }
}

TEST_CASE("gdb requests: the first step action of vCont decides, with every thread named listed") {
    Request r = parse("vCont;c");
    CHECK(r.kind == Kind::kContinue);
    CHECK(r.named.empty());
    r = parse("vCont;s:5;c");
    CHECK(r.kind == Kind::kStep);
    CHECK(r.thread == 5);
    CHECK(r.named == std::vector<uint64_t>{5});
    r = parse("vCont;c:7;S05:9;s:a");
    CHECK(r.kind == Kind::kStep);
    CHECK(r.thread == 9);
    CHECK(r.named == std::vector<uint64_t>{7, 9, 10});
    r = parse("vCont;s");
    CHECK(r.kind == Kind::kStep);
    CHECK(r.thread == replay::debug::gdb::kAnyThread);  // the selected thread
    r = parse("vCont;C05:3");
    CHECK(r.kind == Kind::kContinue);
    CHECK(r.named == std::vector<uint64_t>{3});
    CHECK(parse("s").kind == Kind::kStep);
    CHECK(parse("S05").kind == Kind::kStep);
    CHECK(parse("C05").kind == Kind::kContinue);
}
