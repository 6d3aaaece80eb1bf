/* <anvil/process.h>: starting a program as a new process, from userspace.
 *
 * A process is a CNode, a VSpace and a TCB. anvil_process_spawn builds them in
 * the caller's CNode, loads an ELF image into the VSpace, gives the child caps
 * to its own objects (slots 1..3, without GRANT) plus any caps the caller lends
 * it, and starts its thread. The kernel re-checks everything (rights, W^X,
 * ranges): the ELF checks here only keep the loader's own arithmetic sound. */
#ifndef ANVIL_PROCESS_H
#define ANVIL_PROCESS_H

#include <stddef.h>
#include <stdint.h>
#include <anvil/status.h>
#include <anvil/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where a spawned process's stack lives (as for init), and its size. */
#define ANVIL_PROCESS_STACK_TOP  0x00007fff00000000ull
#define ANVIL_PROCESS_STACK_SIZE (64ull * 1024)
/* CNode size of a spawned process unless the options say otherwise. */
#define ANVIL_PROCESS_CNODE_SLOTS 256u
/* Rights a process gets on its own CNode, VSpace and TCB: no GRANT. */
#define ANVIL_PROCESS_SELF_RIGHTS (ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE | ANVIL_RIGHT_MANAGE)
/* Where anvil_initramfs_map puts the initramfs in the caller's VSpace. */
#define ANVIL_INITRAMFS_VA 0x0000600000000000ull

/* Longest command line a child gets, with its NUL. */
#define ANVIL_PROCESS_CMDLINE_MAX 256u

/* One cap lent to a child: the caller's slot `src` is copied into the child's
 * slot `dst_slot` with rights & rights_mask (the source needs GRANT) and, for an
 * unbadged endpoint or notification, `badge` (0: none). */
typedef struct anvil_spawn_cap {
    anvil_cap_t src;
    uint32_t dst_slot;
    uint32_t rights_mask;
    uint64_t badge;
} anvil_spawn_cap_t;

/* How to start a process. */
typedef struct anvil_spawn_options {
    uint64_t start_arg;              /* main's argument (rdi at entry) */
    uint32_t priority;               /* 0..255, at most the caller's own */
    uint32_t cnode_slots;            /* child CNode size; 0 = ANVIL_PROCESS_CNODE_SLOTS */
    const anvil_spawn_cap_t *caps;   /* extra caps for the child (may be null) */
    uint32_t cap_count;              /* entries in caps */
    anvil_cap_t fault_ep;            /* caller's endpoint slot told of the thread's
                                        exit or fault (its badge tells who); 0 = none */
    const char *cmdline;             /* the child's anvil_cmdline() (copied onto its
                                        stack, at most ANVIL_PROCESS_CMDLINE_MAX - 1
                                        bytes); null = "" */
    int pin;                         /* nonzero: the thread runs only on CPU `cpu` */
    uint32_t cpu;
} anvil_spawn_options_t;

/* A spawned process, as the caller sees it: slots in the caller's CNode. */
typedef struct anvil_process {
    anvil_cap_t cnode;    /* the child's CNode (all rights) */
    anvil_cap_t vspace;   /* the child's VSpace (all rights) */
    anvil_cap_t tcb;      /* the child's thread (all rights) */
    uint32_t cnode_slots; /* size of the child's CNode */
    uint64_t entry;       /* where the thread started */
} anvil_process_t;

/* Checks that `elf` is a static x86-64 ELF64 executable whose program headers
 * and PT_LOAD segments lie inside the buffer: OK or INVALID_ARG. */
anvil_status_t anvil_elf_check(const void *elf, size_t size);

/* Builds and starts a process running `elf`. On success *out names its
 * objects; on failure everything created is deleted again and the status of
 * the first failing step is returned (INVALID_ARG for a bad ELF or options). */
anvil_status_t anvil_process_spawn(const void *elf, size_t size, const anvil_spawn_options_t *opts,
                                   anvil_process_t *out);

/* Stops a process's thread, empties its CNode and deletes the caller's caps to
 * its CNode, VSpace and TCB, so its objects are freed. *p is cleared. */
anvil_status_t anvil_process_destroy(anvil_process_t *p);

/* Maps the initramfs boot cap (slot ANVIL_CAP_INITRAMFS, `size` bytes: init's
 * start argument) read-only at ANVIL_INITRAMFS_VA and returns its address.
 * Calling it again returns the same mapping. */
anvil_status_t anvil_initramfs_map(uint64_t size, const void **out);

/* The kernel command line init was started with (the kernel passes it in rsi);
 * "" in every other process. */
const char *anvil_cmdline(void);

#ifdef __cplusplus
}
#endif

#endif /* ANVIL_PROCESS_H */
