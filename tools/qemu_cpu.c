/* qemu-cpu: prints the QEMU -cpu model that says what anvil/cpuid.h says, so
 * that a user program sees the table's CPUID on QEMU, which has no CPUID
 * faulting (docs/x86_64.md). tools/qemu-run.sh builds and runs it: the table
 * stays the one place the values are written.
 *
 * The model is QEMU's featureless `base` without its TCG hypervisor leaves
 * (tcg-cpuid=off), with the table's vendor, version, highest leaves and
 * feature bits by QEMU's names. What QEMU lays out by itself (the CLFLUSH line
 * size in leaf 1 EBX, the vendor in 80000000h, leaf 1's EAX in 80000001h,
 * empty 40000000h and 40000001h) the table must carry as QEMU does; a table
 * that does not, or a bit with no QEMU name here, exits 1 naming it.
 *
 * usage: qemu-cpu            (-h, --help: this text; other arguments: exit 2) */
#include <anvil/cpuid.h>
#include <stdio.h>
#include <string.h>

struct feature {
    uint32_t leaf;
    char reg; /* 'c' or 'd' */
    unsigned bit;
    const char* name;
};

/* QEMU's names of the bits the table may set. */
static const struct feature features[] = {
    {0x1, 'd', 0, "fpu"},          {0x1, 'd', 3, "pse"},         {0x1, 'd', 4, "tsc"},
    {0x1, 'd', 5, "msr"},          {0x1, 'd', 6, "pae"},         {0x1, 'd', 8, "cx8"},
    {0x1, 'd', 9, "apic"},         {0x1, 'd', 13, "pge"},        {0x1, 'd', 15, "cmov"},
    {0x1, 'd', 23, "mmx"},         {0x1, 'd', 24, "fxsr"},       {0x1, 'd', 25, "sse"},
    {0x1, 'd', 26, "sse2"},        {0x80000001, 'c', 0, "lahf-lm"}, {0x80000001, 'd', 11, "syscall"},
    {0x80000001, 'd', 20, "nx"},   {0x80000001, 'd', 29, "lm"},
};

static int fail(const char* what)
{
    fprintf(stderr, "qemu-cpu: anvil/cpuid.h: %s\n", what);
    return 1;
}

/* Appends +name for every bit of `value` (register `reg` of `leaf`); false
 * if a bit has no QEMU name. */
static int add_features(uint32_t leaf, char reg, uint32_t value)
{
    for (unsigned i = 0; i < sizeof features / sizeof features[0]; i++)
        if (features[i].leaf == leaf && features[i].reg == reg && (value >> features[i].bit & 1)) {
            printf(",+%s", features[i].name);
            value &= ~(1u << features[i].bit);
        }
    if (value == 0)
        return 1;
    fprintf(stderr, "qemu-cpu: anvil/cpuid.h: CPUID.%xh:E%cX bits 0x%x have no QEMU name in tools/qemu_cpu.c\n", leaf,
            reg == 'c' ? 'C' : 'D', value);
    return 0;
}

static int layout_is_qemus(struct anvil_cpuid_leaf vendor, struct anvil_cpuid_leaf one, struct anvil_cpuid_leaf ext,
                           struct anvil_cpuid_leaf ext1)
{
    const struct anvil_cpuid_leaf hv = anvil_cpuid_answer(0x40000000u, 0), hv1 = anvil_cpuid_answer(0x40000001u, 0);
    return one.ebx == (8u << 8) && one.ecx == 0 && ext.ebx == vendor.ebx && ext.ecx == vendor.ecx &&
           ext.edx == vendor.edx && ext1.eax == one.eax && ext1.ebx == 0 &&
           (hv.eax | hv.ebx | hv.ecx | hv.edx | hv1.eax | hv1.ebx | hv1.ecx | hv1.edx) == 0;
}

int main(int argc, char** argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        puts("usage: qemu-cpu\nPrints the QEMU -cpu model that gives the CPUID of anvil/cpuid.h.");
        return 0;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: qemu-cpu (no arguments)\n");
        return 2;
    }
    const struct anvil_cpuid_leaf vendor = anvil_cpuid_answer(0, 0), one = anvil_cpuid_answer(1, 0),
                                  ext = anvil_cpuid_answer(0x80000000u, 0), ext1 = anvil_cpuid_answer(0x80000001u, 0);
    if (!layout_is_qemus(vendor, one, ext, ext1))
        return fail("leaf 1 EBX/ECX, 40000000h, 40000001h, 80000000h or 80000001h EAX/EBX are not what QEMU "
                    "derives for the model");
    char name[13];
    memcpy(name, &vendor.ebx, 4), memcpy(name + 4, &vendor.edx, 4), memcpy(name + 8, &vendor.ecx, 4);
    name[12] = '\0';
    if (strchr(name, ',') || strlen(name) != 12)
        return fail("the vendor is not 12 characters QEMU can take");
    /* Family and model with their extended fields (SDM vol. 2A, CPUID leaf 1). */
    const uint32_t family = (one.eax >> 8 & 0xf) + (one.eax >> 20 & 0xff);
    const uint32_t model = (one.eax >> 4 & 0xf) | (one.eax >> 12 & 0xf0);
    printf("base,tcg-cpuid=off,vendor=%s,family=%u,model=%u,stepping=%u,level=%u,xlevel=0x%x", name, family, model, one.eax & 0xf,
           vendor.eax, ext.eax);
    const int named = add_features(1, 'd', one.edx) && add_features(0x80000001u, 'c', ext1.ecx) &&
                      add_features(0x80000001u, 'd', ext1.edx);
    printf("\n");
    return named ? 0 : 1;
}
