// Misuses of the typed syscall arguments (kernel/syscall/syscall.h) that must
// not compile; tests/compile/expect_errors.cmake compiles this file once per
// CASE and checks that case 0 compiles and every other case fails with its error.
#include "kernel/object/vspace.h"
#include "kernel/syscall/lookup.h"
#include "kernel/syscall/syscall.h"

namespace kernel {

Status handler(Thread& self, const sys::tcb_set_regs_args& a, sys::vma_alloc_out& out) {
#if CASE == 0  // the right use of each: a cap looked up, a user pointer copied, an out written
    TRY_ASSIGN(tcb, lookup_object<Thread>(self, a.tcb, ANVIL_OBJ_TCB, ANVIL_RIGHT_WRITE));
    anvil_regs_t regs;
    TRY(self.vspace()->copy_in(&regs, a.regs.va(), sizeof regs));
    out.out_va = regs.rip + tcb->id();
#elif CASE == 1  // a positional read
    out.out_va = a.arg[1];
#elif CASE == 2  // a user pointer used as a cap
    TRY_ASSIGN(tcb, lookup_object<Thread>(self, a.regs, ANVIL_OBJ_TCB, ANVIL_RIGHT_WRITE));
#elif CASE == 3  // a 64-bit value used as a cap
    TRY_ASSIGN(tcb, lookup_object<Thread>(self, out.out_va, ANVIL_OBJ_TCB, ANVIL_RIGHT_WRITE));
#elif CASE == 4  // a user pointer dereferenced
    out.out_va = a.regs->rip;
#elif CASE == 5  // a status dropped ([[nodiscard]], an error with -Werror)
    anvil_regs_t regs;
    self.vspace()->copy_in(&regs, a.regs.va(), sizeof regs);
#elif CASE == 6  // a result dropped
    lookup_object<Thread>(self, a.tcb, ANVIL_OBJ_TCB, ANVIL_RIGHT_WRITE);
#elif CASE == 7  // a positional out
    out.out[0] = 1;
#endif
    return ANVIL_OK;
}

}  // namespace kernel
