/* init: the first user program. For now it greets and exits; services come
 * with the userspace issue. */
#include <anvil/anvil.h>
#include <anvil/debug.h>

int main(uint64_t start_arg)
{
    (void)start_arg;
    anvil_cap_info_t vspace, tcb;
    anvil_status_t s = anvil_cap_info(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_VSPACE, &vspace);
    if (s == ANVIL_OK)
        s = anvil_cap_info(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_TCB, &tcb);
    if (s != ANVIL_OK) {
        anvil_debug_puts("init: cap_info failed: ");
        anvil_debug_puts(anvil_status_str(s));
        anvil_debug_puts("\n");
        return 1;
    }
    /* A process is named by its address space; a thread by its TCB. */
    anvil_debug_puts("init: hello from Anvil userspace (pid ");
    anvil_debug_put_u64(vspace.object_id);
    anvil_debug_puts(", tid ");
    anvil_debug_put_u64(tcb.object_id);
    anvil_debug_puts(")\n");
    return 0;
}
