// printf-style formatting for the kernel: %d %i %u %x %X %p %s %c %%, with
// l/ll/z length modifiers, field width, precision for %s, '-' and '0' flags.
#pragma once

#include <stdarg.h>
#include <stddef.h>

namespace kernel {

// Formats into buf (always NUL-terminated if cap > 0); returns the full length.
size_t vformat(char* buf, size_t cap, const char* fmt, va_list ap);
size_t format(char* buf, size_t cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

// Prints to the kernel console.
void kprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace kernel
