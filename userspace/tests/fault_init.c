/* Runs as init in a test initramfs: faults at once by writing to the kernel's
 * half of the address space. The kernel must report the fault and halt with
 * status 125 (init faulted): no crash, no hang, no triple fault. */
#include <anvil/anvil.h>

int main(uint64_t start_arg)
{
    (void)start_arg;
    *(volatile uint64_t *)0xffffffff80000000ull = 0x616e76696c;
    static const char bad[] = "fault-init: a user write to the kernel half did not fault!\n";
    anvil_debug_write(bad, sizeof bad - 1);
    return 3;
}
