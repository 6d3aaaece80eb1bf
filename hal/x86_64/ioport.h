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

// While the kernel records, COM1's data port (RBR/THR) stays out of every
// bitmap, so a user-mode driver's `in al, dx` / `out dx, al` on it raises #GP.
// This does the access for a space granted the port (BKL held, `regs` the
// thread's saved registers), hands every byte read to the kernel for the
// trace (kernel::on_input) and steps rip past the instruction. False if the
// #GP was anything else: then it is the thread's fault.
bool io_emulate_recorded(PerCpu* pc, hal::UserRegs* regs);

}  // namespace x86
