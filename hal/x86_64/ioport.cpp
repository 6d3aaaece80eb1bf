#include "hal/x86_64/ioport.h"

#include <hal/kernel_entry.h>

#include "hal/x86_64/arch.h"
#include "hal/x86_64/io_bitmap.h"
#include "hal/x86_64/paging.h"
#include "hal/x86_64/serial.h"

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

// COM1's data port, trapped while recording (io_emulate_recorded).
constexpr uint16_t kRecordedPort = 0x3f8;
constexpr uint8_t kInAlDx = 0xec;
constexpr uint8_t kOutDxAl = 0xee;

// Keeps the recorded port closed in `bitmap` while the kernel records.
void close_recorded(uint8_t* bitmap) {
    if (recording()) io_bitmap_fill(bitmap, kRecordedPort, kRecordedPort + 1, false);
}

bool granted(const IoSpace* s, uint32_t port) {
    if (s == nullptr) return false;
    for (size_t i = 0; i < s->ports.count; ++i) {
        if (port >= s->ports.ranges[i].base && port < s->ports.ranges[i].end) return true;
    }
    return false;
}

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
    close_recorded(pc->tss.io_bitmap);
    pc->io_as = as;
}

bool io_emulate_recorded(PerCpu* pc, hal::UserRegs* regs) {
    if (!recording() || (regs->rdx & 0xffff) != kRecordedPort || !granted(find_space(pc->io_as), kRecordedPort))
        return false;
    uint8_t insn = 0;
    if (!user_byte(pc->io_as, regs->rip, &insn) || (insn != kInAlDx && insn != kOutDxAl)) return false;
    if (insn == kInAlDx) {
        const uint8_t v = inb(kRecordedPort);
        regs->rax = (regs->rax & ~0xffull) | v;
        kernel::on_input(&v, 1);
    } else {
        outb(kRecordedPort, static_cast<uint8_t>(regs->rax));
    }
    regs->rip += 1;
    return true;
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
        if (pc.io_as == as) {
            io_bitmap_fill(pc.tss.io_bitmap, base, base + count, true);
            close_recorded(pc.tss.io_bitmap);
        }
    }
    return true;
}
