// SMP: application processor start, the big kernel lock, IPIs and TLB shootdown.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <hal/hal.h>

#include "hal/x86_64/acpi.h"
#include "hal/x86_64/asm_defs.h"

namespace x86 {

// ---- The big kernel lock --------------------------------------------------------
// A ticket spinlock around every kernel entry (DESIGN.md). Taken with interrupts
// off; while waiting, the CPU serves the requests a BKL holder may be waiting
// for (TLB shootdown, cpu_wake stop), so that wait never deadlocks on a CPU that
// waits for the lock. Not recursive (a second acquire on one CPU is reported).
void bkl_acquire();
// Takes the lock only if it is free and nobody is queued; never waits.
bool bkl_try_acquire();
void bkl_release();
// With the lock held: if other CPUs are queued for it and this one has held it
// for 1 ms, lets them take it in turn and queues again behind them (the ticket
// order is the fairness).
void bkl_pass();

// ---- CPU start ------------------------------------------------------------------

// Read by x86_ap_entry64 (ap_boot.S) while the AP is still on the boot tables.
struct ApBoot {
    uint64_t cr3;        // the kernel PML4
    uint64_t stack_top;  // the AP's kernel stack
    uint32_t cpu_id;
};
static_assert(offsetof(ApBoot, cr3) == X86_AP_BOOT_CR3);
static_assert(offsetof(ApBoot, stack_top) == X86_AP_BOOT_STACK_TOP);
static_assert(offsetof(ApBoot, cpu_id) == X86_AP_BOOT_CPU_ID);

// Size of the AP trampoline (ap_boot.S); it needs one page below 1 MiB.
size_t ap_trampoline_size();

// On the boot CPU (CPU 0, local APIC on, timer calibrated), before kernel::boot:
// starts the APs listed in `cpus` (the boot CPU's own entry is skipped) one by
// one through the trampoline page at `trampoline_pa` (< 1 MiB), giving them CPU
// ids 1.. in MADT order, up to kMaxCpus in all. Each AP sets itself up and waits
// in smp_release_aps. An AP that does not come up within its timeout is reported
// on COM1, sent INIT again (parked) and skipped. Returns the number of CPUs online.
uint32_t smp_start_aps(const AcpiCpus& cpus, hal::paddr_t trampoline_pa);

// After kernel::boot returned (BKL still held by the boot CPU): lets the APs
// take the BKL and enter the kernel's resume path.
void smp_release_aps();

// ---- TLB shootdown ----------------------------------------------------------------

enum class Shootdown : uint32_t {
    kPage = 1,   // invlpg `va` where `as` is loaded
    kLeave = 2,  // switch to the kernel tables where `as` is loaded (before destroying it)
};

// With the BKL held: applies the request on this CPU and on every other online
// CPU whose CR3 is `as` (PerCpu::active_as): sends them X86_VEC_SHOOTDOWN and waits
// for each to acknowledge (panics after a timeout).
void tlb_shootdown(hal::AsHandle as, uint64_t va, Shootdown kind);

// Serves this CPU's pending shootdown request, if any. Runs without the BKL: from
// the X86_VEC_SHOOTDOWN handler and from the BKL wait loop.
//
// hal::cpu_wake (smp.cpp) is the other IPI: to an idle CPU just X86_VEC_WAKE; to a
// CPU running a thread also a stop request, served in that CPU's BKL wait (the
// wake IPI's own entry, or the entry it was already making), which saves the
// thread's registers before cpu_wake returns.
void tlb_service();

}  // namespace x86

extern "C" {
// ap_boot.S.
extern const uint8_t x86_ap_trampoline[], x86_ap_trampoline_end[], x86_ap_trampoline_alive[];
extern x86::ApBoot x86_ap_boot;
// The AP's first C++ (on its own stack, kernel tables, interrupts off).
[[noreturn]] void x86_ap_main(uint32_t cpu);
}
