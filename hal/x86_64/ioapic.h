// IOAPICs: ISA interrupt lines routed to the boot CPU for hal::irq_enable.
#pragma once

#include <stdint.h>

#include "hal/x86_64/acpi.h"

namespace x86 {

// On the boot CPU after paging_init (maps the IOAPICs in the MMIO window), with
// the 8259s masked: masks every IOAPIC input and notes where each ISA IRQ arrives.
// With no IOAPIC in `routing` (reported on COM1), no line can be enabled.
void ioapic_init(const AcpiIrqRouting& routing);

// True if ISA `irq` is enabled (BKL held): its interrupts go to kernel::on_irq.
bool irq_delivering(uint32_t irq);

}  // namespace x86
