// kernel::boot: from the HAL's machine description to a runnable init.
#include "kernel/boot/cpio.h"
#include "kernel/boot/process.h"
#include "kernel/ipc/ipc.h"
#include "kernel/lib/string.h"
#include "kernel/lib/format.h"
#include "kernel/object/cnode.h"
#include "kernel/object/device.h"
#include "kernel/object/thread.h"
#include "kernel/object/vmo.h"
#include "kernel/object/vspace.h"
#include "kernel/sched/scheduler.h"
#include "kernel/trace/trace.h"
#include "kernel/vm/frame_alloc.h"

#include <anvil/exit_codes.h>
#include <hal/cmdline.h>
#include <hal/kernel_entry.h>

namespace kernel {

namespace {

constexpr uint32_t kInitPriority = 128;

void boot_failed(const char* what, const char* why) {
    kprintf("anvil: boot failed: %s: %s\n", what, why);
    halt_machine(ANVIL_EXIT_BOOT_FAILED);
}

}  // namespace

void boot(const hal::BootInfo& info) {
    kprintf("anvil: Anvil kernel 0.1.0 booting on %u cpu(s)\n", info.cpu_count);
    frames().init(info.usable, info.usable_count);
    scheduler().init(info.cpu_count);
    trace_start(info, hal::cmdline_has(info.cmdline, "trace"));
    kprintf("anvil: memory: %llu KiB free in %zu range(s)\n",
            static_cast<unsigned long long>(frames().free_count() * hal::kPageSize / 1024), info.usable_count);
    if (info.cmdline[0])
        kprintf("anvil: command line: %s\n", info.cmdline);
    if (hal::cmdline_has(info.cmdline, "ipc.fastpath=off")) {
        ipc_set_fastpath(false);
        kprintf("anvil: IPC fast path off\n");
    }
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
    // A VMO of the initramfs's size, a slot no process has filled yet.
    already_checked(rd.value()->write(0, info.initramfs, info.initramfs_size));
    already_checked(t->cnode()->install(ANVIL_CAP_INITRAMFS, rd.value(), ANVIL_RIGHT_READ | ANVIL_RIGHT_GRANT));
    t->regs().rdi = info.initramfs_size;
    // The command line goes on top of init's stack; rsi points at it.
    const uint64_t cmdline_len = str_length_bounded(info.cmdline, hal::kMaxCmdline - 1);
    const uint64_t cmdline_va = kInitStackTop - align_up(cmdline_len + 1, 16);
    char cmdline[hal::kMaxCmdline];
    mem_copy(cmdline, info.cmdline, cmdline_len);
    cmdline[cmdline_len] = '\0';
    if (t->vspace()->copy_out(cmdline_va, cmdline, cmdline_len + 1) != ANVIL_OK)
        return boot_failed("init", "no room for the command line on its stack");
    t->regs().rsi = cmdline_va;
    t->regs().rsp = cmdline_va;
    // COM1 for the IO server: init passes these on and keeps nothing else of them.
    auto com1 = IoPort::create(ANVIL_COM1_PORT_BASE, ANVIL_COM1_PORT_COUNT);
    auto com1_irq = Irq::create(ANVIL_COM1_IRQ_LINE);
    if (!com1.ok() || !com1_irq.ok())
        return boot_failed("boot caps", "out of memory");
    already_checked(t->cnode()->install(ANVIL_CAP_COM1_IOPORT, com1.value(), ANVIL_RIGHTS_ALL));
    already_checked(t->cnode()->install(ANVIL_CAP_COM1_IRQ, com1_irq.value(), ANVIL_RIGHTS_ALL));
    t->set_root(true);
    t->set_priority(kInitPriority);
    t->set_affinity(0);
    scheduler().make_runnable(t);
    kprintf("anvil: starting init (thread %llu, entry 0x%llx)\n", static_cast<unsigned long long>(t->id()),
            static_cast<unsigned long long>(t->regs().rip));
}

}  // namespace kernel
