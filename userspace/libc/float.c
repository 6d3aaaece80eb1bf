/* Exact conversions between doubles and decimal, for printf's %f %e %g and for
 * strtod/atof. A double is m * 2^e with integer m < 2^53, so its decimal
 * expansion is finite: m * 2^e for e >= 0, or m * 5^-e shifted -e places for
 * e < 0, at most 767 significant digits. Both directions work on that exact
 * expansion with a small fixed-size bignum, so printf rounds correctly (half to
 * even, on the exact value) and strtod returns the nearest double (ties to
 * even): the same results as glibc's in the default rounding mode, which the
 * host tests check. */
#include "libc_impl.h"

/* ---- a fixed-size unsigned bignum (little-endian 32-bit limbs) ---- */

#define BIG_LIMBS 128 /* 4096 bits: strtod's largest is about 3,800 */

struct big {
    uint32_t w[BIG_LIMBS];
    int n; /* limbs in use; w[n - 1] != 0 unless n == 0 */
};

static void big_set(struct big *b, uint64_t v)
{
    b->n = 0;
    while (v) {
        b->w[b->n++] = (uint32_t)v;
        v >>= 32;
    }
}

static void big_mul_add(struct big *b, uint32_t mul, uint32_t add)
{
    uint64_t carry = add;
    for (int i = 0; i < b->n; i++) {
        uint64_t t = (uint64_t)b->w[i] * mul + carry;
        b->w[i] = (uint32_t)t;
        carry = t >> 32;
    }
    if (carry && b->n < BIG_LIMBS)
        b->w[b->n++] = (uint32_t)carry;
}

/* b /= d; returns the remainder. */
static uint32_t big_div(struct big *b, uint32_t d)
{
    uint64_t rem = 0;
    for (int i = b->n - 1; i >= 0; i--) {
        uint64_t cur = (rem << 32) | b->w[i];
        b->w[i] = (uint32_t)(cur / d);
        rem = cur % d;
    }
    while (b->n && b->w[b->n - 1] == 0)
        b->n--;
    return (uint32_t)rem;
}

static void big_shl(struct big *b, int s)
{
    const int limbs = s / 32, bits = s % 32;
    if (b->n == 0)
        return;
    int n = b->n + limbs + 1;
    if (n > BIG_LIMBS)
        n = BIG_LIMBS;
    for (int i = n - 1; i >= 0; i--) {
        const int from = i - limbs;
        uint64_t v = from >= 0 && from < b->n ? (uint64_t)b->w[from] << bits : 0;
        if (bits && from - 1 >= 0 && from - 1 < b->n)
            v |= b->w[from - 1] >> (32 - bits);
        b->w[i] = (uint32_t)v;
    }
    b->n = n;
    while (b->n && b->w[b->n - 1] == 0)
        b->n--;
}

static int big_bits(const struct big *b)
{
    if (b->n == 0)
        return 0;
    return 32 * (b->n - 1) + 32 - __builtin_clz(b->w[b->n - 1]);
}

/* b *= 10^k, or b /= 10^k (floor) noting in *inexact whether a remainder was lost. */
static void big_mul_pow10(struct big *b, int k)
{
    for (; k >= 9; k -= 9)
        big_mul_add(b, 1000000000u, 0);
    uint32_t p = 1;
    while (k--)
        p *= 10;
    big_mul_add(b, p, 0);
}

static void big_div_pow10(struct big *b, int k, int *inexact)
{
    for (; k >= 9; k -= 9)
        *inexact |= big_div(b, 1000000000u) != 0;
    uint32_t p = 1;
    while (k--)
        p *= 10;
    *inexact |= big_div(b, p) != 0;
}

/* ---- double -> exact decimal ---- */

static uint64_t bits_of(double v)
{
    uint64_t u;
    LIBC(memcpy)(&u, &v, sizeof u);
    return u;
}

static double double_of(uint64_t u)
{
    double v;
    LIBC(memcpy)(&v, &u, sizeof v);
    return v;
}

/* The digits of b (which it consumes), most significant first, without
 * trailing zeros, into out->d and out->n; returns how many digits b had. */
static int big_digits(struct big *b, struct libc_decimal *out)
{
    char rev[LIBC_DECIMAL_DIGITS + 9];
    int n = 0;
    while (b->n) {
        uint32_t chunk = big_div(b, 1000000000u);
        for (int i = 0; i < 9; i++) {
            rev[n++] = (char)('0' + chunk % 10);
            chunk /= 10;
        }
    }
    while (n && rev[n - 1] == '0') /* leading zeros of the top chunk */
        n--;
    int low = 0;
    while (low < n && rev[low] == '0')
        low++;
    out->n = n - low;
    for (int i = 0; i < out->n; i++)
        out->d[i] = rev[n - 1 - i];
    return n;
}

void libc_decimal_of(double v, struct libc_decimal *out)
{
    const uint64_t u = bits_of(v);
    const int biased = (int)((u >> 52) & 0x7ff);
    uint64_t m = u & ((1ull << 52) - 1);
    int e = -1074; /* zero or subnormal */
    if (biased != 0) {
        m |= 1ull << 52;
        e = biased - 1075;
    }
    out->n = 0;
    out->point = 0;
    if (m == 0)
        return;
    struct big b;
    big_set(&b, m);
    if (e >= 0) {
        big_shl(&b, e);
    } else {
        /* m * 2^e = m * 5^-e / 10^-e */
        int k = -e;
        for (; k >= 13; k -= 13)
            big_mul_add(&b, 1220703125u, 0); /* 5^13 */
        uint32_t p = 1;
        while (k--)
            p *= 5;
        big_mul_add(&b, p, 0);
    }
    out->point = big_digits(&b, out) + (e < 0 ? e : 0);
}

void libc_decimal_round(struct libc_decimal *x, int keep)
{
    if (keep >= x->n)
        return;
    int up = 0; /* (keep < 0: less than half a unit there, so 0) */
    if (keep >= 0) {
        const char next = x->d[keep];
        const int rest = keep + 1 < x->n; /* (no trailing zeros: any digit after is nonzero) */
        const int odd = keep > 0 && ((x->d[keep - 1] - '0') & 1);
        up = next > '5' || (next == '5' && (rest || odd));
    }
    x->n = keep < 0 ? 0 : keep;
    if (up) {
        while (x->n && x->d[x->n - 1] == '9')
            x->n--;
        if (x->n == 0) { /* 99.9 to 100: one digit more */
            x->d[0] = '1';
            x->n = 1;
            x->point++;
            return;
        }
        x->d[x->n - 1]++;
    }
    while (x->n && x->d[x->n - 1] == '0')
        x->n--;
}

/* ---- decimal -> double (strtod) ---- */

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int match_word(const char *s, const char *word)
{
    int i = 0;
    for (; word[i]; i++)
        if (lower((unsigned char)s[i]) != word[i])
            return 0;
    return i;
}

/* Significant digits kept; beyond them only whether any is nonzero counts,
 * as one more digit (767 are the most a double's halfway point needs). */
#define STRTOD_DIGITS 800

double LIBC(strtod)(const char *s, char **end)
{
    const char *p = s;
    while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
        p++;
    const int neg = *p == '-';
    if (*p == '+' || *p == '-')
        p++;
    const uint64_t sign = neg ? 1ull << 63 : 0;
    int w;
    if ((w = match_word(p, "inf")) != 0) {
        p += w;
        if ((w = match_word(p, "inity")) != 0)
            p += w;
        if (end)
            *end = (char *)p;
        return double_of(sign | 0x7ff0000000000000ull);
    }
    if ((w = match_word(p, "nan")) != 0) {
        p += w;
        if (*p == '(') { /* nan(n-char-sequence) */
            const char *q = p + 1;
            while ((*q >= '0' && *q <= '9') || (lower(*q) >= 'a' && lower(*q) <= 'z') || *q == '_')
                q++;
            if (*q == ')')
                p = q + 1;
        }
        if (end)
            *end = (char *)p;
        return double_of(sign | 0x7ff8000000000000ull);
    }

    /* The digits: D (up to STRTOD_DIGITS of them, and a sticky one), and the
     * power of ten that scales them: value = D * 10^exp10. */
    char digits[STRTOD_DIGITS + 1];
    int nd = 0, any = 0, sticky = 0;
    long exp10 = 0;
    int seen_point = 0;
    for (;; p++) {
        if (*p == '.' && !seen_point) {
            seen_point = 1;
            continue;
        }
        if (*p < '0' || *p > '9')
            break;
        any = 1;
        if (nd == 0 && *p == '0') {
            if (seen_point)
                exp10--;
            continue;
        }
        if (nd < STRTOD_DIGITS) {
            digits[nd++] = *p;
            if (seen_point)
                exp10--;
        } else {
            sticky |= *p != '0';
            if (!seen_point)
                exp10++;
        }
    }
    if (!any) {
        if (end)
            *end = (char *)s;
        return 0.0;
    }
    if (lower(*p) == 'e') {
        const char *q = p + 1;
        const int eneg = *q == '-';
        if (*q == '+' || *q == '-')
            q++;
        if (*q >= '0' && *q <= '9') {
            long x = 0;
            for (; *q >= '0' && *q <= '9'; q++)
                if (x < 100000)
                    x = x * 10 + (*q - '0');
            exp10 += eneg ? -x : x;
            p = q;
        }
    }
    if (end)
        *end = (char *)p;
    if (sticky)
        digits[nd++] = '1'; /* below the last kept digit, not zero */
    if (nd == 0)
        return double_of(sign);
    if (nd + exp10 > 310) {
        LIBC(errno) = LIBC_ERANGE;
        return double_of(sign | 0x7ff0000000000000ull);
    }
    if (nd + exp10 < -324) {
        LIBC(errno) = LIBC_ERANGE;
        return double_of(sign);
    }

    /* q * 2^exp2, q of 56 bits or more, plus whether anything was lost below. */
    struct big b;
    big_set(&b, 0);
    for (int i = 0; i < nd; i++) {
        if (b.n == 0)
            big_set(&b, (uint64_t)(digits[i] - '0'));
        else
            big_mul_add(&b, 10, (uint32_t)(digits[i] - '0'));
    }
    int inexact = 0;
    long exp2 = 0;
    if (exp10 >= 0) {
        big_mul_pow10(&b, (int)exp10);
    } else {
        /* Enough bits above the division's point: 3.33 bits per power of ten. */
        const long need = 60 + (-exp10 * 3402) / 1024 + 1 - big_bits(&b);
        if (need > 0) {
            big_shl(&b, (int)need);
            exp2 -= need;
        }
        big_div_pow10(&b, (int)-exp10, &inexact);
    }
    /* Down to 56 bits (a leading one at bit 55), the rest only sticky. */
    const int bits = big_bits(&b);
    uint64_t q = 0;
    if (bits > 56) {
        const int drop = bits - 56;
        for (int i = 0; i < drop / 32; i++)
            inexact |= b.w[i] != 0;
        if (drop % 32)
            inexact |= (b.w[drop / 32] & ((1u << (drop % 32)) - 1)) != 0;
        for (int i = 1; i >= 0; i--) { /* q = b >> drop: two 32-bit chunks */
            const int limb = drop / 32 + i, off = drop % 32;
            uint64_t chunk = limb < b.n ? b.w[limb] >> off : 0;
            if (off && limb + 1 < b.n)
                chunk |= (uint64_t)b.w[limb + 1] << (32 - off);
            q = (q << 32) | (chunk & 0xffffffffull);
        }
        exp2 += drop;
    } else {
        for (int i = b.n - 1; i >= 0; i--)
            q = (q << 32) | b.w[i];
        q <<= 56 - bits;
        exp2 -= 56 - bits;
    }
    /* value = q * 2^exp2 (q's top bit is 55). The result's last bit weighs
     * 2^t: 52 places below the top bit, or 2^-1074 for a subnormal. */
    long t = exp2 + 55 - 52;
    if (t < -1074)
        t = -1074;
    const long shift = t - exp2; /* >= 3 */
    uint64_t mant = 0;
    if (shift <= 56) { /* (further down, q is less than half of 2^t) */
        mant = q >> shift;
        const uint64_t rem = q & ((1ull << shift) - 1), half = 1ull << (shift - 1);
        if (rem > half || (rem == half && (inexact || (mant & 1))))
            mant++;
    }
    if (mant == 1ull << 53) {
        mant >>= 1;
        t++;
    }
    if (t + 52 > 1023) {
        LIBC(errno) = LIBC_ERANGE;
        return double_of(sign | 0x7ff0000000000000ull);
    }
    if (mant < 1ull << 52) { /* subnormal (t == -1074), or zero */
        if (mant == 0)
            LIBC(errno) = LIBC_ERANGE;
        return double_of(sign | mant);
    }
    return double_of(sign | (uint64_t)(t + 52 + 1023) << 52 | (mant & ((1ull << 52) - 1)));
}

double LIBC(atof)(const char *s) { return LIBC(strtod)(s, 0); }
