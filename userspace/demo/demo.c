/* demo: the main program of the default workload (tools/anvil run).
 *
 * Shows capability-mediated IPC: it holds no cap to the echo service at start,
 * finds one through the name server, calls it, and shows that a name nobody
 * registered gives nothing. An echo that dies is looked up again once init has
 * restarted it (call_echo_again). All output goes through the IO server. */
#include <anvil/anvil.h>
#include <anvil/services.h>
#include <stdio.h>
#include <string.h>

/* How many times to yield while the echo service is still starting, and how
 * many times to look it up again once the echo it had is gone. */
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

/* Looks "echo" up into *echo, yielding while nobody has registered it. */
static anvil_status_t lookup_echo(anvil_cap_t *echo)
{
    anvil_status_t s = ANVIL_ERR_NOT_FOUND;
    for (int i = 0; i < LOOKUP_TRIES && s == ANVIL_ERR_NOT_FOUND; i++) {
        s = anvil_ns_lookup("echo", echo);
        if (s == ANVIL_ERR_NOT_FOUND)
            anvil_thread_yield();
    }
    return s;
}

/* Calls echo as call_echo does. PEER_CLOSED says the echo behind *echo is
 * gone: it died serving this call, or nobody can receive on its endpoint any
 * more. init restarts echo, which registers a new endpoint under the same
 * name; until it has, the name server still gives the old one, and a call on
 * it fails at once. So: drop the cap, yield, look "echo" up again and call
 * again (echo has no state: a request it died serving can be sent twice). */
static anvil_status_t call_echo_again(anvil_cap_t *echo, const char *text)
{
    anvil_status_t s = call_echo(*echo, text);
    if (s == ANVIL_ERR_PEER_CLOSED)
        printf("demo: echo is gone; looking it up again\n");
    for (int i = 0; i < LOOKUP_TRIES && s == ANVIL_ERR_PEER_CLOSED; i++) {
        anvil_cap_delete(ANVIL_CAP_SELF_CNODE, *echo);
        anvil_thread_yield();
        s = lookup_echo(echo);
        if (s == ANVIL_OK)
            s = call_echo(*echo, text);
    }
    return s;
}

int main(uint64_t start_arg)
{
    (void)start_arg;
    anvil_stdio_use_ioserver();
    printf("demo: Anvil demo: capability-mediated IPC through the name server\n");

    anvil_cap_info_t info;
    anvil_cap_t echo = 0;
    anvil_status_t s = lookup_echo(&echo);
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

    s = call_echo_again(&echo, "hello, anvil");
    if (s == ANVIL_OK)
        s = call_echo_again(&echo, "capabilities all the way down");
    if (s != ANVIL_OK) {
        printf("demo: calling echo failed: %s\n", anvil_status_str(s));
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
