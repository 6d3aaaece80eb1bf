/* CPUID as user code sees it: the one table both backends answer from.
 *
 * The simulator answers every user CPUID from this table (a Unicorn CPUID
 * hook, sim/engine.cpp). On x86-64 the kernel turns on CPUID faulting where
 * the CPU has it and answers from the table too (hal/x86_64/cpuid.cpp); QEMU's
 * TCG has no CPUID faulting, so tools/qemu-run.sh gives QEMU a CPU model that
 * says what the table says (`-cpu base,...`, made from this table by
 * tools/qemu_cpu.c). So a program sees the same values on QEMU, on hardware
 * with CPUID faulting and in the simulator: what Anvil promises, not what the
 * CPU or the emulator has.
 *
 * It promises x87, SSE and SSE2 (FXSAVE, no XSAVE, no AVX: the simulator runs
 * none of those), 64-bit mode with SYSCALL and NX, a TSC, and what the x86_64
 * kernel itself needs to run on the QEMU model (PSE, MSR, PAE, CX8, APIC, PGE).
 * The leaves are laid out as QEMU lays them out for such a model: leaf 1 EBX
 * carries the CLFLUSH line size (8 quadwords) and the CPU's initial APIC ID
 * (the one per-CPU field; no logical-processor count: one CPU per package),
 * 80000000h repeats the vendor and 80000001h leaf 1's EAX, and the hypervisor
 * leaves 40000000h and 40000001h read as 0 (QEMU has them; it names no
 * hypervisor there with tcg-cpuid=off). ECX is not an input of any leaf here.
 * A leaf not in the table reads as the highest basic leaf: what Intel CPUs do
 * for a leaf above the highest (SDM vol. 2A, CPUID), and QEMU for any other. */
#ifndef ANVIL_CPUID_H
#define ANVIL_CPUID_H

#include <stdint.h>

struct anvil_cpuid_leaf {
    uint32_t leaf;
    uint32_t eax, ebx, ecx, edx;
};

/* The vendor "AnvilVirtCPU" as leaf 0 returns it (EBX, EDX, ECX). */
#define ANVIL_CPUID_VENDOR_EBX 0x69766e41u /* Anvi */
#define ANVIL_CPUID_VENDOR_EDX 0x7269566cu /* lVir */
#define ANVIL_CPUID_VENDOR_ECX 0x55504374u /* tCPU */
/* The highest basic and extended leaves. */
#define ANVIL_CPUID_MAX_BASIC 0x1u
#define ANVIL_CPUID_MAX_EXT 0x80000001u
/* CPUID.1:EAX: family 6, model 0, stepping 0. */
#define ANVIL_CPUID_VERSION 0x600u
/* CPUID.1:EBX: CLFLUSH line size 8 quadwords (bits 15:8); the initial APIC ID
 * (bits 31:24) is the CPU's own. */
#define ANVIL_CPUID1_EBX (8u << 8)
#define ANVIL_CPUID1_EBX_APIC_ID_SHIFT 24
/* CPUID.1:EDX: FPU, PSE, TSC, MSR, PAE, CX8, APIC, PGE, CMOV, MMX, FXSR, SSE, SSE2. */
#define ANVIL_CPUID1_EDX                                                                        \
    ((1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 9) |      \
     (1u << 13) | (1u << 15) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26))
/* CPUID.80000001h: LAHF/SAHF in 64-bit mode (ECX); SYSCALL, NX, long mode (EDX). */
#define ANVIL_CPUID_EXT1_ECX (1u << 0)
#define ANVIL_CPUID_EXT1_EDX ((1u << 11) | (1u << 20) | (1u << 29))

static const struct anvil_cpuid_leaf anvil_cpuid_table[] = {
    {0x0u, ANVIL_CPUID_MAX_BASIC, ANVIL_CPUID_VENDOR_EBX, ANVIL_CPUID_VENDOR_ECX, ANVIL_CPUID_VENDOR_EDX},
    {0x1u, ANVIL_CPUID_VERSION, ANVIL_CPUID1_EBX, 0x0u, ANVIL_CPUID1_EDX},
    {0x40000000u, 0x0u, 0x0u, 0x0u, 0x0u},
    {0x40000001u, 0x0u, 0x0u, 0x0u, 0x0u},
    {0x80000000u, ANVIL_CPUID_MAX_EXT, ANVIL_CPUID_VENDOR_EBX, ANVIL_CPUID_VENDOR_ECX, ANVIL_CPUID_VENDOR_EDX},
    {0x80000001u, ANVIL_CPUID_VERSION, 0x0u, ANVIL_CPUID_EXT1_ECX, ANVIL_CPUID_EXT1_EDX},
};
#define ANVIL_CPUID_LEAVES (sizeof anvil_cpuid_table / sizeof anvil_cpuid_table[0])

/* The table's answer to CPUID with EAX = `leaf` on the CPU whose initial APIC
 * ID is `apic_id`. */
static inline struct anvil_cpuid_leaf anvil_cpuid_answer(uint32_t leaf, uint32_t apic_id)
{
    uint32_t answered = ANVIL_CPUID_MAX_BASIC;
    for (unsigned i = 0; i < ANVIL_CPUID_LEAVES; i++)
        if (anvil_cpuid_table[i].leaf == leaf)
            answered = leaf;
    struct anvil_cpuid_leaf v = {0, 0, 0, 0, 0};
    for (unsigned i = 0; i < ANVIL_CPUID_LEAVES; i++)
        if (anvil_cpuid_table[i].leaf == answered)
            v = anvil_cpuid_table[i];
    if (answered == 0x1u)
        v.ebx |= apic_id << ANVIL_CPUID1_EBX_APIC_ID_SHIFT;
    v.leaf = leaf;
    return v;
}

#endif
