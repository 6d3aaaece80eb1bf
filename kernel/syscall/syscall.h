// Syscall dispatch: decodes the register file of the calling thread, by the
// table in <anvil/syscalls.h>, into the typed arguments of one syscall and calls
// its handler `sys_<name>`.
//
// From each table row X(num, name, wrap, params...) this header generates
//   sys::<name>_args  the ANVIL_IN params as named fields of their kernel type
//                     (ArgOf below), in table order;
//   sys::<name>_out   the ANVIL_OUT params as named fields of their table type;
//   Status sys_<name>(Thread& self, const sys::<name>_args& a, sys::<name>_out& out);
// so a handler names every argument and out value, and a wrong name or type
// does not compile. Only dispatch.cpp knows which register holds which.
#pragma once

#include "kernel/lib/result.h"

#include <anvil/syscalls.h>
#include <stdint.h>

namespace kernel {

class Thread;

// A user virtual address of a T, as the caller passed it. Handlers never
// dereference it: they hand va() to VSpace::copy_in/copy_out, which check it.
template <typename T>
class UserPtr {
public:
    explicit UserPtr(uint64_t va) : va_(va) {}
    uint64_t va() const { return va_; }

private:
    uint64_t va_;
};

// A 32-bit argument (a cap, a slot, a count, a mask) with the whole register
// it came in: a caller may set the upper 32 bits, and each handler rejects that
// with its own status, in its own order (a cap lookup with INVALID_CAP, a count
// with INVALID_ARG), so the decoder cannot just truncate.
class Arg32 {
public:
    explicit Arg32(uint64_t reg) : reg_(reg) {}
    // The whole register, for range checks that must reject the upper bits too.
    uint64_t reg() const { return reg_; }
    bool fits() const { return reg_ <= UINT32_MAX; }
    // The argument, once checked to fit.
    uint32_t value() const { return static_cast<uint32_t>(reg_); }

private:
    uint64_t reg_;
};

namespace sys {

// The kernel type of an argument the table declares as T: user pointers become
// UserPtr, 32-bit integers Arg32, 64-bit integers stay as they are.
template <typename T>
struct ArgOf {
    static_assert(sizeof(T) == sizeof(uint64_t), "a syscall argument type without a kernel ArgOf");
    using type = T;
};
template <>
struct ArgOf<uint32_t> {
    using type = Arg32;
};
template <typename T>
struct ArgOf<T*> {
    using type = UserPtr<T>;
};

#define ANVIL_KARG_FIELD(kind, type, name) ANVIL_PARAM_APPLY(ANVIL_KARG_FIELD_, kind, type, name)
#define ANVIL_KARG_FIELD_ANVIL_IN(t, n) ArgOf<t>::type n;
#define ANVIL_KARG_FIELD_ANVIL_OUT(t, n)
#define ANVIL_KARG_FIELD_ANVIL_VOID(t, n)
#define ANVIL_KOUT_FIELD(kind, type, name) ANVIL_PARAM_APPLY(ANVIL_KOUT_FIELD_, kind, type, name)
#define ANVIL_KOUT_FIELD_ANVIL_IN(t, n)
#define ANVIL_KOUT_FIELD_ANVIL_OUT(t, n) t n;
#define ANVIL_KOUT_FIELD_ANVIL_VOID(t, n)

#define ANVIL_DECLARE_SYSCALL_TYPES(num, name, wrap, ...)                                     \
    struct name##_args {                                                                     \
        ANVIL_PP_MAP(ANVIL_KARG_FIELD, ANVIL_PP_NOTHING, __VA_ARGS__)                         \
    };                                                                                       \
    struct name##_out {                                                                      \
        ANVIL_PP_MAP(ANVIL_KOUT_FIELD, ANVIL_PP_NOTHING, __VA_ARGS__)                         \
    };
ANVIL_SYSCALLS(ANVIL_DECLARE_SYSCALL_TYPES)
#undef ANVIL_DECLARE_SYSCALL_TYPES

}  // namespace sys

// Handlers: validate first, mutate after (a rejected call changes nothing).
// Out values reach the caller only if the handler returns ANVIL_OK.
#define ANVIL_DECLARE_HANDLER(num, name, wrap, ...) \
    Status sys_##name(Thread& self, const sys::name##_args& a, sys::name##_out& out);
ANVIL_SYSCALLS(ANVIL_DECLARE_HANDLER)
#undef ANVIL_DECLARE_HANDLER

// Runs the syscall the current thread `self` made and writes its result into
// its registers (unless the thread no longer returns to user mode).
void dispatch_syscall(Thread& self);

}  // namespace kernel
