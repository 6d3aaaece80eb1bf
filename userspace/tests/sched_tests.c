/* Scheduling tests: threads of the suite's own process on every CPU, priority
 * preemption, suspension, affinity, and threads that exit or fault. They need
 * no IPC: threads share counters in this process's memory. */
#include "tests.h"

#include <string.h>

#define MAX_TEST_THREADS 8
#define THREAD_STACK_SIZE (16u * 1024u)
#define SPIN_LIMIT 200000000ull  /* iterations before a busy wait gives up */

static uint8_t g_stacks[MAX_TEST_THREADS][THREAD_STACK_SIZE] __attribute__((aligned(16)));
static volatile uint64_t g_counter[MAX_TEST_THREADS];
static volatile uint32_t g_flag;
static volatile uint64_t g_seen;

/* Counts forever in g_counter[idx]; never enters the kernel. */
static void spin_entry(uint64_t idx)
{
    for (;;)
        g_counter[idx]++;
}

/* Sets g_flag, records what the spinner in slot 0 had counted, exits. */
static void flag_entry(uint64_t unused)
{
    (void)unused;
    g_seen = g_counter[0];
    g_flag = 1;
    anvil_thread_exit(0);
}

static void exit_entry(uint64_t code) { anvil_thread_exit((int64_t)code); }

static void fault_entry(uint64_t addr)
{
    (void)*(volatile uint64_t *)addr;
    anvil_thread_exit(99); /* never reached */
}

anvil_status_t start_test_thread(uint64_t rip, uint64_t rdi, void *stack_top, uint32_t priority, uint32_t cpu,
                                 anvil_cap_t fault_ep, anvil_cap_t *out)
{
    anvil_cap_t tcb;
    anvil_status_t s = anvil_tcb_create(&tcb);
    if (s != ANVIL_OK)
        return s;
    s = anvil_tcb_configure(tcb, ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_VSPACE, 0, priority, cpu, fault_ep);
    anvil_regs_t regs;
    memset(&regs, 0, sizeof regs);
    regs.rip = rip;
    regs.rsp = (uint64_t)(uintptr_t)stack_top - 8; /* as after a call */
    regs.rdi = rdi;
    regs.rflags = 0x202;
    if (s == ANVIL_OK)
        s = anvil_tcb_set_regs(tcb, &regs);
    if (s == ANVIL_OK)
        s = anvil_tcb_resume(tcb);
    if (s != ANVIL_OK) {
        anvil_cap_delete(ANVIL_CAP_SELF_CNODE, tcb);
        return s;
    }
    *out = tcb;
    return ANVIL_OK;
}

/* Starts entry(arg) on stack `idx` at `priority`, on `cpu` (or ANVIL_CPU_ANY). */
static anvil_status_t start_thread(void (*entry)(uint64_t), uint64_t arg, unsigned idx, uint32_t priority,
                                   uint32_t cpu, anvil_cap_t *out)
{
    return start_test_thread((uint64_t)(uintptr_t)entry, arg, g_stacks[idx] + THREAD_STACK_SIZE, priority, cpu, 0,
                             out);
}

/* Stops and deletes a thread started by start_thread. */
static void stop_thread(anvil_cap_t tcb)
{
    anvil_tcb_suspend(tcb);
    anvil_cap_delete(ANVIL_CAP_SELF_CNODE, tcb);
}

static void reset_counters(void)
{
    for (unsigned i = 0; i < MAX_TEST_THREADS; i++)
        g_counter[i] = 0;
    g_flag = 0;
    g_seen = 0;
}

/* CPUs the kernel runs: the first index tcb_configure refuses. */
static uint32_t cpu_count(void)
{
    anvil_cap_t tcb;
    if (anvil_tcb_create(&tcb) != ANVIL_OK)
        return 1;
    uint32_t n = 1;
    while (n < 64 && anvil_tcb_configure(tcb, ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_VSPACE, 0, 1, n, 0) == ANVIL_OK)
        n++;
    anvil_cap_delete(ANVIL_CAP_SELF_CNODE, tcb);
    return n;
}

/* Yields until *counter > floor; 1 if it got there within the bound. */
static int yield_until_above(volatile uint64_t *counter, uint64_t floor)
{
    for (uint32_t i = 0; i < CHILD_WAIT_LIMIT; i++) {
        if (*counter > floor)
            return 1;
        anvil_thread_yield();
    }
    return *counter > floor;
}

DEFINE_TEST("sched.all_cpus_progress", test_sched_all_cpus_progress)
{
    const uint32_t n = cpu_count();
    CHECK(n >= 1 && n <= MAX_TEST_THREADS);
    reset_counters();
    anvil_cap_t tcb[MAX_TEST_THREADS];
    for (uint32_t cpu = 0; cpu < n; cpu++)
        CHECK_STATUS(start_thread(spin_entry, cpu, cpu, TEST_PRIORITY, cpu, &tcb[cpu]), ANVIL_OK);
    int all = 1;
    for (uint32_t cpu = 0; cpu < n; cpu++)
        all &= yield_until_above(&g_counter[cpu], 1000);
    for (uint32_t cpu = 0; cpu < n; cpu++)
        stop_thread(tcb[cpu]);
    CHECK(all);
    return 0;
}

DEFINE_TEST("sched.priority_preempts", test_sched_priority_preempts)
{
    if (cpu_count() < 2)
        SKIP("needs 2 CPUs");
    reset_counters();
    anvil_cap_t low, high;
    /* A busy low-priority thread on CPU 1 never enters the kernel by itself. */
    CHECK_STATUS(start_thread(spin_entry, 0, 0, 10, 1, &low), ANVIL_OK);
    int ok = yield_until_above(&g_counter[0], 1000);
    /* A higher-priority thread on the same CPU must run anyway. */
    if (ok)
        ok = start_thread(flag_entry, 0, 1, 20, 1, &high) == ANVIL_OK;
    anvil_regs_t regs;
    const int high_stopped = ok && wait_stopped(high, &regs);
    const int high_ran = g_flag == 1 && g_seen > 1000;
    /* ... and the low one goes on once the high one is gone. */
    const int low_resumed = high_stopped && yield_until_above(&g_counter[0], g_seen + 1000);
    stop_thread(low);
    if (ok)
        anvil_cap_delete(ANVIL_CAP_SELF_CNODE, high);
    CHECK(ok);
    CHECK(high_stopped);
    CHECK(high_ran);
    CHECK(low_resumed);
    return 0;
}

DEFINE_TEST("sched.suspended_does_not_run", test_sched_suspended_does_not_run)
{
    reset_counters();
    anvil_cap_t t;
    CHECK_STATUS(start_thread(spin_entry, 0, 0, TEST_PRIORITY, ANVIL_CPU_ANY, &t), ANVIL_OK);
    int ran = yield_until_above(&g_counter[0], 1000);
    CHECK_STATUS(anvil_tcb_suspend(t), ANVIL_OK);
    const uint64_t at_suspend = g_counter[0];
    for (int i = 0; i < 2000; i++)
        anvil_thread_yield();
    const uint64_t later = g_counter[0];
    CHECK_STATUS(anvil_tcb_resume(t), ANVIL_OK);
    const int resumed = yield_until_above(&g_counter[0], later + 1000);
    stop_thread(t);
    CHECK(ran);
    CHECK(later == at_suspend);
    CHECK(resumed);
    return 0;
}

DEFINE_TEST("sched.affinity_holds", test_sched_affinity_holds)
{
    const uint32_t n = cpu_count();
    if (n < 2)
        SKIP("needs 2 CPUs");
    reset_counters();
    anvil_cap_t here, there;
    /* Both below our priority: pinned to our CPU, one cannot run while we spin;
     * pinned to the last CPU (and never stolen from it), the other runs. */
    CHECK_STATUS(start_thread(spin_entry, 0, 0, 10, 0, &here), ANVIL_OK);
    anvil_status_t s = start_thread(spin_entry, 1, 1, 10, n - 1, &there);
    if (s != ANVIL_OK) {
        stop_thread(here);
        CHECK_STATUS(s, ANVIL_OK);
    }
    uint64_t spins = 0;
    while (g_counter[1] < 100000 && spins < SPIN_LIMIT)
        spins++; /* no syscall: this CPU never leaves us */
    const uint64_t here_count = g_counter[0], there_count = g_counter[1];
    stop_thread(there);
    stop_thread(here);
    CHECK(there_count >= 100000);
    CHECK(here_count == 0);
    return 0;
}

DEFINE_TEST("sched.exit_and_fault_stop_cleanly", test_sched_exit_and_fault_stop_cleanly)
{
    anvil_cap_t exiter, faulter;
    anvil_regs_t regs;
    CHECK_STATUS(start_thread(exit_entry, 7, 0, TEST_PRIORITY, ANVIL_CPU_ANY, &exiter), ANVIL_OK);
    const int exited = wait_stopped(exiter, &regs);
    const anvil_status_t resume_exited = anvil_tcb_resume(exiter);
    anvil_cap_delete(ANVIL_CAP_SELF_CNODE, exiter);
    CHECK(exited);
    CHECK_STATUS(resume_exited, ANVIL_ERR_BAD_STATE);

    /* The kernel prints a fault report for this thread; the suite goes on. */
    CHECK_STATUS(start_thread(fault_entry, 0x50, 1, TEST_PRIORITY, ANVIL_CPU_ANY, &faulter), ANVIL_OK);
    const int faulted = wait_stopped(faulter, &regs);
    const anvil_status_t resume_faulted = anvil_tcb_resume(faulter);
    anvil_cap_delete(ANVIL_CAP_SELF_CNODE, faulter);
    CHECK(faulted);
    CHECK_STATUS(resume_faulted, ANVIL_ERR_BAD_STATE);
    return 0;
}

DEFINE_TEST("abi.rdtsc", test_abi_rdtsc)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    const uint64_t first = ((uint64_t)hi << 32) | lo;
    for (volatile int i = 0; i < 1000; i++)
        ;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    const uint64_t second = ((uint64_t)hi << 32) | lo;
    CHECK(second > first);
    return 0;
}
