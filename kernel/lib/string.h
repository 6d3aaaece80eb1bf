// The few string and memory helpers the kernel uses (no libc in the kernel).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kernel {

inline void mem_copy(void* dst, const void* src, size_t n) { __builtin_memcpy(dst, src, n); }
// As mem_copy, for ranges that may overlap.
inline void mem_move(void* dst, const void* src, size_t n) { __builtin_memmove(dst, src, n); }
inline void mem_set(void* dst, int value, size_t n) { __builtin_memset(dst, value, n); }
inline int mem_compare(const void* a, const void* b, size_t n) { return __builtin_memcmp(a, b, n); }

// Length of a NUL-terminated string.
inline size_t str_length(const char* s) {
    size_t n = 0;
    while (s[n])
        ++n;
    return n;
}

// Length of `s`, looking at no more than `max` bytes.
inline size_t str_length_bounded(const char* s, size_t max) {
    size_t n = 0;
    while (n < max && s[n])
        ++n;
    return n;
}

// True if the NUL-terminated strings are equal.
inline bool str_equal(const char* a, const char* b) {
    while (*a && *a == *b) {
        ++a;
        ++b;
    }
    return *a == *b;
}

// True if `value` is a multiple of `align` (a power of two).
constexpr bool is_aligned(uint64_t value, uint64_t align) { return (value & (align - 1)) == 0; }
constexpr uint64_t align_down(uint64_t value, uint64_t align) { return value & ~(align - 1); }
// Rounds up; the caller checks for overflow with `align_up_overflows`.
constexpr uint64_t align_up(uint64_t value, uint64_t align) { return (value + align - 1) & ~(align - 1); }
constexpr bool align_up_overflows(uint64_t value, uint64_t align) { return value > UINT64_MAX - (align - 1); }

}  // namespace kernel
