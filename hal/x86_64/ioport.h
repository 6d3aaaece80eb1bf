// User I/O port grants: which ports each address space may use, and the CPU's
// TSS I/O permission bitmap kept in step with the space it runs.
#pragma once

#include <hal/hal.h>

#include "hal/x86_64/cpu.h"

namespace x86 {

// Before `pc` enters user space `as` (BKL held): opens exactly the ports granted
// to `as` in pc's TSS bitmap. Cheap when `as` is the space it entered last.
void io_activate(PerCpu* pc, hal::AsHandle as);

// Drops the grants of `as` (BKL held, `as` running nowhere): closes them in every
// CPU's bitmap and forgets the space, whose handle may be reused.
void io_forget(hal::AsHandle as);

}  // namespace x86
