// libFuzzer harness: the kernel's ELF checker (kernel/boot/elf) on any bytes.
// elf::parse is the only part of program loading that reads the untrusted file;
// create_process_from_elf (kernel/boot/process.cpp) then copies each accepted
// segment into a VMO and maps it, which needs the kernel's allocators and a HAL.
// So this harness checks, for every file parse() accepts, the facts that loader
// relies on, and reads every byte a segment copy would read.
#include "fuzz/check.h"
#include "kernel/introspect.h"

#include <anvil/types.h>

#include <cstddef>
#include <cstdint>

namespace {

constexpr uint64_t kPage = 4096;
volatile unsigned g_sink;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using kernel::align_down;
    using kernel::align_up;
    kernel::elf::Image image;
    const char* error = nullptr;
    const kernel::Status s = kernel::elf::parse(data, size, &image, &error);
    if (s != ANVIL_OK) {
        FUZZ_CHECK(s == ANVIL_ERR_INVALID_ARG, "parse() returned an unexpected status");
        FUZZ_CHECK(error && error[0], "a refused file without a reason");
        return 0;
    }
    FUZZ_CHECK(image.segment_count >= 1 && image.segment_count <= kernel::elf::kMaxSegments,
               "segment count out of range");
    bool entry_ok = false;
    for (size_t i = 0; i < image.segment_count; ++i) {
        const kernel::elf::Segment& seg = image.segments[i];
        FUZZ_CHECK(seg.memsz > 0 && seg.filesz <= seg.memsz, "segment sizes inconsistent");
        FUZZ_CHECK(seg.offset <= size && seg.filesz <= size - seg.offset, "segment bytes outside the file");
        FUZZ_CHECK(seg.vaddr >= ANVIL_USER_BASE && seg.vaddr < ANVIL_USER_LIMIT &&
                       seg.memsz <= ANVIL_USER_LIMIT - seg.vaddr,
                   "segment outside the user address range");
        // VSpace::map takes only R, R W or R X pages.
        FUZZ_CHECK(seg.perms & ANVIL_PERM_R, "segment the loader cannot map (no R)");
        FUZZ_CHECK(!((seg.perms & ANVIL_PERM_W) && (seg.perms & ANVIL_PERM_X)), "segment both W and X");
        // load_segment's arithmetic: the page span, and the copy into it.
        const uint64_t end = seg.vaddr + seg.memsz;
        FUZZ_CHECK(!kernel::align_up_overflows(end, kPage), "segment end rounds up past 2^64");
        const uint64_t page_va = align_down(seg.vaddr, kPage), span = align_up(end, kPage) - page_va;
        FUZZ_CHECK(page_va + span <= ANVIL_USER_LIMIT, "segment pages reach past the user range");
        FUZZ_CHECK(seg.vaddr - page_va + seg.filesz <= span, "segment copy overflows its VMO");
        g_sink = touch(data + seg.offset, seg.filesz);
        for (size_t j = 0; j < i; ++j) {
            const kernel::elf::Segment& o = image.segments[j];
            const uint64_t olo = align_down(o.vaddr, kPage), ohi = align_up(o.vaddr + o.memsz, kPage);
            FUZZ_CHECK(page_va + span <= olo || ohi <= page_va, "two segments share a page");
        }
        if ((seg.perms & ANVIL_PERM_X) && image.entry >= seg.vaddr && image.entry - seg.vaddr < seg.memsz)
            entry_ok = true;
    }
    FUZZ_CHECK(entry_ok, "entry point outside every executable segment");
    return 0;
}
