/* string.h: the memory and string functions (the compiler may also call
 * memcpy/memmove/memset/memcmp on its own for struct copies and zeroing). */
#include "libc_impl.h"

/* The copy and fill functions move eight bytes per store once the destination
 * is aligned. Every guest store costs the simulator far more than a load
 * (Unicorn 2.0.1 sends each one through its code-invalidation check, four
 * host allocations; docs/benchmarks.md, "Fewer guest stores"), and programs
 * spend most of their stores here: loading an ELF byte by byte made 80 % of
 * the test suite's stores. Aligned words never straddle a page, so an
 * ascending copy that faults still faults at the first byte of the page it
 * could not write, as a byte loop does. */
typedef uint64_t __attribute__((may_alias, aligned(1))) word_t;
typedef uint64_t __attribute__((may_alias)) aligned_word_t;

void *LIBC(memcpy)(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n && ((uintptr_t)d & 7)) {
        *d++ = *s++;
        n--;
    }
#pragma GCC unroll 4
    for (; n >= 8; n -= 8, d += 8, s += 8)
        *(aligned_word_t *)d = *(const word_t *)s;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *LIBC(memmove)(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    /* A forward copy is safe unless the destination starts inside the source:
     * each word is read before any later store can reach it. */
    if ((uintptr_t)d - (uintptr_t)s >= n)
        return LIBC(memcpy)(dst, src, n);
    d += n;
    s += n;
    while (n && ((uintptr_t)d & 7)) {
        *--d = *--s;
        n--;
    }
    for (; n >= 8; n -= 8) {
        d -= 8;
        s -= 8;
        *(aligned_word_t *)d = *(const word_t *)s;
    }
    while (n--)
        *--d = *--s;
    return dst;
}

void *LIBC(memset)(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    uint64_t word = (unsigned char)c * 0x0101010101010101ull;
    while (n && ((uintptr_t)d & 7)) {
        *d++ = (unsigned char)c;
        n--;
    }
#pragma GCC unroll 4
    for (; n >= 8; n -= 8, d += 8)
        *(aligned_word_t *)d = word;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

int LIBC(memcmp)(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

void *LIBC(memchr)(const void *s, int c, size_t n)
{
    const unsigned char *p = s;
    for (; n; n--, p++)
        if (*p == (unsigned char)c)
            return (void *)p;
    return NULL;
}

size_t LIBC(strlen)(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

size_t LIBC(strnlen)(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

int LIBC(strcmp)(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    while (*x && *x == *y)
        x++, y++;
    return *x - *y;
}

int LIBC(strncmp)(const char *a, const char *b, size_t n)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    for (; n; n--, x++, y++) {
        if (*x != *y)
            return *x - *y;
        if (!*x)
            return 0;
    }
    return 0;
}

char *LIBC(strcpy)(char *dst, const char *src)
{
    char *d = dst;
    while ((*d++ = *src++))
        ;
    return dst;
}

/* Copies at most n bytes and pads with NULs up to n (no terminator if src is
 * n bytes or longer), as the standard says. */
char *LIBC(strncpy)(char *dst, const char *src, size_t n)
{
    size_t i = 0;
    for (; i < n && src[i]; i++)
        dst[i] = src[i];
    for (; i < n; i++)
        dst[i] = '\0';
    return dst;
}

char *LIBC(strcat)(char *dst, const char *src)
{
    LIBC(strcpy)(dst + LIBC(strlen)(dst), src);
    return dst;
}

char *LIBC(strncat)(char *dst, const char *src, size_t n)
{
    char *d = dst + LIBC(strlen)(dst);
    while (n-- && *src)
        *d++ = *src++;
    *d = '\0';
    return dst;
}

char *LIBC(strchr)(const char *s, int c)
{
    for (;; s++) {
        if (*s == (char)c)
            return (char *)s;
        if (!*s)
            return NULL;
    }
}

char *LIBC(strrchr)(const char *s, int c)
{
    const char *last = NULL;
    for (;; s++) {
        if (*s == (char)c)
            last = s;
        if (!*s)
            return (char *)last;
    }
}

char *LIBC(strstr)(const char *hay, const char *needle)
{
    size_t n = LIBC(strlen)(needle);
    if (!n)
        return (char *)hay;
    for (; *hay; hay++)
        if (*hay == *needle && !LIBC(strncmp)(hay, needle, n))
            return (char *)hay;
    return NULL;
}

char *LIBC(strdup)(const char *s)
{
    size_t n = LIBC(strlen)(s) + 1;
    char *d = LIBC(malloc)(n);
    if (d)
        LIBC(memcpy)(d, s, n);
    return d;
}

char *LIBC(strndup)(const char *s, size_t n)
{
    size_t len = LIBC(strnlen)(s, n);
    char *d = LIBC(malloc)(len + 1);
    if (d) {
        LIBC(memcpy)(d, s, len);
        d[len] = '\0';
    }
    return d;
}
