/* ipc-bench-server: answers every call on the endpoint in slot 8 with an empty
 * reply, deleting any cap it was lent (so the slots do not fill up). */
#include <anvil/anvil.h>

#define EP_SLOT 8u
#define LANDING_SLOT 9u

static anvil_msg_t g_in, g_out;

int main(uint64_t unused)
{
    (void)unused;
    uint64_t badge;
    g_in.ncaps = 1;
    g_in.caps[0] = LANDING_SLOT;
    anvil_status_t s = anvil_ipc_recv(EP_SLOT, &g_in, &badge);
    while (s == ANVIL_OK) {
        if (g_in.ncaps)
            anvil_cap_delete(ANVIL_CAP_SELF_CNODE, LANDING_SLOT);
        g_in.ncaps = 1;
        g_in.caps[0] = LANDING_SLOT;
        s = anvil_ipc_reply_recv(EP_SLOT, &g_out, &g_in, &badge);
    }
    return 0;
}
