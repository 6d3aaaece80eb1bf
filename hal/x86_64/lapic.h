// Local APIC (xAPIC) and its timer; the legacy 8259 PICs are masked.
#pragma once

#include <stdint.h>

namespace x86 {

// Remaps the 8259 PICs to X86_VEC_PIC_BASE and masks every line.
void pic_disable();
// Enables this CPU's local APIC (boot CPU maps its registers first).
void lapic_init();
// Starts the periodic preemption timer at `hz` on this CPU (X86_VEC_TIMER).
// The first call calibrates the APIC timer against the PIT.
void lapic_timer_start(uint32_t hz);
// Signals end of interrupt to this CPU's local APIC.
void lapic_eoi();

}  // namespace x86
