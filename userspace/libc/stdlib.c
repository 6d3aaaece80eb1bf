/* stdlib.h: string to integer conversions, atoi, exit/atexit/abort, errno. */
#include "libc_impl.h"
#ifndef ANVIL_LIBC_HOST
#include <anvil/anvil.h>
#endif

int LIBC(errno);

/* Parses an unsigned magnitude as strtoull does; *neg tells whether a '-' came
 * first and *overflow whether the magnitude exceeded `limit` (it is then clamped
 * to limit + 1 conceptually: the caller picks the clamp value). */
static unsigned long long parse(const char *s, char **end, int base, unsigned long long limit,
                                int *neg, int *overflow)
{
    const char *p = s;
    *neg = 0;
    *overflow = 0;
    if (end)
        *end = (char *)s;
    if (base < 0 || base == 1 || base > 36) {
        LIBC(errno) = LIBC_EINVAL;
        return 0;
    }
    while (LIBC(isspace)((unsigned char)*p))
        p++;
    if (*p == '+' || *p == '-')
        *neg = *p++ == '-';
    if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
        LIBC(isxdigit)((unsigned char)p[2])) {
        p += 2;
        base = 16;
    } else if (base == 0) {
        base = p[0] == '0' ? 8 : 10;
    }
    unsigned long long v = 0;
    int any = 0;
    for (;; p++) {
        int c = (unsigned char)*p, d;
        if (LIBC(isdigit)(c))
            d = c - '0';
        else if (LIBC(isalpha)(c))
            d = LIBC(tolower)(c) - 'a' + 10;
        else
            break;
        if (d >= base)
            break;
        any = 1;
        if (v > (limit - (unsigned)d) / (unsigned)base)
            *overflow = 1;
        else
            v = v * (unsigned)base + (unsigned)d;
    }
    if (!any)
        return 0;
    if (end)
        *end = (char *)p;
    return v;
}

static long long to_signed(const char *s, char **end, int base, long long min, long long max)
{
    int neg, overflow;
    /* Magnitudes up to |min| are representable when negative. */
    unsigned long long v = parse(s, end, base, (unsigned long long)max + 1, &neg, &overflow);
    if (overflow || (!neg && v > (unsigned long long)max)) {
        LIBC(errno) = LIBC_ERANGE;
        return neg ? min : max;
    }
    return neg ? (long long)(0 - v) : (long long)v;
}

static unsigned long long to_unsigned(const char *s, char **end, int base, unsigned long long max)
{
    int neg, overflow;
    unsigned long long v = parse(s, end, base, max, &neg, &overflow);
    if (overflow) {
        LIBC(errno) = LIBC_ERANGE;
        return max;
    }
    return neg ? (0 - v) & max : v;
}

long LIBC(strtol)(const char *s, char **end, int base)
{
    return (long)to_signed(s, end, base, -__LONG_MAX__ - 1, __LONG_MAX__);
}

long long LIBC(strtoll)(const char *s, char **end, int base)
{
    return to_signed(s, end, base, -__LONG_LONG_MAX__ - 1, __LONG_LONG_MAX__);
}

unsigned long LIBC(strtoul)(const char *s, char **end, int base)
{
    return (unsigned long)to_unsigned(s, end, base, __LONG_MAX__ * 2ul + 1);
}

unsigned long long LIBC(strtoull)(const char *s, char **end, int base)
{
    return to_unsigned(s, end, base, __LONG_LONG_MAX__ * 2ull + 1);
}

int LIBC(atoi)(const char *s)
{
    return (int)LIBC(strtol)(s, NULL, 10);
}

long LIBC(atol)(const char *s)
{
    return LIBC(strtol)(s, NULL, 10);
}

/* ---- exit ---- */

#define ATEXIT_MAX 32
static void (*atexit_fns[ATEXIT_MAX])(void);
static int atexit_count;

#ifdef ANVIL_LIBC_HOST
static void default_exit(int code)
{
    (void)code;
    __builtin_trap();
}
#else
static void default_exit(int code)
{
    anvil_thread_exit(code);
}
#endif

static anvil_exit_hook_t exit_hook = default_exit;

void anvil_libc_set_exit_hook(anvil_exit_hook_t hook)
{
    exit_hook = hook ? hook : default_exit;
}

__attribute__((noreturn)) static void terminate(int code)
{
    exit_hook(code);
    for (;;)
        __builtin_trap();
}

int LIBC(atexit)(void (*fn)(void))
{
    if (atexit_count == ATEXIT_MAX)
        return -1;
    atexit_fns[atexit_count++] = fn;
    return 0;
}

/* Runs the atexit handlers, last registered first (each once, even if one of
 * them calls exit again), then ends the thread with `code`. */
void LIBC(exit)(int code)
{
    while (atexit_count > 0)
        atexit_fns[--atexit_count]();
    terminate(code);
}

void LIBC(abort)(void)
{
    static const char msg[] = "abort() called\n";
    LIBC(printf)("%s", msg);
    terminate(134);
}
