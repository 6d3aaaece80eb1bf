/* The services manifest init reads from the initramfs member "services".
 *
 * One service per line, in start order; '#' starts a comment:
 *
 *   NAME [program=MEMBER] [prio=0..255] [restart=N] [cpu=N] [main] [caps=CAP,CAP...]
 *
 * program  the initramfs member to run (default: NAME)
 * prio     thread priority (default 100; at most init's own, 128)
 * restart  how many times a crashed service is restarted (default 0)
 * cpu      pin the thread to that CPU (default: any CPU)
 * main     the program whose exit ends the run: init stops the services and
 *          halts with its exit code (at most one service)
 * caps     what the service gets, each into its well-known slot:
 *            ns           client cap to the name server (badged)      slot 4
 *            ns-serve     the name server's receive cap               slot 4
 *            io           client cap to the IO server (badged)        slot 5
 *            io-serve     the IO server's receive cap                 slot 5
 *            io-publish   unbadged IO server cap to publish as "io"   slot 10
 *            com1-ioport  COM1's ports                                slot 8
 *            com1-irq     COM1's interrupt line                       slot 9
 *            initramfs    the initramfs VMO; start argument = size    slot 7
 *            tcb:NAME     the thread of earlier service NAME          slot 11
 *                         (a second tcb:NAME: slot 14; at most two);
 *                         when init restarts NAME, the slot gets the
 *                         new thread
 *          Two caps for the same slot (ns and ns-serve, say) are an error.
 *          ns-serve also brings the name server's state (its CNode of
 *          published caps, slot 12, and its table VMO, slot 13); io-serve
 *          the IO server's (its state VMO, slot 15).
 *
 * The parser is plain C with no syscalls, so the host tests run it too. */
#ifndef ANVIL_INIT_MANIFEST_H
#define ANVIL_INIT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define MANIFEST_MEMBER "services"
#define MANIFEST_MAX_SERVICES 16u
#define MANIFEST_MAX_CAPS 8u /* one per slot below */
#define MANIFEST_NAME_MAX 32u

enum manifest_cap_kind {
    CAP_NS = 1,
    CAP_NS_SERVE,
    CAP_IO,
    CAP_IO_SERVE,
    CAP_IO_PUBLISH,
    CAP_COM1_IOPORT,
    CAP_COM1_IRQ,
    CAP_INITRAMFS,
    CAP_PEER_TCB,
};

struct manifest_cap {
    enum manifest_cap_kind kind;
    unsigned peer; /* CAP_PEER_TCB: index of the earlier service */
    unsigned slot; /* where it lands in the service's CNode */
};

struct manifest_entry {
    char name[MANIFEST_NAME_MAX];
    char program[MANIFEST_NAME_MAX];
    uint32_t priority;
    uint32_t restart_limit;
    int pinned;
    uint32_t cpu;
    int is_main;
    struct manifest_cap caps[MANIFEST_MAX_CAPS];
    unsigned cap_count;
};

struct manifest {
    struct manifest_entry entries[MANIFEST_MAX_SERVICES];
    unsigned count;
};

/* Parses `len` bytes of manifest text. On error returns 0 with a message naming
 * the line and the problem in `error`; *out is then unspecified. */
int manifest_parse(const char *text, size_t len, struct manifest *out, char *error, size_t error_size);

/* True if the entry lists a cap of `kind`. */
int manifest_has_cap(const struct manifest_entry *e, enum manifest_cap_kind kind);

/* The main service, or null. */
const struct manifest_entry *manifest_main(const struct manifest *m);

#endif
