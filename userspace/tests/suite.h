/* A tiny sel4test-style harness: tests run in a fixed order, one line each,
 * and the run ends with an "N passed, N failed" line. */
#ifndef ANVIL_TEST_SUITE_H
#define ANVIL_TEST_SUITE_H

#include <anvil/anvil.h>
#include <anvil/debug.h>

/* A test returns 0 on success; on failure it returns what test_fail() did
 * (CHECK does both), or TEST_SKIPPED through SKIP. */
typedef int (*test_fn)(void);

struct test_case {
    const char *name;
    test_fn fn;
};

/* Declares a test: its name ("area.what") and the function body that follows,
 * in one place, as sel4test's DEFINE_TEST does. The case goes to the section
 * anvil_tests, which the linker script keeps whole; the suite runs the cases
 * in the order they lie there: the sources in the order CMake links them, and
 * in each source the order of its tests (the program is compiled with
 * -fno-toplevel-reorder, which keeps it). */
#define DEFINE_TEST(name, fn)                                                                            \
    static int fn(void);                                                                                 \
    static const struct test_case fn##_case __attribute__((used, section("anvil_tests"), aligned(16))) = \
        {name, fn};                                                                                      \
    static int fn(void)

/* Records why the current test failed (file:line and the failed expression). */
int test_fail(const char *file, int line, const char *what);

/* Checks `cond`; on failure records it and returns 1 from the test. */
#define CHECK(cond)                                         \
    do {                                                    \
        if (!(cond))                                        \
            return test_fail(__FILE__, __LINE__, #cond);    \
    } while (0)

/* Marks the current test skipped (it cannot run on this machine) and returns
 * from it; `why` is printed. */
int test_skip(const char *why);
#define SKIP(why) return test_skip(why)
#define TEST_SKIPPED 2

/* Checks that a call returned `expected` status. */
#define CHECK_STATUS(call, expected) CHECK((call) == (expected))

/* Caps in use in the caller's CNode (slots below SUITE_CNODE_SLOTS). */
#define SUITE_CNODE_SLOTS 256u
unsigned caps_in_use(void);

/* Called after each test (if set), to undo what a failed test may have left. */
extern void (*suite_cleanup)(void);

/* True if `name` matches `filter`: comma-separated shell patterns ('*' and
 * '?'), e.g. "ipc.*,mem.vmo_?", and none of its patterns that start with '-'
 * ("cpu.*,-cpu.fault*"); an empty or null filter selects everything. */
int test_selected(const char *filter, const char *name);

/* Runs the tests (DEFINE_TEST) `filter` selects, in order, one line each, and prints the
 * summary; returns the failure count (a filter that selects nothing, or only
 * tests that skip, is one failure). A test that passes but leaves caps behind in the caller's CNode
 * fails; the caps a test leaves are deleted either way (threads suspended first). */
int run_tests(const char *filter);


#endif
