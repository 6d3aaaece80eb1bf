/* init: the first user program.
 *
 * Reads the manifest "services" from the initramfs, starts each service it
 * names as a process of its own (CNode, VSpace, thread) holding only the caps
 * its line lists, then serves as their supervisor: every service thread has
 * init's fault endpoint (badged with the service's index), so a crash or an
 * exit arrives here as a message. A crashed service is restarted up to its
 * restart budget; when the main program exits, init stops the services and
 * halts the machine with the program's exit code. The manifest format is in
 * docs/userspace.md and manifest.h.
 *
 * init prints to the console (libc's default sink), never through the IO
 * server: a supervisor must not wait for a service it restarts. An IO server
 * that died before init read its fault message (during start-up, say) would
 * otherwise hold init's call, and with it the restart, forever (found by
 * anvil-sim --faults kill=ioserver, docs/reliability.md). */
#include "manifest.h"

#include <anvil/anvil.h>
#include <anvil/cpio.h>
#include <anvil/debug.h>
#include <anvil/exit_codes.h>
#include <anvil/process.h>
#include <anvil/services.h>
#include <stdio.h>
#include <string.h>

/* Exit status when init cannot start what the manifest asks for. */
#define INIT_FAILED 1

struct service {
    const struct manifest_entry *entry;
    const void *elf;
    size_t elf_size;
    anvil_process_t proc;
    int running;
    unsigned restarts;
};

static struct manifest g_manifest;
static struct service g_services[MANIFEST_MAX_SERVICES];
static uint64_t g_initramfs_size;
static const void *g_initramfs;

/* Endpoints init creates and keeps (slots in its own CNode). */
static anvil_cap_t g_fault_ep;  /* init receives every service's exit/fault */
static anvil_cap_t g_ns_ep;     /* the name server's endpoint */
static anvil_cap_t g_ns_store;  /* the name server's published caps (a CNode) */
static anvil_cap_t g_ns_table;  /* the name server's table (a VMO) */
static anvil_cap_t g_io_ep;     /* the IO server's endpoint */
static anvil_cap_t g_io_state;  /* the IO server's state (a VMO) */

/* Badges: a service's index + 1 on its fault and client caps; init's own. */
#define INIT_BADGE 0x1000u

/* How many times init tries to start a service before giving up on it. */
#define START_ATTEMPTS 3u

/* What a service given another's thread (tcb:NAME) may do with it. */
#define PEER_TCB_RIGHTS (ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE | ANVIL_RIGHT_MANAGE)

static void fail(const char *what, anvil_status_t s)
{
    printf("init: %s: %s\n", what, anvil_status_str(s));
}

static const char *kind_name(uint32_t kind)
{
    switch (kind) {
    case ANVIL_FAULT_KIND_EXIT: return "exited";
    case ANVIL_FAULT_KIND_PAGE: return "page fault";
    case ANVIL_FAULT_KIND_GP: return "general protection fault";
    case ANVIL_FAULT_KIND_UD: return "invalid opcode";
    case ANVIL_FAULT_KIND_DE: return "divide error";
    case ANVIL_FAULT_KIND_MF: return "x87 floating-point error";
    case ANVIL_FAULT_KIND_XM: return "SIMD floating-point exception";
    default: return "exception";
    }
}

/* Caps a service may get: its manifest caps, and the name server's and the IO
 * server's state. */
#define SERVICE_MAX_CAPS (MANIFEST_MAX_CAPS + 3u)

/* Fills `caps` with what service `index` gets; returns how many. */
static unsigned service_caps(unsigned index, anvil_spawn_cap_t *caps, uint64_t *start_arg)
{
    const struct manifest_entry *e = &g_services[index].entry[0];
    const uint64_t badge = index + 1;
    const uint32_t client = ANVIL_RIGHT_WRITE | ANVIL_RIGHT_GRANT;
    unsigned n = 0;
    *start_arg = 0;
    for (unsigned i = 0; i < e->cap_count; i++) {
        const struct manifest_cap *c = &e->caps[i];
        anvil_spawn_cap_t *out = &caps[n++];
        out->badge = 0;
        switch (c->kind) {
        case CAP_NS:
            *out = (anvil_spawn_cap_t){g_ns_ep, ANVIL_CAP_NAMESERVER, client, badge};
            break;
        case CAP_NS_SERVE:
            /* With the state that outlives each name server (init keeps it). */
            *out = (anvil_spawn_cap_t){g_ns_ep, ANVIL_CAP_NAMESERVER, ANVIL_RIGHT_READ, 0};
            caps[n++] = (anvil_spawn_cap_t){g_ns_store, ANVIL_CAP_NS_STORE, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, 0};
            caps[n++] = (anvil_spawn_cap_t){g_ns_table, ANVIL_CAP_NS_TABLE, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, 0};
            break;
        case CAP_IO:
            *out = (anvil_spawn_cap_t){g_io_ep, ANVIL_CAP_IOSERVER, client, badge};
            break;
        case CAP_IO_SERVE:
            /* With the state that outlives each IO server (init keeps it). */
            *out = (anvil_spawn_cap_t){g_io_ep, ANVIL_CAP_IOSERVER, ANVIL_RIGHT_READ, 0};
            caps[n++] = (anvil_spawn_cap_t){g_io_state, ANVIL_CAP_IO_STATE, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, 0};
            break;
        case CAP_IO_PUBLISH:
            *out = (anvil_spawn_cap_t){g_io_ep, ANVIL_CAP_IOSERVER_PUBLISH, client, 0};
            break;
        case CAP_COM1_IOPORT:
            *out = (anvil_spawn_cap_t){ANVIL_CAP_COM1_IOPORT, ANVIL_CAP_COM1_IOPORT,
                                       ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, 0};
            break;
        case CAP_COM1_IRQ:
            *out = (anvil_spawn_cap_t){ANVIL_CAP_COM1_IRQ, ANVIL_CAP_COM1_IRQ, ANVIL_RIGHT_MANAGE, 0};
            break;
        case CAP_INITRAMFS:
            *out = (anvil_spawn_cap_t){ANVIL_CAP_INITRAMFS, ANVIL_CAP_INITRAMFS,
                                       ANVIL_RIGHT_READ | ANVIL_RIGHT_GRANT, 0};
            *start_arg = g_initramfs_size;
            break;
        case CAP_PEER_TCB:
            /* Checked by the parser: an earlier service, running by now. */
            *out = (anvil_spawn_cap_t){g_services[c->peer].proc.tcb, c->slot, PEER_TCB_RIGHTS, 0};
            break;
        }
    }
    return n;
}

static anvil_status_t start_service(unsigned index, const char *cmdline)
{
    struct service *svc = &g_services[index];
    const struct manifest_entry *e = svc->entry;
    anvil_spawn_cap_t caps[SERVICE_MAX_CAPS];
    anvil_spawn_options_t opts;
    memset(&opts, 0, sizeof opts);
    opts.caps = caps;
    opts.cap_count = service_caps(index, caps, &opts.start_arg);
    opts.priority = e->priority;
    opts.pin = e->pinned;
    opts.cpu = e->cpu;
    opts.cmdline = cmdline;

    /* The thread's fault endpoint: a copy of init's, badged with the index. */
    uint32_t fault_slot;
    anvil_status_t s = anvil_cap_copy_any(ANVIL_CAP_SELF_CNODE, g_fault_ep, ANVIL_CAP_SELF_CNODE,
                                          ANVIL_RIGHT_WRITE, index + 1, &fault_slot);
    if (s != ANVIL_OK)
        return s;
    opts.fault_ep = fault_slot;
    s = anvil_process_spawn(svc->elf, svc->elf_size, &opts, &svc->proc);
    /* The thread holds its own reference to the fault endpoint. */
    anvil_cap_delete(ANVIL_CAP_SELF_CNODE, fault_slot);
    svc->running = s == ANVIL_OK;
    return s;
}

/* start_service, tried up to START_ATTEMPTS times: a start that fails
 * (NO_MEMORY, say) leaves nothing behind and the next may not fail, while a
 * service left stopped holds up every client of it for good. */
static anvil_status_t start_service_again(unsigned index, const char *cmdline)
{
    anvil_status_t s = start_service(index, cmdline);
    for (unsigned attempt = 1; attempt < START_ATTEMPTS && s != ANVIL_OK; attempt++) {
        printf("init: starting %s: %s; trying again\n", g_services[index].entry->name, anvil_status_str(s));
        s = start_service(index, cmdline);
    }
    return s;
}

static void stop_service(unsigned index)
{
    struct service *svc = &g_services[index];
    if (svc->proc.tcb) {
        const anvil_status_t s = anvil_process_destroy(&svc->proc);
        if (s != ANVIL_OK)
            fail("stopping a service", s);
    }
    svc->running = 0;
}

/* Stops every service, last started first, and returns `code`. */
static int shut_down(int code)
{
    for (unsigned i = g_manifest.count; i-- > 0;)
        stop_service(i);
    printf("init: all services stopped; halting with code %d\n", code);
    return code;
}

/* True if a service of the manifest gets a cap of `kind`. */
static int any_service_has(enum manifest_cap_kind kind)
{
    for (unsigned i = 0; i < g_manifest.count; i++)
        if (manifest_has_cap(&g_manifest.entries[i], kind))
            return 1;
    return 0;
}

/* Makes one of init's own objects, trying up to START_ATTEMPTS times while
 * the kernel says NO_MEMORY (memory may come back: a service's exit frees
 * its objects; an injected failure is of one allocation). */
static int creates(anvil_status_t (*create)(anvil_cap_t *), anvil_cap_t *out, const char *what)
{
    anvil_status_t s = create(out);
    for (unsigned attempt = 1; attempt < START_ATTEMPTS && s == ANVIL_ERR_NO_MEMORY; attempt++) {
        printf("init: creating the %s: %s; trying again\n", what, anvil_status_str(s));
        s = create(out);
    }
    if (s != ANVIL_OK)
        fail(what, s);
    return s == ANVIL_OK;
}

/* The name server's state, which init keeps across its restarts. */
static anvil_status_t ns_store_create(anvil_cap_t *out) { return anvil_cnode_create(ANVIL_NS_STORE_SLOTS, out); }
static anvil_status_t ns_table_create(anvil_cap_t *out) { return anvil_vmo_create(ANVIL_NS_TABLE_BYTES, out); }
/* The IO server's, likewise. */
static anvil_status_t io_state_create(anvil_cap_t *out) { return anvil_vmo_create(ANVIL_IO_STATE_BYTES, out); }

/* Gives every running service that holds the thread of service `index`
 * (tcb:NAME) its new thread, in the same slot: after a restart the old cap
 * names a dead thread. The slot is empty for the moment between the two. */
static void hand_on_thread(unsigned index)
{
    const anvil_cap_t tcb = g_services[index].proc.tcb;
    for (unsigned i = 0; i < g_manifest.count; i++) {
        const struct service *holder = &g_services[i];
        if (!holder->running)
            continue;
        for (unsigned c = 0; c < holder->entry->cap_count; c++) {
            const struct manifest_cap *cap = &holder->entry->caps[c];
            if (cap->kind != CAP_PEER_TCB || cap->peer != index)
                continue;
            (void)anvil_cap_delete(holder->proc.cnode, cap->slot);
            const anvil_status_t s =
                anvil_cap_copy(ANVIL_CAP_SELF_CNODE, tcb, holder->proc.cnode, cap->slot, PEER_TCB_RIGHTS, 0);
            if (s != ANVIL_OK)
                printf("init: giving %s the new thread of %s: %s\n", holder->entry->name,
                       g_services[index].entry->name, anvil_status_str(s));
        }
    }
}

/* What to do about a stopped service: restart it, or (main) shut down. */
static int on_stop(unsigned index, const anvil_fault_msg_t *f, const char *cmdline, int *halt_code)
{
    struct service *svc = &g_services[index];
    const struct manifest_entry *e = svc->entry;
    if (f->kind == ANVIL_FAULT_KIND_EXIT)
        printf("init: %s exited with code %lld\n", e->name, (long long)f->exit_code);
    else
        printf("init: %s stopped: %s at 0x%llx (rip 0x%llx)\n", e->name, kind_name(f->kind),
               (unsigned long long)f->address, (unsigned long long)f->rip);
    if (e->is_main) {
        *halt_code = f->kind == ANVIL_FAULT_KIND_EXIT ? (int)f->exit_code : ANVIL_EXIT_INIT_FAULTED;
        return 1;
    }
    stop_service(index);
    if (svc->restarts >= e->restart_limit) {
        printf("init: %s stopped %u time(s); not restarting it\n", e->name, svc->restarts + 1);
        return 0;
    }
    svc->restarts++;
    printf("init: restarting %s (%u of %u)\n", e->name, svc->restarts, e->restart_limit);
    const anvil_status_t s = start_service_again(index, cmdline);
    if (s != ANVIL_OK)
        fail("restart", s);
    else
        hand_on_thread(index);
    return 0;
}

int main(uint64_t start_arg)
{
    const char *cmdline = anvil_cmdline();
    anvil_cap_info_t vspace, tcb;
    if (anvil_cap_info(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_VSPACE, &vspace) != ANVIL_OK ||
        anvil_cap_info(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_TCB, &tcb) != ANVIL_OK) {
        anvil_debug_puts("init: cannot read its own caps\n");
        return INIT_FAILED;
    }
    /* A process is named by its address space; a thread by its TCB. */
    printf("init: hello from Anvil userspace (pid %llu, tid %llu)\n", (unsigned long long)vspace.object_id,
           (unsigned long long)tcb.object_id);

    g_initramfs_size = start_arg;
    anvil_status_t s = anvil_initramfs_map(start_arg, &g_initramfs);
    if (s != ANVIL_OK) {
        fail("mapping the initramfs", s);
        return INIT_FAILED;
    }
    const void *text;
    size_t text_len;
    s = anvil_cpio_find(g_initramfs, g_initramfs_size, MANIFEST_MEMBER, &text, &text_len);
    if (s == ANVIL_ERR_NOT_FOUND) {
        printf("init: no \"%s\" in the initramfs; nothing to start\n", MANIFEST_MEMBER);
        return 0;
    }
    if (s != ANVIL_OK) {
        fail("reading the initramfs", s);
        return INIT_FAILED;
    }
    char error[128];
    if (!manifest_parse(text, text_len, &g_manifest, error, sizeof error)) {
        printf("init: %s: %s\n", MANIFEST_MEMBER, error);
        return INIT_FAILED;
    }

    /* The IO endpoint first, and at once init's own badged client cap in its
     * well-known slot ANVIL_CAP_IOSERVER (free until then), for its output. */
    if (!creates(anvil_endpoint_create, &g_io_ep, "IO server endpoint"))
        return INIT_FAILED;
    s = anvil_cap_copy(ANVIL_CAP_SELF_CNODE, g_io_ep, ANVIL_CAP_SELF_CNODE, ANVIL_CAP_IOSERVER,
                       ANVIL_RIGHT_WRITE | ANVIL_RIGHT_GRANT, INIT_BADGE);
    if (s != ANVIL_OK) {
        fail("IO server cap", s);
        return INIT_FAILED;
    }
    if (!creates(anvil_endpoint_create, &g_fault_ep, "fault endpoint") ||
        !creates(anvil_endpoint_create, &g_ns_ep, "name server endpoint"))
        return INIT_FAILED;
    /* The servers' state lives here, so that their restarts keep it. */
    if (any_service_has(CAP_NS_SERVE) && (!creates(ns_store_create, &g_ns_store, "name server's store") ||
                                          !creates(ns_table_create, &g_ns_table, "name server's table")))
        return INIT_FAILED;
    if (any_service_has(CAP_IO_SERVE) && !creates(io_state_create, &g_io_state, "IO server's state"))
        return INIT_FAILED;

    for (unsigned i = 0; i < g_manifest.count; i++) {
        struct service *svc = &g_services[i];
        svc->entry = &g_manifest.entries[i];
        s = anvil_cpio_find(g_initramfs, g_initramfs_size, svc->entry->program, &svc->elf, &svc->elf_size);
        if (s != ANVIL_OK) {
            printf("init: service %s: program \"%s\": %s\n", svc->entry->name, svc->entry->program,
                   anvil_status_str(s));
            return shut_down(INIT_FAILED);
        }
        s = start_service_again(i, cmdline);
        if (s != ANVIL_OK) {
            printf("init: starting %s: %s\n", svc->entry->name, anvil_status_str(s));
            return shut_down(INIT_FAILED);
        }
        printf("init: started %s\n", svc->entry->name);
    }
    if (!manifest_main(&g_manifest)) {
        printf("init: %u service(s) running; no main program, so init keeps supervising\n", g_manifest.count);
    }

    /* Supervise: every message on the fault endpoint is a service that stopped. */
    for (;;) {
        static anvil_msg_t msg;
        uint64_t badge = 0;
        msg.ncaps = 0;
        s = anvil_ipc_recv(g_fault_ep, &msg, &badge);
        if (s != ANVIL_OK) {
            fail("waiting on the fault endpoint", s);
            return shut_down(INIT_FAILED);
        }
        if (msg.label != ANVIL_FAULT_MSG_LABEL || badge == 0 || badge > g_manifest.count ||
            msg.len != sizeof(anvil_fault_msg_t))
            continue; /* only the kernel sends here */
        anvil_fault_msg_t f;
        memcpy(&f, msg.data, sizeof f);
        int halt_code = 0;
        if (on_stop((unsigned)(badge - 1), &f, cmdline, &halt_code))
            return shut_down(halt_code);
    }
}
