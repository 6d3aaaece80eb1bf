/* Console output through anvil_debug_write, for programs that run before (or
 * without) the IO server and libc's printf. */
#ifndef ANVIL_DEBUG_H
#define ANVIL_DEBUG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes a NUL-terminated string. */
void anvil_debug_puts(const char *s);
/* Writes `v` in decimal. */
void anvil_debug_put_u64(uint64_t v);

#ifdef __cplusplus
}
#endif

#endif /* ANVIL_DEBUG_H */
