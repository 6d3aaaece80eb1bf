/* The fuzzer's operations: argument generators, the safety filter that keeps
 * destructive calls on pool caps (fuzz.h), the checked syscall, and the loops
 * of worker and victim threads. */
#include "fuzz.h"

#include <stdio.h>
#include <string.h>

#define PAGE ANVIL_PAGE_SIZE
#define WINDOW_PAGES (FZ_WINDOW_SIZE / PAGE)
/* Failures a process prints in full; the rest are only counted. */
#define FZ_PRINT_LIMIT 12u

/* ---- random numbers -------------------------------------------------------------- */

uint64_t fz_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t fz_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

uint32_t fz_below(uint64_t *state, uint32_t n)
{
    return n ? (uint32_t)(fz_rand(state) % n) : 0;
}

static uint64_t r64(struct fz_thread *t) { return fz_rand(&t->rng); }
static uint32_t rb(struct fz_thread *t, uint32_t n) { return fz_below(&t->rng, n); }

/* ---- the checked syscall ---------------------------------------------------------- */

#define B(s) (1u << (uint32_t)(-(s)))
#define S_OK B(ANVIL_OK)
#define S_CAP (B(ANVIL_ERR_INVALID_CAP) | B(ANVIL_ERR_WRONG_TYPE) | B(ANVIL_ERR_ACCESS_DENIED))
#define S_ARG B(ANVIL_ERR_INVALID_ARG)
#define S_MEM B(ANVIL_ERR_NO_MEMORY)
#define S_FAULT B(ANVIL_ERR_FAULT)
#define S_STATE B(ANVIL_ERR_BAD_STATE)
#define S_CLOSED B(ANVIL_ERR_PEER_CLOSED)
#define S_BLOCK B(ANVIL_ERR_WOULD_BLOCK)
/* What a receive can fail with on the receiver's side (its buffer, its slots). */
#define S_RECV (S_FAULT | S_ARG | S_MEM | B(ANVIL_ERR_SLOT_OCCUPIED) | B(ANVIL_ERR_INVALID_CAP))
/* What a send can fail with (its message, its caps, the endpoint closed: no cap
 * with READ left, at once or while it waits). */
#define S_SEND (S_CAP | S_ARG | S_FAULT | S_CLOSED)

/* The statuses each call may return, from ABI.md's description of it. */
static const uint32_t k_allowed[ANVIL_SYS_COUNT] = {
    [ANVIL_SYS_debug_write] = S_OK | S_ARG | S_FAULT,
    [ANVIL_SYS_thread_exit] = 0, /* never returns */
    [ANVIL_SYS_thread_yield] = S_OK,
    [ANVIL_SYS_cnode_create] = S_OK | S_ARG | S_MEM,
    [ANVIL_SYS_cap_copy] = S_OK | S_CAP | S_ARG | S_MEM | B(ANVIL_ERR_SLOT_OCCUPIED),
    [ANVIL_SYS_cap_delete] = S_OK | S_CAP,
    [ANVIL_SYS_cap_revoke] = S_OK | S_CAP,
    [ANVIL_SYS_cap_info] = S_OK | S_CAP | S_FAULT,
    [ANVIL_SYS_tcb_create] = S_OK | S_MEM,
    [ANVIL_SYS_tcb_configure] = S_OK | S_CAP | S_ARG | S_STATE,
    [ANVIL_SYS_tcb_set_regs] = S_OK | S_CAP | S_ARG | S_STATE | S_FAULT,
    [ANVIL_SYS_tcb_get_regs] = S_OK | S_CAP | S_STATE | S_FAULT,
    [ANVIL_SYS_tcb_resume] = S_OK | S_CAP | S_STATE,
    [ANVIL_SYS_tcb_suspend] = S_OK | S_CAP | S_STATE,
    [ANVIL_SYS_vspace_create] = S_OK | S_MEM,
    [ANVIL_SYS_vmo_create] = S_OK | S_ARG | S_MEM,
    [ANVIL_SYS_vmo_read] = S_OK | S_CAP | B(ANVIL_ERR_OUT_OF_RANGE) | S_FAULT,
    [ANVIL_SYS_vmo_write] = S_OK | S_CAP | B(ANVIL_ERR_OUT_OF_RANGE) | S_FAULT,
    /* BAD_STATE: W^X across aliases (the VMO is mapped executable or writable elsewhere). */
    [ANVIL_SYS_vma_map] = S_OK | S_CAP | S_ARG | S_MEM | B(ANVIL_ERR_ADDR_IN_USE) | B(ANVIL_ERR_ALIGNMENT) |
                          B(ANVIL_ERR_OUT_OF_RANGE) | B(ANVIL_ERR_BAD_STATE),
    [ANVIL_SYS_vma_unmap] = S_OK | S_CAP | S_ARG | B(ANVIL_ERR_ALIGNMENT) | B(ANVIL_ERR_OUT_OF_RANGE),
    [ANVIL_SYS_vma_alloc] = S_OK | S_CAP | S_ARG | S_MEM,
    [ANVIL_SYS_endpoint_create] = S_OK | S_MEM,
    [ANVIL_SYS_notification_create] = S_OK | S_MEM,
    [ANVIL_SYS_ipc_send] = S_OK | S_SEND,
    [ANVIL_SYS_ipc_recv] = S_OK | S_CAP | S_RECV | S_CLOSED,
    /* A call can also fail on its reply (caller's buffer and slots), or with
     * BAD_STATE when the thread is suspended while it waits for the reply. */
    [ANVIL_SYS_ipc_call] = S_OK | S_SEND | S_RECV | S_STATE,
    [ANVIL_SYS_ipc_reply] = S_OK | S_STATE | S_CAP | S_ARG | S_FAULT,
    [ANVIL_SYS_ipc_reply_recv] = S_OK | S_STATE | S_CAP | S_RECV | S_CLOSED,
    [ANVIL_SYS_ipc_try_send] = S_OK | S_SEND | S_BLOCK,
    /* A receive is PEER_CLOSED only when woken by the close: never a try_recv. */
    [ANVIL_SYS_ipc_try_recv] = S_OK | S_CAP | S_RECV | S_BLOCK,
    [ANVIL_SYS_notify_signal] = S_OK | S_CAP | S_ARG,
    [ANVIL_SYS_notify_wait] = S_OK | S_CAP | S_CLOSED,
    [ANVIL_SYS_notify_wait_timeout] = S_OK | S_CAP | S_CLOSED | B(ANVIL_ERR_TIMED_OUT),
    [ANVIL_SYS_irq_bind] = S_OK | S_CAP | S_ARG | S_MEM,
    [ANVIL_SYS_ioport_enable] = S_OK | S_CAP | S_MEM,
};

/* Calls whose first step is looking up argument 0 in the caller's CNode: a slot
 * number that cannot be in it (0, or past its end) is INVALID_CAP, always. */
static int looks_up_arg0(uint64_t nr)
{
    switch (nr) {
    case ANVIL_SYS_cnode_create:
    case ANVIL_SYS_debug_write:
    case ANVIL_SYS_thread_exit:
    case ANVIL_SYS_thread_yield:
    case ANVIL_SYS_tcb_create:
    case ANVIL_SYS_vspace_create:
    case ANVIL_SYS_vmo_create:
    case ANVIL_SYS_endpoint_create:
    case ANVIL_SYS_notification_create:
    case ANVIL_SYS_ipc_reply:
        return 0;
    default:
        return nr < ANVIL_SYS_COUNT;
    }
}

void fz_fail(struct fz_thread *t, const char *what, uint64_t nr, const uint64_t *a, int64_t status)
{
    const uint64_t n = __atomic_fetch_add(&g_fz.stats->failures, 1, __ATOMIC_RELAXED);
    if (n >= FZ_PRINT_LIMIT)
        return;
    const anvil_syscall_desc_t *desc = anvil_syscall_desc(nr);
    const char *name = desc ? desc->name : "(out of range)";
    if (a) {
        printf("fuzz: FAIL seed %llu process %u %s %u op %llu: %s: nr %llu %s(%#llx, %#llx, %#llx, %#llx, %#llx, "
               "%#llx, %#llx) -> %lld %s\n",
               (unsigned long long)g_fz.seed, g_fz.proc, t->kind == 'w' ? "worker" : t->kind == 'v' ? "victim" : "supervisor",
               t->index, (unsigned long long)t->progress, what, (unsigned long long)nr, name,
               (unsigned long long)a[0], (unsigned long long)a[1], (unsigned long long)a[2],
               (unsigned long long)a[3], (unsigned long long)a[4], (unsigned long long)a[5],
               (unsigned long long)a[6], (long long)status,
               status <= 0 && status >= ANVIL_STATUS_MIN ? anvil_status_str((anvil_status_t)status) : "?");
    } else {
        printf("fuzz: FAIL seed %llu process %u: %s\n", (unsigned long long)g_fz.seed, g_fz.proc, what);
    }
}

/* The syscall instruction with all seven argument registers; the whole of rax
 * comes back, so a status outside the int range is seen as such. */
static int64_t raw_syscall(uint64_t nr, const uint64_t *a, uint64_t *out)
{
    register uint64_t r10 __asm__("r10") = a[3];
    register uint64_t r8 __asm__("r8") = a[4];
    register uint64_t r9 __asm__("r9") = a[5];
    register uint64_t r12 __asm__("r12") = a[6];
    uint64_t rax = nr, rdx = a[2];
    __asm__ volatile("syscall"
                     : "+a"(rax), "+d"(rdx), "+r"(r10)
                     : "D"(a[0]), "S"(a[1]), "r"(r8), "r"(r9), "r"(r12)
                     : "rcx", "r11", "memory");
    out[0] = rdx;
    out[1] = r10;
    return (int64_t)rax;
}

anvil_status_t fz_call(struct fz_thread *t, uint64_t nr, const uint64_t *a, uint64_t *out)
{
    uint64_t o[2] = {0, 0};
    const int64_t s = raw_syscall(nr, a, o);
    if (out) {
        out[0] = o[0];
        out[1] = o[1];
    }
    if (t->kind != 's') /* the supervisor's bookkeeping is checked, not counted */
        __atomic_fetch_add(&g_fz.stats->syscalls, 1, __ATOMIC_RELAXED);
    if (s > 0 || s < ANVIL_STATUS_MIN) {
        fz_fail(t, "not a status code", nr, a, s);
        return (anvil_status_t)ANVIL_ERR_INVALID_ARG;
    }
    const unsigned bucket = nr < ANVIL_SYS_COUNT ? (unsigned)nr : FZ_OOB_BUCKET;
    __atomic_fetch_or(&g_fz.stats->pairs[bucket], B(s), __ATOMIC_RELAXED);
    if (t->kind != 's')
        __atomic_fetch_add(&g_fz.stats->counts[bucket][-s], 1, __ATOMIC_RELAXED);
    const uint32_t allowed = nr < ANVIL_SYS_COUNT ? k_allowed[nr] : B(ANVIL_ERR_NOT_SUPPORTED);
    if (!(allowed & B(s)))
        fz_fail(t, "status not documented for this call", nr, a, s);
    else if (looks_up_arg0(nr) && (a[0] == 0 || a[0] >= g_fz.cnode_slots) && s != ANVIL_ERR_INVALID_CAP)
        fz_fail(t, "a slot outside the CNode is not INVALID_CAP", nr, a, s);
    return (anvil_status_t)s;
}

/* ---- value generators -------------------------------------------------------------- */

static const uint64_t k_edges[] = {
    0, 1, 2, 7, 8, 0xff, 0xfff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x7fffffff, 0x80000000ull, 0xfffffffeull,
    0xffffffffull, 0x100000000ull, 0x100000001ull, 1ull << 36, (1ull << 36) + 1, 1ull << 47,
    ANVIL_USER_LIMIT, ANVIL_USER_LIMIT - 1, ANVIL_USER_LIMIT - PAGE, FZ_NONCANONICAL_VA, FZ_KERNEL_VA,
    0x7fffffffffffffffull, 0x8000000000000000ull, UINT64_MAX - PAGE, UINT64_MAX - 0xfff, UINT64_MAX - 1, UINT64_MAX,
};
#define N_EDGES (sizeof k_edges / sizeof k_edges[0])

static uint64_t gen_u64(struct fz_thread *t)
{
    switch (rb(t, 5)) {
    case 0: return k_edges[rb(t, N_EDGES)];
    case 1: return k_edges[rb(t, N_EDGES)] + rb(t, 16) - 8;
    case 2: return rb(t, 4096);
    case 3: return r64(t) >> rb(t, 64);
    default: return r64(t);
    }
}

static uint64_t pool_slot(struct fz_thread *t)
{
    return g_fz.res_end + rb(t, g_fz.cnode_slots - g_fz.res_end);
}

/* Slots where objects of each type were recently made or seen (stale entries
 * are fine: they give INVALID_CAP / WRONG_TYPE, which we want too). */
#define FZ_RECENT 16u
static volatile uint16_t g_recent[ANVIL_OBJ_IRQ + 1][FZ_RECENT];
static uint32_t g_recent_next[ANVIL_OBJ_IRQ + 1];

static void note_slot(uint64_t slot, uint32_t type)
{
    if (slot >= sizeof g_hint || fz_reserved(slot))
        return;
    g_hint[slot] = (uint8_t)type;
    if (type && type <= ANVIL_OBJ_IRQ) {
        const uint32_t i = __atomic_fetch_add(&g_recent_next[type], 1, __ATOMIC_RELAXED) % FZ_RECENT;
        g_recent[type][i] = (uint16_t)slot;
    }
}

/* A pool slot that last held an object of `type`, if one turns up quickly. */
static uint64_t typed_slot(struct fz_thread *t, uint32_t type)
{
    for (int i = 0; type <= ANVIL_OBJ_IRQ && i < 6; i++) {
        const uint16_t s = g_recent[type][rb(t, FZ_RECENT)];
        if (s && g_hint[s] == type)
            return s;
    }
    for (int i = 0; i < 32; i++) {
        const uint64_t s = pool_slot(t);
        if (g_hint[s] == type)
            return s;
    }
    return pool_slot(t);
}

/* Slot numbers of every sort: empty, past the end, reserved, absurd, pool. */
static uint64_t wild_slot(struct fz_thread *t)
{
    switch (rb(t, 14)) {
    case 0: return 0;
    case 1: return g_fz.cnode_slots;
    case 2: return g_fz.cnode_slots + rb(t, 64);
    case 3: return 4096 + rb(t, 4);
    case 4: return ANVIL_SLOT_ANY;
    case 5: return (1ull << 32) | rb(t, 8);
    case 6: return UINT64_MAX;
    case 7: return 1 + rb(t, g_fz.res_end - 1);
    case 8: return gen_u64(t);
    default: return pool_slot(t);
    }
}

static uint64_t gen_cap(struct fz_thread *t, uint32_t type)
{
    if (t->valid)
        return typed_slot(t, type);
    const uint32_t r = rb(t, 20);
    if (r < 14)
        return typed_slot(t, type);
    if (r < 17)
        return pool_slot(t);
    return wild_slot(t);
}

static uint64_t gen_cnode(struct fz_thread *t)
{
    if (t->valid)
        return rb(t, 2) ? ANVIL_CAP_SELF_CNODE : typed_slot(t, ANVIL_OBJ_CNODE);
    const uint32_t r = rb(t, 20);
    return r < 8 ? ANVIL_CAP_SELF_CNODE : r < 15 ? typed_slot(t, ANVIL_OBJ_CNODE) : wild_slot(t);
}

static uint64_t gen_vspace(struct fz_thread *t)
{
    if (t->valid)
        return rb(t, 2) ? ANVIL_CAP_SELF_VSPACE : typed_slot(t, ANVIL_OBJ_VSPACE);
    const uint32_t r = rb(t, 20);
    return r < 8 ? ANVIL_CAP_SELF_VSPACE : r < 15 ? typed_slot(t, ANVIL_OBJ_VSPACE) : wild_slot(t);
}

/* Endpoints: the shared one often, so that threads and processes meet. */
static uint64_t gen_ep(struct fz_thread *t)
{
    if (t->valid)
        return rb(t, 2) ? g_fz.se : typed_slot(t, ANVIL_OBJ_ENDPOINT);
    const uint32_t r = rb(t, 20);
    return r < 8 ? g_fz.se : r < 16 ? typed_slot(t, ANVIL_OBJ_ENDPOINT) : r < 18 ? pool_slot(t) : wild_slot(t);
}

/* A pool slot that holds something, if one turns up quickly. */
static uint64_t live_slot(struct fz_thread *t)
{
    for (int i = 0; i < 24; i++) {
        const uint64_t s = pool_slot(t);
        if (g_hint[s])
            return s;
    }
    return pool_slot(t);
}

static uint64_t gen_ntf(struct fz_thread *t)
{
    if (t->valid)
        return rb(t, 2) ? g_fz.sn : typed_slot(t, ANVIL_OBJ_NOTIFICATION);
    const uint32_t r = rb(t, 20);
    return r < 5 ? g_fz.sn : r < 14 ? typed_slot(t, ANVIL_OBJ_NOTIFICATION) : r < 17 ? pool_slot(t) : wild_slot(t);
}

/* A slot in a CNode other than our own (a pool CNode): its size is unknown. */
static uint64_t other_cnode_slot(struct fz_thread *t)
{
    const uint32_t r = rb(t, 10);
    return r < 6 ? rb(t, 16) : r < 8 ? rb(t, 4096) : wild_slot(t);
}

static uint64_t gen_rights(struct fz_thread *t)
{
    if (t->valid)
        return rb(t, 2) ? ANVIL_RIGHTS_ALL : rb(t, 32);
    const uint32_t r = rb(t, 10);
    return r < 7 ? rb(t, 32) : r == 7 ? ANVIL_RIGHTS_ALL : r == 8 ? 0 : gen_u64(t);
}

static uint64_t gen_badge(struct fz_thread *t)
{
    if (t->valid)
        return rb(t, 4) ? 0 : 1 + rb(t, 1000);
    const uint32_t r = rb(t, 10);
    return r < 6 ? 0 : r < 9 ? 1 + rb(t, 1000) : gen_u64(t);
}

static uint64_t gen_perms(struct fz_thread *t)
{
    static const uint64_t k[] = {ANVIL_PERM_R, ANVIL_PERM_R | ANVIL_PERM_W, ANVIL_PERM_R | ANVIL_PERM_X,
                                 ANVIL_PERM_R | ANVIL_PERM_W | ANVIL_PERM_X, ANVIL_PERM_W, ANVIL_PERM_X, 0,
                                 ANVIL_PERM_W | ANVIL_PERM_X, ANVIL_RIGHT_MANAGE | ANVIL_PERM_R, 0xff};
    const uint32_t r = rb(t, 16);
    if (t->valid)
        return k[rb(t, 3)];
    if (r < 6)
        return ANVIL_PERM_R | ANVIL_PERM_W;
    return r < 15 ? k[rb(t, sizeof k / sizeof k[0])] : gen_u64(t);
}

/* Sizes for vmo_create / vma_alloc: mostly a few pages, sometimes large or absurd. */
static uint64_t gen_size(struct fz_thread *t)
{
    switch (rb(t, 40)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return PAGE - 1;
    case 3: return PAGE + 1;
    case 4: return (1ull + rb(t, 4)) << 20;
    case 5: return 1ull << 36;
    case 6: return (1ull << 36) + 1;
    case 7: return UINT64_MAX;
    case 8: return UINT64_MAX - PAGE + 1;
    case 9: return gen_u64(t);
    default: return (1 + rb(t, 16)) * PAGE - (rb(t, 2) ? 0 : rb(t, PAGE));
    }
}

/* Sizes for vma_alloc: every page of a mapping costs the simulator a Unicorn
 * region, so mappings stay small (big sizes are the ones refused anyway). */
static uint64_t gen_map_size(struct fz_thread *t)
{
    const uint32_t r = rb(t, 40);
    if (r < 34)
        return (1 + rb(t, 16)) * PAGE - (rb(t, 2) ? 0 : rb(t, PAGE));
    if (r < 36)
        return (17 + rb(t, 48)) * PAGE;
    static const uint64_t k[] = {0, 1, 1ull << 36, (1ull << 36) + 1, UINT64_MAX, UINT64_MAX - PAGE + 1,
                                 ANVIL_USER_LIMIT, 0x8000000000000000ull};
    return k[rb(t, sizeof k / sizeof k[0])];
}

/* Byte counts for vmo_read/vmo_write. */
static uint64_t gen_len(struct fz_thread *t)
{
    const uint32_t r = rb(t, 20);
    if (r < 10)
        return rb(t, 2 * PAGE + 1);
    if (r < 14)
        return rb(t, 64);
    static const uint64_t k[] = {0, PAGE, FZ_SCRATCH_SIZE, FZ_SCRATCH_SIZE + 1, 1ull << 36, UINT64_MAX,
                                 UINT64_MAX - PAGE + 1, 0x8000000000000000ull};
    return r < 19 ? k[rb(t, sizeof k / sizeof k[0])] : gen_u64(t);
}

static uint64_t gen_offset(struct fz_thread *t)
{
    if (t->valid)
        return rb(t, 2) ? 0 : rb(t, 4) * PAGE;
    const uint32_t r = rb(t, 10);
    return r < 5 ? 0 : r < 8 ? rb(t, 16) * PAGE + (rb(t, 4) ? 0 : rb(t, PAGE)) : gen_u64(t);
}

/* Page counts for vma_map/vma_unmap. */
static uint64_t gen_len_pages(struct fz_thread *t)
{
    const uint32_t r = rb(t, 10);
    if (r < 6 || t->valid)
        return (1 + rb(t, 16)) * PAGE;
    static const uint64_t k[] = {0, 1, PAGE - 1, PAGE + 1, ANVIL_USER_LIMIT, UINT64_MAX & ~(PAGE - 1), UINT64_MAX,
                                 1ull << 36, FZ_WINDOW_SIZE, ANVIL_USER_LIMIT - FZ_WINDOW_VA};
    return r < 9 ? k[rb(t, sizeof k / sizeof k[0])] : gen_u64(t);
}

/* Regions vma_alloc gave us, for unmapping and as pointers (all fuzz-owned). */
#define FZ_REGIONS 64u
static struct {
    volatile uint64_t va, len;
} g_regions[FZ_REGIONS];
static uint32_t g_region_next;

static void region_add(uint64_t va, uint64_t len)
{
    const uint32_t i = __atomic_fetch_add(&g_region_next, 1, __ATOMIC_RELAXED) % FZ_REGIONS;
    g_regions[i].len = 0;
    g_regions[i].va = va;
    g_regions[i].len = len;
}

static int region_pick(struct fz_thread *t, uint64_t *va, uint64_t *len)
{
    const uint32_t i = rb(t, FZ_REGIONS);
    *va = g_regions[i].va;
    *len = g_regions[i].len;
    return *len != 0;
}

static uint64_t gen_va(struct fz_thread *t)
{
    const uint32_t r = rb(t, 24);
    uint64_t va, len;
    if (r < 14 || t->valid)
        return FZ_WINDOW_VA + rb(t, WINDOW_PAGES) * PAGE;
    switch (r) {
    case 14: return FZ_WINDOW_VA + rb(t, WINDOW_PAGES) * PAGE + 1 + rb(t, PAGE - 1);
    case 15: return region_pick(t, &va, &len) ? va : FZ_WINDOW_VA;
    case 16: return 0;
    case 17: return ANVIL_USER_BASE;
    case 18: return ANVIL_USER_LIMIT - (1 + rb(t, 4)) * PAGE;
    case 19: return FZ_KERNEL_VA;
    case 20: return FZ_NONCANONICAL_VA;
    case 21: return FZ_ALLOC_LO + rb(t, 1024) * PAGE;
    default: return gen_u64(t);
    }
}

/* ---- pointers ---------------------------------------------------------------------- */

/* A user pointer argument. `mine` is where we may write the buffer's contents
 * (null when the pointer is not into our scratch), `room` how many bytes fit. */
struct fz_ptr {
    uint64_t va;
    uint8_t *mine;
    size_t room;
};

/* Addresses the kernel must refuse (nothing is ever mapped there by us). */
static uint64_t bad_ptr(struct fz_thread *t)
{
    switch (rb(t, 9)) {
    case 0: return 0;
    case 1: return 0x10;
    case 2: return 0xfff;
    case 3: return FZ_KERNEL_VA + rb(t, 1u << 20);
    case 4: return FZ_NONCANONICAL_VA + rb(t, PAGE);
    case 5: return UINT64_MAX - rb(t, PAGE);
    case 6: return 0x8000000000000000ull;
    case 7: return ANVIL_USER_LIMIT + rb(t, PAGE);
    default: return ANVIL_USER_LIMIT - 1;
    }
}

static struct fz_ptr scratch_ptr(struct fz_thread *t, size_t want)
{
    struct fz_ptr p;
    if (want > FZ_SCRATCH_SIZE)
        want = FZ_SCRATCH_SIZE;
    size_t off = rb(t, (uint32_t)(FZ_SCRATCH_SIZE - want + 1));
    if (rb(t, 4))
        off &= ~(size_t)7;
    p.va = (uint64_t)(uintptr_t)(t->scratch + off);
    p.mine = t->scratch + off;
    p.room = FZ_SCRATCH_SIZE - off;
    return p;
}

/* A buffer the kernel may write to (`want` bytes): our scratch, scratch running
 * into its unmapped guard gap, the read-only page, fuzz-owned memory, or junk. */
static struct fz_ptr out_ptr(struct fz_thread *t, size_t want)
{
    struct fz_ptr p = {0, NULL, 0};
    const uint32_t r = rb(t, 100);
    uint64_t va, len;
    if (r < 64)
        return scratch_ptr(t, want);
    if (r < 72) {
        const size_t k = 1 + rb(t, (uint32_t)(want ? (want < FZ_SCRATCH_SIZE ? want : FZ_SCRATCH_SIZE) : 1));
        p.va = (uint64_t)(uintptr_t)(t->scratch + FZ_SCRATCH_SIZE - k);
        p.mine = t->scratch + FZ_SCRATCH_SIZE - k;
        p.room = k;
        return p;
    }
    if (r < 78) {
        p.va = FZ_RO_VA + rb(t, PAGE);
        return p;
    }
    if (r < 80) {
        p.va = FZ_WINDOW_VA + rb(t, WINDOW_PAGES) * PAGE + rb(t, PAGE);
        return p;
    }
    if (r < 82 && region_pick(t, &va, &len)) {
        p.va = va + rb(t, (uint32_t)(len < 0x100000 ? len : 0x100000));
        return p;
    }
    p.va = bad_ptr(t);
    return p;
}

/* A buffer holding a message to send: only scratch we fill ourselves, the 0xee
 * page or junk, so a message never names caps we did not choose. */
static struct fz_ptr msg_ptr(struct fz_thread *t)
{
    struct fz_ptr p = out_ptr(t, sizeof(anvil_msg_t));
    if (!p.mine && ((p.va >= FZ_WINDOW_VA && p.va < FZ_WINDOW_VA + FZ_WINDOW_SIZE) ||
                    (p.va >= FZ_ALLOC_LO && p.va < FZ_ALLOC_HI)))
        p = scratch_ptr(t, sizeof(anvil_msg_t));
    return p;
}

/* A buffer the kernel only reads: anything at all, our own memory included. */
static struct fz_ptr in_ptr(struct fz_thread *t, size_t want)
{
    const uint32_t r = rb(t, 10);
    if (r == 0) {
        struct fz_ptr p = {gen_u64(t), NULL, 0};
        return p;
    }
    if (r == 1) {
        struct fz_ptr p = {(uint64_t)(uintptr_t)&g_fz + rb(t, 64), NULL, 0};
        return p;
    }
    return out_ptr(t, want);
}

/* Cap slots a message may carry: pool caps, the shared objects, or junk. */
static anvil_cap_t send_cap(struct fz_thread *t)
{
    const uint32_t r = rb(t, 20);
    if (r < 10)
        return (anvil_cap_t)live_slot(t);
    if (r < 12)
        return (anvil_cap_t)pool_slot(t);
    if (r < 14)
        return g_fz.se;
    if (r < 15)
        return g_fz.sn;
    if (r < 17)
        return 0;
    return r < 19 ? g_fz.cnode_slots + rb(t, 100) : ANVIL_SLOT_ANY;
}

static void fill_send(struct fz_thread *t, const struct fz_ptr *p)
{
    if (!p->mine)
        return;
    anvil_msg_t m;
    m.label = rb(t, 4) ? rb(t, 16) : gen_u64(t);
    const uint32_t r = rb(t, 10);
    m.len = r < 7 ? rb(t, 65) : r < 9 ? ANVIL_MSG_MAX_BYTES - rb(t, 2) : (uint32_t)gen_u64(t);
    const uint32_t c = rb(t, 10);
    m.ncaps = c < 4 ? 0 : c < 9 ? 1 + rb(t, ANVIL_MSG_MAX_CAPS) : (uint32_t)gen_u64(t);
    for (unsigned i = 0; i < 64; i += 8) {
        const uint64_t v = r64(t);
        memcpy(m.data + i, &v, 8);
    }
    for (unsigned i = 0; i < ANVIL_MSG_MAX_CAPS; i++)
        m.caps[i] = send_cap(t);
    memcpy(p->mine, &m, p->room < sizeof m ? p->room : sizeof m);
}

/* A receive buffer: how many caps we take and where they go. */
static void fill_recv(struct fz_thread *t, const struct fz_ptr *p)
{
    if (!p->mine)
        return;
    anvil_msg_t m;
    m.label = r64(t);
    m.len = (uint32_t)r64(t);
    const uint32_t r = rb(t, 12);
    m.ncaps = r < 10 ? rb(t, ANVIL_MSG_MAX_CAPS + 1) : r == 10 ? ANVIL_MSG_MAX_CAPS + 1 : (uint32_t)gen_u64(t);
    const int all_any = rb(t, 3) != 0;
    for (unsigned i = 0; i < ANVIL_MSG_MAX_CAPS; i++) {
        const uint32_t k = rb(t, 10);
        m.caps[i] = all_any || k < 5 ? ANVIL_SLOT_ANY : k < 8 ? (anvil_cap_t)pool_slot(t) : (anvil_cap_t)wild_slot(t);
    }
    const size_t n = offsetof(anvil_msg_t, data);
    memcpy(p->mine, &m, p->room < n ? p->room : n);
    const size_t caps_at = offsetof(anvil_msg_t, caps);
    if (p->room > caps_at)
        memcpy(p->mine + caps_at, m.caps, p->room - caps_at < sizeof m.caps ? p->room - caps_at : sizeof m.caps);
}

static void fill_regs(struct fz_thread *t, const struct fz_ptr *p)
{
    if (!p->mine)
        return;
    anvil_regs_t r;
    uint64_t *v = (uint64_t *)&r;
    for (unsigned i = 0; i < sizeof r / 8; i++)
        v[i] = gen_u64(t);
    if (rb(t, 2))
        r.rip = gen_va(t) + rb(t, PAGE);
    if (rb(t, 2))
        r.rsp = gen_va(t) + rb(t, PAGE);
    if (rb(t, 2))
        r.fs_base = 0;
    memcpy(p->mine, &r, p->room < sizeof r ? p->room : sizeof r);
}

/* ---- the safety filter ---------------------------------------------------------------- */

/* Ranges of our own VSpace where only the fuzz maps anything: below the
 * program, from 16 MiB up to the scratch area (vma_alloc's area and the window
 * included), and above the stack. */
static const struct {
    uint64_t lo, hi;
} k_fuzz_ranges[] = {
    {ANVIL_USER_BASE, 0x400000},
    {0x1000000, FZ_SCRATCH_VA},
    {0x00007fff00000000ull, ANVIL_USER_LIMIT},
};
#define N_FUZZ_RANGES (sizeof k_fuzz_ranges / sizeof k_fuzz_ranges[0])

/* True if vma_unmap(self, va, len) can only touch fuzz-owned memory. */
static int self_unmap_ok(uint64_t va, uint64_t len)
{
    if (va % PAGE || len % PAGE)
        return 1; /* ALIGNMENT */
    if (len == 0 || va < ANVIL_USER_BASE || va >= ANVIL_USER_LIMIT || len > ANVIL_USER_LIMIT - va)
        return 1; /* OUT_OF_RANGE */
    for (unsigned i = 0; i < N_FUZZ_RANGES; i++) {
        const uint64_t lo = k_fuzz_ranges[i].lo, hi = k_fuzz_ranges[i].hi;
        if (va >= lo && len <= hi - lo && va - lo <= hi - lo - len)
            return 1;
    }
    return 0;
}

/* The simulator gives every mapped page a Unicorn region of its own and cannot
 * hold many thousands in one address space: mappings that may succeed are at
 * most FZ_MAP_MAX_PAGES long, and after FZ_SELF_MAPS_MAX of them in our own
 * VSpace every fuzz-owned range of it is unmapped in one go. */
#define FZ_MAP_MAX_PAGES 64u
#define FZ_SELF_MAPS_MAX 32u
static uint32_t g_self_maps;

static void sweep_self(struct fz_thread *t)
{
    for (unsigned i = 0; i < N_FUZZ_RANGES; i++) {
        uint64_t a[7] = {ANVIL_CAP_SELF_VSPACE, k_fuzz_ranges[i].lo, k_fuzz_ranges[i].hi - k_fuzz_ranges[i].lo,
                         0, 0, 0, 0};
        fz_call(t, ANVIL_SYS_vma_unmap, a, NULL);
    }
}

static void note_self_map(struct fz_thread *t)
{
    if (__atomic_add_fetch(&g_self_maps, 1, __ATOMIC_RELAXED) % FZ_SELF_MAPS_MAX == 0)
        sweep_self(t);
}

/* Rewrites the arguments of a call that could harm a reserved object (fuzz.h). */
static void sanitize(struct fz_thread *t, uint64_t nr, uint64_t *a)
{
    const uint64_t self_c = ANVIL_CAP_SELF_CNODE, self_v = ANVIL_CAP_SELF_VSPACE;
    switch (nr) {
    case ANVIL_SYS_cap_copy:
        if (fz_reserved(a[0]) && a[0] != self_c)
            a[0] = self_c;
        if (a[0] == self_c && fz_reserved(a[1]))
            a[1] = pool_slot(t);
        if (fz_reserved(a[2]) && a[2] != self_c)
            a[2] = self_c;
        break;
    case ANVIL_SYS_cap_delete:
    case ANVIL_SYS_cap_revoke:
        if (fz_reserved(a[0]) && a[0] != self_c)
            a[0] = self_c;
        if (a[0] == self_c && fz_reserved(a[1]))
            a[1] = pool_slot(t);
        break;
    case ANVIL_SYS_tcb_configure:
        for (int i = 0; i < 3; i++)
            if (fz_reserved(a[i]))
                a[i] = pool_slot(t);
        if (fz_reserved(a[6]) && a[6] != g_fz.se)
            a[6] = 0;
        break;
    case ANVIL_SYS_tcb_set_regs:
    case ANVIL_SYS_tcb_resume:
    case ANVIL_SYS_tcb_suspend:
    case ANVIL_SYS_vmo_write:
        if (fz_reserved(a[0]))
            a[0] = pool_slot(t);
        break;
    case ANVIL_SYS_vma_map:
        if (fz_reserved(a[0]) && a[0] != self_v)
            a[0] = self_v;
        if (fz_reserved(a[2]))
            a[2] = pool_slot(t);
        if (a[4] > FZ_MAP_MAX_PAGES * PAGE && a[1] % PAGE == 0 && a[4] % PAGE == 0 && a[3] % PAGE == 0 &&
            a[1] >= ANVIL_USER_BASE && a[1] < ANVIL_USER_LIMIT && a[4] <= ANVIL_USER_LIMIT - a[1])
            a[4] = FZ_MAP_MAX_PAGES * PAGE;
        break;
    case ANVIL_SYS_vma_unmap:
        if (fz_reserved(a[0]) && a[0] != self_v)
            a[0] = self_v;
        if (a[0] == self_v && !self_unmap_ok(a[1], a[2])) {
            a[1] = FZ_WINDOW_VA + rb(t, WINDOW_PAGES - 16) * PAGE;
            a[2] = (1 + rb(t, 16)) * PAGE;
        }
        break;
    case ANVIL_SYS_vma_alloc:
        if (fz_reserved(a[0]) && a[0] != self_v)
            a[0] = self_v;
        if (a[1] > FZ_MAP_MAX_PAGES * PAGE && a[1] <= (1ull << 36))
            a[1] = FZ_MAP_MAX_PAGES * PAGE;
        break;
    case ANVIL_SYS_ipc_send:
    case ANVIL_SYS_ipc_try_send:
    case ANVIL_SYS_ipc_call:
    case ANVIL_SYS_ipc_recv:
    case ANVIL_SYS_ipc_try_recv:
    case ANVIL_SYS_ipc_reply_recv:
        if (fz_reserved(a[0]) && a[0] != g_fz.se)
            a[0] = g_fz.se;
        break;
    case ANVIL_SYS_notify_wait:
    case ANVIL_SYS_notify_wait_timeout:
        if (fz_reserved(a[0]) && a[0] != g_fz.sn)
            a[0] = g_fz.sn;
        break;
    default:
        break;
    }
}

/* ---- operations ------------------------------------------------------------------------ */

struct op_weight {
    uint16_t nr;
    uint16_t weight;
};

#define OP_OOB 0xffff
static const struct op_weight k_ops[] = {
    {ANVIL_SYS_debug_write, 2},   {ANVIL_SYS_thread_yield, 2},   {ANVIL_SYS_cnode_create, 3},
    {ANVIL_SYS_cap_copy, 9},      {ANVIL_SYS_cap_delete, 9},     {ANVIL_SYS_cap_revoke, 3},
    {ANVIL_SYS_cap_info, 6},      {ANVIL_SYS_tcb_create, 3},     {ANVIL_SYS_tcb_configure, 4},
    {ANVIL_SYS_tcb_set_regs, 3},  {ANVIL_SYS_tcb_get_regs, 3},   {ANVIL_SYS_tcb_resume, 3},
    {ANVIL_SYS_tcb_suspend, 3},   {ANVIL_SYS_vspace_create, 2},  {ANVIL_SYS_vmo_create, 4},
    {ANVIL_SYS_vmo_read, 4},      {ANVIL_SYS_vmo_write, 4},      {ANVIL_SYS_vma_map, 6},
    {ANVIL_SYS_vma_unmap, 5},     {ANVIL_SYS_vma_alloc, 3},      {ANVIL_SYS_endpoint_create, 3},
    {ANVIL_SYS_notification_create, 3}, {ANVIL_SYS_ipc_send, 3}, {ANVIL_SYS_ipc_recv, 3},
    {ANVIL_SYS_ipc_call, 2},      {ANVIL_SYS_ipc_reply, 3},      {ANVIL_SYS_ipc_reply_recv, 2},
    {ANVIL_SYS_ipc_try_send, 6},  {ANVIL_SYS_ipc_try_recv, 6},   {ANVIL_SYS_notify_signal, 4},
    {ANVIL_SYS_notify_wait, 1},   {ANVIL_SYS_irq_bind, 1},       {ANVIL_SYS_ioport_enable, 1},
    {ANVIL_SYS_notify_wait_timeout, 2},
    {OP_OOB, 2},
};
#define N_OPS (sizeof k_ops / sizeof k_ops[0])

static uint64_t pick_nr(struct fz_thread *t)
{
    static uint32_t total;
    if (!total) {
        uint32_t sum = 0;
        for (unsigned i = 0; i < N_OPS; i++)
            sum += k_ops[i].weight;
        total = sum;
    }
    uint32_t r = rb(t, total);
    for (unsigned i = 0; i < N_OPS; i++) {
        if (r < k_ops[i].weight) {
            if (k_ops[i].nr != OP_OOB)
                return k_ops[i].nr;
            static const uint64_t oob[] = {ANVIL_SYS_COUNT, ANVIL_SYS_COUNT + 1, 63, 64, 255, 256, 0xffff,
                                           0x7fffffff, 0xffffffff, 1ull << 32, 1ull << 63, UINT64_MAX};
            const uint32_t k = rb(t, sizeof oob / sizeof oob[0] + 1);
            return k < sizeof oob / sizeof oob[0] ? oob[k] : ANVIL_SYS_COUNT + (r64(t) >> 1);
        }
        r -= k_ops[i].weight;
    }
    return ANVIL_SYS_thread_yield;
}

/* After a receive into our scratch: the caps that arrived are of unknown type
 * now; answer a call (usually) so its caller does not wait for long. */
static void after_receive(struct fz_thread *t, const struct fz_ptr *p)
{
    if (p->mine && p->room >= sizeof(anvil_msg_t)) {
        anvil_msg_t *m = (anvil_msg_t *)p->mine;
        const uint32_t n = m->ncaps <= ANVIL_MSG_MAX_CAPS ? m->ncaps : 0;
        __atomic_fetch_add(&g_fz.stats->caps_received, n, __ATOMIC_RELAXED);
        for (uint32_t i = 0; i < n; i++)
            if (m->caps[i] < sizeof g_hint)
                g_hint[m->caps[i]] = 0;
    }
    if (rb(t, 4) == 0)
        return;
    uint64_t a[7] = {0};
    const struct fz_ptr r = scratch_ptr(t, sizeof(anvil_msg_t));
    fill_send(t, &r);
    a[0] = r.va;
    fz_call(t, ANVIL_SYS_ipc_reply, a, NULL);
}

/* Keeps the slot hints honest: an empty slot is empty; a create that found our
 * CNode full makes room (the pool stays near full, so both outcomes occur). */
static void learn_from_failure(struct fz_thread *t, uint64_t nr, const uint64_t *a, anvil_status_t s)
{
    if (looks_up_arg0(nr) && a[0] < sizeof g_hint && !fz_reserved(a[0])) {
        if (s == ANVIL_ERR_INVALID_CAP)
            g_hint[a[0]] = 0;
        else if (s == ANVIL_ERR_WRONG_TYPE && g_hint[a[0]] == 0)
            g_hint[a[0]] = 0xff; /* something of another type */
    }
    switch (nr) {
    case ANVIL_SYS_cnode_create:
    case ANVIL_SYS_tcb_create:
    case ANVIL_SYS_vspace_create:
    case ANVIL_SYS_vmo_create:
    case ANVIL_SYS_endpoint_create:
    case ANVIL_SYS_notification_create:
        if (s == ANVIL_ERR_NO_MEMORY && rb(t, 2)) {
            uint64_t d[7] = {ANVIL_CAP_SELF_CNODE, live_slot(t), 0, 0, 0, 0, 0};
            if (fz_call(t, ANVIL_SYS_cap_delete, d, NULL) == ANVIL_OK)
                g_hint[d[1]] = 0;
        }
        break;
    default:
        break;
    }
}

void fz_op(struct fz_thread *t)
{
    uint64_t a[7], out[2] = {0, 0};
    for (int i = 0; i < 7; i++)
        a[i] = gen_u64(t);
    const uint64_t nr = pick_nr(t);
    t->valid = rb(t, 2);
    struct fz_ptr p = {0, NULL, 0}, q = {0, NULL, 0};
    switch (nr) {
    case ANVIL_SYS_debug_write: {
        /* Valid text would land in the middle of other output: the supervisor
         * writes the one real line (main.c). */
        static const char k_text[] = "fuzz";
        const uint32_t r = rb(t, 4);
        if (r == 0) {
            a[0] = (uint64_t)(uintptr_t)k_text;
            a[1] = 0;
        } else if (r == 1) {
            a[0] = bad_ptr(t);
            a[1] = 1 + rb(t, 64);
        } else if (r == 2) {
            a[1] = 0;
        } else {
            a[0] = in_ptr(t, 64).va;
            a[1] = rb(t, 2) ? 64 * 1024 + 1 + rb(t, 16) : UINT64_MAX - rb(t, 2);
        }
        break;
    }
    case ANVIL_SYS_thread_yield:
        break;
    case ANVIL_SYS_cnode_create: {
        static const uint64_t bad[] = {0, 1, 8, 15, 17, 100, 8192, (1ull << 32) | 16, UINT64_MAX};
        a[0] = rb(t, 10) < 7 ? 16ull << rb(t, 9) : bad[rb(t, sizeof bad / sizeof bad[0])];
        break;
    }
    case ANVIL_SYS_cap_copy:
        a[0] = gen_cnode(t);
        a[1] = a[0] == ANVIL_CAP_SELF_CNODE ? (rb(t, 4) ? live_slot(t) : wild_slot(t)) : other_cnode_slot(t);
        a[2] = gen_cnode(t);
        a[3] = rb(t, 3) ? ANVIL_SLOT_ANY : a[2] == ANVIL_CAP_SELF_CNODE ? wild_slot(t) : other_cnode_slot(t);
        a[4] = gen_rights(t);
        a[5] = gen_badge(t);
        break;
    case ANVIL_SYS_cap_delete:
    case ANVIL_SYS_cap_revoke:
        a[0] = gen_cnode(t);
        a[1] = a[0] == ANVIL_CAP_SELF_CNODE ? (rb(t, 5) ? pool_slot(t) : wild_slot(t)) : other_cnode_slot(t);
        break;
    case ANVIL_SYS_cap_info:
        a[0] = rb(t, 4) ? gen_cnode(t) : wild_slot(t);
        a[1] = a[0] == ANVIL_CAP_SELF_CNODE ? (rb(t, 4) ? pool_slot(t) : wild_slot(t)) : other_cnode_slot(t);
        p = out_ptr(t, sizeof(anvil_cap_info_t));
        a[2] = p.va;
        break;
    case ANVIL_SYS_tcb_configure: {
        a[0] = gen_cap(t, ANVIL_OBJ_TCB);
        a[1] = gen_cap(t, ANVIL_OBJ_CNODE);
        a[2] = gen_cap(t, ANVIL_OBJ_VSPACE);
        a[3] = rb(t, 2) ? 0 : gen_va(t);
        const uint32_t pr = rb(t, 10);
        a[4] = pr < 7 ? rb(t, FZ_PRIORITY + 1) : pr == 7 ? FZ_PRIORITY + 1 + rb(t, 155) : pr == 8 ? 256 : gen_u64(t);
        const uint32_t c = rb(t, 10);
        a[5] = c < 5 ? ANVIL_CPU_ANY : c < 8 ? rb(t, 4) : gen_u64(t);
        const uint32_t f = rb(t, 10);
        a[6] = f < 4 ? 0 : f < 8 ? gen_ep(t) : wild_slot(t);
        break;
    }
    case ANVIL_SYS_tcb_set_regs:
        a[0] = gen_cap(t, ANVIL_OBJ_TCB);
        p = in_ptr(t, sizeof(anvil_regs_t));
        fill_regs(t, &p);
        a[1] = p.va;
        break;
    case ANVIL_SYS_tcb_get_regs:
        a[0] = rb(t, 8) ? gen_cap(t, ANVIL_OBJ_TCB) : wild_slot(t);
        p = out_ptr(t, sizeof(anvil_regs_t));
        a[1] = p.va;
        break;
    case ANVIL_SYS_tcb_resume:
    case ANVIL_SYS_tcb_suspend:
        a[0] = gen_cap(t, ANVIL_OBJ_TCB);
        break;
    case ANVIL_SYS_vmo_create:
        a[0] = gen_size(t);
        break;
    case ANVIL_SYS_vmo_read:
    case ANVIL_SYS_vmo_write:
        a[0] = rb(t, 8) ? gen_cap(t, ANVIL_OBJ_VMO) : wild_slot(t);
        a[1] = gen_offset(t);
        a[3] = gen_len(t);
        p = nr == ANVIL_SYS_vmo_read ? out_ptr(t, a[3]) : in_ptr(t, a[3]);
        a[2] = p.va;
        break;
    case ANVIL_SYS_vma_map:
        a[0] = gen_vspace(t);
        a[1] = gen_va(t);
        a[2] = gen_cap(t, ANVIL_OBJ_VMO);
        a[3] = gen_offset(t);
        a[4] = gen_len_pages(t);
        a[5] = gen_perms(t);
        break;
    case ANVIL_SYS_vma_unmap:
        a[0] = gen_vspace(t);
        if (rb(t, 3) || !region_pick(t, &a[1], &a[2])) {
            a[1] = gen_va(t);
            a[2] = gen_len_pages(t);
        }
        break;
    case ANVIL_SYS_vma_alloc:
        a[0] = gen_vspace(t);
        a[1] = gen_map_size(t);
        a[2] = gen_perms(t);
        break;
    case ANVIL_SYS_ipc_send:
    case ANVIL_SYS_ipc_try_send:
        a[0] = gen_ep(t);
        p = msg_ptr(t);
        fill_send(t, &p);
        a[1] = p.va;
        break;
    case ANVIL_SYS_ipc_recv:
    case ANVIL_SYS_ipc_try_recv:
        a[0] = gen_ep(t);
        p = out_ptr(t, sizeof(anvil_msg_t));
        fill_recv(t, &p);
        a[1] = p.va;
        break;
    case ANVIL_SYS_ipc_reply:
        q = msg_ptr(t);
        fill_send(t, &q);
        a[0] = q.va;
        break;
    case ANVIL_SYS_ipc_call:       /* (ep, message to send, buffer to receive) */
    case ANVIL_SYS_ipc_reply_recv: /* the same layout */
        a[0] = gen_ep(t);
        q = msg_ptr(t);
        fill_send(t, &q);
        a[1] = q.va;
        p = out_ptr(t, sizeof(anvil_msg_t));
        fill_recv(t, &p);
        a[2] = p.va;
        break;
    case ANVIL_SYS_notify_signal: {
        a[0] = gen_ntf(t);
        const uint32_t r = rb(t, 10);
        a[1] = r < 7 ? 1ull << rb(t, 64) : r == 7 ? 0 : gen_u64(t);
        break;
    }
    case ANVIL_SYS_notify_wait:
        a[0] = gen_ntf(t);
        break;
    case ANVIL_SYS_notify_wait_timeout:
        /* Mostly a poll or a few ticks; now and then one that never ends. */
        a[0] = gen_ntf(t);
        a[1] = rb(t, 8) ? rb(t, 4) : gen_u64(t);
        break;
    case ANVIL_SYS_irq_bind:
        a[0] = rb(t, 2) ? pool_slot(t) : wild_slot(t);
        a[1] = gen_ntf(t);
        a[2] = rb(t, 70);
        break;
    case ANVIL_SYS_ioport_enable:
        a[0] = rb(t, 2) ? pool_slot(t) : wild_slot(t);
        break;
    default:
        break; /* out of range: junk arguments */
    }
    sanitize(t, nr, a);
    const anvil_status_t s = fz_call(t, nr, a, out);
    if (s != ANVIL_OK) {
        learn_from_failure(t, nr, a, s);
        return;
    }

    switch (nr) {
    case ANVIL_SYS_cnode_create:
    case ANVIL_SYS_tcb_create:
    case ANVIL_SYS_vspace_create:
    case ANVIL_SYS_vmo_create:
    case ANVIL_SYS_endpoint_create:
    case ANVIL_SYS_notification_create: {
        static const uint8_t type_of[ANVIL_SYS_COUNT] = {
            [ANVIL_SYS_cnode_create] = ANVIL_OBJ_CNODE, [ANVIL_SYS_tcb_create] = ANVIL_OBJ_TCB,
            [ANVIL_SYS_vspace_create] = ANVIL_OBJ_VSPACE, [ANVIL_SYS_vmo_create] = ANVIL_OBJ_VMO,
            [ANVIL_SYS_endpoint_create] = ANVIL_OBJ_ENDPOINT, [ANVIL_SYS_notification_create] = ANVIL_OBJ_NOTIFICATION};
        if (out[0] < sizeof g_hint && !fz_reserved(out[0]))
            note_slot(out[0], type_of[nr]);
        else
            fz_fail(t, "a new object landed outside the pool", nr, a, (int64_t)out[0]);
        break;
    }
    case ANVIL_SYS_cap_copy:
        if (a[2] == ANVIL_CAP_SELF_CNODE && out[0] < sizeof g_hint && !fz_reserved(out[0]))
            note_slot(out[0], a[0] == ANVIL_CAP_SELF_CNODE && a[1] < sizeof g_hint ? g_hint[a[1]] : 0);
        break;
    case ANVIL_SYS_cap_delete:
        if (a[0] == ANVIL_CAP_SELF_CNODE && a[1] < sizeof g_hint)
            g_hint[a[1]] = 0;
        break;
    case ANVIL_SYS_cap_info:
        if (p.mine && p.room >= sizeof(anvil_cap_info_t) && a[0] == ANVIL_CAP_SELF_CNODE && a[1] < sizeof g_hint &&
            !fz_reserved(a[1])) {
            anvil_cap_info_t info;
            memcpy(&info, p.mine, sizeof info);
            note_slot(a[1], info.type);
        }
        break;
    case ANVIL_SYS_vma_alloc:
        if (a[0] == ANVIL_CAP_SELF_VSPACE) {
            region_add(out[0], (a[1] + PAGE - 1) & ~(PAGE - 1));
            note_self_map(t);
        }
        break;
    case ANVIL_SYS_vma_map:
        if (a[0] == ANVIL_CAP_SELF_VSPACE)
            note_self_map(t);
        break;
    case ANVIL_SYS_ipc_recv:
    case ANVIL_SYS_ipc_try_recv:
    case ANVIL_SYS_ipc_reply_recv:
        after_receive(t, &p);
        break;
    default:
        break;
    }
}

/* ---- thread loops ------------------------------------------------------------------------ */

static int canary_ok(const struct fz_thread *t)
{
    for (unsigned i = 0; i < sizeof t->canary; i++)
        if (t->canary[i] != (uint8_t)(i * 7 + t->index + t->kind))
            return 0;
    return 1;
}

void fz_worker_entry(uint64_t index)
{
    struct fz_thread *t = &g_workers[index];
    /* Our own stack frame: the kernel must never write into it. */
    volatile uint8_t guard[64];
    for (unsigned i = 0; i < sizeof guard; i++)
        guard[i] = (uint8_t)(i ^ index ^ 0x5a);
    int reported = 0;
    while (__atomic_fetch_add(&g_fz.issued, 1, __ATOMIC_RELAXED) < g_fz.budget) {
        fz_op(t);
        __atomic_fetch_add(&g_fz.stats->ops, 1, __ATOMIC_RELAXED);
        t->progress++;
        int ok = canary_ok(t);
        for (unsigned i = 0; i < sizeof guard; i++)
            ok &= guard[i] == (uint8_t)(i ^ index ^ 0x5a);
        if (!ok && !reported) {
            fz_fail(t, "a worker's own memory changed (stack guard or canary)", 0, NULL, 0);
            reported = 1;
        }
    }
    t->done = 1;
    anvil_thread_exit(FZ_WORKER_DONE);
}

/* Victims run our code in our CNode, so they stay within what sanitize()
 * allows: waits, receives, signals and sends on pool and shared objects. Now and
 * then one exits or faults on purpose (its fault endpoint hears it). */
void fz_victim_entry(uint64_t index)
{
    struct fz_thread *t = &g_victims[index];
    for (;;) {
        uint64_t a[7], out[2];
        for (int i = 0; i < 7; i++)
            a[i] = gen_u64(t);
        const uint32_t r = rb(t, 1024);
        t->progress++;
        if (r == 0) {
            a[0] = rb(t, 256);
            fz_call(t, ANVIL_SYS_thread_exit, a, out);
            fz_fail(t, "thread_exit returned", ANVIL_SYS_thread_exit, a, 0);
            continue;
        }
        if (r == 1)
            (void)*(volatile uint64_t *)(uintptr_t)(FZ_KERNEL_VA + rb(t, PAGE));
        uint64_t nr;
        switch (r % 8) {
        case 0:
            nr = rb(t, 2) ? ANVIL_SYS_notify_wait : ANVIL_SYS_notify_wait_timeout;
            a[0] = gen_ntf(t);
            a[1] = rb(t, 4);
            break;
        case 1:
        case 2:
            nr = r % 8 == 1 ? ANVIL_SYS_ipc_try_recv : ANVIL_SYS_ipc_recv;
            a[0] = gen_ep(t);
            t->msg.ncaps = rb(t, ANVIL_MSG_MAX_CAPS + 1);
            for (unsigned i = 0; i < ANVIL_MSG_MAX_CAPS; i++)
                t->msg.caps[i] = ANVIL_SLOT_ANY;
            a[1] = (uint64_t)(uintptr_t)&t->msg;
            break;
        case 3:
            nr = ANVIL_SYS_notify_signal;
            a[0] = gen_ntf(t);
            a[1] = 1ull << rb(t, 64);
            break;
        case 4:
            nr = ANVIL_SYS_ipc_try_send;
            a[0] = gen_ep(t);
            t->msg.label = rb(t, 8);
            t->msg.len = rb(t, 32);
            t->msg.ncaps = rb(t, 3);
            for (unsigned i = 0; i < ANVIL_MSG_MAX_CAPS; i++)
                t->msg.caps[i] = send_cap(t);
            a[1] = (uint64_t)(uintptr_t)&t->msg;
            break;
        default:
            nr = ANVIL_SYS_thread_yield;
            break;
        }
        sanitize(t, nr, a);
        fz_call(t, nr, a, out);
        if (!canary_ok(t))
            fz_fail(t, "a victim's canary changed", nr, a, 0);
    }
}
