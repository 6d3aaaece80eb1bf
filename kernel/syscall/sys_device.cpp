// irq_bind, ioport_enable: device access for user-mode drivers, through the
// IRQ and IOPORT caps init receives at boot.
#include "kernel/object/device.h"
#include "kernel/object/notification.h"
#include "kernel/object/thread.h"
#include "kernel/object/vspace.h"
#include "kernel/syscall/lookup.h"
#include "kernel/syscall/syscall.h"

#include <hal/hal.h>

namespace kernel {

// Binding is control of the line (MANAGE); the kernel then signals the
// notification on the binder's behalf, which needs WRITE on it. A null
// notification cap unbinds.
Status sys_irq_bind(Thread& self, const sys::irq_bind_args& a, sys::irq_bind_out&) {
    TRY_ASSIGN(irq, lookup_object<Irq>(self, a.irq, ANVIL_OBJ_IRQ, ANVIL_RIGHT_MANAGE));
    if (a.notification.reg() == ANVIL_CAP_NULL)
        return irq->bind(nullptr, 0);
    TRY_ASSIGN(n, lookup_object<Notification>(self, a.notification, ANVIL_OBJ_NOTIFICATION, ANVIL_RIGHT_WRITE));
    if (a.bit >= 64)
        return ANVIL_ERR_INVALID_ARG;
    return irq->bind(n, a.bit);
}

// Opens the cap's ports to the calling thread's address space. x86 cannot
// allow `in` without `out`, so the cap needs both READ and WRITE.
Status sys_ioport_enable(Thread& self, const sys::ioport_enable_args& a, sys::ioport_enable_out&) {
    TRY_ASSIGN(port, lookup_object<IoPort>(self, a.ioport, ANVIL_OBJ_IOPORT, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE));
    if (!hal::as_allow_ioports(self.vspace()->as(), port->base(), port->count()))
        return ANVIL_ERR_NO_MEMORY;
    return ANVIL_OK;
}

}  // namespace kernel
