/* Memory calls from one process: vmo_create/read/write, vma_map/unmap/alloc,
 * the initramfs boot cap, and the kernel's checks of every user pointer. */
#include "tests.h"

#include <anvil/cpio.h>
#include <string.h>

#define SELF ANVIL_CAP_SELF_CNODE
#define VS ANVIL_CAP_SELF_VSPACE
#define R ANVIL_PERM_R
#define W ANVIL_PERM_W
#define X ANVIL_PERM_X

/* Init's stack (boot-built processes): [top - 64 KiB, top). */
#define INIT_STACK_TOP 0x00007fff00000000ull
/* Init's program text. */
#define INIT_TEXT_VA 0x400000ull

static uint8_t g_buf[3 * 4096];
static uint8_t g_back[3 * 4096];

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 31u + 7u); }

/* True if the kernel can read our [va, va+len): checks a mapping without
 * touching it ourselves, which would stop this thread if it is gone. */
static int readable(uint64_t va, uint64_t len)
{
    anvil_cap_t v;
    if (anvil_vmo_create(len, &v) != ANVIL_OK)
        return 0;
    const anvil_status_t s = anvil_vmo_write(v, 0, (const void *)(uintptr_t)va, len);
    anvil_cap_delete(SELF, v);
    return s == ANVIL_OK;
}

DEFINE_TEST("mem.vmo_create", test_vmo_create)
{
    anvil_cap_t v;
    CHECK_STATUS(anvil_vmo_create(0, &v), ANVIL_ERR_INVALID_ARG);
    /* Sizes that would overflow when rounded up, or are just too big. */
    CHECK_STATUS(anvil_vmo_create(~0ull, &v), ANVIL_ERR_NO_MEMORY);
    CHECK_STATUS(anvil_vmo_create(~0ull - 4095, &v), ANVIL_ERR_NO_MEMORY);
    CHECK_STATUS(anvil_vmo_create(1ull << 40, &v), ANVIL_ERR_NO_MEMORY);

    /* One byte rounds up to a page; 4097 to two. */
    CHECK_STATUS(anvil_vmo_create(1, &v), ANVIL_OK);
    anvil_cap_info_t info;
    CHECK_STATUS(anvil_cap_info(SELF, v, &info), ANVIL_OK);
    CHECK(info.type == ANVIL_OBJ_VMO && info.rights == ANVIL_RIGHTS_ALL && info.badge == 0);
    CHECK_STATUS(anvil_vmo_read(v, 4095, g_buf, 1), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_read(v, 4096, g_buf, 1), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vmo_read(v, 0, g_buf, 4097), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_cap_delete(SELF, v), ANVIL_OK);

    CHECK_STATUS(anvil_vmo_create(4097, &v), ANVIL_OK);
    memset(g_buf, 0xa5, sizeof g_buf);
    CHECK_STATUS(anvil_vmo_read(v, 0, g_buf, 8192), ANVIL_OK);
    for (unsigned i = 0; i < 8192; i++)
        CHECK(g_buf[i] == 0); /* zero-filled */
    CHECK_STATUS(anvil_vmo_read(v, 8192, g_buf, 1), ANVIL_ERR_OUT_OF_RANGE);
    /* Each VMO is its own object. */
    anvil_cap_t v2;
    anvil_cap_info_t info2;
    CHECK_STATUS(anvil_vmo_create(PAGE, &v2), ANVIL_OK);
    CHECK_STATUS(anvil_cap_info(SELF, v, &info), ANVIL_OK);
    CHECK_STATUS(anvil_cap_info(SELF, v2, &info2), ANVIL_OK);
    CHECK(info.object_id != info2.object_id);
    CHECK_STATUS(anvil_cap_delete(SELF, v2), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, v), ANVIL_OK);
    return 0;
}

DEFINE_TEST("mem.vmo_read_write", test_vmo_read_write)
{
    anvil_cap_t v;
    CHECK_STATUS(anvil_vmo_create(3 * PAGE, &v), ANVIL_OK);
    /* Across pages and the kernel's bounce buffer. */
    for (unsigned i = 0; i < 10000; i++)
        g_buf[i] = pattern(i);
    CHECK_STATUS(anvil_vmo_write(v, 100, g_buf, 10000), ANVIL_OK);
    memset(g_back, 0, sizeof g_back);
    CHECK_STATUS(anvil_vmo_read(v, 0, g_back, 3 * PAGE), ANVIL_OK);
    for (unsigned i = 0; i < 100; i++)
        CHECK(g_back[i] == 0);
    CHECK(memcmp(g_back + 100, g_buf, 10000) == 0);
    for (unsigned i = 10100; i < 3 * PAGE; i++)
        CHECK(g_back[i] == 0);
    CHECK_STATUS(anvil_vmo_read(v, 5000, g_back, 300), ANVIL_OK);
    CHECK(memcmp(g_back, g_buf + 4900, 300) == 0);

    /* Bounds, including offset + len overflowing. */
    CHECK_STATUS(anvil_vmo_read(v, 3 * PAGE + 1, g_back, 1), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vmo_read(v, 3 * PAGE - 1, g_back, 2), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vmo_write(v, 3 * PAGE, g_buf, 1), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vmo_read(v, 1, g_back, ~0ull), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vmo_write(v, ~0ull, g_buf, 2), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vmo_write(v, 8, g_buf, ~0ull - 4), ANVIL_ERR_OUT_OF_RANGE);

    /* Rights, types, empty slots. */
    uint32_t ro = 0, wo = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, v, SELF, ANVIL_RIGHT_READ, 0, &ro), ANVIL_OK);
    CHECK_STATUS(anvil_cap_copy_any(SELF, v, SELF, ANVIL_RIGHT_WRITE, 0, &wo), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_write(ro, 0, g_buf, 1), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_vmo_read(wo, 0, g_back, 1), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_vmo_read(ro, 100, g_back, 16), ANVIL_OK);
    CHECK(memcmp(g_back, g_buf, 16) == 0);
    CHECK_STATUS(anvil_vmo_write(wo, 0, "w", 1), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_read(ANVIL_CAP_SELF_TCB, 0, g_back, 1), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_vmo_write(SELF, 0, g_buf, 1), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_vmo_read(200, 0, g_back, 1), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_vmo_write(0, 0, g_buf, 1), ANVIL_ERR_INVALID_CAP);

    CHECK_STATUS(anvil_cap_delete(SELF, wo), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ro), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, v), ANVIL_OK);
    return 0;
}

DEFINE_TEST("mem.vmo_bad_pointers", test_vmo_bad_pointers)
{
    anvil_cap_t v;
    CHECK_STATUS(anvil_vmo_create(PAGE, &v), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_write(v, 0, "0123456789abcdef", 16), ANVIL_OK);

    /* vmo_read writes user memory: unmapped, kernel, non-canonical and
     * read-only destinations (.rodata, .text) are refused, untouched. */
    CHECK_STATUS(anvil_vmo_read(v, 0, UNMAPPED_VA, 16), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_vmo_read(v, 0, KERNEL_VA, 16), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_vmo_read(v, 0, NONCANONICAL_VA, 16), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_vmo_read(v, 0, (void *)kReadOnly, 16), ANVIL_ERR_FAULT);
    CHECK(memcmp(kReadOnly, "read-only data", 15) == 0);
    CHECK_STATUS(anvil_vmo_read(v, 0, (void *)(uintptr_t)&test_vmo_bad_pointers, 16), ANVIL_ERR_FAULT);
    /* A destination that starts in our stack and runs past its top: nothing is written. */
    volatile uint64_t *top = (volatile uint64_t *)(uintptr_t)(INIT_STACK_TOP - 8);
    const uint64_t before = *top;
    CHECK_STATUS(anvil_vmo_read(v, 0, (void *)(uintptr_t)(INIT_STACK_TOP - 8), 16), ANVIL_ERR_FAULT);
    CHECK(*top == before);

    /* vmo_write reads user memory: read-only sources are fine, the rest is not. */
    CHECK_STATUS(anvil_vmo_write(v, 0, UNMAPPED_VA, 16), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_vmo_write(v, 0, KERNEL_VA, 16), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_vmo_write(v, 0, NONCANONICAL_VA, 16), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_vmo_write(v, 0, (const void *)(uintptr_t)(INIT_STACK_TOP - 8), 16), ANVIL_ERR_FAULT);
    char back[16];
    CHECK_STATUS(anvil_vmo_read(v, 0, back, 16), ANVIL_OK);
    CHECK(memcmp(back, "0123456789abcdef", 16) == 0); /* refused writes changed nothing */
    CHECK_STATUS(anvil_vmo_write(v, 0, kReadOnly, 16), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_read(v, 0, back, 16), ANVIL_OK);
    CHECK(memcmp(back, kReadOnly, 16) == 0);
    CHECK_STATUS(anvil_cap_delete(SELF, v), ANVIL_OK);
    return 0;
}

DEFINE_TEST("mem.vma_map", test_vma_map)
{
    anvil_cap_t v;
    CHECK_STATUS(anvil_vmo_create(2 * PAGE, &v), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_write(v, 0, "first page", 11), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_write(v, PAGE, "second page", 12), ANVIL_OK);

    /* Read-only view of both pages. */
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 0, 2 * PAGE, R), ANVIL_OK);
    const volatile char *ro = (const volatile char *)(uintptr_t)TEST_VA;
    CHECK(memcmp((const void *)ro, "first page", 11) == 0);
    CHECK(memcmp((const void *)(ro + PAGE), "second page", 12) == 0);
    /* The kernel sees it as readable, not writable. */
    CHECK_STATUS(anvil_debug_write((const char *)ro, 0), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_read(v, 0, (void *)ro, 1), ANVIL_ERR_FAULT);
    /* Writes through the cap show up in the mapping: the same frames. */
    CHECK_STATUS(anvil_vmo_write(v, 0, "FIRST", 5), ANVIL_OK);
    CHECK(ro[0] == 'F' && ro[4] == 'T');

    /* A writable view of page 1 only (offset), elsewhere: writes show up in both. */
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA + 4 * PAGE, v, PAGE, PAGE, R | W), ANVIL_OK);
    volatile char *rw = (volatile char *)(uintptr_t)(TEST_VA + 4 * PAGE);
    CHECK(rw[0] == 's');
    rw[0] = 'S';
    rw[PAGE - 1] = 'z';
    CHECK(ro[PAGE] == 'S' && ro[2 * PAGE - 1] == 'z');
    char c = 0;
    CHECK_STATUS(anvil_vmo_read(v, 2 * PAGE - 1, &c, 1), ANVIL_OK);
    CHECK(c == 'z');
    /* The kernel can write our writable mapping. */
    CHECK_STATUS(anvil_vmo_read(v, 0, (void *)(rw + 8), 5), ANVIL_OK);
    CHECK(memcmp((const void *)(rw + 8), "FIRST", 5) == 0);

    /* An executable view: `mov $42, %eax; ret`. */
    anvil_cap_t code;
    static const uint8_t kCode[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3};
    CHECK_STATUS(anvil_vmo_create(PAGE, &code), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_write(code, 0, kCode, sizeof kCode), ANVIL_OK);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA + 8 * PAGE, code, 0, PAGE, R | X), ANVIL_OK);
    int (*fn)(void) = (int (*)(void))(uintptr_t)(TEST_VA + 8 * PAGE);
    CHECK(fn() == 42);

    CHECK_STATUS(anvil_vma_unmap(VS, TEST_VA, 16 * PAGE), ANVIL_OK);
    CHECK(!readable(TEST_VA, 1) && !readable(TEST_VA + 4 * PAGE, 1) && !readable(TEST_VA + 8 * PAGE, 1));
    CHECK_STATUS(anvil_cap_delete(SELF, code), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, v), ANVIL_OK);
    return 0;
}

DEFINE_TEST("mem.vma_map_errors", test_vma_map_errors)
{
    anvil_cap_t v;
    CHECK_STATUS(anvil_vmo_create(2 * PAGE, &v), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_write(v, 0, "keep", 4), ANVIL_OK);

    /* Alignment of va, offset and len. */
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA + 1, v, 0, PAGE, R), ANVIL_ERR_ALIGNMENT);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA + 2048, v, 0, PAGE, R), ANVIL_ERR_ALIGNMENT);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 1, PAGE, R), ANVIL_ERR_ALIGNMENT);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 0, 100, R), ANVIL_ERR_ALIGNMENT);
    /* Permissions: W^X, none, unknown bits. */
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 0, PAGE, R | W | X), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 0, PAGE, W | X), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 0, PAGE, 0), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 0, PAGE, R | ANVIL_RIGHT_MANAGE), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 0, PAGE, 0x100), ANVIL_ERR_INVALID_ARG);
    /* Ranges: below the user base, kernel half, non-canonical, past the user
     * limit, wrapping around, past the VMO's end. */
    CHECK_STATUS(anvil_vma_map(VS, 0, v, 0, PAGE, R), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vma_map(VS, KERNEL_HALF_ADDR, v, 0, PAGE, R), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vma_map(VS, 0xfffffffffffff000ull, v, 0, PAGE, R), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vma_map(VS, NONCANONICAL_ADDR, v, 0, PAGE, R), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vma_map(VS, ANVIL_USER_LIMIT, v, 0, PAGE, R), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vma_map(VS, ANVIL_USER_LIMIT - PAGE, v, 0, 2 * PAGE, R), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 0, 0xfffffffffffff000ull, R), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 0, 3 * PAGE, R), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 2 * PAGE, PAGE, R), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 0xfffffffffffff000ull, 2 * PAGE, R), ANVIL_ERR_OUT_OF_RANGE);
    CHECK(anvil_vma_map(VS, TEST_VA, v, 0, 0, R) != ANVIL_OK);
    /* Rights of the VMO cap bound the permissions; the VSpace needs MANAGE. */
    uint32_t ro = 0, rw = 0, vs_rw = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, v, SELF, ANVIL_RIGHT_READ, 0, &ro), ANVIL_OK);
    CHECK_STATUS(anvil_cap_copy_any(SELF, v, SELF, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, 0, &rw), ANVIL_OK);
    CHECK_STATUS(anvil_cap_copy_any(SELF, VS, SELF, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, 0, &vs_rw), ANVIL_OK);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, ro, 0, PAGE, R | W), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, ro, 0, PAGE, R | X), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, rw, 0, PAGE, R | X), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_vma_map(vs_rw, TEST_VA, v, 0, PAGE, R), ANVIL_ERR_ACCESS_DENIED);
    /* Wrong types and empty slots. */
    CHECK_STATUS(anvil_vma_map(v, TEST_VA, v, 0, PAGE, R), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, ANVIL_CAP_SELF_TCB, 0, PAGE, R), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, 200, 0, PAGE, R), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_vma_map(200, TEST_VA, v, 0, PAGE, R), ANVIL_ERR_INVALID_CAP);
    /* None of that mapped anything. */
    CHECK(!readable(TEST_VA, 1));

    /* Overlap, in every shape, with our own mapping, our program and our stack. */
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA + PAGE, ro, 0, 2 * PAGE, R), ANVIL_OK);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA + PAGE, v, 0, 2 * PAGE, R), ANVIL_ERR_ADDR_IN_USE);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA + 2 * PAGE, v, 0, PAGE, R | W), ANVIL_ERR_ADDR_IN_USE);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 0, 2 * PAGE, R | W), ANVIL_ERR_ADDR_IN_USE);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA + 2 * PAGE, v, 0, 2 * PAGE, R | W), ANVIL_ERR_ADDR_IN_USE);
    CHECK_STATUS(anvil_vma_map(VS, INIT_TEXT_VA, v, 0, PAGE, R | W), ANVIL_ERR_ADDR_IN_USE);
    CHECK_STATUS(anvil_vma_map(VS, INIT_STACK_TOP - PAGE, v, 0, PAGE, R), ANVIL_ERR_ADDR_IN_USE);
    /* Neighbours on both sides are fine. */
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 0, PAGE, R), ANVIL_OK);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA + 3 * PAGE, v, PAGE, PAGE, R | W), ANVIL_OK);
    /* The refused maps changed nothing: the first mapping is still read-only. */
    CHECK(memcmp((const void *)(uintptr_t)(TEST_VA + PAGE), "keep", 4) == 0);
    CHECK_STATUS(anvil_vmo_read(v, 0, (void *)(uintptr_t)(TEST_VA + PAGE), 1), ANVIL_ERR_FAULT);

    CHECK_STATUS(anvil_vma_unmap(VS, TEST_VA, 4 * PAGE), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, vs_rw), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, rw), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ro), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, v), ANVIL_OK);
    return 0;
}

DEFINE_TEST("mem.vma_unmap", test_vma_unmap)
{
    anvil_cap_t v;
    CHECK_STATUS(anvil_vmo_create(2 * PAGE, &v), ANVIL_OK);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 0, PAGE, R), ANVIL_OK);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA + PAGE, v, PAGE, PAGE, R), ANVIL_OK);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA + 4 * PAGE, v, 0, 2 * PAGE, R | W), ANVIL_OK);

    CHECK_STATUS(anvil_vma_unmap(VS, TEST_VA + 2048, PAGE), ANVIL_ERR_ALIGNMENT);
    CHECK_STATUS(anvil_vma_unmap(VS, TEST_VA, 100), ANVIL_ERR_ALIGNMENT);
    CHECK_STATUS(anvil_vma_unmap(VS, KERNEL_HALF_ADDR, PAGE), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vma_unmap(VS, NONCANONICAL_ADDR, PAGE), ANVIL_ERR_OUT_OF_RANGE);
    CHECK_STATUS(anvil_vma_unmap(VS, TEST_VA, 0xfffffffffffff000ull), ANVIL_ERR_OUT_OF_RANGE);
    CHECK(anvil_vma_unmap(VS, TEST_VA, 0) != ANVIL_OK);
    uint32_t vs_rw = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, VS, SELF, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, 0, &vs_rw), ANVIL_OK);
    CHECK_STATUS(anvil_vma_unmap(vs_rw, TEST_VA, PAGE), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_vma_unmap(v, TEST_VA, PAGE), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_cap_delete(SELF, vs_rw), ANVIL_OK);
    /* Cutting a mapping in two is refused, and nothing changes. */
    CHECK_STATUS(anvil_vma_unmap(VS, TEST_VA + 4 * PAGE, PAGE), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_vma_unmap(VS, TEST_VA + PAGE, 4 * PAGE), ANVIL_ERR_INVALID_ARG);
    CHECK(readable(TEST_VA, 2 * PAGE) && readable(TEST_VA + 4 * PAGE, 2 * PAGE));

    /* Unmapping an empty range is a no-op; a range holding whole mappings removes them. */
    CHECK_STATUS(anvil_vma_unmap(VS, TEST_VA + 2 * PAGE, 2 * PAGE), ANVIL_OK);
    CHECK_STATUS(anvil_vma_unmap(VS, TEST_VA + PAGE, PAGE), ANVIL_OK);
    CHECK(readable(TEST_VA, PAGE) && !readable(TEST_VA + PAGE, 1));
    CHECK_STATUS(anvil_vma_unmap(VS, TEST_VA + PAGE, PAGE), ANVIL_OK);
    CHECK_STATUS(anvil_vma_unmap(VS, TEST_VA - PAGE, 16 * PAGE), ANVIL_OK);
    CHECK(!readable(TEST_VA, 1) && !readable(TEST_VA + 4 * PAGE, 1) && !readable(TEST_VA + 5 * PAGE, 1));
    /* The addresses are free again. */
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 0, 2 * PAGE, R), ANVIL_OK);
    CHECK_STATUS(anvil_vma_unmap(VS, TEST_VA, 2 * PAGE), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, v), ANVIL_OK);
    return 0;
}

DEFINE_TEST("mem.vma_alloc", test_vma_alloc)
{
    uint64_t va = 0, vb = 0, vr = 0;
    CHECK_STATUS(anvil_vma_alloc(VS, 0, R | W, &va), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_vma_alloc(VS, PAGE, 0, &va), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_vma_alloc(VS, PAGE, W | X, &va), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_vma_alloc(VS, PAGE, R | W | X, &va), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_vma_alloc(VS, PAGE, 0x20, &va), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_vma_alloc(VS, 1ull << 40, R | W, &va), ANVIL_ERR_NO_MEMORY);
    CHECK_STATUS(anvil_vma_alloc(VS, ~0ull, R | W, &va), ANVIL_ERR_NO_MEMORY);
    uint32_t vs_rw = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, VS, SELF, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, 0, &vs_rw), ANVIL_OK);
    CHECK_STATUS(anvil_vma_alloc(vs_rw, PAGE, R | W, &va), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_cap_delete(SELF, vs_rw), ANVIL_OK);
    CHECK_STATUS(anvil_vma_alloc(SELF, PAGE, R | W, &va), ANVIL_ERR_WRONG_TYPE);

    /* 5000 bytes: two zeroed, writable pages at a page-aligned user address. */
    CHECK_STATUS(anvil_vma_alloc(VS, 5000, R | W, &va), ANVIL_OK);
    CHECK(va % PAGE == 0 && va >= ANVIL_USER_BASE && va + 2 * PAGE <= ANVIL_USER_LIMIT);
    volatile uint8_t *a = (volatile uint8_t *)(uintptr_t)va;
    for (unsigned i = 0; i < 2 * PAGE; i++)
        CHECK(a[i] == 0);
    a[0] = 1;
    a[2 * PAGE - 1] = 2;
    CHECK(a[0] == 1 && a[2 * PAGE - 1] == 2);

    /* A second allocation does not overlap the first; a read-only one reads zero. */
    CHECK_STATUS(anvil_vma_alloc(VS, PAGE, R | W, &vb), ANVIL_OK);
    CHECK(vb + PAGE <= va || vb >= va + 2 * PAGE);
    CHECK_STATUS(anvil_vma_alloc(VS, PAGE, R, &vr), ANVIL_OK);
    CHECK(*(volatile uint64_t *)(uintptr_t)vr == 0);
    anvil_cap_t v;
    CHECK_STATUS(anvil_vmo_create(PAGE, &v), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_read(v, 0, (void *)(uintptr_t)vr, 8), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_vmo_read(v, 0, (void *)(uintptr_t)vb, 8), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, v), ANVIL_OK);
    /* An allocation cannot be cut in two, and goes whole. */
    CHECK_STATUS(anvil_vma_unmap(VS, va, PAGE), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_vma_unmap(VS, va, 2 * PAGE), ANVIL_OK);
    CHECK_STATUS(anvil_vma_unmap(VS, vb, PAGE), ANVIL_OK);
    CHECK_STATUS(anvil_vma_unmap(VS, vr, PAGE), ANVIL_OK);
    CHECK(!readable(va, 1) && !readable(vb, 1) && !readable(vr, 1));
    return 0;
}

/* A 32 MiB mapping (8,192 pages, more than Unicorn could take one region per
 * page): every page is there and its own, and it all goes away again. */
DEFINE_TEST("mem.vma_map_large", test_vma_map_large)
{
    const uint64_t pages = 8192;
    uint64_t va = 0;
    CHECK_STATUS(anvil_vma_alloc(VS, pages * PAGE, R | W, &va), ANVIL_OK);
    volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)va;
    for (uint64_t i = 0; i < pages; i++)
        p[i * PAGE + (i % PAGE)] = pattern(i);
    for (uint64_t i = 0; i < pages; i++)
        CHECK(p[i * PAGE + (i % PAGE)] == pattern(i));
    CHECK_STATUS(anvil_vma_unmap(VS, va, pages * PAGE), ANVIL_OK);
    CHECK(!readable(va, 1) && !readable(va + (pages - 1) * PAGE, 1));
    return 0;
}

/* W^X holds across aliases: a VMO mapped writable anywhere cannot be mapped
 * executable anywhere (this address space or another), and the reverse; the
 * refused call changes nothing. Write, unmap, map executable still works. */
DEFINE_TEST("mem.wx_across_aliases", test_vma_wx_aliases)
{
/* Nothing is mapped at va: the kernel cannot read it for vmo_write. */
#define range_is_mapped(va, len) (anvil_vmo_write(v, PAGE, (const void *)(uintptr_t)(va), (len)) != ANVIL_ERR_FAULT)
    anvil_cap_t v, other;
    CHECK_STATUS(anvil_vmo_create(2 * PAGE, &v), ANVIL_OK);
    CHECK_STATUS(anvil_vspace_create(&other), ANVIL_OK);
    const uint64_t a = TEST_VA, b = TEST_VA + 4 * PAGE;
    /* Writable here: executable is refused here, in another space, and on
     * another page of the same VMO. */
    CHECK_STATUS(anvil_vma_map(VS, a, v, 0, PAGE, R | W), ANVIL_OK);
    CHECK_STATUS(anvil_vma_map(VS, b, v, 0, PAGE, R | X), ANVIL_ERR_BAD_STATE);
    CHECK_STATUS(anvil_vma_map(other, b, v, 0, PAGE, R | X), ANVIL_ERR_BAD_STATE);
    CHECK_STATUS(anvil_vma_map(VS, b, v, PAGE, PAGE, R | X), ANVIL_ERR_BAD_STATE);
    CHECK(!range_is_mapped(b, PAGE));
    /* Another writable alias and a read-only one are fine. */
    CHECK_STATUS(anvil_vma_map(other, b, v, 0, PAGE, R | W), ANVIL_OK);
    CHECK_STATUS(anvil_vma_map(VS, b, v, 0, PAGE, R), ANVIL_OK);
    CHECK_STATUS(anvil_vma_unmap(VS, b, PAGE), ANVIL_OK);
    /* Code is written, every writable mapping goes, then it is mapped executable. */
    static const uint8_t kRet[1] = {0xc3};
    memcpy((void *)(uintptr_t)a, kRet, sizeof kRet);
    CHECK_STATUS(anvil_vma_unmap(VS, a, PAGE), ANVIL_OK);
    CHECK_STATUS(anvil_vma_map(VS, b, v, 0, PAGE, R | X), ANVIL_ERR_BAD_STATE); /* other still writes */
    CHECK_STATUS(anvil_vma_unmap(other, b, PAGE), ANVIL_OK);
    CHECK_STATUS(anvil_vma_map(VS, b, v, 0, PAGE, R | X), ANVIL_OK);
    ((void (*)(void))(uintptr_t)b)();
    /* Executable here: writable is refused everywhere, read-only is not. */
    CHECK_STATUS(anvil_vma_map(VS, a, v, 0, PAGE, R | W), ANVIL_ERR_BAD_STATE);
    CHECK_STATUS(anvil_vma_map(other, a, v, PAGE, PAGE, R | W), ANVIL_ERR_BAD_STATE);
    CHECK(!range_is_mapped(a, PAGE));
    CHECK_STATUS(anvil_vma_map(other, a, v, 0, PAGE, R | X), ANVIL_OK);
    CHECK_STATUS(anvil_vma_map(VS, a, v, 0, PAGE, R), ANVIL_OK);
    CHECK_STATUS(anvil_vma_unmap(VS, a, PAGE), ANVIL_OK);
    /* Destroying a space drops its mappings from the count. */
    CHECK_STATUS(anvil_cap_delete(ANVIL_CAP_SELF_CNODE, other), ANVIL_OK);
    CHECK_STATUS(anvil_vma_unmap(VS, b, PAGE), ANVIL_OK);
    CHECK_STATUS(anvil_vma_map(VS, a, v, 0, PAGE, R | W), ANVIL_OK);
    CHECK_STATUS(anvil_vma_unmap(VS, a, PAGE), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(ANVIL_CAP_SELF_CNODE, v), ANVIL_OK);
    return 0;
}
#undef range_is_mapped

DEFINE_TEST("mem.mapping_keeps_vmo_alive", test_mapping_keeps_vmo)
{
    anvil_cap_t v;
    CHECK_STATUS(anvil_vmo_create(PAGE, &v), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_write(v, 0, "still here", 11), ANVIL_OK);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, v, 0, PAGE, R | W), ANVIL_OK);
    /* The last cap goes; the mapping holds the VMO. */
    CHECK_STATUS(anvil_cap_delete(SELF, v), ANVIL_OK);
    volatile char *p = (volatile char *)(uintptr_t)TEST_VA;
    CHECK(memcmp((const void *)p, "still here", 11) == 0);
    p[0] = 'S';
    CHECK(p[0] == 'S');
    CHECK_STATUS(anvil_vma_unmap(VS, TEST_VA, PAGE), ANVIL_OK);
    CHECK(!readable(TEST_VA, 1));
    return 0;
}

DEFINE_TEST("mem.initramfs_map", test_initramfs_map)
{
    /* The boot cap: a READ|GRANT VMO holding the whole archive. */
    anvil_cap_info_t info;
    CHECK_STATUS(anvil_cap_info(SELF, ANVIL_CAP_INITRAMFS, &info), ANVIL_OK);
    CHECK(info.type == ANVIL_OBJ_VMO);
    CHECK(info.rights == (ANVIL_RIGHT_READ | ANVIL_RIGHT_GRANT));
    CHECK(g_initramfs_size > 110);
    char magic[6];
    CHECK_STATUS(anvil_vmo_read(ANVIL_CAP_INITRAMFS, 0, magic, 6), ANVIL_OK);
    CHECK(memcmp(magic, "070701", 6) == 0);
    CHECK_STATUS(anvil_vmo_write(ANVIL_CAP_INITRAMFS, 0, "x", 1), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_cap_revoke(SELF, ANVIL_CAP_INITRAMFS), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, ANVIL_CAP_INITRAMFS, 0, PAGE, R | W), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_vma_map(VS, TEST_VA, ANVIL_CAP_INITRAMFS, 0, PAGE, R | X), ANVIL_ERR_ACCESS_DENIED);

    /* Mapped read-only at a fixed address; a second call gives the same mapping. */
    const void *p = 0, *q = 0;
    CHECK_STATUS(anvil_initramfs_map(0, &p), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_initramfs_map(g_initramfs_size, 0), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_initramfs_map(g_initramfs_size, &p), ANVIL_OK);
    CHECK((uintptr_t)p == ANVIL_INITRAMFS_VA);
    CHECK(memcmp(p, "070701", 6) == 0);
    CHECK_STATUS(anvil_initramfs_map(g_initramfs_size, &q), ANVIL_OK);
    CHECK(p == q);
    CHECK_STATUS(anvil_initramfs_map(g_initramfs_size + PAGE, &q), ANVIL_ERR_INVALID_ARG);
    /* It is read-only to the kernel too, and readable to its last byte. */
    anvil_cap_t v;
    CHECK_STATUS(anvil_vmo_create(PAGE, &v), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_read(v, 0, (void *)p, 1), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_cap_delete(SELF, v), ANVIL_OK);
    CHECK(readable(ANVIL_INITRAMFS_VA + g_initramfs_size - 1, 1));
    /* It ends with the trailer: the archive is complete. */
    const void *data;
    size_t len;
    CHECK_STATUS(anvil_cpio_find(p, g_initramfs_size, "init", &data, &len), ANVIL_OK);
    CHECK_STATUS(anvil_cpio_find(p, g_initramfs_size, "no-such-member", &data, &len), ANVIL_ERR_NOT_FOUND);
    return 0;
}
