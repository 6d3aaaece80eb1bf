// COM1 16550 UART: the kernel console, polled, 115200 8N1.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace x86 {

// Programs COM1 (no interrupts, FIFO on).
void serial_init();
// Writes bytes as they are (no "\n" -> "\r\n" translation).
void serial_write(const char* s, size_t len);

// Minimal console formatting for the backend's own messages.
void print(const char* s);
void print_hex(uint64_t v, int digits = 16);  // fixed width (at most 16), no prefix
void print_dec(uint64_t v);

// True once the kernel has started recording (its first hal::trace_write).
bool recording();

}  // namespace x86
