/* init: the first user program. For now it greets and exits; services come
 * with the userspace issue. */
#include <anvil/anvil.h>

static uint64_t str_len(const char *s)
{
    uint64_t n = 0;
    while (s[n])
        n++;
    return n;
}

static void put(const char *s) { anvil_debug_write(s, str_len(s)); }

/* Writes `v` in decimal. */
static void put_u64(uint64_t v)
{
    char buf[21];
    int i = 20;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(&buf[i]);
}

int main(uint64_t start_arg)
{
    (void)start_arg;
    anvil_cap_info_t vspace, tcb;
    anvil_status_t s = anvil_cap_info(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_VSPACE, &vspace);
    if (s == ANVIL_OK)
        s = anvil_cap_info(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_TCB, &tcb);
    if (s != ANVIL_OK) {
        put("init: cap_info failed: ");
        put(anvil_status_str(s));
        put("\n");
        return 1;
    }
    /* A process is named by its address space; a thread by its TCB. */
    put("init: hello from Anvil userspace (pid ");
    put_u64(vspace.object_id);
    put(", tid ");
    put_u64(tcb.object_id);
    put(")\n");
    return 0;
}
