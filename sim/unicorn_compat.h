// Where Unicorn versions differ, the one place that decides (at run time, with
// uc_version(): the library that runs, not the headers it was built with, as
// both are libunicorn.so.2). Measured with a probe of refused accesses
// (docs/x86_64.md, "The simulator's faults"), paging off as the simulator runs:
//  - Unicorn 2.0.1 (Debian 12) has no MMU model: a guest address is the
//    address of the mapping, and UC_HOOK_MEM_*_UNMAPPED gets it whole.
//  - Unicorn 2.1.1 (Debian 13) translates through the CPU's MMU by default
//    (UC_TLB_CPU). With paging off that masks every address to 52 bits (x86's
//    physical-address width): a read of 0xffffffff80000000 reaches the
//    unmapped hook as 0xfffff80000000, and a non-canonical address such as
//    0x8000000000400000 reads the page at 0x400000 without any fault.
//    UC_TLB_VIRTUAL (virtual address == physical, no hook to change it) gives
//    2.0.1's behaviour back: whole addresses, non-canonical ones refused.
//  - Both keep rip at the start of the block at a refused access unless a
//    UC_HOOK_MEM_READ/WRITE hook exists (sim/engine.cpp keeps one on both).
#pragma once

#include <unicorn/unicorn.h>

namespace sim {

// Unicorn 2.1's uc_ctl numbers for the TLB type, for a build against 2.0
// headers that runs with a 2.1 library.
#if UC_API_MAJOR == 2 && UC_API_MINOR == 0
inline constexpr int kUcCtlTlbType = 12;  // UC_CTL_TLB_TYPE
inline constexpr int kUcTlbVirtual = 1;   // UC_TLB_VIRTUAL
#else
inline constexpr int kUcCtlTlbType = UC_CTL_TLB_TYPE;
inline constexpr int kUcTlbVirtual = UC_TLB_VIRTUAL;
static_assert(UC_CTL_TLB_TYPE == 12 && UC_TLB_VIRTUAL == 1, "the numbers used with 2.0 headers");
#endif

// The Unicorn library that runs (not the headers'), as uc_version() packs it:
// major << 24 | minor << 16 | patch << 8 | extra. A simulator trace records it
// (basic-block counts, and so a seed's interleaving, differ between versions).
inline uint32_t unicorn_version() { return uc_version(nullptr, nullptr); }

// Makes a new engine see guest addresses as Unicorn 2.0.1 does: the address
// is the mapping's, all 64 bits of it. Call right after uc_open.
inline uc_err use_flat_addresses(uc_engine* uc) {
    unsigned major = 0, minor = 0;
    uc_version(&major, &minor);
    if (major == 2 && minor == 0)
        return UC_ERR_OK;  // no MMU model: already so
    return uc_ctl(uc, UC_CTL_WRITE(static_cast<uc_control_type>(kUcCtlTlbType), 1), kUcTlbVirtual);
}

// Translated blocks are dropped by range (uc_ctl_remove_cache, the same on
// 2.0 and 2.1), never all at once: Unicorn's whole-cache flush zeroes the
// whole code buffer (1 GiB on 2.0.1), about a second in a freshly forked
// debugger process (Engine::drop_user_translations).

}  // namespace sim
