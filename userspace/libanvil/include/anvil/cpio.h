/* <anvil/cpio.h>: a reader for CPIO "newc" archives (the initramfs format).
 * Every header field and length is checked against the archive's size: a
 * malformed archive gives ANVIL_ERR_INVALID_ARG, never a read out of bounds. */
#ifndef ANVIL_CPIO_H
#define ANVIL_CPIO_H

#include <stddef.h>
#include <stdint.h>
#include <anvil/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One member of an archive; name and data point into the archive. */
typedef struct anvil_cpio_entry {
    const char *name;  /* NUL-terminated, as stored (may start with "./") */
    const void *data;  /* the member's bytes */
    size_t size;       /* number of bytes at data */
    uint32_t mode;     /* c_mode from the header (file type and permissions) */
} anvil_cpio_entry_t;

/* Reads the member at *pos (start with *pos = 0) into *out and advances *pos
 * to the next header. NOT_FOUND at the TRAILER!!! entry (*pos stays there);
 * INVALID_ARG if the archive is malformed or truncated. */
anvil_status_t anvil_cpio_next(const void *archive, size_t size, size_t *pos, anvil_cpio_entry_t *out);

/* Finds the member called `name` ("init" also matches "./init") and returns
 * its bytes. NOT_FOUND if the archive ends without it; INVALID_ARG if the
 * archive is malformed before it is found, or an argument is null. */
anvil_status_t anvil_cpio_find(const void *archive, size_t size, const char *name, const void **data,
                               size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* ANVIL_CPIO_H */
