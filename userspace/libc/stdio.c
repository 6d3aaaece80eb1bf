/* stdio.h: printf and friends.
 * Conversions: d i u o x X p s c f F e E g G %; flags - 0 + space #; width and
 * precision (numbers or *); length modifiers hh h l ll z j t. Doubles are
 * printed from their exact decimal expansion (float.c), rounded half to even.
 * printf/puts/putchar write to one output sink (anvil_stdio_set_sink), which is
 * anvil_debug_write until the IO server takes over. */
#include "libc_impl.h"
#ifndef ANVIL_LIBC_HOST
#include <anvil/anvil.h>
#endif

#ifdef ANVIL_LIBC_HOST
static void default_sink(const char *s, size_t len)
{
    (void)s;
    (void)len;
}
#else
static void default_sink(const char *s, size_t len)
{
    anvil_debug_write(s, len);
}
#endif

static anvil_stdio_sink_t sink = default_sink;

void anvil_stdio_set_sink(anvil_stdio_sink_t s)
{
    sink = s ? s : default_sink;
}

/* ---- the formatter ---- */

struct out {
    char *buf;    /* snprintf: destination; printf: staging buffer */
    size_t cap;   /* bytes of buf usable for characters (terminator excluded) */
    size_t pos;   /* characters written into buf */
    size_t total; /* characters produced */
    int flush;    /* printf: flush buf to the sink when full */
};

static void put(struct out *o, char c)
{
    if (o->pos == o->cap && o->flush) {
        sink(o->buf, o->pos);
        o->pos = 0;
    }
    if (o->pos < o->cap)
        o->buf[o->pos++] = c;
    o->total++;
}

static void put_n(struct out *o, char c, size_t n)
{
    while (n--)
        put(o, c);
}

static void put_s(struct out *o, const char *s, size_t n)
{
    while (n--)
        put(o, *s++);
}

#define F_MINUS 1
#define F_ZERO 2
#define F_PLUS 4
#define F_SPACE 8
#define F_HASH 16

static void format_int(struct out *o, unsigned long long v, int neg, unsigned base, int upper,
                       int flags, int width, int prec, int is_ptr)
{
    char digits[24];
    const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t nd = 0;
    if (v != 0 || prec != 0) {
        do {
            digits[nd++] = set[v % base];
            v /= base;
        } while (v);
    }
    const char *prefix = "";
    if (neg)
        prefix = "-";
    else if (flags & F_PLUS)
        prefix = "+";
    else if (flags & F_SPACE)
        prefix = " ";
    else if ((flags & F_HASH) && base == 16 && (nd && !(nd == 1 && digits[0] == '0')))
        prefix = upper ? "0X" : "0x";
    else if (is_ptr)
        prefix = "0x";
    size_t zeros = prec > 0 && (size_t)prec > nd ? (size_t)prec - nd : 0;
    if ((flags & F_HASH) && base == 8 && zeros == 0 && (nd == 0 || digits[nd - 1] != '0'))
        zeros = 1;
    size_t plen = LIBC(strlen)(prefix);
    size_t len = plen + zeros + nd;
    size_t pad = width > 0 && (size_t)width > len ? (size_t)width - len : 0;
    if ((flags & F_ZERO) && !(flags & F_MINUS) && prec < 0) {
        zeros += pad;
        pad = 0;
    }
    if (!(flags & F_MINUS))
        put_n(o, ' ', pad);
    put_s(o, prefix, plen);
    put_n(o, '0', zeros);
    while (nd)
        put(o, digits[--nd]);
    if (flags & F_MINUS)
        put_n(o, ' ', pad);
}

/* Pads the text `body` (after its sign, `prefix`) to the width as the flags say. */
static void put_padded(struct out *o, const char *prefix, const char *body, size_t n, int flags, int width,
                       int zero_pad)
{
    const size_t plen = LIBC(strlen)(prefix);
    const size_t len = plen + n;
    size_t pad = width > 0 && (size_t)width > len ? (size_t)width - len : 0;
    if (!(flags & F_MINUS) && !zero_pad)
        put_n(o, ' ', pad);
    put_s(o, prefix, plen);
    if (!(flags & F_MINUS) && zero_pad)
        put_n(o, '0', pad);
    put_s(o, body, n);
    if (flags & F_MINUS)
        put_n(o, ' ', pad);
}

/* The digit of x at decimal place `place` (0: units, 1: tenths, -1: tens). */
static char digit_at(const struct libc_decimal *x, int place)
{
    const int i = x->point - 1 + place;
    return i >= 0 && i < x->n ? x->d[i] : '0';
}

/* %f %F %e %E %g %G of v. */
static void format_double(struct out *o, double v, char conv, int flags, int width, int prec)
{
    uint64_t u;
    LIBC(memcpy)(&u, &v, sizeof u);
    const int upper = conv == 'F' || conv == 'E' || conv == 'G';
    const char *prefix = u >> 63 ? "-" : (flags & F_PLUS) ? "+" : (flags & F_SPACE) ? " " : "";
    if (((u >> 52) & 0x7ff) == 0x7ff) {
        const char *word = (u & ((1ull << 52) - 1)) ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf");
        put_padded(o, prefix, word, 3, flags, width, 0);
        return;
    }
    if (prec < 0)
        prec = 6;
    struct libc_decimal x; /* (with libc_decimal_of's own: about 2.1 KiB of stack) */
    libc_decimal_of(v, &x);
    char kind = conv | 0x20; /* f, e or g */
    int strip = 0;          /* %g without #: no trailing zeros */
    if (kind == 'g') {
        const int p = prec == 0 ? 1 : prec;
        struct libc_decimal r = x;
        libc_decimal_round(&r, p);
        const int exp = r.n ? r.point - 1 : 0;
        if (exp < p && exp >= -4) {
            kind = 'f';
            prec = p - 1 - exp;
        } else {
            kind = 'e';
            prec = p - 1;
        }
        strip = !(flags & F_HASH);
    }
    int exp = 0;
    if (kind == 'e') {
        libc_decimal_round(&x, prec + 1);
        exp = x.n ? x.point - 1 : 0;
        x.point = x.n ? 1 : 0; /* d.ddd: the digits from the first, at units */
    } else {
        libc_decimal_round(&x, x.point + prec);
    }
    /* Integer digits, point, fraction, exponent: measured, then written. */
    const int int_digits = kind == 'e' || x.point <= 0 || x.n == 0 ? 1 : x.point;
    int frac = prec;
    if (strip)
        while (frac > 0 && digit_at(&x, frac) == '0')
            frac--;
    const int point = frac > 0 || (flags & F_HASH);
    const unsigned a = (unsigned)(exp < 0 ? -exp : exp);
    const size_t exp_len = kind == 'e' ? (a >= 100 ? 5 : 4) : 0;
    const size_t plen = LIBC(strlen)(prefix);
    const size_t len = plen + (size_t)int_digits + (size_t)point + (size_t)frac + exp_len;
    const size_t pad = width > 0 && (size_t)width > len ? (size_t)width - len : 0;
    const int zero_pad = (flags & F_ZERO) && !(flags & F_MINUS);
    if (!(flags & F_MINUS) && !zero_pad)
        put_n(o, ' ', pad);
    put_s(o, prefix, plen);
    if (zero_pad)
        put_n(o, '0', pad);
    for (int i = int_digits - 1; i >= 0; i--)
        put(o, digit_at(&x, -i));
    if (point)
        put(o, '.');
    for (int i = 1; i <= frac; i++)
        put(o, digit_at(&x, i));
    if (kind == 'e') {
        put(o, upper ? 'E' : 'e');
        put(o, exp < 0 ? '-' : '+');
        if (a >= 100)
            put(o, (char)('0' + a / 100));
        put(o, (char)('0' + a / 10 % 10));
        put(o, (char)('0' + a % 10));
    }
    if (flags & F_MINUS)
        put_n(o, ' ', pad);
}

static void format(struct out *o, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(o, *fmt);
            continue;
        }
        const char *start = fmt++;
        int flags = 0;
        for (;; fmt++) {
            if (*fmt == '-') flags |= F_MINUS;
            else if (*fmt == '0') flags |= F_ZERO;
            else if (*fmt == '+') flags |= F_PLUS;
            else if (*fmt == ' ') flags |= F_SPACE;
            else if (*fmt == '#') flags |= F_HASH;
            else break;
        }
        int width = 0;
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                flags |= F_MINUS;
                width = width == -__INT_MAX__ - 1 ? __INT_MAX__ : -width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        int prec = -1;
        if (*fmt == '.') {
            fmt++;
            prec = 0;
            if (*fmt == '*') {
                prec = va_arg(ap, int);
                if (prec < 0)
                    prec = -1;
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    prec = prec * 10 + (*fmt++ - '0');
            }
        }
        int len = 0; /* -2 hh, -1 h, 0 int, 1 long, 2 long long, 3 size_t/ptrdiff/intmax */
        if (*fmt == 'h') {
            len = -1;
            if (*++fmt == 'h') {
                len = -2;
                fmt++;
            }
        } else if (*fmt == 'l') {
            len = 1;
            if (*++fmt == 'l') {
                len = 2;
                fmt++;
            }
        } else if (*fmt == 'z' || *fmt == 'j' || *fmt == 't') {
            len = 3;
            fmt++;
        }
        char c = *fmt;
        switch (c) {
        case 'd':
        case 'i': {
            long long v;
            if (len >= 1)
                v = len == 1 ? va_arg(ap, long) : va_arg(ap, long long);
            else
                v = va_arg(ap, int);
            if (len == -1)
                v = (short)v;
            else if (len == -2)
                v = (signed char)v;
            unsigned long long m = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
            format_int(o, m, v < 0, 10, 0, flags, width, prec, 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            unsigned long long v;
            if (len >= 1)
                v = len == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned long long);
            else
                v = va_arg(ap, unsigned int);
            if (len == -1)
                v = (unsigned short)v;
            else if (len == -2)
                v = (unsigned char)v;
            unsigned base = c == 'u' ? 10 : c == 'o' ? 8 : 16;
            format_int(o, v, 0, base, c == 'X', flags & ~(F_PLUS | F_SPACE), width, prec, 0);
            break;
        }
        case 'p': {
            uintptr_t v = (uintptr_t)va_arg(ap, void *);
            format_int(o, v, 0, 16, 0, flags & ~(F_PLUS | F_SPACE | F_HASH), width, prec, 1);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            size_t n = prec >= 0 ? LIBC(strnlen)(s, (size_t)prec) : LIBC(strlen)(s);
            size_t pad = width > 0 && (size_t)width > n ? (size_t)width - n : 0;
            if (!(flags & F_MINUS))
                put_n(o, ' ', pad);
            put_s(o, s, n);
            if (flags & F_MINUS)
                put_n(o, ' ', pad);
            break;
        }
        case 'c': {
            size_t pad = width > 1 ? (size_t)width - 1 : 0;
            if (!(flags & F_MINUS))
                put_n(o, ' ', pad);
            put(o, (char)va_arg(ap, int));
            if (flags & F_MINUS)
                put_n(o, ' ', pad);
            break;
        }
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
            format_double(o, va_arg(ap, double), c, flags, width, prec);
            break;
        case '%':
            put(o, '%');
            break;
        default:
            /* Unknown conversion: print it as written. */
            put_s(o, start, (size_t)(fmt - start) + (c ? 1 : 0));
            if (!c)
                fmt--; /* the loop's fmt++ then stops at the terminator */
            break;
        }
    }
}

int LIBC(vsnprintf)(char *buf, size_t n, const char *fmt, va_list ap)
{
    struct out o = {buf, n ? n - 1 : 0, 0, 0, 0};
    va_list ap2;
    va_copy(ap2, ap);
    format(&o, fmt, ap2);
    va_end(ap2);
    if (n)
        buf[o.pos] = '\0';
    return o.total > (size_t)__INT_MAX__ ? -1 : (int)o.total;
}

int LIBC(snprintf)(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = LIBC(vsnprintf)(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

int LIBC(vsprintf)(char *buf, const char *fmt, va_list ap)
{
    return LIBC(vsnprintf)(buf, (size_t)__INT_MAX__ + 1, fmt, ap);
}

int LIBC(sprintf)(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = LIBC(vsprintf)(buf, fmt, ap);
    va_end(ap);
    return r;
}

int LIBC(vprintf)(const char *fmt, va_list ap)
{
    char staging[256];
    struct out o = {staging, sizeof staging, 0, 0, 1};
    va_list ap2;
    va_copy(ap2, ap);
    format(&o, fmt, ap2);
    va_end(ap2);
    if (o.pos)
        sink(staging, o.pos);
    return o.total > (size_t)__INT_MAX__ ? -1 : (int)o.total;
}

int LIBC(printf)(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = LIBC(vprintf)(fmt, ap);
    va_end(ap);
    return r;
}

/* puts appends a newline, as the standard says. */
int LIBC(puts)(const char *s)
{
    return LIBC(printf)("%s\n", s);
}

int LIBC(putchar)(int c)
{
    char ch = (char)c;
    sink(&ch, 1);
    return (unsigned char)c;
}
