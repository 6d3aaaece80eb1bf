#include "suite.h"

#include <string.h>

static const char *g_fail_file;
static int g_fail_line;
static const char *g_fail_what;


static const char *g_skip_why;

int test_skip(const char *why)
{
    g_skip_why = why;
    return TEST_SKIPPED;
}

int test_fail(const char *file, int line, const char *what)
{
    g_fail_file = file;
    g_fail_line = line;
    g_fail_what = what;
    return 1;
}

void (*suite_cleanup)(void);

unsigned caps_in_use(void)
{
    unsigned n = 0;
    for (uint32_t slot = 1; slot < SUITE_CNODE_SLOTS; slot++) {
        anvil_cap_info_t info;
        n += anvil_cap_info(ANVIL_CAP_SELF_CNODE, slot, &info) == ANVIL_OK;
    }
    return n;
}

/* Which of our slots hold a cap (bit per slot). */
static void occupancy(uint64_t used[SUITE_CNODE_SLOTS / 64])
{
    memset(used, 0, SUITE_CNODE_SLOTS / 8);
    for (uint32_t slot = 1; slot < SUITE_CNODE_SLOTS; slot++) {
        anvil_cap_info_t info;
        if (anvil_cap_info(ANVIL_CAP_SELF_CNODE, slot, &info) == ANVIL_OK)
            used[slot / 64] |= 1ull << (slot % 64);
    }
}

/* Deletes the caps in slots that were empty before the test, stopping any
 * thread first, so one failed test cannot disturb the next. Returns how many. */
static unsigned delete_new_caps(const uint64_t before[SUITE_CNODE_SLOTS / 64])
{
    unsigned n = 0;
    for (uint32_t slot = 1; slot < SUITE_CNODE_SLOTS; slot++) {
        anvil_cap_info_t info;
        if ((before[slot / 64] >> (slot % 64)) & 1 || anvil_cap_info(ANVIL_CAP_SELF_CNODE, slot, &info) != ANVIL_OK)
            continue;
        if (info.type == ANVIL_OBJ_TCB)
            anvil_tcb_suspend(slot);
        anvil_cap_delete(ANVIL_CAP_SELF_CNODE, slot);
        n++;
    }
    return n;
}

int run_tests(const struct test_case *tests, unsigned count)
{
    unsigned passed = 0, failed = 0, skipped = 0;
    for (unsigned i = 0; i < count; i++) {
        g_fail_what = 0;
        g_skip_why = 0;
        uint64_t before[SUITE_CNODE_SLOTS / 64];
        occupancy(before);
        int r = tests[i].fn();
        const unsigned left = delete_new_caps(before);
        if ((r == 0 || r == TEST_SKIPPED) && left != 0)
            r = test_fail(__FILE__, __LINE__, "the test left capabilities behind in the caller's CNode");
        if (suite_cleanup)
            suite_cleanup();
        anvil_debug_puts("test ");
        anvil_debug_puts(tests[i].name);
        if (r == 0) {
            anvil_debug_puts(" ... ok\n");
            passed++;
        } else if (r == TEST_SKIPPED) {
            anvil_debug_puts(" ... skipped: ");
            anvil_debug_puts(g_skip_why ? g_skip_why : "(no reason)");
            anvil_debug_puts("\n");
            skipped++;
        } else {
            anvil_debug_puts(" ... FAILED at ");
            anvil_debug_puts(g_fail_file ? g_fail_file : "?");
            anvil_debug_puts(":");
            anvil_debug_put_u64((uint64_t)g_fail_line);
            anvil_debug_puts(": ");
            anvil_debug_puts(g_fail_what ? g_fail_what : "(no reason)");
            anvil_debug_puts("\n");
            failed++;
        }
    }
    anvil_debug_put_u64(passed);
    anvil_debug_puts(" passed, ");
    anvil_debug_put_u64(failed);
    anvil_debug_puts(" failed");
    if (skipped) {
        anvil_debug_puts(", ");
        anvil_debug_put_u64(skipped);
        anvil_debug_puts(" skipped");
    }
    anvil_debug_puts("\n");
    return (int)failed;
}
