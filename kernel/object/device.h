// Device access objects: a range of I/O ports, and one interrupt line.
//
// Both exist only as boot caps handed to init (there is no syscall that creates
// them); init passes copies to the driver that needs them.
#pragma once

#include "kernel/lib/result.h"
#include "kernel/object/object.h"
#include "kernel/vm/kheap.h"

#include <hal/hal.h>

namespace kernel {

class Notification;

// The right to use in/out on ports [base, base + count).
class IoPort final : public KObject {
public:
    // INVALID_ARG if the range is empty or runs past port 0xffff.
    static Result<IoPort*> create(uint16_t base, uint32_t count);

    uint16_t base() const { return base_; }
    uint32_t count() const { return count_; }

private:
    KERNEL_HEAP_FRIENDS;
    IoPort(uint16_t base, uint32_t count) : KObject(ANVIL_OBJ_IOPORT), base_(base), count_(count) {}
    void destroy() override;

    uint16_t base_;
    uint32_t count_;
};

// One interrupt line (hal::kIrqLines of them). Bound to a notification, each
// interrupt on the line ORs `1 << bit` into it. At most one Irq object exists
// per line, so a binding has one owner.
class Irq final : public KObject {
public:
    // INVALID_ARG for a line out of range, BAD_STATE if the line already has one.
    static Result<Irq*> create(uint32_t line);

    uint32_t line() const { return line_; }
    Notification* bound() const { return bound_; }

    // Routes the line to `n` (replacing any earlier binding), or unroutes it when
    // `n` is null. NOT_SUPPORTED if the backend cannot route this line.
    Status bind(Notification* n, uint64_t bit);

    // The interrupt on `line` arrived: signal its notification (if bound).
    static void deliver(uint32_t line);

private:
    KERNEL_HEAP_FRIENDS;
    explicit Irq(uint32_t line) : KObject(ANVIL_OBJ_IRQ), line_(line) {}
    void destroy() override;

    uint32_t line_;
    Notification* bound_ = nullptr;  // holds a reference while bound
    uint64_t bit_ = 0;
};

}  // namespace kernel
