/* sched_bench: the scheduling benchmark. Runs as init of its own initramfs.
 *
 * Two threads of one process, pinned to CPU 0 at the same priority, call
 * thread_yield in turn: every yield is one kernel entry and one context switch.
 * A yield round trip is A -> B -> A (two switches). The program prints the
 * counts and, where user-mode rdtsc measures real time (QEMU), cycles per
 * round trip; the simulator reports host time itself (anvil-sim --stats). */
#include <anvil/anvil.h>
#include <anvil/debug.h>
#include <string.h>

#define ROUNDS 20000u
#define PEER_STACK_SIZE (16u * 1024u)

static volatile uint64_t g_peer_yields;
static volatile int g_peer_done;
static uint8_t g_peer_stack[PEER_STACK_SIZE] __attribute__((aligned(16)));

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static void peer_main(void)
{
    for (uint32_t i = 0; i < ROUNDS; i++) {
        anvil_thread_yield();
        g_peer_yields++;
    }
    g_peer_done = 1;
    anvil_thread_exit(0);
}

static int fail(const char *what, anvil_status_t s)
{
    anvil_debug_puts("sched_bench: ");
    anvil_debug_puts(what);
    anvil_debug_puts(" failed: ");
    anvil_debug_puts(anvil_status_str(s));
    anvil_debug_puts("\n");
    return 1;
}

int main(uint64_t start_arg)
{
    (void)start_arg;
    anvil_cap_t tcb;
    anvil_status_t s = anvil_tcb_create(&tcb);
    if (s != ANVIL_OK)
        return fail("tcb_create", s);
    s = anvil_tcb_configure(tcb, ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_VSPACE, 0, 128, 0, 0);
    if (s != ANVIL_OK)
        return fail("tcb_configure", s);
    anvil_regs_t regs;
    memset(&regs, 0, sizeof regs);
    regs.rip = (uint64_t)(uintptr_t)peer_main;
    regs.rsp = (uint64_t)(uintptr_t)(g_peer_stack + PEER_STACK_SIZE) - 8; /* as after a call */
    regs.rflags = 0x202;
    s = anvil_tcb_set_regs(tcb, &regs);
    if (s != ANVIL_OK)
        return fail("tcb_set_regs", s);
    /* Init is pinned to CPU 0 by the kernel, the peer by tcb_configure above. */
    s = anvil_tcb_resume(tcb);
    if (s != ANVIL_OK)
        return fail("tcb_resume", s);

    const uint64_t start = rdtsc();
    uint64_t yields = 0;
    while (!g_peer_done) {
        anvil_thread_yield();
        yields++;
    }
    const uint64_t cycles = rdtsc() - start;

    anvil_debug_puts("sched_bench: ");
    anvil_debug_put_u64(yields + g_peer_yields);
    anvil_debug_puts(" yields, ");
    anvil_debug_put_u64(g_peer_yields);
    anvil_debug_puts(" round trips, ");
    anvil_debug_put_u64(cycles / (g_peer_yields ? g_peer_yields : 1));
    anvil_debug_puts(" TSC cycles per round trip\n");
    return 0;
}
