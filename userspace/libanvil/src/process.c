/* The process builder: ELF loading into a new VSpace, child caps, first thread. */
#include <anvil/anvil.h>
#include <anvil/process.h>

#include <string.h>

/* ELF64 on-disk layouts (little endian). */
typedef struct {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
} elf_ehdr_t;

typedef struct {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
} elf_phdr_t;

_Static_assert(sizeof(elf_ehdr_t) == 64, "ELF64 header is 64 bytes");
_Static_assert(sizeof(elf_phdr_t) == 56, "ELF64 program header is 56 bytes");

enum {
    kEtExec = 2,
    kEmX86_64 = 62,
    kPtLoad = 1,
    kPfX = 1,
    kPfW = 2,
    kPfR = 4,
};

#define PAGE ANVIL_PAGE_SIZE

static uint64_t page_down(uint64_t v) { return v & ~(PAGE - 1); }
static uint64_t page_up(uint64_t v) { return (v + PAGE - 1) & ~(PAGE - 1); }

/* Program header `i` of a checked image (copied: the buffer may be unaligned). */
static void read_phdr(const uint8_t *elf, const elf_ehdr_t *eh, unsigned i, elf_phdr_t *ph)
{
    memcpy(ph, elf + eh->phoff + (uint64_t)i * sizeof *ph, sizeof *ph);
}

/* Mapping permissions for a segment's p_flags (W and X imply R); 0 if none. */
static uint32_t segment_perms(uint32_t flags)
{
    uint32_t perms = 0;
    if (flags & kPfR)
        perms |= ANVIL_PERM_R;
    if (flags & kPfW)
        perms |= ANVIL_PERM_W | ANVIL_PERM_R; /* x86-64 pages cannot be write-only */
    if (flags & kPfX)
        perms |= ANVIL_PERM_X | ANVIL_PERM_R;
    return perms;
}

anvil_status_t anvil_elf_check(const void *elf, size_t size)
{
    elf_ehdr_t eh;
    if (!elf || size < sizeof eh)
        return ANVIL_ERR_INVALID_ARG;
    memcpy(&eh, elf, sizeof eh);
    if (memcmp(eh.ident, "\x7f" "ELF", 4) != 0 || eh.ident[4] != 2 /* ELFCLASS64 */ ||
        eh.ident[5] != 1 /* little endian */ || eh.type != kEtExec || eh.machine != kEmX86_64)
        return ANVIL_ERR_INVALID_ARG;
    if (eh.phentsize != sizeof(elf_phdr_t) || eh.phnum == 0)
        return ANVIL_ERR_INVALID_ARG;
    if (eh.phoff > size || (uint64_t)eh.phnum * sizeof(elf_phdr_t) > size - eh.phoff)
        return ANVIL_ERR_INVALID_ARG;
    unsigned loads = 0;
    for (unsigned i = 0; i < eh.phnum; i++) {
        elf_phdr_t ph;
        read_phdr(elf, &eh, i, &ph);
        if (ph.type != kPtLoad || ph.memsz == 0)
            continue;
        if (ph.filesz > ph.memsz || ph.offset > size || ph.filesz > size - ph.offset)
            return ANVIL_ERR_INVALID_ARG;
        /* Keeps vaddr + memsz and the page rounding below from overflowing. */
        if (ph.vaddr < ANVIL_USER_BASE || ph.vaddr >= ANVIL_USER_LIMIT ||
            ph.memsz > ANVIL_USER_LIMIT - ph.vaddr)
            return ANVIL_ERR_INVALID_ARG;
        if (segment_perms(ph.flags) == 0)
            return ANVIL_ERR_INVALID_ARG;
        loads++;
    }
    return loads ? ANVIL_OK : ANVIL_ERR_INVALID_ARG;
}

/* Copies one PT_LOAD segment into a fresh VMO and maps it into `vspace`. The
 * VMO cap is deleted again: the mapping keeps the VMO alive. */
static anvil_status_t load_segment(anvil_cap_t vspace, const uint8_t *elf, const elf_phdr_t *ph)
{
    const uint64_t page_va = page_down(ph->vaddr);
    const uint64_t span = page_up(ph->vaddr + ph->memsz) - page_va;
    anvil_cap_t vmo;
    anvil_status_t s = anvil_vmo_create(span, &vmo);
    if (s != ANVIL_OK)
        return s;
    if (ph->filesz)
        s = anvil_vmo_write(vmo, ph->vaddr - page_va, elf + ph->offset, ph->filesz);
    if (s == ANVIL_OK)
        s = anvil_vma_map(vspace, page_va, vmo, 0, span, segment_perms(ph->flags));
    const anvil_status_t d = anvil_cap_delete(ANVIL_CAP_SELF_CNODE, vmo);
    return s != ANVIL_OK ? s : d;
}

/* Maps the child's stack and puts its command line at the top; *sp gets the
 * address of the command line (the thread's first rsp, 16-byte aligned). */
static anvil_status_t map_stack(anvil_cap_t vspace, const char *cmdline, uint64_t *sp)
{
    char line[ANVIL_PROCESS_CMDLINE_MAX];
    size_t len = cmdline ? strlen(cmdline) : 0;
    if (len > sizeof line - 1)
        return ANVIL_ERR_INVALID_ARG;
    memcpy(line, cmdline ? cmdline : "", len);
    line[len] = '\0';
    const uint64_t room = (len + 1 + 15) & ~15ull;

    anvil_cap_t vmo;
    anvil_status_t s = anvil_vmo_create(ANVIL_PROCESS_STACK_SIZE, &vmo);
    if (s != ANVIL_OK)
        return s;
    s = anvil_vmo_write(vmo, ANVIL_PROCESS_STACK_SIZE - room, line, len + 1);
    if (s == ANVIL_OK)
        s = anvil_vma_map(vspace, ANVIL_PROCESS_STACK_TOP - ANVIL_PROCESS_STACK_SIZE, vmo, 0,
                          ANVIL_PROCESS_STACK_SIZE, ANVIL_PERM_R | ANVIL_PERM_W);
    const anvil_status_t d = anvil_cap_delete(ANVIL_CAP_SELF_CNODE, vmo);
    *sp = ANVIL_PROCESS_STACK_TOP - room;
    return s != ANVIL_OK ? s : d;
}

/* Deletes whatever of a (possibly half-built) process exists. The child's
 * slots go first: its CNode holds its TCB while the TCB holds its CNode, and
 * that cycle would otherwise keep both alive. Returns the first unexpected
 * failure (an empty slot is expected). */
static anvil_status_t teardown(const anvil_process_t *p)
{
    anvil_status_t first = ANVIL_OK;
    if (p->tcb) {
        /* A stopped thread (exited, faulted) is BAD_STATE here: already still. */
        const anvil_status_t s = anvil_tcb_suspend(p->tcb);
        if (s != ANVIL_OK && s != ANVIL_ERR_BAD_STATE)
            first = s;
    }
    if (p->cnode) {
        for (uint32_t slot = 1; slot < p->cnode_slots; slot++) {
            const anvil_status_t s = anvil_cap_delete(p->cnode, slot);
            if (s != ANVIL_OK && s != ANVIL_ERR_INVALID_CAP && first == ANVIL_OK)
                first = s;
        }
    }
    const anvil_cap_t mine[3] = {p->tcb, p->vspace, p->cnode};
    for (int i = 0; i < 3; i++) {
        if (!mine[i])
            continue;
        const anvil_status_t s = anvil_cap_delete(ANVIL_CAP_SELF_CNODE, mine[i]);
        if (s != ANVIL_OK && first == ANVIL_OK)
            first = s;
    }
    return first;
}

/* Everything of spawn after the three objects exist; the caller tears down on failure. */
static anvil_status_t build(anvil_process_t *p, const uint8_t *elf, const anvil_spawn_options_t *opts)
{
    elf_ehdr_t eh;
    memcpy(&eh, elf, sizeof eh);
    anvil_status_t s;
    for (unsigned i = 0; i < eh.phnum; i++) {
        elf_phdr_t ph;
        read_phdr(elf, &eh, i, &ph);
        if (ph.type != kPtLoad || ph.memsz == 0)
            continue;
        if ((s = load_segment(p->vspace, elf, &ph)) != ANVIL_OK)
            return s;
    }
    uint64_t sp;
    if ((s = map_stack(p->vspace, opts->cmdline, &sp)) != ANVIL_OK)
        return s;

    /* The child's view of itself: its own CNode, VSpace and TCB, without GRANT. */
    const anvil_spawn_cap_t self[3] = {
        {p->cnode, ANVIL_CAP_SELF_CNODE, ANVIL_PROCESS_SELF_RIGHTS, 0},
        {p->vspace, ANVIL_CAP_SELF_VSPACE, ANVIL_PROCESS_SELF_RIGHTS, 0},
        {p->tcb, ANVIL_CAP_SELF_TCB, ANVIL_PROCESS_SELF_RIGHTS, 0},
    };
    for (int i = 0; i < 3; i++) {
        s = anvil_cap_copy(ANVIL_CAP_SELF_CNODE, self[i].src, p->cnode, self[i].dst_slot, self[i].rights_mask, 0);
        if (s != ANVIL_OK)
            return s;
    }
    for (uint32_t i = 0; i < opts->cap_count; i++) {
        const anvil_spawn_cap_t *c = &opts->caps[i];
        s = anvil_cap_copy(ANVIL_CAP_SELF_CNODE, c->src, p->cnode, c->dst_slot, c->rights_mask, c->badge);
        if (s != ANVIL_OK)
            return s;
    }

    s = anvil_tcb_configure(p->tcb, p->cnode, p->vspace, 0, opts->priority, opts->pin ? opts->cpu : ANVIL_CPU_ANY,
                            opts->fault_ep);
    if (s != ANVIL_OK)
        return s;
    anvil_regs_t regs;
    memset(&regs, 0, sizeof regs);
    regs.rip = eh.entry;
    regs.rsp = sp;
    regs.rdi = opts->start_arg;
    regs.rsi = sp; /* the command line (see crt/start.c) */
    regs.rflags = 0x202; /* IF set, reserved bit 1 */
    if ((s = anvil_tcb_set_regs(p->tcb, &regs)) != ANVIL_OK)
        return s;
    p->entry = eh.entry;
    return anvil_tcb_resume(p->tcb);
}

anvil_status_t anvil_process_spawn(const void *elf, size_t size, const anvil_spawn_options_t *opts,
                                   anvil_process_t *out)
{
    if (!opts || !out || (opts->cap_count && !opts->caps))
        return ANVIL_ERR_INVALID_ARG;
    anvil_status_t s = anvil_elf_check(elf, size);
    if (s != ANVIL_OK)
        return s;

    anvil_process_t p;
    memset(&p, 0, sizeof p);
    p.cnode_slots = opts->cnode_slots ? opts->cnode_slots : ANVIL_PROCESS_CNODE_SLOTS;
    s = anvil_cnode_create(p.cnode_slots, &p.cnode);
    if (s == ANVIL_OK)
        s = anvil_vspace_create(&p.vspace);
    if (s == ANVIL_OK)
        s = anvil_tcb_create(&p.tcb);
    if (s == ANVIL_OK)
        s = build(&p, elf, opts);
    if (s != ANVIL_OK) {
        teardown(&p);
        return s;
    }
    *out = p;
    return ANVIL_OK;
}

anvil_status_t anvil_process_destroy(anvil_process_t *p)
{
    if (!p)
        return ANVIL_ERR_INVALID_ARG;
    const anvil_status_t s = teardown(p);
    memset(p, 0, sizeof *p);
    return s;
}

anvil_status_t anvil_initramfs_map(uint64_t size, const void **out)
{
    static uint64_t mapped_size; /* 0 until mapped */
    if (!out || size == 0 || size > ANVIL_USER_LIMIT - ANVIL_INITRAMFS_VA)
        return ANVIL_ERR_INVALID_ARG;
    if (mapped_size) {
        if (size != mapped_size)
            return ANVIL_ERR_INVALID_ARG;
        *out = (const void *)(uintptr_t)ANVIL_INITRAMFS_VA;
        return ANVIL_OK;
    }
    const anvil_status_t s = anvil_vma_map(ANVIL_CAP_SELF_VSPACE, ANVIL_INITRAMFS_VA, ANVIL_CAP_INITRAMFS, 0,
                                           page_up(size), ANVIL_PERM_R);
    if (s != ANVIL_OK)
        return s;
    mapped_size = size;
    *out = (const void *)(uintptr_t)ANVIL_INITRAMFS_VA;
    return ANVIL_OK;
}
