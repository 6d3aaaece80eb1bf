// The HAL implemented on top of the simulated machine (sim/).
#include "sim/machine.h"

#include <anvil/exit_codes.h>
#include <hal/hal.h>

#include <cstdio>
#include <cstdlib>

namespace hal {

namespace {
sim::Machine& machine() {
    sim::Machine* m = sim::Machine::active();
    if (!m) {
        std::fprintf(stderr, "anvil-sim: HAL used with no active machine\n");
        std::abort();
    }
    return *m;
}
}  // namespace

void* phys_to_virt(paddr_t pa) { return machine().phys_to_virt(pa); }
void console_write(const char* s, size_t len) { machine().console_write(s, len); }
void machine_halt(int code) { machine().request_halt(code & 0x7f); }
void trace_write(const void* data, size_t len) { machine().trace_write(data, len); }

void panic_halt() {
    std::fflush(stdout);
    std::_Exit(ANVIL_EXIT_PANIC);
}

uint32_t cpu_id() { return machine().current_cpu(); }
void cpu_wake(uint32_t) {}  // every vCPU is polled each step
AsHandle as_create() { return machine().as_create(); }
void as_destroy(AsHandle as) { machine().as_destroy(as); }
bool as_map(AsHandle as, vaddr_t va, const paddr_t* frames, size_t count, uint32_t perms) {
    return machine().as_map(as, va, frames, count, perms);
}
void as_unmap(AsHandle as, vaddr_t va, size_t count) { machine().as_unmap(as, va, count); }
bool as_allow_ioports(AsHandle as, uint16_t base, uint32_t count) {
    return machine().as_allow_ioports(as, base, count);
}
void user_regs_sync(UserRegs& regs) {
    // No machine (a host test without one): no engine holds anything back.
    if (sim::Machine* m = sim::Machine::active())
        m->user_regs_sync(&regs);
}
void ext_state_sync(ExtState& ext) {
    if (sim::Machine* m = sim::Machine::active())
        m->ext_state(&ext, false);
}
void ext_state_forget(ExtState& ext) {
    if (sim::Machine* m = sim::Machine::active())
        m->ext_state(&ext, true);
}
// The engine keeps x87 and SSE (XSTATE_BV 3); Unicorn's fxsave reports MXCSR_MASK 0xffff.
bool ext_state_valid(const ExtState& ext) { return ext_state_loadable(ext, 3, 0xffff); }
bool irq_enable(uint32_t irq) { return machine().irq_enable(irq); }
void irq_disable(uint32_t irq) { machine().irq_disable(irq); }

}  // namespace hal
