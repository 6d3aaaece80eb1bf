// The kernel's page tables and the address-space half of the HAL.
#pragma once

#include <stdint.h>

#include <hal/hal.h>

#include "hal/x86_64/multiboot2.h"

namespace x86 {

// Builds the kernel page tables with frames taken from `free` (below 4 GiB):
// the direct map of [0, ram_top) at X86_DIRECT_MAP_BASE (2 MiB pages, NX), the
// image at X86_KERNEL_VMA (text RX, rodata R, data RW; stack guard pages left
// out) and a table for the MMIO window; then switches CR3 to them, which drops
// the boot identity map.
void paging_init(uint64_t ram_top, RangeList& free);

// The kernel's PML4: the kernel half of every address space is a copy of its slots.
hal::paddr_t kernel_pml4();

// Maps `size` bytes of device registers at `pa` uncached in the MMIO window.
// Boot CPU only, before the kernel starts; the window is 2 MiB.
void* map_mmio(hal::paddr_t pa, uint64_t size);

// The byte at user address `va` of space `as`, read through the direct map
// (the kernel never dereferences user addresses: SMAP); false if unmapped.
bool user_byte(hal::AsHandle as, uint64_t va, uint8_t* out);

}  // namespace x86
