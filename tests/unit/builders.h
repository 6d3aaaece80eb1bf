// In-memory builders for the parser tests: a CPIO "newc" writer and an ELF64
// writer, both with per-field overrides so tests can produce malformed input.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace anvil_test {

using Bytes = std::vector<uint8_t>;

// A heap copy of exactly `size` bytes, so ASan flags any read past the end
// (a std::vector may have spare capacity behind its last element).
class Exact {
public:
    explicit Exact(const Bytes& b) : Exact(b.data(), b.size()) {}
    Exact(const uint8_t* p, size_t n) : data_(new uint8_t[n]), size_(n) {
        if (n)
            std::memcpy(data_.get(), p, n);
    }
    const uint8_t* data() const { return data_.get(); }
    size_t size() const { return size_; }

private:
    std::unique_ptr<uint8_t[]> data_;
    size_t size_;
};

// ---------------------------------------------------------------- CPIO (newc)

// Header field indices, in on-disk order after the 6-byte magic.
enum CpioField : size_t {
    kIno, kMode, kUid, kGid, kNlink, kMtime, kFileSize,
    kDevMajor, kDevMinor, kRdevMajor, kRdevMinor, kNameSize, kCheck,
    kCpioFieldCount
};

inline std::string hex8(uint32_t v, bool upper = false) {
    char buf[9];
    std::snprintf(buf, sizeof buf, upper ? "%08X" : "%08x", v);
    return buf;
}

struct CpioMember {
    std::string name;
    std::string data;
    uint32_t mode = 0100644;
    std::string magic = "070701";
    // Raw text written for a field instead of its computed value (normally 8 chars).
    std::array<std::optional<std::string>, kCpioFieldCount> field_text{};
    // Bytes written for the name instead of name + NUL (namesize still follows
    // these unless overridden through field_text[kNameSize]).
    std::optional<std::string> raw_name;
    bool upper_hex = false;
};

class CpioWriter {
public:
    CpioWriter& add(std::string name, std::string data = {}, uint32_t mode = 0100644) {
        CpioMember m;
        m.name = std::move(name);
        m.data = std::move(data);
        m.mode = mode;
        return add(m);
    }
    CpioWriter& add(const CpioMember& m) {
        const std::string name = m.raw_name ? *m.raw_name : m.name + '\0';
        std::array<std::string, kCpioFieldCount> f;
        for (size_t i = 0; i < kCpioFieldCount; ++i)
            f[i] = hex8(0, m.upper_hex);
        f[kIno] = hex8(++ino_, m.upper_hex);
        f[kMode] = hex8(m.mode, m.upper_hex);
        f[kNlink] = hex8(1, m.upper_hex);
        f[kFileSize] = hex8(uint32_t(m.data.size()), m.upper_hex);
        f[kNameSize] = hex8(uint32_t(name.size()), m.upper_hex);
        for (size_t i = 0; i < kCpioFieldCount; ++i)
            if (m.field_text[i])
                f[i] = *m.field_text[i];
        append(m.magic);
        for (const auto& s : f)
            append(s);
        append(name);
        pad();
        append(m.data);
        pad();
        return *this;
    }
    CpioWriter& trailer() { return add("TRAILER!!!", {}, 0); }
    // Raw bytes, e.g. junk after the trailer.
    CpioWriter& raw(std::string_view s) {
        append(s);
        return *this;
    }
    const Bytes& bytes() const { return out_; }

private:
    void append(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
    void pad() {
        while (out_.size() % 4)
            out_.push_back(0);
    }

    Bytes out_;
    uint32_t ino_ = 0;
};

// ---------------------------------------------------------------- ELF64

constexpr uint32_t kPtNull = 0, kPtLoad = 1, kPtDynamic = 2, kPtInterp = 3, kPtNote = 4;
constexpr uint32_t kPfX = 1, kPfW = 2, kPfR = 4;
constexpr size_t kEhdrSize = 64, kPhdrSize = 56;

struct ElfPhdr {
    uint32_t type = kPtLoad;
    uint32_t flags = kPfR;
    uint64_t offset = 0, vaddr = 0, paddr = 0, filesz = 0, memsz = 0, align = 0x1000;
};

struct ElfFile {
    std::array<uint8_t, 16> ident{0x7f, 'E', 'L', 'F', 2 /*ELFCLASS64*/, 1 /*LSB*/, 1 /*EV_CURRENT*/};
    uint16_t type = 2;      // ET_EXEC
    uint16_t machine = 62;  // EM_X86_64
    uint32_t version = 1;
    uint64_t entry = 0;
    uint64_t phoff = kEhdrSize;
    uint16_t ehsize = kEhdrSize;
    uint16_t phentsize = kPhdrSize;
    std::optional<uint16_t> phnum;  // default: phdrs.size()
    std::vector<ElfPhdr> phdrs;
    std::optional<size_t> file_size;  // default: just past the last header or segment byte

    // Segment bytes are filled with a pattern (offset & 0xff); headers are
    // written only where they fit below 1 MiB (so huge offsets stay cheap).
    Bytes build() const {
        constexpr uint64_t kCap = 1u << 20;
        size_t size = kEhdrSize;
        const uint64_t ph_end = phoff + uint64_t(phdrs.size()) * kPhdrSize;
        const bool write_ph = phoff <= kCap && ph_end <= kCap;
        if (write_ph)
            size = std::max<size_t>(size, ph_end);
        for (const auto& p : phdrs)
            if (p.offset <= kCap && p.filesz <= kCap)
                size = std::max<size_t>(size, p.offset + p.filesz);
        if (file_size)
            size = std::max(size, *file_size);
        Bytes b(size, 0);
        for (const auto& p : phdrs)
            if (p.offset <= kCap && p.filesz <= kCap)
                for (uint64_t i = p.offset; i < p.offset + p.filesz; ++i)
                    b[i] = uint8_t(i);
        std::memcpy(&b[0], ident.data(), 16);
        put(b, 16, type);
        put(b, 18, machine);
        put(b, 20, version);
        put(b, 24, entry);
        put(b, 32, phoff);
        put(b, 40, uint64_t(0));  // shoff
        put(b, 48, uint32_t(0));  // flags
        put(b, 52, ehsize);
        put(b, 54, phentsize);
        put(b, 56, phnum ? *phnum : uint16_t(phdrs.size()));
        put(b, 58, uint16_t(64));  // shentsize
        put(b, 60, uint16_t(0));   // shnum
        put(b, 62, uint16_t(0));   // shstrndx
        if (write_ph) {
            for (size_t i = 0; i < phdrs.size(); ++i) {
                const ElfPhdr& p = phdrs[i];
                const size_t o = phoff + i * kPhdrSize;
                put(b, o + 0, p.type);
                put(b, o + 4, p.flags);
                put(b, o + 8, p.offset);
                put(b, o + 16, p.vaddr);
                put(b, o + 24, p.paddr ? p.paddr : p.vaddr);
                put(b, o + 32, p.filesz);
                put(b, o + 40, p.memsz);
                put(b, o + 48, p.align);
            }
        }
        if (file_size)
            b.resize(*file_size);
        return b;
    }

    template <typename T>
    static void put(Bytes& b, size_t at, T v) {
        for (size_t i = 0; i < sizeof(T); ++i)
            b[at + i] = uint8_t(uint64_t(v) >> (8 * i));
    }
};

// A deterministic generator for the mutation tests (Knuth's MMIX LCG).
class Lcg {
public:
    explicit Lcg(uint64_t seed) : state_(seed) {}
    uint64_t next() {
        state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
        return state_ >> 16 ^ state_ >> 40;
    }
    uint64_t below(uint64_t n) { return n ? next() % n : 0; }

private:
    uint64_t state_;
};

}  // namespace anvil_test
