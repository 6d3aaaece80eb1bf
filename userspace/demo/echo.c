/* echo: a small service for the default workload. It publishes an endpoint as
 * "echo" through the name server and answers every call with the message's
 * bytes upper-cased; the label of the reply is the number of bytes changed. */
#include <anvil/anvil.h>
#include <anvil/services.h>
#include <stdio.h>

int main(uint64_t start_arg)
{
    (void)start_arg;
    anvil_stdio_use_ioserver();
    /* Clients get a cap that can only call (WRITE) and pass caps (GRANT): a
     * cap with READ would let them take other clients' requests. */
    anvil_cap_t ep, client = 0;
    anvil_status_t s = anvil_endpoint_create(&ep);
    if (s == ANVIL_OK)
        s = anvil_cap_copy_any(ANVIL_CAP_SELF_CNODE, ep, ANVIL_CAP_SELF_CNODE,
                               ANVIL_RIGHT_WRITE | ANVIL_RIGHT_GRANT, 0, &client);
    if (s == ANVIL_OK)
        s = anvil_ns_register("echo", client);
    if (client)
        anvil_cap_delete(ANVIL_CAP_SELF_CNODE, client); /* the name server keeps its copy */
    if (s != ANVIL_OK) {
        printf("echo: cannot publish \"echo\": %s\n", anvil_status_str(s));
        return 1;
    }
    printf("echo: serving \"echo\"\n");

    static anvil_msg_t msg, reply;
    uint64_t badge;
    msg.ncaps = 0;
    s = anvil_ipc_recv(ep, &msg, &badge);
    for (;;) {
        if (s != ANVIL_OK) {
            printf("echo: receive failed: %s\n", anvil_status_str(s));
            return 1;
        }
        uint64_t changed = 0;
        for (uint32_t i = 0; i < msg.len; i++) {
            const uint8_t c = msg.data[i];
            reply.data[i] = (c >= 'a' && c <= 'z') ? (uint8_t)(c - 'a' + 'A') : c;
            changed += reply.data[i] != c;
        }
        reply.label = changed;
        reply.len = msg.len;
        reply.ncaps = 0;
        msg.ncaps = 0;
        s = anvil_ipc_reply_recv(ep, &reply, &msg, &badge);
    }
}
