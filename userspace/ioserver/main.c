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
 * The buffered input outlives the server: init lends every instance the same
 * VMO (slot ANVIL_CAP_IO_INPUT, READ|WRITE), and the receive ring lives there
 * (struct rx_ring below), so bytes drained from COM1 but not yet handed out
 * are there for the instance init starts after a crash. Without that cap (a
 * manifest that gives none) the ring is in this process's memory.
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
 *   - `stored`: a byte is read from COM1, written to `bytes`, then counted. A
 *     crash in between loses that one byte (reading it took it from the UART)
 *     and never leaves a half-stored one. Its bit 32 is the CR flag (the last
 *     byte received was '\r', so a '\n' right after it ends no second line):
 *     one word, so the count and the flag change together.
 *   - `taken`: a line is copied into the reply, then counted as taken, then the
 *     reply goes. So a line is handed out at most once: a crash between the
 *     last two loses it, and the reader's call then returns PEER_CLOSED (it
 *     knows that read failed). At-least-once would instead repeat a line after
 *     a crash between the reply and the count, unseen by the reader; input run
 *     twice (a command) is worse than input reported lost.
 * The counters run freely (mod 2^32, which RX_CAP divides); [taken, stored)
 * is the input held. The magic word and the shape are written last when the
 * ring is set up, so a crash during that leaves a ring the next instance sets
 * up again, and a VMO holding anything else is not trusted. */
#define RX_MAGIC 0x58524f49u /* "IORX" */
#define RX_VERSION 1u
#define RX_CAP (4u * ANVIL_IO_LINE_MAX) /* several lines' worth */
#define RX_CR_FLAG (1ull << 32)
struct rx_ring {
    uint32_t magic;
    uint32_t version;
    uint32_t capacity; /* RX_CAP */
    uint32_t unused;
    uint64_t stored;   /* bytes ever stored (low 32 bits) | RX_CR_FLAG */
    uint32_t taken;    /* bytes ever handed out */
    uint32_t unused2;
    uint8_t bytes[RX_CAP];
};
_Static_assert(sizeof(struct rx_ring) <= ANVIL_IO_INPUT_BYTES, "the ring fits init's VMO");
_Static_assert((RX_CAP & (RX_CAP - 1)) == 0, "the counters wrap at a multiple of RX_CAP");

/* Where the VMO from init is mapped. */
#define RX_VA 0x0000500000000000ull

static struct rx_ring g_local_rx; /* the ring without init's VMO */
static struct rx_ring *g_rx = &g_local_rx;

/* Writes a ring field with one store (never split), after every store before
 * it and before every store after it: the compiler barriers keep the order of
 * the source, which is the order a crash sees on this CPU. */
#define RX_PUBLISH(field, value)                               \
    do {                                                       \
        __asm__ volatile("" ::: "memory");                     \
        __atomic_store_n(&(field), (value), __ATOMIC_RELAXED); \
        __asm__ volatile("" ::: "memory");                     \
    } while (0)

static uint32_t rx_held(const struct rx_ring *r) { return (uint32_t)r->stored - r->taken; }
static uint8_t rx_at(const struct rx_ring *r, uint32_t i) { return r->bytes[i % RX_CAP]; }

static anvil_msg_t g_req, g_reply;

static void uart_putc(uint8_t c)
{
    for (uint32_t i = 0; i < THR_SPIN_LIMIT && !(inb(PORT(UART_LSR)) & UART_LSR_THR_EMPTY); i++)
        __asm__ volatile("pause");
    outb(PORT(UART_DATA), c);
}

/* Writes bytes unchanged (no "\n" -> "\r\n", as the kernel console). */
static void out_write(const void *p, size_t len)
{
    if (!g_uart) {
        anvil_debug_write(p, len);
        return;
    }
    const uint8_t *s = p;
    for (size_t i = 0; i < len; i++)
        uart_putc(s[i]);
}

static void say(const char *s) { out_write(s, strlen(s)); }

/* Moves what the receive FIFO holds into the ring (as far as there is room).
 * Reading IIR first acknowledges the interrupt; reading RBR empty lowers the
 * line, so the next byte raises it again. */
static void drain(void)
{
    if (!g_uart)
        return;
    (void)inb(PORT(UART_IIR));
    struct rx_ring *r = g_rx;
    while (rx_held(r) < RX_CAP && (inb(PORT(UART_LSR)) & UART_LSR_DATA_READY)) {
        const uint8_t c = inb(PORT(UART_DATA));
        const uint32_t stored = (uint32_t)r->stored;
        if (c == '\n' && (r->stored & RX_CR_FLAG)) {
            RX_PUBLISH(r->stored, (uint64_t)stored);
            continue;
        }
        r->bytes[stored % RX_CAP] = c == '\r' ? '\n' : c;
        RX_PUBLISH(r->stored, (uint64_t)(stored + 1) | (c == '\r' ? RX_CR_FLAG : 0));
    }
}

/* If the ring holds a line of at most `limit` bytes, or more than `limit`
 * bytes without a line end, copies it (or its first `limit` bytes) to `out`,
 * counts it taken and returns its length; else returns -1 and takes nothing. */
static int take_line(uint32_t limit, uint8_t *out)
{
    struct rx_ring *r = g_rx;
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
    RX_PUBLISH(r->taken, first + consumed);
    return (int)n;
}

/* True if `r` is a ring this server set up, in a state it can have left. */
static int rx_sound(const struct rx_ring *r)
{
    return r->magic == RX_MAGIC && r->version == RX_VERSION && r->capacity == RX_CAP &&
           (r->stored >> 32) <= 1 && rx_held(r) <= RX_CAP;
}

/* Empties `r` and marks it as set up, the magic word last. */
static void rx_reset(struct rx_ring *r)
{
    RX_PUBLISH(r->magic, 0u);
    r->version = RX_VERSION;
    r->capacity = RX_CAP;
    r->stored = 0;
    r->taken = 0;
    RX_PUBLISH(r->magic, RX_MAGIC);
}

/* Maps the input VMO init lends (slot ANVIL_CAP_IO_INPUT) and takes the ring
 * there: the one a previous instance left if it is sound, else a fresh one.
 * Without that cap the ring stays local. Returns a note for the console, or
 * null when there is nothing to say (a first start, or no cap). */
static const char *rx_attach(char *note, size_t size)
{
    anvil_cap_info_t info;
    if (anvil_cap_info(SELF, ANVIL_CAP_IO_INPUT, &info) != ANVIL_OK) {
        rx_reset(&g_local_rx);
        return NULL;
    }
    anvil_status_t s = info.type == ANVIL_OBJ_VMO ? ANVIL_OK : ANVIL_ERR_WRONG_TYPE;
    if (s == ANVIL_OK)
        s = anvil_vma_map(ANVIL_CAP_SELF_VSPACE, RX_VA, ANVIL_CAP_IO_INPUT, 0, ANVIL_IO_INPUT_BYTES,
                          ANVIL_PERM_R | ANVIL_PERM_W);
    if (s != ANVIL_OK) {
        rx_reset(&g_local_rx);
        snprintf(note, size, "ioserver: slot %u holds no input VMO to map (%s); input kept locally\n",
                 ANVIL_CAP_IO_INPUT, anvil_status_str(s));
        return note;
    }
    struct rx_ring *r = (struct rx_ring *)(uintptr_t)RX_VA;
    g_rx = r;
    if (rx_sound(r)) {
        const uint32_t held = rx_held(r);
        if (!held)
            return NULL;
        snprintf(note, size, "ioserver: %u byte(s) of input kept from before\n", held);
        return note;
    }
    /* init made it zeroes: a first start. Anything else is not ours. */
    const int fresh = r->magic == 0;
    rx_reset(r);
    if (fresh)
        return NULL;
    snprintf(note, size, "ioserver: the input VMO holds no ring of this server's; starting it empty\n");
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

/* ANVIL_IO_READ_LINE: data may hold a uint32_t limit (1..ANVIL_IO_LINE_MAX). */
static anvil_status_t read_line(const anvil_msg_t *req, anvil_msg_t *reply)
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
        const int n = take_line(limit, reply->data);
        if (n >= 0) {
            reply->len = (uint32_t)n;
            return ANVIL_OK;
        }
        wait_input();
    }
}

static void handle(const anvil_msg_t *req, anvil_msg_t *reply)
{
    anvil_status_t s;
    reply->len = 0;
    reply->ncaps = 0;
    switch (req->label) {
    case ANVIL_IO_WRITE:
        out_write(req->data, req->len);
        s = ANVIL_OK;
        break;
    case ANVIL_IO_READ_LINE:
        s = read_line(req, reply);
        break;
    default:
        s = ANVIL_ERR_NOT_SUPPORTED;
        break;
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
        say(line);
        /* After the ready line: the note, if any, is about input. */
        const char *note = rx_attach(line, sizeof line);
        if (note)
            say(note);
    } else {
        snprintf(line, sizeof line, "ioserver: no COM1 (%s); output through debug_write, no input\n",
                 anvil_status_str(s));
        say(line);
    }

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
        handle(&g_req, &g_reply);
        /* Keep the FIFO from overflowing while nobody reads. */
        drain();
        g_req.ncaps = 0;
        s = anvil_ipc_reply_recv(IO_EP, &g_reply, &g_req, &badge);
    }
}
