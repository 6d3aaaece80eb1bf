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
 * on it, then drains the receive FIFO again. Bytes after a line's end stay
 * buffered for the next read. One request at a time.
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
/* Input kept between reads: several lines' worth. */
#define RX_CAP (4u * ANVIL_IO_LINE_MAX)
/* The notification bit the IRQ sets. */
#define RX_IRQ_BIT 0u

static int g_uart;          /* COM1's ports are ours */
static anvil_cap_t g_irq_n; /* notification the IRQ signals; 0: poll by yielding */

/* Received bytes not yet handed out; '\r' and "\r\n" are stored as '\n'. */
static uint8_t g_rx[RX_CAP];
static uint32_t g_rx_len;
static int g_last_cr;

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

/* Moves what the receive FIFO holds into g_rx (as far as there is room). Reading
 * IIR first acknowledges the interrupt; reading RBR empty lowers the line, so
 * the next byte raises it again. */
static void drain(void)
{
    if (!g_uart)
        return;
    (void)inb(PORT(UART_IIR));
    while (g_rx_len < RX_CAP && (inb(PORT(UART_LSR)) & UART_LSR_DATA_READY)) {
        uint8_t c = inb(PORT(UART_DATA));
        if (c == '\n' && g_last_cr) {
            g_last_cr = 0;
            continue;
        }
        g_last_cr = c == '\r';
        g_rx[g_rx_len++] = g_last_cr ? '\n' : c;
    }
}

/* If g_rx holds a line of at most `limit` bytes, or more than `limit` bytes
 * without a line end, moves it (or its first `limit` bytes) to `out` and
 * returns its length; else returns -1 and leaves g_rx alone. */
static int take_line(uint32_t limit, uint8_t *out)
{
    const uint32_t scan = g_rx_len < limit + 1 ? g_rx_len : limit + 1;
    uint32_t n = 0, consumed = 0;
    const uint8_t *nl = memchr(g_rx, '\n', scan);
    if (nl) {
        n = (uint32_t)(nl - g_rx);
        consumed = n + 1;
    } else if (g_rx_len > limit) {
        n = consumed = limit; /* a longer line: this piece now, the rest later */
    } else {
        return -1;
    }
    memcpy(out, g_rx, n);
    g_rx_len -= consumed;
    memmove(g_rx, g_rx + consumed, g_rx_len);
    return (int)n;
}

static void wait_input(void)
{
    uint64_t bits = 0;
    if (g_irq_n && anvil_notify_wait(g_irq_n, &bits) == ANVIL_OK)
        return;
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
    } else {
        snprintf(line, sizeof line, "ioserver: no COM1 (%s); output through debug_write, no input\n",
                 anvil_status_str(s));
    }
    say(line);

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
