#include "hal/x86_64/page_table.h"

namespace x86 {
namespace {

// Index of `va` in a table of `level` (3 = PML4 .. 0 = PT).
constexpr size_t index_of(uint64_t va, int level) { return (va >> (12 + 9 * level)) & 511; }

}  // namespace

uint64_t user_pte_flags(uint32_t perms) {
    uint64_t flags = kPtePresent | kPteUser;
    if (perms & hal::kMapWrite) flags |= kPteWrite;
    if (!(perms & hal::kMapExec)) flags |= kPteNoExec;
    return flags;
}

uint64_t* PageTableTree::table(hal::paddr_t pa) const {
    return static_cast<uint64_t*>(env_.phys_to_virt(env_.ctx, pa));
}

uint64_t* PageTableTree::walk(uint64_t va, int level, uint64_t table_flags, Fresh* fresh,
                              int* fresh_count) {
    hal::paddr_t t = root_;
    for (int l = 3; l > level; --l) {
        uint64_t* e = &table(t)[index_of(va, l)];
        if (!(*e & kPtePresent)) {
            if (fresh == nullptr) return nullptr;
            const hal::paddr_t frame = env_.alloc_frame(env_.ctx);
            if (frame == 0) return nullptr;
            fresh[(*fresh_count)++] = Fresh{frame, e};
            *e = frame | table_flags;
        } else if (*e & kPteHuge) {
            return nullptr;
        }
        t = *e & kPteAddrMask;
    }
    return &table(t)[index_of(va, level)];
}

void PageTableTree::rollback(Fresh* fresh, int count) {
    for (int i = count - 1; i >= 0; --i) {
        *fresh[i].entry = 0;
        env_.free_frame(env_.ctx, fresh[i].frame);
    }
}

bool PageTableTree::map(uint64_t va, hal::paddr_t pa, uint64_t flags) {
    Fresh fresh[kMaxFresh];
    int fresh_count = 0;
    const uint64_t table_flags = kPtePresent | kPteWrite | (flags & kPteUser);
    uint64_t* e = walk(va, 0, table_flags, fresh, &fresh_count);
    if (e == nullptr) {
        rollback(fresh, fresh_count);
        return false;
    }
    *e = (pa & kPteAddrMask) | flags | kPtePresent;
    return true;
}

bool PageTableTree::map_large(uint64_t va, hal::paddr_t pa, uint64_t flags) {
    Fresh fresh[kMaxFresh];
    int fresh_count = 0;
    const uint64_t table_flags = kPtePresent | kPteWrite | (flags & kPteUser);
    uint64_t* e = walk(va, 1, table_flags, fresh, &fresh_count);
    if (e == nullptr || ((*e & kPtePresent) && !(*e & kPteHuge))) {
        rollback(fresh, fresh_count);
        return false;
    }
    *e = (pa & kPteAddrMask) | flags | kPtePresent | kPteHuge;
    return true;
}

uint64_t PageTableTree::unmap(uint64_t va) {
    uint64_t* e = walk(va, 0, 0, nullptr, nullptr);
    if (e == nullptr || !(*e & kPtePresent)) return 0;
    const uint64_t old = *e;
    *e = 0;
    return old;
}

uint64_t PageTableTree::lookup(uint64_t va, uint64_t* size) const {
    hal::paddr_t t = root_;
    for (int l = 3; l >= 0; --l) {
        const uint64_t e = table(t)[index_of(va, l)];
        if (!(e & kPtePresent)) return 0;
        if (l == 0 || (e & kPteHuge)) {
            if (size) *size = 1ull << (12 + 9 * l);
            return e;
        }
        t = e & kPteAddrMask;
    }
    return 0;
}

void PageTableTree::share_kernel_half(hal::paddr_t kernel_root) {
    const uint64_t* src = table(kernel_root);
    uint64_t* dst = table(root_);
    for (size_t i = kFirstKernelSlot; i < kEntriesPerTable; ++i) dst[i] = src[i];
}

void PageTableTree::free_table(hal::paddr_t pa, int level) {
    if (level > 0) {
        const uint64_t* t = table(pa);
        for (size_t i = 0; i < kEntriesPerTable; ++i) {
            if ((t[i] & kPtePresent) && !(t[i] & kPteHuge)) free_table(t[i] & kPteAddrMask, level - 1);
        }
    }
    env_.free_frame(env_.ctx, pa);
}

void PageTableTree::destroy_user_tables() {
    const uint64_t* pml4 = table(root_);
    for (size_t i = 0; i < kFirstKernelSlot; ++i) {
        if (pml4[i] & kPtePresent) free_table(pml4[i] & kPteAddrMask, 2);
    }
    env_.free_frame(env_.ctx, root_);
    root_ = 0;
}

}  // namespace x86
