#include "kernel/boot/elf.h"

#include "kernel/lib/string.h"

#include <anvil/types.h>

namespace kernel::elf {

namespace {

// The on-disk layouts (ELF64, little endian).
struct Ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct Phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
static_assert(sizeof(Ehdr) == 64 && sizeof(Phdr) == 56);

constexpr uint16_t kTypeExec = 2;
constexpr uint16_t kMachineX86_64 = 62;
constexpr uint32_t kPtLoad = 1, kPtDynamic = 2, kPtInterp = 3;
constexpr uint32_t kPfX = 1, kPfW = 2, kPfR = 4;
constexpr uint64_t kPage = 4096;

Status fail(const char** error, const char* why) {
    if (error)
        *error = why;
    return ANVIL_ERR_INVALID_ARG;
}

}  // namespace

Status parse(const uint8_t* data, size_t size, Image* out, const char** error) {
    if (size < sizeof(Ehdr))
        return fail(error, "elf: file shorter than the ELF header (truncated)");
    Ehdr eh;
    mem_copy(&eh, data, sizeof eh);
    if (mem_compare(eh.ident, "\x7f" "ELF", 4) != 0)
        return fail(error, "elf: bad magic (not an ELF file)");
    if (eh.ident[4] != 2)
        return fail(error, "elf: not a 64-bit ELF (EI_CLASS)");
    if (eh.ident[5] != 1)
        return fail(error, "elf: not little-endian (EI_DATA)");
    if (eh.ident[6] != 1 || eh.version != 1)
        return fail(error, "elf: unknown ELF version");
    if (eh.type != kTypeExec)
        return fail(error, "elf: not a static executable (e_type is not ET_EXEC)");
    if (eh.machine != kMachineX86_64)
        return fail(error, "elf: not an x86-64 program (e_machine)");
    if (eh.phentsize != sizeof(Phdr))
        return fail(error, "elf: unexpected program header size (e_phentsize)");
    if (eh.phnum == 0)
        return fail(error, "elf: no program headers");
    if (eh.phoff > size || uint64_t(eh.phnum) * sizeof(Phdr) > size - eh.phoff)
        return fail(error, "elf: program headers extend past the end of the file");

    Image img{};
    img.entry = eh.entry;
    for (uint16_t i = 0; i < eh.phnum; ++i) {
        Phdr ph;
        mem_copy(&ph, data + eh.phoff + uint64_t(i) * sizeof(Phdr), sizeof ph);
        if (ph.type == kPtDynamic || ph.type == kPtInterp)
            return fail(error, "elf: dynamically linked programs are not supported");
        if (ph.type != kPtLoad || ph.memsz == 0)
            continue;
        if (img.segment_count == kMaxSegments)
            return fail(error, "elf: too many loadable segments");
        if (ph.filesz > ph.memsz)
            return fail(error, "elf: segment file size exceeds its memory size");
        if (ph.offset > size || ph.filesz > size - ph.offset)
            return fail(error, "elf: segment extends past the end of the file");
        if (ph.vaddr < ANVIL_USER_BASE || ph.vaddr >= ANVIL_USER_LIMIT ||
            ph.memsz > ANVIL_USER_LIMIT - ph.vaddr)
            return fail(error, "elf: segment lies outside the user address range");
        if ((ph.flags & kPfW) && (ph.flags & kPfX))
            return fail(error, "elf: segment is both writable and executable (W^X)");
        Segment seg{ph.vaddr, ph.memsz, ph.offset, ph.filesz, 0};
        if (ph.flags & kPfR)
            seg.perms |= ANVIL_PERM_R;
        // x86-64 pages cannot be write-only or execute-only (VSpace::map wants R).
        if (ph.flags & kPfW)
            seg.perms |= ANVIL_PERM_W | ANVIL_PERM_R;
        if (ph.flags & kPfX)
            seg.perms |= ANVIL_PERM_X | ANVIL_PERM_R;
        if (seg.perms == 0)
            return fail(error, "elf: segment has no access permissions");
        // Segments are mapped in whole pages, so they may not share a page.
        const uint64_t lo = align_down(seg.vaddr, kPage), hi = align_up(seg.vaddr + seg.memsz, kPage);
        for (size_t j = 0; j < img.segment_count; ++j) {
            const Segment& o = img.segments[j];
            const uint64_t olo = align_down(o.vaddr, kPage), ohi = align_up(o.vaddr + o.memsz, kPage);
            if (lo < ohi && olo < hi)
                return fail(error, "elf: segments overlap (or share a page)");
        }
        img.segments[img.segment_count++] = seg;
    }
    if (img.segment_count == 0)
        return fail(error, "elf: no loadable segments");
    bool entry_ok = false;
    for (size_t j = 0; j < img.segment_count; ++j) {
        const Segment& s = img.segments[j];
        if ((s.perms & ANVIL_PERM_X) && img.entry >= s.vaddr && img.entry - s.vaddr < s.memsz)
            entry_ok = true;
    }
    if (!entry_ok)
        return fail(error, "elf: entry point is not inside an executable segment");
    *out = img;
    return ANVIL_OK;
}

}  // namespace kernel::elf
