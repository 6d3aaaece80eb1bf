// Host tests of the initramfs reader (kernel/boot/cpio).
#include "kernel/introspect.h"

#include "builders.h"

#include "catch.h"

#include <string>

using namespace anvil_test;
using Catch::Matchers::ContainsSubstring;
using kernel::Status;
using kernel::cpio::Entry;
using kernel::cpio::Reader;

namespace {

constexpr Status kOk = ANVIL_OK;
constexpr Status kNotFound = ANVIL_ERR_NOT_FOUND;
constexpr Status kInvalid = ANVIL_ERR_INVALID_ARG;

std::string contents(const Entry& e) { return std::string(reinterpret_cast<const char*>(e.data), e.size); }

// Reads members until next() stops; returns its final status and error text.
struct Outcome {
    Status status;
    std::string error;
    size_t members;
};

Outcome read_all(const Bytes& archive) {
    const Exact buf(archive);
    Reader r(buf.data(), buf.size());
    Entry e;
    size_t n = 0;
    for (;;) {
        const Status s = r.next(&e);
        if (s != kOk)
            return {s, r.error(), n};
        ++n;
    }
}

CpioMember member(std::string name, std::string data = {}) {
    CpioMember m;
    m.name = std::move(name);
    m.data = std::move(data);
    return m;
}

}  // namespace

// ---------------------------------------------------------------- valid archives

TEST_CASE("cpio: members are read in order with exact contents") {
    const std::string bin("\x7f" "ELF\0\x01\xff", 7);
    const Bytes archive = CpioWriter()
                              .add("init", bin, 0100755)
                              .add("etc", {}, 040755)
                              .add("etc/motd", "hello")
                              .add("data", "12345678")
                              .trailer()
                              .bytes();
    const Exact buf(archive);
    Reader r(buf.data(), buf.size());
    CHECK(std::string(r.error()).empty());

    struct Want {
        const char* name;
        std::string data;
        uint32_t mode;
    };
    const Want want[] = {{"init", bin, 0100755}, {"etc", "", 040755}, {"etc/motd", "hello", 0100644},
                         {"data", "12345678", 0100644}};
    for (const Want& w : want) {
        Entry e{};
        REQUIRE(r.next(&e) == kOk);
        CHECK(std::string(e.name) == w.name);
        CHECK(e.size == w.data.size());
        CHECK(contents(e) == w.data);
        CHECK(e.mode == w.mode);
        CHECK(e.data >= buf.data());
        CHECK(e.data + e.size <= buf.data() + buf.size());
        CHECK((e.data - buf.data()) % 4 == 0);
    }
    Entry e{};
    CHECK(r.next(&e) == kNotFound);
    CHECK(r.next(&e) == kNotFound);
    CHECK(std::string(r.error()).empty());
}

TEST_CASE("cpio: an empty file member has size zero") {
    const Bytes archive = CpioWriter().add("empty", "").add("after", "xyz").trailer().bytes();
    const Exact buf(archive);
    Reader r(buf.data(), buf.size());
    Entry e{};
    REQUIRE(r.next(&e) == kOk);
    CHECK(std::string(e.name) == "empty");
    CHECK(e.size == 0);
    REQUIRE(r.next(&e) == kOk);
    CHECK(std::string(e.name) == "after");
    CHECK(contents(e) == "xyz");
    CHECK(r.next(&e) == kNotFound);
}

TEST_CASE("cpio: uppercase hex fields are accepted") {
    CpioMember m = member("init", std::string(0xab, 'z'));
    m.upper_hex = true;
    const Bytes archive = CpioWriter().add(m).trailer().bytes();
    const Exact buf(archive);
    Entry e{};
    REQUIRE(kernel::cpio::find(buf.data(), buf.size(), "init", &e, nullptr) == kOk);
    CHECK(e.size == 0xab);
    CHECK(contents(e) == std::string(0xab, 'z'));
}

TEST_CASE("cpio: find accepts the ./name form") {
    const Bytes archive = CpioWriter().add(".", {}, 040755).add("./bin/sh", "sh").add("./init", "INIT").trailer().bytes();
    const Exact buf(archive);
    Entry e{};
    const char* error = "untouched";
    REQUIRE(kernel::cpio::find(buf.data(), buf.size(), "init", &e, &error) == kOk);
    CHECK(std::string(e.name) == "./init");
    CHECK(contents(e) == "INIT");
    REQUIRE(kernel::cpio::find(buf.data(), buf.size(), "bin/sh", &e, &error) == kOk);
    CHECK(contents(e) == "sh");
    CHECK(std::string(error) == "untouched");
}

TEST_CASE("cpio: find returns the first of several members") {
    const Bytes archive = CpioWriter().add("a", "1").add("init", "first").add("b", "2").trailer().bytes();
    const Exact buf(archive);
    Entry e{};
    REQUIRE(kernel::cpio::find(buf.data(), buf.size(), "init", &e, nullptr) == kOk);
    CHECK(contents(e) == "first");
    REQUIRE(kernel::cpio::find(buf.data(), buf.size(), "b", &e, nullptr) == kOk);
    CHECK(contents(e) == "2");
}

TEST_CASE("cpio: find returns NOT_FOUND for a missing name") {
    const Bytes archive = CpioWriter().add("init", "x").add("init2", "y").trailer().bytes();
    const Exact buf(archive);
    Entry e{};
    const char* error = "untouched";
    CHECK(kernel::cpio::find(buf.data(), buf.size(), "ini", &e, &error) == kNotFound);
    CHECK(kernel::cpio::find(buf.data(), buf.size(), "init3", &e, &error) == kNotFound);
    CHECK(kernel::cpio::find(buf.data(), buf.size(), "", &e, &error) == kNotFound);
    CHECK(kernel::cpio::find(buf.data(), buf.size(), "TRAILER!!!", &e, &error) == kNotFound);
    CHECK(std::string(error) == "untouched");
}

TEST_CASE("cpio: the trailer stops iteration") {
    // Members and even garbage after the trailer are never looked at.
    const Bytes archive = CpioWriter().add("a", "1").trailer().add("hidden", "h").raw("garbage!").bytes();
    const Outcome o = read_all(archive);
    CHECK(o.status == kNotFound);
    CHECK(o.members == 1);
    const Exact buf(archive);
    Entry e{};
    CHECK(kernel::cpio::find(buf.data(), buf.size(), "hidden", &e, nullptr) == kNotFound);
}

TEST_CASE("cpio: an archive holding only the trailer is empty") {
    const Outcome o = read_all(CpioWriter().trailer().bytes());
    CHECK(o.status == kNotFound);
    CHECK(o.members == 0);
}

// ---------------------------------------------------------------- malformed archives

TEST_CASE("cpio: empty buffer is rejected") {
    Reader r(nullptr, 0);
    Entry e{};
    CHECK(r.next(&e) == kInvalid);
    CHECK_THAT(r.error(), ContainsSubstring("shorter than one header"));

    const Exact one(reinterpret_cast<const uint8_t*>("0"), 1);
    const char* error = nullptr;
    CHECK(kernel::cpio::find(one.data(), one.size(), "init", &e, &error) == kInvalid);
    REQUIRE(error != nullptr);
    CHECK_THAT(error, ContainsSubstring("shorter than one header"));
}

TEST_CASE("cpio: truncated header is rejected") {
    const Bytes full = CpioWriter().add("init", "abcd").trailer().bytes();
    const size_t first_end = 120;  // header, "init\0" padded to 4, data
    SECTION("inside the first header") {
        for (size_t len = 1; len < 110; ++len) {
            const Outcome o = read_all(Bytes(full.begin(), full.begin() + len));
            INFO("length " << len);
            CHECK(o.status == kInvalid);
            CHECK_THAT(o.error, ContainsSubstring("shorter than one header"));
        }
    }
    SECTION("inside the second header") {
        for (size_t len = first_end; len < first_end + 110; ++len) {
            const Outcome o = read_all(Bytes(full.begin(), full.begin() + len));
            INFO("length " << len);
            CHECK(o.status == kInvalid);
            CHECK(o.members == 1);
            CHECK_THAT(o.error, ContainsSubstring("truncated header"));
        }
    }
}

TEST_CASE("cpio: bad magic is rejected") {
    const char* magic = GENERATE("070707", "070702", "070700", "707010", "\0\0\0\0\0\0");
    CpioMember bad = member("init", "x");
    bad.magic = std::string(magic, 6);
    SECTION("first member") {
        const Outcome o = read_all(CpioWriter().add(bad).trailer().bytes());
        CHECK(o.status == kInvalid);
        CHECK(o.members == 0);
        CHECK_THAT(o.error, ContainsSubstring("bad magic"));
    }
    SECTION("later member") {
        const Outcome o = read_all(CpioWriter().add("ok", "y").add(bad).trailer().bytes());
        CHECK(o.status == kInvalid);
        CHECK(o.members == 1);
        CHECK_THAT(o.error, ContainsSubstring("bad magic"));
    }
}

TEST_CASE("cpio: non-hex header field is rejected") {
    const size_t index = GENERATE(range<size_t>(0, kCpioFieldCount));
    const std::string text =
        GENERATE(as<std::string>{}, "0000000g", "0000 001", "-0000001", "0x000001", std::string("0000000\0", 8));
    CpioMember m = member("init", "x");
    m.field_text[index] = text;
    INFO("field " << index);
    const Outcome o = read_all(CpioWriter().add(m).trailer().bytes());
    CHECK(o.status == kInvalid);
    CHECK_THAT(o.error, ContainsSubstring("not hexadecimal"));
}

TEST_CASE("cpio: namesize 0 is rejected") {
    CpioMember m = member("init", "x");
    m.field_text[kNameSize] = hex8(0);
    const Outcome o = read_all(CpioWriter().add(m).trailer().bytes());
    CHECK(o.status == kInvalid);
    CHECK_THAT(o.error, ContainsSubstring("empty name"));
}

TEST_CASE("cpio: name running past the end is rejected") {
    SECTION("huge namesize") {
        CpioMember m = member("init", "x");
        m.field_text[kNameSize] = hex8(0xffffffff);
        const Outcome o = read_all(CpioWriter().add(m).trailer().bytes());
        CHECK(o.status == kInvalid);
        CHECK_THAT(o.error, ContainsSubstring("name runs past the end"));
    }
    SECTION("archive cut inside the name") {
        const Bytes full = CpioWriter().add("a-long-member-name", "x").trailer().bytes();
        for (size_t len = 110; len < 110 + 19; ++len) {
            INFO("length " << len);
            const Outcome o = read_all(Bytes(full.begin(), full.begin() + len));
            CHECK(o.status == kInvalid);
            CHECK_THAT(o.error, ContainsSubstring("name runs past the end"));
        }
    }
}

TEST_CASE("cpio: name without NUL at namesize is rejected") {
    CpioMember m = member("init", "x");
    SECTION("no NUL at all") { m.raw_name = "init"; }
    SECTION("namesize one short of the NUL") {
        m.field_text[kNameSize] = hex8(4);
    }
    SECTION("NUL inside the name") { m.raw_name = std::string("in\0it\0", 6); }
    const Outcome o = read_all(CpioWriter().add(m).trailer().bytes());
    CHECK(o.status == kInvalid);
    CHECK(o.members == 0);
    CHECK_THAT(o.error, ContainsSubstring("not NUL-terminated"));
}

TEST_CASE("cpio: data past the end is rejected") {
    SECTION("filesize larger than the rest of the archive") {
        CpioMember m = member("init", "abcd");
        m.field_text[kFileSize] = hex8(0x1000);
        const Outcome o = read_all(CpioWriter().add(m).trailer().bytes());
        CHECK(o.status == kInvalid);
        CHECK_THAT(o.error, ContainsSubstring("data runs past the end"));
    }
    SECTION("filesize 0xffffffff") {
        CpioMember m = member("init", "abcd");
        m.field_text[kFileSize] = hex8(0xffffffff);
        const Outcome o = read_all(CpioWriter().add(m).trailer().bytes());
        CHECK(o.status == kInvalid);
        CHECK_THAT(o.error, ContainsSubstring("data runs past the end"));
    }
    SECTION("archive cut inside the data") {
        const Bytes full = CpioWriter().add("init", std::string(64, 'd')).bytes();
        const size_t data_start = 116;  // header, "init\0" padded to 4
        for (size_t len = data_start; len < data_start + 64; ++len) {
            INFO("length " << len);
            const Outcome o = read_all(Bytes(full.begin(), full.begin() + len));
            CHECK(o.status == kInvalid);
            CHECK_THAT(o.error, ContainsSubstring("data runs past the end"));
        }
    }
}

TEST_CASE("cpio: missing trailer is rejected") {
    const Bytes archive = CpioWriter().add("a", "1").add("b", "22").bytes();
    const Outcome o = read_all(archive);
    CHECK(o.status == kInvalid);
    CHECK(o.members == 2);
    CHECK_THAT(o.error, ContainsSubstring("without a TRAILER!!! entry"));

    const Exact buf(archive);
    Entry e{};
    const char* error = nullptr;
    CHECK(kernel::cpio::find(buf.data(), buf.size(), "c", &e, &error) == kInvalid);
    REQUIRE(error != nullptr);
    CHECK_THAT(error, ContainsSubstring("without a TRAILER"));
    CHECK(kernel::cpio::find(buf.data(), buf.size(), "c", &e, nullptr) == kInvalid);
    // A member before the damage is still found.
    CHECK(kernel::cpio::find(buf.data(), buf.size(), "b", &e, nullptr) == kOk);
}

TEST_CASE("cpio: a failed read keeps failing") {
    CpioMember bad = member("b", "x");
    bad.magic = "070707";
    const Bytes archive = CpioWriter().add("a", "1").add(bad).trailer().bytes();
    const Exact buf(archive);
    Reader r(buf.data(), buf.size());
    Entry e{};
    REQUIRE(r.next(&e) == kOk);
    CHECK(r.next(&e) == kInvalid);
    CHECK(r.next(&e) == kInvalid);
    CHECK_THAT(r.error(), ContainsSubstring("bad magic"));
}

// ---------------------------------------------------------------- robustness

TEST_CASE("cpio: random mutations never crash the reader") {
    const Bytes valid = CpioWriter()
                            .add("./init", std::string(37, 'i'), 0100755)
                            .add("etc/motd", "welcome")
                            .add("empty", "")
                            .trailer()
                            .bytes();
    const std::string hex = "0123456789abcdefABCDEF";
    Lcg rng(0x5eed'c910);
    size_t ok = 0, invalid = 0;
    for (int iter = 0; iter < 2000; ++iter) {
        Bytes b = valid;
        switch (rng.below(4)) {
        case 0:  // any byte value
            b[rng.below(b.size())] = uint8_t(rng.next());
            break;
        case 1:  // a hex digit, so sizes and modes change but stay parseable
            b[rng.below(b.size())] = uint8_t(hex[rng.below(hex.size())]);
            break;
        case 2:  // edge values: extreme digits, NUL, space
            b[rng.below(b.size())] = "0f9F\0 "[rng.below(6)];
            break;
        default:
            b.resize(rng.below(b.size()));
            break;
        }
        INFO("iteration " << iter);
        const Exact buf(b);
        Reader r(buf.data(), buf.size());
        Status s;
        Entry e{};
        size_t members = 0;
        while ((s = r.next(&e)) == kOk) {
            ++members;
            REQUIRE(members <= b.size() / 110);
            const auto* name = reinterpret_cast<const uint8_t*>(e.name);
            REQUIRE(name >= buf.data());
            REQUIRE(e.data >= name);
            REQUIRE(e.size <= size_t(buf.data() + buf.size() - e.data));
            // The name is NUL-terminated inside the buffer.
            REQUIRE(std::memchr(name, 0, buf.data() + buf.size() - name) != nullptr);
        }
        REQUIRE((s == kNotFound || s == kInvalid));
        if (s == kInvalid) {
            ++invalid;
            REQUIRE_THAT(r.error(), Catch::Matchers::StartsWith("cpio: "));
        } else {
            ++ok;
            REQUIRE(r.next(&e) == kNotFound);
        }
        const char* error = nullptr;
        const Status f = kernel::cpio::find(buf.data(), buf.size(), "init", &e, &error);
        REQUIRE((f == kOk || f == kNotFound || f == kInvalid));
        if (f == kInvalid)
            REQUIRE(error != nullptr);
    }
    // Both outcomes were exercised.
    CHECK(ok > 0);
    CHECK(invalid > 0);
}
