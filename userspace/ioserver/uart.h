/* The 16550 UART as the IO server drives it: port I/O from user mode (after
 * anvil_ioport_enable) and the register layout. Only the registers the model
 * in the simulator also has are used: THR/RBR, IER, IIR/FCR, LCR, MCR, LSR
 * (plus the divisor latch behind DLAB). */
#ifndef ANVIL_IOSERVER_UART_H
#define ANVIL_IOSERVER_UART_H

#include <stdint.h>

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

/* Register offsets from the base port. */
#define UART_DATA 0 /* THR on write, RBR on read; DLL while LCR.DLAB */
#define UART_IER  1 /* interrupt enable; DLM while LCR.DLAB */
#define UART_IIR  2 /* interrupt identification on read */
#define UART_FCR  2 /* FIFO control on write */
#define UART_LCR  3 /* line control */
#define UART_MCR  4 /* modem control */
#define UART_LSR  5 /* line status */

#define UART_IER_RX_AVAILABLE 0x01 /* interrupt when received data is there */
#define UART_FCR_ENABLE       0x01 /* FIFOs on, receive trigger level 1 byte, nothing cleared */
#define UART_LCR_8N1          0x03
#define UART_LCR_DLAB         0x80
#define UART_MCR_DTR          0x01
#define UART_MCR_RTS          0x02
#define UART_MCR_OUT2         0x08 /* gates the interrupt line on PC hardware */
#define UART_LSR_DATA_READY   0x01
#define UART_LSR_THR_EMPTY    0x20

/* 115200 baud, the same as the kernel's console (hal/x86_64/serial.cpp). */
#define UART_DIVISOR_115200 1

#endif /* ANVIL_IOSERVER_UART_H */
