// Host tests of the device caps (kernel/object/device, kernel/syscall/sys_device.cpp):
// irq_bind's rights and arguments, interrupts reaching the bound notification,
// rebinding and unbinding, one Irq object per line, and ioport_enable's checks.
#include "kernel/introspect.h"
#include "kernel_env.h"

#include <hal/kernel_entry.h>

using namespace anvil_test;
using kernel::Irq;
using kernel::IoPort;
using kernel::Notification;

namespace {

constexpr uint32_t kLine = ANVIL_COM1_IRQ_LINE;

// A process holding an IRQ cap for kLine (slot kIrqSlot, `rights`) and a
// notification (its slot returned by notification()).
struct IrqProcess : TestProcess {
    static constexpr uint32_t kIrqSlot = 10;
    explicit IrqProcess(uint32_t rights = kAll) {
        auto irq = Irq::create(kLine);
        REQUIRE(irq.ok());
        REQUIRE(cnode()->install(kIrqSlot, irq.value(), rights) == ANVIL_OK);
    }
    uint32_t new_notification() {
        const SysResult r = sys(ANVIL_SYS_notification_create);
        REQUIRE(r.status == kOk);
        return static_cast<uint32_t>(r.out0);
    }
    uint64_t pending(uint32_t slot) { return object<Notification>(slot)->bits; }
};

}  // namespace

TEST_CASE("irq_bind: an interrupt ORs 1 << bit into the bound notification") {
    IrqProcess p;
    const uint32_t n = p.new_notification();
    REQUIRE(p.sys(ANVIL_SYS_irq_bind, IrqProcess::kIrqSlot, n, 5).status == kOk);
    CHECK(p.pending(n) == 0);
    kernel::on_irq(0, kLine);
    CHECK(p.pending(n) == (uint64_t(1) << 5));
    kernel::on_irq(0, kLine + 1);  // another line: nobody bound it
    CHECK(p.pending(n) == (uint64_t(1) << 5));
    const SysResult w = p.sys(ANVIL_SYS_notify_wait, n);
    CHECK(w.status == kOk);
    CHECK(w.out0 == (uint64_t(1) << 5));
    CHECK(p.pending(n) == 0);
}

TEST_CASE("irq_bind: rebinding moves the interrupt, a null notification unbinds") {
    IrqProcess p;
    const uint32_t a = p.new_notification(), b = p.new_notification();
    REQUIRE(p.sys(ANVIL_SYS_irq_bind, IrqProcess::kIrqSlot, a, 0).status == kOk);
    REQUIRE(p.sys(ANVIL_SYS_irq_bind, IrqProcess::kIrqSlot, b, 63).status == kOk);
    kernel::on_irq(0, kLine);
    CHECK(p.pending(a) == 0);
    CHECK(p.pending(b) == (uint64_t(1) << 63));
    REQUIRE(p.sys(ANVIL_SYS_irq_bind, IrqProcess::kIrqSlot, ANVIL_CAP_NULL, 0).status == kOk);
    kernel::on_irq(0, kLine);
    CHECK(p.pending(b) == (uint64_t(1) << 63));  // unchanged: unbound
}

TEST_CASE("irq_bind: the binding keeps the notification alive after its cap is deleted") {
    IrqProcess p;
    const uint32_t n = p.new_notification();
    Notification* obj = p.object<Notification>(n);
    REQUIRE(p.sys(ANVIL_SYS_irq_bind, IrqProcess::kIrqSlot, n, 1).status == kOk);
    const uint32_t refs = obj->refs();
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, n).status == kOk);
    CHECK(obj->refs() == refs - 1);
    kernel::on_irq(0, kLine);  // must not touch freed memory (ASan build checks)
    CHECK(obj->bits == 2);
}

TEST_CASE("irq_bind: bad caps, missing rights and a bit past 63 fail and change nothing") {
    SECTION("without MANAGE on the IRQ cap") {
        IrqProcess p(kAll & ~kM);
        const uint32_t n = p.new_notification();
        CHECK(p.sys(ANVIL_SYS_irq_bind, IrqProcess::kIrqSlot, n, 0).status == kAccessDenied);
        kernel::on_irq(0, kLine);
        CHECK(p.pending(n) == 0);
    }
    SECTION("notification without WRITE, wrong types, empty slots, bit 64") {
        IrqProcess p;
        const uint32_t n = p.new_notification();
        const uint32_t n_ro = p.copy(n, kR);
        CHECK(p.sys(ANVIL_SYS_irq_bind, IrqProcess::kIrqSlot, n_ro, 0).status == kAccessDenied);
        CHECK(p.sys(ANVIL_SYS_irq_bind, IrqProcess::kIrqSlot, kSelfVSpace, 0).status == kWrongType);
        CHECK(p.sys(ANVIL_SYS_irq_bind, n, n, 0).status == kWrongType);
        CHECK(p.sys(ANVIL_SYS_irq_bind, 200, n, 0).status == kInvalidCap);
        CHECK(p.sys(ANVIL_SYS_irq_bind, IrqProcess::kIrqSlot, 200, 0).status == kInvalidCap);
        CHECK(p.sys(ANVIL_SYS_irq_bind, IrqProcess::kIrqSlot, n, 64).status == kInvalidArg);
        kernel::on_irq(0, kLine);
        CHECK(p.pending(n) == 0);
    }
}

TEST_CASE("irq objects: one per line, and the line is free again once its last cap goes") {
    kernel_env();
    CHECK(Irq::create(hal::kIrqLines).status() == ANVIL_ERR_INVALID_ARG);
    {
        IrqProcess p;
        CHECK(Irq::create(kLine).status() == ANVIL_ERR_BAD_STATE);
        const uint32_t n = p.new_notification();
        REQUIRE(p.sys(ANVIL_SYS_irq_bind, IrqProcess::kIrqSlot, n, 0).status == kOk);
    }
    // The process (and its IRQ cap) is gone: the line is unbound and free.
    kernel::on_irq(0, kLine);
    IrqProcess again;
    const uint32_t n = again.new_notification();
    kernel::on_irq(0, kLine);
    CHECK(again.pending(n) == 0);
}

TEST_CASE("ioport_enable: needs an IOPORT cap with READ and WRITE") {
    TestProcess p;
    auto port = IoPort::create(ANVIL_COM1_PORT_BASE, ANVIL_COM1_PORT_COUNT);
    REQUIRE(port.ok());
    REQUIRE(p.cnode()->install(10, port.value(), kAll) == ANVIL_OK);
    const uint32_t ro = p.copy(10, kR | kG), wo = p.copy(10, kW | kG);
    CHECK(p.sys(ANVIL_SYS_ioport_enable, ro).status == kAccessDenied);
    CHECK(p.sys(ANVIL_SYS_ioport_enable, wo).status == kAccessDenied);
    CHECK(p.sys(ANVIL_SYS_ioport_enable, kSelfVSpace).status == kWrongType);
    CHECK(p.sys(ANVIL_SYS_ioport_enable, 200).status == kInvalidCap);
    CHECK(p.sys(ANVIL_SYS_ioport_enable, 10).status == kOk);
}

TEST_CASE("ioport objects: empty ranges and ranges past port 0xffff are refused") {
    kernel_env();
    CHECK(IoPort::create(0x3f8, 0).status() == ANVIL_ERR_INVALID_ARG);
    CHECK(IoPort::create(0xfff8, 9).status() == ANVIL_ERR_INVALID_ARG);
    auto last = IoPort::create(0xfff8, 8);
    REQUIRE(last.ok());
    last.value()->retain();
    last.value()->release();  // frees it
}
