#include <anvil/anvil.h>
#include <anvil/debug.h>
#include <string.h>

void anvil_debug_puts(const char *s) { anvil_debug_write(s, strlen(s)); }

void anvil_debug_put_u64(uint64_t v)
{
    char buf[21];
    int i = 20;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    anvil_debug_puts(&buf[i]);
}
