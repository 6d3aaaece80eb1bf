/* Internal header of Anvil's bootstrap libc, shared by every libc source file.
 *
 * Naming scheme: every public libc function is defined as LIBC(name).
 *  - Freestanding build (anvil_user_rt): LIBC(name) is just `name`, so the sources
 *    define the real memcpy, malloc, printf... with no alias or wrapper.
 *  - Host build (ANVIL_LIBC_HOST defined; the anvil_libc_host library used by the
 *    Catch2 tests): LIBC(name) is `anvil_libc_name`, so the same code links next to
 *    the host libc without clashing, and the tests compare the two.
 * The hooks (anvil_stdio_set_sink, anvil_heap_set_source, anvil_libc_set_exit_hook,
 * anvil_heap_get_stats) have the same names in both builds.
 *
 * This header includes only compiler-provided freestanding headers, so it is
 * usable from the host tests (C++) as the declaration of the prefixed functions. */
#ifndef ANVIL_LIBC_IMPL_H
#define ANVIL_LIBC_IMPL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef ANVIL_LIBC_HOST
#define LIBC(name) anvil_libc_##name
#else
#define LIBC(name) name
/* Type-check our definitions against the public headers. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* errno.h */
extern int LIBC(errno);
#define LIBC_ERANGE 34
#define LIBC_EINVAL 22
#define LIBC_ENOMEM 12

/* string.h */
void *LIBC(memcpy)(void *dst, const void *src, size_t n);
void *LIBC(memmove)(void *dst, const void *src, size_t n);
void *LIBC(memset)(void *dst, int c, size_t n);
int LIBC(memcmp)(const void *a, const void *b, size_t n);
void *LIBC(memchr)(const void *s, int c, size_t n);
size_t LIBC(strlen)(const char *s);
size_t LIBC(strnlen)(const char *s, size_t max);
int LIBC(strcmp)(const char *a, const char *b);
int LIBC(strncmp)(const char *a, const char *b, size_t n);
char *LIBC(strcpy)(char *dst, const char *src);
char *LIBC(strncpy)(char *dst, const char *src, size_t n);
char *LIBC(strcat)(char *dst, const char *src);
char *LIBC(strncat)(char *dst, const char *src, size_t n);
char *LIBC(strchr)(const char *s, int c);
char *LIBC(strrchr)(const char *s, int c);
char *LIBC(strstr)(const char *hay, const char *needle);
char *LIBC(strdup)(const char *s);
char *LIBC(strndup)(const char *s, size_t n);

/* ctype.h */
int LIBC(isspace)(int c);
int LIBC(isdigit)(int c);
int LIBC(isxdigit)(int c);
int LIBC(isalpha)(int c);
int LIBC(isalnum)(int c);
int LIBC(isupper)(int c);
int LIBC(islower)(int c);
int LIBC(isprint)(int c);
int LIBC(toupper)(int c);
int LIBC(tolower)(int c);

/* stdlib.h */
void *LIBC(malloc)(size_t n);
void LIBC(free)(void *p);
void *LIBC(calloc)(size_t count, size_t size);
void *LIBC(realloc)(void *p, size_t n);
long LIBC(strtol)(const char *s, char **end, int base);
unsigned long LIBC(strtoul)(const char *s, char **end, int base);
long long LIBC(strtoll)(const char *s, char **end, int base);
unsigned long long LIBC(strtoull)(const char *s, char **end, int base);
int LIBC(atoi)(const char *s);
double LIBC(strtod)(const char *s, char **end);
double LIBC(atof)(const char *s);

/* float.c: the exact decimal expansion of a finite double's magnitude, for
 * printf: value = 0.d[0]d[1]...d[n-1] * 10^point, without trailing zeros
 * (n == 0: zero). libc_decimal_round keeps `keep` significant digits (none
 * if keep <= 0, which may round up to one digit more), rounding half to even. */
#define LIBC_DECIMAL_DIGITS 770
struct libc_decimal {
    char d[LIBC_DECIMAL_DIGITS];
    int n;
    int point;
};
void libc_decimal_of(double v, struct libc_decimal *out);
void libc_decimal_round(struct libc_decimal *x, int keep);
long LIBC(atol)(const char *s);
__attribute__((noreturn)) void LIBC(abort)(void);
__attribute__((noreturn)) void LIBC(exit)(int code);
int LIBC(atexit)(void (*fn)(void));

/* stdio.h */
int LIBC(printf)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int LIBC(vprintf)(const char *fmt, va_list ap);
int LIBC(sprintf)(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int LIBC(vsprintf)(char *buf, const char *fmt, va_list ap);
int LIBC(snprintf)(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int LIBC(vsnprintf)(char *buf, size_t n, const char *fmt, va_list ap);
int LIBC(puts)(const char *s);
int LIBC(putchar)(int c);

/* assert.h */
__attribute__((noreturn)) void LIBC(__assert_fail)(const char *expr, const char *file,
                                                   unsigned int line, const char *func);

/* Hooks (same names in both builds; the freestanding build declares them in
 * the public <stdio.h> and <stdlib.h>). */
#ifdef ANVIL_LIBC_HOST
/* Where printf/puts/putchar output goes; NULL restores the default
 * (anvil_debug_write; on the host: discarded). */
typedef void (*anvil_stdio_sink_t)(const char *s, size_t len);
void anvil_stdio_set_sink(anvil_stdio_sink_t sink);
/* Where the heap gets memory: returns `len` (a multiple of 4096) zeroed bytes,
 * 16-byte aligned, or NULL. NULL restores the default (anvil_vma_alloc on the
 * process's own vspace; on the host: none). */
typedef void *(*anvil_heap_source_t)(size_t len);
void anvil_heap_set_source(anvil_heap_source_t source);
struct anvil_heap_stats {
    size_t bytes_from_source; /* total obtained from the page source */
    size_t bytes_free;        /* in free blocks, headers included */
    size_t free_blocks;
};
void anvil_heap_get_stats(struct anvil_heap_stats *out);
/* What exit/abort finally call; NULL restores the default (anvil_thread_exit;
 * on the host: a trap). The hook must not return. */
typedef void (*anvil_exit_hook_t)(int code);
void anvil_libc_set_exit_hook(anvil_exit_hook_t hook);
#endif

#ifdef __cplusplus
}
#endif

#endif /* ANVIL_LIBC_IMPL_H */
