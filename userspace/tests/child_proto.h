/* The contract between the test suite (parent) and test-child: what the start
 * argument selects, which slots hold which caps, the layout of the shared page
 * through which they synchronise, and the requests of CHILD_IPC_SERVER (the one
 * mode that talks over an endpoint). */
#ifndef ANVIL_TEST_CHILD_PROTO_H
#define ANVIL_TEST_CHILD_PROTO_H

#include <stdint.h>

/* Child slots the parent fills. */
#define CHILD_SLOT_VMO    8u /* the VMO a scenario works on */
#define CHILD_SLOT_SHARED 9u /* one page, mapped RW by the child: struct child_shared */

/* Where the child maps things in its own VSpace. */
#define CHILD_SHARED_VA 0x0000200000000000ull
#define CHILD_VMO_VA    0x0000200000100000ull
#define CHILD_FIXED_VA  0x0000200000200000ull

/* Scenarios (the start argument). */
enum child_mode {
    CHILD_ESCALATE = 1,      /* slot 8 is a READ-only VMO: every attempt to gain rights fails */
    CHILD_FAULT_UNMAPPED,    /* reads an unmapped address: the kernel stops it */
    CHILD_FAULT_WRITE_TEXT,  /* writes its own (read-execute) code: the kernel stops it */
    CHILD_REVOKE,            /* uses slot 8, waits for the parent's revoke, uses it again */
    CHILD_SHARED_MEMORY,     /* maps slot 8 RW, checks the parent's pattern, writes its own */
    CHILD_MAPS,              /* vma_alloc / vma_unmap / vma_map on its own VSpace */
    CHILD_TOUCH_AFTER_UNMAP, /* unmaps memory it wrote, then touches it: the kernel stops it */
    CHILD_EXIT,              /* reports done and exits */
    CHILD_IPC_SERVER,        /* slot 8 is an endpoint: serves SRV_* calls until SRV_QUIT or SRV_EXIT */
};

/* CHILD_IPC_SERVER: request labels. Every reply carries the request's label + 1. */
#define SRV_ECHO    0x5e0001ull /* reply data: the request's bytes reversed */
#define SRV_VMO     0x5e0002ull /* the request carries a VMO cap: the child writes CHILD_VMO_TEXT at
                                   offset 0 and keeps the cap; reply data: struct srv_vmo_reply */
#define SRV_NEW_VMO 0x5e0003ull /* the reply carries a new VMO holding CHILD_VMO_TEXT */
#define SRV_QUIT    0x5e0004ull /* reply, then end normally */
#define SRV_EXIT    0x5e0005ull /* end without replying: the caller sees PEER_CLOSED */
#define CHILD_VMO_TEXT "written by test-child"

/* Reply data of SRV_VMO: where the cap landed in the child and what it could do with it. */
struct srv_vmo_reply {
    uint32_t ncaps;       /* caps the request delivered */
    uint32_t slot;        /* the child's slot of the first */
    int32_t write_status; /* vmo_write of CHILD_VMO_TEXT through it */
    int32_t info_status;  /* cap_info on it */
    uint32_t rights;      /* its rights */
    uint32_t type;        /* its object type */
};

/* Values of the shared page's words. */
#define CHILD_MAGIC      0x43484c44u /* "CHLD": set first, once the page is mapped */
#define CHILD_DONE       0x444f4e45u /* "DONE": the scenario ran to its end */
#define PARENT_REVOKED   0x52564b44u /* "RVKD": parent -> child, the revoke happened */
#define PARENT_POKED     0x504f4b45u /* "POKE": parent -> child, it wrote the VMO word */
#define PARENT_POKE_WORD 0xfeedface5eedf00dull /* what it wrote at offset 4096 */

/* Yields either side spends waiting for the other before giving up. */
#define CHILD_WAIT_LIMIT 20000u

#define CHILD_MAX_RESULTS 24u

/* One page shared by parent and child. */
struct child_shared {
    volatile uint32_t magic;     /* CHILD_MAGIC once the child runs */
    volatile uint32_t stage;     /* child progress marks (scenario-specific) */
    volatile uint32_t command;   /* parent -> child (PARENT_REVOKED) */
    volatile uint32_t done;      /* CHILD_DONE when the scenario finished normally */
    volatile uint32_t nresults;  /* entries written to result[] */
    volatile uint32_t spins;     /* yields the child spent waiting */
    volatile int32_t result[CHILD_MAX_RESULTS]; /* statuses or 0/1 checks, in scenario order */
    volatile uint64_t value[4];  /* scenario-specific values (addresses, rights) */
};

/* Indices into result[] for each scenario. */
enum {
    /* CHILD_ESCALATE */
    ESC_VMO_WRITE = 0,       /* vmo_write on the READ-only cap: ACCESS_DENIED */
    ESC_VMO_READ,            /* vmo_read: OK */
    ESC_COPY_ALL,            /* cap_copy mask ALL into its own CNode: OK */
    ESC_COPY_INFO,           /* cap_info on the copy: OK (rights in value[0]) */
    ESC_COPY_WRITE,          /* vmo_write through the copy: ACCESS_DENIED */
    ESC_MAP_W,               /* vma_map RW: ACCESS_DENIED */
    ESC_MAP_X,               /* vma_map RX: ACCESS_DENIED */
    ESC_MAP_R,               /* vma_map R: OK */
    ESC_MAP_R_READS,         /* the R mapping shows the parent's bytes: 1 */
    ESC_REVOKE,              /* cap_revoke on the cap (no MANAGE): ACCESS_DENIED */
    ESC_GRANT_OUT,           /* cap_copy into a new CNode (no GRANT): ACCESS_DENIED */
    ESC_SELF_CNODE_OUT,      /* cap_copy of its own CNode cap elsewhere (no GRANT): ACCESS_DENIED */
    ESC_PRIORITY,            /* tcb_configure a new thread above its priority: ACCESS_DENIED */
    ESC_SELF_INFO,           /* cap_info on slot 1: OK (rights in value[1]) */
    ESC_COUNT,
    /* CHILD_REVOKE */
    RVK_WRITE_BEFORE = 0,    /* vmo_write before the revoke: OK */
    RVK_READ_BEFORE,         /* vmo_read before the revoke: OK */
    RVK_SAW_REVOKE,          /* the parent's "revoked" arrived in time: 1 */
    RVK_READ_AFTER,          /* vmo_read after the revoke: INVALID_CAP */
    RVK_INFO_AFTER,          /* cap_info on slot 8 after the revoke: INVALID_CAP */
    RVK_SHARED_STILL,        /* cap_info on slot 9 (not revoked): OK */
    RVK_COUNT,
    /* CHILD_SHARED_MEMORY */
    SHM_MAP = 0,             /* vma_map slot 8 RW: OK */
    SHM_SAW_PARENT,          /* page 1 holds the parent's pattern: 1 */
    SHM_SAW_POKE,            /* a word the parent wrote later showed up: 1 */
    SHM_COUNT,
    /* CHILD_MAPS */
    MAPS_ALLOC = 0,          /* vma_alloc 8 KiB RW: OK */
    MAPS_ALLOC_ZEROED,       /* it reads as zero, then holds what was written: 1 */
    MAPS_UNMAP,              /* vma_unmap of it: OK */
    MAPS_GONE,               /* vmo_write from the unmapped range: FAULT */
    MAPS_UNMAP_AGAIN,        /* the same vma_unmap again: OK (nothing left) */
    MAPS_VMO_CREATE,         /* vmo_create one page: OK */
    MAPS_MAP_FIXED,          /* vma_map at CHILD_FIXED_VA: OK */
    MAPS_MAP_AGAIN,          /* vma_map at the same address: ADDR_IN_USE */
    MAPS_FIXED_WORKS,        /* writes through the mapping are visible with vmo_read: 1 */
    MAPS_UNMAP_FIXED,        /* vma_unmap of it: OK */
    MAPS_REMAP,              /* vma_map at the same address again: OK */
    MAPS_PERSISTED,          /* the VMO kept its bytes across unmap/map: 1 */
    MAPS_COUNT,
    /* CHILD_IPC_SERVER (value[0]: requests received, value[1]: badge of the last) */
    IPCS_FIRST_RECV = 0,     /* ipc_recv of the first request: OK */
    IPCS_LAST,               /* the last reply_recv / reply: OK (after SRV_EXIT: that of its receive) */
    IPCS_COUNT,
};

/* Byte i of the pattern each side writes into the shared VMO (page 0: child, page 1: parent). */
static inline uint8_t child_pattern(uint32_t i) { return (uint8_t)(i * 7u + 3u); }
static inline uint8_t parent_pattern(uint32_t i) { return (uint8_t)(i * 13u + 5u); }

/* The bytes the parent writes into the VMO of CHILD_ESCALATE and CHILD_REVOKE. */
#define PARENT_SECRET "parent-owned bytes"

#endif
