// Freestanding runtime support the compiler expects: the mem* functions it
// emits calls to, and the C++ ABI hooks the kernel image may reference.
//
// Built with -fno-tree-loop-distribute-patterns (CMakeLists.txt) so the loops
// below are never turned back into calls to themselves.

#include <stddef.h>
#include <stdint.h>

#include <hal/hal.h>

extern "C" {

void* memcpy(void* dst, const void* src, size_t n) {
    void* d = dst;
    asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dst;
}

void* memset(void* dst, int c, size_t n) {
    void* d = dst;
    asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
    auto* d = static_cast<uint8_t*>(dst);
    auto* s = static_cast<const uint8_t*>(src);
    if (d <= s || d >= s + n) return memcpy(dst, src, n);
    // Overlapping with dst above src: copy backwards.
    for (size_t i = n; i > 0; --i) d[i - 1] = s[i - 1];
    return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
    auto* x = static_cast<const uint8_t*>(a);
    auto* y = static_cast<const uint8_t*>(b);
    for (size_t i = 0; i < n; ++i) {
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

// A pure virtual function was called: a kernel bug.
void __cxa_pure_virtual() {
    static const char kMsg[] = "x86_64: pure virtual function called\n";
    hal::console_write(kMsg, sizeof(kMsg) - 1);
    hal::panic_halt();
}

// Static destructors are registered here (-fno-use-cxa-atexit); the kernel never exits.
int atexit(void (*)()) { return 0; }

}  // extern "C"
