// The C++ side of boot: from long mode on the boot stack to kernel::boot, and
// the machine-control half of the HAL.

#include <hal/hal.h>
#include <hal/kernel_entry.h>

#include "hal/x86_64/arch.h"
#include "hal/x86_64/cpu.h"
#include "hal/x86_64/lapic.h"
#include "hal/x86_64/multiboot2.h"
#include "hal/x86_64/paging.h"
#include "hal/x86_64/serial.h"
#include "hal/x86_64/trap.h"

extern "C" char __image_phys_start[], __image_phys_end[];
extern "C" void (*__init_array_start[])(), (*__init_array_end[])();

namespace x86 {
namespace {

constexpr uint16_t kDebugExitPort = 0xf4;  // QEMU isa-debug-exit: status (v << 1) | 1
constexpr int kPanicExitCode = 126;
constexpr uint64_t kLowMemoryEnd = 1ull << 20;
constexpr uint32_t kTimerHz = 100;

Multiboot g_multiboot;
RangeList g_free;
hal::BootInfo g_boot_info;
uint8_t g_acpi_rsdp[kMaxRsdp];  // kept for SMP bring-up
size_t g_acpi_rsdp_size;

[[noreturn]] void boot_fatal(const char* msg) {
    print("x86_64: ");
    print(msg);
    print("\n");
    hal::panic_halt();
}

void run_global_constructors() {
    for (auto* ctor = __init_array_start; ctor != __init_array_end; ++ctor) (*ctor)();
}

// True if the whitespace-separated `cmdline` contains the word `word`.
bool cmdline_has(const char* cmdline, const char* word) {
    for (const char* p = cmdline; *p != '\0';) {
        while (*p == ' ') ++p;
        const char* w = word;
        const char* q = p;
        while (*w != '\0' && *q == *w) ++q, ++w;
        if (*w == '\0' && (*q == ' ' || *q == '\0')) return true;
        while (*p != ' ' && *p != '\0') ++p;
    }
    return false;
}

void print_range(const char* what, uint64_t base, uint64_t size) {
    print("x86_64: ");
    print(what);
    print(" ");
    print_hex(base);
    print("-");
    print_hex(base + size);
    print("\n");
}

// Free RAM: every available range, minus low memory, the image, the boot
// information and the modules. Page tables come out of it later.
void compute_free_memory(const Multiboot& mb) {
    for (size_t i = 0; i < mb.ram_count; ++i) g_free.add(mb.ram[i].base, mb.ram[i].size);
    g_free.remove(0, kLowMemoryEnd);
    const uint64_t image_start = reinterpret_cast<uint64_t>(__image_phys_start);
    g_free.remove(image_start, reinterpret_cast<uint64_t>(__image_phys_end) - image_start);
    g_free.remove(mb.mbi.base, mb.mbi.size);
    for (size_t i = 0; i < mb.module_count; ++i) g_free.remove(mb.modules[i].base, mb.modules[i].size);
}

void fill_boot_info(const Multiboot& mb) {
    hal::BootInfo& info = g_boot_info;
    for (size_t i = 0; i < g_free.count() && i < hal::kMaxMemRanges; ++i) info.usable[info.usable_count++] = g_free[i];
    if (mb.module_count > 0) {
        const MemRange& m = mb.modules[mb.initramfs_index];
        info.initramfs = static_cast<const uint8_t*>(hal::phys_to_virt(m.base));
        info.initramfs_size = m.size;
    }
    info.cpu_count = 1;
    __builtin_memcpy(info.cmdline, mb.cmdline, sizeof(info.cmdline));
}

void print_boot_summary(const Multiboot& mb) {
    print("x86_64: cmdline \"");
    print(mb.cmdline);
    print("\"\n");
    for (size_t i = 0; i < mb.ram_count; ++i) print_range("ram    ", mb.ram[i].base, mb.ram[i].size);
    const uint64_t image_start = reinterpret_cast<uint64_t>(__image_phys_start);
    print_range("image  ", image_start, reinterpret_cast<uint64_t>(__image_phys_end) - image_start);
    print_range("mbi    ", mb.mbi.base, mb.mbi.size);
    for (size_t i = 0; i < mb.module_count; ++i) print_range("module ", mb.modules[i].base, mb.modules[i].size);
    for (size_t i = 0; i < g_boot_info.usable_count; ++i) {
        print_range("usable ", g_boot_info.usable[i].base, g_boot_info.usable[i].size);
    }
}

}  // namespace
}  // namespace x86

using namespace x86;

// Called by boot.S in long mode, on the boot stack, with .bss zeroed. The boot
// page tables identity-map the first 4 GiB, which covers the boot information.
extern "C" [[noreturn]] void x86_boot_main(uint32_t magic, uint64_t mbi_pa) {
    run_global_constructors();
    serial_init();
    idt_init();
    cpu_init(0);

    if (magic != kMultiboot2BootMagic) boot_fatal("not started by a multiboot2 loader");
    Multiboot& mb = g_multiboot;
    if (const char* err = parse_multiboot2(reinterpret_cast<const uint8_t*>(mbi_pa), mbi_pa, &mb)) {
        boot_fatal(err);
    }
    __builtin_memcpy(g_acpi_rsdp, mb.rsdp, mb.rsdp_size);
    g_acpi_rsdp_size = mb.rsdp_size;

    compute_free_memory(mb);
    paging_init(mb.ram_top, g_free);  // from here on only the direct map reaches RAM
    if (g_free.overflowed()) print("x86_64: memory map too fragmented, some RAM left unused\n");

    pic_disable();
    lapic_init();
    lapic_timer_start(kTimerHz);

    fill_boot_info(mb);
    if (cmdline_has(mb.cmdline, "hal.verbose")) print_boot_summary(mb);

    kernel::boot(g_boot_info);
    resume(0);
}

void hal::machine_halt(int code) {
    outl(kDebugExitPort, static_cast<uint32_t>(code) & 0x7f);
    halt_forever();
}

void hal::panic_halt() {
    outl(kDebugExitPort, kPanicExitCode);
    halt_forever();
}
