/* CPUID as user code sees it: the one table both backends answer from.
 *
 * On x86-64 the kernel turns on CPUID faulting and answers a user CPUID from
 * this table (hal/x86_64/cpuid.cpp); the simulator answers it from the same
 * table (a Unicorn CPUID hook, sim/engine.cpp). So a program sees the same
 * values on QEMU, on hardware with CPUID faulting and in the simulator: what
 * Anvil promises, not what the CPU or the emulator has. It promises x87, SSE
 * and SSE2 (FXSAVE, no XSAVE, no AVX: the simulator runs none of those), 64-bit
 * mode with SYSCALL and NX, and a TSC. ECX is not an input of any leaf here;
 * a leaf not in the table reads as 0 in all four registers. */
#ifndef ANVIL_CPUID_H
#define ANVIL_CPUID_H

#include <stdint.h>

struct anvil_cpuid_leaf {
    uint32_t leaf;
    uint32_t eax, ebx, ecx, edx;
};

/* CPUID.1:EDX: FPU, TSC, CX8, CMOV, MMX, FXSR, SSE, SSE2. */
#define ANVIL_CPUID1_EDX                                                                        \
    ((1u << 0) | (1u << 4) | (1u << 8) | (1u << 15) | (1u << 23) | (1u << 24) | (1u << 25) |  \
     (1u << 26))
/* CPUID.80000001h: LAHF/SAHF in 64-bit mode (ECX); SYSCALL, NX, long mode (EDX). */
#define ANVIL_CPUID_EXT1_ECX (1u << 0)
#define ANVIL_CPUID_EXT1_EDX ((1u << 11) | (1u << 20) | (1u << 29))

/* Leaf 0: the highest basic leaf, and the vendor "AnvilVirtCPU" (EBX, EDX,
 * ECX); leaf 1: family 6, model 0, stepping 0. */
static const struct anvil_cpuid_leaf anvil_cpuid_table[] = {
    {0x0u, 0x1u, 0x69766e41u /* Anvi */, 0x55504374u /* tCPU */, 0x7269566cu /* lVir */},
    {0x1u, 0x600u, 0x0u, 0x0u, ANVIL_CPUID1_EDX},
    {0x80000000u, 0x80000001u, 0x0u, 0x0u, 0x0u},
    {0x80000001u, 0x0u, 0x0u, ANVIL_CPUID_EXT1_ECX, ANVIL_CPUID_EXT1_EDX},
};
#define ANVIL_CPUID_LEAVES (sizeof anvil_cpuid_table / sizeof anvil_cpuid_table[0])

/* The table's answer to CPUID with EAX = `leaf`. */
static inline struct anvil_cpuid_leaf anvil_cpuid_answer(uint32_t leaf)
{
    for (unsigned i = 0; i < ANVIL_CPUID_LEAVES; i++)
        if (anvil_cpuid_table[i].leaf == leaf)
            return anvil_cpuid_table[i];
    struct anvil_cpuid_leaf none = {leaf, 0, 0, 0, 0};
    return none;
}

#endif
