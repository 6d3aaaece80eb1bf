/* The userspace test suite: runs as the main service of a test initramfs (init
 * starts the name server and the IO server first), on both backends.
 * Each test exercises the ABI from ring 3; more arrive with each kernel issue.
 * The tests of each area live in <area>_tests.c; the order is fixed here. */
#include "tests.h"

#include <anvil/process.h>
#include <anvil/services.h>
#include <stdio.h>
#include <string.h>

const char kReadOnly[16] = "read-only data";
uint64_t g_initramfs_size;

static int test_debug_write_ok(void)
{
    CHECK_STATUS(anvil_debug_write("", 0), ANVIL_OK);
    CHECK_STATUS(anvil_debug_write("  (debug_write reaches the console)\n", 36), ANVIL_OK);
    return 0;
}

static int test_debug_write_bad_pointers(void)
{
    CHECK_STATUS(anvil_debug_write(UNMAPPED_VA, 4), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_debug_write(KERNEL_VA, 4), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_debug_write(NONCANONICAL_VA, 4), ANVIL_ERR_FAULT);
    /* A range that starts mapped and runs off the end of the mapping. */
    CHECK_STATUS(anvil_debug_write(kReadOnly, 1ull << 40), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_debug_write((const char *)0x00007fffffffff00ull, 0x1000), ANVIL_ERR_FAULT);
    return 0;
}

static int test_unknown_syscall(void)
{
    uint64_t a[ANVIL_SYSCALL_MAX_ARGS] = {0}, o[ANVIL_SYSCALL_MAX_OUTS];
    CHECK_STATUS(anvil_syscall_raw(ANVIL_SYS_COUNT, a, o), ANVIL_ERR_NOT_SUPPORTED);
    CHECK_STATUS(anvil_syscall_raw(0xffffffffffffffffull, a, o), ANVIL_ERR_NOT_SUPPORTED);
    return 0;
}

/* After `syscall`, rcx holds the return rip and r11 the user rflags: a 32-bit
 * value, zero-extended. The upper half must never carry anything (the
 * simulator once leaked host stack bytes there). */
static int test_syscall_clobbers(void)
{
    uint64_t rax = ANVIL_SYS_thread_yield, rcx, r11;
    __asm__ volatile("syscall\n\tmovq %%r11, %2"
                     : "+a"(rax), "=c"(rcx), "=r"(r11)
                     :
                     : "rdx", "r10", "r11", "memory");
    CHECK_STATUS((anvil_status_t)rax, ANVIL_OK);
    CHECK((r11 >> 32) == 0);
    CHECK(r11 & 0x200); /* IF: user threads always run with interrupts on */
    CHECK(rcx != 0);    /* the return address */
    return 0;
}

static int test_cap_info_self(void)
{
    anvil_cap_info_t info;
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_CNODE, &info), ANVIL_OK);
    CHECK(info.type == ANVIL_OBJ_CNODE);
    CHECK(info.badge == 0);
    CHECK(info.object_id != 0);
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_VSPACE, &info), ANVIL_OK);
    CHECK(info.type == ANVIL_OBJ_VSPACE);
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_TCB, &info), ANVIL_OK);
    CHECK(info.type == ANVIL_OBJ_TCB);
    CHECK((info.rights & ANVIL_RIGHT_EXEC) == 0); /* EXEC only exists on VMOs */
    return 0;
}

static int test_cap_info_errors(void)
{
    anvil_cap_info_t info;
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, 0, &info), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, 200, &info), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, 100000, &info), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_VSPACE, 1, &info), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_cap_info(0, 1, &info), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, 1, UNMAPPED_VA), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, 1, KERNEL_VA), ANVIL_ERR_FAULT);
    /* The kernel must not write through a pointer to read-only memory. */
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, 1, (anvil_cap_info_t *)kReadOnly), ANVIL_ERR_FAULT);
    CHECK(memcmp(kReadOnly, "read-only data", 15) == 0);
    return 0;
}

/* Every register the ABI says is preserved survives a syscall. */
static int test_registers_preserved(void)
{
    uint64_t in[9] = {0x1111111111111111ull, 0x2222222222222222ull, 0x3333333333333333ull,
                      0x4444444444444444ull, 0x5555555555555555ull, 0x6666666666666666ull,
                      0x7777777777777777ull, 0x8888888888888888ull, 0x9999999999999999ull};
    uint64_t out[9] = {0};
    uint64_t *pin = in, *pout = out; /* rax and rcx are consumed by the syscall */
    __asm__ volatile(
        "push %%rbp\n"
        "mov 0(%0), %%rbx\n"
        "mov 8(%0), %%rbp\n"
        "mov 16(%0), %%r12\n"
        "mov 24(%0), %%r13\n"
        "mov 32(%0), %%r14\n"
        "mov 40(%0), %%r15\n"
        "mov 48(%0), %%r8\n"
        "mov 56(%0), %%r9\n"
        "mov 64(%0), %%rsi\n"
        "push %1\n"
        "mov %2, %%eax\n"
        "syscall\n"
        "pop %%rdi\n"
        "mov %%rbx, 0(%%rdi)\n"
        "mov %%rbp, 8(%%rdi)\n"
        "mov %%r12, 16(%%rdi)\n"
        "mov %%r13, 24(%%rdi)\n"
        "mov %%r14, 32(%%rdi)\n"
        "mov %%r15, 40(%%rdi)\n"
        "mov %%r8, 48(%%rdi)\n"
        "mov %%r9, 56(%%rdi)\n"
        "mov %%rsi, 64(%%rdi)\n"
        "pop %%rbp\n"
        : "+a"(pin), "+c"(pout)
        : "i"(ANVIL_SYS_thread_yield)
        : "rbx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "memory");
    for (int i = 0; i < 9; i++)
        CHECK(out[i] == in[i]);
    return 0;
}

static const struct test_case kTests[] = {
    {"abi.debug_write", test_debug_write_ok},
    {"abi.debug_write_bad_pointers", test_debug_write_bad_pointers},
    {"abi.unknown_syscall", test_unknown_syscall},
    {"abi.syscall_clobbers", test_syscall_clobbers},
    {"abi.registers_preserved", test_registers_preserved},
    {"cap.info_self", test_cap_info_self},
    {"cap.info_errors", test_cap_info_errors},
    {"cap.cnode_create", test_cnode_create},
    {"cap.copy_reduces_rights", test_cap_copy_rights},
    {"cap.copy_grant_rules", test_cap_copy_grant},
    {"cap.copy_errors", test_cap_copy_errors},
    {"cap.delete", test_cap_delete},
    {"cap.revoke", test_cap_revoke},
    {"mem.vmo_create", test_vmo_create},
    {"mem.vmo_read_write", test_vmo_read_write},
    {"mem.vmo_bad_pointers", test_vmo_bad_pointers},
    {"mem.vma_map", test_vma_map},
    {"mem.vma_map_errors", test_vma_map_errors},
    {"mem.vma_unmap", test_vma_unmap},
    {"mem.vma_alloc", test_vma_alloc},
    {"mem.vma_map_large", test_vma_map_large},
    {"mem.wx_across_aliases", test_vma_wx_aliases},
    {"mem.mapping_keeps_vmo_alive", test_mapping_keeps_vmo},
    {"mem.initramfs_map", test_initramfs_map},
    {"tcb.configure", test_tcb_configure},
    {"tcb.regs", test_tcb_regs},
    {"tcb.thread_in_own_process", test_tcb_thread},
    {"tcb.suspend_resume", test_tcb_suspend_resume},
    {"tcb.delete_running_thread", test_tcb_delete_running},
    {"sched.all_cpus_progress", test_sched_all_cpus_progress},
    {"sched.priority_preempts", test_sched_priority_preempts},
    {"sched.suspended_does_not_run", test_sched_suspended_does_not_run},
    {"sched.affinity_holds", test_sched_affinity_holds},
    {"sched.exit_and_fault_stop_cleanly", test_sched_exit_and_fault_stop_cleanly},
    {"abi.rdtsc", test_abi_rdtsc},
    {"fpu.threads_keep_their_state", test_fpu_threads_keep_their_state},
    {"fpu.new_thread_starts_clean", test_fpu_new_thread_starts_clean},
    {"fpu.exceptions_are_faults", test_fpu_exceptions_are_faults},
    {"fpu.printf_and_strtod", test_fpu_printf_and_strtod},
    {"fpu.ext_state_call", test_fpu_ext_state_call},
    {"proc.cpio_find", test_cpio_find},
    {"proc.cpio_malformed", test_cpio_malformed},
    {"proc.elf_check", test_elf_check},
    {"proc.spawn_child_caps", test_spawn_child_caps},
    {"proc.spawn_failures_clean_up", test_spawn_failures},
    {"proc.spawn_repeat_and_destroy", test_spawn_repeat},
    {"cap.child_cannot_escalate", test_child_cannot_escalate},
    {"mem.child_fault_is_contained", test_child_fault_is_contained},
    {"cap.revoke_reaches_child", test_revoke_reaches_child},
    {"mem.shared_vmo_across_processes", test_shared_vmo},
    {"mem.child_maps_and_unmaps", test_child_maps},
    {"cap.revoke_kills_child", test_revoke_kills_child},
    {"ipc.create", test_ipc_create},
    {"ipc.irq_bind", test_ipc_irq_bind},
    {"ipc.send_recv_receiver_first", test_ipc_receiver_first},
    {"ipc.send_recv_sender_first", test_ipc_sender_first},
    {"ipc.try_would_block", test_ipc_try_would_block},
    {"ipc.message_sizes", test_ipc_message_sizes},
    {"ipc.label_and_badge", test_ipc_label_and_badge},
    {"ipc.fifo_order", test_ipc_fifo},
    {"ipc.call_reply", test_ipc_call_reply},
    {"ipc.reply_recv", test_ipc_reply_recv},
    {"ipc.cap_transfer", test_ipc_cap_transfer},
    {"ipc.cap_transfer_limits", test_ipc_cap_transfer_limits},
    {"ipc.cap_in_call_and_reply", test_ipc_cap_in_call_and_reply},
    {"ipc.send_rules", test_ipc_send_rules},
    {"ipc.recv_rules", test_ipc_recv_rules},
    {"ipc.cap_two_hops_revoke", test_ipc_cap_two_hops_revoke},
    {"ipc.peer_closed_on_delete", test_ipc_peer_closed_on_delete},
    {"ipc.server_gone", test_ipc_server_gone},
    {"ipc.suspend_resume", test_ipc_suspend_resume},
    {"ipc.notify_signal_then_wait", test_ipc_notify_signal_then_wait},
    {"ipc.notify_wait_then_signal", test_ipc_notify_wait_then_signal},
    {"ipc.fault_ep_exit", test_ipc_fault_ep_exit},
    {"ipc.fault_ep_faults", test_ipc_fault_ep_faults},
    {"ipc.child_server", test_ipc_child_server},
    {"ipc.across_cpus", test_ipc_across_cpus},
    {"libc.heap", test_libc_heap},
    {"libc.calloc_realloc", test_libc_calloc_realloc},
    {"libc.printf", test_libc_printf},
    {"libc.strtol", test_libc_strtol},
    {"libc.strings", test_libc_strings},
    {"ns.register_lookup", test_ns_register_lookup},
    {"ns.lookup_missing", test_ns_lookup_missing},
    {"ns.bad_names", test_ns_bad_names},
    {"ns.max_length_name", test_ns_max_length_name},
    {"ns.unregister", test_ns_unregister},
    {"ns.reregister_replaces", test_ns_reregister_replaces},
    {"ns.register_cap_rules", test_ns_register_cap_rules},
    {"ns.unknown_label", test_ns_unknown_label},
    {"ns.table_full", test_ns_table_full},
    {"ns.no_slot_leak", test_ns_no_slot_leak},
    {"ns.survives_restart", test_ns_survives_restart},
    {"io.write", test_io_write},
    {"io.unknown_label", test_io_unknown_label},
    {"io.lookup", test_io_lookup},
    {"io.stdio_sink", test_io_stdio_sink},
    {"io.read_line_args", test_io_read_line_args},
    {"io.read_line", test_io_read_line},
    {"io.restart_after_crash", test_io_restart_after_crash},
    {"cpu.flags_syscall", test_cpu_flags_syscall},
    {"cpu.flags_fault", test_cpu_flags_fault},
    {"cpu.flags_timer", test_cpu_flags_timer},
    {"cpu.selectors", test_cpu_selectors},
    {"cpu.fault_table", test_cpu_fault_table},
    {"cpu.cpuid", test_cpu_cpuid},
    /* Last: the simulator stops at a user ud2 (UC_ERR_INSN_INVALID) instead of reporting #UD. */
    {"ipc.fault_ep_invalid_opcode", test_ipc_fault_ep_invalid_opcode},
};

/* Unmaps the scratch region tests map into (a no-op after a passing test). */
static void unmap_scratch(void)
{
    anvil_vma_unmap(ANVIL_CAP_SELF_VSPACE, TEST_VA, TEST_SHARED_VA + PAGE - TEST_VA);
}

/* The value of `tests=` on the command line init passed on, or null. */
static const char *test_filter(void)
{
    static char filter[ANVIL_PROCESS_CMDLINE_MAX];
    const char *line = anvil_cmdline();
    for (const char *p = line; *p;) {
        while (*p == ' ')
            p++;
        size_t n = 0;
        while (p[n] && p[n] != ' ')
            n++;
        if (n > 6 && strncmp(p, "tests=", 6) == 0) {
            memcpy(filter, p + 6, n - 6);
            filter[n - 6] = '\0';
            return filter;
        }
        p += n;
    }
    return NULL;
}

int main(uint64_t start_arg)
{
    g_initramfs_size = start_arg;
    suite_cleanup = unmap_scratch;
    anvil_stdio_use_ioserver();
    const char *filter = test_filter();
    if (filter)
        printf("anvil userspace tests matching \"%s\"\n", filter);
    else
        printf("anvil userspace tests\n");
    return run_tests(kTests, sizeof kTests / sizeof kTests[0], filter);
}
