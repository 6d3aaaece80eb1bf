#include "hal/x86_64/ioport.h"

#include "hal/x86_64/io_bitmap.h"

namespace x86 {
namespace {

// Address spaces that may hold grants at the same time (user-mode drivers).
constexpr size_t kMaxIoSpaces = 32;

// One address space's grants; as == kNoAs marks a free slot. Under the BKL.
struct IoSpace {
    hal::AsHandle as;
    IoPortSet ports;
};
IoSpace g_io_spaces[kMaxIoSpaces];

// The slot of `as`; with kNoAs, a free slot. Null if there is none.
IoSpace* find_space(hal::AsHandle as) {
    for (IoSpace& s : g_io_spaces) {
        if (s.as == as) return &s;
    }
    return nullptr;
}

}  // namespace

void io_activate(PerCpu* pc, hal::AsHandle as) {
    if (pc->io_as == as) return;
    // Most spaces hold no grants: then neither lookup finds a slot and no bitmap
    // byte is written.
    const IoSpace* from = pc->io_as != hal::kNoAs ? find_space(pc->io_as) : nullptr;
    const IoSpace* to = find_space(as);
    if (from != nullptr) io_bitmap_apply(pc->tss.io_bitmap, from->ports, false);
    if (to != nullptr) io_bitmap_apply(pc->tss.io_bitmap, to->ports, true);
    pc->io_as = as;
}

void io_forget(hal::AsHandle as) {
    if (as == hal::kNoAs) return;
    IoSpace* s = find_space(as);
    // A CPU that ran `as` last keeps its ports open while idle or in the kernel,
    // where they do not matter; they must not outlive the handle.
    for (PerCpu& pc : g_percpu) {
        if (pc.io_as != as) continue;
        if (s != nullptr) io_bitmap_apply(pc.tss.io_bitmap, s->ports, false);
        pc.io_as = hal::kNoAs;
    }
    if (s != nullptr) *s = IoSpace{};
}

}  // namespace x86

using namespace x86;

bool hal::as_allow_ioports(AsHandle as, uint16_t base, uint32_t count) {
    if (as == kNoAs || count > kIoPorts - base) return false;
    if (count == 0) return true;
    IoSpace* s = find_space(as);
    if (s == nullptr) s = find_space(kNoAs);
    if (s == nullptr || !s->ports.add(base, count)) return false;  // no slot, or too many ranges
    s->as = as;
    // CPUs running `as` now get the ports at once: clearing bits under a running
    // thread is harmless, and it may be waiting for them.
    for (PerCpu& pc : g_percpu) {
        if (pc.io_as == as) io_bitmap_fill(pc.tss.io_bitmap, base, base + count, true);
    }
    return true;
}
