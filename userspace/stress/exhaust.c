/* exhaust: runs the kernel out of memory and back, three rounds in a row, while
 * the name and IO servers keep serving (userspace/stress/services,
 * initramfs-exhaust.cpio; tests/sim/exhaustion.cmake runs it with --memory 64).
 *
 * A round:
 *   1. memory: anonymous memory (vma_alloc, every page written and read
 *      back) up to ANON_LIMIT, then VMOs in halving sizes until a one-page VMO
 *      is NO_MEMORY (the simulator gives every mapped page a Unicorn region of
 *      its own and cannot map many thousands in one address space);
 *   2. small objects in rotation (CNodes, endpoints, notifications, threads,
 *      one-page VMOs, VSpaces) until every kind is NO_MEMORY; their caps are
 *      parked in storage CNodes (cap copies: caps cost no memory);
 *   3. with nothing left: printf through the IO server, a name server lookup,
 *      a thread created from what is left runs and prints, and every create is
 *      NO_MEMORY;
 *   4. everything unmapped and deleted.
 * The kernel heap keeps the frames it carves into small blocks (it reuses them
 * but never returns them; see tests/unit/test_exhaustion.cpp), so round 1 gives
 * the small objects some frames and fills the heap's free lists; rounds 2 and 3
 * take every frame with memory (anonymous, then VMOs) first, so their small
 * objects come from those free lists, and must reach exactly the same counts:
 * anything the kernel leaked in round 2 would be missing in round 3.
 * Exit status: 0 if rounds 2 and 3 match, 1 if not, 2 if something else failed.
 * The last line is "exhaust: rounds 2 and 3 match: ..." or says what differed. */
#include <anvil/anvil.h>
#include <anvil/services.h>
#include <stdio.h>
#include <string.h>

#define PAGE ANVIL_PAGE_SIZE
#define ROUNDS 3
#define MAX_REGIONS 256
#define MAX_VMOS 256
/* Anonymous memory mapped per round, at most. */
#define ANON_LIMIT (2ull << 20)
/* Round 1 frees this many pages of its smallest VMOs for the small objects. */
#define WARM_PAGES 256u
/* Storage for parked caps: slot 0 of each stays empty. */
#define STORAGE_CNODES 4
#define STORAGE_SLOTS 1024u
#define HELPER_STACK (16u * 1024u)

enum { K_CNODE, K_ENDPOINT, K_NOTIFICATION, K_THREAD, K_VMO, K_VSPACE, KINDS };
static const char *const k_kind_names[KINDS] = {"CNodes", "endpoints", "notifications", "threads", "one-page VMOs",
                                               "VSpaces"};

struct counts {
    uint64_t anon_pages;
    uint32_t regions;
    uint64_t vmo_pages; /* in the big (unmapped) VMOs */
    uint32_t vmos;
    uint32_t objects[KINDS];
    uint32_t caps_parked;
};

static struct {
    uint64_t va, len;
} g_regions[MAX_REGIONS];
static uint32_t g_region_count;
static anvil_cap_t g_storage[STORAGE_CNODES];
static uint32_t g_parked;
static uint32_t g_vmo_index[MAX_VMOS]; /* where each big VMO is parked */
static uint64_t g_vmo_pages[MAX_VMOS];
static uint8_t g_helper_stack[HELPER_STACK] __attribute__((aligned(16)));
static volatile uint32_t g_helper_done;
static int g_errors;

static void fail(const char *what, anvil_status_t s)
{
    printf("exhaust: %s: %s\n", what, anvil_status_str(s));
    g_errors++;
}

/* Moves the cap in our slot into storage (a copy there, ours deleted). */
static int park(anvil_cap_t slot)
{
    if (g_parked >= STORAGE_CNODES * (STORAGE_SLOTS - 1)) {
        fail("storage full", ANVIL_ERR_NO_MEMORY);
        return 0;
    }
    const anvil_cap_t cnode = g_storage[g_parked / (STORAGE_SLOTS - 1)];
    const uint32_t index = g_parked % (STORAGE_SLOTS - 1) + 1;
    anvil_status_t s = anvil_cap_copy(ANVIL_CAP_SELF_CNODE, slot, cnode, index, ANVIL_RIGHTS_ALL, 0);
    if (s == ANVIL_OK)
        s = anvil_cap_delete(ANVIL_CAP_SELF_CNODE, slot);
    if (s != ANVIL_OK) {
        fail("park a cap", s);
        return 0;
    }
    g_parked++;
    return 1;
}

/* Writes every page of a region and reads it back. */
static int touch(uint64_t va, uint64_t len)
{
    for (uint64_t off = 0; off < len; off += PAGE)
        *(volatile uint64_t *)(uintptr_t)(va + off) = va + off;
    for (uint64_t off = 0; off < len; off += PAGE)
        if (*(volatile uint64_t *)(uintptr_t)(va + off) != va + off)
            return 0;
    return 1;
}

/* Anonymous memory in halving sizes up to ANON_LIMIT, then VMOs in halving
 * sizes until one page is NO_MEMORY (parked like the small objects). */
static void fill_memory(struct counts *c)
{
    uint64_t pages = ANON_LIMIT / PAGE / 4;
    while (pages > 0 && c->anon_pages + pages <= ANON_LIMIT / PAGE) {
        if (g_region_count == MAX_REGIONS) {
            fail("too many regions", ANVIL_ERR_NO_MEMORY);
            return;
        }
        uint64_t va;
        const anvil_status_t s =
            anvil_vma_alloc(ANVIL_CAP_SELF_VSPACE, pages * PAGE, ANVIL_PERM_R | ANVIL_PERM_W, &va);
        if (s == ANVIL_ERR_NO_MEMORY) {
            pages /= 2;
            continue;
        }
        if (s != ANVIL_OK) {
            fail("vma_alloc", s);
            return;
        }
        if (!touch(va, pages * PAGE)) {
            fail("anonymous memory does not read back what was written", ANVIL_ERR_FAULT);
            return;
        }
        g_regions[g_region_count].va = va;
        g_regions[g_region_count].len = pages * PAGE;
        g_region_count++;
        c->regions++;
        c->anon_pages += pages;
    }
    pages = 1ull << 16; /* 256 MiB: more than the machine has */
    while (pages > 0 && !g_errors) {
        anvil_cap_t vmo;
        const anvil_status_t s = anvil_vmo_create(pages * PAGE, &vmo);
        if (s == ANVIL_ERR_NO_MEMORY) {
            pages /= 2;
            continue;
        }
        if (s != ANVIL_OK) {
            fail("vmo_create", s);
            return;
        }
        if (c->vmos == MAX_VMOS || !park(vmo))
            return;
        g_vmo_index[c->vmos] = g_parked - 1;
        g_vmo_pages[c->vmos] = pages;
        c->vmos++;
        c->vmo_pages += pages;
    }
}

/* Round 1: deletes the last (smallest) big VMOs until WARM_PAGES pages are
 * free again, so that the small objects get frames of their own. */
static void give_back(struct counts *c)
{
    uint64_t freed = 0;
    while (freed < WARM_PAGES && c->vmos > 0) {
        const uint32_t i = g_vmo_index[c->vmos - 1];
        const anvil_status_t s = anvil_cap_delete(g_storage[i / (STORAGE_SLOTS - 1)], i % (STORAGE_SLOTS - 1) + 1);
        if (s != ANVIL_OK) {
            fail("delete a VMO", s);
            return;
        }
        c->vmos--;
        c->vmo_pages -= g_vmo_pages[c->vmos];
        freed += g_vmo_pages[c->vmos];
    }
}

static anvil_status_t create(int kind, anvil_cap_t *out)
{
    switch (kind) {
    case K_CNODE: return anvil_cnode_create(16, out);
    case K_ENDPOINT: return anvil_endpoint_create(out);
    case K_NOTIFICATION: return anvil_notification_create(out);
    case K_THREAD: return anvil_tcb_create(out);
    case K_VMO: return anvil_vmo_create(PAGE, out);
    default: return anvil_vspace_create(out);
    }
}

/* Small objects in rotation until every kind is NO_MEMORY. */
static void fill_small(struct counts *c)
{
    int exhausted[KINDS] = {0};
    int left = KINDS;
    while (left > 0 && !g_errors) {
        for (int k = 0; k < KINDS; k++) {
            if (exhausted[k])
                continue;
            anvil_cap_t slot;
            const anvil_status_t s = create(k, &slot);
            if (s == ANVIL_ERR_NO_MEMORY) {
                exhausted[k] = 1;
                left--;
                continue;
            }
            if (s != ANVIL_OK) {
                fail(k_kind_names[k], s);
                return;
            }
            if (!park(slot))
                return;
            c->objects[k]++;
            c->caps_parked++;
        }
    }
}

/* A thread started while the memory is exhausted: it prints and exits. */
static void helper(uint64_t round)
{
    printf("exhaust: round %llu: a thread started with no memory left prints through the IO server\n",
           (unsigned long long)round);
    g_helper_done = 1;
    anvil_thread_exit(0);
}

/* With nothing left: the servers answer, a thread runs, creates fail cleanly. */
static void while_exhausted(int round)
{
    printf("exhaust: round %d: out of memory; the IO server still prints this\n", round);
    anvil_cap_t io;
    anvil_status_t s = anvil_ns_lookup("io", &io);
    if (s == ANVIL_OK) {
        printf("exhaust: round %d: the name server still answers (lookup of \"io\": %s)\n", round,
               anvil_status_str(s));
        anvil_cap_delete(ANVIL_CAP_SELF_CNODE, io);
    } else {
        fail("name server lookup while exhausted", s);
    }
    for (int k = 0; k < KINDS; k++) {
        anvil_cap_t slot;
        s = create(k, &slot);
        if (s != ANVIL_ERR_NO_MEMORY) {
            fail(k_kind_names[k], s);
            if (s == ANVIL_OK)
                anvil_cap_delete(ANVIL_CAP_SELF_CNODE, slot);
        }
    }
    uint64_t va;
    s = anvil_vma_alloc(ANVIL_CAP_SELF_VSPACE, PAGE, ANVIL_PERM_R | ANVIL_PERM_W, &va);
    if (s != ANVIL_ERR_NO_MEMORY)
        fail("vma_alloc of one page while exhausted", s);

    /* A parked thread (the first: made before the memory ran out) runs on a
     * stack we own. */
    for (uint32_t i = 0; i < g_parked; i++) {
        const anvil_cap_t cnode = g_storage[i / (STORAGE_SLOTS - 1)];
        const uint32_t index = i % (STORAGE_SLOTS - 1) + 1;
        anvil_cap_info_t info;
        if (anvil_cap_info(cnode, index, &info) != ANVIL_OK || info.type != ANVIL_OBJ_TCB)
            continue;
        anvil_cap_t tcb = 0;
        s = anvil_cap_copy_any(cnode, index, ANVIL_CAP_SELF_CNODE, ANVIL_RIGHTS_ALL, 0, &tcb);
        anvil_regs_t regs;
        memset(&regs, 0, sizeof regs);
        regs.rip = (uint64_t)(uintptr_t)helper;
        regs.rsp = (uint64_t)(uintptr_t)(g_helper_stack + HELPER_STACK) - 8;
        regs.rdi = (uint64_t)round;
        regs.rflags = 0x202;
        g_helper_done = 0;
        if (s == ANVIL_OK)
            s = anvil_tcb_configure(tcb, ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_VSPACE, 0, 100, ANVIL_CPU_ANY, 0);
        if (s == ANVIL_OK)
            s = anvil_tcb_set_regs(tcb, &regs);
        if (s == ANVIL_OK)
            s = anvil_tcb_resume(tcb);
        for (uint32_t n = 0; s == ANVIL_OK && !g_helper_done && n < 1000000; n++)
            anvil_thread_yield();
        if (s != ANVIL_OK || !g_helper_done)
            fail("run a thread while exhausted", s);
        anvil_cap_delete(ANVIL_CAP_SELF_CNODE, tcb);
        return;
    }
    fail("no thread could be made", ANVIL_ERR_NO_MEMORY);
}

/* Deletes the storage (and every parked cap with it) and unmaps every region. */
static void free_all(void)
{
    for (int i = 0; i < STORAGE_CNODES; i++) {
        const anvil_status_t s = anvil_cap_delete(ANVIL_CAP_SELF_CNODE, g_storage[i]);
        if (s != ANVIL_OK)
            fail("delete a storage CNode", s);
    }
    g_parked = 0;
    for (uint32_t i = 0; i < g_region_count; i++) {
        const anvil_status_t s = anvil_vma_unmap(ANVIL_CAP_SELF_VSPACE, g_regions[i].va, g_regions[i].len);
        if (s != ANVIL_OK)
            fail("vma_unmap", s);
    }
    g_region_count = 0;
}

static void show(int round, const struct counts *c)
{
    printf("exhaust: round %d: %llu KiB anonymous memory in %u regions (written and read back), %llu KiB in %u VMOs,",
           round, (unsigned long long)(c->anon_pages * PAGE / 1024), c->regions,
           (unsigned long long)(c->vmo_pages * PAGE / 1024), c->vmos);
    for (int k = 0; k < KINDS; k++)
        printf(" %u %s%s", c->objects[k], k_kind_names[k], k + 1 < KINDS ? "," : ";");
    printf(" %u caps parked; all freed\n", c->caps_parked);
}

static int run_round(int round, struct counts *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < STORAGE_CNODES; i++) {
        const anvil_status_t s = anvil_cnode_create(STORAGE_SLOTS, &g_storage[i]);
        if (s != ANVIL_OK) {
            fail("create a storage CNode", s);
            return 0;
        }
    }
    /* The thread while_exhausted runs, made while there is memory: a thread
     * takes two kernel blocks (its TCB and its x87/SSE state), which the
     * leftovers of rounds 2 and 3 no longer hold. */
    anvil_cap_t spare;
    anvil_status_t s = create(K_THREAD, &spare);
    if (s != ANVIL_OK || !park(spare)) {
        fail("create the thread to run while exhausted", s);
        return 0;
    }
    c->objects[K_THREAD]++;
    c->caps_parked++;
    fill_memory(c);
    if (round == 1)
        give_back(c);
    fill_small(c);
    if (!g_errors)
        while_exhausted(round);
    free_all();
    if (g_errors)
        return 0;
    show(round, c);
    return 1;
}

int main(uint64_t start_arg)
{
    (void)start_arg;
    anvil_stdio_use_ioserver();
    printf("exhaust: %d rounds of running the kernel out of memory and freeing it all\n", ROUNDS);
    static struct counts counts[ROUNDS + 1];
    for (int r = 1; r <= ROUNDS; r++)
        if (!run_round(r, &counts[r])) {
            printf("exhaust: round %d failed\n", r);
            return 2;
        }
    const struct counts *a = &counts[2], *b = &counts[3];
    int same = a->anon_pages == b->anon_pages && a->regions == b->regions && a->vmo_pages == b->vmo_pages &&
               a->vmos == b->vmos && a->caps_parked == b->caps_parked;
    for (int k = 0; k < KINDS; k++)
        same &= a->objects[k] == b->objects[k];
    if (!same) {
        printf("exhaust: round 3 differs from round 2: %llu vs %llu KiB in memory, %u vs %u caps parked: "
               "the kernel kept memory it should have freed\n",
               (unsigned long long)((a->anon_pages + a->vmo_pages) * PAGE / 1024),
               (unsigned long long)((b->anon_pages + b->vmo_pages) * PAGE / 1024), a->caps_parked, b->caps_parked);
        return 1;
    }
    printf("exhaust: rounds 2 and 3 match: %llu KiB of memory and %u objects each time, nothing leaked\n",
           (unsigned long long)((a->anon_pages + a->vmo_pages) * PAGE / 1024), a->caps_parked);
    return 0;
}
