/* <stdlib.h> of Anvil's bootstrap libc. */
#ifndef _ANVIL_LIBC_STDLIB_H
#define _ANVIL_LIBC_STDLIB_H

#include <stddef.h>

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

/* Heap: 16-byte aligned blocks. realloc(p, 0) frees p and returns NULL. */
void *malloc(size_t n);
void free(void *p);
void *calloc(size_t count, size_t size);
void *realloc(void *p, size_t n);

/* Out-of-range values are clamped (LONG_MAX, LONG_MIN, ULONG_MAX...) and errno
 * is set to ERANGE. */
long strtol(const char *s, char **end, int base);
unsigned long strtoul(const char *s, char **end, int base);
long long strtoll(const char *s, char **end, int base);
unsigned long long strtoull(const char *s, char **end, int base);
int atoi(const char *s);
long atol(const char *s);
/* The nearest double (ties to even) to the decimal number, "inf", "infinity"
 * or "nan" at s (no hexadecimal floats); ERANGE when it overflows to HUGE_VAL
 * or underflows to 0. */
double strtod(const char *s, char **end);
double atof(const char *s);

/* abort: prints a message and ends the thread with status 134.
 * exit: runs the atexit handlers (up to 32) in reverse order, then ends the thread. */
__attribute__((noreturn)) void abort(void);
__attribute__((noreturn)) void exit(int code);
int atexit(void (*fn)(void));

/* Anvil extensions. The heap's page source: returns `len` (multiple of 4096)
 * zeroed, 16-byte aligned bytes or NULL; NULL restores anvil_vma_alloc. */
typedef void *(*anvil_heap_source_t)(size_t len);
void anvil_heap_set_source(anvil_heap_source_t source);
struct anvil_heap_stats {
    size_t bytes_from_source;
    size_t bytes_free;
    size_t free_blocks;
};
void anvil_heap_get_stats(struct anvil_heap_stats *out);
/* What exit/abort finally call instead of anvil_thread_exit (NULL: the default). */
typedef void (*anvil_exit_hook_t)(int code);
void anvil_libc_set_exit_hook(anvil_exit_hook_t hook);

#endif
