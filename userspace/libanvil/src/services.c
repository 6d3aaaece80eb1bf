/* Client side of the name server and IO server protocols (<anvil/services.h>).
 *
 * Every call is an ipc_call whose reply label is the server's status, made
 * again (to the restarted server) where the protocol allows it. The messages
 * live on the caller's stack (two of them, about 2 KiB), so the calls are safe
 * from any thread of a process. */
#include <anvil/anvil.h>
#include <anvil/services.h>
#include <stdio.h>
#include <string.h>

/* A reply label as a status; a label that is no status means the peer is not
 * speaking the protocol. */
static anvil_status_t reply_status(const anvil_msg_t *reply)
{
    const int64_t v = (int64_t)reply->label;
    if (v > 0 || v < ANVIL_STATUS_MIN)
        return ANVIL_ERR_BAD_STATE;
    return (anvil_status_t)v;
}

/* Length of a name the protocol accepts, or 0 if it accepts none. The server
 * checks again; checking here keeps a long string from overrunning msg.data. */
static uint32_t name_length(const char *name)
{
    if (!name)
        return 0;
    const size_t len = strnlen(name, ANVIL_NS_NAME_MAX + 1);
    return len > ANVIL_NS_NAME_MAX ? 0 : (uint32_t)len;
}

/* One name server request carrying `name` (and `cap` unless it is 0). The
 * reply may bring one cap (into the lowest free slot) if `want_cap`. */
static anvil_status_t ns_call(uint64_t label, const char *name, anvil_cap_t cap, int want_cap,
                              anvil_cap_t *out_cap)
{
    const uint32_t len = name_length(name);
    if (len == 0)
        return ANVIL_ERR_INVALID_ARG;
    anvil_msg_t req, reply;
    req.label = label;
    req.len = len;
    req.ncaps = cap ? 1 : 0;
    req.caps[0] = cap;
    memcpy(req.data, name, len);
    reply.label = 0;
    reply.len = 0;
    reply.ncaps = want_cap ? 1 : 0;
    reply.caps[0] = ANVIL_SLOT_ANY;
    anvil_status_t s = anvil_ipc_call(ANVIL_CAP_NAMESERVER, &req, &reply);
    if (s != ANVIL_OK)
        return s;
    s = reply_status(&reply);
    if (!want_cap)
        return s;
    if (s == ANVIL_OK && reply.ncaps == 1) {
        *out_cap = reply.caps[0];
        return ANVIL_OK;
    }
    /* A failure that still carried a cap, or success without one: drop what came. */
    for (uint32_t i = 0; i < reply.ncaps && i < ANVIL_MSG_MAX_CAPS; i++)
        anvil_cap_delete(ANVIL_CAP_SELF_CNODE, reply.caps[i]);
    return s == ANVIL_OK ? ANVIL_ERR_BAD_STATE : s;
}

/* ns_call for a request that may be made twice (a lookup; a register, which
 * its owner may repeat). PEER_CLOSED means the name server died while serving
 * it; init restarts it with the names it had (docs/userspace.md), so the
 * request is sent once more and waits on the endpoint for the new instance. */
static anvil_status_t ns_call_again(uint64_t label, const char *name, anvil_cap_t cap, int want_cap,
                                    anvil_cap_t *out_cap)
{
    const anvil_status_t s = ns_call(label, name, cap, want_cap, out_cap);
    return s == ANVIL_ERR_PEER_CLOSED ? ns_call(label, name, cap, want_cap, out_cap) : s;
}

anvil_status_t anvil_ns_register(const char *name, anvil_cap_t cap)
{
    /* Slot 0 is always empty; sending it would look like "no cap" to ns_call. */
    if (cap == ANVIL_CAP_NULL)
        return ANVIL_ERR_INVALID_CAP;
    return ns_call_again(ANVIL_NS_REGISTER, name, cap, 0, NULL);
}

anvil_status_t anvil_ns_lookup(const char *name, anvil_cap_t *out)
{
    if (!out)
        return ANVIL_ERR_INVALID_ARG;
    return ns_call_again(ANVIL_NS_LOOKUP, name, 0, 1, out);
}

/* An unregister the name server died serving (PEER_CLOSED) is sent once more.
 * The dead server may have removed the name already (its table outlives it),
 * so NOT_FOUND from the second send means the name is gone, as asked: OK. (A
 * name that never existed, asked about just as the server died, reads OK too.) */
anvil_status_t anvil_ns_unregister(const char *name)
{
    const anvil_status_t s = ns_call(ANVIL_NS_UNREGISTER, name, 0, 0, NULL);
    if (s != ANVIL_ERR_PEER_CLOSED)
        return s;
    const anvil_status_t again = ns_call(ANVIL_NS_UNREGISTER, name, 0, 0, NULL);
    return again == ANVIL_ERR_NOT_FOUND ? ANVIL_OK : again;
}

/* The number of this process's latest IO request; 0 until the first. */
static uint32_t g_io_seq;

/* A new request number: nonzero, and never one a predecessor of this client
 * used (the first is taken from this process's CNode's object id, a counter
 * the kernel never reuses, in the high 16 bits). */
static uint32_t next_io_seq(void)
{
    if (__atomic_load_n(&g_io_seq, __ATOMIC_RELAXED) == 0) {
        anvil_cap_info_t info;
        uint32_t first = 1u << 16;
        if (anvil_cap_info(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_CNODE, &info) == ANVIL_OK &&
            (uint32_t)(info.object_id << 16) != 0)
            first = (uint32_t)(info.object_id << 16);
        uint32_t none = 0;
        __atomic_compare_exchange_n(&g_io_seq, &none, first, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    }
    uint32_t seq;
    do
        seq = __atomic_add_fetch(&g_io_seq, 1, __ATOMIC_RELAXED);
    while (seq == 0);
    return seq;
}

anvil_status_t anvil_io_call(anvil_cap_t ep, anvil_msg_t *req, anvil_msg_t *reply)
{
    if (!req || !reply)
        return ANVIL_ERR_INVALID_ARG;
    req->label = (req->label & ANVIL_IO_OP_MASK) | (uint64_t)next_io_seq() << ANVIL_IO_SEQ_SHIFT;
    /* The reply's sizes are in-out: each send starts from the caller's. */
    const uint32_t len = reply->len, ncaps = reply->ncaps;
    anvil_status_t s = ANVIL_ERR_PEER_CLOSED;
    for (uint32_t i = 0; i < ANVIL_IO_CALL_TRIES && s == ANVIL_ERR_PEER_CLOSED; i++) {
        reply->len = len;
        reply->ncaps = ncaps;
        s = anvil_ipc_call(ep, req, reply);
    }
    return s;
}

/* One ANVIL_IO_WRITE of at most ANVIL_MSG_MAX_BYTES. */
static anvil_status_t io_write_chunk(const char *s, uint32_t len)
{
    anvil_msg_t req, reply;
    req.label = ANVIL_IO_WRITE;
    req.len = len;
    req.ncaps = 0;
    memcpy(req.data, s, len);
    reply.label = 0;
    reply.len = 0;
    reply.ncaps = 0;
    const anvil_status_t st = anvil_io_call(ANVIL_CAP_IOSERVER, &req, &reply);
    return st != ANVIL_OK ? st : reply_status(&reply);
}

anvil_status_t anvil_io_write(const char *s, size_t len)
{
    if (!s && len)
        return ANVIL_ERR_INVALID_ARG;
    /* An empty write still asks the server, so a missing server shows. */
    if (len == 0)
        return io_write_chunk("", 0);
    while (len) {
        const uint32_t n = len > ANVIL_MSG_MAX_BYTES ? ANVIL_MSG_MAX_BYTES : (uint32_t)len;
        const anvil_status_t st = io_write_chunk(s, n);
        if (st != ANVIL_OK)
            return st;
        s += n;
        len -= n;
    }
    return ANVIL_OK;
}

anvil_status_t anvil_io_read_line(char *buf, size_t size, size_t *len)
{
    /* Room for at least one byte and the NUL. */
    if (!buf || size < 2)
        return ANVIL_ERR_INVALID_ARG;
    const uint32_t limit = size - 1 < ANVIL_IO_LINE_MAX ? (uint32_t)(size - 1) : ANVIL_IO_LINE_MAX;
    anvil_msg_t req, reply;
    req.label = ANVIL_IO_READ_LINE;
    req.len = sizeof limit;
    req.ncaps = 0;
    memcpy(req.data, &limit, sizeof limit);
    reply.label = 0;
    reply.len = 0;
    reply.ncaps = 0;
    anvil_status_t s = anvil_io_call(ANVIL_CAP_IOSERVER, &req, &reply);
    if (s == ANVIL_OK)
        s = reply_status(&reply);
    if (s != ANVIL_OK)
        return s;
    /* The server honours the limit; a longer reply is cut rather than overrun. */
    const size_t n = reply.len < limit ? reply.len : limit;
    memcpy(buf, reply.data, n);
    buf[n] = '\0';
    if (len)
        *len = n;
    return ANVIL_OK;
}

/* The sink's second try: the same write as a plain send, taken only if a
 * server is waiting to receive right now (a send needs no reply; the server's
 * reply_recv then answers nobody). Never blocks, so a server that died and is
 * not back yet cannot hold its clients up. */
static anvil_status_t io_try_write_chunk(const char *s, uint32_t len)
{
    anvil_msg_t req;
    req.label = ANVIL_IO_WRITE;
    req.len = len;
    req.ncaps = 0;
    memcpy(req.data, s, len);
    return anvil_ipc_try_send(ANVIL_CAP_IOSERVER, &req);
}

/* stdout through the IO server. A chunk whose call fails (the server died
 * while serving it as often as anvil_io_call sends it: PEER_CLOSED) is tried
 * once more without blocking, then written with anvil_debug_write, so nothing
 * is lost. */
static void io_sink(const char *s, size_t len)
{
    while (len) {
        const uint32_t n = len > ANVIL_MSG_MAX_BYTES ? ANVIL_MSG_MAX_BYTES : (uint32_t)len;
        if (io_write_chunk(s, n) != ANVIL_OK && io_try_write_chunk(s, n) != ANVIL_OK)
            anvil_debug_write(s, n);
        s += n;
        len -= n;
    }
}

int anvil_stdio_use_ioserver(void)
{
    anvil_cap_info_t info;
    if (anvil_cap_info(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_IOSERVER, &info) != ANVIL_OK ||
        info.type != ANVIL_OBJ_ENDPOINT || !(info.rights & ANVIL_RIGHT_WRITE))
        return 0;
    anvil_stdio_set_sink(io_sink);
    return 1;
}
