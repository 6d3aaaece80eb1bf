/* switch_bench: the context-switch benchmark, with and without x87/SSE state.
 * Runs as init of its own initramfs.
 *
 * A phase starts two fresh threads of one process, pinned to CPU 0 at init's
 * priority, that call thread_yield in turn (init waits on a notification
 * meanwhile): every yield is one kernel entry and one switch to the other
 * thread. In the "int" phase the threads never execute an x87 or SSE
 * instruction; in the "fpu" phase each does x87 and SSE arithmetic between
 * two yields, so its registers are live at every switch (and checked at the
 * end). The phases alternate, ROUNDS times each; the program prints each
 * round's user rdtsc per switch and the medians with their ratio. Under QEMU
 * rdtsc is the TSC; in the simulator it is virtual time (basic blocks), a
 * count of user work, so the simulator's cost is host time measured around
 * whole runs by tools/bench.sh, which picks one phase with switch=int or
 * switch=fpu on the kernel command line (the default runs both). */
#include <anvil/anvil.h>
#include <anvil/debug.h>
#include <anvil/process.h>
#include <string.h>

#define YIELDS 10000u /* per thread and phase */
#define ROUNDS 5u
#define STACK_SIZE (16u * 1024u)
#define PRIORITY 128u /* init's */

enum phase { PHASE_INT, PHASE_FPU };
static const char *const kPhaseName[] = {"int", "fpu"};

static uint8_t g_stacks[2][STACK_SIZE] __attribute__((aligned(16)));
static volatile uint64_t g_start[2], g_end[2];
static volatile double g_result[2];
static volatile uint32_t g_finished;
static anvil_cap_t g_done; /* notification: both threads of the phase ended */

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static __attribute__((noreturn)) void finish(uint64_t idx)
{
    g_end[idx] = rdtsc();
    if (__atomic_add_fetch(&g_finished, 1, __ATOMIC_RELAXED) == 2)
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

/* Runs one phase; returns its rdtsc per switch, or -1. */
static int64_t run_phase(enum phase p)
{
    g_finished = 0;
    anvil_cap_t tcb[2];
    for (uint64_t i = 0; i < 2; i++) {
        const anvil_status_t s = start_worker(p == PHASE_INT ? int_worker : fpu_worker, i, &tcb[i]);
        if (s != ANVIL_OK)
            return fail("starting a thread", s);
    }
    uint64_t bits;
    const anvil_status_t s = anvil_notify_wait(g_done, &bits);
    for (int i = 0; i < 2; i++)
        anvil_cap_delete(ANVIL_CAP_SELF_CNODE, tcb[i]);
    if (s != ANVIL_OK)
        return fail("notify_wait", s);
    for (uint64_t i = 0; p == PHASE_FPU && i < 2; i++)
        if (g_result[i] != fpu_expected(i)) {
            anvil_debug_puts("switch_bench: a thread's x87/SSE result differs from the one computed alone\n");
            return -1;
        }
    const uint64_t first = g_start[0] < g_start[1] ? g_start[0] : g_start[1];
    const uint64_t last = g_end[0] > g_end[1] ? g_end[0] : g_end[1];
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
    anvil_debug_puts(" rdtsc per switch\n");
}

int main(uint64_t start_arg)
{
    (void)start_arg;
    const char *cmdline = anvil_cmdline();
    const int only_int = strstr(cmdline, "switch=int") != NULL;
    const int only_fpu = strstr(cmdline, "switch=fpu") != NULL;
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
    uint64_t figures[2][ROUNDS];
    for (uint32_t r = 0; r < ROUNDS; r++) {
        for (int p = PHASE_INT; p <= PHASE_FPU; p++) {
            if ((p == PHASE_INT && only_fpu) || (p == PHASE_FPU && only_int))
                continue;
            const int64_t v = run_phase((enum phase)p);
            if (v < 0)
                return 1;
            figures[p][r] = (uint64_t)v;
            put_phase_figure("round", (enum phase)p, figures[p][r]);
        }
    }
    if (only_int || only_fpu)
        return 0;
    const uint64_t m_int = median(figures[PHASE_INT], ROUNDS), m_fpu = median(figures[PHASE_FPU], ROUNDS);
    put_phase_figure("median", PHASE_INT, m_int);
    put_phase_figure("median", PHASE_FPU, m_fpu);
    const uint64_t ratio100 = m_int ? m_fpu * 100 / m_int : 0;
    anvil_debug_puts("switch_bench: fpu / int = ");
    anvil_debug_put_u64(ratio100 / 100);
    anvil_debug_puts(".");
    anvil_debug_puts(ratio100 % 100 < 10 ? "0" : "");
    anvil_debug_put_u64(ratio100 % 100);
    anvil_debug_puts("\n");
    return 0;
}
