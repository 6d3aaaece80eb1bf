// Host tests of the trace reader (replay/trace_reader): well-formed traces
// decode field by field; a trace cut short keeps every complete record;
// flipped, mislabelled and random bytes are refused with a message naming the
// place and never crash. Traces are encoded here by the rules of
// kernel/trace/events.h (LEB128 varints, zigzag for signed fields, an end
// record with the count and FNV-1a of the record bytes, version 2's chunks,
// version 3's header). Packs (replay/pack.h) of a trace and its initramfs read
// as the trace, and every malformed pack is refused naming the problem.
#include "replay/pack.h"
#include "replay/trace_reader.h"

#include <anvil/status.h>
#include <anvil/syscalls.h>
#include "catch.h"
#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

using Catch::Matchers::ContainsSubstring;

namespace {

using TraceBytes = std::vector<uint8_t>;

uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }

void put_varint(TraceBytes* out, uint64_t v) {
    while (v >= 0x80) {
        out->push_back(static_cast<uint8_t>(v | 0x80));
        v >>= 7;
    }
    out->push_back(static_cast<uint8_t>(v));
}

// Builds a trace in memory, record by record.
class TraceWriter {
public:
    TraceWriter() {
        std::memcpy(header_.magic, trace::kMagic, sizeof header_.magic);
        header_.version = trace::kVersion;
        header_.backend = static_cast<uint32_t>(trace::Backend::kSim);
        header_.build_id = 0x1234abcd5678ef00ull;
        header_.initramfs_hash = 0xfeedull;
        header_.initramfs_size = 4096;
        header_.seed = 7;
        header_.quantum = 10000;
        header_.slice_max = 1000;
        header_.memory_bytes = 64ull << 20;
        header_.cpus = 2;
        cmdline("tests=ipc.*");
    }
    TraceWriter& cmdline(const std::string& s) {
        cmdline_ = s;
        header_.cmdline_len = static_cast<uint32_t>(s.size());
        header_.header_size = static_cast<uint16_t>(fixed() + s.size());
        return *this;
    }
    // The fixed header's size in this writer's version (80 bytes before version 3, 88 before 5).
    size_t fixed() const {
        return header_.version < 3 ? trace::kHeaderSizeV2
               : header_.version < 5 ? trace::kHeaderSizeV4
                                     : sizeof header_;
    }
    trace::Header& header() { return header_; }

    // A record of `kind`; the field count must be the kind's.
    TraceWriter& rec(trace::Kind kind, std::initializer_list<uint64_t> fields) {
        REQUIRE(trace::kind_info(static_cast<uint8_t>(kind)).field_count == fields.size());
        kind_offsets_.push_back(records_.size());
        records_.push_back(static_cast<uint8_t>(kind));
        for (const uint64_t f : fields)
            put_varint(&records_, f);
        ++count_;
        return *this;
    }
    // A record of `kind` (input, faults) whose count field is followed by `bytes`.
    TraceWriter& bytes(trace::Kind kind, const std::string& bytes) {
        rec(kind, {bytes.size()});
        records_.insert(records_.end(), bytes.begin(), bytes.end());
        return *this;
    }
    TraceWriter& input(const std::string& text) { return bytes(trace::Kind::k_input, text); }

    // Version 1 (the bare record stream), 2 (chunks) or 3 (chunks, the header
    // with unicorn_version); chunks of at most `n` bytes.
    TraceWriter& version(uint16_t v) {
        header_.version = v;
        return cmdline(cmdline_);
    }
    TraceWriter& chunk(size_t n) {
        chunk_ = n;
        return *this;
    }

    TraceBytes header_bytes() const {
        TraceBytes b(fixed());
        std::memcpy(b.data(), &header_, b.size());
        b.insert(b.end(), cmdline_.begin(), cmdline_.end());
        return b;
    }
    // The record stream with the end record the kernel would write.
    TraceBytes stream(int code = 0) const {
        TraceBytes b = records_;
        b.push_back(static_cast<uint8_t>(trace::Kind::k_end));
        put_varint(&b, zigzag(code));
        put_varint(&b, count_);
        put_varint(&b, trace::fnv1a(trace::kFnvOffset, records_.data(), records_.size()));
        return b;
    }
    // The file of a record stream: the header, then the stream (version 2: in chunks).
    TraceBytes file(const TraceBytes& stream) const {
        TraceBytes b = header_bytes();
        if (header_.version == trace::kVersionUnchunked) {
            b.insert(b.end(), stream.begin(), stream.end());
            return b;
        }
        uint64_t check = trace::kFnvOffset;
        for (size_t at = 0; at < stream.size(); at += chunk_) {
            const size_t n = std::min(chunk_, stream.size() - at);
            check = trace::fnv1a(check, stream.data() + at, n);
            uint8_t h[trace::kChunkHeaderSize];
            trace::put_le(h, n, 4);
            trace::put_le(h + 4, check, 8);
            trace::put_le(h + 12, trace::chunk_header_check(h), 4);
            b.insert(b.end(), h, h + sizeof h);
            b.insert(b.end(), stream.begin() + static_cast<long>(at), stream.begin() + static_cast<long>(at + n));
        }
        return b;
    }
    // Header, records and the end record the kernel would write.
    TraceBytes build(int code = 0) const { return file(stream(code)); }
    TraceBytes without_end() const { return file(records_); }
    // The file offset of stream byte `at` (version 2: after its chunk's header).
    size_t file_at(size_t at) const {
        const size_t chunks = header_.version == trace::kVersionUnchunked ? 0 : at / chunk_ + 1;
        return header_bytes().size() + chunks * trace::kChunkHeaderSize + at;
    }
    // File offsets of the kind bytes of the records added so far.
    std::vector<size_t> kind_offsets() const {
        std::vector<size_t> out;
        for (const size_t o : kind_offsets_)
            out.push_back(file_at(o));
        return out;
    }
    // File offsets just past each record, the end record included.
    std::vector<size_t> record_ends(int code = 0) const {
        std::vector<size_t> out;
        for (size_t i = 1; i < kind_offsets_.size(); ++i)
            out.push_back(file_at(kind_offsets_[i] - 1) + 1);
        if (!kind_offsets_.empty())
            out.push_back(file_at(records_.size() - 1) + 1);
        out.push_back(file_at(stream(code).size() - 1) + 1);
        return out;
    }
    uint64_t count() const { return count_; }
    const TraceBytes& records() const { return records_; }

private:
    trace::Header header_{};
    std::string cmdline_;
    TraceBytes records_;
    std::vector<size_t> kind_offsets_;
    uint64_t count_ = 0;
    size_t chunk_ = trace::kMaxChunk;
};

// A small run: boot, a call and its reply, a fault, an exit.
TraceWriter sample() {
    using K = trace::Kind;
    TraceWriter w;
    w.input("hi\n")
        .rec(K::k_sched, {1, 0, 7})
        .rec(K::k_slice, {1, 7, 120, 1})
        .rec(K::k_syscall, {1, 7, ANVIL_SYS_ipc_call, 0x4, 0x7000, 0x7100, 0, 0, 0, 0})
        .rec(K::k_ipc, {13, 7, 9, 0x2, 24, 1})
        .rec(K::k_sched, {1, 7, 9})
        .rec(K::k_wake, {9, zigzag(ANVIL_OK), 0x2})
        .rec(K::k_slice, {1, 9, 300000, 3})
        .rec(K::k_timer, {1})
        .rec(K::k_steal, {0, 1, 9})
        .rec(K::k_sysret, {0, 9, zigzag(ANVIL_ERR_NOT_FOUND), 0, 0})
        .rec(K::k_fault, {0, 9, 1, 2, 0xdeadbeef000ull})
        .rec(K::k_irq, {0, 4})
        .rec(K::k_digest, {13, 1000, 42, 0x5555aaaa5555aaaaull})
        .rec(K::k_exit, {9, zigzag(-3)})
        .rec(K::k_syscall, {0, 7, 9999, 1, 2, 0, 0, 0, 0, 0});
    return w;
}

struct Outcome {
    bool parsed = false;
    bool valid = false;
    std::string error;
    replay::Summary summary;
};

Outcome check(const TraceBytes& bytes) {
    Outcome o;
    replay::Trace t;
    o.parsed = replay::parse(bytes, &t, &o.error);
    if (o.parsed)
        o.valid = replay::validate(t, &o.error, &o.summary);
    return o;
}

std::vector<replay::Record> records_of(const replay::Trace& t) {
    std::vector<replay::Record> out;
    uint64_t pos = t.records_begin;
    replay::Record r;
    std::string error;
    while (replay::next(t, &pos, &r, &error)) {
        r.index = out.size();
        out.push_back(r);
    }
    REQUIRE(error.empty());
    return out;
}

}  // namespace

TEST_CASE("trace reader: a well-formed trace validates and decodes field by field") {
    const TraceWriter w = sample();
    const TraceBytes bytes = w.build(5);
    replay::Trace t;
    std::string error;
    REQUIRE(replay::parse(bytes, &t, &error));
    CHECK(t.cmdline == "tests=ipc.*");
    CHECK(t.records_begin == sizeof(trace::Header) + t.cmdline.size());
    replay::Summary summary;
    REQUIRE(replay::validate(t, &error, &summary));
    CHECK(error.empty());
    CHECK(summary.records == w.count());
    CHECK(summary.slices == 2);
    CHECK(summary.end_code == 5);

    const std::vector<replay::Record> rs = records_of(t);
    REQUIRE(rs.size() == w.count() + 1);
    CHECK(rs[0].k() == trace::Kind::k_input);
    CHECK(rs[0].input == TraceBytes{'h', 'i', '\n'});
    CHECK(rs[0].offset == t.records_begin);
    CHECK(rs[4].field("receiver") == 9);
    CHECK(rs[4].field("no_such_field", 77) == 77);
    CHECK(rs[7].field("blocks") == 300000);  // a three-byte varint
    CHECK(replay::Record::unzigzag(rs[14].field("code")) == -3);
    CHECK(rs.back().k() == trace::Kind::k_end);

    CHECK(replay::format(rs[0]) == "#0 input count=3 (3 bytes)");
    CHECK(replay::format(rs[1]) == "#1 sched cpu=1 from=0 to=7");
    CHECK(replay::format(rs[3]) == "#3 syscall cpu=1 thread=7 ipc_call ep=0x4 req=0x7000 reply=0x7100");
    CHECK(replay::format(rs[10]) == "#10 sysret cpu=0 thread=9 status=ANVIL_ERR_NOT_FOUND out0=0x0 out1=0x0");
    CHECK(replay::format(rs[14]) == "#14 exit thread=9 code=-3");
    CHECK_THAT(replay::format(rs[15]), ContainsSubstring("syscall#9999") && ContainsSubstring("a0=0x1 a1=0x2"));
    CHECK_THAT(replay::format(rs.back()), ContainsSubstring("end code=5 records=16 checksum=0x"));

    const std::string d = replay::describe(t);
    CHECK_THAT(d, ContainsSubstring("backend sim") && ContainsSubstring("2 cpu(s)") && ContainsSubstring("seed 7") &&
                      ContainsSubstring("build 1234abcd5678ef00") && ContainsSubstring("cmdline \"tests=ipc.*\""));
}

TEST_CASE("trace reader: a version 1 trace cut at any byte is refused as truncated, never a crash") {
    const TraceBytes whole = sample().version(trace::kVersionUnchunked).build();
    for (size_t len = 0; len < whole.size(); ++len) {
        INFO("cut to " << len << " of " << whole.size() << " bytes");
        const Outcome o = check(TraceBytes(whole.begin(), whole.begin() + static_cast<long>(len)));
        CHECK_FALSE(o.valid);
        if (len < sizeof trace::kMagic)
            CHECK_THAT(o.error, ContainsSubstring("not an Anvil trace"));
        else
            CHECK_THAT(o.error, ContainsSubstring("truncated trace"));
    }
    CHECK(check(whole).valid);
}

TEST_CASE("trace reader: a trace cut at any byte keeps every complete record") {
    // Chunks of 7 bytes put cuts in chunk headers and payloads alike; one chunk
    // for the whole stream, as a small run writes it, cuts only payloads.
    for (const size_t chunk : {size_t{7}, size_t{trace::kMaxChunk}}) {
        TraceWriter w = sample();
        w.chunk(chunk);
        const TraceBytes whole = w.build(5);
        const std::vector<size_t> ends = w.record_ends(5);
        const std::vector<replay::Record> all = [&] {
            replay::Trace t;
            std::string error;
            REQUIRE(replay::parse(whole, &t, &error));
            return records_of(t);
        }();
        const size_t header = w.header_bytes().size();
        for (size_t len = 0; len < whole.size(); ++len) {
            INFO("chunks of " << chunk << ", cut to " << len << " of " << whole.size() << " bytes");
            replay::Trace t;
            std::string error;
            const bool parsed = replay::parse(TraceBytes(whole.begin(), whole.begin() + static_cast<long>(len)), &t,
                                              &error);
            if (len < header) {
                CHECK_FALSE(parsed);
                CHECK_THAT(error, ContainsSubstring(len < sizeof trace::kMagic ? "not an Anvil trace"
                                                                                : "truncated trace"));
                continue;
            }
            REQUIRE(parsed);
            replay::Summary summary;
            REQUIRE(replay::validate(t, &error, &summary));
            // The records that end at or before the cut, the end record aside.
            const size_t complete = static_cast<size_t>(
                std::upper_bound(ends.begin(), ends.end() - 1, len) - ends.begin());
            CHECK(summary.cut);
            CHECK(t.cut);
            CHECK(summary.records == complete);
            CHECK(t.cut_records == complete);
            CHECK(t.cut_at == (complete ? ends[complete - 1] : header));
            CHECK_THAT(t.cut_text(), ContainsSubstring(fmt::format("cut short after {} records (they end at byte {} "
                                                                   "of {})",
                                                                   complete, t.cut_at, len)));
            const std::vector<replay::Record> got = records_of(t);
            REQUIRE(got.size() == complete);
            for (size_t i = 0; i < complete; ++i)
                CHECK(replay::format(got[i]) == replay::format(all[i]));
        }
        const Outcome o = check(whole);
        CHECK((o.valid && !o.summary.cut && o.summary.end_code == 5));
    }
}

TEST_CASE("trace reader: a changed byte before the cut is refused, naming its chunk") {
    TraceWriter w = sample();
    w.chunk(16);
    const TraceBytes whole = w.build();
    const size_t header = w.header_bytes().size();
    const size_t per_chunk = trace::kChunkHeaderSize + 16;
    // Cut in the middle of the fourth chunk's payload: the first three check,
    // the fourth's header too; its payload is what a cut left (unchecked).
    const size_t len = header + 3 * per_chunk + trace::kChunkHeaderSize + 5;
    REQUIRE(len < whole.size());
    REQUIRE(check(TraceBytes(whole.begin(), whole.begin() + static_cast<long>(len))).summary.cut);
    for (size_t at = header; at < len - 5; ++at) {
        for (const uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}}) {
            TraceBytes b(whole.begin(), whole.begin() + static_cast<long>(len));
            b[at] ^= flip;
            INFO("byte " << at << " ^ 0x" << std::hex << unsigned{flip});
            const Outcome o = check(b);
            REQUIRE(o.parsed);
            CHECK_FALSE(o.valid);
            const size_t chunk_at = header + (at - header) / per_chunk * per_chunk;
            const bool in_header = at - chunk_at < trace::kChunkHeaderSize;
            if (in_header)
                CHECK_THAT(o.error, ContainsSubstring(fmt::format("corrupt trace: the chunk header at byte {} is "
                                                                  "damaged",
                                                                  chunk_at)));
            else
                CHECK_THAT(o.error, ContainsSubstring(fmt::format("corrupt trace: the chunk at byte {} (16 bytes) "
                                                                  "does not match its checksum",
                                                                  chunk_at)));
        }
    }
    // Chunks moved: each checks alone, the running checksum does not.
    TraceBytes swapped = whole;
    std::swap_ranges(swapped.begin() + static_cast<long>(header),
                     swapped.begin() + static_cast<long>(header + per_chunk),
                     swapped.begin() + static_cast<long>(header + per_chunk));
    CHECK_THAT(check(swapped).error, ContainsSubstring(fmt::format("the chunk at byte {} (16 bytes) does not match",
                                                                   header)));
}

TEST_CASE("trace reader: a changed byte in a version 1 record stream is caught") {
    TraceWriter w = sample();
    w.version(trace::kVersionUnchunked);
    const TraceBytes whole = w.build();
    const std::vector<size_t> kinds = w.kind_offsets();
    const size_t begin = w.header_bytes().size();
    // Every byte before the end record, with its low bit and its high bit flipped.
    const size_t stream_end = w.without_end().size();
    for (size_t at = begin; at < stream_end; ++at) {
        for (const uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}}) {
            TraceBytes b = whole;
            b[at] ^= flip;
            INFO("byte " << at << " ^ 0x" << std::hex << unsigned{flip});
            const Outcome o = check(b);
            REQUIRE(o.parsed);
            CHECK_FALSE(o.valid);
            CHECK_THAT(o.error, ContainsSubstring("checksum mismatch") || ContainsSubstring("corrupt") ||
                                    ContainsSubstring("truncated"));
            // A changed number that keeps the record layout: only the checksum can tell.
            const bool is_kind = std::find(kinds.begin(), kinds.end(), at) != kinds.end();
            const bool is_input_count = at == kinds[0] + 1;  // sample() starts with an input record
            if (flip == 0x01 && !is_kind && !is_input_count)
                CHECK_THAT(o.error, ContainsSubstring("checksum mismatch"));
        }
    }
}

TEST_CASE("trace reader: the end record must be last and count every record") {
    TraceWriter w = sample();
    TraceBytes b = w.build();
    b.push_back(0x09);  // a timer record after the end
    CHECK_THAT(check(b).error, ContainsSubstring("1 bytes after the end record"));

    b = w.build();
    b.push_back(0x09);  // ... and a chunk after it
    b.resize(b.size() + trace::kChunkHeaderSize);
    CHECK_THAT(check(b).error, ContainsSubstring("corrupt trace: the chunk header at byte"));

    // An end record whose count is off by one (checksum right for the bytes).
    TraceBytes st = w.records();
    st.push_back(static_cast<uint8_t>(trace::Kind::k_end));
    put_varint(&st, 0);
    put_varint(&st, w.count() + 1);
    put_varint(&st, trace::fnv1a(trace::kFnvOffset, w.records().data(), w.records().size()));
    CHECK_THAT(check(w.file(st)).error, ContainsSubstring("the end record counts 17 records, the file has 16"));

    // No end record: cut short (version 2), truncated (version 1).
    const Outcome cut = check(w.without_end());
    CHECK(cut.valid);
    CHECK(cut.summary.cut);
    CHECK(cut.summary.records == 16);
    TraceWriter v1 = sample();
    v1.version(trace::kVersionUnchunked);
    CHECK_THAT(check(v1.without_end()).error, ContainsSubstring("truncated trace: no end record after 16 records"));
    CHECK(check(TraceWriter().build()).valid);  // no records at all, just the end
    CHECK(check(v1.build()).valid);             // version 1 is still read
}

TEST_CASE("trace reader: user_at and fault_at are version 3 kinds") {
    TraceWriter w;
    w.rec(trace::Kind::k_user_at, {1, 32, 0x401000, 0x1234abcd});
    w.rec(trace::Kind::k_fault_at, {1, 32, 13, 0x12, 0x401002});
    const Outcome v3 = check(w.build());
    REQUIRE(v3.valid);
    replay::Trace t;
    std::string error;
    REQUIRE(replay::parse(w.build(), &t, &error));
    const std::vector<replay::Record> records = records_of(t);
    REQUIRE(records.size() >= 2);
    CHECK(records[0].field("rip") == 0x401000);
    CHECK(records[0].field("regs") == 0x1234abcd);
    CHECK(records[1].field("error") == 0x12);
    CHECK(replay::format(records[1]) == "#1 fault_at cpu=1 thread=32 vector=13 error=0x12 rip=0x401002");
    // A version 3 trace has no such kinds: the byte is an unknown kind there.
    w.version(trace::kVersionNoUserAt);
    CHECK_THAT(check(w.build()).error, ContainsSubstring("unknown record kind 15 at byte"));
}

TEST_CASE("trace reader: faults and inject are version 6 kinds, the faults record carries its spec") {
    TraceWriter w;
    const std::string spec = "kill=ioserver@37,irq-drop=10";
    w.bytes(trace::Kind::k_faults, spec);
    w.input("x");
    w.rec(trace::Kind::k_inject, {1, 25, 1});
    REQUIRE(check(w.build()).valid);
    replay::Trace t;
    std::string error;
    REQUIRE(replay::parse(w.build(), &t, &error));
    const std::vector<replay::Record> records = records_of(t);
    REQUIRE(records.size() >= 3);
    CHECK(records[0].k() == trace::Kind::k_faults);
    CHECK(std::string(records[0].input.begin(), records[0].input.end()) == spec);
    CHECK(records[1].input == std::vector<uint8_t>{'x'});
    CHECK(records[2].field("what") == 1);
    CHECK(replay::format(records[2]) == "#2 inject what=1 a=25 b=1");
    // A version 5 trace has no such kinds.
    w.version(trace::kVersionNoFaults);
    CHECK_THAT(check(w.build()).error, ContainsSubstring("unknown record kind 17 at byte"));
}

TEST_CASE("trace reader: malformed records name the problem and the byte") {
    TraceWriter w;
    TraceBytes b = {200};  // no such kind
    const size_t at = w.header_bytes().size() + trace::kChunkHeaderSize;
    CHECK_THAT(check(w.file(b)).error, ContainsSubstring(fmt::format("unknown record kind 200 at byte {}", at)));

    b = {static_cast<uint8_t>(trace::Kind::k_timer)};
    for (int i = 0; i < 10; ++i)
        b.push_back(0xff);  // a number longer than 64 bits
    b.push_back(0x01);
    CHECK_THAT(check(w.file(b)).error,
               ContainsSubstring("corrupt trace: bad number (over 64 bits) in the timer record"));

    b = {static_cast<uint8_t>(trace::Kind::k_input)};
    put_varint(&b, 1000);  // more bytes than the file holds: cut inside the input (version 2)
    b.push_back('x');
    const Outcome cut = check(w.file(b));
    CHECK((cut.valid && cut.summary.cut && cut.summary.records == 0));
    w.version(trace::kVersionUnchunked);
    CHECK_THAT(check(w.file(b)).error,
               ContainsSubstring("the input record at byte") && ContainsSubstring("announces 1000 bytes"));

    // The largest number a varint holds decodes exactly.
    TraceWriter big;
    big.rec(trace::Kind::k_fault, {0, 1, 0, 0, ~0ull});
    replay::Trace t;
    std::string error;
    REQUIRE(replay::parse(big.build(), &t, &error));
    REQUIRE(replay::validate(t, &error));
    CHECK(records_of(t)[0].field("addr") == ~0ull);
}

TEST_CASE("trace reader: headers that are not this format are refused") {
    TraceWriter w = sample();
    SECTION("wrong magic") {
        TraceBytes b = w.build();
        b[0] = 'X';
        CHECK_THAT(check(b).error, ContainsSubstring("not an Anvil trace (bad magic)"));
        CHECK_THAT(check(TraceBytes{'E', 'L', 'F'}).error, ContainsSubstring("not an Anvil trace: 3 bytes"));
    }
    SECTION("another format version") {
        w.header().version = trace::kVersion + 1;
        CHECK_THAT(check(w.build()).error,
                   ContainsSubstring(fmt::format("format version {} is not supported (this build reads versions 1 to {})",
                                                 trace::kVersion + 1, trace::kVersion)));
        w.header().version = 0;
        CHECK_THAT(check(w.build()).error, ContainsSubstring("format version 0 is not supported"));
    }
    SECTION("header size that does not match the command line") {
        w.header().header_size = sizeof(trace::Header) + 3;
        CHECK_THAT(check(w.build()).error,
                   ContainsSubstring(fmt::format("corrupt header: header size {}", sizeof(trace::Header) + 3)));
        w.header().header_size = 10;
        CHECK_THAT(check(w.build()).error, ContainsSubstring("corrupt header"));
    }
    SECTION("a command line longer than the file") {
        w.cmdline(std::string(2000, 'c'));
        TraceBytes b = w.header_bytes();
        b.resize(sizeof(trace::Header) + 100);
        CHECK_THAT(check(b).error, ContainsSubstring("truncated trace: the header's command line is cut off"));
    }
    SECTION("a command line over the limit") {
        w.header().cmdline_len = 0xffffffffu;
        CHECK_THAT(check(w.build()).error, ContainsSubstring("corrupt header"));
    }
    SECTION("unknown backend, no CPUs, too many CPUs") {
        w.header().backend = 9;
        CHECK_THAT(check(w.build()).error, ContainsSubstring("unknown backend 9"));
        w.header().backend = static_cast<uint32_t>(trace::Backend::kQemu);
        w.header().cpus = 0;
        CHECK_THAT(check(w.build()).error, ContainsSubstring("corrupt header: 0 CPUs"));
        w.header().cpus = 1000;
        CHECK_THAT(check(w.build()).error, ContainsSubstring("corrupt header: 1000 CPUs"));
    }
    SECTION("a QEMU trace is described without simulator settings") {
        w.header().backend = static_cast<uint32_t>(trace::Backend::kQemu);
        replay::Trace t;
        std::string error;
        REQUIRE(replay::parse(w.build(), &t, &error));
        CHECK_THAT(replay::describe(t), ContainsSubstring("backend qemu") && !ContainsSubstring("seed"));
    }
    SECTION("control bytes in the command line are escaped when described") {
        w.cmdline(std::string("a\x1b[2Jb\"", 7));
        replay::Trace t;
        std::string error;
        REQUIRE(replay::parse(w.build(), &t, &error));
        CHECK_THAT(replay::describe(t), ContainsSubstring("cmdline \"a\\x1b[2Jb\\\"\""));
    }
}

TEST_CASE("trace reader: check_build names both builds when they differ") {
    replay::Trace t;
    std::string error;
    REQUIRE(replay::parse(sample().build(), &t, &error));
    CHECK(replay::check_build(t, 0x1234abcd5678ef00ull).empty());
    const std::string why = replay::check_build(t, 0x42);
    CHECK_THAT(why, ContainsSubstring("recorded by kernel build 1234abcd5678ef00") &&
                        ContainsSubstring("this is build 0000000000000042") &&
                        ContainsSubstring("same kernel sources"));
}

TEST_CASE("trace reader: 20,000 random inputs are refused or read, never a crash") {
    std::mt19937_64 rng(0x616e76696c);  // fixed: a failure is reproducible
    const TraceBytes valid = sample().build();
    const TraceBytes header = TraceWriter().header_bytes();
    auto below = [&](uint64_t n) { return rng() % n; };
    uint64_t parsed = 0, validated = 0, decoded = 0;
    for (int i = 0; i < 20000; ++i) {
        TraceBytes b;
        const size_t len = below(401);
        if (i % 2 == 0) {
            // A valid header, then either random bytes or a real record stream with a few bytes changed.
            b = header;
            if (below(2) == 0) {
                for (size_t j = 0; j < len; ++j)
                    b.push_back(below(4) == 0 ? static_cast<uint8_t>(1 + below(14)) : static_cast<uint8_t>(rng()));
            } else {
                b = valid;
                for (uint64_t n = below(4); n > 0; --n)
                    b[header.size() + below(b.size() - header.size())] = static_cast<uint8_t>(rng());
                b.resize(std::min(b.size(), header.size() + len));
            }
        } else {
            for (size_t j = 0; j < len; ++j)
                b.push_back(static_cast<uint8_t>(rng()));
            if (len >= 8 && below(2) == 0)
                std::memcpy(b.data(), trace::kMagic, sizeof trace::kMagic);
        }

        replay::Trace t;
        std::string error;
        if (!replay::parse(b, &t, &error)) {
            REQUIRE_FALSE(error.empty());
            continue;
        }
        ++parsed;
        CHECK_FALSE(replay::describe(t).empty());
        error.clear();
        if (replay::validate(t, &error))
            ++validated;
        else
            REQUIRE_FALSE(error.empty());
        uint64_t pos = t.records_begin, n = 0;
        replay::Record r;
        error.clear();
        while (replay::next(t, &pos, &r, &error)) {
            r.index = n++;
            REQUIRE(pos <= t.bytes.size());
            REQUIRE_FALSE(replay::format(r).empty());
            REQUIRE(n <= t.bytes.size());  // every record takes at least one byte
        }
        if (error.empty())
            REQUIRE(pos >= t.bytes.size());  // stopped only at the end of the data
        decoded += n;
    }
    // The generator reaches every stage of the reader.
    CHECK(parsed > 5000);
    CHECK(validated > 0);
    CHECK(decoded > 10000);
}

TEST_CASE("trace reader: a version 2 trace (80-byte header, no Unicorn version) still reads") {
    TraceWriter w = sample();
    w.version(trace::kVersionChunked);
    const TraceBytes b = w.build(5);
    REQUIRE(b.size() > trace::kHeaderSizeV2);
    replay::Trace t;
    std::string error;
    REQUIRE(replay::parse(b, &t, &error));
    REQUIRE(replay::validate(t, &error));
    CHECK(t.records_begin == trace::kHeaderSizeV2 + t.cmdline.size());
    CHECK(t.cmdline == "tests=ipc.*");
    CHECK(t.header.unicorn_version == 0);
    CHECK(records_of(t).size() == 17);
    CHECK_THAT(replay::describe(t), ContainsSubstring("format version 2") && !ContainsSubstring("Unicorn"));
}

TEST_CASE("trace reader: a version 3 header names the Unicorn version that recorded it") {
    TraceWriter w = sample();
    w.header().unicorn_version = 0x020001ff;  // uc_version() of 2.0.1
    replay::Trace t;
    std::string error;
    REQUIRE(replay::parse(w.build(), &t, &error));
    CHECK(t.header.unicorn_version == 0x020001ff);
    CHECK(t.records_begin == sizeof(trace::Header) + t.cmdline.size());
    CHECK_THAT(replay::describe(t), ContainsSubstring(", Unicorn 2.0.1"));
    CHECK(replay::unicorn_version_text(0x02010403) == "2.1.4-rc3");
}

TEST_CASE("trace reader: a version 4 header (88 bytes, no schedule) reads as the random schedule") {
    TraceWriter w = sample();
    w.version(trace::kVersionNoSchedule);
    replay::Trace t;
    std::string error;
    REQUIRE(replay::parse(w.build(), &t, &error));
    REQUIRE(replay::validate(t, &error));
    CHECK(t.records_begin == trace::kHeaderSizeV4 + t.cmdline.size());
    CHECK(t.header.schedule == static_cast<uint32_t>(trace::Schedule::kRandom));
    CHECK_THAT(replay::describe(t), ContainsSubstring("schedule random") && ContainsSubstring("format version 4"));
}

TEST_CASE("trace reader: a version 5 header names the schedule and its parameters") {
    TraceWriter w = sample();
    w.header().schedule = static_cast<uint32_t>(trace::Schedule::kPct);
    w.header().pct_depth = 3;
    w.header().pct_steps = 500;
    replay::Trace t;
    std::string error;
    REQUIRE(replay::parse(w.build(), &t, &error));
    CHECK(t.records_begin == sizeof(trace::Header) + t.cmdline.size());
    CHECK_THAT(replay::describe(t), ContainsSubstring("schedule pct (depth 3, 500 steps)"));
    w.header().pct_depth = 0;
    CHECK_THAT(check(w.build()).error, ContainsSubstring("corrupt header: schedule pct with depth 0 and 500 steps"));
    w.header().schedule = 7;
    CHECK_THAT(check(w.build()).error, ContainsSubstring("corrupt header: unknown schedule 7"));
}

TEST_CASE("trace reader: a QEMU header says its user code was serialized, a simulator header cannot") {
    TraceWriter w = sample();
    w.header().backend = static_cast<uint32_t>(trace::Backend::kQemu);
    w.header().schedule = static_cast<uint32_t>(trace::Schedule::kSerialized);
    replay::Trace t;
    std::string error;
    REQUIRE(replay::parse(w.build(), &t, &error));
    CHECK(replay::validate(t, &error));
    CHECK_THAT(replay::describe(t), ContainsSubstring("backend qemu") &&
                                        ContainsSubstring("one CPU at a time in user code"));
    // A QEMU trace of a kernel before serialized recording says nothing of it.
    w.header().schedule = static_cast<uint32_t>(trace::Schedule::kRandom);
    REQUIRE(replay::parse(w.build(), &t, &error));
    CHECK_THAT(replay::describe(t), !ContainsSubstring("one CPU at a time"));
    w.header().backend = static_cast<uint32_t>(trace::Backend::kSim);
    w.header().schedule = static_cast<uint32_t>(trace::Schedule::kSerialized);
    CHECK_THAT(check(w.build()).error,
               ContainsSubstring("corrupt header: schedule serialized in a simulator trace"));
}

namespace {

// A simulator trace whose header names `initramfs`, packed with it.
replay::Pack sample_pack(const TraceBytes& initramfs, bool qemu = false) {
    TraceWriter w = sample();
    w.header().initramfs_hash = trace::fnv1a(trace::kFnvOffset, initramfs.data(), initramfs.size());
    w.header().initramfs_size = initramfs.size();
    if (qemu)
        w.header().backend = static_cast<uint32_t>(trace::Backend::kQemu);
    replay::Pack p;
    p.trace = w.build(3);
    p.initramfs = initramfs;
    if (qemu)
        p.kernel = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    return p;
}

// What reading `bytes` as a pack gives: the error of unpack, or of attach.
std::string pack_error(const TraceBytes& bytes) {
    replay::Pack p;
    std::string error;
    if (!replay::unpack(bytes, &p, &error))
        return error;
    replay::Trace t;
    REQUIRE(replay::parse(p.trace, &t, &error));
    return replay::attach(std::move(p), &t, &error) ? "" : error;
}

}  // namespace

TEST_CASE("trace pack: load reads a pack as its trace, with the initramfs (and a QEMU trace's kernel)") {
    const TraceBytes initramfs(3000, 0x5a);
    for (const bool qemu : {false, true}) {
        INFO((qemu ? "QEMU" : "simulator") << " trace");
        const replay::Pack p = sample_pack(initramfs, qemu);
        const TraceBytes file = replay::write_pack(p);
        CHECK(replay::is_pack(file));
        const std::string path =
            (std::filesystem::temp_directory_path() / fmt::format("anvil-pack-test-{}.apack", qemu)).string();
        std::FILE* f = std::fopen(path.c_str(), "wb");
        REQUIRE(f);
        REQUIRE(std::fwrite(file.data(), 1, file.size(), f) == file.size());
        std::fclose(f);
        replay::Trace packed, plain;
        std::string error;
        const bool loaded = replay::load(path, &packed, &error);
        std::remove(path.c_str());
        REQUIRE(loaded);
        REQUIRE(replay::parse(p.trace, &plain, &error));
        CHECK(packed.bytes == plain.bytes);
        CHECK(packed.packed_initramfs == initramfs);
        CHECK(packed.packed_kernel == p.kernel);
        replay::Summary summary;
        REQUIRE(replay::validate(packed, &error, &summary));
        CHECK(summary.records == 16);
        CHECK(summary.end_code == 3);
    }
}

TEST_CASE("trace pack: malformed packs are refused, naming the problem") {
    const TraceBytes initramfs(100, 0x33);
    const TraceBytes good = replay::write_pack(sample_pack(initramfs));
    REQUIRE(pack_error(good).empty());
    // The first member header starts at kPackHeaderSize; its size field at +4.
    const size_t member = replay::kPackHeaderSize;
    const size_t trace_size = sample_pack(initramfs).trace.size();
    const size_t second = member + replay::kPackMemberHeaderSize + trace_size;
    auto with = [&](size_t at, std::initializer_list<uint8_t> bytes) {
        TraceBytes b = good;
        std::copy(bytes.begin(), bytes.end(), b.begin() + static_cast<long>(at));
        return b;
    };
    CHECK_THAT(pack_error(with(0, {'X'})), ContainsSubstring("not an Anvil trace pack (bad magic)"));
    CHECK_THAT(pack_error(TraceBytes(good.begin(), good.begin() + 10)), ContainsSubstring("truncated pack: only 10 bytes"));
    CHECK_THAT(pack_error(with(8, {2, 0})), ContainsSubstring("pack format version 2 is not supported"));
    CHECK_THAT(pack_error(with(10, {1, 0})), ContainsSubstring("corrupt pack: 1 members"));
    CHECK_THAT(pack_error(with(10, {3, 0})), ContainsSubstring("truncated pack: member 3 of 3 at byte"));
    CHECK_THAT(pack_error(with(member, {9})), ContainsSubstring("unknown member kind 9 at byte 12"));
    CHECK_THAT(pack_error(with(second, {1})), ContainsSubstring("a second trace at byte"));
    CHECK_THAT(pack_error(with(second, {3})), ContainsSubstring("corrupt pack: it has no initramfs"));
    CHECK_THAT(pack_error(with(member + 4, {0, 0, 0, 0})), ContainsSubstring("corrupt pack: the trace at byte 12 announces 0 bytes"));
    CHECK_THAT(pack_error(with(member + 11, {1})), ContainsSubstring("truncated pack: the trace at byte 12 announces"));
    CHECK_THAT(pack_error(with(member + replay::kPackMemberHeaderSize + 5, {0xee})),
               ContainsSubstring("corrupt pack: the trace at byte 12") && ContainsSubstring("does not match its checksum"));
    TraceBytes longer = good;
    longer.push_back(0);
    CHECK_THAT(pack_error(longer), ContainsSubstring("corrupt pack: 1 bytes after its last member"));
    // Members that do not belong together.
    replay::Pack other = sample_pack(initramfs);
    other.initramfs.back() ^= 1;
    CHECK_THAT(pack_error(replay::write_pack(other)), ContainsSubstring("the pack's initramfs") &&
                                                           ContainsSubstring("is not the one its trace names"));
    replay::Pack qemu = sample_pack(initramfs, true);
    qemu.kernel.clear();
    CHECK_THAT(pack_error(replay::write_pack(qemu)), ContainsSubstring("a QEMU trace but not the kernel ELF"));
    replay::Pack sim = sample_pack(initramfs);
    sim.kernel = {0x7f, 'E', 'L', 'F'};
    CHECK_THAT(pack_error(replay::write_pack(sim)), ContainsSubstring("a simulator trace and a kernel ELF"));
}

TEST_CASE("trace pack: a pack cut at any byte is refused, never a crash") {
    const TraceBytes good = replay::write_pack(sample_pack(TraceBytes(64, 1), true));
    for (size_t len = 0; len < good.size(); ++len) {
        INFO("cut to " << len << " of " << good.size() << " bytes");
        const std::string error = pack_error(TraceBytes(good.begin(), good.begin() + static_cast<long>(len)));
        CHECK_FALSE(error.empty());
    }
}
