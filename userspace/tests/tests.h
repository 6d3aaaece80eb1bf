/* Shared pieces of the userspace test suite: the test functions of each file,
 * the addresses tests map things at, and helpers to run test-child. */
#ifndef ANVIL_TESTS_H
#define ANVIL_TESTS_H

#include <anvil/anvil.h>
#include <anvil/process.h>

#include "child_proto.h"
#include "suite.h"

#define PAGE ANVIL_PAGE_SIZE

/* Init runs at priority 128. Children run at the same priority: a lower one
 * would never run while we wait by yielding, a higher one is refused. */
#define TEST_PRIORITY 128u

/* Pointers the kernel must refuse: unmapped, kernel half, non-canonical. */
#define UNMAPPED_VA ((void *)0x10)
#define KERNEL_VA ((void *)0xffff800000001000ull)
#define NONCANONICAL_VA ((void *)0x0000800000000000ull)
/* The same as numbers, for vma_map / vma_unmap. */
#define KERNEL_HALF_ADDR 0xffff800000000000ull
#define NONCANONICAL_ADDR 0x0000800000000000ull

/* Free parts of the suite's own address space that tests map into. */
#define TEST_VA 0x0000500000000000ull        /* scratch mappings, unmapped by each test */
#define TEST_SHARED_VA 0x0000500100000000ull /* the page shared with a test-child */

/* Bytes of read-only data (.rodata): the kernel must never write them. */
extern const char kReadOnly[16];

/* Size of the initramfs (init's start argument), set by main. */
extern uint64_t g_initramfs_size;

/* The test-child ELF from the initramfs. */
int find_child_elf(const void **elf, size_t *len);

/* A test-child process and the page shared with it. */
struct child_run {
    anvil_process_t proc;
    anvil_cap_t shared;         /* the shared page's VMO, in our CNode */
    struct child_shared *sh;    /* our mapping of it, at TEST_SHARED_VA */
};

/* Starts test-child in `mode`, lending it `vmo` (0: none) at CHILD_SLOT_VMO
 * with `vmo_mask`, and the shared page at CHILD_SLOT_SHARED. */
anvil_status_t child_start(struct child_run *run, uint32_t mode, anvil_cap_t vmo, uint32_t vmo_mask);
/* Destroys the child and unmaps and deletes the shared page. */
anvil_status_t child_stop(struct child_run *run);
/* child_start, then check(run, ctx), then child_stop whatever check found;
 * 0 if all of it passed. */
int run_child(uint32_t mode, anvil_cap_t vmo, uint32_t vmo_mask, int (*check)(struct child_run *, void *),
              void *ctx);
/* Yields until the thread has stopped (exited or faulted), at most
 * CHILD_WAIT_LIMIT times; 1 if it did, with its registers in *regs. */
int wait_stopped(anvil_cap_t tcb, anvil_regs_t *regs);
/* Yields until *word == value, at most CHILD_WAIT_LIMIT times; 1 if it did. */
int wait_word(volatile uint32_t *word, uint32_t value);

/* cap_tests.c */
int test_cnode_create(void);
int test_cap_copy_rights(void);
int test_cap_copy_grant(void);
int test_cap_copy_errors(void);
int test_cap_delete(void);
int test_cap_revoke(void);

/* mem_tests.c */
int test_vmo_create(void);
int test_vmo_read_write(void);
int test_vmo_bad_pointers(void);
int test_vma_map(void);
int test_vma_map_errors(void);
int test_vma_unmap(void);
int test_vma_alloc(void);
int test_vma_map_large(void);
int test_vma_wx_aliases(void);
int test_mapping_keeps_vmo(void);
int test_initramfs_map(void);

/* tcb_tests.c */
int test_tcb_configure(void);
int test_tcb_regs(void);
int test_tcb_thread(void);
int test_tcb_suspend_resume(void);
int test_tcb_delete_running(void);

/* proc_tests.c */
int test_cpio_find(void);
int test_cpio_malformed(void);
int test_elf_check(void);
int test_spawn_child_caps(void);
int test_spawn_failures(void);
int test_spawn_repeat(void);
int test_child_cannot_escalate(void);
int test_child_fault_is_contained(void);
int test_revoke_reaches_child(void);
int test_shared_vmo(void);
int test_child_maps(void);
int test_revoke_kills_child(void);

/* Starts a thread of this process at `rip` with `rdi`, its stack ending at
 * `stack_top`, at `priority` on `cpu` (or ANVIL_CPU_ANY), reporting faults to
 * `fault_ep` (0: none); its TCB cap goes to *out. */
anvil_status_t start_test_thread(uint64_t rip, uint64_t rdi, void *stack_top, uint32_t priority, uint32_t cpu,
                                 anvil_cap_t fault_ep, anvil_cap_t *out);

/* sched_tests.c */
int test_sched_all_cpus_progress(void);
int test_sched_priority_preempts(void);
int test_sched_suspended_does_not_run(void);
int test_sched_affinity_holds(void);
int test_sched_exit_and_fault_stop_cleanly(void);
int test_abi_rdtsc(void);

/* fpu_tests.c */
int test_fpu_threads_keep_their_state(void);
int test_fpu_new_thread_starts_clean(void);
int test_fpu_exceptions_are_faults(void);
int test_fpu_printf_and_strtod(void);
int test_fpu_ext_state_call(void);

/* cpu_tests.c */
int test_cpu_fault_table(void);
int test_cpu_flags_syscall(void);
int test_cpu_flags_fault(void);
int test_cpu_flags_timer(void);
int test_cpu_selectors(void);
int test_cpu_cpuid(void);

/* ipc_tests.c */
int test_ipc_create(void);
int test_ipc_irq_bind(void);
int test_ns_register_lookup(void);
int test_ns_lookup_missing(void);
int test_ns_bad_names(void);
int test_ns_max_length_name(void);
int test_ns_unregister(void);
int test_ns_reregister_replaces(void);
int test_ns_register_cap_rules(void);
int test_ns_unknown_label(void);
int test_ns_table_full(void);
int test_ns_no_slot_leak(void);
int test_io_write(void);
int test_io_unknown_label(void);
int test_io_lookup(void);
int test_io_stdio_sink(void);
int test_io_read_line_args(void);
int test_io_read_line(void);
int test_io_restart_after_crash(void);
int test_ns_survives_restart(void);
int test_libc_heap(void);
int test_libc_calloc_realloc(void);
int test_libc_printf(void);
int test_libc_strtol(void);
int test_libc_strings(void);

/* One raw request to a service endpoint: `len` bytes of `data`, `cap` attached
 * unless 0, no cap offered for the reply. Returns the call's status, or the
 * server's (the reply's label) if it answered. */
anvil_status_t service_raw(anvil_cap_t ep, uint64_t label, const void *data, uint32_t len, anvil_cap_t cap);
int test_ipc_receiver_first(void);
int test_ipc_sender_first(void);
int test_ipc_try_would_block(void);
int test_ipc_message_sizes(void);
int test_ipc_label_and_badge(void);
int test_ipc_fifo(void);
int test_ipc_call_reply(void);
int test_ipc_reply_recv(void);
int test_ipc_cap_transfer(void);
int test_ipc_cap_transfer_limits(void);
int test_ipc_cap_in_call_and_reply(void);
int test_ipc_send_rules(void);
int test_ipc_recv_rules(void);
int test_ipc_cap_two_hops_revoke(void);
int test_ipc_peer_closed_on_delete(void);
int test_ipc_server_gone(void);
int test_ipc_suspend_resume(void);
int test_ipc_notify_signal_then_wait(void);
int test_ipc_notify_wait_then_signal(void);
int test_ipc_fault_ep_exit(void);
int test_ipc_fault_ep_faults(void);
int test_ipc_fault_ep_invalid_opcode(void);
int test_ipc_child_server(void);
int test_ipc_across_cpus(void);

#endif
