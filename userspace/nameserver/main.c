/* nameserver: maps names to capabilities (protocol in <anvil/services.h>).
 *
 * It receives calls on its slot ANVIL_CAP_NAMESERVER (READ). A registration's
 * cap lands in a free slot of this process's CNode and stays there until the
 * name is unregistered or replaced; a lookup replies with that slot, so the
 * kernel gives the caller a copy and this one stays. The owner of a name is the
 * badge of the cap the registration came through (init gives each service its
 * own), so a restarted service, having the same badge, takes its name back.
 *
 * Every request gets a status reply, and every cap that arrives is either
 * stored or deleted before the next one, so no request can leak a slot.
 *
 * It prints with anvil_debug_write only (libc's default sink): the IO server
 * registers here at boot, so using it would make the two wait on each other. */
#include <anvil/anvil.h>
#include <anvil/services.h>
#include <stdio.h>
#include <string.h>

#define NS_EP ANVIL_CAP_NAMESERVER
#define SELF ANVIL_CAP_SELF_CNODE

struct entry {
    int used;
    uint32_t len;
    char name[ANVIL_NS_NAME_MAX];
    uint64_t owner; /* badge of the registering client */
    anvil_cap_t slot; /* the published cap, in our CNode */
};

static struct entry g_table[ANVIL_NS_MAX_NAMES];

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

static void drop(struct entry *e)
{
    anvil_cap_delete(SELF, e->slot);
    memset(e, 0, sizeof *e);
}

/* An entry whose cap is gone (its publisher revoked it) is as good as absent. */
static int alive(const struct entry *e)
{
    anvil_cap_info_t info;
    return anvil_cap_info(SELF, e->slot, &info) == ANVIL_OK;
}

static anvil_status_t do_register(const anvil_msg_t *m, uint64_t badge, int *keep_cap)
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
        anvil_cap_delete(SELF, e->slot);
        e->slot = m->caps[0];
        *keep_cap = 1;
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
    e->used = 1;
    e->len = m->len;
    memcpy(e->name, m->data, m->len);
    e->owner = badge;
    e->slot = m->caps[0];
    *keep_cap = 1;
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
    reply->ncaps = 1;
    reply->caps[0] = e->slot;
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
    int keep_cap = 0;
    reply->len = 0;
    reply->ncaps = 0;
    switch (req->label) {
    case ANVIL_NS_REGISTER:
        s = refused ? ANVIL_ERR_NO_MEMORY : do_register(req, badge, &keep_cap);
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
    /* Caps nobody asked for (or a registration we refused) are not kept. */
    for (uint32_t i = keep_cap ? 1 : 0; i < req->ncaps && i < ANVIL_MSG_MAX_CAPS; i++)
        anvil_cap_delete(SELF, req->caps[i]);
    reply->label = (uint64_t)(int64_t)s;
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
    printf("nameserver: ready (%u names of up to %u bytes)\n", ANVIL_NS_MAX_NAMES, ANVIL_NS_NAME_MAX);

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
