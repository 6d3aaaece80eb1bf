/* test-child: a program the test suite starts as a separate process. Its start
 * argument picks a scenario (child_proto.h); it reports through a page the
 * parent lends it (slot 9) and ends with CHILD_DONE, unless the scenario is
 * meant to end in a fault. */
#include <anvil/anvil.h>

#include <string.h>

#include "child_proto.h"

#define PAGE 4096u

static struct child_shared *const g_shared = (struct child_shared *)CHILD_SHARED_VA;
/* Times main ran in this process (always 1): gives the program a writable
 * data segment, which the suite's spawn tests rely on. */
static volatile uint32_t g_runs = 0;

static void record(uint32_t index, int32_t value)
{
    g_shared->result[index] = value;
    if (g_shared->nresults < index + 1)
        g_shared->nresults = index + 1;
}

/* Yields until *word == value, at most CHILD_WAIT_LIMIT times; 1 if it got there. */
static int wait_for(volatile uint32_t *word, uint32_t value)
{
    for (uint32_t i = 0; i < CHILD_WAIT_LIMIT; i++) {
        if (*word == value)
            return 1;
        g_shared->spins++;
        anvil_thread_yield();
    }
    return *word == value;
}

/* Slot 8 is a READ-only VMO holding PARENT_SECRET: no call may widen that. */
static void escalate(void)
{
    char buf[sizeof PARENT_SECRET];
    record(ESC_VMO_WRITE, anvil_vmo_write(CHILD_SLOT_VMO, 0, "x", 1));
    record(ESC_VMO_READ, anvil_vmo_read(CHILD_SLOT_VMO, 0, buf, sizeof buf));

    uint32_t copy = 0;
    record(ESC_COPY_ALL, anvil_cap_copy_any(ANVIL_CAP_SELF_CNODE, CHILD_SLOT_VMO, ANVIL_CAP_SELF_CNODE,
                                            ANVIL_RIGHTS_ALL, 0, &copy));
    anvil_cap_info_t info = {0};
    record(ESC_COPY_INFO, anvil_cap_info(ANVIL_CAP_SELF_CNODE, copy, &info));
    g_shared->value[0] = info.rights;
    record(ESC_COPY_WRITE, anvil_vmo_write(copy, 0, "x", 1));

    record(ESC_MAP_W, anvil_vma_map(ANVIL_CAP_SELF_VSPACE, CHILD_VMO_VA, copy, 0, PAGE,
                                    ANVIL_PERM_R | ANVIL_PERM_W));
    record(ESC_MAP_X, anvil_vma_map(ANVIL_CAP_SELF_VSPACE, CHILD_VMO_VA, CHILD_SLOT_VMO, 0, PAGE,
                                    ANVIL_PERM_R | ANVIL_PERM_X));
    record(ESC_MAP_R, anvil_vma_map(ANVIL_CAP_SELF_VSPACE, CHILD_VMO_VA, CHILD_SLOT_VMO, 0, PAGE, ANVIL_PERM_R));
    record(ESC_MAP_R_READS, g_shared->result[ESC_MAP_R] == ANVIL_OK &&
                                memcmp((const void *)CHILD_VMO_VA, PARENT_SECRET, sizeof PARENT_SECRET) == 0 &&
                                memcmp(buf, PARENT_SECRET, sizeof PARENT_SECRET) == 0);

    record(ESC_REVOKE, anvil_cap_revoke(ANVIL_CAP_SELF_CNODE, CHILD_SLOT_VMO));
    anvil_cap_t other = 0;
    anvil_status_t s = anvil_cnode_create(16, &other);
    record(ESC_GRANT_OUT, s == ANVIL_OK ? anvil_cap_copy(ANVIL_CAP_SELF_CNODE, CHILD_SLOT_VMO, other, 1,
                                                         ANVIL_RIGHTS_ALL, 0)
                                        : s);
    record(ESC_SELF_CNODE_OUT, s == ANVIL_OK ? anvil_cap_copy(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_CNODE, other,
                                                              2, ANVIL_RIGHTS_ALL, 0)
                                             : s);
    anvil_cap_t tcb = 0;
    s = anvil_tcb_create(&tcb);
    record(ESC_PRIORITY, s == ANVIL_OK ? anvil_tcb_configure(tcb, ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_VSPACE, 0,
                                                             200, ANVIL_CPU_ANY, 0)
                                       : s);
    record(ESC_SELF_INFO, anvil_cap_info(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_CNODE, &info));
    g_shared->value[1] = info.rights;
}

/* Uses slot 8, tells the parent, waits for its revoke, then finds slot 8 empty. */
static void revoke(void)
{
    char buf[sizeof PARENT_SECRET];
    record(RVK_WRITE_BEFORE, anvil_vmo_write(CHILD_SLOT_VMO, 0, PARENT_SECRET, sizeof PARENT_SECRET));
    record(RVK_READ_BEFORE, anvil_vmo_read(CHILD_SLOT_VMO, 0, buf, sizeof buf));
    g_shared->stage = 1;
    record(RVK_SAW_REVOKE, wait_for(&g_shared->command, PARENT_REVOKED));
    record(RVK_READ_AFTER, anvil_vmo_read(CHILD_SLOT_VMO, 0, buf, sizeof buf));
    anvil_cap_info_t info;
    record(RVK_INFO_AFTER, anvil_cap_info(ANVIL_CAP_SELF_CNODE, CHILD_SLOT_VMO, &info));
    record(RVK_SHARED_STILL, anvil_cap_info(ANVIL_CAP_SELF_CNODE, CHILD_SLOT_SHARED, &info));
}

/* Slot 8 is a two-page VMO the parent also maps: page 1 carries its pattern,
 * page 0 gets ours, then a word the parent writes later must show up. */
static void shared_memory(void)
{
    const anvil_status_t s = anvil_vma_map(ANVIL_CAP_SELF_VSPACE, CHILD_VMO_VA, CHILD_SLOT_VMO, 0, 2 * PAGE,
                                           ANVIL_PERM_R | ANVIL_PERM_W);
    record(SHM_MAP, s);
    if (s != ANVIL_OK)
        return;
    volatile uint8_t *mem = (volatile uint8_t *)CHILD_VMO_VA;
    int saw = 1;
    for (uint32_t i = 0; i < PAGE; i++)
        saw &= mem[PAGE + i] == parent_pattern(i);
    record(SHM_SAW_PARENT, saw);
    for (uint32_t i = 0; i < PAGE; i++)
        mem[i] = child_pattern(i);
    g_shared->stage = 1;
    int poked = wait_for(&g_shared->command, PARENT_POKED);
    record(SHM_SAW_POKE, poked && *(volatile uint64_t *)(CHILD_VMO_VA + PAGE) == PARENT_POKE_WORD);
}

/* Allocates, maps and unmaps in its own VSpace. */
static void maps(void)
{
    anvil_cap_t vmo = 0;
    anvil_status_t s = anvil_vmo_create(PAGE, &vmo);
    record(MAPS_VMO_CREATE, s);
    if (s != ANVIL_OK)
        return;

    uint64_t va = 0;
    s = anvil_vma_alloc(ANVIL_CAP_SELF_VSPACE, 2 * PAGE, ANVIL_PERM_R | ANVIL_PERM_W, &va);
    record(MAPS_ALLOC, s);
    g_shared->value[0] = va;
    if (s != ANVIL_OK)
        return;
    volatile uint64_t *words = (volatile uint64_t *)va;
    int ok = 1;
    for (uint32_t i = 0; i < 2 * PAGE / 8; i++)
        ok &= words[i] == 0;
    for (uint32_t i = 0; i < 2 * PAGE / 8; i++)
        words[i] = i * 0x0101010101010101ull;
    for (uint32_t i = 0; i < 2 * PAGE / 8; i++)
        ok &= words[i] == i * 0x0101010101010101ull;
    record(MAPS_ALLOC_ZEROED, ok);
    record(MAPS_UNMAP, anvil_vma_unmap(ANVIL_CAP_SELF_VSPACE, va, 2 * PAGE));
    /* The kernel no longer reads it for us (touching it ourselves would fault). */
    record(MAPS_GONE, anvil_vmo_write(vmo, 0, (const void *)va, 8));
    record(MAPS_UNMAP_AGAIN, anvil_vma_unmap(ANVIL_CAP_SELF_VSPACE, va, 2 * PAGE));

    record(MAPS_MAP_FIXED, anvil_vma_map(ANVIL_CAP_SELF_VSPACE, CHILD_FIXED_VA, vmo, 0, PAGE,
                                         ANVIL_PERM_R | ANVIL_PERM_W));
    record(MAPS_MAP_AGAIN, anvil_vma_map(ANVIL_CAP_SELF_VSPACE, CHILD_FIXED_VA, vmo, 0, PAGE, ANVIL_PERM_R));
    if (g_shared->result[MAPS_MAP_FIXED] != ANVIL_OK)
        return;
    static const char kText[] = "mapped at a fixed address";
    memcpy((void *)CHILD_FIXED_VA, kText, sizeof kText);
    char back[sizeof kText];
    record(MAPS_FIXED_WORKS, anvil_vmo_read(vmo, 0, back, sizeof back) == ANVIL_OK &&
                                 memcmp(back, kText, sizeof kText) == 0);
    record(MAPS_UNMAP_FIXED, anvil_vma_unmap(ANVIL_CAP_SELF_VSPACE, CHILD_FIXED_VA, PAGE));
    record(MAPS_REMAP, anvil_vma_map(ANVIL_CAP_SELF_VSPACE, CHILD_FIXED_VA, vmo, 0, PAGE, ANVIL_PERM_R));
    record(MAPS_PERSISTED, g_shared->result[MAPS_REMAP] == ANVIL_OK &&
                               memcmp((const void *)CHILD_FIXED_VA, kText, sizeof kText) == 0);
}

/* Writes memory, unmaps it, then touches it: the access must fault. */
static void touch_after_unmap(void)
{
    uint64_t va = 0;
    if (anvil_vma_alloc(ANVIL_CAP_SELF_VSPACE, PAGE, ANVIL_PERM_R | ANVIL_PERM_W, &va) != ANVIL_OK)
        return;
    g_shared->value[0] = va;
    *(volatile uint64_t *)va = 42;
    if (anvil_vma_unmap(ANVIL_CAP_SELF_VSPACE, va, PAGE) != ANVIL_OK)
        return;
    g_shared->stage = 1;
    g_shared->value[1] = *(volatile uint64_t *)va; /* faults */
    g_shared->stage = 2;
}

/* Slot 8 is an endpoint (READ | WRITE | GRANT): answers SRV_* calls with
 * reply_recv until SRV_QUIT (reply, end) or SRV_EXIT (end without replying). */
static anvil_msg_t g_req, g_rep;

static void ipc_server(void)
{
    const anvil_cap_t ep = CHILD_SLOT_VMO;
    uint64_t badge = 0;
    g_req.ncaps = 1;
    g_req.caps[0] = ANVIL_SLOT_ANY;
    anvil_status_t s = anvil_ipc_recv(ep, &g_req, &badge);
    record(IPCS_FIRST_RECV, s);
    for (uint32_t served = 1; s == ANVIL_OK && served <= 64; served++) {
        g_shared->value[0] = served;
        g_shared->value[1] = badge;
        g_rep.label = g_req.label + 1;
        g_rep.len = 0;
        g_rep.ncaps = 0;
        if (g_req.label == SRV_ECHO) {
            g_rep.len = g_req.len;
            for (uint32_t i = 0; i < g_req.len && i < ANVIL_MSG_MAX_BYTES; i++)
                g_rep.data[i] = g_req.data[g_req.len - 1 - i];
        } else if (g_req.label == SRV_VMO) {
            struct srv_vmo_reply r;
            memset(&r, 0, sizeof r);
            r.ncaps = g_req.ncaps;
            r.write_status = ANVIL_ERR_INVALID_ARG;
            r.info_status = ANVIL_ERR_INVALID_ARG;
            if (g_req.ncaps >= 1) {
                anvil_cap_info_t info = {0, 0, 0, 0};
                r.slot = g_req.caps[0];
                r.write_status = anvil_vmo_write(r.slot, 0, CHILD_VMO_TEXT, sizeof CHILD_VMO_TEXT);
                r.info_status = anvil_cap_info(ANVIL_CAP_SELF_CNODE, r.slot, &info);
                r.rights = info.rights;
                r.type = info.type;
            }
            memcpy(g_rep.data, &r, sizeof r);
            g_rep.len = sizeof r;
        } else if (g_req.label == SRV_NEW_VMO) {
            anvil_cap_t vmo = 0;
            if (anvil_vmo_create(PAGE, &vmo) == ANVIL_OK &&
                anvil_vmo_write(vmo, 0, CHILD_VMO_TEXT, sizeof CHILD_VMO_TEXT) == ANVIL_OK) {
                g_rep.ncaps = 1;
                g_rep.caps[0] = vmo;
            }
        } else if (g_req.label == SRV_QUIT) {
            record(IPCS_LAST, anvil_ipc_reply(&g_rep));
            return;
        } else if (g_req.label == SRV_EXIT) {
            return;
        } else {
            g_rep.label = 0;
        }
        g_req.ncaps = 1;
        g_req.caps[0] = ANVIL_SLOT_ANY;
        s = anvil_ipc_reply_recv(ep, &g_rep, &g_req, &badge);
        record(IPCS_LAST, s);
    }
}

int main(uint64_t mode)
{
    if (anvil_vma_map(ANVIL_CAP_SELF_VSPACE, CHILD_SHARED_VA, CHILD_SLOT_SHARED, 0, PAGE,
                      ANVIL_PERM_R | ANVIL_PERM_W) != ANVIL_OK)
        return 1;
    g_runs++;
    g_shared->magic = CHILD_MAGIC;
    switch (mode) {
    case CHILD_ESCALATE:
        escalate();
        break;
    case CHILD_FAULT_UNMAPPED:
        g_shared->stage = 1;
        g_shared->value[0] = *(volatile uint64_t *)0x0000000050000000ull; /* faults */
        g_shared->stage = 2;
        break;
    case CHILD_FAULT_WRITE_TEXT:
        g_shared->stage = 1;
        *(volatile uint8_t *)(uintptr_t)&main = 0xcc; /* text is R+X: faults */
        g_shared->stage = 2;
        break;
    case CHILD_REVOKE:
        revoke();
        break;
    case CHILD_SHARED_MEMORY:
        shared_memory();
        break;
    case CHILD_MAPS:
        maps();
        break;
    case CHILD_TOUCH_AFTER_UNMAP:
        touch_after_unmap();
        break;
    case CHILD_EXIT:
        break;
    case CHILD_IPC_SERVER:
        ipc_server();
        break;
    default:
        return 2;
    }
    g_shared->done = CHILD_DONE;
    return 0;
}
