// User CPUID answered from Anvil's table (anvil/cpuid.h), so that a program
// sees on x86-64 the values it sees in the simulator.
//
// CPUID faulting (Intel SDM vol. 4, MSR_PLATFORM_INFO bit 31 says the CPU has
// it, MSR_MISC_FEATURES_ENABLES bit 0 turns it on) makes CPUID at CPL 3 a #GP;
// x86_trap hands that #GP to cpuid_emulate before it becomes a fault. A CPU
// without it lets user code see its own CPUID (reported at boot): under QEMU,
// whose TCG has none, that is the CPU model tools/qemu-run.sh makes from the
// table.
#include <anvil/cpuid.h>

#include "hal/x86_64/arch.h"
#include "hal/x86_64/cpu.h"
#include "hal/x86_64/paging.h"
#include "hal/x86_64/serial.h"
#include "hal/x86_64/trap.h"

// rdmsr of an MSR the CPU may lack (entry.S): false if it raised #GP.
extern "C" bool x86_rdmsr_probe(uint32_t msr, uint64_t* value);
extern "C" char x86_rdmsr_probe_insn[], x86_rdmsr_probe_fault[];

namespace x86 {

namespace {

constexpr uint32_t kMsrPlatformInfo = 0xce;
constexpr uint32_t kMsrMiscFeaturesEnables = 0x140;
constexpr uint64_t kPlatformInfoCpuidFaulting = 1ull << 31;
constexpr uint64_t kMiscCpuidFaulting = 1u << 0;

}  // namespace

void cpuid_faulting_enable(uint32_t cpu) {
    uint64_t info = 0;
    const bool has_msr = x86_rdmsr_probe(kMsrPlatformInfo, &info);
    if (!(info & kPlatformInfoCpuidFaulting)) {
        if (cpu == 0) {
            print(has_msr ? "x86_64: no CPUID faulting (MSR_PLATFORM_INFO bit 31 clear)"
                          : "x86_64: no CPUID faulting (no MSR_PLATFORM_INFO)");
            print(": user code sees this CPU's own CPUID (tools/qemu-run.sh gives QEMU one made from anvil/cpuid.h)\n");
        }
        return;
    }
    if (cpu == 0) print("x86_64: CPUID faulting on: user CPUID answered from anvil/cpuid.h\n");
    wrmsr(kMsrMiscFeaturesEnables, rdmsr(kMsrMiscFeaturesEnables) | kMiscCpuidFaulting);
}

bool rdmsr_probe_fixup(TrapFrame* frame) {
    if (frame->rip != reinterpret_cast<uint64_t>(x86_rdmsr_probe_insn)) return false;
    frame->rip = reinterpret_cast<uint64_t>(x86_rdmsr_probe_fault);
    return true;
}

bool cpuid_emulate(const PerCpu* pc, hal::UserRegs* regs) {
    uint8_t insn[2];
    if (!user_byte(pc->active_as, regs->rip, &insn[0]) || !user_byte(pc->active_as, regs->rip + 1, &insn[1]) ||
        insn[0] != 0x0f || insn[1] != 0xa2)
        return false;
    const anvil_cpuid_leaf v = anvil_cpuid_answer(static_cast<uint32_t>(regs->rax), pc->apic_id);
    regs->rax = v.eax, regs->rbx = v.ebx, regs->rcx = v.ecx, regs->rdx = v.edx;
    regs->rip += 2;
    return true;
}

}  // namespace x86
