#include "suite.h"

#include <stdio.h>
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

/* Shell-style match of `name` against one pattern of `len` bytes: '*' is any
 * run of characters, '?' any one. */
static int glob_match(const char *pat, size_t len, const char *name)
{
    if (len == 0)
        return *name == '\0';
    if (*pat == '*') {
        for (;; name++) {
            if (glob_match(pat + 1, len - 1, name))
                return 1;
            if (*name == '\0')
                return 0;
        }
    }
    if (*name == '\0' || (*pat != '?' && *pat != *name))
        return 0;
    return glob_match(pat + 1, len - 1, name + 1);
}

int test_selected(const char *filter, const char *name)
{
    if (!filter || !*filter)
        return 1;
    int selected = 0;
    for (const char *p = filter;;) {
        const char *comma = strchr(p, ',');
        const size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len > 0 && *p == '-') {
            if (glob_match(p + 1, len - 1, name))
                return 0; /* excluded, whatever else matches */
        } else if (glob_match(p, len, name)) {
            selected = 1;
        }
        if (!comma)
            return selected;
        p = comma + 1;
    }
}

/* The cases DEFINE_TEST placed, bounds from the linker (crt/user.ld). Each is
 * aligned to its size, so the section is an array of them. */
extern const struct test_case __start_anvil_tests[], __stop_anvil_tests[];
_Static_assert(sizeof(struct test_case) == 16, "DEFINE_TEST aligns a case to its size");

int run_tests(const char *filter)
{
    unsigned passed = 0, failed = 0, skipped = 0, ran = 0;
    for (const struct test_case *t = __start_anvil_tests; t < __stop_anvil_tests; t++) {
        if (!test_selected(filter, t->name))
            continue;
        ran++;
        g_fail_what = 0;
        g_skip_why = 0;
        uint64_t before[SUITE_CNODE_SLOTS / 64];
        occupancy(before);
        int r = t->fn();
        const unsigned left = delete_new_caps(before);
        if ((r == 0 || r == TEST_SKIPPED) && left != 0)
            r = test_fail(__FILE__, __LINE__, "the test left capabilities behind in the caller's CNode");
        if (suite_cleanup)
            suite_cleanup();
        if (r == 0) {
            printf("test %s ... ok\n", t->name);
            passed++;
        } else if (r == TEST_SKIPPED) {
            printf("test %s ... skipped: %s\n", t->name, g_skip_why ? g_skip_why : "(no reason)");
            skipped++;
        } else {
            printf("test %s ... FAILED at %s:%d: %s\n", t->name, g_fail_file ? g_fail_file : "?",
                   g_fail_line, g_fail_what ? g_fail_what : "(no reason)");
            failed++;
        }
    }
    if (ran == 0) {
        printf("no test matches \"%s\"\n", filter ? filter : "");
        failed = 1;
    } else if (passed == 0 && failed == 0) {
        /* Every test it matched was skipped: nothing was tested, which is no pass. */
        printf("every test matching \"%s\" was skipped\n", filter ? filter : "*");
        failed = 1;
    }
    if (skipped)
        printf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
    else
        printf("%u passed, %u failed\n", passed, failed);
    return (int)failed;
}
