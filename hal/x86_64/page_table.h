// x86-64 4-level page tables as a pure data structure.
//
// No privileged instruction is used here: tables are reached through a caller
// supplied phys_to_virt, so this file builds and is unit-tested on the host. TLB
// maintenance is the caller's job.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <hal/hal.h>

namespace x86 {

// Page-table entry bits.
constexpr uint64_t kPtePresent = 1ull << 0;
constexpr uint64_t kPteWrite = 1ull << 1;
constexpr uint64_t kPteUser = 1ull << 2;
constexpr uint64_t kPteWriteThrough = 1ull << 3;
constexpr uint64_t kPteCacheDisable = 1ull << 4;
constexpr uint64_t kPteHuge = 1ull << 7;  // 2 MiB page in a PD entry
constexpr uint64_t kPteGlobal = 1ull << 8;
constexpr uint64_t kPteNoExec = 1ull << 63;
// Physical address field of an entry.
constexpr uint64_t kPteAddrMask = 0x000ffffffffff000ull;

constexpr uint64_t kLargePageSize = 2ull << 20;
constexpr size_t kEntriesPerTable = 512;
// First PML4 slot of the kernel half; slots below it belong to user space.
constexpr size_t kFirstKernelSlot = 256;
// End of the user half of the address space.
constexpr uint64_t kUserTop = 0x0000800000000000ull;

// How a PageTableTree reaches and obtains table frames.
struct PageTableEnv {
    void* (*phys_to_virt)(void* ctx, hal::paddr_t pa);  // a pointer to frame `pa`
    hal::paddr_t (*alloc_frame)(void* ctx);             // a zeroed 4 KiB frame, 0 = none
    void (*free_frame)(void* ctx, hal::paddr_t pa);     // returns an alloc_frame() frame
    void* ctx;
};

// Leaf entry flags (kPte*) for hal::kMap* permissions on a user page.
uint64_t user_pte_flags(uint32_t perms);

// One page-table tree rooted at a PML4 frame. Holds no state beyond the root, so
// it is cheap to construct around an existing AsHandle.
class PageTableTree {
  public:
    PageTableTree(hal::paddr_t root, const PageTableEnv& env) : root_(root), env_(env) {}

    hal::paddr_t root() const { return root_; }

    // Maps the 4 KiB page `va` -> `pa` with leaf `flags` (kPtePresent is implied),
    // replacing any 4 KiB mapping there. Missing tables are allocated with P|W,
    // plus U if the leaf has U (existing ones are left alone: a tree holds either
    // user or kernel leaves under one PML4 slot). Returns false, with the tree as
    // it was, if out of frames or if a 2 MiB page already covers `va`.
    bool map(uint64_t va, hal::paddr_t pa, uint64_t flags);

    // Maps the 2 MiB page `va` -> `pa` (both 2 MiB aligned); same rules as map().
    // Fails if a page table already exists for that range.
    bool map_large(uint64_t va, hal::paddr_t pa, uint64_t flags);

    // Removes the 4 KiB mapping of `va`. Returns the old leaf entry (0 if none).
    // Emptied tables are kept until destroy_user_tables().
    uint64_t unmap(uint64_t va);

    // The leaf entry (4 KiB or 2 MiB) that maps `va`, or 0; *size gets the page size.
    uint64_t lookup(uint64_t va, uint64_t* size = nullptr) const;

    // Copies the kernel-half PML4 slots (256..511) of `kernel_root` into this root.
    void share_kernel_half(hal::paddr_t kernel_root);

    // Frees every table frame of the user half and the root itself (leaf frames
    // are not touched). The tree must not be used afterwards.
    void destroy_user_tables();

  private:
    // A table frame linked in by the current map call (for rollback).
    struct Fresh {
        hal::paddr_t frame;
        uint64_t* entry;
    };
    static constexpr int kMaxFresh = 3;

    uint64_t* table(hal::paddr_t pa) const;
    // The entry for `va` at `level` (3 = PML4 .. 0 = PT), creating tables on the
    // way if `fresh` is given. Null if missing, blocked by a huge page, or out of
    // frames; created tables are recorded in `fresh`.
    uint64_t* walk(uint64_t va, int level, uint64_t table_flags, Fresh* fresh, int* fresh_count);
    void rollback(Fresh* fresh, int count);
    void free_table(hal::paddr_t pa, int level);

    hal::paddr_t root_;
    PageTableEnv env_;
};

}  // namespace x86
