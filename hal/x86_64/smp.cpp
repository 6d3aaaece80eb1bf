#include "hal/x86_64/smp.h"

#include <hal/hal.h>

#include "hal/x86_64/arch.h"
#include "hal/x86_64/cpu.h"
#include "hal/x86_64/lapic.h"
#include "hal/x86_64/paging.h"
#include "hal/x86_64/serial.h"
#include "hal/x86_64/trap.h"

x86::ApBoot x86_ap_boot;

namespace x86 {
namespace {

// INIT-SIPI-SIPI delays (Intel SDM, MP initialization) and our own timeouts.
constexpr uint64_t kInitDelayUs = 10000;
constexpr uint64_t kSipiDelayUs = 200;
constexpr uint64_t kApOnlineTimeoutUs = 3000000;
constexpr uint64_t kAckTimeoutUs = 5000000;  // shootdown and stop acknowledgments
// bkl_pass keeps the lock until its holder has had it this long: passing it at
// every kernel exit made two CPUs trade it on every syscall of a yield loop,
// each trade waiting for the host to run the other vCPU's thread.
constexpr uint64_t kPassAfterUs = 1000;

struct TicketLock {
    uint32_t next;     // next ticket handed out
    uint32_t serving;  // the ticket that holds the lock
    uint32_t owner;    // holder's cpu id + 1, 0 if free (diagnostics only)
    uint64_t taken_at; // the TSC when the holder took it (bkl_pass)
};
TicketLock g_bkl;

uint32_t g_cpu_count = 1;
uint32_t g_ap_online[kMaxCpus];  // set by each AP once it is set up (atomic)
uint32_t g_kernel_started;       // set once kernel::boot has returned (atomic)

// The one shootdown in flight: written by the BKL holder before it raises the
// targets' tlb_pending flags, read by the targets before they clear them.
struct ShootRequest {
    hal::AsHandle as;
    uint64_t va;
    Shootdown kind;
};
ShootRequest g_shoot;

template <typename T>
T load_acquire(const T* p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
template <typename T>
void store_release(T* p, T v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

uint64_t ticks_for_us(uint64_t us) { return tsc_per_second() / 1000 * us / 1000; }

[[noreturn]] void fatal(const char* msg, uint64_t value) {
    print(msg);
    print_dec(value);
    print("\n");
    hal::panic_halt();
}

// Waits (BKL held) until the target clears its request flag.
void wait_ack(const uint32_t* flag, uint32_t cpu, const char* what) {
    const uint64_t start = tsc_now();
    while (load_acquire(flag) != 0) {
        if (tsc_now() - start > ticks_for_us(kAckTimeoutUs)) fatal(what, cpu);
        pause();
    }
}

// Serves a cpu_wake stop request (from the BKL wait loop only): the thread this
// CPU runs must not run on without the kernel deciding again, and its registers
// must be in its Resume::regs. Either this CPU is in a user-mode entry waiting
// for the BKL (the wake IPI's own, or the one it was already making): the
// entry's registers are saved now, on behalf of the requester, which holds the
// BKL and waits, and a syscall is rewound by its 2 bytes to be issued again if
// the thread resumes; or, while recording, it picked the thread and waits in
// bkl_pass before entering user mode (the registers are in place). Either way
// regs_saved tells this CPU to ask the kernel again. After the acknowledgment
// this CPU does not write those registers.
void stop_service(PerCpu* pc) {
    if (load_acquire(&pc->stop_pending) == 0) return;
    if (pc->user_regs != nullptr && !pc->regs_saved) {
        if (pc->entry_frame != nullptr) {
            save_user_regs(*pc->entry_frame, pc->user_regs);
            if (pc->entry_frame->vector == X86_VEC_SYSCALL) pc->user_regs->rip -= 2;
        }
        pc->regs_saved = true;
    }
    store_release(&pc->stop_pending, 0u);
}

void apply(PerCpu* pc, const ShootRequest& r) {
    if (pc->active_as != r.as) return;
    if (r.kind == Shootdown::kPage) {
        invlpg(r.va);
    } else {
        write_cr3(kernel_pml4());
        __atomic_store_n(&pc->active_as, kernel_pml4(), __ATOMIC_RELAXED);
    }
}

// Starts the AP with local APIC `apic_id` as CPU `cpu`; true once it is online.
bool start_ap(uint32_t apic_id, uint32_t cpu, hal::paddr_t trampoline_pa) {
    auto* page = static_cast<uint8_t*>(hal::phys_to_virt(trampoline_pa));
    auto* alive = reinterpret_cast<volatile uint32_t*>(page + (x86_ap_trampoline_alive - x86_ap_trampoline));
    *alive = 0;
    __atomic_store_n(&g_ap_online[cpu], 0u, __ATOMIC_RELAXED);
    g_percpu[cpu].apic_id = apic_id;
    x86_ap_boot = ApBoot{kernel_pml4(),
                         reinterpret_cast<uint64_t>(x86_cpu_stacks[cpu].kernel + kKernelStackSize), cpu};
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    lapic_send_init(apic_id);
    delay_us(kInitDelayUs);
    const auto vector = static_cast<uint8_t>(trampoline_pa >> 12);
    lapic_send_sipi(apic_id, vector);
    delay_us(kSipiDelayUs);
    if (*alive == 0) {
        lapic_send_sipi(apic_id, vector);
        delay_us(kSipiDelayUs);
    }

    const uint64_t start = tsc_now();
    while (load_acquire(&g_ap_online[cpu]) == 0) {
        if (tsc_now() - start > ticks_for_us(kApOnlineTimeoutUs)) {
            const bool started = *alive != 0;
            lapic_send_init(apic_id);  // park it (wait-for-SIPI) before its slot is reused
            delay_us(kInitDelayUs);
            print("x86_64: cpu with local APIC id ");
            print_dec(apic_id);
            print(started ? " ran the trampoline but did not come online" : " did not answer INIT-SIPI-SIPI");
            print(" (timeout): skipped\n");
            return false;
        }
        pause();
    }
    return true;
}

}  // namespace

void bkl_acquire() {
    const uint32_t me = this_cpu()->cpu_id + 1;
    if (__atomic_load_n(&g_bkl.owner, __ATOMIC_RELAXED) == me) {
        fatal("x86_64: big kernel lock taken twice on cpu ", me - 1);
    }
    const uint32_t ticket = __atomic_fetch_add(&g_bkl.next, 1u, __ATOMIC_RELAXED);
    PerCpu* pc = this_cpu();
    while (load_acquire(&g_bkl.serving) != ticket) {
        // The holder may be waiting for this CPU to acknowledge a request.
        tlb_service();
        stop_service(pc);
        pause();
    }
    __atomic_store_n(&g_bkl.owner, me, __ATOMIC_RELAXED);
    g_bkl.taken_at = tsc_now();
}

bool bkl_try_acquire() {
    const uint32_t me = this_cpu()->cpu_id + 1;
    if (__atomic_load_n(&g_bkl.owner, __ATOMIC_RELAXED) == me) {
        fatal("x86_64: big kernel lock taken twice on cpu ", me - 1);
    }
    // Free with no waiter <=> next == serving (serving only grows, up to next).
    uint32_t ticket = load_acquire(&g_bkl.serving);
    if (!__atomic_compare_exchange_n(&g_bkl.next, &ticket, ticket + 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED)) {
        return false;
    }
    __atomic_store_n(&g_bkl.owner, me, __ATOMIC_RELAXED);
    g_bkl.taken_at = tsc_now();
    return true;
}

void bkl_release() {
    __atomic_store_n(&g_bkl.owner, 0u, __ATOMIC_RELAXED);
    store_release(&g_bkl.serving, g_bkl.serving + 1);
}

void bkl_pass() {
    // Held with nobody queued <=> next == serving + 1.
    if (__atomic_load_n(&g_bkl.next, __ATOMIC_RELAXED) == g_bkl.serving + 1) return;
    if (tsc_now() - g_bkl.taken_at < ticks_for_us(kPassAfterUs)) return;
    bkl_release();
    bkl_acquire();
}

size_t ap_trampoline_size() { return static_cast<size_t>(x86_ap_trampoline_end - x86_ap_trampoline); }

uint32_t smp_start_aps(const AcpiCpus& cpus, hal::paddr_t trampoline_pa) {
    const uint32_t bsp_apic = lapic_id();
    g_percpu[0].apic_id = bsp_apic;
    __builtin_memcpy(hal::phys_to_virt(trampoline_pa), x86_ap_trampoline, ap_trampoline_size());

    uint32_t count = 1;
    size_t ignored = cpus.total - cpus.count + cpus.skipped_x2apic;
    for (size_t i = 0; i < cpus.count; ++i) {
        const uint32_t apic_id = cpus.apic_ids[i];
        if (apic_id == bsp_apic) continue;
        if (count == kMaxCpus) {
            ++ignored;
            continue;
        }
        if (start_ap(apic_id, count, trampoline_pa)) ++count;
    }
    if (ignored != 0) {
        print("x86_64: ");
        print_dec(ignored);
        print(" more cpu(s) in the MADT not used (at most 16, xAPIC ids only)\n");
    }
    g_cpu_count = count;
    return count;
}

void smp_release_aps() { store_release(&g_kernel_started, 1u); }

void tlb_service() {
    PerCpu* pc = this_cpu();
    if (load_acquire(&pc->tlb_pending) == 0) return;
    apply(pc, g_shoot);
    store_release(&pc->tlb_pending, 0u);
}

void tlb_shootdown(hal::AsHandle as, uint64_t va, Shootdown kind) {
    PerCpu* self = this_cpu();
    g_shoot = ShootRequest{as, va, kind};
    apply(self, g_shoot);

    uint32_t targets = 0;
    for (uint32_t cpu = 0; cpu < g_cpu_count; ++cpu) {
        PerCpu& pc = g_percpu[cpu];
        if (&pc == self || __atomic_load_n(&pc.active_as, __ATOMIC_RELAXED) != as) continue;
        store_release(&pc.tlb_pending, 1u);
        targets |= 1u << cpu;
    }
    if (targets == 0) return;
    for (uint32_t cpu = 0; cpu < g_cpu_count; ++cpu) {
        if (targets & (1u << cpu)) lapic_send_ipi(g_percpu[cpu].apic_id, X86_VEC_SHOOTDOWN);
    }
    for (uint32_t cpu = 0; cpu < g_cpu_count; ++cpu) {
        if (targets & (1u << cpu)) {
            wait_ack(&g_percpu[cpu].tlb_pending, cpu, "x86_64: TLB shootdown: no acknowledgment from cpu ");
        }
    }
}

}  // namespace x86

using namespace x86;

// An AP, on its own stack and the kernel tables, interrupts off.
extern "C" [[noreturn]] void x86_ap_main(uint32_t cpu) {
    cpu_init(cpu);
    PerCpu* pc = this_cpu();
    pc->active_as = kernel_pml4();
    lapic_init();
    lapic_timer_start(kTimerHz);
    store_release(&g_ap_online[cpu], 1u);

    // The kernel is not to be entered before kernel::boot is done.
    while (load_acquire(&g_kernel_started) == 0) pause();
    bkl_acquire();
    resume(cpu);
}

void hal::cpu_wake(uint32_t cpu) {
    if (cpu >= g_cpu_count || cpu == this_cpu()->cpu_id) return;
    PerCpu& target = g_percpu[cpu];
    // A CPU that runs a thread (user_regs is set and cleared under the BKL) is
    // stopped synchronously: when this returns it runs no more user code until
    // it has asked next_to_run, and its thread's registers are saved (for the
    // kernel to read, change or free). An idle CPU just gets the IPI.
    const bool running = target.user_regs != nullptr;
    if (running) store_release(&target.stop_pending, 1u);
    lapic_send_ipi(target.apic_id, X86_VEC_WAKE);
    if (running) wait_ack(&target.stop_pending, cpu, "x86_64: cpu_wake: no acknowledgment from cpu ");
}
