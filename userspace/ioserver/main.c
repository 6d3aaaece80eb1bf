/* ioserver: owns COM1 and serves ANVIL_IO_WRITE / ANVIL_IO_READ_LINE
 * (protocol in <anvil/services.h>) on its slot ANVIL_CAP_IOSERVER (READ).
 *
 * Caps from init: COM1's ports (slot ANVIL_CAP_COM1_IOPORT, READ|WRITE) and
 * interrupt line (ANVIL_CAP_COM1_IRQ, MANAGE), a client cap to the name server
 * (ANVIL_CAP_NAMESERVER) and an unbadged WRITE|GRANT cap to its own endpoint
 * (ANVIL_CAP_IOSERVER_PUBLISH) that it registers as "io".
 *
 * Output is polled: wait for THR empty, write the byte. The kernel console
 * writes COM1 the same way, so the two can interleave but never block each
 * other, and the line format stays the kernel's. Input is interrupt-driven:
 * IRQ 4 is bound to a notification, and a read that finds no whole line waits
 * on it for at most INPUT_POLL_TICKS (an interrupt may be lost), then drains
 * the receive FIFO again. Bytes after a line's end stay
 * buffered for the next read. One request at a time.
 *
 * What the server is doing outlives it: init lends every instance the same
 * VMO (slot ANVIL_CAP_IO_STATE, READ|WRITE), which holds the receive ring
 * (bytes drained from COM1 but not yet handed out) and, per client badge, the
 * latest numbered request and what came of it (struct io_state below). The
 * instance init starts after a crash hands out the input kept, finishes the
 * write its predecessor died in after the bytes already output, and answers
 * a request sent again with the reply kept. Without that cap (a manifest that
 * gives none) the state is in this process's memory.
 *
 * The same binary runs on QEMU's 16550 and on the simulator's model. Without
 * port access it still serves writes (through anvil_debug_write); without an
 * interrupt it waits for input by yielding. */
#include <anvil/anvil.h>
#include <anvil/services.h>
#include <stdio.h>
#include <string.h>

#include "uart.h"

#define IO_EP ANVIL_CAP_IOSERVER
#define SELF ANVIL_CAP_SELF_CNODE
#define PORT(reg) ((uint16_t)(ANVIL_COM1_PORT_BASE + (reg)))

/* Spins waiting for THR empty before writing anyway (a wedged UART must not
 * wedge every client). */
#define THR_SPIN_LIMIT 1000000u
/* The notification bit the IRQ sets. */
#define RX_IRQ_BIT 0u
/* Clock ticks an input wait lasts before the receive FIFO is drained anyway:
 * COM1's IRQ 4 is edge-triggered, so one lost rising edge (the line then stays
 * high and never rises again) would otherwise leave the server waiting for
 * good. 10 ticks is at most ~100 ms on x86-64 (100 Hz timers), short enough
 * for typed input, and an idle server wakes at most 10 times a second. */
#define INPUT_POLL_TICKS 10u

static int g_uart;          /* COM1's ports are ours */
static anvil_cap_t g_irq_n; /* notification the IRQ signals; 0: poll by yielding */

/* Received bytes not yet handed out, in a ring ('\r' and "\r\n" stored as
 * '\n'). Two counters, each written by one store after what it covers, so that
 * a crash at any instruction leaves a ring the next instance can use:
 *   - `stored`: a byte is read from COM1 and kept in `pending` with the
 *     `stored` word of that moment (one asm statement, rx_read), written to
 *     `bytes`, then counted. Reading takes the byte from the UART; a crash
 *     after it leaves `pending` tagged with the current word, and the next
 *     instance stores that byte (io_attach), so no byte is lost or stored
 *     twice. Its bit 32 is the CR flag (the last byte received was '\r', so
 *     a '\n' right after it ends no second line): one word, so the count and
 *     the flag change together, and every byte stored or skipped changes it.
 *   - `taken`: a line is copied into the reply (and, for a numbered request,
 *     kept in its client's record, struct io_client), then counted as taken,
 *     then the reply goes. A crash between the record and the count is undone
 *     forward by the next instance (io_attach), so a line is handed out once.
 * The counters run freely (mod 2^32, which RX_CAP divides); [taken, stored)
 * is the input held. The header words are the whole state's (struct
 * io_state): written last when it is set up, so a crash during that leaves
 * a state the next instance sets up again, and a VMO holding anything else is
 * not trusted. */
#define IO_MAGIC 0x58524f49u /* "IORX" */
#define IO_VERSION 2u        /* 2: with the clients' records */
#define RX_CAP (4u * ANVIL_IO_LINE_MAX) /* several lines' worth */
#define RX_CR_FLAG (1ull << 32)
#define RX_PENDING (1ull << 40)
struct rx_ring {
    uint32_t magic;    /* of the whole struct io_state */
    uint32_t version;
    uint32_t capacity; /* RX_CAP */
    uint32_t unused;
    uint64_t stored;   /* bytes ever stored (low 32 bits) | RX_CR_FLAG */
    uint32_t taken;    /* bytes ever handed out */
    uint32_t unused2;
    uint64_t pending;     /* RX_PENDING | `stored` when pending_byte was read */
    uint8_t pending_byte; /* the byte read last */
    uint8_t unused3[7];
    uint8_t bytes[RX_CAP];
};
_Static_assert((RX_CAP & (RX_CAP - 1)) == 0, "the counters wrap at a multiple of RX_CAP");

/* What the server did for one client's latest numbered request (label bits
 * ANVIL_IO_SEQ_SHIFT and up), so that the same request sent again after a
 * crash is not done twice. `state` holds the number (low 32 bits) and the
 * phase (high), changed together by one store:
 *   - IO_STARTED: being served; a write has output `written` bytes, each
 *     counted right after it goes out (io_putc_counted). Sent again, the
 *     request goes on from there: a write after its `written` bytes, a read
 *     from the start (it took nothing yet).
 *   - IO_DONE: served; the reply was `status` (writes and failures).
 *   - IO_LINE_TAKEN: a read served; the reply is `line`, and the ring's
 *     `taken` is `taken_to` once it is counted.
 * A request whose number is the record's, done, gets the kept reply again. */
enum { IO_NONE = 0, IO_STARTED = 1, IO_DONE = 2, IO_LINE_TAKEN = 3 };
#define IO_PHASE(state) ((uint32_t)((state) >> 32))
#define IO_STATE(seq, phase) ((uint64_t)(seq) | (uint64_t)(phase) << 32)
struct io_client {
    uint64_t state;    /* number | phase << 32 */
    uint32_t written;  /* IO_STARTED write: bytes output */
    uint32_t taken_to; /* IO_LINE_TAKEN: the ring's `taken` after the line */
    int32_t status;    /* IO_DONE, IO_LINE_TAKEN: the reply's status */
    uint32_t len;      /* ... and its data: `len` bytes of `line` */
    uint8_t line[ANVIL_IO_LINE_MAX];
};
/* Init badges a service's client cap with its index + 1 (at most 16 services);
 * other badges (0: the published "io" cap) get no record. */
#define IO_CLIENTS 16u

/* All the server keeps across its restarts: the ring (with the header) and a
 * record per client badge. */
struct io_state {
    struct rx_ring rx;
    struct io_client clients[IO_CLIENTS];
};
_Static_assert(sizeof(struct io_state) <= ANVIL_IO_STATE_BYTES, "the state fits init's VMO");

/* Where the VMO from init is mapped. */
#define IO_STATE_VA 0x0000500000000000ull

static struct io_state g_local_io; /* the state without init's VMO */
static struct io_state *g_io = &g_local_io;

/* Writes a state field with one store (never split), after every store
 * before it and before every store after it: the compiler barriers keep the
 * order of the source, which is the order a crash sees on this CPU. */
#define RX_PUBLISH(field, value)                               \
    do {                                                       \
        __asm__ volatile("" ::: "memory");                     \
        __atomic_store_n(&(field), (value), __ATOMIC_RELAXED); \
        __asm__ volatile("" ::: "memory");                     \
    } while (0)

static uint32_t rx_held(const struct rx_ring *r) { return (uint32_t)r->stored - r->taken; }
static uint8_t rx_at(const struct rx_ring *r, uint32_t i) { return r->bytes[i % RX_CAP]; }

static anvil_msg_t g_req, g_reply;

static void wait_thr_empty(void)
{
    for (uint32_t i = 0; i < THR_SPIN_LIMIT && !(inb(PORT(UART_LSR)) & UART_LSR_THR_EMPTY); i++)
        __asm__ volatile("pause");
}

/* Writes bytes unchanged (no "\n" -> "\r\n", as the kernel console). */
static void out_write(const void *p, size_t len)
{
    if (!g_uart) {
        anvil_debug_write(p, len);
        return;
    }
    const uint8_t *s = p;
    for (size_t i = 0; i < len; i++) {
        wait_thr_empty();
        outb(PORT(UART_DATA), s[i]);
    }
}

/* Sends `c` and stores `count` to *counter with the next instruction: one asm
 * statement, so no branch comes between them and a crash lands before both
 * or after both (the simulator kills a service only between basic blocks; an
 * interrupt on hardware could still fall between the two, repeating the byte). */
static void io_putc_counted(uint8_t c, uint32_t *counter, uint32_t count)
{
    __asm__ volatile("outb %b[c], %w[port]\n\t"
                     "movl %[count], %[counter]"
                     : [counter] "=m"(*counter)
                     : [c] "a"(c), [port] "Nd"(PORT(UART_DATA)), [count] "r"(count)
                     : "memory");
}

/* A write request's bytes after the first *written (those went out before a
 * crash), counting each in *written as it goes. Without COM1 the rest goes in
 * one debug_write, counted after it (a crash between repeats it). */
static void write_counted(const uint8_t *data, uint32_t len, uint32_t *written)
{
    uint32_t i = *written;
    if (!g_uart) {
        if (i < len)
            anvil_debug_write((const char *)data + i, len - i);
        RX_PUBLISH(*written, len);
        return;
    }
    for (; i < len; i++) {
        wait_thr_empty();
        io_putc_counted(data[i], written, i + 1);
    }
}

static void say(const char *s) { out_write(s, strlen(s)); }

/* Reads a byte from COM1 and keeps it in `pending`, tagged with the current
 * `stored` word, by the two instructions after the read: one asm statement,
 * so no branch comes between them (as io_putc_counted). */
static uint8_t rx_read(struct rx_ring *r)
{
    uint8_t c;
    __asm__ volatile("inb %w[port], %b[c]\n\t"
                     "movb %b[c], %[byte]\n\t"
                     "movq %[tag], %[pending]"
                     : [c] "=&a"(c), [byte] "=m"(r->pending_byte), [pending] "=m"(r->pending)
                     : [port] "Nd"(PORT(UART_DATA)), [tag] "r"(r->stored | RX_PENDING)
                     : "memory");
    return c;
}

/* Stores byte `c` received, or skips it (a '\n' after '\r'); either changes
 * the `stored` word, with one store after the byte. */
static void rx_store(struct rx_ring *r, uint8_t c)
{
    const uint32_t stored = (uint32_t)r->stored;
    if (c == '\n' && (r->stored & RX_CR_FLAG)) {
        RX_PUBLISH(r->stored, (uint64_t)stored);
        return;
    }
    r->bytes[stored % RX_CAP] = c == '\r' ? '\n' : c;
    RX_PUBLISH(r->stored, (uint64_t)(stored + 1) | (c == '\r' ? RX_CR_FLAG : 0));
}

/* Moves what the receive FIFO holds into the ring (as far as there is room).
 * Reading IIR first acknowledges the interrupt; reading RBR empty lowers the
 * line, so the next byte raises it again. */
static void drain(void)
{
    if (!g_uart)
        return;
    (void)inb(PORT(UART_IIR));
    struct rx_ring *r = &g_io->rx;
    while (rx_held(r) < RX_CAP && (inb(PORT(UART_LSR)) & UART_LSR_DATA_READY))
        rx_store(r, rx_read(r));
}

/* If the ring holds a line of at most `limit` bytes, or more than `limit`
 * bytes without a line end, copies it (or its first `limit` bytes) to `out`,
 * sets *next to the ring's `taken` after it and returns its length; else
 * returns -1. Takes nothing: the caller counts the line (commit_line). */
static int take_line(uint32_t limit, uint8_t *out, uint32_t *next)
{
    const struct rx_ring *r = &g_io->rx;
    const uint32_t first = r->taken, held = rx_held(r);
    const uint32_t scan = held < limit + 1 ? held : limit + 1;
    uint32_t n = 0, consumed;
    while (n < scan && rx_at(r, first + n) != '\n')
        n++;
    if (n < scan)
        consumed = n + 1;
    else if (held > limit)
        n = consumed = limit; /* a longer line: this piece now, the rest later */
    else
        return -1;
    for (uint32_t i = 0; i < n; i++)
        out[i] = rx_at(r, first + i);
    *next = first + consumed;
    return (int)n;
}

/* Hands out the line `take_line` found (`n` bytes at `line`): keeps it in the
 * record of client `c` (if the request has one) as that request's reply, then
 * counts it taken. The record's phase is the one store that decides. */
static void commit_line(struct io_client *c, const uint8_t *line, uint32_t n, uint32_t next)
{
    if (c) {
        memcpy(c->line, line, n);
        c->len = n;
        c->status = ANVIL_OK;
        c->taken_to = next;
        RX_PUBLISH(c->state, IO_STATE((uint32_t)c->state, IO_LINE_TAKEN));
    }
    RX_PUBLISH(g_io->rx.taken, next);
}

/* True if `io` is a state this server set up, in a state it can have left. */
static int io_sound(const struct io_state *io)
{
    const struct rx_ring *r = &io->rx;
    if (r->magic != IO_MAGIC || r->version != IO_VERSION || r->capacity != RX_CAP || (r->stored >> 32) > 1 ||
        rx_held(r) > RX_CAP)
        return 0;
    for (uint32_t i = 0; i < IO_CLIENTS; i++) {
        const struct io_client *c = &io->clients[i];
        if (IO_PHASE(c->state) > IO_LINE_TAKEN || c->written > ANVIL_MSG_MAX_BYTES || c->len > ANVIL_IO_LINE_MAX ||
            c->status > 0)
            return 0;
    }
    return 1;
}

/* A line kept in a record but not yet counted taken (the server died between
 * the two) is counted now; the others are behind `taken` already. */
static void io_finish_taking(struct io_state *io)
{
    struct rx_ring *r = &io->rx;
    for (uint32_t i = 0; i < IO_CLIENTS; i++) {
        const struct io_client *c = &io->clients[i];
        if (IO_PHASE(c->state) == IO_LINE_TAKEN && (int32_t)(c->taken_to - r->taken) > 0 &&
            (int32_t)((uint32_t)r->stored - c->taken_to) >= 0)
            RX_PUBLISH(r->taken, c->taken_to);
    }
}

/* Tells of each write the previous instance died in after output began. */
static void say_cut_writes(const struct io_state *io)
{
    for (uint32_t i = 0; i < IO_CLIENTS; i++) {
        const struct io_client *c = &io->clients[i];
        if (IO_PHASE(c->state) != IO_STARTED || c->written == 0)
            continue;
        char note[112];
        snprintf(note, sizeof note, "ioserver: client %u's request %#x stopped after %u byte(s); goes on when sent again\n",
                 i + 1, (uint32_t)c->state, c->written);
        say(note);
    }
}

/* Empties `io` (ring and records) and marks it as set up, the magic word last. */
static void io_reset(struct io_state *io)
{
    RX_PUBLISH(io->rx.magic, 0u);
    memset(io->clients, 0, sizeof io->clients);
    io->rx.version = IO_VERSION;
    io->rx.capacity = RX_CAP;
    io->rx.stored = 0;
    io->rx.taken = 0;
    io->rx.pending = 0;
    RX_PUBLISH(io->rx.magic, IO_MAGIC);
}

/* Maps the state VMO init lends (slot ANVIL_CAP_IO_STATE) and takes the state
 * there: the one a previous instance left if it is sound, else a fresh one.
 * Without that cap the state stays local. Returns a note for the console, or
 * null when there is nothing to say (a first start, or no cap). */
static const char *io_attach(char *note, size_t size)
{
    anvil_cap_info_t info;
    if (anvil_cap_info(SELF, ANVIL_CAP_IO_STATE, &info) != ANVIL_OK) {
        io_reset(&g_local_io);
        return NULL;
    }
    anvil_status_t s = info.type == ANVIL_OBJ_VMO ? ANVIL_OK : ANVIL_ERR_WRONG_TYPE;
    if (s == ANVIL_OK)
        s = anvil_vma_map(ANVIL_CAP_SELF_VSPACE, IO_STATE_VA, ANVIL_CAP_IO_STATE, 0, ANVIL_IO_STATE_BYTES,
                          ANVIL_PERM_R | ANVIL_PERM_W);
    if (s != ANVIL_OK) {
        io_reset(&g_local_io);
        snprintf(note, size, "ioserver: slot %u holds no state VMO to map (%s); state kept locally\n",
                 ANVIL_CAP_IO_STATE, anvil_status_str(s));
        return note;
    }
    struct io_state *io = (struct io_state *)(uintptr_t)IO_STATE_VA;
    g_io = io;
    if (io_sound(io)) {
        /* A byte read but not yet stored when the last instance died. */
        if (io->rx.pending == (io->rx.stored | RX_PENDING))
            rx_store(&io->rx, io->rx.pending_byte);
        io_finish_taking(io);
        say_cut_writes(io);
        const uint32_t held = rx_held(&io->rx);
        if (!held)
            return NULL;
        snprintf(note, size, "ioserver: %u byte(s) of input kept from before\n", held);
        return note;
    }
    /* init made it zeroes: a first start. Anything else is not ours. */
    const int fresh = io->rx.magic == 0;
    io_reset(io);
    if (fresh)
        return NULL;
    snprintf(note, size, "ioserver: the state VMO holds nothing of this server's; starting it empty\n");
    return note;
}

static void wait_input(void)
{
    uint64_t bits = 0;
    if (g_irq_n) {
        const anvil_status_t s = anvil_notify_wait_timeout(g_irq_n, INPUT_POLL_TICKS, &bits);
        if (s == ANVIL_OK || s == ANVIL_ERR_TIMED_OUT)
            return; /* the caller drains again either way */
    }
    g_irq_n = 0;
    anvil_thread_yield();
}

/* ANVIL_IO_READ_LINE: data may hold a uint32_t limit (1..ANVIL_IO_LINE_MAX).
 * The line goes to `reply` and, through commit_line, to the record `c`. */
static anvil_status_t read_line(const anvil_msg_t *req, anvil_msg_t *reply, struct io_client *c)
{
    if (!g_uart)
        return ANVIL_ERR_NOT_SUPPORTED;
    uint32_t limit = 0;
    if (req->len >= sizeof limit)
        memcpy(&limit, req->data, sizeof limit);
    if (limit == 0 || limit > ANVIL_IO_LINE_MAX)
        limit = ANVIL_IO_LINE_MAX;
    for (;;) {
        drain();
        uint32_t next;
        const int n = take_line(limit, reply->data, &next);
        if (n >= 0) {
            commit_line(c, reply->data, (uint32_t)n, next);
            reply->len = (uint32_t)n;
            return ANVIL_OK;
        }
        wait_input();
    }
}

/* The record of the client with `badge` for request number `seq`, or null: an
 * unnumbered request (0), or a badge init gives no service. */
static struct io_client *client_of(uint64_t badge, uint32_t seq)
{
    if (seq == 0 || badge == 0 || badge > IO_CLIENTS)
        return NULL;
    return &g_io->clients[badge - 1];
}

static void handle(const anvil_msg_t *req, uint64_t badge, anvil_msg_t *reply)
{
    const uint32_t op = (uint32_t)(req->label & ANVIL_IO_OP_MASK);
    const uint32_t seq = (uint32_t)(req->label >> ANVIL_IO_SEQ_SHIFT);
    struct io_client *c = client_of(badge, seq);
    reply->len = 0;
    reply->ncaps = 0;
    if (c && (uint32_t)c->state == seq && IO_PHASE(c->state) >= IO_DONE) {
        /* Served before a crash that kept the reply from the caller. */
        char note[96];
        snprintf(note, sizeof note, "ioserver: client %u's %s %#x was served before; same reply again\n",
                 (unsigned)badge, IO_PHASE(c->state) == IO_LINE_TAKEN ? "read" : "request", seq);
        say(note);
        memcpy(reply->data, c->line, c->len);
        reply->len = c->len;
        reply->label = (uint64_t)(int64_t)c->status;
        return;
    }
    if (c && c->state != IO_STATE(seq, IO_STARTED)) {
        c->written = 0;
        RX_PUBLISH(c->state, IO_STATE(seq, IO_STARTED));
    }
    uint32_t unnumbered = 0;
    anvil_status_t s;
    switch (op) {
    case ANVIL_IO_WRITE:
        write_counted(req->data, req->len, c ? &c->written : &unnumbered);
        s = ANVIL_OK;
        break;
    case ANVIL_IO_READ_LINE:
        s = read_line(req, reply, c);
        break;
    default:
        s = ANVIL_ERR_NOT_SUPPORTED;
        break;
    }
    /* A read's line is kept already (IO_LINE_TAKEN); anything else now. */
    if (c && IO_PHASE(c->state) == IO_STARTED) {
        c->status = s;
        c->len = 0;
        RX_PUBLISH(c->state, IO_STATE(seq, IO_DONE));
    }
    reply->label = (uint64_t)(int64_t)s;
}

/* Brings COM1 up for interrupt-driven input. The kernel's console has set
 * 115200 8N1 already on x86-64; then the divisor is left alone, because
 * setting DLAB would turn the kernel's concurrent console writes into divisor
 * writes. */
static void uart_init(void)
{
    outb(PORT(UART_IER), 0);
    if (inb(PORT(UART_LCR)) != UART_LCR_8N1) {
        outb(PORT(UART_LCR), UART_LCR_DLAB);
        outb(PORT(UART_DATA), UART_DIVISOR_115200 & 0xff);
        outb(PORT(UART_IER), UART_DIVISOR_115200 >> 8);
        outb(PORT(UART_LCR), UART_LCR_8N1);
    }
    /* Interrupt at every byte rather than at the kernel's 14-byte trigger. */
    outb(PORT(UART_FCR), UART_FCR_ENABLE);
    outb(PORT(UART_MCR), UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
}

/* Routes COM1's IRQ to a new notification; 0 (poll) if that fails. */
static const char *irq_init(void)
{
    anvil_cap_t n;
    if (anvil_notification_create(&n) != ANVIL_OK)
        return "no notification; polling";
    if (anvil_irq_bind(ANVIL_CAP_COM1_IRQ, n, RX_IRQ_BIT) != ANVIL_OK) {
        anvil_cap_delete(SELF, n);
        return "IRQ not bound; polling";
    }
    g_irq_n = n;
    return "IRQ 4";
}

static void register_io(void)
{
    anvil_cap_info_t info;
    anvil_status_t s = anvil_cap_info(SELF, ANVIL_CAP_IOSERVER_PUBLISH, &info);
    if (s == ANVIL_OK && info.type != ANVIL_OBJ_ENDPOINT)
        s = ANVIL_ERR_WRONG_TYPE;
    if (s == ANVIL_OK)
        s = anvil_ns_register("io", ANVIL_CAP_IOSERVER_PUBLISH);
    if (s != ANVIL_OK) {
        char line[96];
        snprintf(line, sizeof line, "ioserver: not registered as \"io\": %s\n", anvil_status_str(s));
        say(line);
    }
}

int main(uint64_t start_arg)
{
    (void)start_arg;
    char line[96];
    anvil_status_t s = anvil_ioport_enable(ANVIL_CAP_COM1_IOPORT);
    if (s == ANVIL_OK) {
        g_uart = 1;
        uart_init();
        const char *how = irq_init();
        outb(PORT(UART_IER), UART_IER_RX_AVAILABLE);
        snprintf(line, sizeof line, "ioserver: COM1 ready (%s)\n", how);
    } else {
        snprintf(line, sizeof line, "ioserver: no COM1 (%s); output through debug_write, no input\n",
                 anvil_status_str(s));
    }
    say(line);
    /* After the ready line: the note, if any, is about kept state. */
    const char *note = io_attach(line, sizeof line);
    if (note)
        say(note);

    anvil_cap_info_t info;
    s = anvil_cap_info(SELF, IO_EP, &info);
    if (s != ANVIL_OK || info.type != ANVIL_OBJ_ENDPOINT || !(info.rights & ANVIL_RIGHT_READ)) {
        snprintf(line, sizeof line, "ioserver: slot %u holds no endpoint to serve (%s)\n", IO_EP,
                 s == ANVIL_OK ? "wrong cap" : anvil_status_str(s));
        say(line);
        return 1;
    }
    register_io();

    uint64_t badge = 0;
    g_req.ncaps = 0; /* requests carry no caps */
    s = anvil_ipc_recv(IO_EP, &g_req, &badge);
    for (;;) {
        if (s != ANVIL_OK) {
            snprintf(line, sizeof line, "ioserver: receive failed: %s\n", anvil_status_str(s));
            say(line);
            return 1;
        }
        handle(&g_req, badge, &g_reply);
        /* Keep the FIFO from overflowing while nobody reads. */
        drain();
        g_req.ncaps = 0;
        s = anvil_ipc_reply_recv(IO_EP, &g_reply, &g_req, &badge);
    }
}
