#include "hal/x86_64/paging.h"

#include "hal/x86_64/arch.h"
#include "hal/x86_64/asm_defs.h"
#include "hal/x86_64/cpu.h"
#include "hal/x86_64/ioport.h"
#include "hal/x86_64/page_table.h"
#include "hal/x86_64/smp.h"

extern "C" char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern "C" char __data_start[], __bss_end[];

namespace x86 {
namespace {

constexpr uint64_t kDirectMapBase = X86_DIRECT_MAP_BASE;
constexpr uint64_t kKernelVma = X86_KERNEL_VMA;
constexpr uint64_t kMmioBase = 0xffffffffc0000000ull;
constexpr uint64_t kMmioSize = kLargePageSize;
constexpr uint64_t kBootFrameLimit = 4ull << 30;  // the boot identity map ends here
constexpr uint64_t kKernelPte = kPtePresent | kPteGlobal;

hal::paddr_t g_kernel_pml4;
uint64_t g_mmio_next = kMmioBase;

// Page tables of the kernel itself (the MMIO window), once the direct map is live.
void* direct_phys_to_virt(void*, hal::paddr_t pa) { return reinterpret_cast<void*>(kDirectMapBase + pa); }
hal::paddr_t kernel_alloc(void*) { return hal::kernel_alloc_frame(); }
void kernel_free(void*, hal::paddr_t pa) { hal::kernel_free_frame(pa); }
constexpr PageTableEnv kKernelEnv{direct_phys_to_virt, kernel_alloc, kernel_free, nullptr};

// Boot-time tables: frames from the free list, reached through the identity map.
void* identity_phys_to_virt(void*, hal::paddr_t pa) { return reinterpret_cast<void*>(pa); }
hal::paddr_t boot_alloc(void* ctx) {
    const hal::paddr_t pa = static_cast<RangeList*>(ctx)->take_frame(kBootFrameLimit);
    if (pa != 0) __builtin_memset(reinterpret_cast<void*>(pa), 0, hal::kPageSize);
    return pa;
}
void boot_free(void* ctx, hal::paddr_t pa) { static_cast<RangeList*>(ctx)->add(pa, hal::kPageSize); }

bool is_guard_page(uint64_t va) {
    for (const CpuStacks& s : x86_cpu_stacks) {
        if (va == reinterpret_cast<uint64_t>(s.guard) || va == reinterpret_cast<uint64_t>(s.ist_guard)) {
            return true;
        }
    }
    return false;
}

[[noreturn]] void out_of_boot_memory() {
    static const char kMsg[] = "x86_64: out of memory for the kernel page tables\n";
    hal::console_write(kMsg, sizeof(kMsg) - 1);
    hal::panic_halt();
}

void map_image_range(PageTableTree& tree, const char* start, const char* end, uint64_t flags) {
    for (uint64_t va = reinterpret_cast<uint64_t>(start); va < reinterpret_cast<uint64_t>(end);
         va += hal::kPageSize) {
        if (is_guard_page(va)) continue;
        if (!tree.map(va, va - kKernelVma, flags)) out_of_boot_memory();
    }
}

PageTableTree user_tree(hal::AsHandle as) { return PageTableTree(as, kKernelEnv); }

}  // namespace

bool user_byte(hal::AsHandle as, uint64_t va, uint8_t* out) {
    if (as == hal::kNoAs || va >= kUserTop) return false;
    uint64_t size = 0;
    const uint64_t pte = user_tree(as).lookup(va, &size);
    if (!(pte & kPtePresent) || !(pte & kPteUser) || size == 0) return false;
    const hal::paddr_t pa = (pte & kPteAddrMask & ~(size - 1)) + (va & (size - 1));
    *out = *static_cast<const uint8_t*>(direct_phys_to_virt(nullptr, pa));
    return true;
}

void paging_init(uint64_t ram_top, RangeList& free) {
    const PageTableEnv boot_env{identity_phys_to_virt, boot_alloc, boot_free, &free};
    const hal::paddr_t root = boot_alloc(&free);
    if (root == 0) out_of_boot_memory();
    PageTableTree tree(root, boot_env);

    const uint64_t direct_flags = kKernelPte | kPteWrite | kPteNoExec;
    for (uint64_t pa = 0; pa < ram_top; pa += kLargePageSize) {
        if (!tree.map_large(kDirectMapBase + pa, pa, direct_flags)) out_of_boot_memory();
    }
    map_image_range(tree, __text_start, __text_end, kKernelPte);
    map_image_range(tree, __rodata_start, __rodata_end, kKernelPte | kPteNoExec);
    map_image_range(tree, __data_start, __bss_end, kKernelPte | kPteWrite | kPteNoExec);
    // Create the MMIO window's page table now, so map_mmio never needs a frame.
    if (!tree.map(kMmioBase, 0, kKernelPte | kPteNoExec)) out_of_boot_memory();
    tree.unmap(kMmioBase);

    g_kernel_pml4 = root;
    write_cr3(root);
    this_cpu()->active_as = root;
}

hal::paddr_t kernel_pml4() { return g_kernel_pml4; }

void* map_mmio(hal::paddr_t pa, uint64_t size) {
    const uint64_t offset = pa & (hal::kPageSize - 1);
    const uint64_t pages = (offset + size + hal::kPageSize - 1) / hal::kPageSize;
    if (g_mmio_next + pages * hal::kPageSize > kMmioBase + kMmioSize) return nullptr;
    const uint64_t va = g_mmio_next;
    PageTableTree tree(g_kernel_pml4, kKernelEnv);
    for (uint64_t i = 0; i < pages; ++i) {
        const uint64_t flags = kKernelPte | kPteWrite | kPteNoExec | kPteCacheDisable | kPteWriteThrough;
        tree.map(va + i * hal::kPageSize, (pa - offset) + i * hal::kPageSize, flags);
    }
    g_mmio_next += pages * hal::kPageSize;
    return reinterpret_cast<void*>(va + offset);
}

}  // namespace x86

void* hal::phys_to_virt(paddr_t pa) { return reinterpret_cast<void*>(X86_DIRECT_MAP_BASE + pa); }

hal::AsHandle hal::as_create() {
    const paddr_t root = kernel_alloc_frame();
    if (root == 0) return kNoAs;
    x86::user_tree(root).share_kernel_half(x86::g_kernel_pml4);
    return root;
}

void hal::as_destroy(AsHandle as) {
    // CPUs (this one included) may still have the space loaded from the last
    // thread that ran there, idle or not: move them to the kernel tables first.
    x86::tlb_shootdown(as, 0, x86::Shootdown::kLeave);
    x86::io_forget(as);
    x86::user_tree(as).destroy_user_tables();
}

bool hal::as_map(AsHandle as, vaddr_t va, const paddr_t* frames, size_t count, uint32_t perms) {
    if (va & (kPageSize - 1) || va >= x86::kUserTop || count > (x86::kUserTop - va) / kPageSize) return false;
    x86::PageTableTree tree = x86::user_tree(as);
    for (size_t i = 0; i < count; ++i) {
        const vaddr_t page = va + i * kPageSize;
        if (frames[i] & (kPageSize - 1) || tree.lookup(page) != 0 ||
            !tree.map(page, frames[i], x86::user_pte_flags(perms))) {
            as_unmap(as, va, i);  // nothing changed: the pages were unmapped before
            return false;
        }
    }
    return true;
}

void hal::as_unmap(AsHandle as, vaddr_t va, size_t count) {
    va &= ~(kPageSize - 1);
    for (size_t i = 0; i < count; ++i, va += kPageSize) {
        if (va >= x86::kUserTop) return;
        if (x86::user_tree(as).unmap(va) != 0) x86::tlb_shootdown(as, va, x86::Shootdown::kPage);
    }
}
