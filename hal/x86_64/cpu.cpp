#include "hal/x86_64/cpu.h"

#include "hal/x86_64/arch.h"
#include "hal/x86_64/trap.h"

namespace x86 {

PerCpu g_percpu[kMaxCpus];

namespace {

// One IDT gate (interrupt gate: IF is cleared on entry).
struct [[gnu::packed]] IdtGate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};
static_assert(sizeof(IdtGate) == 16);

struct [[gnu::packed]] DescriptorPointer {
    uint16_t limit;
    uint64_t base;
};

constexpr size_t kIdtEntries = 256;
constexpr uint8_t kGateInterrupt = 0x8e;  // present, DPL 0, 64-bit interrupt gate
constexpr uint8_t kGateDpl3 = 0x60;
constexpr size_t kStubSize = 16;

alignas(16) IdtGate g_idt[kIdtEntries];

// Code/data segment descriptors; base and limit are ignored in long mode.
// Accessed bits set, as in the simulator's copy (sim/cpu_fault.h), whose GDT
// user code cannot write: a segment load then writes no descriptor.
constexpr uint64_t kDescKernelCode = 0x00af9b000000ffff;  // L, P, DPL0, code r/x
constexpr uint64_t kDescKernelData = 0x00cf93000000ffff;  // P, DPL0, data r/w
constexpr uint64_t kDescUserData = 0x00cff3000000ffff;    // P, DPL3, data r/w
constexpr uint64_t kDescUserCode = 0x00affb000000ffff;    // L, P, DPL3, code r/x

void set_gate(size_t vec, uint8_t ist, uint8_t attr) {
    const uint64_t addr = reinterpret_cast<uint64_t>(x86_vector_stubs) + vec * kStubSize;
    g_idt[vec] = IdtGate{static_cast<uint16_t>(addr), X86_SEL_KERNEL_CODE, ist, attr,
                         static_cast<uint16_t>(addr >> 16), static_cast<uint32_t>(addr >> 32), 0};
}

void enable_features() {
    uint32_t a, b, c, d;
    cpuid(0, 0, &a, &b, &c, &d);
    const uint32_t max_leaf = a;
    uint32_t leaf7_b = 0, leaf7_c = 0;
    if (max_leaf >= 7) cpuid(7, 0, &a, &leaf7_b, &leaf7_c, &d);

    // SSE for user code (the kernel itself is built with -mgeneral-regs-only).
    write_cr0((read_cr0() & ~kCr0Em) | kCr0Mp | kCr0Ne | kCr0Wp);
    uint64_t cr4 = read_cr4() | kCr4Pge | kCr4Osfxsr | kCr4Osxmmexcpt;
    // The kernel never touches user memory through user addresses, so SMEP/SMAP hold.
    if (leaf7_b & (1u << 7)) cr4 |= kCr4Smep;
    if (leaf7_b & (1u << 20)) cr4 |= kCr4Smap;
    if (leaf7_c & (1u << 2)) cr4 |= kCr4Umip;
    write_cr4(cr4);
    ext_enable();
}

void load_gdt_and_tss(PerCpu& pc) {
    pc.gdt[0] = 0;
    pc.gdt[1] = kDescKernelCode;
    pc.gdt[2] = kDescKernelData;
    pc.gdt[3] = 0;  // no 32-bit user code: compatibility mode is unreachable
    pc.gdt[4] = kDescUserData;
    pc.gdt[5] = kDescUserCode;
    const uint64_t tss = reinterpret_cast<uint64_t>(&pc.tss);
    const uint64_t limit = sizeof(Tss) - 1;
    pc.gdt[6] = (limit & 0xffff) | ((tss & 0xffffff) << 16) | (0x89ull << 40) |
                ((limit >> 16) << 48) | (((tss >> 24) & 0xff) << 56);
    pc.gdt[7] = tss >> 32;

    const DescriptorPointer gdtr{sizeof(pc.gdt) - 1, reinterpret_cast<uint64_t>(pc.gdt)};
    asm volatile(
        "lgdt %0\n\t"
        "mov %1, %%ds\n\t"
        "mov %1, %%es\n\t"
        "mov %1, %%ss\n\t"
        "xor %%eax, %%eax\n\t"
        "mov %%eax, %%fs\n\t"
        "mov %%eax, %%gs\n\t"
        "pushq %2\n\t"
        "lea 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:"
        :
        : "m"(gdtr), "r"(X86_SEL_KERNEL_DATA), "i"(X86_SEL_KERNEL_CODE)
        : "rax", "memory");
    asm volatile("ltr %w0" ::"r"(X86_SEL_TSS));
}

}  // namespace

void idt_init() {
    for (size_t vec = 0; vec < kIdtEntries; ++vec) set_gate(vec, 0, kGateInterrupt);
    set_gate(X86_VEC_DOUBLE_FAULT, X86_IST_DOUBLE_FAULT, kGateInterrupt);
    set_gate(2, X86_IST_NMI, kGateInterrupt);
    set_gate(18, X86_IST_MACHINE_CHECK, kGateInterrupt);
    // int3 and into may be used by user code: they raise #BP/#OF rather than #GP.
    set_gate(3, 0, kGateInterrupt | kGateDpl3);
    set_gate(4, 0, kGateInterrupt | kGateDpl3);
}

void cpu_init(uint32_t id) {
    PerCpu& pc = g_percpu[id];
    CpuStacks& stacks = x86_cpu_stacks[id];
    pc.self = &pc;
    pc.cpu_id = id;
    pc.kernel_stack_top = reinterpret_cast<uint64_t>(stacks.kernel + sizeof(stacks.kernel));
    pc.tss.rsp[0] = pc.kernel_stack_top;
    pc.tss.ist[X86_IST_DOUBLE_FAULT - 1] =
        reinterpret_cast<uint64_t>(stacks.double_fault + sizeof(stacks.double_fault));
    pc.tss.ist[X86_IST_NMI - 1] = reinterpret_cast<uint64_t>(stacks.nmi + sizeof(stacks.nmi));
    pc.tss.ist[X86_IST_MACHINE_CHECK - 1] =
        reinterpret_cast<uint64_t>(stacks.machine_check + sizeof(stacks.machine_check));
    // Every port faults at CPL 3 (IOPL is 0) until an address space's grants open it.
    pc.tss.iomap_base = offsetof(Tss, io_bitmap);
    __builtin_memset(pc.tss.io_bitmap, 0xff, sizeof(pc.tss.io_bitmap));
    pc.tss.io_bitmap_end = 0xff;

    enable_features();
    load_gdt_and_tss(pc);
    const DescriptorPointer idtr{sizeof(g_idt) - 1, reinterpret_cast<uint64_t>(g_idt)};
    asm volatile("lidt %0" ::"m"(idtr));

    // In the kernel GS points at PerCpu; user GS base (always 0) waits in KERNEL_GS_BASE.
    wrmsr(kMsrGsBase, reinterpret_cast<uint64_t>(&pc));
    wrmsr(kMsrKernelGsBase, 0);

    wrmsr(kMsrEfer, rdmsr(kMsrEfer) | kEferSce | kEferNxe);
    // SYSCALL loads CS/SS from STAR[47:32]; SYSRET (unused) would from STAR[63:48].
    wrmsr(kMsrStar, (uint64_t{X86_SEL_USER_CODE32} << 48) | (uint64_t{X86_SEL_KERNEL_CODE} << 32));
    wrmsr(kMsrLstar, reinterpret_cast<uint64_t>(&x86_syscall_entry));
    // The user's flags stay in r11. The kernel must not run with any of them:
    // NT makes iretq a task return (#GP in long mode), AC lifts SMAP, DF
    // reverses string instructions, TF single-steps.
    wrmsr(kMsrSfmask, kRflagsAllDefined);
    cpuid_faulting_enable(id);
}

}  // namespace x86

x86::CpuStacks x86_cpu_stacks[x86::kMaxCpus];

uint32_t hal::cpu_id() {
    uint32_t id;
    asm volatile("movl %%gs:%c1, %0" : "=r"(id) : "i"(X86_PERCPU_CPU_ID));
    return id;
}
