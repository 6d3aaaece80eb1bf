// Local APIC (xAPIC) and its timer, IPIs, and a TSC clock for short waits; the
// legacy 8259 PICs are masked.
#pragma once

#include <stdint.h>

namespace x86 {

// Preemption timer rate of every CPU.
constexpr uint32_t kTimerHz = 100;

// Remaps the 8259 PICs to X86_VEC_PIC_BASE and masks every line.
void pic_disable();
// Enables this CPU's local APIC (boot CPU maps its registers first).
void lapic_init();
// This CPU's local APIC ID (xAPIC: 8 bits).
uint32_t lapic_id();
// Starts the periodic preemption timer at `hz` on this CPU (X86_VEC_TIMER).
// The first call (boot CPU) calibrates the APIC timer and the TSC against the
// PIT; the other CPUs reuse that calibration.
void lapic_timer_start(uint32_t hz);
// Signals end of interrupt to this CPU's local APIC.
void lapic_eoi();

// Inter-processor interrupts to the local APIC with ID `apic_id` (physical
// destination). Each waits (bounded) until this APIC has accepted the previous
// command. Not reentrant: only one context per CPU may send (interrupts off).
void lapic_send_ipi(uint32_t apic_id, uint8_t vector);  // fixed delivery
void lapic_send_init(uint32_t apic_id);                 // INIT, level assert
void lapic_send_sipi(uint32_t apic_id, uint8_t page);   // STARTUP at page * 4 KiB

// The TSC, and its rate measured during calibration (a fallback if it did not move).
uint64_t tsc_now();
uint64_t tsc_per_second();
// Busy-waits `us` microseconds on the TSC (after calibration).
void delay_us(uint64_t us);

}  // namespace x86
