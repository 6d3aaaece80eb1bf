/* switch_bench: the context-switch benchmark, with and without x87/SSE state.
 * Runs as init of its own initramfs.
 *
 * A phase starts two fresh threads of one process, pinned to CPU 0 at init's
 * priority, that call thread_yield in turn (init waits on a notification
 * meanwhile): every yield is one kernel entry and one switch to the other
 * thread. In the "int" phase the threads never execute an x87 or SSE
 * instruction; in the "fpu" phase each does x87 and SSE arithmetic between
 * two yields, so its registers are live at every switch (and checked at the
 * end). A third phase, "alone", is the fpu phase's arithmetic without the
 * yields: one thread, the same number of steps, no switch; the fpu phase
 * less it is what switching costs when the state is in use. The phases
 * alternate, ROUNDS times each; the program prints each round's user rdtsc
 * per switch (per step for "alone") and the medians with the ratios. Under
 * QEMU rdtsc is the TSC; in the simulator it is virtual time (basic blocks),
 * a count of user work, so the simulator's cost is host time measured around
 * whole runs by tools/bench.sh, which picks one phase with switch=int,
 * switch=fpu or switch=alone on the kernel command line (the default runs
 * all three; switch=none, none: boot and exit, which every run includes). */
#include <anvil/anvil.h>
#include <anvil/debug.h>
#include <anvil/process.h>
#include <string.h>

#define YIELDS 10000u /* per thread and phase */
#define ROUNDS 5u
#define STACK_SIZE (16u * 1024u)
#define PRIORITY 128u /* init's */

enum phase { PHASE_INT, PHASE_FPU, PHASE_ALONE, PHASES };
static const char *const kPhaseName[PHASES] = {"int", "fpu", "alone"};

static uint8_t g_stacks[2][STACK_SIZE] __attribute__((aligned(16)));
static volatile uint64_t g_start[2], g_end[2];
static volatile double g_result[2];
static volatile uint32_t g_finished, g_threads;
static anvil_cap_t g_done; /* notification: every thread of the phase ended */

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static __attribute__((noreturn)) void finish(uint64_t idx)
{
    g_end[idx] = rdtsc();
    if (__atomic_add_fetch(&g_finished, 1, __ATOMIC_RELAXED) == g_threads)
        (void)anvil_notify_signal(g_done, 1);
    anvil_thread_exit(0);
    for (;;) {
    }
}

/* Integer registers only, as the loop of sched_bench. */
static void int_worker(uint64_t idx)
{
    g_start[idx] = rdtsc();
    for (uint32_t i = 0; i < YIELDS; i++)
        anvil_thread_yield();
    finish(idx);
}

/* One step of the "fpu" phase's arithmetic: an x87 add and an SSE
 * multiply-add, on values that stay in memory across the yield (every xmm
 * register is caller-saved), so the thread's first instructions after each
 * switch are x87/SSE ones. The results are inexact: they depend on MXCSR's
 * rounding mode. */
static double fpu_step(double acc)
{
    double x87;
    __asm__ volatile("fldl %1\n fld1\n faddp\n fstpl %0" : "=m"(x87) : "m"(acc));
    return acc * 1.0000001 + x87 * 1e-3;
}

/* Thread 1 rounds toward zero, thread 0 to nearest: a thread that ran with
 * the other's MXCSR would end with another sum. */
static uint32_t mxcsr_of(uint64_t idx) { return idx ? 0x7f80u : 0x1f80u; }
static void set_mxcsr(uint32_t v) { __asm__ volatile("ldmxcsr %0" ::"m"(v)); }

static void fpu_worker(uint64_t idx)
{
    g_start[idx] = rdtsc();
    set_mxcsr(mxcsr_of(idx));
    volatile double acc = 1.0;
    for (uint32_t i = 0; i < YIELDS; i++) {
        acc = fpu_step(acc);
        anvil_thread_yield();
    }
    g_result[idx] = acc;
    finish(idx);
}

/* The fpu phase's two threads' steps, one after the other, with no switch. */
static void alone_worker(uint64_t idx)
{
    g_start[idx] = rdtsc();
    for (uint64_t t = 0; t < 2; t++) {
        set_mxcsr(mxcsr_of(t));
        volatile double acc = 1.0;
        for (uint32_t i = 0; i < YIELDS; i++)
            acc = fpu_step(acc);
        g_result[t] = acc;
    }
    finish(idx);
}

static int64_t fail(const char *what, anvil_status_t s)
{
    anvil_debug_puts("switch_bench: ");
    anvil_debug_puts(what);
    anvil_debug_puts(" failed: ");
    anvil_debug_puts(anvil_status_str(s));
    anvil_debug_puts("\n");
    return -1;
}

static anvil_status_t start_worker(void (*entry)(uint64_t), uint64_t idx, anvil_cap_t *tcb)
{
    anvil_status_t s = anvil_tcb_create(tcb);
    if (s != ANVIL_OK)
        return s;
    s = anvil_tcb_configure(*tcb, ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_VSPACE, 0, PRIORITY, 0, 0);
    anvil_regs_t regs;
    memset(&regs, 0, sizeof regs);
    regs.rip = (uint64_t)(uintptr_t)entry;
    regs.rdi = idx;
    regs.rsp = (uint64_t)(uintptr_t)(g_stacks[idx] + STACK_SIZE) - 8; /* as after a call */
    regs.rflags = 0x202;
    if (s == ANVIL_OK)
        s = anvil_tcb_set_regs(*tcb, &regs);
    if (s == ANVIL_OK)
        s = anvil_tcb_resume(*tcb);
    return s;
}

/* The value fpu_worker(idx) ends with, computed alone. */
static double fpu_expected(uint64_t idx)
{
    set_mxcsr(mxcsr_of(idx));
    double acc = 1.0;
    for (uint32_t i = 0; i < YIELDS; i++)
        acc = fpu_step(acc);
    set_mxcsr(mxcsr_of(0));
    return acc;
}

/* Runs one phase; returns its rdtsc per switch (per step alone), or -1. */
static int64_t run_phase(enum phase p)
{
    static void (*const kEntry[PHASES])(uint64_t) = {int_worker, fpu_worker, alone_worker};
    g_finished = 0;
    g_threads = p == PHASE_ALONE ? 1 : 2;
    anvil_cap_t tcb[2];
    for (uint64_t i = 0; i < g_threads; i++) {
        const anvil_status_t s = start_worker(kEntry[p], i, &tcb[i]);
        if (s != ANVIL_OK)
            return fail("starting a thread", s);
    }
    uint64_t bits;
    const anvil_status_t s = anvil_notify_wait(g_done, &bits);
    for (uint32_t i = 0; i < g_threads; i++)
        anvil_cap_delete(ANVIL_CAP_SELF_CNODE, tcb[i]);
    if (s != ANVIL_OK)
        return fail("notify_wait", s);
    for (uint64_t i = 0; p != PHASE_INT && i < 2; i++)
        if (g_result[i] != fpu_expected(i)) {
            anvil_debug_puts("switch_bench: a thread's x87/SSE result differs from the one computed alone\n");
            return -1;
        }
    uint64_t first = g_start[0], last = g_end[0];
    if (g_threads == 2) {
        first = g_start[1] < first ? g_start[1] : first;
        last = g_end[1] > last ? g_end[1] : last;
    }
    return (int64_t)((last - first) / (2 * YIELDS));
}

static uint64_t median(uint64_t *v, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            const uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[n / 2];
}

static void put_phase_figure(const char *what, enum phase p, uint64_t value)
{
    anvil_debug_puts("switch_bench: ");
    anvil_debug_puts(what);
    anvil_debug_puts(" ");
    anvil_debug_puts(kPhaseName[p]);
    anvil_debug_puts(": ");
    anvil_debug_put_u64(value);
    anvil_debug_puts(p == PHASE_ALONE ? " rdtsc per step\n" : " rdtsc per switch\n");
}

/* "switch_bench: WHAT = a / b" with two decimals. */
static void put_ratio(const char *what, uint64_t a, uint64_t b)
{
    const uint64_t ratio100 = b ? a * 100 / b : 0;
    anvil_debug_puts("switch_bench: ");
    anvil_debug_puts(what);
    anvil_debug_puts(" = ");
    anvil_debug_put_u64(ratio100 / 100);
    anvil_debug_puts(ratio100 % 100 < 10 ? ".0" : ".");
    anvil_debug_put_u64(ratio100 % 100);
    anvil_debug_puts("\n");
}

int main(uint64_t start_arg)
{
    (void)start_arg;
    /* switch=PHASE runs only that phase, switch=none none (tools/bench.sh
     * times whole runs, and boot and exit alone). */
    const char *only = strstr(anvil_cmdline(), "switch=");
    if (only && strncmp(only + 7, "none", 4) == 0)
        return 0;
    int chosen = PHASES;
    for (int p = 0; only && p < PHASES; p++)
        if (strncmp(only + 7, kPhaseName[p], strlen(kPhaseName[p])) == 0)
            chosen = p;
    if (only && chosen == PHASES) {
        anvil_debug_puts("switch_bench: switch= takes int, fpu, alone or none\n");
        return 2;
    }
    anvil_status_t s = anvil_notification_create(&g_done);
    if (s != ANVIL_OK) {
        fail("notification_create", s);
        return 1;
    }
    anvil_debug_puts("switch_bench: ");
    anvil_debug_put_u64(ROUNDS * 2 * YIELDS);
    anvil_debug_puts(" switches per phase, in rounds of ");
    anvil_debug_put_u64(2 * YIELDS);
    anvil_debug_puts("\n");
    uint64_t figures[PHASES][ROUNDS];
    for (uint32_t r = 0; r < ROUNDS; r++) {
        for (int p = 0; p < PHASES; p++) {
            if (only && p != chosen)
                continue;
            const int64_t v = run_phase((enum phase)p);
            if (v < 0)
                return 1;
            figures[p][r] = (uint64_t)v;
            put_phase_figure("round", (enum phase)p, figures[p][r]);
        }
    }
    if (only)
        return 0;
    uint64_t m[PHASES];
    for (int p = 0; p < PHASES; p++) {
        m[p] = median(figures[p], ROUNDS);
        put_phase_figure("median", (enum phase)p, m[p]);
    }
    put_ratio("fpu / int", m[PHASE_FPU], m[PHASE_INT]);
    const uint64_t fpu_switch = m[PHASE_FPU] > m[PHASE_ALONE] ? m[PHASE_FPU] - m[PHASE_ALONE] : 0;
    put_ratio("(fpu - alone) / int", fpu_switch, m[PHASE_INT]);
    return 0;
}
