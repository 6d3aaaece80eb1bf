// The C++ side of boot: from long mode on the boot stack to kernel::boot, and
// the machine-control half of the HAL.

#include <anvil/exit_codes.h>
#include <hal/cmdline.h>
#include <hal/hal.h>
#include <hal/kernel_entry.h>

#include "hal/x86_64/acpi.h"
#include "hal/x86_64/arch.h"
#include "hal/x86_64/cpu.h"
#include "hal/x86_64/ioapic.h"
#include "hal/x86_64/lapic.h"
#include "hal/x86_64/multiboot2.h"
#include "hal/x86_64/paging.h"
#include "hal/x86_64/serial.h"
#include "hal/x86_64/smp.h"
#include "hal/x86_64/trap.h"
#include "kernel/trace/events.h"

extern "C" char __image_phys_start[], __image_phys_end[];
extern "C" void (*__init_array_start[])(), (*__init_array_end[])();

namespace x86 {
namespace {

constexpr uint16_t kDebugExitPort = 0xf4;  // QEMU isa-debug-exit: status (v << 1) | 1
constexpr uint64_t kLowMemoryEnd = 1ull << 20;
constexpr uint64_t kBootIdentityEnd = 4ull << 30;  // boot.S identity-maps [0, 4 GiB)

Multiboot g_multiboot;
RangeList g_free;
hal::BootInfo g_boot_info;
uint8_t g_acpi_rsdp[kMaxRsdp];  // kept for SMP bring-up
size_t g_acpi_rsdp_size;
AcpiCpus g_acpi_cpus;
AcpiIrqRouting g_acpi_irqs;

[[noreturn]] void boot_fatal(const char* msg) {
    print("x86_64: ");
    print(msg);
    print("\n");
    hal::panic_halt();
}

void run_global_constructors() {
    for (auto* ctor = __init_array_start; ctor != __init_array_end; ++ctor) (*ctor)();
}

// fpu=eager (the default) or fpu=lazy: when a thread's x87/SSE/AVX state is
// loaded (ext_state.cpp). Any other value is reported and the default kept.
// Boot says first how that state is saved (XSAVE and its components, or FXSAVE).
void choose_ext_switch(const char* cmdline) {
    ext_report();
    if (hal::cmdline_has(cmdline, "fpu=lazy")) {
        ext_set_lazy(true);
        print("x86_64: x87/SSE/AVX state loaded on first use (fpu=lazy)\n");
    } else if (hal::cmdline_has(cmdline, "fpu=", true) && !hal::cmdline_has(cmdline, "fpu=eager")) {
        print("x86_64: fpu= takes eager or lazy: loading x87/SSE/AVX state eagerly\n");
    }
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

// ACPI tables are read through the boot identity map (before paging_init), so
// wherever the firmware put them (often outside RAM ranges) below 4 GiB.
const uint8_t* acpi_identity_reader(void*, uint64_t pa, uint64_t len) {
    if (pa == 0 || len > kBootIdentityEnd || pa > kBootIdentityEnd - len) return nullptr;
    return reinterpret_cast<const uint8_t*>(pa);
}

bool overlaps(uint64_t base, uint64_t size, const MemRange& r) {
    return base < r.base + r.size && r.base < base + size;
}

// A page below 1 MiB for the AP trampoline (the SIPI vector names a page there):
// available RAM, not page 0 (real-mode IVT/BDA), clear of the boot information
// and the modules. 0 if there is none.
hal::paddr_t find_trampoline_page(const Multiboot& mb) {
    if (ap_trampoline_size() > hal::kPageSize) return 0;
    for (size_t i = 0; i < mb.ram_count; ++i) {
        const uint64_t end = mb.ram[i].base + mb.ram[i].size;
        uint64_t pa = (mb.ram[i].base + hal::kPageSize - 1) & ~(hal::kPageSize - 1);
        if (pa < hal::kPageSize) pa = hal::kPageSize;
        for (; pa + hal::kPageSize <= end && pa + hal::kPageSize <= kLowMemoryEnd; pa += hal::kPageSize) {
            bool clear = !overlaps(pa, hal::kPageSize, mb.mbi);
            for (size_t m = 0; m < mb.module_count; ++m) clear = clear && !overlaps(pa, hal::kPageSize, mb.modules[m]);
            if (clear) return pa;
        }
    }
    return 0;
}

// Free RAM: every available range, minus low memory (which holds the AP
// trampoline page), the image, the boot information and the modules. Page
// tables come out of it later.
void compute_free_memory(const Multiboot& mb, hal::paddr_t trampoline) {
    for (size_t i = 0; i < mb.ram_count; ++i) g_free.add(mb.ram[i].base, mb.ram[i].size);
    g_free.remove(0, kLowMemoryEnd);
    if (trampoline != 0) g_free.remove(trampoline, hal::kPageSize);
    const uint64_t image_start = reinterpret_cast<uint64_t>(__image_phys_start);
    g_free.remove(image_start, reinterpret_cast<uint64_t>(__image_phys_end) - image_start);
    g_free.remove(mb.mbi.base, mb.mbi.size);
    for (size_t i = 0; i < mb.module_count; ++i) g_free.remove(mb.modules[i].base, mb.modules[i].size);
}

void fill_boot_info(const Multiboot& mb, uint32_t cpu_count) {
    hal::BootInfo& info = g_boot_info;
    for (size_t i = 0; i < g_free.count() && i < hal::kMaxMemRanges; ++i) info.usable[info.usable_count++] = g_free[i];
    if (mb.module_count > 0) {
        const MemRange& m = mb.modules[mb.initramfs_index];
        info.initramfs = static_cast<const uint8_t*>(hal::phys_to_virt(m.base));
        info.initramfs_size = m.size;
    }
    info.cpu_count = cpu_count;
    // A trace of this kernel says its user code ran one CPU at a time (trap.cpp).
    info.trace.schedule = static_cast<uint32_t>(trace::Schedule::kSerialized);
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

void print_cpus(const char* acpi_error, hal::paddr_t trampoline, uint32_t cpu_count) {
    if (acpi_error == nullptr) {
        print("x86_64: MADT (via ");
        print(g_acpi_cpus.from_xsdt ? "XSDT" : "RSDT");
        print("): ");
        print_dec(g_acpi_cpus.total);
        print(" enabled local APIC(s), ids");
        for (size_t i = 0; i < g_acpi_cpus.count; ++i) {
            print(" ");
            print_dec(g_acpi_cpus.apic_ids[i]);
        }
        print("\n");
        for (size_t i = 0; i < g_acpi_irqs.ioapic_count; ++i) {
            const AcpiIoApic& io = g_acpi_irqs.ioapics[i];
            print("x86_64: IOAPIC id ");
            print_dec(io.id);
            print(" at ");
            print_hex(io.base);
            print(", GSI base ");
            print_dec(io.gsi_base);
            print("\n");
        }
        for (uint32_t irq = 0; irq < kIsaIrqs; ++irq) {
            const AcpiIsaIrq& isa = g_acpi_irqs.isa[irq];
            if (!isa.overridden) continue;
            print("x86_64: ISA IRQ ");
            print_dec(irq);
            print(" -> GSI ");
            print_dec(isa.gsi);
            print(isa.active_low ? ", active low\n" : ", active high\n");
        }
    }
    if (trampoline != 0) print_range("trampoline", trampoline, hal::kPageSize);
    for (uint32_t cpu = 0; cpu < cpu_count; ++cpu) {
        print("x86_64: cpu ");
        print_dec(cpu);
        print(" online, local APIC id ");
        print_dec(g_percpu[cpu].apic_id);
        print("\n");
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
    const bool verbose = hal::cmdline_has(mb.cmdline, "hal.verbose");
    choose_ext_switch(mb.cmdline);
    // While the boot identity map still covers wherever the tables are.
    const char* acpi_error = acpi_read_madt(g_acpi_rsdp, g_acpi_rsdp_size, acpi_identity_reader, nullptr,
                                            &g_acpi_cpus, &g_acpi_irqs);
    const hal::paddr_t trampoline = find_trampoline_page(mb);

    compute_free_memory(mb, trampoline);
    paging_init(mb.ram_top, g_free);  // from here on only the direct map reaches RAM
    if (g_free.overflowed()) print("x86_64: memory map too fragmented, some RAM left unused\n");

    pic_disable();
    lapic_init();
    lapic_timer_start(kTimerHz);
    ioapic_init(g_acpi_irqs);

    uint32_t cpu_count = 1;
    if (acpi_error != nullptr) {
        print("x86_64: ");
        print(acpi_error);
        print(": running on the boot cpu only\n");
    } else if (trampoline == 0) {
        print("x86_64: no free page below 1 MiB for the AP trampoline: running on the boot cpu only\n");
    } else {
        cpu_count = smp_start_aps(g_acpi_cpus, trampoline);
    }

    fill_boot_info(mb, cpu_count);
    if (verbose) {
        print_boot_summary(mb);
        print_cpus(acpi_error, trampoline, cpu_count);
    }

    // kernel::boot runs with the BKL held; the APs wait until it has returned.
    bkl_acquire();
    kernel::boot(g_boot_info);
    smp_release_aps();
    resume(0);
}

void hal::machine_halt(int code) {
    outl(kDebugExitPort, static_cast<uint32_t>(code) & 0x7f);
    halt_forever();
}

void hal::panic_halt() {
    outl(kDebugExitPort, ANVIL_EXIT_PANIC);
    halt_forever();
}
