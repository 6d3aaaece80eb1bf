/* Anvil status codes: every syscall returns one of these in rax. */
#ifndef ANVIL_STATUS_H
#define ANVIL_STATUS_H

#include <anvil/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A syscall result: ANVIL_OK (0) or a negative ANVIL_ERR_* value. */
typedef int anvil_status_t;

/* X(name, value, description): the one list of status codes. */
#define ANVIL_STATUS_LIST(X)                                                   \
    X(ANVIL_OK, 0, "ok")                                                       \
    X(ANVIL_ERR_INVALID_CAP, -1, "empty or out-of-range capability slot")      \
    X(ANVIL_ERR_WRONG_TYPE, -2, "capability names the wrong object type")      \
    X(ANVIL_ERR_ACCESS_DENIED, -3, "capability lacks a required right")        \
    X(ANVIL_ERR_INVALID_ARG, -4, "invalid argument")                           \
    X(ANVIL_ERR_NO_MEMORY, -5, "out of memory")                                \
    X(ANVIL_ERR_SLOT_OCCUPIED, -6, "destination slot is occupied")             \
    X(ANVIL_ERR_NOT_FOUND, -7, "not found")                                    \
    X(ANVIL_ERR_ADDR_IN_USE, -8, "address range already mapped")              \
    X(ANVIL_ERR_ALIGNMENT, -9, "misaligned address or size")                   \
    X(ANVIL_ERR_WOULD_BLOCK, -10, "operation would block")                     \
    X(ANVIL_ERR_PEER_CLOSED, -11, "peer closed")                               \
    X(ANVIL_ERR_BAD_STATE, -12, "object is in the wrong state")                \
    X(ANVIL_ERR_FAULT, -13, "bad user pointer")                                \
    X(ANVIL_ERR_NOT_SUPPORTED, -14, "not supported")                           \
    X(ANVIL_ERR_OUT_OF_RANGE, -15, "value out of range")                       \
    X(ANVIL_ERR_TIMED_OUT, -16, "no signal came before the timeout")

#define ANVIL_STATUS_ENUM_ITEM(name, value, desc) name = (value),
enum { ANVIL_STATUS_LIST(ANVIL_STATUS_ENUM_ITEM) };
#undef ANVIL_STATUS_ENUM_ITEM

/* The most negative status code; anything below it is not a status. */
#define ANVIL_STATUS_MIN (-16)

/* The name of status `s` ("ANVIL_ERR_FAULT"), or `unknown` if it is none: the
 * one lookup of status names, which the kernel's tests, libanvil and every host
 * tool use. */
ANVIL_INLINE const char *anvil_status_name(anvil_status_t s, const char *unknown)
{
    switch (s) {
#define ANVIL_STATUS_CASE(name, value, desc) \
    case value:                              \
        return #name;
        ANVIL_STATUS_LIST(ANVIL_STATUS_CASE)
#undef ANVIL_STATUS_CASE
    }
    return unknown;
}

#ifdef __cplusplus
}
#endif

#endif /* ANVIL_STATUS_H */
