#include "kernel/boot/process.h"

#include "kernel/boot/elf.h"
#include "kernel/lib/string.h"
#include "kernel/object/cnode.h"
#include "kernel/object/thread.h"
#include "kernel/object/vmo.h"
#include "kernel/object/vspace.h"

namespace kernel {

namespace {

constexpr uint64_t kPage = hal::kPageSize;

// Copies one segment into a fresh VMO and maps it.
Status load_segment(VSpace* vs, const elf::Segment& seg, const uint8_t* file) {
    const uint64_t page_va = align_down(seg.vaddr, kPage);
    const uint64_t span = align_up(seg.vaddr + seg.memsz, kPage) - page_va;
    TRY_ASSIGN(vmo, Vmo::create(span));
    vmo->retain();  // held here until mapped
    Status s = vmo->write(seg.vaddr - page_va, file + seg.offset, seg.filesz);
    if (s == ANVIL_OK)
        s = vs->map(page_va, vmo, 0, span, seg.perms);
    vmo->release();
    return s;
}

}  // namespace

Result<Thread*> create_process_from_elf(const uint8_t* elf_bytes, size_t size, const char* name,
                                        const char** error) {
    elf::Image image;
    if (elf::parse(elf_bytes, size, &image, error) != ANVIL_OK)
        return Result<Thread*>::error(ANVIL_ERR_INVALID_ARG);

    *error = "out of memory building the process";
    TRY_ASSIGN(vs, VSpace::create());
    vs->retain();
    auto cleanup = [&](Status s) {
        vs->release();
        return Result<Thread*>::error(s);
    };
    for (size_t i = 0; i < image.segment_count; ++i) {
        const Status s = load_segment(vs, image.segments[i], elf_bytes);
        if (s != ANVIL_OK) {
            *error = s == ANVIL_ERR_NO_MEMORY ? "not enough memory for a program segment"
                                              : "could not map a program segment";
            return cleanup(s);
        }
    }
    auto stack = Vmo::create(kInitStackSize);
    if (!stack.ok())
        return cleanup(stack.status());
    stack.value()->retain();
    const Status smap = vs->map(kInitStackTop - kInitStackSize, stack.value(), 0, kInitStackSize,
                                ANVIL_PERM_R | ANVIL_PERM_W);
    stack.value()->release();
    if (smap != ANVIL_OK) {
        if (smap == ANVIL_ERR_ADDR_IN_USE)
            *error = "a program segment overlaps the stack (the 64 KiB below 0x7fff00000000)";
        return cleanup(smap);
    }

    auto cnode = CNode::create(kInitCNodeSlots);
    if (!cnode.ok())
        return cleanup(cnode.status());
    auto thread = Thread::create();
    if (!thread.ok()) {
        cnode.value()->retain();
        cnode.value()->release();
        return cleanup(thread.status());
    }
    Thread* t = thread.value();
    CNode* cn = cnode.value();
    // The first slots of a new CNode, empty.
    already_checked(cn->install(ANVIL_CAP_SELF_CNODE, cn, ANVIL_RIGHTS_ALL));
    already_checked(cn->install(ANVIL_CAP_SELF_VSPACE, vs, ANVIL_RIGHTS_ALL));
    already_checked(cn->install(ANVIL_CAP_SELF_TCB, t, ANVIL_RIGHTS_ALL));
    t->bind(cn, vs);
    vs->release();  // now held by the CNode slot and the thread

    hal::UserRegs& r = t->regs();
    r.rip = image.entry;
    r.rsp = kInitStackTop;
    r.rflags = hal::kUserRflags;
    t->set_name(name);
    *error = "";
    return t;
}

}  // namespace kernel
