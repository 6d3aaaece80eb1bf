/* ipc_bench: the IPC ping-pong benchmark. Runs as init of its own initramfs.
 *
 * Init spawns "ipc-bench-server" (a separate process, so every round trip
 * switches address spaces), lends it an endpoint, and calls it: call +
 * reply_recv, for 0 and 1024 bytes of data, with and without a capability in
 * each request. It prints one line per case with round trips and timestamp
 * units per round trip (TSC cycles on QEMU; basic blocks of virtual time in the
 * simulator, whose host time tools/bench.sh measures from outside). */
#include <anvil/anvil.h>
#include <anvil/cpio.h>
#include <anvil/debug.h>
#include <anvil/process.h>
#include <string.h>

#define ROUNDS 30000u
#define SERVER_EP_SLOT 8u

static anvil_msg_t g_req, g_reply;

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static int fail(const char *what, anvil_status_t s)
{
    anvil_debug_puts("ipc_bench: ");
    anvil_debug_puts(what);
    anvil_debug_puts(" failed: ");
    anvil_debug_puts(anvil_status_str(s));
    anvil_debug_puts("\n");
    return 1;
}

/* Runs ROUNDS calls of `len` bytes, lending `cap` (0: none) in each. */
static int run_case(const char *name, anvil_cap_t ep, uint32_t len, anvil_cap_t cap)
{
    g_req.label = 1;
    g_req.len = len;
    g_req.ncaps = cap ? 1 : 0;
    g_req.caps[0] = cap;
    const uint64_t start = rdtsc();
    for (uint32_t i = 0; i < ROUNDS; i++) {
        g_reply.ncaps = 0;
        anvil_status_t s = anvil_ipc_call(ep, &g_req, &g_reply);
        if (s != ANVIL_OK)
            return fail("ipc_call", s);
    }
    const uint64_t units = rdtsc() - start;
    anvil_debug_puts("ipc_bench: ");
    anvil_debug_puts(name);
    anvil_debug_puts(": ");
    anvil_debug_put_u64(ROUNDS);
    anvil_debug_puts(" round trips, ");
    anvil_debug_put_u64(units / ROUNDS);
    anvil_debug_puts(" timestamp units per round trip\n");
    return 0;
}

int main(uint64_t initramfs_size)
{
    const void *rd;
    const void *elf;
    size_t elf_len;
    anvil_status_t s = anvil_initramfs_map(initramfs_size, &rd);
    if (s == ANVIL_OK)
        s = anvil_cpio_find(rd, initramfs_size, "ipc-bench-server", &elf, &elf_len);
    if (s != ANVIL_OK)
        return fail("finding ipc-bench-server", s);
    anvil_cap_t ep, vmo;
    if ((s = anvil_endpoint_create(&ep)) != ANVIL_OK)
        return fail("endpoint_create", s);
    if ((s = anvil_vmo_create(4096, &vmo)) != ANVIL_OK)
        return fail("vmo_create", s);
    const anvil_spawn_cap_t lend = {ep, SERVER_EP_SLOT, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, 0};
    const anvil_spawn_options_t opts = {.priority = 128, .caps = &lend, .cap_count = 1};
    anvil_process_t server;
    if ((s = anvil_process_spawn(elf, elf_len, &opts, &server)) != ANVIL_OK)
        return fail("spawning the server", s);
    int failed = run_case("call+reply_recv, 0 bytes", ep, 0, 0);
    failed |= run_case("call+reply_recv, 1024 bytes", ep, 1024, 0);
    failed |= run_case("call+reply_recv, 0 bytes + 1 cap", ep, 0, vmo);
    anvil_process_destroy(&server);
    return failed;
}
