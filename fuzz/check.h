// What the harnesses share: an invariant check that libFuzzer records as a crash.
#pragma once

#include <cstdio>
#include <cstdlib>

// Aborts with `what` if `ok` is false: libFuzzer then saves the input as a crash.
#define FUZZ_CHECK(ok, what)                                                     \
    do {                                                                         \
        if (!(ok)) {                                                             \
            std::fprintf(stderr, "fuzz: invariant broken at %s:%d: %s\n", __FILE__, \
                         __LINE__, what);                                        \
            std::abort();                                                        \
        }                                                                        \
    } while (0)

// Reads every byte of [p, p + n) so ASan sees an out-of-bounds range.
inline unsigned touch(const unsigned char* p, unsigned long n) {
    unsigned sum = 0;
    for (unsigned long i = 0; i < n; ++i)
        sum += p[i];
    return sum;
}
