/* <stdio.h> of Anvil's bootstrap libc: formatted output only, no FILE streams
 * yet. Output goes to one sink, anvil_debug_write by default. No floating point. */
#ifndef _ANVIL_LIBC_STDIO_H
#define _ANVIL_LIBC_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int sprintf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vsprintf(char *buf, const char *fmt, va_list ap);
int snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int puts(const char *s);
int putchar(int c);

/* Anvil extension: redirects printf/puts/putchar output (NULL: anvil_debug_write). */
typedef void (*anvil_stdio_sink_t)(const char *s, size_t len);
void anvil_stdio_set_sink(anvil_stdio_sink_t sink);

#endif
