/* <anvil/anvil.h>: the whole Anvil ABI for C programs. */
#ifndef ANVIL_ANVIL_H
#define ANVIL_ANVIL_H

#include <stdint.h>
#include <anvil/status.h>
#include <anvil/types.h>
#include <anvil/syscalls.h>
#include <anvil/syscall_wrappers.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The name of a status code ("ANVIL_ERR_FAULT"), or "ANVIL_ERR_?" if unknown
 * (anvil_status_name's, libanvil/src/status.c). */
const char *anvil_status_str(anvil_status_t s);

/* Copies the cap at (src_cnode, src_slot) into (dst_cnode, dst_slot) with
 * rights & rights_mask and, for an unbadged endpoint/notification, a badge. */
static inline anvil_status_t anvil_cap_copy(anvil_cap_t src_cnode, uint32_t src_slot,
                                            anvil_cap_t dst_cnode, uint32_t dst_slot,
                                            uint32_t rights_mask, uint64_t badge)
{
    uint64_t a[ANVIL_SYSCALL_MAX_ARGS] = {src_cnode, src_slot, dst_cnode, dst_slot, rights_mask, badge, 0};
    uint64_t o[ANVIL_SYSCALL_MAX_OUTS];
    return anvil_syscall_raw(ANVIL_SYS_cap_copy, a, o);
}

/* As anvil_cap_copy into the lowest free slot of dst_cnode; returns it in *out_slot. */
static inline anvil_status_t anvil_cap_copy_any(anvil_cap_t src_cnode, uint32_t src_slot,
                                                anvil_cap_t dst_cnode, uint32_t rights_mask,
                                                uint64_t badge, uint32_t *out_slot)
{
    uint64_t a[ANVIL_SYSCALL_MAX_ARGS] = {src_cnode, src_slot, dst_cnode, ANVIL_SLOT_ANY, rights_mask, badge, 0};
    uint64_t o[ANVIL_SYSCALL_MAX_OUTS] = {0, 0};
    anvil_status_t s = anvil_syscall_raw(ANVIL_SYS_cap_copy, a, o);
    if (s == ANVIL_OK && out_slot)
        *out_slot = (uint32_t)o[0];
    return s;
}

/* Ends the calling thread with `code`; never returns. */
__attribute__((noreturn)) static inline void anvil_thread_exit(int64_t code)
{
    uint64_t a[ANVIL_SYSCALL_MAX_ARGS] = {(uint64_t)code, 0, 0, 0, 0, 0, 0};
    uint64_t o[ANVIL_SYSCALL_MAX_OUTS];
    for (;;)
        anvil_syscall_raw(ANVIL_SYS_thread_exit, a, o);
}

#ifdef __cplusplus
}
#endif

#endif /* ANVIL_ANVIL_H */
