/* Shared pieces of the userspace test suite: the addresses tests map things
 * at, and helpers to start threads, run test-child and call services. */
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

/* Starts a thread of this process at `rip` with `rdi`, its stack ending at
 * `stack_top`, at `priority` on `cpu` (or ANVIL_CPU_ANY), reporting faults to
 * `fault_ep` (0: none); its TCB cap goes to *out (sched_tests.c). */
anvil_status_t start_test_thread(uint64_t rip, uint64_t rdi, void *stack_top, uint32_t priority, uint32_t cpu,
                                 anvil_cap_t fault_ep, anvil_cap_t *out);

/* One raw request to a service endpoint: `len` bytes of `data`, `cap` attached
 * unless 0, no cap offered for the reply. Returns the call's status, or the
 * server's (the reply's label) if it answered (service_tests.c). */
anvil_status_t service_raw(anvil_cap_t ep, uint64_t label, const void *data, uint32_t len, anvil_cap_t cap);
/* The same for the IO server, numbered and sent again if the server dies
 * serving it (anvil_io_call); no cap. */
anvil_status_t io_raw(anvil_cap_t ep, uint64_t label, const void *data, uint32_t len);

#endif
