/* bugs: planted concurrency bugs of known depth, the corpus of
 * `tools/anvil bench bugs` (docs/benchmarks.md), which runs each under the
 * random and the PCT schedules (docs/scheduling.md) and counts the runs it
 * takes to see it.
 *
 * The init of initramfs-bugs.cpio, so that a run is little but the bug. The
 * kernel command line names the bug: `bug=NAME`. Main starts the bug's threads
 * in its own process (one per vCPU: same priority, any CPU, so the kernel
 * spreads them) and waits for them on a notification.
 *
 * Each bug needs one thread held back while another makes many kernel entries:
 * a "starve" of BURST entries (depth 1: the order of two threads' starts), a
 * "stall" at one of WINDOW entries in a thread's middle (depth 2: that order
 * plus one priority change point), or two stalls one after the other (depth 3).
 * Every step is a kernel entry (a cap_info syscall) because PCT's change points
 * fall on kernel entries; the random schedule moves on at kernel entries and at
 * 1..--slice blocks, so a thread that needs BURST steps in a row wins each next
 * pick with probability about 1/2.
 *
 * Two more are races planted in the kernel behind a testing aid (plant=NAME
 * on the command line too): the program is right, the kernel is not.
 *
 * Exit status: 0 if the bug did not show, 1 if it did (a line says how),
 * 2 if the setup failed or the bug is unknown. missed-notification and
 * kernel-lost-signal show as a run in which every thread is blocked
 * (anvil-sim exits 122). */
#include <anvil/anvil.h>
#include <anvil/process.h>
#include <stdio.h>
#include <string.h>

/* Kernel entries a thread makes while another is held back. */
#define BURST 32u
/* Kernel entries of a thread's window in which a stall opens the bug. */
#define WINDOW 8u
/* Yields a thread spends waiting for a flag, or for a lock, before it gives up. */
#define WAIT_LIMIT 100000u
/* Yields a server spends waiting for a lock before it calls it a deadlock. */
#define LOCK_LIMIT 2000u

#define MAX_THREADS 3u
#define STACK_SIZE 8192u

static uint8_t g_stacks[MAX_THREADS][STACK_SIZE] __attribute__((aligned(16)));
/* Main receives on this once per thread: each sends as it ends (an endpoint,
 * not a notification, so that plant=lost-signal leaves the join alone). */
static anvil_cap_t g_done;
/* Why the bug showed (null: it did not). */
static const char *volatile g_failure;

/* One kernel entry that changes nothing. */
static void step(void)
{
    anvil_cap_info_t info;
    anvil_cap_info(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_TCB, &info);
}

static void steps(uint32_t n)
{
    while (n--)
        step();
}

/* Yields until *flag is set; 0 if it never was. */
static int wait_flag(volatile uint32_t *flag)
{
    for (uint32_t i = 0; i < WAIT_LIMIT && !*flag; i++)
        anvil_thread_yield();
    return *flag != 0;
}

static void fail(const char *why)
{
    if (!g_failure)
        g_failure = why;
}

/* ---- depth 1: order-lookup ----
 * An order violation between a server's start and a client's lookup: the
 * client looks its server up BURST times, a kernel entry apart, and gives up;
 * the server registers after its first kernel entry. It shows if the server is
 * held back from its start until the client has given up. */
static volatile uint32_t g_registered;

static void order_server(void)
{
    step();
    g_registered = 1;
}

static void order_client(void)
{
    for (uint32_t i = 0; i < BURST; i++) {
        if (g_registered)
            return;
        step();
    }
    fail("the client gave up its lookup before the server registered");
}

/* ---- depth 1: missed-notification ----
 * The signaller prepares for BURST kernel entries and then wakes the waiter
 * with ipc_try_send, ignoring WOULD_BLOCK: if the waiter is not in ipc_recv
 * yet, the wake-up is lost and the waiter blocks for good. It shows if the
 * waiter is held back from its first kernel entry for the whole preparation. */
static anvil_cap_t g_wake_ep;

static void missed_waiter(void)
{
    anvil_msg_t m;
    uint64_t badge;
    step();
    anvil_ipc_recv(g_wake_ep, &m, &badge);
}

static void missed_signaller(void)
{
    anvil_msg_t m;
    memset(&m, 0, sizeof m);
    steps(BURST);
    (void)anvil_ipc_try_send(g_wake_ep, &m); /* the bug: WOULD_BLOCK ignored */
}

/* ---- depth 2: lost-update ----
 * The depositor reads the balance, posts it for the auditor, logs for WINDOW
 * kernel entries and writes balance + deposit; the auditor, once posted to,
 * works out interest for BURST kernel entries and adds it. It shows if the
 * depositor stalls in its logging until the interest is added: its write
 * then loses it. */
#define BALANCE 1000u
#define DEPOSIT 100u
#define INTEREST 1u
static volatile uint64_t g_balance = BALANCE;
static volatile uint32_t g_posted;

static void lost_depositor(void)
{
    step();
    const uint64_t seen = g_balance;
    g_posted = 1;
    steps(WINDOW);
    g_balance = seen + DEPOSIT;
}

static void lost_auditor(void)
{
    if (!wait_flag(&g_posted))
        return;
    steps(BURST);
    g_balance += INTEREST;
}

static void lost_check(void)
{
    if (g_balance != BALANCE + DEPOSIT + INTEREST)
        fail("an update of the balance was lost");
}

/* ---- depth 2: use-after-revoke ----
 * The user checks its cap to a buffer, announces that it uses it, prepares
 * for WINDOW kernel entries and reads the buffer through the cap; the
 * reclaimer, once the use is announced, lets the buffer's lease run for BURST
 * kernel entries and deletes the cap. It shows if the user stalls in its
 * preparation until the lease is over: its read finds the slot empty. */
static uint32_t g_buffer_slot;
static volatile uint32_t g_in_use;

static void revoke_user(void)
{
    anvil_cap_info_t info;
    uint64_t word;
    step();
    if (anvil_cap_info(ANVIL_CAP_SELF_CNODE, g_buffer_slot, &info) != ANVIL_OK)
        return;
    g_in_use = 1;
    steps(WINDOW);
    if (anvil_vmo_read(g_buffer_slot, 0, &word, sizeof word) != ANVIL_OK)
        fail("the buffer was read through a revoked cap");
}

static void revoke_reclaimer(void)
{
    if (!wait_flag(&g_in_use))
        return;
    steps(BURST);
    anvil_cap_delete(ANVIL_CAP_SELF_CNODE, g_buffer_slot);
}

/* ---- depth 2: deadlock ----
 * Two servers take two locks in opposite orders. The first takes A, tells the
 * second it is busy, works for WINDOW kernel entries and takes B; the second,
 * once told, works for BURST kernel entries, takes B if it is free, and then
 * wants A. It shows if the first stalls in its work until the second holds B:
 * each then waits for the other's lock. */
static volatile uint32_t g_lock_a, g_lock_b, g_first_busy;

/* Takes *lock, yielding while another holds it; 0 after LOCK_LIMIT yields. */
static int lock_take(volatile uint32_t *lock)
{
    for (uint32_t i = 0; i < LOCK_LIMIT; i++) {
        if (__atomic_exchange_n(lock, 1, __ATOMIC_ACQ_REL) == 0)
            return 1;
        anvil_thread_yield();
    }
    fail("deadlock: each server waits for the lock the other holds");
    return 0;
}

static void lock_release(volatile uint32_t *lock) { __atomic_store_n(lock, 0, __ATOMIC_RELEASE); }

static void deadlock_first(void)
{
    if (!lock_take(&g_lock_a))
        return;
    g_first_busy = 1;
    steps(WINDOW);
    if (lock_take(&g_lock_b))
        lock_release(&g_lock_b);
    lock_release(&g_lock_a);
}

static void deadlock_second(void)
{
    if (!wait_flag(&g_first_busy))
        return;
    steps(BURST);
    if (g_lock_b || !lock_take(&g_lock_b))
        return; /* the first got there: nothing to do */
    if (lock_take(&g_lock_a))
        lock_release(&g_lock_a);
    lock_release(&g_lock_b);
}

/* ---- depth 3: handoff-commit ----
 * A two-phase handoff: the client asks, waits WINDOW kernel entries for the
 * server's ack, and if acked, prepares for BURST and commits. The server,
 * asked, takes BURST kernel entries to snapshot, acks, and uses the snapshot
 * for WINDOW kernel entries; a commit in that time makes its snapshot stale.
 * It shows only if the client stalls while waiting (the ack comes in time)
 * and the server then stalls while using its snapshot (the commit lands). */
static volatile uint32_t g_asked, g_acked, g_committed;

static void handoff_client(void)
{
    step();
    g_asked = 1;
    steps(WINDOW);
    if (!g_acked)
        return;
    steps(BURST);
    g_committed = 1;
}

static void handoff_server(void)
{
    if (!wait_flag(&g_asked))
        return;
    steps(BURST);
    g_acked = 1;
    steps(WINDOW);
    if (g_committed)
        fail("the server used a snapshot the client's commit had made stale");
}

/* ---- kernel races (planted behind a testing aid) ----
 * The program is right; the kernel is not, when the simulator plants a race
 * in it (`plant=NAME` on the command line, sim/machine.cpp). Each shows only
 * if the first thread is held back until the second has made BURST kernel
 * entries and its call (depth 1). */

/* plant=lost-signal: notify_signal with nobody waiting drops its bits, so a
 * signal that comes before the wait is lost and the waiter blocks for good. */
static anvil_cap_t g_signal;

static void signal_waiter(void)
{
    uint64_t bits;
    step();
    anvil_notify_wait(g_signal, &bits);
}

static void signal_sender(void)
{
    steps(BURST);
    anvil_notify_signal(g_signal, 1);
}

/* plant=stale-badge: a receiver that finds a sender already queued gets badge
 * 0 instead of the sender's. */
#define SENDER_BADGE 0x42u
static uint32_t g_badged_slot;

static void badge_receiver(void)
{
    anvil_msg_t m;
    uint64_t badge = 0;
    memset(&m, 0, sizeof m);
    step();
    if (anvil_ipc_recv(g_wake_ep, &m, &badge) == ANVIL_OK && badge != SENDER_BADGE)
        fail("the message came with another badge than its sender's");
}

static void badge_sender(void)
{
    anvil_msg_t m;
    memset(&m, 0, sizeof m);
    steps(BURST);
    anvil_ipc_send(g_badged_slot, &m);
}

/* ---- the corpus ---- */
typedef void (*thread_fn)(void);

struct bug {
    const char *name;
    unsigned depth;
    thread_fn threads[MAX_THREADS]; /* null-terminated */
    void (*check)(void);            /* after every thread ended; may be null */
};

static const struct bug g_bugs[] = {
    {"order-lookup", 1, {order_server, order_client}, 0},
    {"missed-notification", 1, {missed_waiter, missed_signaller}, 0},
    {"lost-update", 2, {lost_depositor, lost_auditor}, lost_check},
    {"use-after-revoke", 2, {revoke_user, revoke_reclaimer}, 0},
    {"deadlock", 2, {deadlock_first, deadlock_second}, 0},
    {"handoff-commit", 3, {handoff_client, handoff_server}, 0},
    {"kernel-lost-signal", 1, {signal_waiter, signal_sender}, 0},
    {"kernel-stale-badge", 1, {badge_receiver, badge_sender}, 0},
};
#define BUG_COUNT (sizeof g_bugs / sizeof g_bugs[0])

/* Runs thread `index`'s function, then tells main and ends. */
static void thread_entry(uint64_t arg)
{
    const uint64_t index = arg & 0xff;
    const struct bug *b = &g_bugs[arg >> 8];
    anvil_msg_t m;
    b->threads[index]();
    memset(&m, 0, sizeof m);
    anvil_ipc_send(g_done, &m);
    anvil_thread_exit(0);
}

static anvil_status_t start_thread(size_t bug, unsigned index)
{
    anvil_cap_t tcb;
    anvil_status_t s = anvil_tcb_create(&tcb);
    if (s != ANVIL_OK)
        return s;
    s = anvil_tcb_configure(tcb, ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_VSPACE, 0, 100, ANVIL_CPU_ANY, 0);
    anvil_regs_t regs;
    memset(&regs, 0, sizeof regs);
    regs.rip = (uint64_t)(uintptr_t)thread_entry;
    regs.rsp = (uint64_t)(uintptr_t)(g_stacks[index] + STACK_SIZE) - 8; /* as after a call */
    regs.rdi = (uint64_t)bug << 8 | index;
    regs.rflags = 0x202;
    if (s == ANVIL_OK)
        s = anvil_tcb_set_regs(tcb, &regs);
    return s == ANVIL_OK ? anvil_tcb_resume(tcb) : s;
}

/* The objects some bugs share, made before any thread starts. */
static anvil_status_t setup(void)
{
    anvil_status_t s = anvil_endpoint_create(&g_done);
    if (s == ANVIL_OK)
        s = anvil_endpoint_create(&g_wake_ep);
    anvil_cap_t buffer = 0;
    if (s == ANVIL_OK)
        s = anvil_vmo_create(4096, &buffer);
    g_buffer_slot = buffer;
    if (s == ANVIL_OK)
        s = anvil_notification_create(&g_signal);
    if (s == ANVIL_OK)
        s = anvil_cap_copy_any(ANVIL_CAP_SELF_CNODE, g_wake_ep, ANVIL_CAP_SELF_CNODE, ANVIL_RIGHTS_ALL, SENDER_BADGE,
                               &g_badged_slot);
    return s;
}

/* The bug `bug=NAME` on the command line names, or null. */
static const struct bug *bug_named(const char *cmdline, size_t *index)
{
    const char *at = strstr(cmdline, "bug=");
    if (!at)
        return 0;
    at += 4;
    size_t len = 0;
    while (at[len] && at[len] != ' ')
        len++;
    for (size_t i = 0; i < BUG_COUNT; i++) {
        if (strlen(g_bugs[i].name) == len && strncmp(g_bugs[i].name, at, len) == 0) {
            *index = i;
            return &g_bugs[i];
        }
    }
    return 0;
}

int main(uint64_t start_arg)
{
    (void)start_arg;
    size_t index = 0;
    const struct bug *b = bug_named(anvil_cmdline(), &index);
    if (!b) {
        printf("bugs: name a bug with bug=NAME on the command line:");
        for (size_t i = 0; i < BUG_COUNT; i++)
            printf(" %s", g_bugs[i].name);
        printf("\n");
        return 2;
    }
    anvil_status_t s = setup();
    unsigned started = 0;
    for (; s == ANVIL_OK && b->threads[started]; started++)
        s = start_thread(index, started);
    if (s != ANVIL_OK) {
        printf("bugs: cannot start %s: %s\n", b->name, anvil_status_str(s));
        return 2;
    }
    for (unsigned i = 0; i < started; i++) {
        anvil_msg_t m;
        uint64_t badge;
        memset(&m, 0, sizeof m);
        if (anvil_ipc_recv(g_done, &m, &badge) != ANVIL_OK)
            return 2;
    }
    if (b->check)
        b->check();
    if (g_failure) {
        printf("bugs: %s (depth %u) showed: %s\n", b->name, b->depth, g_failure);
        return 1;
    }
    printf("bugs: %s (depth %u) did not show\n", b->name, b->depth);
    return 0;
}
