/* tally: a small program for source-level debugging with gdb through
 * anvil-debug's GDB stub (docs/debugging.md, tests/debug/gdb.sh).
 *
 * The main service of initramfs-tally.cpio: it adds 1..TALLY_ROUNDS into a
 * global total through tally(), yielding the CPU after each step, and exits
 * with 0 if the total is right. Something to break on (tally), a variable to
 * read (total), and a syscall to catch (thread_yield). */
#include <anvil/anvil.h>
#include <stdio.h>

#define TALLY_ROUNDS 5

/* The running total: a global, so gdb can read it from memory at any point. */
volatile long total;

/* Adds `n` to the total and returns it (not inlined: a place to break). */
__attribute__((noinline)) long tally(long n)
{
    total += n;
    return total;
}

int main(uint64_t start_arg)
{
    (void)start_arg;
    for (long i = 1; i <= TALLY_ROUNDS; i++) {
        tally(i);
        anvil_thread_yield();
    }
    printf("tally: total %ld\n", total);
    return total == TALLY_ROUNDS * (TALLY_ROUNDS + 1) / 2 ? 0 : 1;
}
