#include "suite.h"

#include <string.h>

static const char *g_fail_file;
static int g_fail_line;
static const char *g_fail_what;

void print(const char *s) { anvil_debug_write(s, strlen(s)); }

void print_u64(uint64_t v)
{
    char buf[21];
    int i = 20;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    print(&buf[i]);
}

int test_fail(const char *file, int line, const char *what)
{
    g_fail_file = file;
    g_fail_line = line;
    g_fail_what = what;
    return 1;
}

int run_tests(const struct test_case *tests, unsigned count)
{
    unsigned passed = 0, failed = 0;
    for (unsigned i = 0; i < count; i++) {
        g_fail_what = 0;
        const int r = tests[i].fn();
        print("test ");
        print(tests[i].name);
        if (r == 0) {
            print(" ... ok\n");
            passed++;
        } else {
            print(" ... FAILED at ");
            print(g_fail_file ? g_fail_file : "?");
            print(":");
            print_u64((uint64_t)g_fail_line);
            print(": ");
            print(g_fail_what ? g_fail_what : "(no reason)");
            print("\n");
            failed++;
        }
    }
    print_u64(passed);
    print(" passed, ");
    print_u64(failed);
    print(" failed\n");
    return (int)failed;
}
