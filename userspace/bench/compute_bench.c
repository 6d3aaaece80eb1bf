/* compute_bench: user-code throughput. Runs as init of its own initramfs and
 * makes no syscall until its loop is done, so the simulator's cost of running
 * it is the cost of executing user code under deterministic preemption (the
 * block counter and the timer slices). tools/anvil-cpu-floor runs the very
 * same ELF on a bare Unicorn engine with no hooks in the loop, for the ratio
 * (docs/benchmarks.md). */
#include <anvil/anvil.h>
#include <anvil/debug.h>

#define ITERATIONS 300000000u

/* A loop with data-dependent branches, so it is many short basic blocks like
 * real code rather than one long one. */
static uint64_t work(uint32_t n)
{
    uint64_t x = 0x9e3779b97f4a7c15ull, acc = 0;
    for (uint32_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (x & 1)
            acc += x >> 3;
        else
            acc ^= x;
    }
    return acc;
}

int main(uint64_t start_arg)
{
    (void)start_arg;
    const uint64_t r = work(ITERATIONS);
    anvil_debug_puts("compute_bench: ");
    anvil_debug_put_u64(ITERATIONS);
    anvil_debug_puts(" iterations, result ");
    anvil_debug_put_u64(r);
    anvil_debug_puts("\n");
    return 0;
}
