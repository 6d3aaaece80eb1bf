/* <errno.h> of Anvil's bootstrap libc. errno is one global (no TLS yet). */
#ifndef _ANVIL_LIBC_ERRNO_H
#define _ANVIL_LIBC_ERRNO_H

extern int errno;

#define ENOMEM 12
#define EINVAL 22
#define ERANGE 34

#endif
