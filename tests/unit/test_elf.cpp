// Host tests of the ELF64 program checker (kernel/boot/elf).
#include "kernel/introspect.h"

#include "builders.h"

#include <anvil/types.h>

#include "catch.h"

#include <cstdint>
#include <iterator>
#include <string>

using namespace anvil_test;
using Catch::Matchers::ContainsSubstring;
using kernel::Status;
using kernel::elf::Image;
using kernel::elf::Segment;

namespace {

constexpr Status kOk = ANVIL_OK;
constexpr Status kInvalid = ANVIL_ERR_INVALID_ARG;
constexpr uint32_t kR = ANVIL_PERM_R, kW = ANVIL_PERM_W, kX = ANVIL_PERM_X;
constexpr uint64_t kPage = 4096;

// A small static program laid out like a linker would: text (R X), rodata (R)
// and data + bss (R W, memsz > filesz), each segment on its own page(s).
constexpr uint64_t kHeaders = kEhdrSize + 3 * kPhdrSize;  // 232
constexpr uint64_t kTextOff = kHeaders, kTextSize = 0x40, kTextVa = 0x400000 + kTextOff;
constexpr uint64_t kRoOff = kTextOff + kTextSize, kRoSize = 0x20, kRoVa = 0x401000 + kRoOff;
constexpr uint64_t kDataOff = kRoOff + kRoSize, kDataSize = 0x10, kDataVa = 0x402000 + kDataOff;
constexpr uint64_t kDataMem = 0x3000;
constexpr uint64_t kEntry = kTextVa + 8;

ElfFile valid_elf() {
    ElfFile f;
    f.entry = kEntry;
    f.phdrs = {
        {kPtLoad, kPfR | kPfX, kTextOff, kTextVa, 0, kTextSize, kTextSize},
        {kPtLoad, kPfR, kRoOff, kRoVa, 0, kRoSize, kRoSize},
        {kPtLoad, kPfR | kPfW, kDataOff, kDataVa, 0, kDataSize, kDataMem},
    };
    return f;
}

// A PT_LOAD segment with no file bytes (pure bss-like memory).
ElfPhdr load(uint64_t vaddr, uint64_t memsz, uint32_t flags = kPfR) {
    return {kPtLoad, flags, 0, vaddr, 0, 0, memsz};
}

struct Parsed {
    Status status;
    std::string error;
    Image image;
};

Parsed parse(const Bytes& file) {
    const Exact buf(file);
    Parsed p{};
    const char* error = "";
    p.status = kernel::elf::parse(buf.data(), buf.size(), &p.image, &error);
    p.error = error;
    return p;
}
Parsed parse(const ElfFile& f) { return parse(f.build()); }

// Expects `f` to be rejected with a message containing `words`.
void check_rejected(const Bytes& file, const char* words) {
    const Parsed p = parse(file);
    CHECK(p.status == kInvalid);
    CHECK_THAT(p.error, ContainsSubstring(words));
}
void check_rejected(const ElfFile& f, const char* words) { check_rejected(f.build(), words); }

}  // namespace

// ---------------------------------------------------------------- valid programs

TEST_CASE("elf: a static program with text, rodata and data/bss parses") {
    const Bytes file = valid_elf().build();
    REQUIRE(file.size() == kDataOff + kDataSize);
    const Parsed p = parse(file);
    REQUIRE(p.status == kOk);
    CHECK(p.image.entry == kEntry);
    REQUIRE(p.image.segment_count == 3);

    const Segment& text = p.image.segments[0];
    CHECK(text.vaddr == kTextVa);
    CHECK(text.memsz == kTextSize);
    CHECK(text.offset == kTextOff);
    CHECK(text.filesz == kTextSize);
    CHECK(text.perms == (kR | kX));

    const Segment& ro = p.image.segments[1];
    CHECK(ro.vaddr == kRoVa);
    CHECK(ro.memsz == kRoSize);
    CHECK(ro.offset == kRoOff);
    CHECK(ro.filesz == kRoSize);
    CHECK(ro.perms == kR);

    const Segment& data = p.image.segments[2];
    CHECK(data.vaddr == kDataVa);
    CHECK(data.memsz == kDataMem);
    CHECK(data.offset == kDataOff);
    CHECK(data.filesz == kDataSize);
    CHECK(data.perms == (kR | kW));
}

TEST_CASE("elf: non-load program headers and empty PT_LOADs are skipped") {
    ElfFile f = valid_elf();
    f.phdrs.insert(f.phdrs.begin(), ElfPhdr{kPtNull, 0, 0, 0, 0, 0, 0});
    f.phdrs.push_back(ElfPhdr{kPtNote, kPfR, kTextOff, 0, 0, 4, 4});
    f.phdrs.push_back(ElfPhdr{0x6474e551 /*PT_GNU_STACK*/, kPfR | kPfW, 0, 0, 0, 0, 0});
    // memsz 0: ignored even though it would otherwise be rejected (W+X, in the kernel half).
    f.phdrs.push_back(ElfPhdr{kPtLoad, kPfR | kPfW | kPfX, 0, 0xffff800000000000, 0, 0, 0});
    f.phoff = 0x1000;  // headers after the segments
    const Parsed p = parse(f);
    REQUIRE(p.status == kOk);
    CHECK(p.image.segment_count == 3);
    CHECK(p.image.entry == kEntry);
}

TEST_CASE("elf: an execute-only segment is readable too") {
    ElfFile f = valid_elf();
    f.phdrs[0].flags = kPfX;
    const Parsed p = parse(f);
    REQUIRE(p.status == kOk);
    CHECK(p.image.segments[0].perms == (kR | kX));
}

TEST_CASE("elf: a segment may end exactly at the top of user space") {
    ElfFile f = valid_elf();
    f.phdrs[2].vaddr = ANVIL_USER_LIMIT - kDataMem;
    CHECK(parse(f).status == kOk);
    f.phdrs[2].vaddr = ANVIL_USER_BASE;
    f.phdrs[2].memsz = kPage;
    CHECK(parse(f).status == kOk);
}

TEST_CASE("elf: sixteen segments are accepted") {
    ElfFile f = valid_elf();
    for (uint64_t i = 3; i < kernel::elf::kMaxSegments; ++i)
        f.phdrs.push_back(load(0x1000000 + i * kPage, 0x10));
    const Parsed p = parse(f);
    REQUIRE(p.status == kOk);
    CHECK(p.image.segment_count == kernel::elf::kMaxSegments);
}

TEST_CASE("elf: a failed parse leaves the image alone and allows a null error") {
    ElfFile f = valid_elf();
    f.type = 3;
    const Exact buf(f.build());
    Image img{};
    img.entry = 0xabcdef;
    img.segment_count = 7;
    CHECK(kernel::elf::parse(buf.data(), buf.size(), &img, nullptr) == kInvalid);
    CHECK(img.entry == 0xabcdef);
    CHECK(img.segment_count == 7);
}

// ---------------------------------------------------------------- malformed headers

TEST_CASE("elf: truncated header is rejected") {
    const Bytes full = valid_elf().build();
    for (size_t len = 0; len < kEhdrSize; ++len) {
        INFO("length " << len);
        check_rejected(Bytes(full.begin(), full.begin() + len), "shorter than the ELF header");
    }
}

TEST_CASE("elf: bad magic is rejected") {
    const size_t index = GENERATE(0, 1, 2, 3);
    ElfFile f = valid_elf();
    f.ident[index] ^= 0x20;
    check_rejected(f, "bad magic");
}

TEST_CASE("elf: 32-bit class is rejected") {
    ElfFile f = valid_elf();
    f.ident[4] = GENERATE(0, 1, 3);
    check_rejected(f, "not a 64-bit ELF");
}

TEST_CASE("elf: big-endian is rejected") {
    ElfFile f = valid_elf();
    f.ident[5] = GENERATE(0, 2);
    check_rejected(f, "not little-endian");
}

TEST_CASE("elf: unknown ELF version is rejected") {
    ElfFile f = valid_elf();
    SECTION("EI_VERSION") { f.ident[6] = 2; }
    SECTION("e_version") { f.version = 0; }
    check_rejected(f, "unknown ELF version");
}

TEST_CASE("elf: wrong e_type is rejected") {
    ElfFile f = valid_elf();
    f.type = GENERATE(0, 1, 3 /*ET_DYN*/, 4, 0xfe00);
    check_rejected(f, "not a static executable");
}

TEST_CASE("elf: wrong machine is rejected") {
    ElfFile f = valid_elf();
    f.machine = GENERATE(0, 3 /*EM_386*/, 183 /*EM_AARCH64*/, 243 /*EM_RISCV*/);
    check_rejected(f, "not an x86-64 program");
}

TEST_CASE("elf: wrong phentsize is rejected") {
    ElfFile f = valid_elf();
    f.phentsize = GENERATE(0, 32, 55, 57, 64);
    check_rejected(f, "program header size");
}

TEST_CASE("elf: phnum 0 is rejected") {
    ElfFile f = valid_elf();
    f.phnum = 0;
    check_rejected(f, "no program headers");
}

TEST_CASE("elf: program headers past EOF are rejected") {
    SECTION("file cut inside the program headers") {
        const Bytes full = valid_elf().build();
        for (size_t len = kEhdrSize; len < kHeaders; ++len) {
            INFO("length " << len);
            check_rejected(Bytes(full.begin(), full.begin() + len), "program headers extend past the end");
        }
    }
    SECTION("phnum larger than the file holds") {
        ElfFile f = valid_elf();
        // 5 would still fit: the fourth and fifth would be read from segment bytes.
        f.phnum = GENERATE(uint16_t(6), uint16_t(7), uint16_t(0xffff));
        check_rejected(f, "program headers extend past the end");
    }
    SECTION("phoff just past the end") {
        ElfFile f = valid_elf();
        f.file_size = kDataOff + kDataSize;
        f.phoff = *f.file_size - kPhdrSize + 1;
        f.phnum = 1;
        check_rejected(f, "program headers extend past the end");
    }
}

TEST_CASE("elf: phoff overflow is rejected") {
    ElfFile f = valid_elf();
    f.phoff = GENERATE(UINT64_MAX, UINT64_MAX - 55, UINT64_MAX - 3 * kPhdrSize + 1, uint64_t(1) << 63);
    f.file_size = kDataOff + kDataSize;
    check_rejected(f, "program headers extend past the end");
}

// ---------------------------------------------------------------- malformed segments

TEST_CASE("elf: segment offset+filesz past EOF is rejected") {
    ElfFile f = valid_elf();
    const uint64_t size = kDataOff + kDataSize;
    f.file_size = size;
    ElfPhdr& ro = f.phdrs[1];
    SECTION("one byte too many") { ro.filesz = ro.memsz = size - ro.offset + 1; }
    SECTION("offset past the end") {
        ro.offset = size + 1;
        ro.filesz = 0;
    }
    SECTION("offset near UINT64_MAX") { ro.offset = UINT64_MAX - 8; }
    SECTION("filesz near UINT64_MAX") { ro.filesz = ro.memsz = UINT64_MAX - 8; }
    check_rejected(f, "segment extends past the end");
}

TEST_CASE("elf: filesz > memsz is rejected") {
    ElfFile f = valid_elf();
    f.phdrs[2].memsz = f.phdrs[2].filesz - 1;
    check_rejected(f, "file size exceeds its memory size");
}

TEST_CASE("elf: segment outside the user range is rejected") {
    ElfFile f = valid_elf();
    ElfPhdr& d = f.phdrs[2];
    SECTION("kernel half") { d.vaddr = 0xffffffff80000000; }
    SECTION("non-canonical hole") { d.vaddr = 0x0000800000000000; }
    SECTION("at the user limit") { d.vaddr = ANVIL_USER_LIMIT; }
    SECTION("ends one byte past the user limit") { d.vaddr = ANVIL_USER_LIMIT - d.memsz + 1; }
    SECTION("vaddr + memsz overflows") { d.memsz = UINT64_MAX - d.vaddr + 2; }
    SECTION("huge memsz") { d.memsz = UINT64_MAX; }
    SECTION("vaddr 0") { d.vaddr = 0; }
    SECTION("vaddr just below ANVIL_USER_BASE") { d.vaddr = ANVIL_USER_BASE - 1; }
    check_rejected(f, "outside the user address range");
}

TEST_CASE("elf: W+X segment is rejected") {
    ElfFile f = valid_elf();
    SECTION("writable text") { f.phdrs[0].flags = kPfR | kPfW | kPfX; }
    SECTION("executable data") { f.phdrs[2].flags = kPfW | kPfX; }
    check_rejected(f, "W^X");
}

TEST_CASE("elf: segment without permissions is rejected") {
    ElfFile f = valid_elf();
    f.phdrs[1].flags = GENERATE(0u, 8u, 0xf0000000u);
    check_rejected(f, "no access permissions");
}

TEST_CASE("elf: overlapping segments are rejected") {
    ElfFile f = valid_elf();
    SECTION("text grows over rodata") { f.phdrs[0].memsz = 0x2000; }
    SECTION("identical segments") { f.phdrs.push_back(f.phdrs[1]); }
    SECTION("bss runs into a later segment") { f.phdrs.push_back(load(kDataVa + 0x1000, 0x10)); }
    SECTION("later segment contains an earlier one") { f.phdrs.push_back(load(0x3ff000, 0x10000)); }
    check_rejected(f, "overlap");
}

TEST_CASE("elf: two segments sharing a page are rejected") {
    ElfFile f = valid_elf();
    // Disjoint bytes, but both map page 0x401000.
    SECTION("rodata right after text") { f.phdrs[1].vaddr = kTextVa + kTextSize; }
    SECTION("extra segment at the end of rodata's page") { f.phdrs.push_back(load(0x401ff0, 0x10)); }
    SECTION("extra segment ending in data's first page") { f.phdrs.push_back(load(0x4018f0, kDataVa - 0x4018f0)); }
    check_rejected(f, "share a page");
}

TEST_CASE("elf: PT_INTERP or PT_DYNAMIC is rejected") {
    ElfFile f = valid_elf();
    const uint32_t type = GENERATE(kPtInterp, kPtDynamic);
    // Even with a zero size and before any PT_LOAD.
    f.phdrs.insert(f.phdrs.begin(), ElfPhdr{type, kPfR, kRoOff, kRoVa, 0, 0, 0});
    check_rejected(f, "dynamically linked");
}

TEST_CASE("elf: no PT_LOAD is rejected") {
    ElfFile f = valid_elf();
    SECTION("only notes") {
        for (ElfPhdr& p : f.phdrs)
            p.type = kPtNote;
    }
    SECTION("only empty PT_LOADs") {
        for (ElfPhdr& p : f.phdrs)
            p.memsz = p.filesz = 0;
    }
    check_rejected(f, "no loadable segments");
}

TEST_CASE("elf: entry outside executable segments is rejected") {
    ElfFile f = valid_elf();
    f.entry = GENERATE(as<uint64_t>{}, 0, kTextVa - 1, kTextVa + kTextSize, kRoVa, kDataVa + kDataMem - 1, UINT64_MAX);
    INFO("entry " << f.entry);
    check_rejected(f, "entry point is not inside an executable segment");
}

TEST_CASE("elf: too many segments (17) is rejected") {
    ElfFile f = valid_elf();
    for (uint64_t i = 3; i < kernel::elf::kMaxSegments + 1; ++i)
        f.phdrs.push_back(load(0x1000000 + i * kPage, 0x10));
    REQUIRE(f.phdrs.size() == 17);
    check_rejected(f, "too many loadable segments");
}

// ---------------------------------------------------------------- robustness

TEST_CASE("elf: random mutations never crash the parser") {
    const Bytes valid = valid_elf().build();
    REQUIRE(parse(valid).status == kOk);
    const uint64_t edges[] = {0,
                              1,
                              UINT64_MAX,
                              UINT64_MAX - 55,
                              uint64_t(1) << 63,
                              ANVIL_USER_BASE - 1,
                              ANVIL_USER_LIMIT,
                              ANVIL_USER_LIMIT - kPage,
                              0x400000,
                              valid.size(),
                              valid.size() - 1};
    Lcg rng(0xe1f'2000);
    size_t ok = 0, invalid = 0;
    for (int iter = 0; iter < 2000; ++iter) {
        Bytes b = valid;
        switch (rng.below(5)) {
        case 0:  // any byte of the file
            b[rng.below(b.size())] = uint8_t(rng.next());
            break;
        case 1:  // a byte of the headers
            b[rng.below(kHeaders)] = uint8_t(rng.next());
            break;
        case 2:  // an 8-byte header word set to an edge or random value
        {
            const uint64_t v = rng.below(3) ? edges[rng.below(std::size(edges))] : rng.next();
            ElfFile::put(b, 8 * rng.below(kHeaders / 8), v);
            break;
        }
        case 3:  // a 2-byte ELF header field
            ElfFile::put(b, 16 + 2 * rng.below(24), uint16_t(rng.below(4) ? rng.below(80) : rng.next()));
            break;
        default:
            b.resize(rng.below(b.size()));
            break;
        }
        INFO("iteration " << iter);
        const Exact buf(b);
        Image img{};
        const char* error = nullptr;
        const Status s = kernel::elf::parse(buf.data(), buf.size(), &img, &error);
        REQUIRE((s == kOk || s == kInvalid));
        if (s == kInvalid) {
            ++invalid;
            REQUIRE(error != nullptr);
            REQUIRE_THAT(error, Catch::Matchers::StartsWith("elf: "));
            continue;
        }
        ++ok;
        REQUIRE(img.segment_count >= 1);
        REQUIRE(img.segment_count <= kernel::elf::kMaxSegments);
        bool entry_ok = false;
        for (size_t i = 0; i < img.segment_count; ++i) {
            const Segment& sg = img.segments[i];
            REQUIRE(sg.offset <= buf.size());
            REQUIRE(sg.filesz <= buf.size() - sg.offset);
            REQUIRE(sg.filesz <= sg.memsz);
            REQUIRE(sg.vaddr >= ANVIL_USER_BASE);
            REQUIRE(sg.vaddr < ANVIL_USER_LIMIT);
            REQUIRE(sg.memsz <= ANVIL_USER_LIMIT - sg.vaddr);
            REQUIRE(sg.perms != 0);
            REQUIRE_FALSE(((sg.perms & kW) && (sg.perms & kX)));
            for (size_t j = 0; j < i; ++j) {
                const Segment& o = img.segments[j];
                const bool disjoint = (sg.vaddr + sg.memsz + kPage - 1) / kPage <= o.vaddr / kPage ||
                                      (o.vaddr + o.memsz + kPage - 1) / kPage <= sg.vaddr / kPage;
                REQUIRE(disjoint);
            }
            if ((sg.perms & kX) && img.entry >= sg.vaddr && img.entry - sg.vaddr < sg.memsz)
                entry_ok = true;
        }
        REQUIRE(entry_ok);
    }
    CHECK(ok > 0);
    CHECK(invalid > 0);
}
