#include "hal/x86_64/lapic.h"

#include "hal/x86_64/arch.h"
#include "hal/x86_64/asm_defs.h"
#include "hal/x86_64/paging.h"

namespace x86 {
namespace {

// Local APIC register offsets.
constexpr uint32_t kRegTpr = 0x80;
constexpr uint32_t kRegEoi = 0xb0;
constexpr uint32_t kRegSvr = 0xf0;
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

// PIT channel 2, gated through port 0x61, measures the APIC timer.
constexpr uint32_t kPitHz = 1193182;
constexpr uint32_t kCalibrationMs = 10;
constexpr uint16_t kPitCommand = 0x43;
constexpr uint16_t kPitChannel2 = 0x42;
constexpr uint16_t kPort61 = 0x61;
constexpr uint32_t kFallbackTicksPerSecond = 62500000;  // 1 GHz bus / 16

volatile uint32_t* g_lapic;
uint32_t g_ticks_per_second;

uint32_t lapic_read(uint32_t reg) { return g_lapic[reg / 4]; }
void lapic_write(uint32_t reg, uint32_t v) { g_lapic[reg / 4] = v; }

// APIC timer ticks (divide by 16) per second, measured over kCalibrationMs.
uint32_t calibrate() {
    constexpr uint16_t kPitCount = kPitHz * kCalibrationMs / 1000;
    outb(kPort61, (inb(kPort61) & ~0x02) | 0x01);  // speaker off, channel 2 gate on
    outb(kPitCommand, 0xb0);                       // channel 2, lo/hi byte, mode 0
    outb(kPitChannel2, kPitCount & 0xff);
    outb(kPitChannel2, kPitCount >> 8);
    lapic_write(kRegTimerDivide, kDivideBy16);
    lapic_write(kRegLvtTimer, kLvtMasked);
    lapic_write(kRegTimerInitial, 0xffffffff);
    while (!(inb(kPort61) & 0x20)) pause();  // channel 2 output goes high at zero
    const uint32_t elapsed = 0xffffffff - lapic_read(kRegTimerCurrent);
    lapic_write(kRegTimerInitial, 0);
    if (elapsed == 0) return kFallbackTicksPerSecond;
    return elapsed * (1000 / kCalibrationMs);
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

void lapic_timer_start(uint32_t hz) {
    if (g_ticks_per_second == 0) g_ticks_per_second = calibrate();
    lapic_write(kRegTimerDivide, kDivideBy16);
    lapic_write(kRegLvtTimer, kLvtPeriodic | X86_VEC_TIMER);
    lapic_write(kRegTimerInitial, g_ticks_per_second / hz);
}

void lapic_eoi() { lapic_write(kRegEoi, 0); }

}  // namespace x86
