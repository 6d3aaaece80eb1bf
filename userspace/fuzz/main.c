/* fuzz: a seeded syscall fuzzer (userspace/fuzz/services, initramfs-fuzz.cpio).
 *
 * The main service (process 0) reads `fuzz.seed=N` and `fuzz.ops=N` from its
 * command line (also `fuzz.procs=N`, 1..4, and `fuzz.threads=N`, 1..8), starts
 * procs-1 copies of itself with the same seed, and every process runs `threads`
 * workers issuing random syscalls (ops.c) until its share of the budget is
 * spent, plus a few victim threads for the others to suspend, resume and
 * reconfigure. What the fuzzer checks, from userspace:
 *   - every status is a documented code, one ABI.md allows for that call, and a
 *     slot outside the caller's CNode is INVALID_CAP;
 *   - the caps it keeps (reserved slots) keep their type, rights, badge and
 *     object id; its own memory (a canary buffer, a canary VMO mapped read-only,
 *     each thread's canary and stack guard) never changes;
 *   - no worker faults; every process finishes; the kernel still creates,
 *     writes and reads a VMO at the end.
 * The last line is "fuzz: N syscalls, M distinct (nr, status) pairs, K failures"
 * (N: the calls of workers and victims in every process); `fuzz.verbose=1`
 * also prints how often each (nr, status) pair occurred. The exit code is 0
 * when K is 0, else 1 (setup problems: 3). A kernel panic or hang shows as the
 * simulator's own exit status (126, 122, 124). */
#include "fuzz.h"

#include <anvil/cpio.h>
#include <anvil/process.h>
#include <anvil/services.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE ANVIL_PAGE_SIZE
#define FZ_MEMBER "fuzz"
#define FZ_CHILD_CNODE_SLOTS 512u
#define FZ_WORKER_STACK (32u * 1024u)
#define FZ_VICTIM_STACK (8u * 1024u)
#define FZ_CANARY_BYTES (FZ_CANARY_PAGES * PAGE)
/* Supervisor iterations (one yield each) without progress before a worker is
 * kicked (its endpoints and notifications poked), and before it is restarted. */
#define FZ_KICK_AFTER 200u
#define FZ_RESTART_AFTER 800u
/* Iterations the main process waits for its copies to finish. */
#define FZ_CHILD_WAIT 4000000u

/* Figures of the setup calls made before the shared stats page is mapped. */
static struct fz_stats g_setup_stats;
struct fz_ctx g_fz = {.stats = &g_setup_stats, .cnode_slots = 16};
volatile uint8_t g_hint[4096];
struct fz_thread g_workers[FZ_MAX_WORKERS];
struct fz_thread g_victims[FZ_VICTIMS];

static uint8_t g_worker_stacks[FZ_MAX_WORKERS][FZ_WORKER_STACK] __attribute__((aligned(16)));
static uint8_t g_victim_stacks[FZ_VICTIMS][FZ_VICTIM_STACK] __attribute__((aligned(16)));
static uint8_t g_canary[FZ_CANARY_BYTES];
static uint64_t g_canary_sum;

static struct fz_thread g_super = {.kind = 's'};
static anvil_cap_t g_fe, g_cfe, g_stats_vmo, g_canary_vmo, g_ro_vmo, g_scratch_vmo;
static anvil_cap_t g_worker_tcb[FZ_MAX_WORKERS], g_victim_tcb[FZ_VICTIMS];
static anvil_process_t g_children[FZ_MAX_PROCS];
static int g_child_reported[FZ_MAX_PROCS];
static int g_worker_finished[FZ_MAX_WORKERS];
static anvil_cap_info_t g_snapshot[FZ_CHILD_CNODE_SLOTS];

/* ---- helpers ------------------------------------------------------------------ */

/* The value of `key=` among the words of the command line, or `def`. */
static uint64_t word_value(const char *line, const char *key, uint64_t def)
{
    const size_t klen = strlen(key);
    const char *p = line;
    while (*p) {
        while (*p == ' ')
            p++;
        if (strncmp(p, key, klen) == 0 && p[klen] == '=')
            return strtoull(p + klen + 1, NULL, 0);
        while (*p && *p != ' ')
            p++;
    }
    return def;
}

/* A checked syscall of the supervisor (counted like the workers' ones). */
static anvil_status_t sys(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
                          uint64_t a6, uint64_t *out0)
{
    const uint64_t a[7] = {a0, a1, a2, a3, a4, a5, a6};
    uint64_t out[2] = {0, 0};
    const anvil_status_t s = fz_call(&g_super, nr, a, out);
    if (out0)
        *out0 = out[0];
    return s;
}

static int setup_failed(const char *what, anvil_status_t s)
{
    printf("fuzz: setup (process %u): %s: %s\n", g_fz.proc, what, anvil_status_str(s));
    return 0;
}

/* Creates an object of a kind (nr = *_create) into *out. */
static int create(uint64_t nr, uint64_t arg, anvil_cap_t *out, const char *what)
{
    uint64_t slot = 0;
    const anvil_status_t s = sys(nr, arg, 0, 0, 0, 0, 0, 0, &slot);
    if (s != ANVIL_OK)
        return setup_failed(what, s);
    *out = (anvil_cap_t)slot;
    return 1;
}

static uint64_t canary_sum(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Starts thread `tcb` at entry(arg) on a stack. */
static anvil_status_t start_thread(anvil_cap_t tcb, void (*entry)(uint64_t), uint64_t arg, uint8_t *stack_top)
{
    anvil_regs_t regs;
    memset(&regs, 0, sizeof regs);
    regs.rip = (uint64_t)(uintptr_t)entry;
    regs.rsp = (uint64_t)(uintptr_t)stack_top - 8; /* as after a call */
    regs.rdi = arg;
    regs.rflags = 0x202;
    anvil_status_t s = sys(ANVIL_SYS_tcb_set_regs, tcb, (uint64_t)(uintptr_t)&regs, 0, 0, 0, 0, 0, NULL);
    if (s == ANVIL_OK)
        s = sys(ANVIL_SYS_tcb_resume, tcb, 0, 0, 0, 0, 0, 0, NULL);
    return s;
}

static void init_thread(struct fz_thread *t, char kind, uint32_t index)
{
    t->kind = kind;
    t->index = index;
    t->rng = fz_mix(g_fz.seed ^ ((uint64_t)g_fz.proc << 40) ^ ((uint64_t)(uint8_t)kind << 32) ^ index) | 1;
    for (unsigned i = 0; i < sizeof t->canary; i++)
        t->canary[i] = (uint8_t)(i * 7 + index + kind);
}

/* ---- setup ---------------------------------------------------------------------- */

/* The objects every process keeps: created before any fuzzing thread runs, so
 * they fill the low slots of our CNode (the reserved range). */
static int setup_reserved(void)
{
    const uint32_t t = g_fz.workers;
    if (!create(ANVIL_SYS_endpoint_create, 0, &g_fe, "fault endpoint") ||
        !create(ANVIL_SYS_notification_create, 0, &g_fz.dn, "dummy notification"))
        return 0;
    if (g_fz.proc == 0) {
        if (!create(ANVIL_SYS_endpoint_create, 0, &g_fz.se, "shared endpoint") ||
            !create(ANVIL_SYS_notification_create, 0, &g_fz.sn, "shared notification") ||
            !create(ANVIL_SYS_endpoint_create, 0, &g_cfe, "children's fault endpoint") ||
            !create(ANVIL_SYS_vmo_create, FZ_MAX_PROCS * PAGE, &g_stats_vmo, "stats VMO"))
            return 0;
    } else {
        g_fz.se = FZ_CHILD_SLOT_SE;
        g_fz.sn = FZ_CHILD_SLOT_SN;
        g_stats_vmo = FZ_CHILD_SLOT_STATS;
    }
    anvil_status_t s = sys(ANVIL_SYS_vma_map, ANVIL_CAP_SELF_VSPACE, FZ_STATS_VA, g_stats_vmo, 0, FZ_MAX_PROCS * PAGE,
                           ANVIL_PERM_R | ANVIL_PERM_W, 0, NULL);
    if (s != ANVIL_OK)
        return setup_failed("map the stats VMO", s);
    g_fz.stats = (struct fz_stats *)(uintptr_t)(FZ_STATS_VA + g_fz.proc * PAGE);
    memset(g_fz.stats, 0, sizeof *g_fz.stats);

    /* Canaries: a buffer in our data, and a VMO mapped read-only. */
    uint64_t x = fz_mix(g_fz.seed + g_fz.proc);
    for (size_t i = 0; i < sizeof g_canary; i++)
        g_canary[i] = (uint8_t)((x = fz_mix(x)) >> 56);
    g_canary_sum = canary_sum(g_canary, sizeof g_canary);
    if (!create(ANVIL_SYS_vmo_create, FZ_CANARY_BYTES, &g_canary_vmo, "canary VMO"))
        return 0;
    s = sys(ANVIL_SYS_vmo_write, g_canary_vmo, 0, (uint64_t)(uintptr_t)g_canary, FZ_CANARY_BYTES, 0, 0, 0, NULL);
    if (s == ANVIL_OK)
        s = sys(ANVIL_SYS_vma_map, ANVIL_CAP_SELF_VSPACE, FZ_CANARY_VA, g_canary_vmo, 0, FZ_CANARY_BYTES, ANVIL_PERM_R,
                0, NULL);
    if (s != ANVIL_OK)
        return setup_failed("canary VMO", s);

    /* The read-only page of 0xee and the per-thread scratch. */
    uint8_t fill[256];
    memset(fill, FZ_RO_FILL, sizeof fill);
    if (!create(ANVIL_SYS_vmo_create, PAGE, &g_ro_vmo, "read-only VMO"))
        return 0;
    for (uint64_t off = 0; off < PAGE && s == ANVIL_OK; off += sizeof fill)
        s = sys(ANVIL_SYS_vmo_write, g_ro_vmo, off, (uint64_t)(uintptr_t)fill, sizeof fill, 0, 0, 0, NULL);
    if (s == ANVIL_OK)
        s = sys(ANVIL_SYS_vma_map, ANVIL_CAP_SELF_VSPACE, FZ_RO_VA, g_ro_vmo, 0, PAGE, ANVIL_PERM_R, 0, NULL);
    if (s != ANVIL_OK)
        return setup_failed("read-only page", s);
    if (!create(ANVIL_SYS_vmo_create, t * FZ_SCRATCH_SIZE, &g_scratch_vmo, "scratch VMO"))
        return 0;
    for (uint32_t i = 0; i < t; i++) {
        s = sys(ANVIL_SYS_vma_map, ANVIL_CAP_SELF_VSPACE, FZ_SCRATCH_VA + i * FZ_SCRATCH_STRIDE, g_scratch_vmo,
                i * FZ_SCRATCH_SIZE, FZ_SCRATCH_SIZE, ANVIL_PERM_R | ANVIL_PERM_W, 0, NULL);
        if (s != ANVIL_OK)
            return setup_failed("map scratch", s);
    }

    /* Workers and victims, each told to our fault endpoint with its own badge
     * (the thread keeps the endpoint; the badged copy goes again). */
    for (uint32_t i = 0; i < t + FZ_VICTIMS; i++) {
        const int victim = i >= t;
        anvil_cap_t tcb;
        uint64_t fe_copy = 0;
        if (!create(ANVIL_SYS_tcb_create, 0, &tcb, victim ? "victim thread" : "worker thread"))
            return 0;
        s = sys(ANVIL_SYS_cap_copy, ANVIL_CAP_SELF_CNODE, g_fe, ANVIL_CAP_SELF_CNODE, ANVIL_SLOT_ANY,
                ANVIL_RIGHT_WRITE, victim ? FZ_BADGE_VICTIM : i + 1, 0, &fe_copy);
        if (s == ANVIL_OK)
            s = sys(ANVIL_SYS_tcb_configure, tcb, ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_VSPACE, 0, FZ_PRIORITY,
                    ANVIL_CPU_ANY, fe_copy, NULL);
        if (s == ANVIL_OK)
            s = sys(ANVIL_SYS_cap_delete, ANVIL_CAP_SELF_CNODE, fe_copy, 0, 0, 0, 0, 0, NULL);
        if (s != ANVIL_OK)
            return setup_failed("configure a thread", s);
        if (victim) {
            g_victim_tcb[i - t] = tcb;
            init_thread(&g_victims[i - t], 'v', i - t);
        } else {
            g_worker_tcb[i] = tcb;
            init_thread(&g_workers[i], 'w', i);
            g_workers[i].scratch = (uint8_t *)(uintptr_t)(FZ_SCRATCH_VA + i * FZ_SCRATCH_STRIDE);
        }
    }
    return 1;
}

/* Process 0 starts the copies: same program, same seed, their own share. */
static int spawn_children(uint64_t initramfs_size, uint64_t share)
{
    const void *archive, *elf;
    size_t len;
    anvil_status_t s = anvil_initramfs_map(initramfs_size, &archive);
    if (s == ANVIL_OK)
        s = anvil_cpio_find(archive, initramfs_size, FZ_MEMBER, &elf, &len);
    if (s != ANVIL_OK)
        return setup_failed("find the fuzz program in the initramfs", s);
    for (uint32_t i = 1; i < g_fz.procs; i++) {
        uint32_t fault_slot;
        s = anvil_cap_copy_any(ANVIL_CAP_SELF_CNODE, g_cfe, ANVIL_CAP_SELF_CNODE, ANVIL_RIGHT_WRITE, i, &fault_slot);
        if (s != ANVIL_OK)
            return setup_failed("badge the children's fault endpoint", s);
        const anvil_spawn_cap_t caps[4] = {
            {ANVIL_CAP_IOSERVER, ANVIL_CAP_IOSERVER, ANVIL_RIGHT_WRITE | ANVIL_RIGHT_GRANT, 0},
            {g_fz.se, FZ_CHILD_SLOT_SE, ANVIL_RIGHTS_ALL, 0},
            {g_fz.sn, FZ_CHILD_SLOT_SN, ANVIL_RIGHTS_ALL, 0},
            {g_stats_vmo, FZ_CHILD_SLOT_STATS, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, 0},
        };
        char cmdline[128];
        snprintf(cmdline, sizeof cmdline, "fuzz.child=%u fuzz.procs=%u fuzz.seed=%llu fuzz.ops=%llu fuzz.threads=%u",
                 i, g_fz.procs, (unsigned long long)g_fz.seed, (unsigned long long)share, g_fz.workers);
        anvil_spawn_options_t opts;
        memset(&opts, 0, sizeof opts);
        opts.priority = FZ_PRIORITY;
        opts.cnode_slots = FZ_CHILD_CNODE_SLOTS;
        opts.caps = caps;
        opts.cap_count = 4;
        opts.fault_ep = fault_slot;
        opts.cmdline = cmdline;
        s = anvil_process_spawn(elf, len, &opts, &g_children[i]);
        anvil_cap_delete(ANVIL_CAP_SELF_CNODE, fault_slot);
        if (s != ANVIL_OK)
            return setup_failed("start a copy", s);
    }
    return 1;
}

/* Ends the reserved range after the highest slot in use, fills its holes with
 * read-only dummies (so new caps always land in the pool) and remembers what
 * every reserved slot holds. */
static int close_reserved(void)
{
    anvil_cap_info_t info;
    uint32_t last = 0;
    for (uint32_t slot = 1; slot < g_fz.cnode_slots; slot++)
        if (anvil_cap_info(ANVIL_CAP_SELF_CNODE, slot, &info) == ANVIL_OK)
            last = slot;
    g_fz.res_end = last + 1;
    for (uint32_t slot = 1; slot < g_fz.res_end; slot++) {
        if (anvil_cap_info(ANVIL_CAP_SELF_CNODE, slot, &info) == ANVIL_OK)
            continue;
        const anvil_status_t s =
            anvil_cap_copy(ANVIL_CAP_SELF_CNODE, g_fz.dn, ANVIL_CAP_SELF_CNODE, slot, ANVIL_RIGHT_READ, 0);
        if (s != ANVIL_OK)
            return setup_failed("fill a reserved hole", s);
    }
    for (uint32_t slot = 1; slot < g_fz.res_end; slot++) {
        const anvil_status_t s = anvil_cap_info(ANVIL_CAP_SELF_CNODE, slot, &g_snapshot[slot]);
        if (s != ANVIL_OK)
            return setup_failed("read a reserved slot", s);
    }
    if (g_fz.res_end + 32 > g_fz.cnode_slots) {
        printf("fuzz: setup (process %u): no room for a pool (%u reserved slots)\n", g_fz.proc, g_fz.res_end);
        return 0;
    }
    return 1;
}

/* A first pool: a few objects of each kind, copies of the shared ones, and
 * copies of the victims without WRITE (so nobody can set their registers). */
static void seed_pool(void)
{
    static const uint64_t kinds[] = {ANVIL_SYS_endpoint_create, ANVIL_SYS_endpoint_create,
                                     ANVIL_SYS_notification_create, ANVIL_SYS_notification_create,
                                     ANVIL_SYS_vmo_create, ANVIL_SYS_vmo_create, ANVIL_SYS_cnode_create,
                                     ANVIL_SYS_vspace_create, ANVIL_SYS_tcb_create};
    static const uint8_t types[] = {ANVIL_OBJ_ENDPOINT, ANVIL_OBJ_ENDPOINT, ANVIL_OBJ_NOTIFICATION,
                                    ANVIL_OBJ_NOTIFICATION, ANVIL_OBJ_VMO, ANVIL_OBJ_VMO, ANVIL_OBJ_CNODE,
                                    ANVIL_OBJ_VSPACE, ANVIL_OBJ_TCB};
    for (unsigned i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        uint64_t slot;
        const uint64_t arg = kinds[i] == ANVIL_SYS_vmo_create ? (i + 1) * PAGE : 16;
        if (sys(kinds[i], arg, 0, 0, 0, 0, 0, 0, &slot) == ANVIL_OK && slot < sizeof g_hint)
            g_hint[slot] = types[i];
        /* (workers learn the rest as they go) */
    }
    const anvil_cap_t shared[2] = {g_fz.se, g_fz.sn};
    for (unsigned i = 0; i < 2; i++) {
        uint64_t slot;
        if (sys(ANVIL_SYS_cap_copy, ANVIL_CAP_SELF_CNODE, shared[i], ANVIL_CAP_SELF_CNODE, ANVIL_SLOT_ANY,
                ANVIL_RIGHTS_ALL, 0, 0, &slot) == ANVIL_OK && slot < sizeof g_hint)
            g_hint[slot] = i ? ANVIL_OBJ_NOTIFICATION : ANVIL_OBJ_ENDPOINT;
    }
    for (unsigned i = 0; i < FZ_VICTIMS; i++) {
        uint64_t slot;
        if (sys(ANVIL_SYS_cap_copy, ANVIL_CAP_SELF_CNODE, g_victim_tcb[i], ANVIL_CAP_SELF_CNODE, ANVIL_SLOT_ANY,
                ANVIL_RIGHT_READ | ANVIL_RIGHT_MANAGE | ANVIL_RIGHT_GRANT, 0, 0, &slot) == ANVIL_OK &&
            slot < sizeof g_hint)
            g_hint[slot] = ANVIL_OBJ_TCB;
    }
}

/* ---- supervision ------------------------------------------------------------------ */

/* The invariants we can see: canaries and the reserved caps. */
static void check_invariants(const char *when)
{
    char what[160];
    if (canary_sum(g_canary, sizeof g_canary) != g_canary_sum) {
        snprintf(what, sizeof what, "%s: the canary buffer changed", when);
        fz_fail(&g_super, what, 0, NULL, 0);
    }
    if (memcmp((const void *)(uintptr_t)FZ_CANARY_VA, g_canary, FZ_CANARY_BYTES) != 0) {
        snprintf(what, sizeof what, "%s: the canary VMO's mapping changed", when);
        fz_fail(&g_super, what, 0, NULL, 0);
    }
    uint8_t buf[512];
    for (uint64_t off = 0; off < FZ_CANARY_BYTES; off += sizeof buf) {
        const anvil_status_t s = sys(ANVIL_SYS_vmo_read, g_canary_vmo, off, (uint64_t)(uintptr_t)buf, sizeof buf,
                                     0, 0, 0, NULL);
        if (s != ANVIL_OK || memcmp(buf, g_canary + off, sizeof buf) != 0) {
            snprintf(what, sizeof what, "%s: vmo_read of the canary VMO at %llu: %s", when, (unsigned long long)off,
                     s == ANVIL_OK ? "different bytes" : anvil_status_str(s));
            fz_fail(&g_super, what, 0, NULL, 0);
            break;
        }
    }
    for (uint32_t slot = 1; slot < g_fz.res_end; slot++) {
        anvil_cap_info_t info;
        const anvil_status_t s = sys(ANVIL_SYS_cap_info, ANVIL_CAP_SELF_CNODE, slot, (uint64_t)(uintptr_t)&info, 0,
                                     0, 0, 0, NULL);
        const anvil_cap_info_t *was = &g_snapshot[slot];
        if (s != ANVIL_OK || info.type != was->type || info.rights != was->rights || info.badge != was->badge ||
            info.object_id != was->object_id) {
            snprintf(what, sizeof what, "%s: reserved slot %u changed: %s, type %u -> %u, object %llu -> %llu", when,
                     slot, anvil_status_str(s), was->type, info.type, (unsigned long long)was->object_id,
                     (unsigned long long)info.object_id);
            fz_fail(&g_super, what, 0, NULL, 0);
        }
    }
}

/* Wakes threads blocked on the objects we can name: a message and a receive on
 * every endpoint (answering any call taken), a signal on every notification. */
static void kick(void)
{
    __atomic_fetch_add(&g_fz.stats->kicks, 1, __ATOMIC_RELAXED);
    anvil_msg_t m;
    /* The shared endpoint first, then the pool. */
    for (uint32_t slot = g_fz.res_end - 1; slot < g_fz.cnode_slots; slot++) {
        const anvil_cap_t s = slot == g_fz.res_end - 1 ? g_fz.se : slot;
        anvil_cap_info_t info;
        if (anvil_cap_info(ANVIL_CAP_SELF_CNODE, s, &info) != ANVIL_OK)
            continue;
        if (info.type == ANVIL_OBJ_ENDPOINT) {
            memset(&m, 0, offsetof(anvil_msg_t, data));
            sys(ANVIL_SYS_ipc_try_send, s, (uint64_t)(uintptr_t)&m, 0, 0, 0, 0, 0, NULL);
            m.ncaps = ANVIL_MSG_MAX_CAPS;
            for (unsigned i = 0; i < ANVIL_MSG_MAX_CAPS; i++)
                m.caps[i] = ANVIL_SLOT_ANY;
            if (sys(ANVIL_SYS_ipc_try_recv, s, (uint64_t)(uintptr_t)&m, 0, 0, 0, 0, 0, NULL) == ANVIL_OK) {
                memset(&m, 0, offsetof(anvil_msg_t, data));
                sys(ANVIL_SYS_ipc_reply, (uint64_t)(uintptr_t)&m, 0, 0, 0, 0, 0, 0, NULL);
            }
        } else if (info.type == ANVIL_OBJ_NOTIFICATION) {
            sys(ANVIL_SYS_notify_signal, s, 1, 0, 0, 0, 0, 0, NULL);
        }
    }
    sys(ANVIL_SYS_notify_signal, g_fz.sn, 1, 0, 0, 0, 0, 0, NULL);
    sys(ANVIL_SYS_notify_signal, g_fz.dn, 1, 0, 0, 0, 0, 0, NULL);
}

/* Starts a worker again from its entry (it may be blocked for good). */
static void restart(uint32_t w)
{
    if (sys(ANVIL_SYS_tcb_suspend, g_worker_tcb[w], 0, 0, 0, 0, 0, 0, NULL) != ANVIL_OK)
        return; /* it stopped meanwhile; its fault endpoint will say how */
    __atomic_fetch_add(&g_fz.stats->restarts, 1, __ATOMIC_RELAXED);
    const anvil_status_t s =
        start_thread(g_worker_tcb[w], fz_worker_entry, w, g_worker_stacks[w] + FZ_WORKER_STACK);
    if (s != ANVIL_OK) {
        char what[96];
        snprintf(what, sizeof what, "cannot restart worker %u: %s", w, anvil_status_str(s));
        fz_fail(&g_super, what, 0, NULL, 0);
    }
}

/* Reads every message on a fault endpoint: workers that end, victims that stop,
 * copies of this program that exit. */
static void drain(anvil_cap_t ep)
{
    for (;;) {
        anvil_msg_t m;
        memset(&m, 0, offsetof(anvil_msg_t, data));
        uint64_t badge = 0;
        const anvil_status_t s = sys(ANVIL_SYS_ipc_try_recv, ep, (uint64_t)(uintptr_t)&m, 0, 0, 0, 0, 0, &badge);
        if (s == ANVIL_ERR_WOULD_BLOCK)
            return;
        char what[200];
        if (s != ANVIL_OK || m.label != ANVIL_FAULT_MSG_LABEL || m.len != sizeof(anvil_fault_msg_t)) {
            snprintf(what, sizeof what, "unexpected receive on a fault endpoint: %s, label %#llx",
                     anvil_status_str(s), (unsigned long long)m.label);
            fz_fail(&g_super, what, 0, NULL, 0);
            return;
        }
        anvil_fault_msg_t f;
        memcpy(&f, m.data, sizeof f);
        if (ep == g_cfe) {
            if (badge >= 1 && badge < g_fz.procs && !g_child_reported[badge]) {
                g_child_reported[badge] = 1;
                if (f.kind == ANVIL_FAULT_KIND_EXIT && (f.exit_code == 0 || f.exit_code == 1))
                    continue; /* its failures are in its stats */
            }
            snprintf(what, sizeof what, "copy %llu stopped: kind %u, exit code %lld, address %#llx, rip %#llx",
                     (unsigned long long)badge, f.kind, (long long)f.exit_code, (unsigned long long)f.address,
                     (unsigned long long)f.rip);
            fz_fail(&g_super, what, 0, NULL, 0);
        } else if (badge == FZ_BADGE_VICTIM) {
            __atomic_fetch_add(&g_fz.stats->victim_stops, 1, __ATOMIC_RELAXED);
            if (f.kind == ANVIL_FAULT_KIND_EXIT) /* thread_exit works: it never returns to be counted */
                __atomic_fetch_or(&g_fz.stats->pairs[ANVIL_SYS_thread_exit], 1u, __ATOMIC_RELAXED);
        } else if (badge >= 1 && badge <= g_fz.workers) {
            const uint32_t w = (uint32_t)badge - 1;
            g_worker_finished[w] = 1;
            if (f.kind == ANVIL_FAULT_KIND_EXIT && f.exit_code == FZ_WORKER_DONE && g_workers[w].done)
                continue;
            snprintf(what, sizeof what, "worker %u stopped: kind %u, access %u, address %#llx, rip %#llx, code %lld",
                     w, f.kind, f.access, (unsigned long long)f.address, (unsigned long long)f.rip,
                     (long long)f.exit_code);
            fz_fail(&g_super, what, 0, NULL, 0);
        } else {
            snprintf(what, sizeof what, "fault message with unknown badge %#llx", (unsigned long long)badge);
            fz_fail(&g_super, what, 0, NULL, 0);
        }
    }
}

/* Runs until every worker has finished, kicking and restarting stalled ones. */
static void supervise(void)
{
    uint64_t last[FZ_MAX_WORKERS] = {0};
    uint32_t stall[FZ_MAX_WORKERS] = {0};
    for (uint64_t iter = 1;; iter++) {
        sys(ANVIL_SYS_thread_yield, 0, 0, 0, 0, 0, 0, 0, NULL);
        drain(g_fe);
        if (g_fz.proc == 0)
            drain(g_cfe);
        if (iter % 256 == 0)
            check_invariants("during the run");
        uint32_t finished = 0, stalled = 0;
        for (uint32_t w = 0; w < g_fz.workers; w++) {
            if (g_worker_finished[w]) {
                finished++;
                continue;
            }
            const uint64_t now = g_workers[w].progress;
            if (now != last[w]) {
                last[w] = now;
                stall[w] = 0;
                continue;
            }
            if (++stall[w] >= FZ_RESTART_AFTER) {
                restart(w);
                stall[w] = 0;
            } else if (stall[w] % FZ_KICK_AFTER == 0) {
                stalled = 1;
            }
        }
        if (stalled)
            kick();
        if (finished == g_fz.workers)
            return;
    }
}

/* Deletes every cap in the pool (its objects go when their last cap does). */
static void empty_pool(void)
{
    for (uint32_t slot = g_fz.res_end; slot < g_fz.cnode_slots; slot++) {
        const anvil_status_t s = sys(ANVIL_SYS_cap_delete, ANVIL_CAP_SELF_CNODE, slot, 0, 0, 0, 0, 0, NULL);
        if (s != ANVIL_OK && s != ANVIL_ERR_INVALID_CAP) {
            char what[96];
            snprintf(what, sizeof what, "emptying pool slot %u: %s", slot, anvil_status_str(s));
            fz_fail(&g_super, what, 0, NULL, 0);
        }
    }
}

/* The kernel still works: a VMO round trip after all that. */
static void check_still_works(void)
{
    uint64_t slot = 0;
    anvil_status_t s = sys(ANVIL_SYS_vmo_create, 2 * PAGE, 0, 0, 0, 0, 0, 0, &slot);
    char in[64], out[64];
    for (unsigned i = 0; i < sizeof in; i++)
        in[i] = (char)(i * 3 + 1);
    memset(out, 0, sizeof out);
    if (s == ANVIL_OK)
        s = sys(ANVIL_SYS_vmo_write, slot, PAGE - 10, (uint64_t)(uintptr_t)in, sizeof in, 0, 0, 0, NULL);
    if (s == ANVIL_OK)
        s = sys(ANVIL_SYS_vmo_read, slot, PAGE - 10, (uint64_t)(uintptr_t)out, sizeof out, 0, 0, 0, NULL);
    if (s == ANVIL_OK)
        s = sys(ANVIL_SYS_cap_delete, ANVIL_CAP_SELF_CNODE, slot, 0, 0, 0, 0, 0, NULL);
    if (s != ANVIL_OK || memcmp(in, out, sizeof in) != 0) {
        char what[96];
        snprintf(what, sizeof what, "a VMO round trip after the run failed: %s", anvil_status_str(s));
        fz_fail(&g_super, what, 0, NULL, 0);
    }
}

/* Our CNode's size (a power of two): the last slot a copy can be put in. */
static uint32_t cnode_size(void)
{
    for (uint32_t n = 4096; n > 16; n /= 2) {
        const anvil_status_t s = anvil_cap_copy(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_CNODE,
                                                n - 1, 0, 0);
        if (s == ANVIL_OK)
            anvil_cap_delete(ANVIL_CAP_SELF_CNODE, n - 1);
        if (s == ANVIL_OK || s == ANVIL_ERR_SLOT_OCCUPIED)
            return n;
    }
    return 16;
}

static unsigned popcount32(uint32_t v)
{
    unsigned n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

/* Process 0: waits for every copy to exit, then destroys them. */
static void wait_for_copies(void)
{
    for (uint32_t iter = 0;; iter++) {
        uint32_t waiting = 0;
        for (uint32_t i = 1; i < g_fz.procs; i++)
            waiting += !g_child_reported[i];
        if (!waiting)
            break;
        if (iter == FZ_CHILD_WAIT) {
            fz_fail(&g_super, "a copy did not finish", 0, NULL, 0);
            break;
        }
        sys(ANVIL_SYS_thread_yield, 0, 0, 0, 0, 0, 0, 0, NULL);
        drain(g_cfe);
        drain(g_fe);
    }
    for (uint32_t i = 1; i < g_fz.procs; i++) {
        const anvil_status_t s = anvil_process_destroy(&g_children[i]);
        if (s != ANVIL_OK) {
            char what[96];
            snprintf(what, sizeof what, "destroying copy %u: %s", i, anvil_status_str(s));
            fz_fail(&g_super, what, 0, NULL, 0);
        }
    }
}

/* A status's name without the ANVIL_ / ANVIL_ERR_ prefix. */
static const char *short_status(int status)
{
    const char *name = anvil_status_str(status);
    return name + (status == ANVIL_OK ? 6 : 10);
}

/* Process 0: adds up every process's figures and prints the closing lines;
 * returns the exit code (0: no failures). */
static int report(int verbose)
{
    uint64_t syscalls = 0, failures = 0, kicks = 0, restarts = 0, victims = 0, done_ops = 0, caps_in = 0;
    uint32_t pairs[FZ_BUCKETS] = {0};
    static uint32_t counts[FZ_BUCKETS][FZ_STATUSES];
    for (uint32_t i = 0; i < g_fz.procs; i++) {
        const struct fz_stats *st = (const struct fz_stats *)(uintptr_t)(FZ_STATS_VA + i * PAGE);
        if (!st->finished)
            failures++; /* its process never reached the end */
        syscalls += st->syscalls;
        failures += st->failures;
        kicks += st->kicks;
        restarts += st->restarts;
        victims += st->victim_stops;
        done_ops += st->ops;
        caps_in += st->caps_received;
        for (uint32_t b = 0; b < FZ_BUCKETS; b++) {
            pairs[b] |= st->pairs[b];
            for (int k = 0; k < FZ_STATUSES; k++)
                counts[b][k] += st->counts[b][k];
        }
    }
    unsigned distinct = 0, calls_seen = 0;
    for (uint32_t b = 0; b < FZ_BUCKETS; b++) {
        distinct += popcount32(pairs[b]);
        calls_seen += pairs[b] != 0;
    }
    printf("fuzz: seed %llu: %llu operations, %u of %u syscall numbers seen (out-of-range ones as one), "
           "%llu caps received in messages, %llu kicks, %llu restarts, %llu victim stops\n",
           (unsigned long long)g_fz.seed, (unsigned long long)done_ops, calls_seen, FZ_BUCKETS,
           (unsigned long long)caps_in, (unsigned long long)kicks, (unsigned long long)restarts,
           (unsigned long long)victims);
    if (verbose) {
        for (uint32_t b = 0; b < FZ_BUCKETS; b++) {
            printf("fuzz:   %-20s", b < ANVIL_SYS_COUNT ? anvil_syscall_desc(b)->name : "(out of range)");
            for (int st = 0; st < FZ_STATUSES; st++)
                if (pairs[b] & (1u << st))
                    printf(" %s=%u", short_status(-st), counts[b][st]);
            printf("\n");
        }
    }
    printf("fuzz: %llu syscalls, %u distinct (nr, status) pairs, %llu failures\n", (unsigned long long)syscalls,
           distinct, (unsigned long long)failures);
    return failures ? 1 : 0;
}

int main(uint64_t start_arg)
{
    const char *line = anvil_cmdline();
    anvil_stdio_use_ioserver();
    g_fz.seed = word_value(line, "fuzz.seed", 1);
    g_fz.proc = (uint32_t)word_value(line, "fuzz.child", 0);
    g_fz.procs = (uint32_t)word_value(line, "fuzz.procs", 3);
    g_fz.workers = (uint32_t)word_value(line, "fuzz.threads", 4);
    const uint64_t ops = word_value(line, "fuzz.ops", 4000);
    if (g_fz.procs < 1 || g_fz.procs > FZ_MAX_PROCS || g_fz.workers < 1 || g_fz.workers > FZ_MAX_WORKERS ||
        g_fz.proc >= g_fz.procs) {
        printf("fuzz: bad command line '%s' (fuzz.procs 1..%u, fuzz.threads 1..%u)\n", line, FZ_MAX_PROCS,
               FZ_MAX_WORKERS);
        return 3;
    }
    const uint64_t share = ops / g_fz.procs;
    g_fz.budget = g_fz.proc == 0 ? ops - share * (g_fz.procs - 1) : ops;
    g_fz.cnode_slots = cnode_size();
    if (g_fz.cnode_slots > FZ_CHILD_CNODE_SLOTS) {
        printf("fuzz: a CNode of %u slots is more than this program handles\n", g_fz.cnode_slots);
        return 3;
    }
    if (g_fz.proc == 0)
        printf("fuzz: seed %llu, %llu operations over %u processes x %u threads\n", (unsigned long long)g_fz.seed,
               (unsigned long long)ops, g_fz.procs, g_fz.workers);

    if (g_fz.proc == 0) {
        static const char k_line[] = "fuzz: debug_write reaches the console\n";
        sys(ANVIL_SYS_debug_write, (uint64_t)(uintptr_t)k_line, sizeof k_line - 1, 0, 0, 0, 0, 0, NULL);
    }
    if (!setup_reserved())
        return 3;
    if (g_fz.proc == 0 && g_fz.procs > 1 && !spawn_children(start_arg, share))
        return 3;
    if (!close_reserved())
        return 3;
    g_fz.stats->syscalls = 0; /* count the fuzzing, not the setup */
    memset(g_fz.stats->pairs, 0, sizeof g_fz.stats->pairs);
    memset(g_fz.stats->counts, 0, sizeof g_fz.stats->counts);
    seed_pool();
    for (uint32_t i = 0; i < FZ_VICTIMS; i++)
        if (i % 2 == 0 || g_fz.seed % 2)
            start_thread(g_victim_tcb[i], fz_victim_entry, i, g_victim_stacks[i] + FZ_VICTIM_STACK);
    for (uint32_t w = 0; w < g_fz.workers; w++) {
        const anvil_status_t s = start_thread(g_worker_tcb[w], fz_worker_entry, w, g_worker_stacks[w] + FZ_WORKER_STACK);
        if (s != ANVIL_OK) {
            setup_failed("start a worker", s);
            return 3;
        }
    }

    supervise();
    for (uint32_t i = 0; i < FZ_VICTIMS; i++)
        sys(ANVIL_SYS_tcb_suspend, g_victim_tcb[i], 0, 0, 0, 0, 0, 0, NULL);
    drain(g_fe);
    check_invariants("after the run");
    empty_pool();
    check_still_works();
    g_fz.stats->finished = 1;
    if (g_fz.proc != 0)
        return g_fz.stats->failures ? 1 : 0;

    wait_for_copies();
    return report(word_value(line, "fuzz.verbose", 0) != 0);
}
