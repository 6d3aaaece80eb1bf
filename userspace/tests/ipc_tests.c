/* IPC tests: endpoints (send/recv in both orders, call/reply, reply_recv,
 * labels and badges, FIFO order, capability transfer and its rules, peer
 * closure, suspension), notifications, fault endpoints, a test-child acting as
 * a server, and threads on different CPUs.
 *
 * The suite's own thread never blocks in IPC: it uses the try_* forms in
 * bounded loops, and helper threads of this process (on static stacks) make
 * the blocking calls while it polls their progress with bounded waits. A kernel
 * that hangs a helper fails the test; the suite then deletes the helper. */
#include "tests.h"

#include <string.h>

#define SELF ANVIL_CAP_SELF_CNODE
#define VS ANVIL_CAP_SELF_VSPACE

/* Rights of a new endpoint or notification cap: everything but EXEC. */
#define EP_RIGHTS (ANVIL_RIGHTS_ALL & ~ANVIL_RIGHT_EXEC)

#define NJOBS 6
#define JOB_STACK_SIZE (16u * 1024u)
/* Yields that let a helper which has flagged `started` reach its blocking call. */
#define SETTLE_YIELDS 2000u
/* try_* attempts (yielding between them) before a poll gives up. */
#define POLL_LIMIT CHILD_WAIT_LIMIT
/* Yields a long-running helper (many round trips) is given to finish. */
#define LONG_WAIT_LIMIT 400000u
/* Round trips of the cross-CPU test. */
#define CROSS_ROUNDS 100u
/* The label a sink helper stops at. */
#define LABEL_QUIT 0x9017ull
/* A status no syscall returns: "the helper never finished". */
#define NOT_DONE 1000

#define BARRIER() __asm__ volatile("" ::: "memory")

/* ---- helper threads ---- */

enum job_op {
    OP_SEND = 1,   /* ipc_send `rounds` times (label + i) */
    OP_RECV,       /* ipc_recv `rounds` times; labels[] / badges[] of each */
    OP_CALL,       /* one ipc_call: in -> out */
    OP_CLIENT,     /* `rounds` ipc_calls to an echo server, each reply checked */
    OP_SERVE,      /* ipc_recv, then reply_recv: echo `rounds` calls, the last with ipc_reply */
    OP_SERVE_RR,   /* as OP_SERVE, but the first receive is a reply_recv with nothing to answer */
    OP_SINK,       /* ipc_recv until LABEL_QUIT or an error, counting messages */
    OP_FORWARD,    /* ipc_recv one cap on `cap`, then ipc_send it on `cap2` */
    OP_RECV_EXIT,  /* ipc_recv (a call), then thread_exit without replying */
    OP_RECV_FAULT, /* ipc_recv (a call), then fault without replying */
    OP_RECV_SPIN,  /* ipc_recv (a call), then yield forever without replying */
    OP_WAIT,       /* one notify_wait */
    OP_TIMED_WAIT, /* one notify_wait_timeout, for `seed` ticks */
    OP_PING,       /* `rounds` times: notify_signal(cap, bit i), notify_wait(cap2) == that bit */
    OP_PONG,       /* `rounds` times: notify_wait(cap), notify_signal(cap2, what arrived) */
};

struct job {
    uint32_t op;
    anvil_cap_t cap, cap2;
    uint32_t rounds;            /* 0 means 1 */
    uint64_t seed;              /* OP_CLIENT: varies its requests; OP_TIMED_WAIT: its ticks */
    anvil_msg_t in;             /* what it sends (request, reply scratch for servers) */
    anvil_msg_t out;            /* where it receives (caps offered as set up by the test) */
    const anvil_msg_t *in_ptr;  /* if set, sent instead of &in */
    anvil_msg_t *out_ptr;       /* if set, received into instead of &out */
    volatile uint32_t started;  /* set just before its first blocking call */
    volatile uint32_t done;     /* set when it has finished */
    volatile int32_t status;    /* status of its last call (or a check it failed: NOT_DONE + n) */
    volatile uint64_t value;    /* badge of the last receive / bits of the last wait */
    volatile uint32_t count;    /* operations completed */
    volatile uint64_t labels[8];
    volatile uint64_t badges[8];
};

static struct job g_jobs[NJOBS];
/* An unmapped address a helper reads to fault (a variable, so the compiler cannot see it). */
static volatile uintptr_t g_unmapped_addr = 0x50;
static anvil_cap_t g_tcbs[NJOBS];
static uint8_t g_stacks[NJOBS][JOB_STACK_SIZE] __attribute__((aligned(16)));

/* Scratch messages of the suite's own thread. */
static anvil_msg_t g_m, g_r;

/* The echo servers' answer: label + 1, the bytes reversed. */
static void make_echo(const anvil_msg_t *req, anvil_msg_t *rep)
{
    const uint32_t len = req->len <= ANVIL_MSG_MAX_BYTES ? req->len : 0;
    rep->label = req->label + 1;
    rep->len = len;
    rep->ncaps = 0;
    for (uint32_t i = 0; i < len; i++)
        rep->data[i] = req->data[len - 1 - i];
}

/* Request i of an OP_CLIENT with `seed`. */
static void client_request(anvil_msg_t *m, uint64_t seed, uint32_t i)
{
    m->label = (seed << 32) | i;
    m->len = (uint32_t)((i * 211u + seed * 17u) % (ANVIL_MSG_MAX_BYTES + 1));
    m->ncaps = 0;
    for (uint32_t k = 0; k < m->len; k++)
        m->data[k] = (uint8_t)(seed + k * 7u + i);
}

static int echo_matches(const anvil_msg_t *req, const anvil_msg_t *rep)
{
    if (rep->label != req->label + 1 || rep->len != req->len || rep->ncaps != 0)
        return 0;
    for (uint32_t k = 0; k < req->len; k++)
        if (rep->data[k] != req->data[req->len - 1 - k])
            return 0;
    return 1;
}

static void job_entry(uint64_t idx)
{
    struct job *j = &g_jobs[idx];
    const anvil_msg_t *in = j->in_ptr ? j->in_ptr : &j->in;
    anvil_msg_t *out = j->out_ptr ? j->out_ptr : &j->out;
    const uint32_t rounds = j->rounds ? j->rounds : 1;
    /* The caps a receive offers, restored before each one (the kernel rewrites them). */
    const uint32_t offer_n = j->out.ncaps;
    anvil_cap_t offer[ANVIL_MSG_MAX_CAPS];
    memcpy(offer, j->out.caps, sizeof offer);
    uint64_t v = 0;
    anvil_status_t s = ANVIL_OK;
    j->started = 1;
    switch (j->op) {
    case OP_SEND:
        for (uint32_t i = 0; i < rounds && s == ANVIL_OK; i++) {
            if (i && in == &j->in)
                j->in.label++;
            s = anvil_ipc_send(j->cap, in);
            if (s == ANVIL_OK)
                j->count++;
        }
        break;
    case OP_RECV:
        for (uint32_t i = 0; i < rounds && s == ANVIL_OK; i++) {
            if (out == &j->out) {
                j->out.ncaps = offer_n;
                memcpy(j->out.caps, offer, sizeof offer);
            }
            s = anvil_ipc_recv(j->cap, out, &v);
            if (s == ANVIL_OK) {
                j->labels[i % 8] = out->label;
                j->badges[i % 8] = v;
                j->value = v;
                j->count++;
            }
        }
        break;
    case OP_CALL:
        s = anvil_ipc_call(j->cap, in, out);
        if (s == ANVIL_OK)
            j->count++;
        break;
    case OP_CLIENT:
        for (uint32_t i = 0; i < rounds && s == ANVIL_OK; i++) {
            client_request(&j->in, j->seed, i);
            memset(&j->out, 0xee, sizeof j->out);
            j->out.ncaps = 0;
            s = anvil_ipc_call(j->cap, &j->in, &j->out);
            if (s == ANVIL_OK && !echo_matches(&j->in, &j->out))
                s = NOT_DONE + 1 + (int32_t)i;
            if (s == ANVIL_OK)
                j->count++;
        }
        break;
    case OP_SERVE:
    case OP_SERVE_RR:
        j->in.label = 0;
        j->in.len = 0;
        j->in.ncaps = 0;
        s = j->op == OP_SERVE ? anvil_ipc_recv(j->cap, &j->out, &v) : anvil_ipc_reply_recv(j->cap, &j->in, &j->out, &v);
        for (uint32_t n = 0; s == ANVIL_OK; n++) {
            j->labels[n % 8] = j->out.label;
            j->badges[n % 8] = v;
            j->count++;
            make_echo(&j->out, &j->in);
            if (n + 1 >= rounds) {
                s = anvil_ipc_reply(&j->in);
                break;
            }
            j->out.ncaps = 0;
            s = anvil_ipc_reply_recv(j->cap, &j->in, &j->out, &v);
        }
        break;
    case OP_SINK:
        for (;;) {
            j->out.ncaps = offer_n;
            memcpy(j->out.caps, offer, sizeof offer);
            s = anvil_ipc_recv(j->cap, &j->out, &v);
            if (s != ANVIL_OK)
                break;
            j->labels[j->count % 8] = j->out.label;
            j->count++;
            if (j->out.label == LABEL_QUIT)
                break;
        }
        break;
    case OP_FORWARD:
        j->out.ncaps = 1;
        j->out.caps[0] = ANVIL_SLOT_ANY;
        s = anvil_ipc_recv(j->cap, &j->out, &v);
        if (s == ANVIL_OK) {
            j->count++;
            j->value = j->out.caps[0];
            j->in.label = j->out.label + 1;
            j->in.len = 0;
            j->in.ncaps = j->out.ncaps;
            memcpy(j->in.caps, j->out.caps, sizeof j->in.caps);
            s = anvil_ipc_send(j->cap2, &j->in);
            if (s == ANVIL_OK)
                j->count++;
        }
        break;
    case OP_RECV_EXIT:
    case OP_RECV_FAULT:
    case OP_RECV_SPIN:
        s = anvil_ipc_recv(j->cap, &j->out, &v);
        j->status = s;
        j->labels[0] = j->out.label;
        j->count++;
        if (j->op == OP_RECV_EXIT)
            anvil_thread_exit(0);
        if (j->op == OP_RECV_FAULT)
            (void)*(volatile uint64_t *)g_unmapped_addr;
        for (;;)
            anvil_thread_yield();
    case OP_WAIT:
        s = anvil_notify_wait(j->cap, &v);
        j->value = v;
        if (s == ANVIL_OK)
            j->count++;
        break;
    case OP_TIMED_WAIT:
        s = anvil_notify_wait_timeout(j->cap, j->seed, &v);
        j->value = v;
        if (s == ANVIL_OK)
            j->count++;
        break;
    case OP_PING:
        for (uint32_t i = 0; i < rounds && s == ANVIL_OK; i++) {
            const uint64_t bit = 1ull << (i % 64);
            s = anvil_notify_signal(j->cap, bit);
            if (s == ANVIL_OK)
                s = anvil_notify_wait(j->cap2, &v);
            if (s == ANVIL_OK && v != bit)
                s = NOT_DONE + 1 + (int32_t)i;
            if (s == ANVIL_OK)
                j->count++;
        }
        break;
    case OP_PONG:
        for (uint32_t i = 0; i < rounds && s == ANVIL_OK; i++) {
            s = anvil_notify_wait(j->cap, &v);
            if (s == ANVIL_OK)
                s = anvil_notify_signal(j->cap2, v);
            if (s == ANVIL_OK)
                j->count++;
        }
        break;
    default:
        s = NOT_DONE;
    }
    j->status = s;
    BARRIER();
    j->done = 1;
    anvil_thread_exit(0);
}

/* Forgets the helpers of an earlier test (the suite has deleted their caps). */
static void jobs_reset(void)
{
    for (unsigned i = 0; i < NJOBS; i++)
        g_tcbs[i] = 0;
}

/* Clears helper `idx`'s job and sets what it does; the test fills in the rest. */
static struct job *job_init(unsigned idx, uint32_t op, anvil_cap_t cap)
{
    struct job *j = &g_jobs[idx];
    memset(j, 0, sizeof *j);
    j->op = op;
    j->cap = cap;
    j->status = NOT_DONE;
    return j;
}

/* Starts a thread of this process at `rip` with `rdi` on stack `idx`. */
static anvil_status_t start_raw(unsigned idx, uint64_t rip, uint64_t rdi, uint32_t cpu, anvil_cap_t fault_ep,
                                anvil_cap_t *out)
{
    return start_test_thread(rip, rdi, g_stacks[idx] + JOB_STACK_SIZE, TEST_PRIORITY, cpu, fault_ep, out);
}

/* Starts helper `idx` (job already set up) on `cpu`. */
static anvil_status_t job_start(unsigned idx, uint32_t cpu)
{
    BARRIER();
    return start_raw(idx, (uint64_t)(uintptr_t)job_entry, idx, cpu, 0, &g_tcbs[idx]);
}

/* Stops and deletes helper `idx` if it was started. */
static void job_stop(unsigned idx)
{
    if (!g_tcbs[idx])
        return;
    anvil_tcb_suspend(g_tcbs[idx]);
    anvil_cap_delete(SELF, g_tcbs[idx]);
    g_tcbs[idx] = 0;
}

static void jobs_stop_all(void)
{
    for (unsigned i = 0; i < NJOBS; i++)
        job_stop(i);
}

static void settle(void)
{
    for (unsigned i = 0; i < SETTLE_YIELDS; i++)
        anvil_thread_yield();
}

/* Waits for a helper to flag `started`, then lets it reach its blocking call. */
static int wait_started(struct job *j)
{
    if (!wait_word(&j->started, 1))
        return 0;
    settle();
    return 1;
}

static int wait_done(struct job *j)
{
    const int r = wait_word(&j->done, 1);
    BARRIER();
    return r;
}

static int wait_count(struct job *j, uint32_t n)
{
    const int r = wait_word(&j->count, n);
    BARRIER();
    return r;
}

static int wait_done_long(struct job *j)
{
    for (uint32_t i = 0; i < LONG_WAIT_LIMIT && !j->done; i++)
        anvil_thread_yield();
    BARRIER();
    return j->done == 1;
}

/* Sends with try_send until a receiver takes it (OK) or something else happens. */
static anvil_status_t poll_send(anvil_cap_t ep, const anvil_msg_t *m)
{
    anvil_status_t s = ANVIL_ERR_WOULD_BLOCK;
    for (uint32_t i = 0; i < POLL_LIMIT; i++) {
        s = anvil_ipc_try_send(ep, m);
        if (s != ANVIL_ERR_WOULD_BLOCK)
            break;
        anvil_thread_yield();
    }
    BARRIER();
    return s;
}

/* Receives with try_recv until a sender is there; m's offered caps are kept across tries. */
static anvil_status_t poll_recv(anvil_cap_t ep, anvil_msg_t *m, uint64_t *badge)
{
    const uint32_t n = m->ncaps;
    anvil_cap_t caps[ANVIL_MSG_MAX_CAPS];
    memcpy(caps, m->caps, sizeof caps);
    anvil_status_t s = ANVIL_ERR_WOULD_BLOCK;
    for (uint32_t i = 0; i < POLL_LIMIT; i++) {
        m->ncaps = n;
        memcpy(m->caps, caps, sizeof caps);
        s = anvil_ipc_try_recv(ep, m, badge);
        if (s != ANVIL_ERR_WOULD_BLOCK)
            break;
        anvil_thread_yield();
    }
    BARRIER();
    return s;
}

/* ---- messages and slots ---- */

static uint8_t pattern(uint32_t seed, uint32_t i) { return (uint8_t)(seed * 29u + i * 31u + 7u); }

static void msg_fill(anvil_msg_t *m, uint64_t label, uint32_t len, uint32_t seed)
{
    memset(m, 0, sizeof *m);
    m->label = label;
    m->len = len;
    for (uint32_t i = 0; i < len && i < ANVIL_MSG_MAX_BYTES; i++)
        m->data[i] = pattern(seed, i);
}

static int msg_is(const anvil_msg_t *m, uint64_t label, uint32_t len, uint32_t seed)
{
    if (m->label != label || m->len != len)
        return 0;
    for (uint32_t i = 0; i < len; i++)
        if (m->data[i] != pattern(seed, i))
            return 0;
    return 1;
}

/* A receive buffer full of junk, offering `ncaps` caps at `slot` each. */
static void msg_offer(anvil_msg_t *m, uint32_t ncaps, uint32_t slot)
{
    memset(m, 0xee, sizeof *m);
    m->ncaps = ncaps;
    for (uint32_t i = 0; i < ANVIL_MSG_MAX_CAPS; i++)
        m->caps[i] = slot;
}

static anvil_cap_info_t info_of(anvil_cap_t cnode, uint32_t slot)
{
    anvil_cap_info_t info = {0, 0, 0, 0};
    anvil_cap_info(cnode, slot, &info);
    return info;
}

static int slot_empty(uint32_t slot)
{
    anvil_cap_info_t info;
    return anvil_cap_info(SELF, slot, &info) == ANVIL_ERR_INVALID_CAP;
}

/* The lowest empty slot of our CNode (what SLOT_ANY picks), or 0. */
static uint32_t lowest_free(void)
{
    for (uint32_t slot = 1; slot < SUITE_CNODE_SLOTS; slot++)
        if (slot_empty(slot))
            return slot;
    return 0;
}

/* An empty slot at or above `from`, or 0. */
static uint32_t free_slot_from(uint32_t from)
{
    for (uint32_t slot = from; slot < SUITE_CNODE_SLOTS; slot++)
        if (slot_empty(slot))
            return slot;
    return 0;
}

/* A copy of `cap` with rights & mask and `badge`, in the lowest free slot (0 on failure). */
static anvil_cap_t copy_of(anvil_cap_t cap, uint32_t mask, uint64_t badge)
{
    uint32_t slot = 0;
    if (anvil_cap_copy_any(SELF, cap, SELF, mask, badge, &slot) != ANVIL_OK)
        return 0;
    return slot;
}

static void del(anvil_cap_t slot)
{
    if (slot)
        anvil_cap_delete(SELF, slot);
}

/* A zeroed page mapped read-only at TEST_VA: a message the kernel can read (no
 * caps offered) but not write. */
static anvil_msg_t *map_readonly_msg(anvil_cap_t *vmo)
{
    if (anvil_vmo_create(PAGE, vmo) != ANVIL_OK)
        return 0;
    if (anvil_vma_map(VS, TEST_VA, *vmo, 0, PAGE, ANVIL_PERM_R) != ANVIL_OK) {
        anvil_cap_delete(SELF, *vmo);
        return 0;
    }
    return (anvil_msg_t *)(uintptr_t)TEST_VA;
}

static void unmap_readonly_msg(anvil_cap_t vmo)
{
    anvil_vma_unmap(VS, TEST_VA, PAGE);
    anvil_cap_delete(SELF, vmo);
}

/* CPUs the kernel runs: the first index tcb_configure refuses. */
static uint32_t cpu_count(void)
{
    anvil_cap_t tcb;
    if (anvil_tcb_create(&tcb) != ANVIL_OK)
        return 1;
    uint32_t n = 1;
    while (n < 64 && anvil_tcb_configure(tcb, SELF, VS, 0, 1, n, 0) == ANVIL_OK)
        n++;
    anvil_cap_delete(SELF, tcb);
    return n;
}

/* ---- endpoints: creation, send and receive ---- */

DEFINE_TEST("ipc.create", test_ipc_create)
{
    const uint32_t first = lowest_free();
    anvil_cap_t ep = 0, n = 0, ep2 = 0;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    CHECK(first != 0 && ep == first);
    const anvil_cap_info_t ie = info_of(SELF, ep);
    CHECK(ie.type == ANVIL_OBJ_ENDPOINT && ie.rights == EP_RIGHTS && ie.badge == 0 && ie.object_id != 0);
    const uint32_t second = lowest_free();
    CHECK_STATUS(anvil_notification_create(&n), ANVIL_OK);
    CHECK(n == second);
    const anvil_cap_info_t in = info_of(SELF, n);
    CHECK(in.type == ANVIL_OBJ_NOTIFICATION && in.rights == EP_RIGHTS && in.badge == 0);
    CHECK(in.object_id != 0 && in.object_id != ie.object_id);
    /* A freed slot is the lowest free one again; a new endpoint is a new object. */
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    CHECK_STATUS(anvil_endpoint_create(&ep2), ANVIL_OK);
    CHECK(ep2 == first);
    CHECK(info_of(SELF, ep2).object_id != ie.object_id);
    CHECK_STATUS(anvil_cap_delete(SELF, ep2), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, n), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ipc.irq_bind", test_ipc_irq_bind)
{
    anvil_cap_t n;
    CHECK_STATUS(anvil_notification_create(&n), ANVIL_OK);
    /* init gives COM1's IRQ cap to the IO server only: the suite's slot is empty. */
    CHECK_STATUS(anvil_irq_bind(ANVIL_CAP_COM1_IRQ, n, 1), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_irq_bind(n, n, 1), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_ioport_enable(ANVIL_CAP_COM1_IOPORT), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_ioport_enable(n), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_cap_delete(SELF, n), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ipc.send_recv_receiver_first", test_ipc_receiver_first)
{
    jobs_reset();
    anvil_cap_t ep;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    struct job *r = job_init(0, OP_RECV, ep);
    r->rounds = 2;
    msg_offer(&r->out, 0, 0);
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(r));
    /* try_send succeeds only because the receiver is already waiting. */
    msg_fill(&g_m, 0x1111, 16, 1);
    CHECK_STATUS(poll_send(ep, &g_m), ANVIL_OK);
    CHECK(wait_count(r, 1));
    CHECK(r->labels[0] == 0x1111 && r->badges[0] == 0);
    /* Now a blocking send from another thread, to the receiver waiting again. */
    settle();
    struct job *s = job_init(1, OP_SEND, ep);
    msg_fill(&s->in, 0x2222, 24, 2);
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_done(r));
    CHECK(wait_done(s));
    CHECK_STATUS(r->status, ANVIL_OK);
    CHECK_STATUS(s->status, ANVIL_OK);
    CHECK(r->count == 2 && r->labels[1] == 0x2222 && r->badges[1] == 0);
    CHECK(msg_is(&r->out, 0x2222, 24, 2) && r->out.ncaps == 0);
    jobs_stop_all();
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ipc.send_recv_sender_first", test_ipc_sender_first)
{
    jobs_reset();
    anvil_cap_t ep;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    struct job *s = job_init(0, OP_SEND, ep);
    s->rounds = 2;
    msg_fill(&s->in, 0x3330, 8, 3);
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(s));
    /* try_recv succeeds only because the sender is already waiting. */
    uint64_t badge = 99;
    msg_offer(&g_m, 0, 0);
    CHECK_STATUS(poll_recv(ep, &g_m, &badge), ANVIL_OK);
    CHECK(msg_is(&g_m, 0x3330, 8, 3) && g_m.ncaps == 0 && badge == 0);
    CHECK(wait_count(s, 1));
    /* The sender waits again; a blocking receive in another thread takes it. */
    settle();
    struct job *r = job_init(1, OP_RECV, ep);
    msg_offer(&r->out, 0, 0);
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_done(r));
    CHECK(wait_done(s));
    CHECK_STATUS(r->status, ANVIL_OK);
    CHECK_STATUS(s->status, ANVIL_OK);
    CHECK(s->count == 2);
    CHECK(msg_is(&r->out, 0x3331, 8, 3) && r->out.ncaps == 0 && r->value == 0);
    jobs_stop_all();
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ipc.try_would_block", test_ipc_try_would_block)
{
    jobs_reset();
    anvil_cap_t ep;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    const anvil_cap_t badged = copy_of(ep, EP_RIGHTS, 5);
    CHECK(badged != 0);
    msg_fill(&g_m, 0xdead, 4, 4);
    uint64_t badge = 77;
    CHECK_STATUS(anvil_ipc_try_send(ep, &g_m), ANVIL_ERR_WOULD_BLOCK);
    CHECK_STATUS(anvil_ipc_try_send(badged, &g_m), ANVIL_ERR_WOULD_BLOCK);
    msg_offer(&g_r, 0, 0);
    CHECK_STATUS(anvil_ipc_try_recv(ep, &g_r, &badge), ANVIL_ERR_WOULD_BLOCK);
    CHECK_STATUS(anvil_ipc_try_recv(badged, &g_r, &badge), ANVIL_ERR_WOULD_BLOCK);
    CHECK(badge == 77);
    /* A refused try_send left nothing queued: a receiver gets the next message. */
    struct job *r = job_init(0, OP_RECV, ep);
    msg_offer(&r->out, 0, 0);
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(r));
    msg_fill(&g_m, 0xbeef, 4, 5);
    CHECK_STATUS(poll_send(ep, &g_m), ANVIL_OK);
    CHECK(wait_done(r));
    CHECK_STATUS(r->status, ANVIL_OK);
    CHECK(msg_is(&r->out, 0xbeef, 4, 5));
    /* And once it is gone, nobody waits again. */
    CHECK_STATUS(anvil_ipc_try_send(ep, &g_m), ANVIL_ERR_WOULD_BLOCK);
    CHECK_STATUS(anvil_ipc_try_recv(ep, &g_r, &badge), ANVIL_ERR_WOULD_BLOCK);
    jobs_stop_all();
    CHECK_STATUS(anvil_cap_delete(SELF, badged), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ipc.message_sizes", test_ipc_message_sizes)
{
    jobs_reset();
    anvil_cap_t ep;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    static const uint32_t kLens[] = {0, 1, ANVIL_MSG_MAX_BYTES};
    for (unsigned k = 0; k < 3; k++) {
        const uint32_t len = kLens[k];
        /* Helper -> us. */
        struct job *s = job_init(0, OP_SEND, ep);
        msg_fill(&s->in, 0x5100 + len, len, 10 + k);
        CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
        uint64_t badge = 1;
        msg_offer(&g_r, 0, 0);
        CHECK_STATUS(poll_recv(ep, &g_r, &badge), ANVIL_OK);
        CHECK(msg_is(&g_r, 0x5100 + len, len, 10 + k) && g_r.ncaps == 0 && badge == 0);
        CHECK(wait_done(s));
        CHECK_STATUS(s->status, ANVIL_OK);
        job_stop(0);
        /* Us -> helper. */
        struct job *r = job_init(1, OP_RECV, ep);
        msg_offer(&r->out, 0, 0);
        CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
        msg_fill(&g_m, 0x5200 + len, len, 20 + k);
        CHECK_STATUS(poll_send(ep, &g_m), ANVIL_OK);
        CHECK(wait_done(r));
        CHECK_STATUS(r->status, ANVIL_OK);
        CHECK(msg_is(&r->out, 0x5200 + len, len, 20 + k) && r->out.ncaps == 0);
        job_stop(1);
    }
    /* One byte too many, and absurd lengths, are refused before anything else. */
    msg_fill(&g_m, 1, ANVIL_MSG_MAX_BYTES, 1);
    g_m.len = ANVIL_MSG_MAX_BYTES + 1;
    CHECK_STATUS(anvil_ipc_try_send(ep, &g_m), ANVIL_ERR_INVALID_ARG);
    g_m.len = 0xffffffffu;
    CHECK_STATUS(anvil_ipc_try_send(ep, &g_m), ANVIL_ERR_INVALID_ARG);
    /* A call refuses it too, without waiting for a receiver (blocking sends: ipc.send_rules). */
    struct job *c = job_init(2, OP_CALL, ep);
    msg_fill(&c->in, 2, 0, 0);
    c->in.len = ANVIL_MSG_MAX_BYTES + 1;
    msg_offer(&c->out, 0, 0);
    CHECK_STATUS(job_start(2, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_done(c));
    CHECK_STATUS(c->status, ANVIL_ERR_INVALID_ARG);
    jobs_stop_all();
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ipc.label_and_badge", test_ipc_label_and_badge)
{
    jobs_reset();
    anvil_cap_t ep;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    const anvil_cap_t b1 = copy_of(ep, EP_RIGHTS, 0xb1);
    const anvil_cap_t b2 = copy_of(ep, ANVIL_RIGHT_WRITE, 0xfeedfacecafebeefull);
    CHECK(b1 && b2);
    CHECK(info_of(SELF, b1).badge == 0xb1 && info_of(SELF, b2).badge == 0xfeedfacecafebeefull);
    CHECK(info_of(SELF, b2).rights == ANVIL_RIGHT_WRITE);
    /* A copy of a badged cap keeps its badge. */
    const anvil_cap_t b1c = copy_of(b1, EP_RIGHTS, 0);
    CHECK(b1c && info_of(SELF, b1c).badge == 0xb1);
    const anvil_cap_t caps[4] = {ep, b1, b2, b1c};
    const uint64_t badges[4] = {0, 0xb1, 0xfeedfacecafebeefull, 0xb1};
    for (unsigned k = 0; k < 4; k++) {
        struct job *s = job_init(0, OP_SEND, caps[k]);
        msg_fill(&s->in, 0xdeadbeefcafef00dull + k, 3, k);
        CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
        uint64_t badge = 12345;
        msg_offer(&g_r, 0, 0);
        /* Received through a badged cap: the badge is still the sender's. */
        CHECK_STATUS(poll_recv(k == 0 ? b1 : ep, &g_r, &badge), ANVIL_OK);
        CHECK(badge == badges[k]);
        CHECK(msg_is(&g_r, 0xdeadbeefcafef00dull + k, 3, k));
        CHECK(wait_done(s));
        CHECK_STATUS(s->status, ANVIL_OK);
        job_stop(0);
    }
    /* A receiver's badge is that of the sender's cap, whatever cap it receives on. */
    struct job *r = job_init(1, OP_RECV, b1);
    msg_offer(&r->out, 0, 0);
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    msg_fill(&g_m, 0, 0, 0); /* label 0 arrives as 0 */
    CHECK_STATUS(poll_send(b2, &g_m), ANVIL_OK);
    CHECK(wait_done(r));
    CHECK_STATUS(r->status, ANVIL_OK);
    CHECK(r->value == 0xfeedfacecafebeefull && r->out.label == 0 && r->out.len == 0);
    jobs_stop_all();
    del(b1c);
    del(b2);
    del(b1);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ipc.fifo_order", test_ipc_fifo)
{
    jobs_reset();
    anvil_cap_t ep;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    anvil_cap_t badged[3];
    for (unsigned i = 0; i < 3; i++) {
        badged[i] = copy_of(ep, EP_RIGHTS, 0x100 + i);
        CHECK(badged[i] != 0);
    }
    /* Three senders queue up one after the other ... */
    for (unsigned i = 0; i < 3; i++) {
        struct job *s = job_init(i, OP_SEND, badged[i]);
        msg_fill(&s->in, 0xf1f0 + i, 4 + i, 30 + i);
        CHECK_STATUS(job_start(i, ANVIL_CPU_ANY), ANVIL_OK);
        CHECK(wait_started(s));
    }
    /* ... and are received in that order. */
    for (unsigned i = 0; i < 3; i++) {
        uint64_t badge = 0;
        msg_offer(&g_r, 0, 0);
        CHECK_STATUS(poll_recv(ep, &g_r, &badge), ANVIL_OK);
        CHECK(msg_is(&g_r, 0xf1f0 + i, 4 + i, 30 + i));
        CHECK(badge == 0x100 + i);
    }
    for (unsigned i = 0; i < 3; i++) {
        CHECK(wait_done(&g_jobs[i]));
        CHECK_STATUS(g_jobs[i].status, ANVIL_OK);
        job_stop(i);
    }
    /* Three receivers queue up, and the messages go to them in that order. */
    for (unsigned i = 0; i < 3; i++) {
        struct job *r = job_init(i, OP_RECV, ep);
        msg_offer(&r->out, 0, 0);
        CHECK_STATUS(job_start(i, ANVIL_CPU_ANY), ANVIL_OK);
        CHECK(wait_started(r));
    }
    for (unsigned i = 0; i < 3; i++) {
        msg_fill(&g_m, 0xf2f0 + i, 1, 40 + i);
        CHECK_STATUS(poll_send(badged[i], &g_m), ANVIL_OK);
    }
    for (unsigned i = 0; i < 3; i++) {
        CHECK(wait_done(&g_jobs[i]));
        CHECK_STATUS(g_jobs[i].status, ANVIL_OK);
        CHECK(msg_is(&g_jobs[i].out, 0xf2f0 + i, 1, 40 + i));
        CHECK(g_jobs[i].value == 0x100 + i);
    }
    jobs_stop_all();
    for (unsigned i = 0; i < 3; i++)
        del(badged[i]);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

/* ---- call, reply, reply_recv ---- */

DEFINE_TEST("ipc.call_reply", test_ipc_call_reply)
{
    jobs_reset();
    anvil_cap_t ep;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    const anvil_cap_t badged = copy_of(ep, EP_RIGHTS, 0xca11);
    CHECK(badged != 0);
    /* Nothing to answer yet. */
    msg_fill(&g_m, 1, 1, 1);
    CHECK_STATUS(anvil_ipc_reply(&g_m), ANVIL_ERR_BAD_STATE);

    /* A call through a badged cap; we answer with the largest reply. */
    struct job *c = job_init(0, OP_CALL, badged);
    msg_fill(&c->in, 0x10, 100, 50);
    msg_offer(&c->out, 0, 0);
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    uint64_t badge = 0;
    msg_offer(&g_r, 0, 0);
    CHECK_STATUS(poll_recv(ep, &g_r, &badge), ANVIL_OK);
    CHECK(msg_is(&g_r, 0x10, 100, 50) && badge == 0xca11);
    /* The caller waits for our reply. */
    settle();
    CHECK(c->done == 0);
    msg_fill(&g_m, 0x11, ANVIL_MSG_MAX_BYTES, 51);
    CHECK_STATUS(anvil_ipc_reply(&g_m), ANVIL_OK);
    CHECK(wait_done(c));
    CHECK_STATUS(c->status, ANVIL_OK);
    CHECK(msg_is(&c->out, 0x11, ANVIL_MSG_MAX_BYTES, 51) && c->out.ncaps == 0);
    /* Answered: nothing is pending any more. */
    CHECK_STATUS(anvil_ipc_reply(&g_m), ANVIL_ERR_BAD_STATE);
    job_stop(0);

    /* A plain send leaves nothing to reply to. */
    struct job *s = job_init(1, OP_SEND, ep);
    msg_fill(&s->in, 0x20, 0, 0);
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    msg_offer(&g_r, 0, 0);
    CHECK_STATUS(poll_recv(ep, &g_r, &badge), ANVIL_OK);
    CHECK(g_r.label == 0x20);
    CHECK(wait_done(s));
    CHECK_STATUS(s->status, ANVIL_OK);
    CHECK_STATUS(anvil_ipc_reply(&g_m), ANVIL_ERR_BAD_STATE);
    job_stop(1);

    /* A refused reply leaves the call pending; an empty reply then answers it. */
    c = job_init(2, OP_CALL, ep);
    msg_fill(&c->in, 0x30, 0, 0);
    msg_offer(&c->out, 0, 0);
    CHECK_STATUS(job_start(2, ANVIL_CPU_ANY), ANVIL_OK);
    msg_offer(&g_r, 0, 0);
    CHECK_STATUS(poll_recv(ep, &g_r, &badge), ANVIL_OK);
    CHECK(g_r.label == 0x30 && g_r.len == 0 && badge == 0);
    msg_fill(&g_m, 0x31, 0, 0);
    g_m.len = ANVIL_MSG_MAX_BYTES + 1;
    CHECK_STATUS(anvil_ipc_reply(&g_m), ANVIL_ERR_INVALID_ARG);
    g_m.len = 0;
    g_m.ncaps = ANVIL_MSG_MAX_CAPS + 1;
    CHECK_STATUS(anvil_ipc_reply(&g_m), ANVIL_ERR_INVALID_ARG);
    g_m.ncaps = 0;
    CHECK_STATUS(anvil_ipc_reply(UNMAPPED_VA), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_ipc_reply(KERNEL_VA), ANVIL_ERR_FAULT);
    settle();
    CHECK(c->done == 0);
    CHECK_STATUS(anvil_ipc_reply(&g_m), ANVIL_OK);
    CHECK(wait_done(c));
    CHECK_STATUS(c->status, ANVIL_OK);
    CHECK(c->out.label == 0x31 && c->out.len == 0 && c->out.ncaps == 0);
    jobs_stop_all();
    del(badged);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ipc.reply_recv", test_ipc_reply_recv)
{
    jobs_reset();
    anvil_cap_t ep;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    const anvil_cap_t ba = copy_of(ep, EP_RIGHTS, 0xa), bb = copy_of(ep, EP_RIGHTS, 0xb);
    CHECK(ba && bb);
    /* One client, a server whose first reply_recv has nothing to answer. */
    struct job *srv = job_init(0, OP_SERVE_RR, ep);
    srv->rounds = 6;
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(srv));
    struct job *cl = job_init(1, OP_CLIENT, ba);
    cl->rounds = 6;
    cl->seed = 3;
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_done(cl));
    CHECK(wait_done(srv));
    CHECK_STATUS(cl->status, ANVIL_OK);
    CHECK_STATUS(srv->status, ANVIL_OK);
    CHECK(cl->count == 6 && srv->count == 6);
    for (unsigned i = 0; i < 6; i++)
        CHECK(srv->badges[i] == 0xa && srv->labels[i] == ((3ull << 32) | i));
    jobs_stop_all();

    /* Two clients at once: each reply reaches the client that asked. */
    srv = job_init(0, OP_SERVE, ep);
    srv->rounds = 16;
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    struct job *c1 = job_init(1, OP_CLIENT, ba), *c2 = job_init(2, OP_CLIENT, bb);
    c1->rounds = c2->rounds = 8;
    c1->seed = 5;
    c2->seed = 6;
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK_STATUS(job_start(2, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_done_long(c1));
    CHECK(wait_done_long(c2));
    CHECK(wait_done(srv));
    CHECK_STATUS(c1->status, ANVIL_OK);
    CHECK_STATUS(c2->status, ANVIL_OK);
    CHECK_STATUS(srv->status, ANVIL_OK);
    CHECK(c1->count == 8 && c2->count == 8 && srv->count == 16);
    jobs_stop_all();
    del(bb);
    del(ba);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

/* ---- capability transfer ---- */

DEFINE_TEST("ipc.cap_transfer", test_ipc_cap_transfer)
{
    jobs_reset();
    anvil_cap_t ep, vmo;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_create(PAGE, &vmo), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_write(vmo, 0, "sent along", 11), ANVIL_OK);
    const anvil_cap_info_t iv = info_of(SELF, vmo);

    /* (a) Into the slot the receiver names. */
    const uint32_t dst = free_slot_from(200);
    CHECK(dst != 0);
    struct job *r = job_init(0, OP_RECV, ep);
    msg_offer(&r->out, 1, dst);
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    msg_fill(&g_m, 0xc0, 5, 60);
    g_m.ncaps = 1;
    g_m.caps[0] = vmo;
    CHECK_STATUS(poll_send(ep, &g_m), ANVIL_OK);
    CHECK(wait_done(r));
    CHECK_STATUS(r->status, ANVIL_OK);
    CHECK(msg_is(&r->out, 0xc0, 5, 60));
    CHECK(r->out.ncaps == 1 && r->out.caps[0] == dst);
    anvil_cap_info_t got = info_of(SELF, dst);
    CHECK(got.type == ANVIL_OBJ_VMO && got.rights == iv.rights && got.object_id == iv.object_id && got.badge == 0);
    /* Usable, and the same object; the sender kept its own cap. */
    char buf[11];
    CHECK_STATUS(anvil_vmo_read(dst, 0, buf, sizeof buf), ANVIL_OK);
    CHECK(memcmp(buf, "sent along", 11) == 0);
    CHECK_STATUS(anvil_vmo_write(dst, 0, "SENT", 4), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_read(vmo, 0, buf, 4), ANVIL_OK);
    CHECK(memcmp(buf, "SENT", 4) == 0);
    CHECK(info_of(SELF, vmo).object_id == iv.object_id);
    job_stop(0);

    /* (b) SLOT_ANY: the receiver's lowest free slot; reduced rights stay reduced. */
    const anvil_cap_t ro = copy_of(vmo, ANVIL_RIGHT_READ | ANVIL_RIGHT_GRANT, 0);
    CHECK(ro != 0);
    r = job_init(1, OP_RECV, ep);
    msg_offer(&r->out, 1, ANVIL_SLOT_ANY);
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    const uint32_t any_slot_expected = lowest_free(); /* after the helper's TCB took one */
    msg_fill(&g_m, 0xc1, 0, 0);
    g_m.ncaps = 1;
    g_m.caps[0] = ro;
    CHECK_STATUS(poll_send(ep, &g_m), ANVIL_OK);
    CHECK(wait_done(r));
    CHECK_STATUS(r->status, ANVIL_OK);
    CHECK(r->out.ncaps == 1 && r->out.caps[0] == any_slot_expected);
    const anvil_cap_t any_slot = r->out.caps[0];
    got = info_of(SELF, any_slot);
    CHECK(got.type == ANVIL_OBJ_VMO && got.rights == (ANVIL_RIGHT_READ | ANVIL_RIGHT_GRANT) &&
          got.object_id == iv.object_id);
    CHECK_STATUS(anvil_vmo_read(any_slot, 0, buf, 4), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_write(any_slot, 0, "x", 1), ANVIL_ERR_ACCESS_DENIED);
    job_stop(1);

    /* (c) An endpoint cap travels with its badge. */
    const anvil_cap_t bep = copy_of(ep, EP_RIGHTS, 0xbad9e);
    CHECK(bep != 0);
    r = job_init(2, OP_RECV, ep);
    msg_offer(&r->out, 1, ANVIL_SLOT_ANY);
    CHECK_STATUS(job_start(2, ANVIL_CPU_ANY), ANVIL_OK);
    msg_fill(&g_m, 0xc2, 0, 0);
    g_m.ncaps = 1;
    g_m.caps[0] = bep;
    CHECK_STATUS(poll_send(ep, &g_m), ANVIL_OK);
    CHECK(wait_done(r));
    CHECK_STATUS(r->status, ANVIL_OK);
    CHECK(r->out.ncaps == 1);
    const anvil_cap_t ep_copy = r->out.caps[0];
    got = info_of(SELF, ep_copy);
    const anvil_cap_info_t ibep = info_of(SELF, bep);
    CHECK(got.type == ANVIL_OBJ_ENDPOINT && got.rights == ibep.rights && got.badge == 0xbad9e &&
          got.object_id == ibep.object_id);
    job_stop(2);

    /* Revoking the sender's original takes every copy the receivers got. */
    CHECK_STATUS(anvil_cap_revoke(SELF, vmo), ANVIL_OK);
    CHECK(slot_empty(dst) && slot_empty(any_slot) && slot_empty(ro));
    CHECK_STATUS(anvil_vmo_read(dst, 0, buf, 1), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_vmo_read(vmo, 0, buf, 1), ANVIL_OK);
    jobs_stop_all();
    del(ep_copy);
    del(bep);
    CHECK_STATUS(anvil_cap_delete(SELF, vmo), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ipc.cap_transfer_limits", test_ipc_cap_transfer_limits)
{
    jobs_reset();
    anvil_cap_t ep, v1, v2;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_create(PAGE, &v1), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_create(PAGE, &v2), ANVIL_OK);
    const uint64_t id1 = info_of(SELF, v1).object_id, id2 = info_of(SELF, v2).object_id;

    /* (a) The receiver accepts none: the message arrives, the cap does not. */
    struct job *r = job_init(0, OP_RECV, ep);
    msg_offer(&r->out, 0, ANVIL_SLOT_ANY);
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(r));
    unsigned before = caps_in_use();
    msg_fill(&g_m, 0xd0, 2, 70);
    g_m.ncaps = 1;
    g_m.caps[0] = v1;
    CHECK_STATUS(poll_send(ep, &g_m), ANVIL_OK);
    CHECK(wait_done(r));
    CHECK_STATUS(r->status, ANVIL_OK);
    CHECK(msg_is(&r->out, 0xd0, 2, 70) && r->out.ncaps == 0);
    CHECK(caps_in_use() == before);
    job_stop(0);

    /* (b) Two sent, one accepted: the first arrives. */
    r = job_init(1, OP_RECV, ep);
    msg_offer(&r->out, 1, ANVIL_SLOT_ANY);
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(r));
    before = caps_in_use();
    msg_fill(&g_m, 0xd1, 0, 0);
    g_m.ncaps = 2;
    g_m.caps[0] = v1;
    g_m.caps[1] = v2;
    CHECK_STATUS(poll_send(ep, &g_m), ANVIL_OK);
    CHECK(wait_done(r));
    CHECK_STATUS(r->status, ANVIL_OK);
    CHECK(r->out.ncaps == 1);
    const anvil_cap_t one = r->out.caps[0];
    CHECK(info_of(SELF, one).object_id == id1);
    CHECK(caps_in_use() == before + 1);
    job_stop(1);

    /* (c) One sent, up to four accepted (a named slot first): one arrives, there. */
    const uint32_t named = free_slot_from(210);
    CHECK(named != 0);
    r = job_init(2, OP_RECV, ep);
    msg_offer(&r->out, ANVIL_MSG_MAX_CAPS, ANVIL_SLOT_ANY);
    r->out.caps[0] = named;
    CHECK_STATUS(job_start(2, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(r));
    msg_fill(&g_m, 0xd2, 0, 0);
    g_m.ncaps = 1;
    g_m.caps[0] = v2;
    CHECK_STATUS(poll_send(ep, &g_m), ANVIL_OK);
    CHECK(wait_done(r));
    CHECK_STATUS(r->status, ANVIL_OK);
    CHECK(r->out.ncaps == 1 && r->out.caps[0] == named);
    CHECK(info_of(SELF, named).object_id == id2);
    job_stop(2);

    /* (d) Four sent, four accepted at named and free slots: all arrive, in order. */
    r = job_init(3, OP_RECV, ep);
    msg_offer(&r->out, ANVIL_MSG_MAX_CAPS, ANVIL_SLOT_ANY);
    const uint32_t named2 = free_slot_from(220);
    CHECK(named2 != 0);
    r->out.caps[2] = named2;
    CHECK_STATUS(job_start(3, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(r));
    msg_fill(&g_m, 0xd3, 0, 0);
    g_m.ncaps = 4;
    g_m.caps[0] = v1;
    g_m.caps[1] = v2;
    g_m.caps[2] = v1;
    g_m.caps[3] = v2;
    CHECK_STATUS(poll_send(ep, &g_m), ANVIL_OK);
    CHECK(wait_done(r));
    CHECK_STATUS(r->status, ANVIL_OK);
    CHECK(r->out.ncaps == 4 && r->out.caps[2] == named2);
    for (unsigned i = 0; i < 4; i++)
        CHECK(info_of(SELF, r->out.caps[i]).object_id == (i % 2 ? id2 : id1));
    job_stop(3);

    /* Revoking both originals empties every slot that received them. */
    CHECK_STATUS(anvil_cap_revoke(SELF, v1), ANVIL_OK);
    CHECK_STATUS(anvil_cap_revoke(SELF, v2), ANVIL_OK);
    CHECK(slot_empty(one) && slot_empty(named) && slot_empty(named2));
    for (unsigned i = 0; i < 4; i++)
        CHECK(slot_empty(g_jobs[3].out.caps[i]));
    jobs_stop_all();
    CHECK_STATUS(anvil_cap_delete(SELF, v2), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, v1), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ipc.cap_in_call_and_reply", test_ipc_cap_in_call_and_reply)
{
    jobs_reset();
    anvil_cap_t ep, vq, vr;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_create(PAGE, &vq), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_create(PAGE, &vr), ANVIL_OK);
    /* The request carries vq; the caller offers a slot for the reply's cap. */
    struct job *c = job_init(0, OP_CALL, ep);
    msg_fill(&c->in, 0xe0, 1, 80);
    c->in.ncaps = 1;
    c->in.caps[0] = vq;
    msg_offer(&c->out, 1, ANVIL_SLOT_ANY);
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    uint64_t badge;
    msg_offer(&g_r, 1, ANVIL_SLOT_ANY);
    CHECK_STATUS(poll_recv(ep, &g_r, &badge), ANVIL_OK);
    CHECK(msg_is(&g_r, 0xe0, 1, 80) && g_r.ncaps == 1);
    const anvil_cap_t got_q = g_r.caps[0];
    CHECK(info_of(SELF, got_q).object_id == info_of(SELF, vq).object_id);
    msg_fill(&g_m, 0xe1, 2, 81);
    g_m.ncaps = 1;
    g_m.caps[0] = vr;
    CHECK_STATUS(anvil_ipc_reply(&g_m), ANVIL_OK);
    CHECK(wait_done(c));
    CHECK_STATUS(c->status, ANVIL_OK);
    CHECK(msg_is(&c->out, 0xe1, 2, 81) && c->out.ncaps == 1);
    const anvil_cap_t got_r = c->out.caps[0];
    const anvil_cap_info_t ir = info_of(SELF, got_r);
    CHECK(ir.type == ANVIL_OBJ_VMO && ir.object_id == info_of(SELF, vr).object_id &&
          ir.rights == info_of(SELF, vr).rights);
    /* Still ours, both. */
    CHECK(info_of(SELF, vr).type == ANVIL_OBJ_VMO && info_of(SELF, vq).type == ANVIL_OBJ_VMO);
    job_stop(0);

    /* A reply offering none of the caller's slots delivers no cap. */
    c = job_init(1, OP_CALL, ep);
    msg_fill(&c->in, 0xe2, 0, 0);
    msg_offer(&c->out, 0, ANVIL_SLOT_ANY);
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    msg_offer(&g_r, 0, 0);
    CHECK_STATUS(poll_recv(ep, &g_r, &badge), ANVIL_OK);
    const unsigned before = caps_in_use();
    msg_fill(&g_m, 0xe3, 0, 0);
    g_m.ncaps = 1;
    g_m.caps[0] = vr;
    CHECK_STATUS(anvil_ipc_reply(&g_m), ANVIL_OK);
    CHECK(wait_done(c));
    CHECK_STATUS(c->status, ANVIL_OK);
    CHECK(c->out.label == 0xe3 && c->out.ncaps == 0);
    CHECK(caps_in_use() == before);
    jobs_stop_all();
    del(got_r);
    del(got_q);
    CHECK_STATUS(anvil_cap_delete(SELF, vr), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, vq), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

/* Send-side checks with a receiver waiting (a sink that would record anything
 * wrongly let through): rights, GRANT, bad caps, sizes, bad pointers. */
DEFINE_TEST("ipc.send_rules", test_ipc_send_rules)
{
    jobs_reset();
    anvil_cap_t ep, vmo, n;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_create(PAGE, &vmo), ANVIL_OK);
    CHECK_STATUS(anvil_notification_create(&n), ANVIL_OK);
    const anvil_cap_t ep_nogrant = copy_of(ep, EP_RIGHTS & ~ANVIL_RIGHT_GRANT, 0);
    const anvil_cap_t ep_ro = copy_of(ep, ANVIL_RIGHT_READ | ANVIL_RIGHT_GRANT, 0);
    const anvil_cap_t vmo_nogrant = copy_of(vmo, ANVIL_RIGHTS_ALL & ~ANVIL_RIGHT_GRANT, 0);
    CHECK(ep_nogrant && ep_ro && vmo_nogrant);
    const uint32_t empty = free_slot_from(230);
    CHECK(empty != 0);
    /* One page at TEST_VA with nothing after it. */
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, vmo, 0, PAGE, ANVIL_PERM_R | ANVIL_PERM_W), ANVIL_OK);

    struct job *sink = job_init(0, OP_SINK, ep);
    msg_offer(&sink->out, ANVIL_MSG_MAX_CAPS, ANVIL_SLOT_ANY);
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(sink));
    const unsigned before = caps_in_use();

#define REFUSED(cap, msgp, expect)                                  \
    do {                                                            \
        CHECK_STATUS(anvil_ipc_try_send((cap), (msgp)), (expect)); \
        CHECK_STATUS(anvil_ipc_send((cap), (msgp)), (expect));     \
    } while (0)
    msg_fill(&g_m, 0x70, 4, 90);
    /* WRITE is needed to send. */
    REFUSED(ep_ro, &g_m, ANVIL_ERR_ACCESS_DENIED);
    /* Caps need GRANT on the endpoint cap ... */
    g_m.ncaps = 1;
    g_m.caps[0] = vmo;
    REFUSED(ep_nogrant, &g_m, ANVIL_ERR_ACCESS_DENIED);
    /* ... and on each cap sent, wherever it is in the list. */
    g_m.caps[0] = vmo_nogrant;
    REFUSED(ep, &g_m, ANVIL_ERR_ACCESS_DENIED);
    g_m.ncaps = 3;
    g_m.caps[0] = vmo;
    g_m.caps[1] = ep;
    g_m.caps[2] = vmo_nogrant;
    REFUSED(ep, &g_m, ANVIL_ERR_ACCESS_DENIED);
    /* Empty or out-of-range slots. */
    g_m.ncaps = 2;
    g_m.caps[0] = vmo;
    g_m.caps[1] = empty;
    REFUSED(ep, &g_m, ANVIL_ERR_INVALID_CAP);
    g_m.ncaps = 1;
    g_m.caps[0] = 0;
    REFUSED(ep, &g_m, ANVIL_ERR_INVALID_CAP);
    g_m.caps[0] = 100000;
    REFUSED(ep, &g_m, ANVIL_ERR_INVALID_CAP);
    /* Too many caps, too many bytes. */
    g_m.ncaps = ANVIL_MSG_MAX_CAPS + 1;
    g_m.caps[0] = vmo;
    REFUSED(ep, &g_m, ANVIL_ERR_INVALID_ARG);
    g_m.ncaps = 0xffffffffu;
    REFUSED(ep, &g_m, ANVIL_ERR_INVALID_ARG);
    g_m.ncaps = 0;
    g_m.len = ANVIL_MSG_MAX_BYTES + 1;
    REFUSED(ep, &g_m, ANVIL_ERR_INVALID_ARG);
    g_m.len = 4;
    /* Unreadable messages. */
    REFUSED(ep, (const anvil_msg_t *)UNMAPPED_VA, ANVIL_ERR_FAULT);
    REFUSED(ep, (const anvil_msg_t *)KERNEL_VA, ANVIL_ERR_FAULT);
    REFUSED(ep, (const anvil_msg_t *)NONCANONICAL_VA, ANVIL_ERR_FAULT);
    /* A message whose header is mapped but whose 100 bytes of data run off the end of the mapping. */
    anvil_msg_t *edge = (anvil_msg_t *)(uintptr_t)(TEST_VA + PAGE - 16);
    edge->label = 0x71;
    edge->len = 100;
    edge->ncaps = 0;
    REFUSED(ep, edge, ANVIL_ERR_FAULT);
    /* Not an endpoint, or no cap at all. */
    REFUSED(vmo, &g_m, ANVIL_ERR_WRONG_TYPE);
    REFUSED(n, &g_m, ANVIL_ERR_WRONG_TYPE);
    REFUSED(empty, &g_m, ANVIL_ERR_INVALID_CAP);
    REFUSED(0, &g_m, ANVIL_ERR_INVALID_CAP);
#undef REFUSED
    /* Nothing got through. */
    settle();
    CHECK(sink->count == 0 && sink->done == 0);
    CHECK(caps_in_use() == before);
    /* What is allowed: no caps through the GRANT-less endpoint cap (caps[] ignored). */
    g_m.ncaps = 0;
    g_m.caps[0] = empty;
    CHECK_STATUS(poll_send(ep_nogrant, &g_m), ANVIL_OK);
    CHECK(wait_count(sink, 1));
    CHECK(sink->labels[0] == 0x70);
    CHECK(caps_in_use() == before);
    msg_fill(&g_m, LABEL_QUIT, 0, 0);
    CHECK_STATUS(poll_send(ep, &g_m), ANVIL_OK);
    CHECK(wait_done(sink));
    CHECK_STATUS(sink->status, ANVIL_OK);
    CHECK(sink->count == 2);
    jobs_stop_all();
    /* A sender whose message goes bad while it waits fails its own send; the
     * receiver is not disturbed (nobody else is sending). */
    struct job *s = job_init(1, OP_SEND, ep);
    msg_fill((anvil_msg_t *)(uintptr_t)TEST_VA, 0x72, 8, 0); /* the mapping at TEST_VA is RW */
    s->in_ptr = (const anvil_msg_t *)(uintptr_t)TEST_VA;
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(s));
    CHECK_STATUS(anvil_vma_unmap(VS, TEST_VA, PAGE), ANVIL_OK);
    uint64_t badge = 0;
    msg_offer(&g_r, 0, 0);
    const anvil_status_t got = anvil_ipc_try_recv(ep, &g_r, &badge);
    CHECK(wait_done(s));
    CHECK_STATUS(s->status, ANVIL_ERR_FAULT);
    CHECK_STATUS(got, ANVIL_ERR_WOULD_BLOCK);
    jobs_stop_all();
    del(vmo_nogrant);
    del(ep_ro);
    del(ep_nogrant);
    CHECK_STATUS(anvil_cap_delete(SELF, n), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, vmo), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

/* Receive-side checks with a sender waiting: rights, types, bad buffers. A bad
 * receive buffer fails the receiver only: the sender's message is still there. */
DEFINE_TEST("ipc.recv_rules", test_ipc_recv_rules)
{
    jobs_reset();
    anvil_cap_t ep, vmo, n, rov;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_create(PAGE, &vmo), ANVIL_OK);
    CHECK_STATUS(anvil_notification_create(&n), ANVIL_OK);
    const anvil_cap_t ep_wo = copy_of(ep, ANVIL_RIGHT_WRITE, 0);
    CHECK(ep_wo != 0);
    anvil_msg_t *ro = map_readonly_msg(&rov);
    CHECK(ro != 0);

    struct job *s = job_init(0, OP_SEND, ep);
    msg_fill(&s->in, 0x80, 12, 91);
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(s));
    uint64_t badge = 0;
    msg_offer(&g_r, 0, 0);
#define REFUSED(cap, msgp, expect)                                          \
    do {                                                                    \
        CHECK_STATUS(anvil_ipc_try_recv((cap), (msgp), &badge), (expect)); \
        CHECK_STATUS(anvil_ipc_recv((cap), (msgp), &badge), (expect));     \
    } while (0)
    REFUSED(ep_wo, &g_r, ANVIL_ERR_ACCESS_DENIED);
    REFUSED(vmo, &g_r, ANVIL_ERR_WRONG_TYPE);
    REFUSED(n, &g_r, ANVIL_ERR_WRONG_TYPE);
    REFUSED(0, &g_r, ANVIL_ERR_INVALID_CAP);
    REFUSED(ep, (anvil_msg_t *)UNMAPPED_VA, ANVIL_ERR_FAULT);
    REFUSED(ep, (anvil_msg_t *)KERNEL_VA, ANVIL_ERR_FAULT);
    /* A buffer running off the end of a mapping. */
    REFUSED(ep, (anvil_msg_t *)(uintptr_t)(TEST_VA + PAGE - 16), ANVIL_ERR_FAULT);
    REFUSED(ep, ro, ANVIL_ERR_FAULT);
#undef REFUSED
    /* The kernel wrote nothing through the read-only buffer. */
    CHECK(ro->label == 0 && ro->len == 0);
    /* The sender was not disturbed: it still waits with its message. */
    settle();
    CHECK(s->done == 0);
    msg_offer(&g_r, 0, 0);
    CHECK_STATUS(poll_recv(ep, &g_r, &badge), ANVIL_OK);
    CHECK(msg_is(&g_r, 0x80, 12, 91));
    CHECK(wait_done(s));
    CHECK_STATUS(s->status, ANVIL_OK);
    job_stop(0);

    /* A receiver already waiting on a read-only buffer when the sender comes:
     * the receiver fails, the sender's message goes to the next receiver. */
    struct job *r = job_init(1, OP_RECV, ep);
    r->out_ptr = ro;
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(r));
    s = job_init(2, OP_SEND, ep);
    msg_fill(&s->in, 0x81, 7, 92);
    CHECK_STATUS(job_start(2, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_done(r));
    CHECK_STATUS(r->status, ANVIL_ERR_FAULT);
    CHECK(ro->label == 0 && ro->len == 0);
    msg_offer(&g_r, 0, 0);
    CHECK_STATUS(poll_recv(ep, &g_r, &badge), ANVIL_OK);
    CHECK(msg_is(&g_r, 0x81, 7, 92));
    CHECK(wait_done(s));
    CHECK_STATUS(s->status, ANVIL_OK);
    jobs_stop_all();

    /* A receiver offering an occupied slot for the incoming cap fails its own
     * receive; the sender stays queued for the next receiver. */
    s = job_init(5, OP_SEND, ep);
    msg_fill(&s->in, 0x87, 2, 95);
    s->in.ncaps = 1;
    s->in.caps[0] = vmo;
    CHECK_STATUS(job_start(5, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(s));
    const unsigned before = caps_in_use();
    msg_offer(&g_r, 1, n); /* slot n holds our notification */
    CHECK_STATUS(anvil_ipc_try_recv(ep, &g_r, &badge), ANVIL_ERR_SLOT_OCCUPIED);
    CHECK(info_of(SELF, n).type == ANVIL_OBJ_NOTIFICATION);
    CHECK(caps_in_use() == before);
    settle();
    CHECK(s->done == 0);
    msg_offer(&g_r, 1, ANVIL_SLOT_ANY);
    CHECK_STATUS(poll_recv(ep, &g_r, &badge), ANVIL_OK);
    CHECK(msg_is(&g_r, 0x87, 2, 95) && g_r.ncaps == 1);
    CHECK(info_of(SELF, g_r.caps[0]).object_id == info_of(SELF, vmo).object_id);
    del(g_r.caps[0]);
    CHECK(wait_done(s));
    CHECK_STATUS(s->status, ANVIL_OK);
    jobs_stop_all();

    /* A caller whose reply buffer is read-only from the start: its call fails
     * with FAULT (at once, or after the reply, which then succeeds). */
    struct job *c = job_init(3, OP_CALL, ep);
    msg_fill(&c->in, 0x82, 0, 0);
    c->out_ptr = ro;
    CHECK_STATUS(job_start(3, ANVIL_CPU_ANY), ANVIL_OK);
    anvil_status_t got = ANVIL_ERR_WOULD_BLOCK;
    msg_offer(&g_r, 0, 0);
    for (uint32_t i = 0; i < POLL_LIMIT && !c->done && got == ANVIL_ERR_WOULD_BLOCK; i++) {
        got = anvil_ipc_try_recv(ep, &g_r, &badge);
        if (got == ANVIL_ERR_WOULD_BLOCK)
            anvil_thread_yield();
    }
    if (got == ANVIL_OK) {
        CHECK(g_r.label == 0x82);
        msg_fill(&g_m, 0x83, 9, 93);
        CHECK_STATUS(anvil_ipc_reply(&g_m), ANVIL_OK);
    } else {
        CHECK_STATUS(got, ANVIL_ERR_WOULD_BLOCK);
    }
    CHECK(wait_done(c));
    CHECK_STATUS(c->status, ANVIL_ERR_FAULT);
    CHECK(ro->label == 0 && ro->len == 0);
    CHECK_STATUS(anvil_ipc_reply(&g_m), ANVIL_ERR_BAD_STATE);
    jobs_stop_all();
    unmap_readonly_msg(rov);

    /* A caller whose reply buffer goes bad while it waits (remapped read-only,
     * then unmapped): its call fails with FAULT, the replier gets OK. */
    for (unsigned k = 0; k < 2; k++) {
        anvil_cap_t page;
        CHECK_STATUS(anvil_vmo_create(PAGE, &page), ANVIL_OK);
        CHECK_STATUS(anvil_vma_map(VS, TEST_VA, page, 0, PAGE, ANVIL_PERM_R | ANVIL_PERM_W), ANVIL_OK);
        c = job_init(4, OP_CALL, ep);
        msg_fill(&c->in, 0x84 + k, 0, 0);
        c->out_ptr = (anvil_msg_t *)(uintptr_t)TEST_VA;
        CHECK_STATUS(job_start(4, ANVIL_CPU_ANY), ANVIL_OK);
        msg_offer(&g_r, 0, 0);
        CHECK_STATUS(poll_recv(ep, &g_r, &badge), ANVIL_OK);
        CHECK(g_r.label == 0x84 + k);
        CHECK_STATUS(anvil_vma_unmap(VS, TEST_VA, PAGE), ANVIL_OK);
        if (k == 0)
            CHECK_STATUS(anvil_vma_map(VS, TEST_VA, page, 0, PAGE, ANVIL_PERM_R), ANVIL_OK);
        msg_fill(&g_m, 0x86, 9, 94);
        CHECK_STATUS(anvil_ipc_reply(&g_m), ANVIL_OK);
        CHECK(wait_done(c));
        CHECK_STATUS(c->status, ANVIL_ERR_FAULT);
        CHECK_STATUS(anvil_ipc_reply(&g_m), ANVIL_ERR_BAD_STATE);
        job_stop(4);
        anvil_vma_unmap(VS, TEST_VA, PAGE);
        CHECK_STATUS(anvil_cap_delete(SELF, page), ANVIL_OK);
    }
    del(ep_wo);
    CHECK_STATUS(anvil_cap_delete(SELF, n), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, vmo), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

/* A -> B -> C: the suite sends a VMO cap to helper B, which forwards it to
 * helper C; revoking the suite's original removes C's copy (and B's). */
DEFINE_TEST("ipc.cap_two_hops_revoke", test_ipc_cap_two_hops_revoke)
{
    jobs_reset();
    anvil_cap_t ep1, ep2, vmo;
    CHECK_STATUS(anvil_endpoint_create(&ep1), ANVIL_OK);
    CHECK_STATUS(anvil_endpoint_create(&ep2), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_create(PAGE, &vmo), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_write(vmo, 0, "two hops", 9), ANVIL_OK);
    const anvil_cap_info_t iv = info_of(SELF, vmo);
    struct job *c = job_init(1, OP_RECV, ep2);
    msg_offer(&c->out, 1, ANVIL_SLOT_ANY);
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    struct job *b = job_init(0, OP_FORWARD, ep1);
    b->cap2 = ep2;
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    msg_fill(&g_m, 0xab, 0, 0);
    g_m.ncaps = 1;
    g_m.caps[0] = vmo;
    CHECK_STATUS(poll_send(ep1, &g_m), ANVIL_OK);
    CHECK(wait_done(b));
    CHECK(wait_done(c));
    CHECK_STATUS(b->status, ANVIL_OK);
    CHECK_STATUS(c->status, ANVIL_OK);
    CHECK(c->out.label == 0xac && c->out.ncaps == 1);
    const anvil_cap_t at_b = (anvil_cap_t)b->value, at_c = c->out.caps[0];
    CHECK(at_b != at_c && at_b != vmo && at_c != vmo);
    /* B keeps its copy after forwarding it; all three are the same VMO, same rights. */
    const anvil_cap_info_t ib = info_of(SELF, at_b), ic = info_of(SELF, at_c);
    CHECK(ib.object_id == iv.object_id && ic.object_id == iv.object_id);
    CHECK(ib.rights == iv.rights && ic.rights == iv.rights);
    char buf[9];
    CHECK_STATUS(anvil_vmo_read(at_c, 0, buf, sizeof buf), ANVIL_OK);
    CHECK(memcmp(buf, "two hops", 9) == 0);
    CHECK_STATUS(anvil_cap_revoke(SELF, vmo), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_read(at_c, 0, buf, sizeof buf), ANVIL_ERR_INVALID_CAP);
    anvil_cap_info_t info;
    CHECK_STATUS(anvil_cap_info(SELF, at_c, &info), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_info(SELF, at_b, &info), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_vmo_read(vmo, 0, buf, sizeof buf), ANVIL_OK);
    jobs_stop_all();
    CHECK_STATUS(anvil_cap_delete(SELF, vmo), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ep2), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ep1), ANVIL_OK);
    return 0;
}

/* ---- peers going away ---- */

DEFINE_TEST("ipc.peer_closed_on_delete", test_ipc_peer_closed_on_delete)
{
    jobs_reset();
    anvil_cap_t ep;
    /* A waiting receiver, woken when the only cap with READ goes, though a
     * copy that can only send is left (and fails at once from then on). */
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    const anvil_cap_t sender = copy_of(ep, ANVIL_RIGHT_WRITE, 0);
    CHECK(sender != 0);
    struct job *r = job_init(0, OP_RECV, ep);
    msg_offer(&r->out, 0, 0);
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(r));
    CHECK(r->done == 0);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    CHECK(wait_done(r));
    CHECK_STATUS(r->status, ANVIL_ERR_PEER_CLOSED);
    msg_fill(&g_m, 0x730, 0, 0);
    CHECK_STATUS(anvil_ipc_try_send(sender, &g_m), ANVIL_ERR_PEER_CLOSED);
    jobs_stop_all();
    CHECK_STATUS(anvil_cap_delete(SELF, sender), ANVIL_OK);

    /* A waiting sender, and a caller still in its send phase. */
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    struct job *s = job_init(0, OP_SEND, ep);
    msg_fill(&s->in, 1, 1, 1);
    struct job *c = job_init(1, OP_CALL, ep);
    msg_fill(&c->in, 2, 2, 2);
    msg_offer(&c->out, 0, 0);
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(s) && wait_started(c));
    CHECK(s->done == 0 && c->done == 0);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    CHECK(wait_done(s));
    CHECK(wait_done(c));
    CHECK_STATUS(s->status, ANVIL_ERR_PEER_CLOSED);
    CHECK_STATUS(c->status, ANVIL_ERR_PEER_CLOSED);
    jobs_stop_all();

    /* Only the last cap counts: deleting the original leaves a badged copy,
     * which still works; deleting that wakes every waiter. */
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    const anvil_cap_t copy = copy_of(ep, EP_RIGHTS, 0x42);
    CHECK(copy != 0);
    for (unsigned i = 0; i < 3; i++) {
        struct job *w = job_init(i, OP_RECV, ep);
        msg_offer(&w->out, 0, 0);
        CHECK_STATUS(job_start(i, ANVIL_CPU_ANY), ANVIL_OK);
        CHECK(wait_started(w));
    }
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    settle();
    for (unsigned i = 0; i < 3; i++)
        CHECK(g_jobs[i].done == 0);
    msg_fill(&g_m, 0x99, 0, 0);
    CHECK_STATUS(poll_send(copy, &g_m), ANVIL_OK);
    CHECK(wait_done(&g_jobs[0])); /* the first in line */
    CHECK_STATUS(g_jobs[0].status, ANVIL_OK);
    CHECK(g_jobs[0].value == 0x42);
    CHECK_STATUS(anvil_cap_delete(SELF, copy), ANVIL_OK);
    for (unsigned i = 1; i < 3; i++) {
        CHECK(wait_done(&g_jobs[i]));
        CHECK_STATUS(g_jobs[i].status, ANVIL_ERR_PEER_CLOSED);
    }
    jobs_stop_all();
    return 0;
}

/* An endpoint closes when its last cap with READ goes, though caps that can
 * only send remain: waiting senders and callers wake with PEER_CLOSED, and
 * every later send fails at once. A READ cap anywhere keeps it open. */
DEFINE_TEST("ipc.closed_without_receivers", test_ipc_closed_without_receivers)
{
    jobs_reset();
    anvil_cap_t ep;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    const anvil_cap_t reader = copy_of(ep, ANVIL_RIGHT_READ, 0);
    const anvil_cap_t writer = copy_of(ep, ANVIL_RIGHT_WRITE | ANVIL_RIGHT_GRANT, 0x51);
    CHECK(reader != 0 && writer != 0);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);

    /* Open while `reader` is there: a sender and a caller wait, and the first is taken. */
    struct job *s = job_init(0, OP_SEND, writer);
    msg_fill(&s->in, 0x700, 4, 1);
    s->rounds = 2;
    struct job *c = job_init(1, OP_CALL, writer);
    msg_fill(&c->in, 0x710, 4, 2);
    msg_offer(&c->out, 0, 0);
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(s));
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(c));
    CHECK(s->done == 0 && c->done == 0);
    msg_offer(&g_r, 0, 0);
    uint64_t badge = 0;
    CHECK_STATUS(poll_recv(reader, &g_r, &badge), ANVIL_OK);
    CHECK(msg_is(&g_r, 0x700, 4, 1) && badge == 0x51);
    settle();
    CHECK(s->count == 1 && s->done == 0); /* its second send waits, behind the call */

    /* The last cap with READ goes: both waiters wake with PEER_CLOSED. */
    CHECK_STATUS(anvil_cap_delete(SELF, reader), ANVIL_OK);
    CHECK(wait_done(s));
    CHECK(wait_done(c));
    CHECK_STATUS(s->status, ANVIL_ERR_PEER_CLOSED);
    CHECK_STATUS(c->status, ANVIL_ERR_PEER_CLOSED);
    CHECK(c->count == 0);

    /* From then on a send fails at once: try_send, and send and call in a helper. */
    msg_fill(&g_m, 0x720, 0, 0);
    CHECK_STATUS(anvil_ipc_try_send(writer, &g_m), ANVIL_ERR_PEER_CLOSED);
    s = job_init(2, OP_SEND, writer);
    c = job_init(3, OP_CALL, writer);
    msg_offer(&c->out, 0, 0);
    CHECK_STATUS(job_start(2, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK_STATUS(job_start(3, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_done(s));
    CHECK(wait_done(c));
    CHECK_STATUS(s->status, ANVIL_ERR_PEER_CLOSED);
    CHECK_STATUS(c->status, ANVIL_ERR_PEER_CLOSED);
    /* A copy of the WRITE cap cannot bring READ back. */
    const anvil_cap_t again = copy_of(writer, ANVIL_RIGHTS_ALL, 0);
    CHECK(again != 0 && (info_of(SELF, again).rights & ANVIL_RIGHT_READ) == 0);
    CHECK_STATUS(anvil_ipc_try_send(again, &g_m), ANVIL_ERR_PEER_CLOSED);
    jobs_stop_all();
    del(again);
    CHECK_STATUS(anvil_cap_delete(SELF, writer), ANVIL_OK);
    return 0;
}

/* A caller whose server thread exits, faults or is deleted before replying, or
 * receives again instead of replying. */
DEFINE_TEST("ipc.server_gone", test_ipc_server_gone)
{
    static const uint32_t kOps[] = {OP_RECV_EXIT, OP_RECV_FAULT, OP_RECV_SPIN, OP_RECV};
    for (unsigned k = 0; k < 4; k++) {
        jobs_reset();
        anvil_cap_t ep;
        CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
        struct job *srv = job_init(0, kOps[k], ep);
        srv->rounds = 2; /* OP_RECV: a second receive while it owes the reply */
        msg_offer(&srv->out, 0, 0);
        CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
        CHECK(wait_started(srv));
        struct job *c = job_init(1, OP_CALL, ep);
        msg_fill(&c->in, 0x600 + k, 3, k);
        msg_offer(&c->out, 0, 0);
        CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
        CHECK(wait_count(srv, 1));
        if (kOps[k] != OP_RECV)
            CHECK_STATUS(srv->status, ANVIL_OK);
        CHECK(srv->labels[0] == 0x600 + k);
        if (kOps[k] == OP_RECV_SPIN) {
            /* The server is alive and has not replied: the caller waits ... */
            settle();
            CHECK(c->done == 0);
            /* ... until the server thread is deleted. */
            CHECK_STATUS(anvil_cap_delete(SELF, g_tcbs[0]), ANVIL_OK);
            g_tcbs[0] = 0;
        }
        CHECK(wait_done(c));
        CHECK_STATUS(c->status, ANVIL_ERR_PEER_CLOSED);
        /* The endpoint itself still works (the server of OP_RECV still receives). */
        if (kOps[k] == OP_RECV) {
            CHECK_STATUS(poll_send(ep, &c->in), ANVIL_OK);
            CHECK(wait_done(srv));
            CHECK_STATUS(srv->status, ANVIL_OK);
            CHECK(srv->count == 2);
        } else {
            CHECK_STATUS(anvil_ipc_try_send(ep, &c->in), ANVIL_ERR_WOULD_BLOCK);
        }
        jobs_stop_all();
        CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    }
    return 0;
}

/* Suspending a thread blocked in send, recv, notify_wait or a call's send
 * phase: on resume its call is issued again. Blocked waiting for a reply: its
 * call ends with BAD_STATE. */
DEFINE_TEST("ipc.suspend_resume", test_ipc_suspend_resume)
{
    jobs_reset();
    anvil_cap_t ep, n;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    CHECK_STATUS(anvil_notification_create(&n), ANVIL_OK);
    uint64_t badge;

    /* A receiver. */
    struct job *r = job_init(0, OP_RECV, ep);
    msg_offer(&r->out, 0, 0);
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(r));
    CHECK_STATUS(anvil_tcb_suspend(g_tcbs[0]), ANVIL_OK);
    msg_fill(&g_m, 0x700, 5, 7);
    CHECK_STATUS(anvil_ipc_try_send(ep, &g_m), ANVIL_ERR_WOULD_BLOCK); /* not waiting while suspended */
    CHECK_STATUS(anvil_tcb_resume(g_tcbs[0]), ANVIL_OK);
    CHECK_STATUS(poll_send(ep, &g_m), ANVIL_OK);
    CHECK(wait_done(r));
    CHECK_STATUS(r->status, ANVIL_OK);
    CHECK(r->count == 1 && msg_is(&r->out, 0x700, 5, 7));

    /* A sender. */
    struct job *s = job_init(1, OP_SEND, ep);
    msg_fill(&s->in, 0x701, 6, 8);
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(s));
    CHECK_STATUS(anvil_tcb_suspend(g_tcbs[1]), ANVIL_OK);
    msg_offer(&g_r, 0, 0);
    CHECK_STATUS(anvil_ipc_try_recv(ep, &g_r, &badge), ANVIL_ERR_WOULD_BLOCK);
    CHECK_STATUS(anvil_tcb_resume(g_tcbs[1]), ANVIL_OK);
    CHECK_STATUS(poll_recv(ep, &g_r, &badge), ANVIL_OK);
    CHECK(msg_is(&g_r, 0x701, 6, 8));
    CHECK(wait_done(s));
    CHECK_STATUS(s->status, ANVIL_OK);
    CHECK(s->count == 1);

    /* A notification waiter: bits signalled while it is suspended reach it on resume. */
    struct job *w = job_init(2, OP_WAIT, n);
    CHECK_STATUS(job_start(2, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(w));
    CHECK_STATUS(anvil_tcb_suspend(g_tcbs[2]), ANVIL_OK);
    CHECK_STATUS(anvil_notify_signal(n, 4), ANVIL_OK);
    settle();
    CHECK(w->done == 0);
    CHECK_STATUS(anvil_tcb_resume(g_tcbs[2]), ANVIL_OK);
    CHECK(wait_done(w));
    CHECK_STATUS(w->status, ANVIL_OK);
    CHECK(w->value == 4);
    jobs_stop_all();

    /* A caller still in its send phase: its call is made again on resume. */
    struct job *c = job_init(3, OP_CALL, ep);
    msg_fill(&c->in, 0x702, 1, 9);
    msg_offer(&c->out, 0, 0);
    CHECK_STATUS(job_start(3, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(c));
    CHECK_STATUS(anvil_tcb_suspend(g_tcbs[3]), ANVIL_OK);
    CHECK_STATUS(anvil_ipc_try_recv(ep, &g_r, &badge), ANVIL_ERR_WOULD_BLOCK);
    CHECK_STATUS(anvil_tcb_resume(g_tcbs[3]), ANVIL_OK);
    msg_offer(&g_r, 0, 0);
    CHECK_STATUS(poll_recv(ep, &g_r, &badge), ANVIL_OK);
    CHECK(msg_is(&g_r, 0x702, 1, 9));
    msg_fill(&g_m, 0x703, 2, 10);
    CHECK_STATUS(anvil_ipc_reply(&g_m), ANVIL_OK);
    CHECK(wait_done(c));
    CHECK_STATUS(c->status, ANVIL_OK);
    CHECK(msg_is(&c->out, 0x703, 2, 10));
    job_stop(3);

    /* A caller waiting for its reply: suspended and resumed, its call fails. */
    c = job_init(4, OP_CALL, ep);
    msg_fill(&c->in, 0x704, 0, 0);
    msg_offer(&c->out, 0, 0);
    CHECK_STATUS(job_start(4, ANVIL_CPU_ANY), ANVIL_OK);
    msg_offer(&g_r, 0, 0);
    CHECK_STATUS(poll_recv(ep, &g_r, &badge), ANVIL_OK);
    CHECK(g_r.label == 0x704);
    settle();
    CHECK(c->done == 0);
    CHECK_STATUS(anvil_tcb_suspend(g_tcbs[4]), ANVIL_OK);
    CHECK_STATUS(anvil_tcb_resume(g_tcbs[4]), ANVIL_OK);
    CHECK(wait_done(c));
    CHECK_STATUS(c->status, ANVIL_ERR_BAD_STATE);
    /* Our reply has nobody to go to (the status is not specified); then nothing is pending. */
    msg_fill(&g_m, 0x705, 0, 0);
    const anvil_status_t late = anvil_ipc_reply(&g_m);
    CHECK(late == ANVIL_OK || late == ANVIL_ERR_BAD_STATE || late == ANVIL_ERR_PEER_CLOSED);
    CHECK_STATUS(anvil_ipc_reply(&g_m), ANVIL_ERR_BAD_STATE);
    jobs_stop_all();
    CHECK_STATUS(anvil_cap_delete(SELF, n), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

/* ---- notifications ---- */

/* notify_wait in helper `idx` (so a kernel that blocks cannot hang us); its status. */
static int32_t wait_in_helper(unsigned idx, anvil_cap_t n, uint64_t *bits)
{
    struct job *w = job_init(idx, OP_WAIT, n);
    if (job_start(idx, ANVIL_CPU_ANY) != ANVIL_OK)
        return NOT_DONE;
    const int done = wait_done(w);
    *bits = w->value;
    const int32_t s = done ? w->status : NOT_DONE;
    job_stop(idx);
    return s;
}

DEFINE_TEST("ipc.notify_signal_then_wait", test_ipc_notify_signal_then_wait)
{
    jobs_reset();
    anvil_cap_t n, ep, vmo;
    CHECK_STATUS(anvil_notification_create(&n), ANVIL_OK);
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_create(PAGE, &vmo), ANVIL_OK);
    uint64_t bits = 0;
    /* Signalled first: the wait returns at once with the bits, and clears them. */
    CHECK_STATUS(anvil_notify_signal(n, 0x5), ANVIL_OK);
    CHECK_STATUS(wait_in_helper(0, n, &bits), ANVIL_OK);
    CHECK(bits == 0x5);
    /* Several signals OR together. */
    CHECK_STATUS(anvil_notify_signal(n, 0x1), ANVIL_OK);
    CHECK_STATUS(anvil_notify_signal(n, 0x4), ANVIL_OK);
    CHECK_STATUS(anvil_notify_signal(n, 0x8000000000000001ull), ANVIL_OK);
    CHECK_STATUS(wait_in_helper(1, n, &bits), ANVIL_OK);
    CHECK(bits == 0x8000000000000005ull);
    /* Cleared by the last wait: only the new bit shows. */
    CHECK_STATUS(anvil_notify_signal(n, 0x10), ANVIL_OK);
    CHECK_STATUS(wait_in_helper(2, n, &bits), ANVIL_OK);
    CHECK(bits == 0x10);
    /* Through copies: WRITE to signal, READ to wait. */
    const anvil_cap_t w_only = copy_of(n, ANVIL_RIGHT_WRITE, 0), r_only = copy_of(n, ANVIL_RIGHT_READ, 0);
    CHECK(w_only && r_only);
    CHECK_STATUS(anvil_notify_signal(w_only, 0x20), ANVIL_OK);
    CHECK_STATUS(wait_in_helper(3, r_only, &bits), ANVIL_OK);
    CHECK(bits == 0x20);
    /* Refused: no bits, missing rights, wrong types, no cap. Refusals are
     * checked before any blocking, so the waits here cannot block. */
    CHECK_STATUS(anvil_notify_signal(n, 0), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_notify_signal(r_only, 1), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(wait_in_helper(4, w_only, &bits), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_notify_signal(ep, 1), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_notify_signal(vmo, 1), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(wait_in_helper(5, ep, &bits), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_notify_signal(0, 1), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(wait_in_helper(0, 0, &bits), ANVIL_ERR_INVALID_CAP);
    /* Endpoint calls on a notification. */
    msg_fill(&g_m, 1, 0, 0);
    CHECK_STATUS(anvil_ipc_try_send(n, &g_m), ANVIL_ERR_WRONG_TYPE);
    /* The refused signals left nothing behind. */
    CHECK_STATUS(anvil_notify_signal(n, 0x40), ANVIL_OK);
    CHECK_STATUS(wait_in_helper(1, n, &bits), ANVIL_OK);
    CHECK(bits == 0x40);
    jobs_stop_all();
    del(r_only);
    del(w_only);
    CHECK_STATUS(anvil_cap_delete(SELF, vmo), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, n), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ipc.notify_wait_then_signal", test_ipc_notify_wait_then_signal)
{
    jobs_reset();
    anvil_cap_t n;
    CHECK_STATUS(anvil_notification_create(&n), ANVIL_OK);
    /* One waiter: a signal from another thread wakes it. */
    struct job *w = job_init(0, OP_WAIT, n);
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(w));
    CHECK(w->done == 0);
    CHECK_STATUS(anvil_notify_signal(n, 0x30), ANVIL_OK);
    CHECK(wait_done(w));
    CHECK_STATUS(w->status, ANVIL_OK);
    CHECK(w->value == 0x30);
    job_stop(0);

    /* Two waiters: one signal wakes one of them, the next the other. */
    struct job *a = job_init(1, OP_WAIT, n), *b = job_init(2, OP_WAIT, n);
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK_STATUS(job_start(2, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(a) && wait_started(b));
    CHECK_STATUS(anvil_notify_signal(n, 0x1), ANVIL_OK);
    for (unsigned i = 0; i < CHILD_WAIT_LIMIT && a->done + b->done == 0; i++)
        anvil_thread_yield();
    settle();
    BARRIER();
    CHECK(a->done + b->done == 1);
    struct job *first = a->done ? a : b, *second = a->done ? b : a;
    CHECK_STATUS(first->status, ANVIL_OK);
    CHECK(first->value == 0x1);
    CHECK_STATUS(anvil_notify_signal(n, 0x2), ANVIL_OK);
    CHECK(wait_done(second));
    CHECK_STATUS(second->status, ANVIL_OK);
    CHECK(second->value == 0x2);
    jobs_stop_all();

    /* Deleting the last cap wakes a waiter with PEER_CLOSED. */
    w = job_init(3, OP_WAIT, n);
    CHECK_STATUS(job_start(3, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(w));
    CHECK_STATUS(anvil_cap_delete(SELF, n), ANVIL_OK);
    CHECK(wait_done(w));
    CHECK_STATUS(w->status, ANVIL_ERR_PEER_CLOSED);
    jobs_stop_all();
    return 0;
}

/* notify_wait_timeout: a poll, a wait that times out, one a signal ends in
 * time. The suite's own thread lets ticks pass by waiting with a timeout
 * itself, so the test runs as long on every backend and seed. */
DEFINE_TEST("ipc.notify_wait_timeout", test_ipc_notify_wait_timeout)
{
    jobs_reset();
    anvil_cap_t n, idle, ep;
    CHECK_STATUS(anvil_notification_create(&n), ANVIL_OK);
    CHECK_STATUS(anvil_notification_create(&idle), ANVIL_OK);
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    /* ticks 0 polls: TIMED_OUT at once with no bits (and bits not written),
     * the bits if set. */
    uint64_t bits = 7;
    CHECK_STATUS(anvil_notify_wait_timeout(n, 0, &bits), ANVIL_ERR_TIMED_OUT);
    CHECK(bits == 7);
    CHECK_STATUS(anvil_notify_signal(n, 0x3), ANVIL_OK);
    CHECK_STATUS(anvil_notify_wait_timeout(n, 0, &bits), ANVIL_OK);
    CHECK(bits == 0x3);
    /* Bits already set: returned at once, whatever the timeout. */
    CHECK_STATUS(anvil_notify_signal(n, 0x5), ANVIL_OK);
    CHECK_STATUS(anvil_notify_wait_timeout(n, 1000, &bits), ANVIL_OK);
    CHECK(bits == 0x5);
    /* Nobody signals: the wait ends with TIMED_OUT. */
    CHECK_STATUS(anvil_notify_wait_timeout(idle, 3, &bits), ANVIL_ERR_TIMED_OUT);
    /* A helper waits for 2 ticks while this thread waits for 20: it times out first. */
    struct job *w = job_init(0, OP_TIMED_WAIT, n);
    w->seed = 2;
    CHECK_STATUS(job_start(0, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(w));
    CHECK_STATUS(anvil_notify_wait_timeout(idle, 20, &bits), ANVIL_ERR_TIMED_OUT);
    CHECK(wait_done(w));
    CHECK_STATUS(w->status, ANVIL_ERR_TIMED_OUT);
    job_stop(0);
    /* A signal within the timeout wakes the waiter with the bits. */
    w = job_init(1, OP_TIMED_WAIT, n);
    w->seed = 1000000;
    CHECK_STATUS(job_start(1, ANVIL_CPU_ANY), ANVIL_OK);
    CHECK(wait_started(w));
    CHECK(w->done == 0);
    CHECK_STATUS(anvil_notify_signal(n, 0x40), ANVIL_OK);
    CHECK(wait_done(w));
    CHECK_STATUS(w->status, ANVIL_OK);
    CHECK(w->value == 0x40);
    job_stop(1);
    /* Refused before any waiting: wrong type, missing READ, no cap. */
    const anvil_cap_t w_only = copy_of(n, ANVIL_RIGHT_WRITE, 0);
    CHECK(w_only);
    CHECK_STATUS(anvil_notify_wait_timeout(ep, 5, &bits), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_notify_wait_timeout(w_only, 5, &bits), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_notify_wait_timeout(0, 5, &bits), ANVIL_ERR_INVALID_CAP);
    jobs_stop_all();
    del(w_only);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, idle), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, n), ANVIL_OK);
    return 0;
}

/* ---- fault endpoints ---- */

/* Entry points that fault at a known instruction. */
__asm__(".pushsection .text\n"
        ".globl ipc_fault_read\n"
        "ipc_fault_read:\n"
        "    mov (%rdi), %rax\n"
        "    ud2\n"
        ".globl ipc_fault_write\n"
        "ipc_fault_write:\n"
        "    movq $1, (%rdi)\n"
        "    ud2\n"
        ".globl ipc_fault_gp\n"
        "ipc_fault_gp:\n"
        "    cli\n"
        "    ud2\n"
        ".globl ipc_fault_ud\n"
        "ipc_fault_ud:\n"
        "    ud2\n"
        ".globl ipc_fault_de\n"
        "ipc_fault_de:\n"
        "    xor %ecx, %ecx\n"
        "    xor %edx, %edx\n"
        "    mov $1, %eax\n"
        ".globl ipc_fault_de_insn\n"
        "ipc_fault_de_insn:\n"
        "    div %ecx\n"
        "    ud2\n"
        ".popsection\n");
extern const char ipc_fault_read[], ipc_fault_write[], ipc_fault_gp[], ipc_fault_ud[], ipc_fault_de[],
    ipc_fault_de_insn[];

static void exit_with(uint64_t code) { anvil_thread_exit((int64_t)code); }

/* Receives the fault message on `ep` and checks its frame; fills *fm. */
static int take_fault_msg(anvil_cap_t ep, uint64_t expect_badge, anvil_fault_msg_t *fm)
{
    uint64_t badge = 0;
    msg_offer(&g_r, 0, 0);
    CHECK_STATUS(poll_recv(ep, &g_r, &badge), ANVIL_OK);
    CHECK(g_r.label == ANVIL_FAULT_MSG_LABEL);
    CHECK(g_r.len == sizeof(anvil_fault_msg_t));
    CHECK(g_r.ncaps == 0);
    CHECK(badge == expect_badge);
    memcpy(fm, g_r.data, sizeof *fm);
    return 0;
}

DEFINE_TEST("ipc.fault_ep_exit", test_ipc_fault_ep_exit)
{
    jobs_reset();
    anvil_cap_t ep, vmo, t;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_create(PAGE, &vmo), ANVIL_OK);
    const anvil_cap_t fep = copy_of(ep, ANVIL_RIGHT_WRITE, 0xfa);
    const anvil_cap_t ep_ro = copy_of(ep, ANVIL_RIGHT_READ, 0);
    CHECK(fep && ep_ro);
    /* fault_ep must be an endpoint cap with WRITE in our CNode. */
    CHECK_STATUS(anvil_tcb_create(&t), ANVIL_OK);
    const anvil_status_t wrong_type = anvil_tcb_configure(t, SELF, VS, 0, TEST_PRIORITY, ANVIL_CPU_ANY, vmo);
    const anvil_status_t no_write = anvil_tcb_configure(t, SELF, VS, 0, TEST_PRIORITY, ANVIL_CPU_ANY, ep_ro);
    const anvil_status_t empty =
        anvil_tcb_configure(t, SELF, VS, 0, TEST_PRIORITY, ANVIL_CPU_ANY, free_slot_from(240));
    CHECK_STATUS(anvil_cap_delete(SELF, t), ANVIL_OK);
    CHECK_STATUS(wrong_type, ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(no_write, ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(empty, ANVIL_ERR_INVALID_CAP);

    /* An exiting thread: its code, through a badged cap; then through the plain one. */
    static const int64_t kCodes[2] = {42, -7};
    const anvil_cap_t feps[2] = {fep, ep};
    const uint64_t badges[2] = {0xfa, 0};
    for (unsigned k = 0; k < 2; k++) {
        CHECK_STATUS(start_raw(0, (uint64_t)(uintptr_t)exit_with, (uint64_t)kCodes[k], ANVIL_CPU_ANY, feps[k], &t),
                     ANVIL_OK);
        g_tcbs[0] = t;
        anvil_fault_msg_t fm;
        if (take_fault_msg(ep, badges[k], &fm))
            return 1;
        CHECK(fm.thread_id == info_of(SELF, t).object_id);
        CHECK(fm.kind == ANVIL_FAULT_KIND_EXIT);
        CHECK(fm.exit_code == kCodes[k]);
        CHECK(fm.address == 0 && fm.access == 0);
        anvil_regs_t regs;
        CHECK(wait_stopped(t, &regs));
        job_stop(0);
    }
    /* One message per thread. */
    uint64_t badge;
    msg_offer(&g_r, 0, 0);
    CHECK_STATUS(anvil_ipc_try_recv(ep, &g_r, &badge), ANVIL_ERR_WOULD_BLOCK);
    del(ep_ro);
    del(fep);
    CHECK_STATUS(anvil_cap_delete(SELF, vmo), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

/* Checks the fault message of a thread started at `rip` with `rdi`; 0 if as expected. */
static int check_fault_case(anvil_cap_t ep, anvil_cap_t fep, uint64_t rip, uint64_t rdi, uint32_t kind,
                            uint32_t access, uint64_t address, uint64_t at)
{
    anvil_cap_t t;
    /* The kernel prints a fault report for each of these threads. */
    CHECK_STATUS(start_raw(0, rip, rdi, ANVIL_CPU_ANY, fep, &t), ANVIL_OK);
    g_tcbs[0] = t;
    anvil_fault_msg_t fm;
    if (take_fault_msg(ep, 0xf00d, &fm))
        return 1;
    CHECK(fm.thread_id == info_of(SELF, t).object_id);
    CHECK(fm.kind == kind);
    CHECK(fm.access == access);
    CHECK(fm.address == address);
    CHECK(fm.rip == at);
    CHECK(fm.exit_code == 0);
    anvil_regs_t regs;
    CHECK(wait_stopped(t, &regs));
    CHECK(regs.rip == at);
    job_stop(0);
    return 0;
}

DEFINE_TEST("ipc.fault_ep_faults", test_ipc_fault_ep_faults)
{
    jobs_reset();
    anvil_cap_t ep;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    const anvil_cap_t fep = copy_of(ep, EP_RIGHTS, 0xf00d);
    CHECK(fep != 0);
    /* Data that is mapped but not executable: one of our stacks. */
    const uint64_t nx = (uint64_t)(uintptr_t)g_stacks[NJOBS - 1];
    struct {
        uint64_t rip, rdi;
        uint32_t kind, access;
        uint64_t address;
    } const kCases[] = {
        {(uint64_t)(uintptr_t)ipc_fault_read, 0x50, ANVIL_FAULT_KIND_PAGE, 1, 0x50},
        {(uint64_t)(uintptr_t)ipc_fault_write, (uint64_t)(uintptr_t)kReadOnly, ANVIL_FAULT_KIND_PAGE, 2,
         (uint64_t)(uintptr_t)kReadOnly},
        {0x70000, 0, ANVIL_FAULT_KIND_PAGE, 3, 0x70000},
        {nx, 0, ANVIL_FAULT_KIND_PAGE, 3, nx},
        {(uint64_t)(uintptr_t)ipc_fault_gp, 0, ANVIL_FAULT_KIND_GP, 0, 0},
        {(uint64_t)(uintptr_t)ipc_fault_de, 0, ANVIL_FAULT_KIND_DE, 0, 0},
    };
    for (unsigned k = 0; k < sizeof kCases / sizeof kCases[0]; k++) {
        const uint64_t at = kCases[k].kind == ANVIL_FAULT_KIND_DE ? (uint64_t)(uintptr_t)ipc_fault_de_insn
                                                                  : kCases[k].rip;
        if (check_fault_case(ep, fep, kCases[k].rip, kCases[k].rdi, kCases[k].kind, kCases[k].access,
                             kCases[k].address, at))
            return 1;
    }
    del(fep);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

/* An invalid opcode (ud2). */
DEFINE_TEST("ipc.fault_ep_invalid_opcode", test_ipc_fault_ep_invalid_opcode)
{
    jobs_reset();
    anvil_cap_t ep;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    const anvil_cap_t fep = copy_of(ep, EP_RIGHTS, 0xf00d);
    CHECK(fep != 0);
    const uint64_t ud = (uint64_t)(uintptr_t)ipc_fault_ud;
    if (check_fault_case(ep, fep, ud, 0, ANVIL_FAULT_KIND_UD, 0, 0, ud))
        return 1;
    del(fep);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

/* ---- across processes and CPUs ---- */

/* One ipc_call from helper `idx`, with c->in / c->out as the test set them. */
static int32_t call_in_helper(unsigned idx)
{
    if (job_start(idx, ANVIL_CPU_ANY) != ANVIL_OK)
        return NOT_DONE;
    const int done = wait_done(&g_jobs[idx]);
    const int32_t s = done ? g_jobs[idx].status : NOT_DONE;
    job_stop(idx);
    return s;
}

static int check_child_server(struct child_run *run, void *ctx)
{
    const anvil_cap_t ep = *(const anvil_cap_t *)ctx;
    const anvil_cap_t badged = copy_of(ep, EP_RIGHTS, 0xc41d);
    CHECK(badged != 0);
    anvil_cap_t vmo;
    CHECK_STATUS(anvil_vmo_create(PAGE, &vmo), ANVIL_OK);
    const anvil_cap_info_t iv = info_of(SELF, vmo);

    /* Echo, through the badged cap: the server sees the badge. */
    static const uint32_t kLens[] = {0, 1, ANVIL_MSG_MAX_BYTES};
    for (unsigned k = 0; k < 3; k++) {
        struct job *c = job_init(0, OP_CALL, badged);
        msg_fill(&c->in, SRV_ECHO, kLens[k], 100 + k);
        msg_offer(&c->out, 0, 0);
        CHECK_STATUS(call_in_helper(0), ANVIL_OK);
        CHECK(echo_matches(&c->in, &c->out));
        CHECK(run->sh->value[1] == 0xc41d);
    }
    /* Through the plain cap: badge 0. */
    struct job *c = job_init(0, OP_CALL, ep);
    msg_fill(&c->in, SRV_ECHO, 3, 7);
    msg_offer(&c->out, 0, 0);
    CHECK_STATUS(call_in_helper(0), ANVIL_OK);
    CHECK(echo_matches(&c->in, &c->out));
    CHECK(run->sh->value[1] == 0);

    /* A VMO cap into the child's CNode: it lands in its lowest free slot, with
     * our rights, and the child writes through it. */
    c = job_init(0, OP_CALL, ep);
    msg_fill(&c->in, SRV_VMO, 0, 0);
    c->in.ncaps = 1;
    c->in.caps[0] = vmo;
    msg_offer(&c->out, 0, 0);
    CHECK_STATUS(call_in_helper(0), ANVIL_OK);
    CHECK(c->out.label == SRV_VMO + 1 && c->out.len == sizeof(struct srv_vmo_reply));
    struct srv_vmo_reply vr;
    memcpy(&vr, c->out.data, sizeof vr);
    CHECK(vr.ncaps == 1);
    CHECK(vr.slot == 4); /* slots 1-3, 8 and 9 are taken */
    CHECK_STATUS(vr.write_status, ANVIL_OK);
    CHECK_STATUS(vr.info_status, ANVIL_OK);
    CHECK(vr.type == ANVIL_OBJ_VMO && vr.rights == iv.rights);
    const anvil_cap_info_t in_child = info_of(run->proc.cnode, vr.slot);
    CHECK(in_child.type == ANVIL_OBJ_VMO && in_child.object_id == iv.object_id);
    char buf[sizeof CHILD_VMO_TEXT];
    CHECK_STATUS(anvil_vmo_read(vmo, 0, buf, sizeof buf), ANVIL_OK);
    CHECK(memcmp(buf, CHILD_VMO_TEXT, sizeof buf) == 0);
    /* Revoking our original reaches into the child's CNode. */
    CHECK_STATUS(anvil_cap_revoke(SELF, vmo), ANVIL_OK);
    CHECK(info_of(run->proc.cnode, vr.slot).type == ANVIL_OBJ_NONE);

    /* A cap in the reply: the child's new VMO arrives in our lowest free slot. */
    c = job_init(0, OP_CALL, ep);
    msg_fill(&c->in, SRV_NEW_VMO, 0, 0);
    msg_offer(&c->out, 1, ANVIL_SLOT_ANY);
    CHECK_STATUS(call_in_helper(0), ANVIL_OK);
    CHECK(c->out.label == SRV_NEW_VMO + 1 && c->out.ncaps == 1);
    const anvil_cap_t theirs = c->out.caps[0];
    CHECK(info_of(SELF, theirs).type == ANVIL_OBJ_VMO);
    memset(buf, 0, sizeof buf);
    CHECK_STATUS(anvil_vmo_read(theirs, 0, buf, sizeof buf), ANVIL_OK);
    CHECK(memcmp(buf, CHILD_VMO_TEXT, sizeof buf) == 0);

    /* Done: the server answers and ends. */
    c = job_init(0, OP_CALL, ep);
    msg_fill(&c->in, SRV_QUIT, 0, 0);
    msg_offer(&c->out, 0, 0);
    CHECK_STATUS(call_in_helper(0), ANVIL_OK);
    CHECK(c->out.label == SRV_QUIT + 1);
    anvil_regs_t regs;
    CHECK(wait_stopped(run->proc.tcb, &regs));
    const struct child_shared *sh = run->sh;
    CHECK(sh->done == CHILD_DONE && sh->nresults == IPCS_COUNT);
    CHECK_STATUS(sh->result[IPCS_FIRST_RECV], ANVIL_OK);
    CHECK_STATUS(sh->result[IPCS_LAST], ANVIL_OK);
    CHECK(sh->value[0] == 7);
    /* Nobody serves any more. */
    msg_fill(&g_m, SRV_ECHO, 0, 0);
    CHECK_STATUS(anvil_ipc_try_send(ep, &g_m), ANVIL_ERR_WOULD_BLOCK);
    /* The VMO the child gave us outlives the child (checked by the caller). */
    *(anvil_cap_t *)ctx = theirs;
    del(vmo);
    del(badged);
    return 0;
}

static int check_child_server_exits(struct child_run *run, void *ctx)
{
    const anvil_cap_t ep = *(const anvil_cap_t *)ctx;
    struct job *c = job_init(0, OP_CALL, ep);
    msg_fill(&c->in, SRV_EXIT, 0, 0);
    msg_offer(&c->out, 0, 0);
    CHECK_STATUS(call_in_helper(0), ANVIL_ERR_PEER_CLOSED);
    anvil_regs_t regs;
    CHECK(wait_stopped(run->proc.tcb, &regs));
    CHECK(run->sh->done == CHILD_DONE);
    CHECK_STATUS(run->sh->result[IPCS_FIRST_RECV], ANVIL_OK);
    return 0;
}

DEFINE_TEST("ipc.child_server", test_ipc_child_server)
{
    jobs_reset();
    anvil_cap_t ep;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    const uint32_t lend = ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE | ANVIL_RIGHT_GRANT;
    anvil_cap_t ctx = ep;
    int r = run_child(CHILD_IPC_SERVER, ep, lend, check_child_server, &ctx);
    jobs_stop_all();
    if (r)
        return r;
    /* The child is gone; the VMO it sent us is not. */
    const anvil_cap_t theirs = ctx;
    char buf[sizeof CHILD_VMO_TEXT];
    CHECK_STATUS(anvil_vmo_read(theirs, 0, buf, sizeof buf), ANVIL_OK);
    CHECK(memcmp(buf, CHILD_VMO_TEXT, sizeof buf) == 0);
    CHECK_STATUS(anvil_cap_delete(SELF, theirs), ANVIL_OK);

    /* A server process that ends without replying: the caller sees PEER_CLOSED. */
    ctx = ep;
    r = run_child(CHILD_IPC_SERVER, ep, lend, check_child_server_exits, &ctx);
    jobs_stop_all();
    if (r)
        return r;
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ipc.across_cpus", test_ipc_across_cpus)
{
    const uint32_t ncpu = cpu_count();
    if (ncpu < 2)
        SKIP("needs 2 CPUs");
    jobs_reset();
    anvil_cap_t ep, n1, n2;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    CHECK_STATUS(anvil_notification_create(&n1), ANVIL_OK);
    CHECK_STATUS(anvil_notification_create(&n2), ANVIL_OK);
    const uint32_t far = ncpu - 1;
    /* call / reply_recv, client on CPU 0 and server on the last CPU, then swapped. */
    for (unsigned k = 0; k < 2; k++) {
        struct job *srv = job_init(0, OP_SERVE, ep);
        srv->rounds = CROSS_ROUNDS;
        struct job *cl = job_init(1, OP_CLIENT, ep);
        cl->rounds = CROSS_ROUNDS;
        cl->seed = 11 + k;
        CHECK_STATUS(job_start(0, k ? 0 : far), ANVIL_OK);
        CHECK_STATUS(job_start(1, k ? far : 0), ANVIL_OK);
        CHECK(wait_done_long(cl));
        CHECK(wait_done_long(srv));
        CHECK_STATUS(cl->status, ANVIL_OK);
        CHECK_STATUS(srv->status, ANVIL_OK);
        CHECK(cl->count == CROSS_ROUNDS && srv->count == CROSS_ROUNDS);
        jobs_stop_all();
    }
    /* A stream of sends from one CPU to a receiver on another arrives in order. */
    struct job *s = job_init(0, OP_SEND, ep), *r = job_init(1, OP_RECV, ep);
    s->rounds = r->rounds = 8;
    msg_fill(&s->in, 0x800, 64, 12);
    msg_offer(&r->out, 0, 0);
    CHECK_STATUS(job_start(1, 0), ANVIL_OK);
    CHECK_STATUS(job_start(0, far), ANVIL_OK);
    CHECK(wait_done_long(r));
    CHECK(wait_done_long(s));
    CHECK_STATUS(r->status, ANVIL_OK);
    CHECK_STATUS(s->status, ANVIL_OK);
    for (unsigned i = 0; i < 8; i++)
        CHECK(r->labels[i] == 0x800 + i);
    CHECK(msg_is(&r->out, 0x807, 64, 12));
    jobs_stop_all();
    /* Notification ping-pong between two CPUs. */
    struct job *ping = job_init(0, OP_PING, n1), *pong = job_init(1, OP_PONG, n1);
    ping->cap2 = n2;
    pong->cap2 = n2;
    ping->rounds = pong->rounds = CROSS_ROUNDS;
    CHECK_STATUS(job_start(1, far), ANVIL_OK);
    CHECK_STATUS(job_start(0, 0), ANVIL_OK);
    CHECK(wait_done_long(ping));
    CHECK(wait_done_long(pong));
    CHECK_STATUS(ping->status, ANVIL_OK);
    CHECK_STATUS(pong->status, ANVIL_OK);
    CHECK(ping->count == CROSS_ROUNDS && pong->count == CROSS_ROUNDS);
    jobs_stop_all();
    CHECK_STATUS(anvil_cap_delete(SELF, n2), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, n1), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}
