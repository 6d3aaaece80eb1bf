#include "hal/x86_64/multiboot2.h"

namespace x86 {
namespace {

enum : uint32_t {
    kTagEnd = 0,
    kTagCmdline = 1,
    kTagModule = 3,
    kTagMmap = 6,
    kTagAcpiOld = 14,
    kTagAcpiNew = 15,
};
enum : uint32_t { kMemAvailable = 1, kMemAcpiReclaimable = 3, kMemAcpiNvs = 4 };

struct TagHeader {
    uint32_t type;
    uint32_t size;
};
struct ModuleTag {
    TagHeader header;
    uint32_t mod_start;
    uint32_t mod_end;
    // followed by the module's NUL-terminated command line
};
struct MmapTag {
    TagHeader header;
    uint32_t entry_size;
    uint32_t entry_version;
};
struct MmapEntry {
    uint64_t base;
    uint64_t length;
    uint32_t type;
    uint32_t reserved;
};

constexpr uint64_t kPage = hal::kPageSize;
constexpr uint64_t align_down(uint64_t v) { return v & ~(kPage - 1); }
constexpr uint64_t align_up(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }

// Copies the NUL-terminated `src` (at most `avail` bytes) into dst[cap].
void copy_string(char* dst, size_t cap, const char* src, size_t avail) {
    size_t n = 0;
    while (n + 1 < cap && n < avail && src[n] != '\0') {
        dst[n] = src[n];
        ++n;
    }
    dst[n] = '\0';
}

bool equals(const char* a, size_t avail, const char* b) {
    size_t i = 0;
    for (; b[i] != '\0'; ++i) {
        if (i >= avail || a[i] != b[i]) return false;
    }
    return i < avail ? a[i] == '\0' : true;
}

template <typename T>
T read(const uint8_t* p) {
    T v;
    __builtin_memcpy(&v, p, sizeof(T));
    return v;
}

}  // namespace

const char* parse_multiboot2(const uint8_t* mbi, hal::paddr_t mbi_pa, Multiboot* out) {
    *out = Multiboot{};
    const uint32_t total = read<uint32_t>(mbi);
    if (total < 16 || (mbi_pa & 7) != 0) return "malformed multiboot2 information";
    out->mbi = MemRange{mbi_pa, total};

    bool have_mmap = false;
    size_t off = 8;
    while (off + sizeof(TagHeader) <= total) {
        const uint8_t* p = mbi + off;
        const TagHeader tag = read<TagHeader>(p);
        if (tag.type == kTagEnd) break;
        if (tag.size < sizeof(TagHeader) || off + tag.size > total) return "malformed multiboot2 tag";
        const size_t body = tag.size - sizeof(TagHeader);
        const char* text = reinterpret_cast<const char*>(p + sizeof(TagHeader));

        switch (tag.type) {
        case kTagCmdline:
            copy_string(out->cmdline, sizeof(out->cmdline), text, body);
            break;
        case kTagModule: {
            if (tag.size < sizeof(ModuleTag) || out->module_count == kMaxModules) break;
            const ModuleTag m = read<ModuleTag>(p);
            if (m.mod_end < m.mod_start) return "malformed multiboot2 module";
            const size_t name_len = tag.size - sizeof(ModuleTag);
            if (equals(reinterpret_cast<const char*>(p + sizeof(ModuleTag)), name_len, "initramfs")) {
                out->initramfs_index = out->module_count;
            }
            out->modules[out->module_count++] = MemRange{m.mod_start, uint64_t{m.mod_end} - m.mod_start};
            break;
        }
        case kTagMmap: {
            const MmapTag m = read<MmapTag>(p);
            if (m.entry_size < sizeof(MmapEntry)) return "malformed multiboot2 memory map";
            for (size_t e = sizeof(MmapTag); e + sizeof(MmapEntry) <= tag.size; e += m.entry_size) {
                const MmapEntry entry = read<MmapEntry>(p + e);
                if (entry.length == 0) continue;
                const uint64_t end = entry.base + entry.length;
                if (entry.type == kMemAvailable || entry.type == kMemAcpiReclaimable ||
                    entry.type == kMemAcpiNvs) {
                    if (end > out->ram_top) out->ram_top = end;
                }
                if (entry.type == kMemAvailable && out->ram_count < kMaxRamRanges) {
                    out->ram[out->ram_count++] = MemRange{entry.base, entry.length};
                }
            }
            have_mmap = true;
            break;
        }
        case kTagAcpiOld:
        case kTagAcpiNew:
            // Prefer the ACPI 2.0 RSDP when both are present.
            if (tag.type == kTagAcpiNew || out->rsdp_size == 0) {
                out->rsdp_size = body < kMaxRsdp ? body : kMaxRsdp;
                __builtin_memcpy(out->rsdp, text, out->rsdp_size);
            }
            break;
        default:
            break;
        }
        off += (tag.size + 7) & ~size_t{7};
    }
    if (!have_mmap) return "no memory map from the bootloader";
    return nullptr;
}

void RangeList::insert_at(size_t i, const MemRange& r) {
    if (count_ == kCapacity) {
        overflowed_ = true;
        return;
    }
    for (size_t j = count_; j > i; --j) ranges_[j] = ranges_[j - 1];
    ranges_[i] = r;
    ++count_;
}

void RangeList::erase_at(size_t i) {
    for (size_t j = i; j + 1 < count_; ++j) ranges_[j] = ranges_[j + 1];
    --count_;
}

void RangeList::add(uint64_t base, uint64_t size) {
    uint64_t start = align_up(base);
    uint64_t end = align_down(base + size);
    if (end <= start) return;
    // Drop any overlap with what is there, then insert in order and merge neighbours.
    remove(start, end - start);
    size_t i = 0;
    while (i < count_ && ranges_[i].base < start) ++i;
    if (i > 0 && ranges_[i - 1].base + ranges_[i - 1].size == start) {
        --i;
        start = ranges_[i].base;
        erase_at(i);
    }
    if (i < count_ && ranges_[i].base == end) {
        end = ranges_[i].base + ranges_[i].size;
        erase_at(i);
    }
    insert_at(i, MemRange{start, end - start});
}

void RangeList::remove(uint64_t base, uint64_t size) {
    if (size == 0) return;
    const uint64_t start = align_down(base);
    const uint64_t end = align_up(base + size);
    for (size_t i = 0; i < count_;) {
        MemRange& r = ranges_[i];
        const uint64_t r_end = r.base + r.size;
        if (r_end <= start || r.base >= end) {
            ++i;
            continue;
        }
        const bool keep_low = r.base < start;
        const bool keep_high = r_end > end;
        if (keep_low && keep_high) {
            r.size = start - r.base;
            insert_at(i + 1, MemRange{end, r_end - end});
            return;
        }
        if (keep_low) {
            r.size = start - r.base;
            ++i;
        } else if (keep_high) {
            r.size = r_end - end;
            r.base = end;
            ++i;
        } else {
            erase_at(i);
        }
    }
}

hal::paddr_t RangeList::take_frame(uint64_t limit) {
    for (size_t i = 0; i < count_; ++i) {
        MemRange& r = ranges_[i];
        if (r.base == 0 || r.base + kPage > limit) continue;  // frame 0 means "none"
        const hal::paddr_t frame = r.base;
        r.base += kPage;
        r.size -= kPage;
        if (r.size == 0) erase_at(i);
        return frame;
    }
    return 0;
}

}  // namespace x86
