#include "kernel/lib/format.h"

#include <hal/hal.h>
#include <stdint.h>

namespace kernel {
namespace {

// A bounded output cursor: counts everything, stores what fits.
struct Sink {
    char* buf;
    size_t cap;
    size_t len = 0;
    void put(char c) {
        if (len + 1 < cap)
            buf[len] = c;
        ++len;
    }
    void pad(char c, int n) {
        for (int i = 0; i < n; ++i)
            put(c);
    }
};

struct Spec {
    bool left = false;
    bool zero = false;
    int width = 0;
    int precision = -1;
};

void put_text(Sink& out, const Spec& spec, const char* s, size_t n) {
    const int padding = spec.width > static_cast<int>(n) ? spec.width - static_cast<int>(n) : 0;
    if (!spec.left)
        out.pad(' ', padding);
    for (size_t i = 0; i < n; ++i)
        out.put(s[i]);
    if (spec.left)
        out.pad(' ', padding);
}

void put_number(Sink& out, const Spec& spec, uint64_t value, bool negative, unsigned base, bool upper,
                const char* prefix) {
    char digits[24];
    int n = 0;
    const char* set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        digits[n++] = set[value % base];
        value /= base;
    } while (value);
    int prefix_len = 0;
    while (prefix[prefix_len])
        ++prefix_len;
    const int body = n + (negative ? 1 : 0) + prefix_len;
    const int padding = spec.width > body ? spec.width - body : 0;
    if (!spec.left && !spec.zero)
        out.pad(' ', padding);
    if (negative)
        out.put('-');
    for (int i = 0; i < prefix_len; ++i)
        out.put(prefix[i]);
    if (!spec.left && spec.zero)
        out.pad('0', padding);
    while (n)
        out.put(digits[--n]);
    if (spec.left)
        out.pad(' ', padding);
}

}  // namespace

size_t vformat(char* buf, size_t cap, const char* fmt, va_list ap) {
    Sink out{buf, cap};
    for (const char* p = fmt; *p; ++p) {
        if (*p != '%') {
            out.put(*p);
            continue;
        }
        ++p;
        Spec spec;
        for (;; ++p) {
            if (*p == '-')
                spec.left = true;
            else if (*p == '0')
                spec.zero = true;
            else
                break;
        }
        while (*p >= '0' && *p <= '9')
            spec.width = spec.width * 10 + (*p++ - '0');
        if (*p == '.') {
            spec.precision = 0;
            ++p;
            while (*p >= '0' && *p <= '9')
                spec.precision = spec.precision * 10 + (*p++ - '0');
        }
        int longs = 0;
        bool size_mod = false;
        for (;; ++p) {
            if (*p == 'l')
                ++longs;
            else if (*p == 'z')
                size_mod = true;
            else
                break;
        }
        const bool wide = longs > 0 || size_mod;
        switch (*p) {
        case 'd':
        case 'i': {
            const int64_t v = wide ? va_arg(ap, int64_t) : va_arg(ap, int);
            const uint64_t mag = v < 0 ? uint64_t(0) - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
            put_number(out, spec, mag, v < 0, 10, false, "");
            break;
        }
        case 'u':
            put_number(out, spec, wide ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), false, 10, false, "");
            break;
        case 'x':
        case 'X':
            put_number(out, spec, wide ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), false, 16, *p == 'X', "");
            break;
        case 'p':
            put_number(out, spec, reinterpret_cast<uintptr_t>(va_arg(ap, void*)), false, 16, false, "0x");
            break;
        case 'c': {
            const char c = static_cast<char>(va_arg(ap, int));
            put_text(out, spec, &c, 1);
            break;
        }
        case 's': {
            const char* s = va_arg(ap, const char*);
            if (!s)
                s = "(null)";
            size_t n = 0;
            while (s[n] && (spec.precision < 0 || n < static_cast<size_t>(spec.precision)))
                ++n;
            put_text(out, spec, s, n);
            break;
        }
        case '%':
            out.put('%');
            break;
        case '\0':
            --p;  // a lone '%' at the end: stop at the NUL
            break;
        default:
            out.put('%');
            out.put(*p);
            break;
        }
    }
    if (cap > 0)
        buf[out.len < cap ? out.len : cap - 1] = '\0';
    return out.len;
}

size_t format(char* buf, size_t cap, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const size_t n = vformat(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

void kprintf(const char* fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    size_t n = vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    hal::console_write(buf, n);
}

}  // namespace kernel
