/* The CPIO reader, the ELF checks and the process builder of libanvil, and
 * test-child scenarios: what one process can and cannot do to another. */
#include "tests.h"

#include <anvil/cpio.h>
#include <string.h>

#define SELF ANVIL_CAP_SELF_CNODE
#define VS ANVIL_CAP_SELF_VSPACE

/* ---- helpers shared with the other test files ---- */

int find_child_elf(const void **elf, size_t *len)
{
    const void *archive;
    if (anvil_initramfs_map(g_initramfs_size, &archive) != ANVIL_OK)
        return 0;
    return anvil_cpio_find(archive, g_initramfs_size, "test-child", elf, len) == ANVIL_OK;
}

anvil_status_t child_start(struct child_run *run, uint32_t mode, anvil_cap_t vmo, uint32_t vmo_mask)
{
    memset(run, 0, sizeof *run);
    const void *elf;
    size_t len;
    if (!find_child_elf(&elf, &len))
        return ANVIL_ERR_NOT_FOUND;
    anvil_status_t s = anvil_vmo_create(PAGE, &run->shared);
    if (s != ANVIL_OK)
        return s;
    s = anvil_vma_map(VS, TEST_SHARED_VA, run->shared, 0, PAGE, ANVIL_PERM_R | ANVIL_PERM_W);
    if (s != ANVIL_OK) {
        anvil_cap_delete(SELF, run->shared);
        return s;
    }
    run->sh = (struct child_shared *)(uintptr_t)TEST_SHARED_VA;
    const anvil_spawn_cap_t caps[2] = {
        {run->shared, CHILD_SLOT_SHARED, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, 0},
        {vmo, CHILD_SLOT_VMO, vmo_mask, 0},
    };
    const anvil_spawn_options_t opts = {
        .start_arg = mode,
        .priority = TEST_PRIORITY,
        .caps = caps,
        .cap_count = vmo ? 2 : 1,
    };
    s = anvil_process_spawn(elf, len, &opts, &run->proc);
    if (s != ANVIL_OK) {
        anvil_vma_unmap(VS, TEST_SHARED_VA, PAGE);
        anvil_cap_delete(SELF, run->shared);
    }
    return s;
}

anvil_status_t child_stop(struct child_run *run)
{
    anvil_status_t s = anvil_process_destroy(&run->proc);
    const anvil_status_t u = anvil_vma_unmap(VS, TEST_SHARED_VA, PAGE);
    const anvil_status_t d = anvil_cap_delete(SELF, run->shared);
    if (s == ANVIL_OK)
        s = u != ANVIL_OK ? u : d;
    return s;
}

int run_child(uint32_t mode, anvil_cap_t vmo, uint32_t vmo_mask, int (*check)(struct child_run *, void *),
              void *ctx)
{
    struct child_run run;
    CHECK_STATUS(child_start(&run, mode, vmo, vmo_mask), ANVIL_OK);
    const int r = check(&run, ctx);
    /* Always torn down, so a failed check cannot disturb the next test. */
    const anvil_status_t s = child_stop(&run);
    if (r)
        return r;
    CHECK_STATUS(s, ANVIL_OK);
    return 0;
}

int wait_stopped(anvil_cap_t tcb, anvil_regs_t *regs)
{
    for (unsigned i = 0; i < CHILD_WAIT_LIMIT; i++) {
        if (anvil_tcb_get_regs(tcb, regs) == ANVIL_OK)
            return 1;
        anvil_thread_yield();
    }
    return anvil_tcb_get_regs(tcb, regs) == ANVIL_OK;
}

int wait_word(volatile uint32_t *word, uint32_t value)
{
    for (unsigned i = 0; i < CHILD_WAIT_LIMIT; i++) {
        if (*word == value)
            return 1;
        anvil_thread_yield();
    }
    return *word == value;
}

/* ---- CPIO ---- */

static uint8_t g_arc[2048];
static uint8_t g_mut[2048];

enum { kHdr = 110, kFieldFileSize = 6, kFieldNameSize = 11 };

static void put_hex8(uint8_t *p, uint32_t v)
{
    static const char kDigits[] = "0123456789abcdef";
    for (int i = 7; i >= 0; i--, v >>= 4)
        p[i] = (uint8_t)kDigits[v & 15];
}

static size_t pad4(size_t n) { return (n + 3) & ~(size_t)3; }

/* Appends a newc member at `at`; returns the offset after it. */
static size_t put_member(uint8_t *arc, size_t at, const char *name, const void *data, uint32_t size)
{
    const uint32_t namesize = (uint32_t)strlen(name) + 1;
    const uint32_t fields[13] = {1, 0100644, 0, 0, 1, 0, size, 0, 0, 0, 0, namesize, 0};
    memcpy(arc + at, "070701", 6);
    for (int i = 0; i < 13; i++)
        put_hex8(arc + at + 6 + i * 8, fields[i]);
    memcpy(arc + at + kHdr, name, namesize);
    size_t pos = pad4(at + kHdr + namesize);
    memset(arc + at + kHdr + namesize, 0, pos - (at + kHdr + namesize));
    memcpy(arc + pos, data, size);
    const size_t end = pad4(pos + size);
    memset(arc + pos + size, 0, end - (pos + size));
    return end;
}

/* A three-member archive: "a" (5 bytes), "./dir/b" (1000 bytes), "c" (empty). */
static size_t build_archive(uint8_t *arc)
{
    static uint8_t b[1000];
    for (unsigned i = 0; i < sizeof b; i++)
        b[i] = (uint8_t)(i * 3u);
    size_t at = put_member(arc, 0, "a", "hello", 5);
    at = put_member(arc, at, "./dir/b", b, sizeof b);
    at = put_member(arc, at, "c", "", 0);
    return put_member(arc, at, "TRAILER!!!", "", 0);
}

DEFINE_TEST("proc.cpio_find", test_cpio_find)
{
    const void *arc, *data;
    size_t len;
    CHECK_STATUS(anvil_initramfs_map(g_initramfs_size, &arc), ANVIL_OK);
    /* The test initramfs: us, and the child. */
    CHECK_STATUS(anvil_cpio_find(arc, g_initramfs_size, "init", &data, &len), ANVIL_OK);
    CHECK(len > 64 && memcmp(data, "\x7f" "ELF", 4) == 0);
    CHECK((const uint8_t *)data + len <= (const uint8_t *)arc + g_initramfs_size);
    CHECK_STATUS(anvil_cpio_find(arc, g_initramfs_size, "test-child", &data, &len), ANVIL_OK);
    CHECK(len > 64 && memcmp(data, "\x7f" "ELF", 4) == 0);
    CHECK_STATUS(anvil_cpio_find(arc, g_initramfs_size, "test-chil", &data, &len), ANVIL_ERR_NOT_FOUND);
    CHECK_STATUS(anvil_cpio_find(arc, g_initramfs_size, "test-child2", &data, &len), ANVIL_ERR_NOT_FOUND);
    CHECK_STATUS(anvil_cpio_find(arc, g_initramfs_size, "", &data, &len), ANVIL_ERR_NOT_FOUND);
    CHECK_STATUS(anvil_cpio_find(arc, g_initramfs_size, "TRAILER!!!", &data, &len), ANVIL_ERR_NOT_FOUND);

    /* Our own archive: contents, "./" prefixes, empty members, iteration. */
    const size_t size = build_archive(g_arc);
    CHECK_STATUS(anvil_cpio_find(g_arc, size, "a", &data, &len), ANVIL_OK);
    CHECK(len == 5 && memcmp(data, "hello", 5) == 0 && data == g_arc + kHdr + 2);
    CHECK_STATUS(anvil_cpio_find(g_arc, size, "dir/b", &data, &len), ANVIL_OK);
    CHECK(len == 1000 && ((const uint8_t *)data)[999] == (uint8_t)(999 * 3u));
    CHECK(((const uint8_t *)data - g_arc) % 4 == 0); /* data is 4-aligned in the archive */
    CHECK_STATUS(anvil_cpio_find(g_arc, size, "c", &data, &len), ANVIL_OK);
    CHECK(len == 0);
    CHECK_STATUS(anvil_cpio_find(g_arc, size, "dir", &data, &len), ANVIL_ERR_NOT_FOUND);
    static const char *const kNames[] = {"a", "./dir/b", "c"};
    size_t pos = 0;
    anvil_cpio_entry_t e;
    for (unsigned i = 0; i < 3; i++) {
        CHECK_STATUS(anvil_cpio_next(g_arc, size, &pos, &e), ANVIL_OK);
        CHECK(strlen(e.name) == strlen(kNames[i]) && memcmp(e.name, kNames[i], strlen(e.name)) == 0);
        CHECK(e.mode == 0100644);
    }
    CHECK_STATUS(anvil_cpio_next(g_arc, size, &pos, &e), ANVIL_ERR_NOT_FOUND);
    CHECK_STATUS(anvil_cpio_next(g_arc, size, &pos, &e), ANVIL_ERR_NOT_FOUND); /* stays at the end */

    /* Null arguments. */
    CHECK_STATUS(anvil_cpio_find(0, size, "a", &data, &len), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_cpio_find(g_arc, size, 0, &data, &len), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_cpio_find(g_arc, size, "a", 0, &len), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_cpio_find(g_arc, size, "a", &data, 0), ANVIL_ERR_INVALID_ARG);
    return 0;
}

/* Sets header field `index` of the member whose header is at `at`. */
static void set_field(uint8_t *arc, size_t at, unsigned index, uint32_t v) { put_hex8(arc + at + 6 + index * 8, v); }

DEFINE_TEST("proc.cpio_malformed", test_cpio_malformed)
{
    const void *data;
    size_t len;
    const size_t size = build_archive(g_arc);
    const size_t second = pad4(kHdr + 2) + pad4(5); /* header of "./dir/b" */

    /* Every truncation lacks the trailer: malformed, never "not found". */
    for (size_t cut = 0; cut < size; cut++)
        CHECK_STATUS(anvil_cpio_find(g_arc, cut, "zzz", &data, &len), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_cpio_find(g_arc, size, "zzz", &data, &len), ANVIL_ERR_NOT_FOUND);
    /* A member before the damage is still found. */
    CHECK_STATUS(anvil_cpio_find(g_arc, second + 50, "a", &data, &len), ANVIL_OK);
    CHECK_STATUS(anvil_cpio_find(g_arc, second + 50, "c", &data, &len), ANVIL_ERR_INVALID_ARG);

#define MUTATED(stmt, name, expect)                                            \
    do {                                                                       \
        memcpy(g_mut, g_arc, size);                                            \
        stmt;                                                                  \
        CHECK_STATUS(anvil_cpio_find(g_mut, size, name, &data, &len), expect); \
    } while (0)
    MUTATED(g_mut[5] = '2', "a", ANVIL_ERR_INVALID_ARG);                  /* "070702": the CRC format */
    MUTATED(g_mut[0] = 'x', "a", ANVIL_ERR_INVALID_ARG);                  /* no magic */
    MUTATED(g_mut[second + 6 + 3 * 8] = 'g', "c", ANVIL_ERR_INVALID_ARG); /* non-hex uid */
    MUTATED(g_mut[6 + 12 * 8 + 7] = ' ', "a", ANVIL_ERR_INVALID_ARG);     /* non-hex check field */
    MUTATED(set_field(g_mut, 0, kFieldNameSize, 0), "a", ANVIL_ERR_INVALID_ARG);
    MUTATED(set_field(g_mut, 0, kFieldNameSize, 1), "a", ANVIL_ERR_INVALID_ARG); /* "a" without its NUL */
    MUTATED(set_field(g_mut, 0, kFieldNameSize, 3), "a", ANVIL_ERR_INVALID_ARG); /* namesize past the NUL */
    MUTATED(set_field(g_mut, 0, kFieldNameSize, 0xffffffffu), "a", ANVIL_ERR_INVALID_ARG);
    MUTATED(set_field(g_mut, 0, kFieldNameSize, (uint32_t)size), "a", ANVIL_ERR_INVALID_ARG);
    MUTATED(set_field(g_mut, 0, kFieldFileSize, 0xffffffffu), "a", ANVIL_ERR_INVALID_ARG);
    MUTATED(set_field(g_mut, 0, kFieldFileSize, 0x7ffffffcu), "a", ANVIL_ERR_INVALID_ARG);
    MUTATED(set_field(g_mut, 0, kFieldFileSize, (uint32_t)(size - (kHdr + 2) + 1)), "a", ANVIL_ERR_INVALID_ARG);
    /* A file size that lands the next header mid-data: whatever is there is not a header. */
    MUTATED(set_field(g_mut, second, kFieldFileSize, 500), "c", ANVIL_ERR_INVALID_ARG);
    /* The trailer's own fields are checked too. */
    MUTATED(set_field(g_mut, size - pad4(kHdr + 11), kFieldFileSize, 100), "zzz", ANVIL_ERR_INVALID_ARG);
    /* Every header and name byte (member data is never parsed), each set to
     * values a parser might trip on: every answer must be one of the three,
     * and any data found must lie inside the archive. */
    static const uint8_t kValues[] = {0, '0', '9', 'f', 'F', 0xff};
    const size_t data_b = second + pad4(kHdr + 8); /* "./dir/b"'s 1000 bytes */
    for (size_t i = 0; i < size; i++) {
        if (i >= data_b && i < data_b + 1000)
            continue;
        for (unsigned k = 0; k < sizeof kValues; k++) {
            memcpy(g_mut, g_arc, size);
            g_mut[i] = kValues[k];
            static const char *const kLook[] = {"c", "zzz"};
            for (unsigned n = 0; n < 2; n++) {
                data = 0;
                len = 0;
                const anvil_status_t s = anvil_cpio_find(g_mut, size, kLook[n], &data, &len);
                CHECK(s == ANVIL_OK || s == ANVIL_ERR_NOT_FOUND || s == ANVIL_ERR_INVALID_ARG);
                if (s == ANVIL_OK)
                    CHECK((const uint8_t *)data >= g_mut && len <= size &&
                          (const uint8_t *)data + len <= g_mut + size);
            }
        }
    }
#undef MUTATED
    return 0;
}

/* ---- ELF checks ---- */

static uint8_t g_elf[512 * 1024] __attribute__((aligned(16)));

struct phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

/* Copies test-child into g_elf; returns its size (0 on failure). */
static size_t load_child_copy(void)
{
    const void *elf;
    size_t len;
    if (!find_child_elf(&elf, &len) || len > sizeof g_elf)
        return 0;
    memcpy(g_elf, elf, len);
    return len;
}

static uint64_t elf_phoff(void)
{
    uint64_t v;
    memcpy(&v, g_elf + 32, 8);
    return v;
}

static uint16_t elf_phnum(void)
{
    uint16_t v;
    memcpy(&v, g_elf + 56, 2);
    return v;
}

/* The n-th PT_LOAD program header of g_elf (copied in and out). */
static struct phdr *load_phdr(unsigned n)
{
    const uint64_t phoff = elf_phoff();
    for (unsigned i = 0; i < elf_phnum(); i++) {
        struct phdr *ph = (struct phdr *)(g_elf + phoff + i * sizeof(struct phdr));
        if (ph->type == 1 && n-- == 0)
            return ph;
    }
    return 0;
}

DEFINE_TEST("proc.elf_check", test_elf_check)
{
    const size_t len = load_child_copy();
    CHECK(len != 0);
    CHECK(elf_phoff() % 8 == 0); /* so load_phdr's pointers are aligned */
    CHECK_STATUS(anvil_elf_check(g_elf, len), ANVIL_OK);
    CHECK_STATUS(anvil_elf_check(0, len), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_elf_check(g_elf, 0), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_elf_check(g_elf, 63), ANVIL_ERR_INVALID_ARG);
    /* Cut inside the program headers, and inside the last segment's bytes. */
    CHECK_STATUS(anvil_elf_check(g_elf, elf_phoff() + elf_phnum() * 56 - 1), ANVIL_ERR_INVALID_ARG);
    uint64_t file_end = 0;
    for (unsigned i = 0; load_phdr(i); i++) {
        const struct phdr *ph = load_phdr(i);
        if (ph->filesz && ph->offset + ph->filesz > file_end)
            file_end = ph->offset + ph->filesz;
    }
    CHECK(file_end > 0 && file_end <= len);
    CHECK_STATUS(anvil_elf_check(g_elf, file_end - 1), ANVIL_ERR_INVALID_ARG);

    /* One field at a time, restored after each. */
#define BROKEN(stmt)                                                    \
    do {                                                                \
        CHECK(load_child_copy() == len);                                \
        stmt;                                                           \
        CHECK_STATUS(anvil_elf_check(g_elf, len), ANVIL_ERR_INVALID_ARG); \
    } while (0)
    BROKEN(g_elf[0] = 0x7e);                      /* magic */
    BROKEN(g_elf[4] = 1);                         /* ELFCLASS32 */
    BROKEN(g_elf[5] = 2);                         /* big endian */
    BROKEN(g_elf[16] = 3);                        /* ET_DYN */
    BROKEN(g_elf[18] = 3);                        /* EM_386 */
    BROKEN(g_elf[54] = 32);                       /* e_phentsize */
    BROKEN(g_elf[56] = 0; g_elf[57] = 0);         /* no program headers */
    BROKEN(g_elf[56] = 0xff; g_elf[57] = 0xff);   /* 65535 of them */
    BROKEN(memset(g_elf + 32, 0xff, 8));          /* e_phoff far away */
    BROKEN(load_phdr(0)->filesz = load_phdr(0)->memsz + 1);
    BROKEN(load_phdr(0)->offset = len - 8);
    BROKEN(load_phdr(0)->offset = ~0ull - 4);
    BROKEN(load_phdr(0)->vaddr = KERNEL_HALF_ADDR);
    BROKEN(load_phdr(0)->vaddr = 0);
    BROKEN(load_phdr(0)->memsz = ~0ull - 0x1000);
    BROKEN(load_phdr(0)->flags = 0);
#undef BROKEN
    CHECK(load_child_copy() == len);
    return 0;
}

/* ---- spawning ---- */

/* Rights and type of a slot of another CNode we hold; type 0 if empty. */
static anvil_cap_info_t info_in(anvil_cap_t cnode, uint32_t slot)
{
    anvil_cap_info_t info = {0, 0, 0, 0};
    anvil_cap_info(cnode, slot, &info);
    return info;
}

static int check_child_caps(struct child_run *run, void *ctx)
{
    (void)ctx;
    const anvil_cap_t cn = run->proc.cnode;
    const anvil_cap_info_t self_cn = info_in(SELF, cn), self_vs = info_in(SELF, run->proc.vspace),
                           self_tcb = info_in(SELF, run->proc.tcb);
    CHECK(self_cn.type == ANVIL_OBJ_CNODE && self_vs.type == ANVIL_OBJ_VSPACE && self_tcb.type == ANVIL_OBJ_TCB);
    /* The child holds its own objects without GRANT, and the page we lent it. */
    const uint32_t rwm = ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE | ANVIL_RIGHT_MANAGE;
    anvil_cap_info_t i1 = info_in(cn, 1), i2 = info_in(cn, 2), i3 = info_in(cn, 3), i9 = info_in(cn, 9);
    CHECK(i1.type == ANVIL_OBJ_CNODE && i1.rights == rwm && i1.object_id == self_cn.object_id);
    CHECK(i2.type == ANVIL_OBJ_VSPACE && i2.rights == rwm && i2.object_id == self_vs.object_id);
    CHECK(i3.type == ANVIL_OBJ_TCB && i3.rights == rwm && i3.object_id == self_tcb.object_id);
    CHECK(i9.type == ANVIL_OBJ_VMO && i9.rights == (ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE));
    CHECK(i9.object_id == info_in(SELF, run->shared).object_id);
    /* Nothing else: not our initramfs, not slot 8 (no VMO was lent). */
    for (uint32_t slot = 4; slot < ANVIL_PROCESS_CNODE_SLOTS; slot++)
        CHECK(slot == 9 || info_in(cn, slot).type == 0);
    CHECK(run->proc.cnode_slots == ANVIL_PROCESS_CNODE_SLOTS);
    CHECK(run->proc.entry >= 0x400000 && run->proc.entry < 0x500000);

    anvil_regs_t regs;
    CHECK(wait_stopped(run->proc.tcb, &regs));
    CHECK(run->sh->magic == CHILD_MAGIC && run->sh->done == CHILD_DONE);
    /* It ran on the stack we gave it. */
    CHECK(regs.rsp <= ANVIL_PROCESS_STACK_TOP && regs.rsp > ANVIL_PROCESS_STACK_TOP - ANVIL_PROCESS_STACK_SIZE);
    CHECK_STATUS(anvil_tcb_resume(run->proc.tcb), ANVIL_ERR_BAD_STATE);
    return 0;
}

DEFINE_TEST("proc.spawn_child_caps", test_spawn_child_caps)
{
    if (run_child(CHILD_EXIT, 0, 0, check_child_caps, 0))
        return 1;
    /* process_destroy clears the handle. */
    struct child_run run;
    CHECK_STATUS(child_start(&run, CHILD_EXIT, 0, 0), ANVIL_OK);
    CHECK_STATUS(child_stop(&run), ANVIL_OK);
    CHECK(run.proc.tcb == 0 && run.proc.vspace == 0 && run.proc.cnode == 0);
    CHECK_STATUS(anvil_process_destroy(0), ANVIL_ERR_INVALID_ARG);
    return 0;
}

/* spawn with `opts`, expecting `expect`; our CNode must be as before. */
static int spawn_fails(const void *elf, size_t len, const anvil_spawn_options_t *opts, anvil_status_t expect)
{
    const unsigned before = caps_in_use();
    anvil_process_t p;
    memset(&p, 0, sizeof p);
    CHECK_STATUS(anvil_process_spawn(elf, len, opts, &p), expect);
    CHECK(caps_in_use() == before);
    CHECK(p.cnode == 0 && p.tcb == 0); /* *out untouched */
    return 0;
}

DEFINE_TEST("proc.spawn_failures_clean_up", test_spawn_failures)
{
    const void *elf;
    size_t len;
    CHECK(find_child_elf(&elf, &len));
    anvil_process_t p;
    anvil_cap_t vmo;
    CHECK_STATUS(anvil_vmo_create(PAGE, &vmo), ANVIL_OK);
    uint32_t nogrant = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, vmo, SELF, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, 0, &nogrant), ANVIL_OK);

    anvil_spawn_options_t opts = {.start_arg = CHILD_EXIT, .priority = TEST_PRIORITY};
    CHECK_STATUS(anvil_process_spawn(elf, len, 0, &p), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_process_spawn(elf, len, &opts, 0), ANVIL_ERR_INVALID_ARG);
    opts.cap_count = 1;
    if (spawn_fails(elf, len, &opts, ANVIL_ERR_INVALID_ARG)) /* caps == NULL */
        return 1;
    opts.cap_count = 0;
    if (spawn_fails("not an elf", 11, &opts, ANVIL_ERR_INVALID_ARG) || spawn_fails(elf, 40, &opts, ANVIL_ERR_INVALID_ARG))
        return 1;

    /* Failures after the CNode, VSpace and TCB exist: all of it goes again. */
    opts.priority = TEST_PRIORITY + 1;
    if (spawn_fails(elf, len, &opts, ANVIL_ERR_ACCESS_DENIED))
        return 1;
    opts.priority = 256;
    if (spawn_fails(elf, len, &opts, ANVIL_ERR_INVALID_ARG))
        return 1;
    opts.priority = TEST_PRIORITY;
    opts.cnode_slots = 17;
    if (spawn_fails(elf, len, &opts, ANVIL_ERR_INVALID_ARG))
        return 1;
    opts.cnode_slots = 16;
    anvil_spawn_cap_t extra = {vmo, 16, ANVIL_RIGHT_READ, 0}; /* past the end of a 16-slot CNode */
    opts.caps = &extra;
    opts.cap_count = 1;
    if (spawn_fails(elf, len, &opts, ANVIL_ERR_INVALID_CAP))
        return 1;
    opts.cnode_slots = 0;
    extra.dst_slot = ANVIL_CAP_SELF_VSPACE; /* taken by the child's VSpace */
    if (spawn_fails(elf, len, &opts, ANVIL_ERR_SLOT_OCCUPIED))
        return 1;
    extra.dst_slot = 8;
    extra.src = 200; /* empty */
    if (spawn_fails(elf, len, &opts, ANVIL_ERR_INVALID_CAP))
        return 1;
    extra.src = nogrant; /* may not leave our CNode */
    if (spawn_fails(elf, len, &opts, ANVIL_ERR_ACCESS_DENIED))
        return 1;
    opts.cap_count = 0;

    /* ELF images our checks accept but the kernel refuses, after segments were
     * loaded. The child's last PT_LOAD is its writable data. */
    CHECK(load_child_copy() == len);
    unsigned last = 0;
    while (load_phdr(last + 1))
        last++;
    CHECK(last >= 1 && (load_phdr(last)->flags & 2) != 0);
    load_phdr(last)->flags = 7; /* RWX: W^X */
    if (spawn_fails(g_elf, len, &opts, ANVIL_ERR_INVALID_ARG))
        return 1;
    CHECK(load_child_copy() == len);
    load_phdr(last)->vaddr = load_phdr(0)->vaddr; /* two segments on the same pages */
    if (spawn_fails(g_elf, len, &opts, ANVIL_ERR_ADDR_IN_USE))
        return 1;
    CHECK(load_child_copy() == len);
    struct phdr *data_seg = load_phdr(last);
    data_seg->vaddr = ANVIL_PROCESS_STACK_TOP - PAGE; /* where the stack goes */
    data_seg->memsz = data_seg->filesz < 16 ? 16 : data_seg->filesz;
    if (spawn_fails(g_elf, len, &opts, ANVIL_ERR_ADDR_IN_USE))
        return 1;

    CHECK_STATUS(anvil_cap_delete(SELF, nogrant), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, vmo), ANVIL_OK);
    return 0;
}

/* A child that runs to its end, with a thread id above *last_id. */
static int check_exits(struct child_run *run, void *ctx)
{
    uint64_t *last_id = ctx;
    anvil_regs_t regs;
    CHECK(wait_stopped(run->proc.tcb, &regs));
    CHECK(run->sh->done == CHILD_DONE);
    const uint64_t id = info_in(SELF, run->proc.tcb).object_id;
    CHECK(id > *last_id); /* a new thread each time; ids are never reused */
    *last_id = id;
    return 0;
}

/* A child waiting for a command that never comes: destroyed while running. */
static int check_waiting(struct child_run *run, void *ctx)
{
    (void)ctx;
    CHECK(wait_word(&run->sh->stage, 1));
    CHECK(run->sh->done != CHILD_DONE);
    return 0;
}

DEFINE_TEST("proc.spawn_repeat_and_destroy", test_spawn_repeat)
{
    uint64_t last_id = 0;
    for (unsigned i = 0; i < 8; i++)
        if (run_child(CHILD_EXIT, 0, 0, check_exits, &last_id))
            return 1;
    anvil_cap_t v;
    CHECK_STATUS(anvil_vmo_create(PAGE, &v), ANVIL_OK);
    const int r = run_child(CHILD_REVOKE, v, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, check_waiting, 0);
    CHECK_STATUS(anvil_cap_delete(SELF, v), ANVIL_OK);
    if (r)
        return r;
    /* It stays stopped; we carry on, and so do new children. */
    for (unsigned i = 0; i < 20; i++)
        anvil_thread_yield();
    return run_child(CHILD_EXIT, 0, 0, check_exits, &last_id);
}

/* ---- what a child can and cannot do ---- */

static int check_escalate(struct child_run *run, void *ctx)
{
    const anvil_cap_t vmo = *(const anvil_cap_t *)ctx;
    anvil_regs_t regs;
    CHECK(wait_stopped(run->proc.tcb, &regs));
    const struct child_shared *sh = run->sh;
    CHECK(sh->magic == CHILD_MAGIC && sh->done == CHILD_DONE);
    CHECK(sh->nresults == ESC_COUNT);
    CHECK(sh->result[ESC_VMO_WRITE] == ANVIL_ERR_ACCESS_DENIED);
    CHECK(sh->result[ESC_VMO_READ] == ANVIL_OK);
    CHECK(sh->result[ESC_COPY_ALL] == ANVIL_OK);
    CHECK(sh->result[ESC_COPY_INFO] == ANVIL_OK);
    CHECK(sh->value[0] == ANVIL_RIGHT_READ); /* the ALL-mask copy is still READ-only */
    CHECK(sh->result[ESC_COPY_WRITE] == ANVIL_ERR_ACCESS_DENIED);
    CHECK(sh->result[ESC_MAP_W] == ANVIL_ERR_ACCESS_DENIED);
    CHECK(sh->result[ESC_MAP_X] == ANVIL_ERR_ACCESS_DENIED);
    CHECK(sh->result[ESC_MAP_R] == ANVIL_OK);
    CHECK(sh->result[ESC_MAP_R_READS] == 1);
    CHECK(sh->result[ESC_REVOKE] == ANVIL_ERR_ACCESS_DENIED);
    CHECK(sh->result[ESC_GRANT_OUT] == ANVIL_ERR_ACCESS_DENIED);
    CHECK(sh->result[ESC_SELF_CNODE_OUT] == ANVIL_ERR_ACCESS_DENIED);
    CHECK(sh->result[ESC_PRIORITY] == ANVIL_ERR_ACCESS_DENIED);
    CHECK(sh->result[ESC_SELF_INFO] == ANVIL_OK);
    CHECK(sh->value[1] == (ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE | ANVIL_RIGHT_MANAGE));
    /* Seen from here: the child's slot 8 is READ-only, and our bytes are intact. */
    CHECK(info_in(run->proc.cnode, CHILD_SLOT_VMO).rights == ANVIL_RIGHT_READ);
    char buf[sizeof PARENT_SECRET];
    CHECK_STATUS(anvil_vmo_read(vmo, 0, buf, sizeof buf), ANVIL_OK);
    CHECK(memcmp(buf, PARENT_SECRET, sizeof buf) == 0);
    return 0;
}

DEFINE_TEST("cap.child_cannot_escalate", test_child_cannot_escalate)
{
    anvil_cap_t vmo;
    CHECK_STATUS(anvil_vmo_create(PAGE, &vmo), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_write(vmo, 0, PARENT_SECRET, sizeof PARENT_SECRET), ANVIL_OK);
    const int r = run_child(CHILD_ESCALATE, vmo, ANVIL_RIGHT_READ, check_escalate, &vmo);
    CHECK_STATUS(anvil_cap_delete(SELF, vmo), ANVIL_OK);
    return r;
}

/* Runs a child scenario that must end in a fault: it stops, stage 1 reached,
 * never finished; nothing else is disturbed. */
static int check_fault_contained(struct child_run *run, void *ctx)
{
    (void)ctx;
    anvil_regs_t regs;
    CHECK(wait_stopped(run->proc.tcb, &regs));
    CHECK(run->sh->magic == CHILD_MAGIC);
    CHECK(run->sh->stage == 1);
    CHECK(run->sh->done != CHILD_DONE);
    CHECK(regs.rip >= 0x400000 && regs.rip < 0x500000); /* stopped in its own code */
    /* A faulted thread stays stopped. */
    CHECK_STATUS(anvil_tcb_resume(run->proc.tcb), ANVIL_ERR_BAD_STATE);
    CHECK_STATUS(anvil_tcb_suspend(run->proc.tcb), ANVIL_ERR_BAD_STATE);
    for (unsigned i = 0; i < 20; i++)
        anvil_thread_yield();
    CHECK(run->sh->stage == 1 && run->sh->done != CHILD_DONE);
    CHECK_STATUS(anvil_tcb_get_regs(run->proc.tcb, &regs), ANVIL_OK);
    /* Its objects are intact and ours to inspect and free. */
    CHECK(info_in(run->proc.cnode, ANVIL_CAP_SELF_TCB).type == ANVIL_OBJ_TCB);
    return 0;
}

DEFINE_TEST("mem.child_fault_is_contained", test_child_fault_is_contained)
{
    if (run_child(CHILD_FAULT_UNMAPPED, 0, 0, check_fault_contained, 0) ||
        run_child(CHILD_FAULT_WRITE_TEXT, 0, 0, check_fault_contained, 0))
        return 1;
    /* We are unharmed: a fresh child still runs to its end. */
    uint64_t last_id = 0;
    return run_child(CHILD_EXIT, 0, 0, check_exits, &last_id);
}

static int check_revoke(struct child_run *run, void *ctx)
{
    const anvil_cap_t vmo = *(const anvil_cap_t *)ctx;
    CHECK(wait_word(&run->sh->stage, 1));
    CHECK(info_in(run->proc.cnode, CHILD_SLOT_VMO).type == ANVIL_OBJ_VMO);
    CHECK_STATUS(anvil_cap_revoke(SELF, vmo), ANVIL_OK);
    CHECK(info_in(run->proc.cnode, CHILD_SLOT_VMO).type == 0);
    CHECK(info_in(run->proc.cnode, CHILD_SLOT_SHARED).type == ANVIL_OBJ_VMO);
    run->sh->command = PARENT_REVOKED;
    anvil_regs_t regs;
    CHECK(wait_stopped(run->proc.tcb, &regs));
    const struct child_shared *sh = run->sh;
    CHECK(sh->done == CHILD_DONE && sh->nresults == RVK_COUNT);
    CHECK(sh->result[RVK_WRITE_BEFORE] == ANVIL_OK);
    CHECK(sh->result[RVK_READ_BEFORE] == ANVIL_OK);
    CHECK(sh->result[RVK_SAW_REVOKE] == 1);
    CHECK(sh->result[RVK_READ_AFTER] == ANVIL_ERR_INVALID_CAP);
    CHECK(sh->result[RVK_INFO_AFTER] == ANVIL_ERR_INVALID_CAP);
    CHECK(sh->result[RVK_SHARED_STILL] == ANVIL_OK);
    /* Our cap survives its revoke, with what the child wrote before it. */
    char buf[sizeof PARENT_SECRET];
    CHECK_STATUS(anvil_vmo_read(vmo, 0, buf, sizeof buf), ANVIL_OK);
    CHECK(memcmp(buf, PARENT_SECRET, sizeof buf) == 0);
    return 0;
}

DEFINE_TEST("cap.revoke_reaches_child", test_revoke_reaches_child)
{
    anvil_cap_t vmo;
    CHECK_STATUS(anvil_vmo_create(PAGE, &vmo), ANVIL_OK);
    const int r = run_child(CHILD_REVOKE, vmo, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, check_revoke, &vmo);
    CHECK_STATUS(anvil_cap_delete(SELF, vmo), ANVIL_OK);
    return r;
}

static int check_shared(struct child_run *run, void *ctx)
{
    volatile uint8_t *mem = ctx;
    CHECK(wait_word(&run->sh->stage, 1));
    for (uint32_t i = 0; i < PAGE; i++)
        CHECK(mem[i] == child_pattern(i)); /* the child's writes, through our mapping */
    *(volatile uint64_t *)(mem + PAGE) = PARENT_POKE_WORD;
    run->sh->command = PARENT_POKED;
    anvil_regs_t regs;
    CHECK(wait_stopped(run->proc.tcb, &regs));
    const struct child_shared *sh = run->sh;
    CHECK(sh->done == CHILD_DONE && sh->nresults == SHM_COUNT);
    CHECK(sh->result[SHM_MAP] == ANVIL_OK);
    CHECK(sh->result[SHM_SAW_PARENT] == 1);
    CHECK(sh->result[SHM_SAW_POKE] == 1);
    return 0;
}

DEFINE_TEST("mem.shared_vmo_across_processes", test_shared_vmo)
{
    anvil_cap_t vmo;
    CHECK_STATUS(anvil_vmo_create(2 * PAGE, &vmo), ANVIL_OK);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, vmo, 0, 2 * PAGE, ANVIL_PERM_R | ANVIL_PERM_W), ANVIL_OK);
    volatile uint8_t *mem = (volatile uint8_t *)(uintptr_t)TEST_VA;
    for (uint32_t i = 0; i < PAGE; i++)
        mem[PAGE + i] = parent_pattern(i);
    int r = run_child(CHILD_SHARED_MEMORY, vmo, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, check_shared, (void *)mem);
    /* The child's mapping went with it; ours still shows its bytes. */
    if (!r && !(mem[0] == child_pattern(0) && mem[PAGE - 1] == child_pattern(PAGE - 1)))
        r = test_fail(__FILE__, __LINE__, "the child's bytes are gone from our mapping after it was destroyed");
    CHECK_STATUS(anvil_vma_unmap(VS, TEST_VA, 2 * PAGE), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, vmo), ANVIL_OK);
    return r;
}

static int check_maps(struct child_run *run, void *ctx)
{
    (void)ctx;
    anvil_regs_t regs;
    CHECK(wait_stopped(run->proc.tcb, &regs));
    const struct child_shared *sh = run->sh;
    CHECK(sh->done == CHILD_DONE && sh->nresults == MAPS_COUNT);
    CHECK(sh->result[MAPS_ALLOC] == ANVIL_OK);
    CHECK(sh->value[0] % PAGE == 0 && sh->value[0] >= ANVIL_USER_BASE && sh->value[0] < ANVIL_USER_LIMIT);
    CHECK(sh->result[MAPS_ALLOC_ZEROED] == 1);
    CHECK(sh->result[MAPS_UNMAP] == ANVIL_OK);
    CHECK(sh->result[MAPS_GONE] == ANVIL_ERR_FAULT);
    CHECK(sh->result[MAPS_UNMAP_AGAIN] == ANVIL_OK);
    CHECK(sh->result[MAPS_VMO_CREATE] == ANVIL_OK);
    CHECK(sh->result[MAPS_MAP_FIXED] == ANVIL_OK);
    CHECK(sh->result[MAPS_MAP_AGAIN] == ANVIL_ERR_ADDR_IN_USE);
    CHECK(sh->result[MAPS_FIXED_WORKS] == 1);
    CHECK(sh->result[MAPS_UNMAP_FIXED] == ANVIL_OK);
    CHECK(sh->result[MAPS_REMAP] == ANVIL_OK);
    CHECK(sh->result[MAPS_PERSISTED] == 1);
    return 0;
}

DEFINE_TEST("mem.child_maps_and_unmaps", test_child_maps)
{
    /* Then memory the child unmapped is gone for real: touching it faults. */
    return run_child(CHILD_MAPS, 0, 0, check_maps, 0) ||
           run_child(CHILD_TOUCH_AFTER_UNMAP, 0, 0, check_fault_contained, 0);
}

/* The child spins waiting for a command; revoking and deleting our TCB cap
 * (its own copy in slot 3 derives from ours) destroys its thread. */
static int check_revoke_kills(struct child_run *run, void *ctx)
{
    (void)ctx;
    CHECK(wait_word(&run->sh->stage, 1));
    CHECK(info_in(run->proc.cnode, ANVIL_CAP_SELF_TCB).type == ANVIL_OBJ_TCB);
    CHECK_STATUS(anvil_cap_revoke(SELF, run->proc.tcb), ANVIL_OK);
    CHECK(info_in(run->proc.cnode, ANVIL_CAP_SELF_TCB).type == 0);
    CHECK(info_in(run->proc.cnode, ANVIL_CAP_SELF_VSPACE).type == ANVIL_OBJ_VSPACE); /* only the TCB's tree */
    CHECK_STATUS(anvil_cap_delete(SELF, run->proc.tcb), ANVIL_OK);
    run->proc.tcb = 0; /* gone: child_stop must not touch the slot */
    for (unsigned i = 0; i < 20; i++)
        anvil_thread_yield();
    const uint32_t spins = run->sh->spins;
    for (unsigned i = 0; i < 100; i++)
        anvil_thread_yield();
    CHECK(run->sh->spins == spins);
    CHECK(run->sh->done != CHILD_DONE);
    return 0;
}

DEFINE_TEST("cap.revoke_kills_child", test_revoke_kills_child)
{
    anvil_cap_t v;
    CHECK_STATUS(anvil_vmo_create(PAGE, &v), ANVIL_OK);
    const int r = run_child(CHILD_REVOKE, v, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, check_revoke_kills, 0);
    CHECK_STATUS(anvil_cap_delete(SELF, v), ANVIL_OK);
    return r;
}
