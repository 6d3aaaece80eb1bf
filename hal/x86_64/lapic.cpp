#include "hal/x86_64/lapic.h"

#include "hal/x86_64/arch.h"
#include "hal/x86_64/asm_defs.h"
#include "hal/x86_64/paging.h"

namespace x86 {
namespace {

// Local APIC register offsets.
constexpr uint32_t kRegId = 0x20;
constexpr uint32_t kRegTpr = 0x80;
constexpr uint32_t kRegEoi = 0xb0;
constexpr uint32_t kRegSvr = 0xf0;
constexpr uint32_t kRegIcrLow = 0x300;
constexpr uint32_t kRegIcrHigh = 0x310;
constexpr uint32_t kRegLvtTimer = 0x320;
constexpr uint32_t kRegTimerInitial = 0x380;
constexpr uint32_t kRegTimerCurrent = 0x390;
constexpr uint32_t kRegTimerDivide = 0x3e0;
constexpr uint32_t kSvrEnable = 1u << 8;
constexpr uint32_t kLvtPeriodic = 1u << 17;
constexpr uint32_t kLvtMasked = 1u << 16;
constexpr uint32_t kDivideBy16 = 0x3;
constexpr uint64_t kApicBaseEnable = 1u << 11;
constexpr uint64_t kApicBaseAddrMask = 0x000ffffffffff000ull;

// ICR bits.
constexpr uint32_t kIcrFixed = 0x000;
constexpr uint32_t kIcrInit = 0x500;
constexpr uint32_t kIcrStartup = 0x600;
constexpr uint32_t kIcrDeliveryPending = 1u << 12;
constexpr uint32_t kIcrAssert = 1u << 14;
constexpr uint32_t kIcrLevel = 1u << 15;
constexpr uint32_t kIcrSpinLimit = 1u << 24;  // bounded wait for "send pending" to clear

// PIT channel 2, gated through port 0x61, measures the APIC timer and the TSC.
constexpr uint32_t kPitHz = 1193182;
constexpr uint32_t kCalibrationMs = 10;
constexpr uint16_t kPitCommand = 0x43;
constexpr uint16_t kPitChannel2 = 0x42;
constexpr uint16_t kPort61 = 0x61;
constexpr uint32_t kFallbackTicksPerSecond = 62500000;  // 1 GHz bus / 16
constexpr uint64_t kFallbackTscPerSecond = 1000000000;  // assume 1 GHz

volatile uint32_t* g_lapic;
uint32_t g_ticks_per_second;
uint64_t g_tsc_per_second = kFallbackTscPerSecond;

uint32_t lapic_read(uint32_t reg) { return g_lapic[reg / 4]; }
void lapic_write(uint32_t reg, uint32_t v) { g_lapic[reg / 4] = v; }

// APIC timer ticks (divide by 16) per second, measured over kCalibrationMs; the
// TSC rate is measured over the same interval.
uint32_t calibrate() {
    constexpr uint16_t kPitCount = kPitHz * kCalibrationMs / 1000;
    outb(kPort61, (inb(kPort61) & ~0x02) | 0x01);  // speaker off, channel 2 gate on
    outb(kPitCommand, 0xb0);                       // channel 2, lo/hi byte, mode 0
    outb(kPitChannel2, kPitCount & 0xff);
    outb(kPitChannel2, kPitCount >> 8);
    lapic_write(kRegTimerDivide, kDivideBy16);
    lapic_write(kRegLvtTimer, kLvtMasked);
    const uint64_t tsc_start = tsc_now();
    lapic_write(kRegTimerInitial, 0xffffffff);
    while (!(inb(kPort61) & 0x20)) pause();  // channel 2 output goes high at zero
    const uint32_t elapsed = 0xffffffff - lapic_read(kRegTimerCurrent);
    const uint64_t tsc_elapsed = tsc_now() - tsc_start;
    lapic_write(kRegTimerInitial, 0);
    if (tsc_elapsed != 0) g_tsc_per_second = tsc_elapsed * (1000 / kCalibrationMs);
    if (elapsed == 0) return kFallbackTicksPerSecond;
    return elapsed * (1000 / kCalibrationMs);
}

void wait_icr_idle() {
    for (uint32_t i = 0; i < kIcrSpinLimit && (lapic_read(kRegIcrLow) & kIcrDeliveryPending); ++i) pause();
}

void send_icr(uint32_t apic_id, uint32_t low) {
    wait_icr_idle();
    lapic_write(kRegIcrHigh, apic_id << 24);
    lapic_write(kRegIcrLow, low);  // this write sends
    wait_icr_idle();
}

}  // namespace

void pic_disable() {
    outb(0x20, 0x11);  // ICW1: init, ICW4 follows
    outb(0xa0, 0x11);
    outb(0x21, X86_VEC_PIC_BASE);  // ICW2: vector bases
    outb(0xa1, X86_VEC_PIC_BASE + 8);
    outb(0x21, 0x04);  // ICW3: slave on IRQ2
    outb(0xa1, 0x02);
    outb(0x21, 0x01);  // ICW4: 8086 mode
    outb(0xa1, 0x01);
    outb(0x21, 0xff);  // mask everything
    outb(0xa1, 0xff);
}

void lapic_init() {
    const uint64_t base = rdmsr(kMsrApicBase);
    wrmsr(kMsrApicBase, base | kApicBaseEnable);
    if (g_lapic == nullptr) {
        g_lapic = static_cast<volatile uint32_t*>(map_mmio(base & kApicBaseAddrMask, hal::kPageSize));
    }
    lapic_write(kRegTpr, 0);
    lapic_write(kRegSvr, kSvrEnable | X86_VEC_SPURIOUS);
}

uint32_t lapic_id() { return lapic_read(kRegId) >> 24; }

void lapic_timer_start(uint32_t hz) {
    if (g_ticks_per_second == 0) g_ticks_per_second = calibrate();
    lapic_write(kRegTimerDivide, kDivideBy16);
    lapic_write(kRegLvtTimer, kLvtPeriodic | X86_VEC_TIMER);
    lapic_write(kRegTimerInitial, g_ticks_per_second / hz);
}

void lapic_eoi() { lapic_write(kRegEoi, 0); }

void lapic_send_ipi(uint32_t apic_id, uint8_t vector) { send_icr(apic_id, kIcrFixed | kIcrAssert | vector); }

void lapic_send_init(uint32_t apic_id) { send_icr(apic_id, kIcrInit | kIcrAssert | kIcrLevel); }

void lapic_send_sipi(uint32_t apic_id, uint8_t page) { send_icr(apic_id, kIcrStartup | kIcrAssert | page); }

uint64_t tsc_now() {
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (static_cast<uint64_t>(hi) << 32) | lo;
}

uint64_t tsc_per_second() { return g_tsc_per_second; }

void delay_us(uint64_t us) {
    const uint64_t start = tsc_now();
    const uint64_t ticks = g_tsc_per_second / 1000000 * us;
    while (tsc_now() - start < ticks) pause();
}

}  // namespace x86
