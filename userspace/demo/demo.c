/* demo: the main program of the default workload (tools/anvil run).
 *
 * Shows capability-mediated IPC: it holds no cap to the echo service at start,
 * finds one through the name server, calls it, and shows that a name nobody
 * registered gives nothing. All output goes through the IO server. */
#include <anvil/anvil.h>
#include <anvil/services.h>
#include <stdio.h>
#include <string.h>

/* How many times to yield while the echo service is still starting. */
#define LOOKUP_TRIES 1000

static anvil_status_t call_echo(anvil_cap_t echo, const char *text)
{
    static anvil_msg_t req, reply;
    const size_t len = strlen(text);
    req.label = 0;
    req.len = (uint32_t)len;
    req.ncaps = 0;
    memcpy(req.data, text, len);
    reply.ncaps = 0;
    const anvil_status_t s = anvil_ipc_call(echo, &req, &reply);
    if (s == ANVIL_OK)
        printf("demo: echo(\"%s\") = \"%.*s\" (%llu letters raised)\n", text, (int)reply.len,
               (const char *)reply.data, (unsigned long long)reply.label);
    return s;
}

int main(uint64_t start_arg)
{
    (void)start_arg;
    anvil_stdio_use_ioserver();
    printf("demo: Anvil demo: capability-mediated IPC through the name server\n");

    anvil_cap_info_t info;
    anvil_cap_t echo = 0;
    anvil_status_t s = ANVIL_ERR_NOT_FOUND;
    for (int i = 0; i < LOOKUP_TRIES && s == ANVIL_ERR_NOT_FOUND; i++) {
        s = anvil_ns_lookup("echo", &echo);
        if (s == ANVIL_ERR_NOT_FOUND)
            anvil_thread_yield();
    }
    if (s != ANVIL_OK) {
        printf("demo: lookup of \"echo\" failed: %s\n", anvil_status_str(s));
        return 1;
    }
    s = anvil_cap_info(ANVIL_CAP_SELF_CNODE, echo, &info);
    if (s != ANVIL_OK || info.type != ANVIL_OBJ_ENDPOINT) {
        printf("demo: the name server did not give an endpoint\n");
        return 1;
    }
    printf("demo: name server gave slot %u: endpoint #%llu, rights 0x%x\n", echo,
           (unsigned long long)info.object_id, info.rights);

    if (call_echo(echo, "hello, anvil") != ANVIL_OK || call_echo(echo, "capabilities all the way down") != ANVIL_OK) {
        printf("demo: calling echo failed\n");
        return 1;
    }

    anvil_cap_t none;
    s = anvil_ns_lookup("no-such-service", &none);
    printf("demo: lookup of \"no-such-service\": %s\n", anvil_status_str(s));
    if (s != ANVIL_ERR_NOT_FOUND)
        return 1;

    anvil_cap_delete(ANVIL_CAP_SELF_CNODE, echo);
    printf("demo: done\n");
    return 0;
}
