// kernel::boot: from the HAL's machine description to a runnable init.
#include "kernel/boot/cpio.h"
#include "kernel/boot/process.h"
#include "kernel/lib/format.h"
#include "kernel/object/cnode.h"
#include "kernel/object/thread.h"
#include "kernel/object/vmo.h"
#include "kernel/sched/scheduler.h"
#include "kernel/vm/frame_alloc.h"

#include <hal/kernel_entry.h>

namespace kernel {

namespace {

// Exit status the machine halts with when there is no runnable init.
constexpr int kBootFailedCode = 127;
constexpr uint32_t kInitPriority = 128;

void boot_failed(const char* what, const char* why) {
    kprintf("anvil: boot failed: %s: %s\n", what, why);
    hal::machine_halt(kBootFailedCode);
}

}  // namespace

void boot(const hal::BootInfo& info) {
    kprintf("anvil: Anvil kernel 0.1.0 booting on %u cpu(s)\n", info.cpu_count);
    frames().init(info.usable, info.usable_count);
    scheduler().init(info.cpu_count);
    kprintf("anvil: memory: %llu KiB free in %zu range(s)\n",
            static_cast<unsigned long long>(frames().free_count() * hal::kPageSize / 1024), info.usable_count);
    if (info.cmdline[0])
        kprintf("anvil: command line: %s\n", info.cmdline);
    if (!info.initramfs || info.initramfs_size == 0)
        return boot_failed("initramfs", "no initramfs was loaded");
    kprintf("anvil: initramfs: %zu bytes\n", info.initramfs_size);

    cpio::Entry init;
    const char* error = "";
    const Status found = cpio::find(info.initramfs, info.initramfs_size, "init", &init, &error);
    if (found == ANVIL_ERR_NOT_FOUND)
        return boot_failed("initramfs", "no \"init\" member in the archive");
    if (found != ANVIL_OK)
        return boot_failed("initramfs", error);

    auto root = create_process_from_elf(init.data, init.size, "init", &error);
    if (!root.ok())
        return boot_failed("init", error);
    Thread* t = root.value();
    // Init reads the initramfs to start the other programs: it gets a read-only
    // VMO of it, and its size as the start argument.
    auto rd = Vmo::create(info.initramfs_size);
    if (!rd.ok())
        return boot_failed("initramfs", "out of memory copying the initramfs");
    rd.value()->write(0, info.initramfs, info.initramfs_size);
    t->cnode()->install(ANVIL_CAP_INITRAMFS, rd.value(), ANVIL_RIGHT_READ | ANVIL_RIGHT_GRANT);
    t->regs().rdi = info.initramfs_size;
    t->set_root(true);
    t->set_priority(kInitPriority);
    t->set_affinity(0);
    scheduler().make_runnable(t);
    kprintf("anvil: starting init (thread %llu, entry 0x%llx)\n", static_cast<unsigned long long>(t->id()),
            static_cast<unsigned long long>(t->regs().rip));
}

}  // namespace kernel
