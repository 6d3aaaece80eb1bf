/* nameserver: maps names to capabilities (protocol in <anvil/services.h>).
 *
 * It receives calls on its slot ANVIL_CAP_NAMESERVER (READ). Its state outlives
 * it: init lends every instance the same CNode (ANVIL_CAP_NS_STORE), where the
 * published caps are kept, and the same VMO (ANVIL_CAP_NS_TABLE), where each
 * change to the table is written through. A restarted name server reads the
 * table back, keeps the entries that are well formed and whose caps are still
 * there, and clears the rest, so it answers for the names registered before.
 *
 * A registration's cap lands in this process's CNode and is copied into the
 * store; a lookup copies the stored cap back here and replies with that copy,
 * which goes once the reply has. The owner of a name is the badge of the cap
 * the registration came through (init gives each service its own), so a
 * restarted service, having the same badge, takes its name back.
 *
 * Every request gets a status reply, and every cap that arrives is either
 * stored or deleted before the next one, so no request can leak a slot. The
 * store is written before the table on the way in and after it on the way out,
 * so a crash in between leaves at worst a stored cap no entry names, which the
 * next instance deletes.
 *
 * It prints with anvil_debug_write only (libc's default sink): the IO server
 * registers here at boot, so using it would make the two wait on each other. */
#include <anvil/anvil.h>
#include <anvil/services.h>
#include <stdio.h>
#include <string.h>

#define NS_EP ANVIL_CAP_NAMESERVER
#define SELF ANVIL_CAP_SELF_CNODE
#define STORE ANVIL_CAP_NS_STORE
#define TABLE ANVIL_CAP_NS_TABLE

struct entry {
    uint32_t used;
    uint32_t len;
    char name[ANVIL_NS_NAME_MAX];
    uint64_t owner;   /* badge of the registering client */
    uint32_t slot;    /* the published cap, in the store */
    uint32_t unused;
};

/* The table VMO: a header, then one entry per name. */
#define TABLE_MAGIC 0x4e53544bu /* "KTSN" */
#define TABLE_VERSION 1u
struct table_header {
    uint32_t magic;
    uint32_t version;
};
_Static_assert(sizeof(struct table_header) + ANVIL_NS_MAX_NAMES * sizeof(struct entry) <= ANVIL_NS_TABLE_BYTES,
               "the table fits its VMO");

static struct entry g_table[ANVIL_NS_MAX_NAMES];
/* A copy made for a lookup's reply, deleted once the reply is gone. */
static anvil_cap_t g_reply_copy = ANVIL_CAP_NULL;

/* Messages are ~1 KiB each: static, not on the stack. */
static anvil_msg_t g_req, g_reply;

static int name_valid(const anvil_msg_t *m)
{
    if (m->len == 0 || m->len > ANVIL_NS_NAME_MAX)
        return 0;
    return memchr(m->data, '\0', m->len) == NULL;
}

static struct entry *find(const anvil_msg_t *m)
{
    for (unsigned i = 0; i < ANVIL_NS_MAX_NAMES; i++) {
        struct entry *e = &g_table[i];
        if (e->used && e->len == m->len && memcmp(e->name, m->data, m->len) == 0)
            return e;
    }
    return NULL;
}

/* Writes entry `e` through to the table VMO. */
static void save(const struct entry *e)
{
    const uint64_t offset = sizeof(struct table_header) + (uint64_t)(e - g_table) * sizeof *e;
    const anvil_status_t s = anvil_vmo_write(TABLE, offset, e, sizeof *e);
    if (s != ANVIL_OK)
        printf("nameserver: saving the table: %s\n", anvil_status_str(s));
}

static void drop(struct entry *e)
{
    const uint32_t slot = e->slot;
    memset(e, 0, sizeof *e);
    save(e);
    anvil_cap_delete(STORE, slot);
}

/* An entry whose cap is gone (its publisher revoked it) is as good as absent. */
static int alive(const struct entry *e)
{
    anvil_cap_info_t info;
    return anvil_cap_info(STORE, e->slot, &info) == ANVIL_OK;
}

/* A stored copy of the cap in our slot `landed` (*slot), or NO_MEMORY. */
static anvil_status_t store(anvil_cap_t landed, uint32_t *slot)
{
    return anvil_cap_copy_any(SELF, landed, STORE, ANVIL_RIGHTS_ALL, 0, slot);
}

static anvil_status_t do_register(const anvil_msg_t *m, uint64_t badge)
{
    if (!name_valid(m) || m->ncaps != 1)
        return ANVIL_ERR_INVALID_ARG;
    struct entry *e = find(m);
    if (e && !alive(e)) {
        drop(e);
        e = NULL;
    }
    if (e) {
        if (e->owner != badge)
            return ANVIL_ERR_SLOT_OCCUPIED;
        /* The same client again: its new cap replaces the old one. */
        uint32_t slot;
        const anvil_status_t s = store(m->caps[0], &slot);
        if (s != ANVIL_OK)
            return s;
        const uint32_t old = e->slot;
        e->slot = slot;
        save(e);
        anvil_cap_delete(STORE, old);
        return ANVIL_OK;
    }
    for (unsigned i = 0; i < ANVIL_NS_MAX_NAMES && !e; i++)
        if (!g_table[i].used)
            e = &g_table[i];
    /* Full: make room from entries whose caps have gone. */
    for (unsigned i = 0; i < ANVIL_NS_MAX_NAMES && !e; i++)
        if (!alive(&g_table[i])) {
            drop(&g_table[i]);
            e = &g_table[i];
        }
    if (!e)
        return ANVIL_ERR_NO_MEMORY;
    uint32_t slot;
    const anvil_status_t s = store(m->caps[0], &slot);
    if (s != ANVIL_OK)
        return s;
    e->used = 1;
    e->len = m->len;
    memcpy(e->name, m->data, m->len);
    e->owner = badge;
    e->slot = slot;
    save(e);
    return ANVIL_OK;
}

/* On success the reply carries the entry's cap. */
static anvil_status_t do_lookup(const anvil_msg_t *m, anvil_msg_t *reply)
{
    if (!name_valid(m))
        return ANVIL_ERR_INVALID_ARG;
    struct entry *e = find(m);
    if (!e)
        return ANVIL_ERR_NOT_FOUND;
    if (!alive(e)) {
        drop(e);
        return ANVIL_ERR_NOT_FOUND;
    }
    /* A copy here to reply with: the kernel transfers from our own CNode. */
    uint32_t copy;
    const anvil_status_t s = anvil_cap_copy_any(STORE, e->slot, SELF, ANVIL_RIGHTS_ALL, 0, &copy);
    if (s != ANVIL_OK)
        return s;
    g_reply_copy = copy;
    reply->ncaps = 1;
    reply->caps[0] = copy;
    return ANVIL_OK;
}

static anvil_status_t do_unregister(const anvil_msg_t *m, uint64_t badge)
{
    if (!name_valid(m))
        return ANVIL_ERR_INVALID_ARG;
    struct entry *e = find(m);
    if (!e)
        return ANVIL_ERR_NOT_FOUND;
    if (e->owner != badge)
        return ANVIL_ERR_ACCESS_DENIED;
    drop(e);
    return ANVIL_OK;
}

/* Answers one request into *reply (label = status). `refused` says the kernel
 * could not land the request's caps here (our CNode is full). */
static void handle(anvil_msg_t *req, uint64_t badge, int refused, anvil_msg_t *reply)
{
    anvil_status_t s;
    reply->len = 0;
    reply->ncaps = 0;
    switch (req->label) {
    case ANVIL_NS_REGISTER:
        s = refused ? ANVIL_ERR_NO_MEMORY : do_register(req, badge);
        break;
    case ANVIL_NS_LOOKUP:
        s = do_lookup(req, reply);
        break;
    case ANVIL_NS_UNREGISTER:
        s = do_unregister(req, badge);
        break;
    default:
        s = ANVIL_ERR_NOT_SUPPORTED;
        break;
    }
    /* What arrived is stored by now, or not wanted: the landed caps go. */
    for (uint32_t i = 0; i < req->ncaps && i < ANVIL_MSG_MAX_CAPS; i++)
        anvil_cap_delete(SELF, req->caps[i]);
    reply->label = (uint64_t)(int64_t)s;
}

/* True if `e`, read back from the table, is a well-formed entry whose cap is
 * still in the store, and names neither a name nor a slot of an earlier one. */
static int restorable(const struct entry *e)
{
    if (e->used != 1 || e->len == 0 || e->len > ANVIL_NS_NAME_MAX || e->slot >= ANVIL_NS_STORE_SLOTS ||
        memchr(e->name, '\0', e->len) != NULL || !alive(e))
        return 0;
    for (const struct entry *o = g_table; o < e; o++) {
        if (o->used && (o->slot == e->slot || (o->len == e->len && memcmp(o->name, e->name, e->len) == 0)))
            return 0;
    }
    return 1;
}

/* Reads the table a previous instance left (none on the first start: the VMO
 * is zeroes), keeps what is sound, and deletes stored caps no entry names.
 * Returns the number of names kept, or -1 if the store or table is missing. */
static int restore(void)
{
    anvil_cap_info_t store_info, table_info;
    if (anvil_cap_info(SELF, STORE, &store_info) != ANVIL_OK || store_info.type != ANVIL_OBJ_CNODE ||
        anvil_cap_info(SELF, TABLE, &table_info) != ANVIL_OK || table_info.type != ANVIL_OBJ_VMO)
        return -1;
    struct table_header h;
    if (anvil_vmo_read(TABLE, 0, &h, sizeof h) != ANVIL_OK ||
        anvil_vmo_read(TABLE, sizeof h, g_table, sizeof g_table) != ANVIL_OK)
        return -1;
    const int fresh = h.magic != TABLE_MAGIC || h.version != TABLE_VERSION;
    /* The first instance finds the VMO as init made it, zeroes, and the store
     * empty: nothing to check or delete. */
    if (h.magic == 0 && h.version == 0) {
        h.magic = TABLE_MAGIC;
        h.version = TABLE_VERSION;
        memset(g_table, 0, sizeof g_table);
        return anvil_vmo_write(TABLE, 0, &h, sizeof h) == ANVIL_OK ? 0 : -1;
    }
    int kept = 0;
    for (unsigned i = 0; i < ANVIL_NS_MAX_NAMES; i++) {
        struct entry *e = &g_table[i];
        if (!fresh && restorable(e)) {
            kept++;
            continue;
        }
        if (e->used || e->len || e->owner || e->slot) {
            memset(e, 0, sizeof *e);
            save(e);
        }
    }
    for (uint32_t slot = 0; slot < ANVIL_NS_STORE_SLOTS; slot++) {
        int named = 0;
        for (unsigned i = 0; i < ANVIL_NS_MAX_NAMES && !named; i++)
            named = g_table[i].used && g_table[i].slot == slot;
        if (!named)
            anvil_cap_delete(STORE, slot); /* NOT_FOUND for an empty slot */
    }
    if (fresh) {
        h.magic = TABLE_MAGIC;
        h.version = TABLE_VERSION;
        if (anvil_vmo_write(TABLE, 0, &h, sizeof h) != ANVIL_OK)
            return -1;
    }
    return kept;
}

/* The receive buffer offers one slot (anywhere) for a registration's cap, or
 * none after the kernel found our CNode full. */
static void offer(anvil_msg_t *m, int caps)
{
    m->ncaps = caps ? 1 : 0;
    m->caps[0] = ANVIL_SLOT_ANY;
}

int main(uint64_t start_arg)
{
    (void)start_arg;
    anvil_cap_info_t info;
    anvil_status_t s = anvil_cap_info(SELF, NS_EP, &info);
    if (s != ANVIL_OK || info.type != ANVIL_OBJ_ENDPOINT || !(info.rights & ANVIL_RIGHT_READ)) {
        printf("nameserver: slot %u holds no endpoint to serve (%s)\n", NS_EP,
               s == ANVIL_OK ? "wrong cap" : anvil_status_str(s));
        return 1;
    }
    const int kept = restore();
    if (kept < 0) {
        printf("nameserver: slots %u and %u hold no store (CNode) and table (VMO) to keep names in\n", STORE,
               TABLE);
        return 1;
    }
    printf("nameserver: ready (%u names of up to %u bytes; %d kept from before)\n", ANVIL_NS_MAX_NAMES,
           ANVIL_NS_NAME_MAX, kept);

    uint64_t badge = 0;
    int refused = 0;
    offer(&g_req, 1);
    s = anvil_ipc_recv(NS_EP, &g_req, &badge);
    for (;;) {
        if (s == ANVIL_ERR_NO_MEMORY && !refused) {
            /* No free slot for the sender's cap: the sender is still queued;
             * take its message without caps and tell it. */
            refused = 1;
            offer(&g_req, 0);
            s = anvil_ipc_recv(NS_EP, &g_req, &badge);
            continue;
        }
        if (s != ANVIL_OK) {
            printf("nameserver: receive failed: %s\n", anvil_status_str(s));
            return 1;
        }
        handle(&g_req, badge, refused, &g_reply);
        refused = 0;
        offer(&g_req, 1);
        s = anvil_ipc_reply_recv(NS_EP, &g_reply, &g_req, &badge);
        if (g_reply_copy != ANVIL_CAP_NULL) {
            /* The caller has its own copy by now (or the reply failed). */
            anvil_cap_delete(SELF, g_reply_copy);
            g_reply_copy = ANVIL_CAP_NULL;
        }
        if (s != ANVIL_OK && g_reply.ncaps) {
            /* Either the reply's cap could not go (its publisher revoked it
             * after the check), and the caller still waits, or the reply went
             * and the receive failed. Answer with a status alone: that finds no
             * caller (BAD_STATE) in the second case, which the loop then handles. */
            g_reply.label = (uint64_t)(int64_t)ANVIL_ERR_NOT_FOUND;
            g_reply.ncaps = 0;
            if (anvil_ipc_reply(&g_reply) == ANVIL_OK) {
                offer(&g_req, 1);
                s = anvil_ipc_recv(NS_EP, &g_req, &badge);
            }
        }
    }
}
