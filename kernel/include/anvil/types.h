/* Anvil ABI types shared by the kernel and userspace (C, freestanding). */
#ifndef ANVIL_TYPES_H
#define ANVIL_TYPES_H

#include <stdint.h>

/* Functions defined in these headers (the name lookups): `inline` in C++, so a
 * program holds one copy of their tables; `static inline` in C. */
#ifdef __cplusplus
#define ANVIL_INLINE inline
#else
#define ANVIL_INLINE static inline
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A slot index in the caller's own CNode. Slot 0 is always empty. */
typedef uint32_t anvil_cap_t;

/* Rights on a capability. A copy can only drop bits, never add them. */
#define ANVIL_RIGHT_READ   (1u << 0) /* read data, receive, read slots, get regs */
#define ANVIL_RIGHT_WRITE  (1u << 1) /* write data, send, write slots, set regs */
#define ANVIL_RIGHT_EXEC   (1u << 2) /* map a VMO executable */
#define ANVIL_RIGHT_MANAGE (1u << 3) /* control the object, revoke */
#define ANVIL_RIGHT_GRANT  (1u << 4) /* the cap may leave its CNode */
#define ANVIL_RIGHTS_ALL   (0x1fu)

/* Mapping permissions for vma_map / vma_alloc: the same bits as the rights. */
#define ANVIL_PERM_R ANVIL_RIGHT_READ
#define ANVIL_PERM_W ANVIL_RIGHT_WRITE
#define ANVIL_PERM_X ANVIL_RIGHT_EXEC

/* Object types, as reported in anvil_cap_info_t.type. */
#define ANVIL_OBJ_NONE         0u
#define ANVIL_OBJ_CNODE        1u
#define ANVIL_OBJ_TCB          2u
#define ANVIL_OBJ_VSPACE       3u
#define ANVIL_OBJ_VMO          4u
#define ANVIL_OBJ_ENDPOINT     5u
#define ANVIL_OBJ_NOTIFICATION 6u
#define ANVIL_OBJ_IOPORT       7u
#define ANVIL_OBJ_IRQ          8u

/* "Take the lowest free slot" for calls that write a slot. */
#define ANVIL_SLOT_ANY 0xffffffffu
/* "Any CPU" for tcb_configure's affinity. */
#define ANVIL_CPU_ANY 0xffffffffu

/* Well-known slots at process start. */
#define ANVIL_CAP_NULL        0u
#define ANVIL_CAP_SELF_CNODE  1u
#define ANVIL_CAP_SELF_VSPACE 2u
#define ANVIL_CAP_SELF_TCB    3u
#define ANVIL_CAP_NAMESERVER  4u
#define ANVIL_CAP_IOSERVER    5u
#define ANVIL_CAP_FAULT_EP    6u
/* Boot caps, given to init only. */
#define ANVIL_CAP_INITRAMFS   7u  /* VMO holding the initramfs (READ | GRANT); its
                                     size in bytes is init's start argument (rdi) */
#define ANVIL_CAP_COM1_IOPORT 8u  /* IOPORT cap for COM1's ports 0x3f8..0x3ff */
#define ANVIL_CAP_COM1_IRQ    9u  /* IRQ cap for COM1's interrupt line (ISA IRQ 4) */

/* COM1 as the boot caps describe it. */
#define ANVIL_COM1_PORT_BASE  0x3f8u
#define ANVIL_COM1_PORT_COUNT 8u
#define ANVIL_COM1_IRQ_LINE   4u

/* What cap_info reports about one slot. */
typedef struct anvil_cap_info {
    uint32_t type;      /* ANVIL_OBJ_* */
    uint32_t rights;    /* ANVIL_RIGHT_* bits */
    uint64_t badge;     /* 0 when unbadged */
    uint64_t object_id; /* unique per object, from a counter; never reused */
} anvil_cap_info_t;

/* A thread's user register file, for tcb_set_regs / tcb_get_regs. */
typedef struct anvil_regs {
    uint64_t rip, rsp, rflags;
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t fs_base;
} anvil_regs_t;

/* A thread's x87, SSE and AVX registers (tcb_get_ext_state, tcb_set_ext_state),
 * in the XSAVE standard format of the Intel SDM, vol. 1, 13.4: the legacy
 * region (FXSAVE's layout) at 0, the XSAVE header at 512 (XSTATE_BV: which of
 * x87 1, SSE 2, AVX 4 the block holds; a component left out is in its initial
 * state), the upper halves of ymm0..15 at 576. The simulator keeps x87 and SSE
 * only (it emulates no AVX). */
#define ANVIL_EXT_FCW       0u   /* uint16_t: x87 control word (0x37f at thread start) */
#define ANVIL_EXT_FSW       2u   /* uint16_t: x87 status word */
#define ANVIL_EXT_FTW       4u   /* uint8_t: abridged tag word (bit i: st register i in use) */
#define ANVIL_EXT_MXCSR     24u  /* uint32_t: SSE control/status (0x1f80 at thread start) */
#define ANVIL_EXT_ST0       32u  /* st0..st7: 10 bytes each, 16 apart */
#define ANVIL_EXT_XMM0      160u /* xmm0..xmm15: 16 bytes each */
#define ANVIL_EXT_XSTATE_BV 512u /* uint64_t */
#define ANVIL_EXT_YMM_HI0   576u /* the upper 128 bits of ymm0..ymm15: 16 bytes each */
#define ANVIL_EXT_STATE_SIZE 832u
typedef struct anvil_ext_state {
    uint8_t bytes[ANVIL_EXT_STATE_SIZE];
} anvil_ext_state_t;

#define ANVIL_MSG_MAX_BYTES 1024u
#define ANVIL_MSG_MAX_CAPS  4u

/* An IPC message. See ABI.md for how caps[] is read on send and on receive. */
typedef struct anvil_msg {
    uint64_t label;
    uint32_t len;
    uint32_t ncaps;
    uint8_t data[ANVIL_MSG_MAX_BYTES];
    anvil_cap_t caps[ANVIL_MSG_MAX_CAPS];
} anvil_msg_t;

/* The message the kernel sends on a thread's fault endpoint when it faults or
 * exits: label ANVIL_FAULT_MSG_LABEL, data = anvil_fault_msg_t, badge = the
 * badge of the fault endpoint cap given to tcb_configure. */
#define ANVIL_FAULT_MSG_LABEL 0xfa017ull
#define ANVIL_FAULT_KIND_EXIT  1u /* thread_exit; exit_code is its argument */
#define ANVIL_FAULT_KIND_PAGE  2u /* page fault; address is the faulting address */
#define ANVIL_FAULT_KIND_GP    3u /* general protection (e.g. a privileged instruction) */
#define ANVIL_FAULT_KIND_UD    4u /* invalid opcode */
#define ANVIL_FAULT_KIND_DE    5u /* divide error */
#define ANVIL_FAULT_KIND_OTHER 6u /* any other exception */
#define ANVIL_FAULT_KIND_MF    7u /* x87 floating-point error (#MF): an unmasked x87 exception */
#define ANVIL_FAULT_KIND_XM    8u /* SIMD floating-point exception (#XM): an unmasked MXCSR exception */
typedef struct anvil_fault_msg {
    uint64_t thread_id;  /* object id of the thread's TCB */
    uint32_t kind;       /* ANVIL_FAULT_KIND_* */
    uint32_t access;     /* page faults: 1 read, 2 write, 3 execute; else 0 */
    uint64_t address;    /* page faults: the faulting address; else 0 */
    uint64_t rip;        /* where the thread stopped */
    int64_t exit_code;   /* ANVIL_FAULT_KIND_EXIT: the exit code */
    uint64_t vector;     /* faults: the x86 exception vector (14 #PF, 13 #GP, ...) */
    uint64_t error_code; /* faults: the exception's error code (0 if it has none) */
} anvil_fault_msg_t;

/* User virtual addresses: [ANVIL_USER_BASE, ANVIL_USER_LIMIT). The top of the
 * canonical lower half above ANVIL_USER_LIMIT is reserved for the platform. */
#define ANVIL_PAGE_SIZE  4096ull
#define ANVIL_USER_BASE  0x0000000000001000ull
#define ANVIL_USER_LIMIT 0x00007fffffe00000ull

#ifdef __cplusplus
}
#endif

#endif /* ANVIL_TYPES_H */
