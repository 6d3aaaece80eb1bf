/* race: a deliberate lost-update bug, for seed sweeps and replay to catch
 * (docs/replaying-a-bug.md).
 *
 * The main service of initramfs-race.cpio (userspace/demo/race.services)
 * starts a copy of itself as a second process, shares a one-page VMO with it,
 * and both add 1 to a counter in that page RACE_ROUNDS times each with a plain
 * read, some work, then a write: no lock, no atomic. When the two vCPUs
 * interleave inside that window, one increment overwrites the other and the
 * final count is short. Whether that happens depends only on the simulator's
 * seed, so a failing seed fails the same way every time it is replayed.
 *
 * Exit status: 0 if the counter is 2 * RACE_ROUNDS, 1 if updates were lost,
 * 2 if the setup failed. */
#include <anvil/anvil.h>
#include <anvil/cpio.h>
#include <anvil/process.h>
#include <anvil/services.h>
#include <stdio.h>
#include <string.h>

/* Tuned so that with 4 vCPUs and the default --slice, about half the seeds lose
 * updates: a round is 161 basic blocks, and a slice that ends in the 9 between
 * the read and the write opens the window (docs/replaying-a-bug.md). */
/* Increments per process. */
#define RACE_ROUNDS 40u
/* Loop iterations between the read and the write of one increment: the window
 * in which the other process's increments get lost. */
#define RACE_WINDOW 8u
/* Loop iterations of unrelated work between two increments (outside the window). */
#define RACE_GAP 150u

/* The initramfs member holding this program, and the command line that makes
 * a copy of it the worker instead of main. */
#define RACE_MEMBER "race"
#define RACE_WORKER_CMDLINE "race-worker"

/* Where both processes map the shared page, and the worker's slot for it. */
#define RACE_SHARED_VA 0x0000200000000000ull
#define RACE_SLOT_SHARED 8u
#define PAGE 4096u

/* Yields main spends waiting for the worker at each step before giving up. */
#define RACE_WAIT_LIMIT 100000u

/* The shared page. Only `counter` is raced on; the flags are written by one
 * side and read by the other, which needs no more than volatile here. */
struct race_shared {
    volatile uint64_t counter;
    volatile uint32_t worker_ready; /* worker -> main: mapped and waiting for go */
    volatile uint32_t go;           /* main -> worker: start incrementing */
    volatile uint32_t worker_done;  /* worker -> main: all its increments written */
};

static struct race_shared *const g_shared = (struct race_shared *)RACE_SHARED_VA;

/* Keeps a CPU busy for `n` loop iterations, each its own basic block. */
static void work(uint32_t n)
{
    for (volatile uint32_t i = 0; i < n; i++) {
    }
}

/* The bug: read, work, write. Another process's write between our read and
 * our write is overwritten. */
static void increment(void)
{
    const uint64_t seen = g_shared->counter;
    work(RACE_WINDOW);
    g_shared->counter = seen + 1;
}

static void increment_all(void)
{
    for (uint32_t i = 0; i < RACE_ROUNDS; i++) {
        increment();
        work(RACE_GAP);
    }
}

/* Yields until *word is nonzero, at most RACE_WAIT_LIMIT times; 1 if it got there. */
static int wait_set(volatile uint32_t *word)
{
    for (uint32_t i = 0; i < RACE_WAIT_LIMIT && !*word; i++)
        anvil_thread_yield();
    return *word != 0;
}

/* The second process: slot 8 is the shared page. */
static int worker(void)
{
    if (anvil_vma_map(ANVIL_CAP_SELF_VSPACE, RACE_SHARED_VA, RACE_SLOT_SHARED, 0, PAGE,
                      ANVIL_PERM_R | ANVIL_PERM_W) != ANVIL_OK)
        return 2;
    g_shared->worker_ready = 1;
    /* Spin rather than yield, so both sides start incrementing together. */
    while (!g_shared->go) {
    }
    increment_all();
    g_shared->worker_done = 1;
    return 0;
}

/* Creates the shared page, maps it, and starts the worker with a cap to it. */
static anvil_status_t start_worker(uint64_t initramfs_size, anvil_cap_t *page, anvil_process_t *proc)
{
    const void *archive, *elf;
    size_t len;
    anvil_status_t s = anvil_initramfs_map(initramfs_size, &archive);
    if (s != ANVIL_OK)
        return s;
    s = anvil_cpio_find(archive, initramfs_size, RACE_MEMBER, &elf, &len);
    if (s != ANVIL_OK)
        return s;
    s = anvil_vmo_create(PAGE, page);
    if (s != ANVIL_OK)
        return s;
    s = anvil_vma_map(ANVIL_CAP_SELF_VSPACE, RACE_SHARED_VA, *page, 0, PAGE, ANVIL_PERM_R | ANVIL_PERM_W);
    if (s != ANVIL_OK)
        return s;
    const anvil_spawn_cap_t caps[1] = {
        {*page, RACE_SLOT_SHARED, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, 0},
    };
    anvil_spawn_options_t opts;
    memset(&opts, 0, sizeof opts);
    opts.priority = 100;
    opts.caps = caps;
    opts.cap_count = 1;
    opts.cmdline = RACE_WORKER_CMDLINE;
    return anvil_process_spawn(elf, len, &opts, proc);
}

int main(uint64_t start_arg)
{
    if (strcmp(anvil_cmdline(), RACE_WORKER_CMDLINE) == 0)
        return worker();

    anvil_stdio_use_ioserver();
    printf("race: two processes add %u each to a shared counter, unlocked\n", RACE_ROUNDS);
    anvil_cap_t page = 0;
    anvil_process_t proc;
    memset(&proc, 0, sizeof proc);
    anvil_status_t s = start_worker(start_arg, &page, &proc);
    if (s != ANVIL_OK) {
        printf("race: cannot start the worker: %s\n", anvil_status_str(s));
        return 2;
    }
    if (!wait_set(&g_shared->worker_ready)) {
        printf("race: the worker never started\n");
        return 2;
    }
    g_shared->go = 1;
    increment_all();
    if (!wait_set(&g_shared->worker_done)) {
        printf("race: the worker never finished\n");
        return 2;
    }
    anvil_process_destroy(&proc);

    const uint64_t expected = 2ull * RACE_ROUNDS;
    const uint64_t got = g_shared->counter;
    if (got != expected) {
        printf("race: lost %llu updates (counter %llu, expected %llu)\n", (unsigned long long)(expected - got),
               (unsigned long long)got, (unsigned long long)expected);
        return 1;
    }
    printf("race: counter %llu as expected\n", (unsigned long long)got);
    return 0;
}
