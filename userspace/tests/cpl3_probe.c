/* Runs as init in a test initramfs: proves user code runs at CPL 3 by executing
 * `cli`, which must raise #GP and stop this thread (the kernel reports it and,
 * because this is init, halts with status 125). */
#include <anvil/anvil.h>

int main(uint64_t start_arg)
{
    (void)start_arg;
    static const char msg[] = "cpl3: executing cli from user mode\n";
    anvil_debug_write(msg, sizeof msg - 1);
    __asm__ volatile("cli");
    static const char bad[] = "cpl3: cli did not fault: user code is privileged!\n";
    anvil_debug_write(bad, sizeof bad - 1);
    return 3;
}
