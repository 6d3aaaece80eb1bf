#include "kernel/object/device.h"

#include "kernel/object/notification.h"

namespace kernel {

namespace {

// The Irq object of each line, if one exists (it removes itself on destroy).
Irq* g_lines[hal::kIrqLines];

}  // namespace

Result<IoPort*> IoPort::create(uint16_t base, uint32_t count) {
    if (count == 0 || uint32_t(base) + count > 0x10000)
        return Result<IoPort*>::error(ANVIL_ERR_INVALID_ARG);
    IoPort* p = make<IoPort>(base, count);
    if (!p)
        return Result<IoPort*>::error(ANVIL_ERR_NO_MEMORY);
    return p;
}

void IoPort::destroy() { unmake(this); }

Result<Irq*> Irq::create(uint32_t line) {
    if (line >= hal::kIrqLines)
        return Result<Irq*>::error(ANVIL_ERR_INVALID_ARG);
    if (g_lines[line])
        return Result<Irq*>::error(ANVIL_ERR_BAD_STATE);
    Irq* irq = make<Irq>(line);
    if (!irq)
        return Result<Irq*>::error(ANVIL_ERR_NO_MEMORY);
    g_lines[line] = irq;
    return irq;
}

Status Irq::bind(Notification* n, uint64_t bit) {
    if (n && !bound_ && !hal::irq_enable(line_))
        return ANVIL_ERR_NOT_SUPPORTED;
    if (!n && bound_)
        hal::irq_disable(line_);
    if (n)
        n->retain();
    if (bound_)
        bound_->release();
    bound_ = n;
    bit_ = n ? bit : 0;
    return ANVIL_OK;
}

void Irq::deliver(uint32_t line) {
    Irq* irq = line < hal::kIrqLines ? g_lines[line] : nullptr;
    if (irq && irq->bound_)
        irq->bound_->signal(uint64_t(1) << irq->bit_);
}

void Irq::destroy() {
    if (bound_) {
        hal::irq_disable(line_);
        bound_->release();
    }
    g_lines[line_] = nullptr;
    unmake(this);
}

}  // namespace kernel
