/* The failure path of assert(): message, then abort(). */
#include "libc_impl.h"

void LIBC(__assert_fail)(const char *expr, const char *file, unsigned int line, const char *func)
{
    LIBC(printf)("%s:%u: %s: assertion failed: %s\n", file, line, func ? func : "?", expr);
    LIBC(abort)();
}
