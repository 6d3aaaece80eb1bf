/* C wrappers for every syscall, generated from the table in <anvil/syscalls.h>.
 * Rows marked ANVIL_NOWRAP get hand-written wrappers in <anvil/anvil.h>. */
#ifndef ANVIL_SYSCALL_WRAPPERS_H
#define ANVIL_SYSCALL_WRAPPERS_H

#include <stdint.h>
#include <anvil/status.h>
#include <anvil/syscalls.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Issues syscall `nr` with inputs a[0..6]; out registers land in out[0..1].
 * Register use is documented in <anvil/syscalls.h>. */
static inline anvil_status_t anvil_syscall_raw(uint64_t nr, const uint64_t *a, uint64_t *out)
{
    register uint64_t r10 __asm__("r10") = a[3];
    register uint64_t r8 __asm__("r8") = a[4];
    register uint64_t r9 __asm__("r9") = a[5];
    register uint64_t r12 __asm__("r12") = a[6];
    uint64_t rax = nr, rdx = a[2];
    __asm__ volatile("syscall"
                     : "+a"(rax), "+d"(rdx), "+r"(r10)
                     : "D"(a[0]), "S"(a[1]), "r"(r8), "r"(r9), "r"(r12)
                     : "rcx", "r11", "memory");
    out[0] = rdx;
    out[1] = r10;
    return (anvil_status_t)(int64_t)rax;
}

#define ANVIL_PARAM_DECL(kind, type, name) ANVIL_PARAM_APPLY(ANVIL_PARAM_DECL_, kind, type, name)
#define ANVIL_PARAM_DECL_ANVIL_IN(t, n) t n
#define ANVIL_PARAM_DECL_ANVIL_OUT(t, n) t *n
#define ANVIL_PARAM_DECL_ANVIL_VOID(t, n) void
#define ANVIL_PARAM_ARG(kind, type, name) ANVIL_PARAM_APPLY(ANVIL_PARAM_ARG_, kind, type, name)
#define ANVIL_PARAM_ARG_ANVIL_IN(t, n) (uint64_t)(uintptr_t)(n),
#define ANVIL_PARAM_ARG_ANVIL_OUT(t, n)
#define ANVIL_PARAM_ARG_ANVIL_VOID(t, n)
#define ANVIL_PARAM_STORE(kind, type, name) ANVIL_PARAM_APPLY(ANVIL_PARAM_STORE_, kind, type, name)
#define ANVIL_PARAM_STORE_ANVIL_IN(t, n)
#define ANVIL_PARAM_STORE_ANVIL_OUT(t, n) if (n) *(n) = (t)o_[k_]; k_++;
#define ANVIL_PARAM_STORE_ANVIL_VOID(t, n)

#define ANVIL_WRAPPER(num, name, wrap, ...) ANVIL_PP_CAT(ANVIL_WRAPPER_, wrap)(num, name, __VA_ARGS__)
#define ANVIL_WRAPPER_ANVIL_NOWRAP(num, name, ...)
#define ANVIL_WRAPPER_ANVIL_WRAP(num, name, ...)                                                \
    static inline anvil_status_t anvil_##name(ANVIL_PP_MAP(ANVIL_PARAM_DECL, ANVIL_PP_COMMA, __VA_ARGS__)) \
    {                                                                                           \
        uint64_t a_[ANVIL_SYSCALL_MAX_ARGS + 1] = {ANVIL_PP_MAP(ANVIL_PARAM_ARG, ANVIL_PP_NOTHING, __VA_ARGS__) 0}; \
        uint64_t o_[ANVIL_SYSCALL_MAX_OUTS] = {0, 0};                                           \
        anvil_status_t s_ = anvil_syscall_raw((num), a_, o_);                                   \
        int k_ = 0;                                                                             \
        (void)k_;                                                                               \
        if (s_ == ANVIL_OK) {                                                                   \
            ANVIL_PP_MAP(ANVIL_PARAM_STORE, ANVIL_PP_NOTHING, __VA_ARGS__)                      \
        }                                                                                       \
        return s_;                                                                              \
    }

ANVIL_SYSCALLS(ANVIL_WRAPPER)

#ifdef __cplusplus
}
#endif

#endif /* ANVIL_SYSCALL_WRAPPERS_H */
