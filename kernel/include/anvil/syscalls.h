/* The Anvil syscall table: declared once, here.
 *
 * This X-macro drives the kernel's dispatch (kernel/syscall/dispatch.cpp), the C
 * wrappers of libanvil (userspace/libanvil/include/anvil/syscall_wrappers.h), and
 * anvil_syscall_desc below, through which every program that names a syscall
 * finds it. Adding a syscall is one
 * line here plus its handler `kernel::sys_<name>` in kernel/syscall/.
 *
 * Calling convention (x86-64, both backends):
 *   rax       syscall number (ANVIL_SYS_<name>)
 *   rdi, rsi, rdx, r10, r8, r9, r12
 *             up to seven input arguments, in table order (ANVIL_IN params)
 *   rax       on return: status (ANVIL_OK or a negative ANVIL_ERR_*)
 *   rdx, r10  on return: out values 0 and 1 (ANVIL_OUT params, in table order);
 *             written only when the status is ANVIL_OK
 *   rcx, r11  clobbered by the `syscall` instruction (rcx = return rip,
 *             r11 = rflags), as on hardware
 * Every other register is preserved. Pointer arguments are user virtual
 * addresses; the kernel validates them and returns ANVIL_ERR_FAULT if bad.
 *
 * Table entries: X(number, name, wrap, params...)
 *   wrap   ANVIL_WRAP: libanvil generates `anvil_<name>(params)` from the row;
 *          ANVIL_NOWRAP: libanvil writes the wrapper by hand (different C shape)
 *   params (ANVIL_IN, type, name)   passed in the next argument register
 *          (ANVIL_OUT, type, name)  the wrapper takes `type *name`; the kernel
 *                                   returns the value in the next out register
 *          (ANVIL_VOID, , )         no parameters
 */
#ifndef ANVIL_SYSCALLS_H
#define ANVIL_SYSCALLS_H

#include <anvil/types.h>

#define ANVIL_SYSCALLS(X)                                                                \
    X(0, debug_write, ANVIL_WRAP, (ANVIL_IN, const char *, s), (ANVIL_IN, uint64_t, len)) \
    X(1, thread_exit, ANVIL_NOWRAP, (ANVIL_IN, int64_t, code))                            \
    X(2, thread_yield, ANVIL_WRAP, (ANVIL_VOID, , ))                                      \
    X(3, cnode_create, ANVIL_WRAP, (ANVIL_IN, uint32_t, slots), (ANVIL_OUT, anvil_cap_t, out)) \
    X(4, cap_copy, ANVIL_NOWRAP, (ANVIL_IN, anvil_cap_t, src_cnode),                      \
      (ANVIL_IN, uint32_t, src_slot), (ANVIL_IN, anvil_cap_t, dst_cnode),                 \
      (ANVIL_IN, uint32_t, dst_slot), (ANVIL_IN, uint32_t, rights_mask),                  \
      (ANVIL_IN, uint64_t, badge), (ANVIL_OUT, uint32_t, out_slot))                       \
    X(5, cap_delete, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, cnode), (ANVIL_IN, uint32_t, slot)) \
    X(6, cap_revoke, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, cnode), (ANVIL_IN, uint32_t, slot)) \
    X(7, cap_info, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, cnode), (ANVIL_IN, uint32_t, slot), \
      (ANVIL_IN, anvil_cap_info_t *, out))                                                \
    X(8, tcb_create, ANVIL_WRAP, (ANVIL_OUT, anvil_cap_t, out))                           \
    X(9, tcb_configure, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, tcb), (ANVIL_IN, anvil_cap_t, cnode), \
      (ANVIL_IN, anvil_cap_t, vspace), (ANVIL_IN, uint64_t, ipc_buffer_va),                \
      (ANVIL_IN, uint32_t, priority), (ANVIL_IN, uint32_t, cpu),                          \
      (ANVIL_IN, anvil_cap_t, fault_ep))                                                  \
    X(10, tcb_set_regs, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, tcb), (ANVIL_IN, const anvil_regs_t *, regs)) \
    X(11, tcb_get_regs, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, tcb), (ANVIL_IN, anvil_regs_t *, out)) \
    X(12, tcb_resume, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, tcb))                           \
    X(13, tcb_suspend, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, tcb))                          \
    X(14, vspace_create, ANVIL_WRAP, (ANVIL_OUT, anvil_cap_t, out))                       \
    X(15, vmo_create, ANVIL_WRAP, (ANVIL_IN, uint64_t, size), (ANVIL_OUT, anvil_cap_t, out)) \
    X(16, vmo_read, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, vmo), (ANVIL_IN, uint64_t, offset), \
      (ANVIL_IN, void *, buf), (ANVIL_IN, uint64_t, len))                                 \
    X(17, vmo_write, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, vmo), (ANVIL_IN, uint64_t, offset), \
      (ANVIL_IN, const void *, buf), (ANVIL_IN, uint64_t, len))                           \
    X(18, vma_map, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, vspace), (ANVIL_IN, uint64_t, va),   \
      (ANVIL_IN, anvil_cap_t, vmo), (ANVIL_IN, uint64_t, offset), (ANVIL_IN, uint64_t, len), \
      (ANVIL_IN, uint32_t, perms))                                                        \
    X(19, vma_unmap, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, vspace), (ANVIL_IN, uint64_t, va), \
      (ANVIL_IN, uint64_t, len))                                                          \
    X(20, vma_alloc, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, vspace), (ANVIL_IN, uint64_t, len), \
      (ANVIL_IN, uint32_t, perms), (ANVIL_OUT, uint64_t, out_va))                         \
    X(21, endpoint_create, ANVIL_WRAP, (ANVIL_OUT, anvil_cap_t, out))                     \
    X(22, notification_create, ANVIL_WRAP, (ANVIL_OUT, anvil_cap_t, out))                 \
    X(23, ipc_send, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, ep), (ANVIL_IN, const anvil_msg_t *, m)) \
    X(24, ipc_recv, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, ep), (ANVIL_IN, anvil_msg_t *, m),  \
      (ANVIL_OUT, uint64_t, badge))                                                       \
    X(25, ipc_call, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, ep), (ANVIL_IN, const anvil_msg_t *, req), \
      (ANVIL_IN, anvil_msg_t *, reply))                                                   \
    X(26, ipc_reply, ANVIL_WRAP, (ANVIL_IN, const anvil_msg_t *, m))                      \
    X(27, ipc_reply_recv, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, ep),                        \
      (ANVIL_IN, const anvil_msg_t *, reply), (ANVIL_IN, anvil_msg_t *, next),            \
      (ANVIL_OUT, uint64_t, badge))                                                       \
    X(28, ipc_try_send, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, ep), (ANVIL_IN, const anvil_msg_t *, m)) \
    X(29, ipc_try_recv, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, ep), (ANVIL_IN, anvil_msg_t *, m), \
      (ANVIL_OUT, uint64_t, badge))                                                       \
    X(30, notify_signal, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, n), (ANVIL_IN, uint64_t, bits)) \
    X(31, notify_wait, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, n), (ANVIL_OUT, uint64_t, bits)) \
    X(32, irq_bind, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, irq), (ANVIL_IN, anvil_cap_t, notification), \
      (ANVIL_IN, uint64_t, bit))                                                          \
    X(33, ioport_enable, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, ioport))                      \
    X(34, tcb_get_ext_state, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, tcb), (ANVIL_IN, anvil_ext_state_t *, out)) \
    X(35, tcb_set_ext_state, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, tcb),                    \
      (ANVIL_IN, const anvil_ext_state_t *, state))                                       \
    X(36, notify_wait_timeout, ANVIL_WRAP, (ANVIL_IN, anvil_cap_t, n), (ANVIL_IN, uint64_t, ticks), \
      (ANVIL_OUT, uint64_t, bits))

/* ANVIL_SYS_<name>: the syscall numbers. */
#define ANVIL_SYS_ENUM_ITEM(num, name, wrap, ...) ANVIL_SYS_##name = (num),
enum { ANVIL_SYSCALLS(ANVIL_SYS_ENUM_ITEM) ANVIL_SYS_COUNT };
#undef ANVIL_SYS_ENUM_ITEM

/* Most input and out registers a syscall uses. */
#define ANVIL_SYSCALL_MAX_ARGS 7
#define ANVIL_SYSCALL_MAX_OUTS 2

/* ---- Preprocessor helpers to walk a row's params (used by the generators) ---- */

#define ANVIL_PP_CAT(a, b) ANVIL_PP_CAT_(a, b)
#define ANVIL_PP_CAT_(a, b) a##b
#define ANVIL_PP_NARGS(...) ANVIL_PP_NARGS_(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define ANVIL_PP_NARGS_(_1, _2, _3, _4, _5, _6, _7, _8, N, ...) N

/* ANVIL_PP_MAP(M, SEP, p1, p2, ...) -> M p1 SEP() M p2 ... (each p is a tuple). */
#define ANVIL_PP_MAP(M, SEP, ...) ANVIL_PP_CAT(ANVIL_PP_MAP_, ANVIL_PP_NARGS(__VA_ARGS__))(M, SEP, __VA_ARGS__)
#define ANVIL_PP_MAP_1(M, S, a) M a
#define ANVIL_PP_MAP_2(M, S, a, ...) M a S() ANVIL_PP_MAP_1(M, S, __VA_ARGS__)
#define ANVIL_PP_MAP_3(M, S, a, ...) M a S() ANVIL_PP_MAP_2(M, S, __VA_ARGS__)
#define ANVIL_PP_MAP_4(M, S, a, ...) M a S() ANVIL_PP_MAP_3(M, S, __VA_ARGS__)
#define ANVIL_PP_MAP_5(M, S, a, ...) M a S() ANVIL_PP_MAP_4(M, S, __VA_ARGS__)
#define ANVIL_PP_MAP_6(M, S, a, ...) M a S() ANVIL_PP_MAP_5(M, S, __VA_ARGS__)
#define ANVIL_PP_MAP_7(M, S, a, ...) M a S() ANVIL_PP_MAP_6(M, S, __VA_ARGS__)
#define ANVIL_PP_MAP_8(M, S, a, ...) M a S() ANVIL_PP_MAP_7(M, S, __VA_ARGS__)
#define ANVIL_PP_COMMA() ,
#define ANVIL_PP_NOTHING()

/* Dispatch a param tuple (kind, type, name) to MACRO_<kind>(type, name). */
#define ANVIL_PARAM_APPLY(prefix, kind, type, name) prefix##kind(type, name)

/* Per-param: 1 if an input register, else 0 (summed to count inputs). */
#define ANVIL_PARAM_NIN(kind, type, name) ANVIL_PARAM_APPLY(ANVIL_PARAM_NIN_, kind, type, name)
#define ANVIL_PARAM_NIN_ANVIL_IN(t, n) +1
#define ANVIL_PARAM_NIN_ANVIL_OUT(t, n) +0
#define ANVIL_PARAM_NIN_ANVIL_VOID(t, n) +0
/* Per-param: 1 if an out register, else 0. */
#define ANVIL_PARAM_NOUT(kind, type, name) ANVIL_PARAM_APPLY(ANVIL_PARAM_NOUT_, kind, type, name)
#define ANVIL_PARAM_NOUT_ANVIL_IN(t, n) +0
#define ANVIL_PARAM_NOUT_ANVIL_OUT(t, n) +1
#define ANVIL_PARAM_NOUT_ANVIL_VOID(t, n) +0
/* Per-param: its name as a string for inputs and outs ("" for none), for printers. */
#define ANVIL_PARAM_INNAME(kind, type, name) ANVIL_PARAM_APPLY(ANVIL_PARAM_INNAME_, kind, type, name)
#define ANVIL_PARAM_INNAME_ANVIL_IN(t, n) #n,
#define ANVIL_PARAM_INNAME_ANVIL_OUT(t, n)
#define ANVIL_PARAM_INNAME_ANVIL_VOID(t, n)
#define ANVIL_PARAM_OUTNAME(kind, type, name) ANVIL_PARAM_APPLY(ANVIL_PARAM_OUTNAME_, kind, type, name)
#define ANVIL_PARAM_OUTNAME_ANVIL_IN(t, n)
#define ANVIL_PARAM_OUTNAME_ANVIL_OUT(t, n) #n,
#define ANVIL_PARAM_OUTNAME_ANVIL_VOID(t, n)

/* Number of input / out registers of a row's params. */
#define ANVIL_SYSCALL_NIN(...) (0 ANVIL_PP_MAP(ANVIL_PARAM_NIN, ANVIL_PP_NOTHING, __VA_ARGS__))
#define ANVIL_SYSCALL_NOUT(...) (0 ANVIL_PP_MAP(ANVIL_PARAM_NOUT, ANVIL_PP_NOTHING, __VA_ARGS__))

/* Static description of one syscall, for printers (trace dump, debugger, fuzzer). */
typedef struct anvil_syscall_desc {
    const char *name;
    unsigned nin;
    unsigned nout;
    const char *in_names[ANVIL_SYSCALL_MAX_ARGS + 1];
    const char *out_names[ANVIL_SYSCALL_MAX_OUTS + 1];
} anvil_syscall_desc_t;

/* Initializer of an anvil_syscall_desc_t from a table row (anvil_syscall_desc's table). */
#define ANVIL_SYSCALL_DESC_INIT(num, name, wrap, ...)                                    \
    {#name, ANVIL_SYSCALL_NIN(__VA_ARGS__), ANVIL_SYSCALL_NOUT(__VA_ARGS__),             \
     {ANVIL_PP_MAP(ANVIL_PARAM_INNAME, ANVIL_PP_NOTHING, __VA_ARGS__) 0},                \
     {ANVIL_PP_MAP(ANVIL_PARAM_OUTNAME, ANVIL_PP_NOTHING, __VA_ARGS__) 0}},

/* The description of syscall `number` (its name, argument and out names), or null
 * for a number this build does not have: the one table of descriptions, where
 * the trace tools, the debugger, the GDB stub, the fuzzer and the tests look
 * syscalls up. */
ANVIL_INLINE const anvil_syscall_desc_t *anvil_syscall_desc(uint64_t number)
{
    static const anvil_syscall_desc_t descs[] = {ANVIL_SYSCALLS(ANVIL_SYSCALL_DESC_INIT)};
    return number < ANVIL_SYS_COUNT ? &descs[number] : 0;
}

#endif /* ANVIL_SYSCALLS_H */
