/* The syscall fuzzer (userspace/fuzz/): shared declarations.
 *
 * One program, several processes: the main service (process 0) starts copies of
 * itself (processes 1..N-1) with the same seed. In each process a supervisor
 * (the main thread) sets up the objects it must keep, then worker threads issue
 * random syscalls until the process's share of the budget is spent.
 *
 * Safety rule: the caps a process must keep (its own CNode, VSpace and threads,
 * the name/IO server endpoints, the fuzzer's bookkeeping objects) sit in the
 * "reserved" slots [1, res_end) of its CNode; everything the fuzzer creates or
 * receives lands in the "pool" slots [res_end, cnode_slots). Destructive calls
 * (delete, revoke, suspend, configure, writes, unmaps of our own memory) only
 * ever name pool caps, and the pool never holds a cap to a reserved object, so
 * a thread the fuzzer configures runs in a pool CNode and VSpace. fz_sanitize()
 * enforces the rule on every call before it is issued. */
#ifndef ANVIL_FUZZ_H
#define ANVIL_FUZZ_H

#include <anvil/anvil.h>
#include <stddef.h>
#include <stdint.h>

#define FZ_MAX_PROCS 4
#define FZ_MAX_WORKERS 8
#define FZ_VICTIMS 4
#define FZ_PRIORITY 100u

/* Syscall numbers 0..ANVIL_SYS_COUNT-1, then one bucket for every out-of-range number. */
#define FZ_BUCKETS (ANVIL_SYS_COUNT + 1)
#define FZ_OOB_BUCKET ANVIL_SYS_COUNT
#define FZ_STATUSES (1 - ANVIL_STATUS_MIN)

/* Where each fuzzer process keeps things (besides its program and stack). */
#define FZ_ALLOC_LO 0x0000100000000000ull    /* vma_alloc's area: only the fuzz uses it */
#define FZ_ALLOC_HI 0x0000200000000000ull
#define FZ_WINDOW_VA 0x0000300000000000ull   /* fuzz mappings in our own VSpace */
#define FZ_WINDOW_SIZE (64ull << 20)
#define FZ_SCRATCH_VA 0x0000310000000000ull  /* per-thread scratch, a guard gap after each */
#define FZ_SCRATCH_STRIDE 0x10000ull
#define FZ_SCRATCH_SIZE 0x4000ull
#define FZ_RO_VA 0x0000311000000000ull       /* one read-only page of 0xee, unmapped after */
#define FZ_RO_FILL 0xee
#define FZ_CANARY_VA 0x0000312000000000ull   /* a VMO canary, mapped read-only */
#define FZ_CANARY_PAGES 4u
#define FZ_STATS_VA 0x0000313000000000ull    /* FZ_MAX_PROCS pages shared by all processes */
#define FZ_KERNEL_VA 0xffff800000000000ull
#define FZ_NONCANONICAL_VA 0x0000800000000000ull

/* Slots a child finds its shared caps in (beside io in slot 5). */
#define FZ_CHILD_SLOT_SE 8u
#define FZ_CHILD_SLOT_SN 9u
#define FZ_CHILD_SLOT_STATS 10u

/* Exit code of a worker that spent its budget (its fault endpoint hears it). */
#define FZ_WORKER_DONE 0x600d
/* Fault endpoint badges: worker i is i + 1; victims share this one. */
#define FZ_BADGE_VICTIM 0x100u

/* What one process reports, in its page of the shared stats VMO. */
struct fz_stats {
    uint64_t syscalls;     /* calls made through fz_call */
    uint64_t failures;     /* unexpected results and broken invariants */
    uint64_t kicks;        /* times the supervisor woke stalled threads */
    uint64_t restarts;     /* workers restarted after a long stall */
    uint64_t victim_stops; /* exits and faults of victim threads */
    uint64_t ops;          /* fuzz operations done by workers */
    uint64_t caps_received; /* caps that arrived in messages workers received */
    uint32_t pairs[FZ_BUCKETS]; /* bit -status set: (nr, status) seen */
    uint32_t counts[FZ_BUCKETS][FZ_STATUSES]; /* how often (fuzz.verbose=1 prints them) */
    uint32_t finished;
};

/* One fuzzing thread (a worker or a victim), in static memory. */
struct fz_thread {
    char kind;                 /* 'w' worker, 'v' victim */
    uint32_t index;
    uint64_t rng;
    volatile uint64_t progress; /* operations done */
    volatile uint32_t done;
    int valid;                 /* this operation: plausible arguments only */
    uint8_t *scratch;          /* FZ_SCRATCH_SIZE bytes, a guard gap after (workers) */
    uint8_t canary[128];       /* must never change */
    anvil_msg_t msg;           /* victims' message buffer */
};

/* The process's state, set up by main.c before any thread runs. */
struct fz_ctx {
    uint64_t seed;
    uint32_t proc;        /* 0: the main service; 1..: copies */
    uint32_t procs;
    uint32_t workers;
    uint64_t budget;      /* fuzz operations this process makes */
    uint64_t issued;      /* operations handed out so far (atomic) */
    uint32_t cnode_slots;
    uint32_t res_end;     /* first pool slot */
    anvil_cap_t se, sn;   /* endpoint and notification shared by all processes */
    anvil_cap_t dn;       /* a notification the hole-filling dummies copy */
    struct fz_stats *stats;
};

extern struct fz_ctx g_fz;
extern volatile uint8_t g_hint[4096]; /* ANVIL_OBJ_* last seen in a pool slot */

/* Random numbers: xorshift64*, seeded with splitmix64. */
uint64_t fz_mix(uint64_t x);
uint64_t fz_rand(uint64_t *state);
uint32_t fz_below(uint64_t *state, uint32_t n);

/* Issues syscall `nr` with arguments a[0..6], records (nr, status), checks the
 * status is a documented one allowed for that call, and returns it. */
anvil_status_t fz_call(struct fz_thread *t, uint64_t nr, const uint64_t *a, uint64_t *out);
/* Records a failure (counted; the first few are printed). */
void fz_fail(struct fz_thread *t, const char *what, uint64_t nr, const uint64_t *a, int64_t status);

/* One random operation of a worker. */
void fz_op(struct fz_thread *t);
/* Thread entries (rdi = index into g_workers / g_victims). */
void fz_worker_entry(uint64_t index);
void fz_victim_entry(uint64_t index);

extern struct fz_thread g_workers[FZ_MAX_WORKERS];
extern struct fz_thread g_victims[FZ_VICTIMS];

/* True for a reserved slot number. */
static inline int fz_reserved(uint64_t slot) { return slot >= 1 && slot < g_fz.res_end; }

#endif
