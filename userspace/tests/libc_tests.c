/* The bootstrap libc on the target: the heap on vma_alloc, formatted output,
 * number parsing and strings, run in user mode on both backends. (The same C
 * sources are checked against the host libc in tests/unit/test_libc.cpp.) */
#include "tests.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

DEFINE_TEST("libc.heap", test_libc_heap)
{
    struct anvil_heap_stats before, grown, after;
    anvil_heap_get_stats(&before);
    char *blocks[64];
    for (int i = 0; i < 64; i++) {
        blocks[i] = malloc((size_t)(i * 37 + 1));
        CHECK(blocks[i] != NULL);
        CHECK(((uintptr_t)blocks[i] & 15) == 0); /* 16-byte aligned */
        memset(blocks[i], i, (size_t)(i * 37 + 1));
    }
    char *big = malloc(256 * 1024); /* more than any earlier growth: the heap asks vma_alloc */
    CHECK(big != NULL);
    big[0] = 1;
    big[256 * 1024 - 1] = 2;
    anvil_heap_get_stats(&grown);
    CHECK(grown.bytes_from_source >= before.bytes_from_source + 256 * 1024);
    for (int i = 0; i < 64; i++) {
        CHECK(blocks[i][0] == (char)i && blocks[i][i * 37] == (char)i); /* no overlap */
        free(blocks[i]);
    }
    free(big);
    /* Freed memory is used again: the same requests need nothing new. */
    big = malloc(256 * 1024);
    for (int i = 0; i < 64; i++)
        blocks[i] = malloc((size_t)(i * 37 + 1));
    anvil_heap_get_stats(&after);
    CHECK(after.bytes_from_source == grown.bytes_from_source);
    for (int i = 0; i < 64; i++)
        free(blocks[i]);
    free(big);
    free(NULL);
    return 0;
}

DEFINE_TEST("libc.calloc_realloc", test_libc_calloc_realloc)
{
    unsigned char *z = calloc(100, 3);
    CHECK(z != NULL);
    for (int i = 0; i < 300; i++)
        CHECK(z[i] == 0);
    CHECK(calloc(SIZE_MAX / 2, 4) == NULL); /* count * size overflows */
    memcpy(z, "anvil", 6);
    unsigned char *bigger = realloc(z, 10000);
    CHECK(bigger != NULL);
    CHECK(memcmp(bigger, "anvil", 6) == 0);
    unsigned char *smaller = realloc(bigger, 3);
    CHECK(smaller != NULL && memcmp(smaller, "anv", 3) == 0);
    free(smaller);
    char *fresh = realloc(NULL, 16);
    CHECK(fresh != NULL);
    free(fresh);
    char *dup = strdup("capability");
    CHECK(dup != NULL && strcmp(dup, "capability") == 0);
    free(dup);
    return 0;
}

DEFINE_TEST("libc.printf", test_libc_printf)
{
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%d %i %u %x %X %c %s %%", -42, 7, 3000000000u, 0xbeefu, 0xbeefu, 'A', "cap");
    CHECK(strcmp(buf, "-42 7 3000000000 beef BEEF A cap %") == 0);
    CHECK(n == (int)strlen(buf));
    snprintf(buf, sizeof buf, "[%5d|%-5d|%05d|%.3s|%8.2s]", 42, 42, -42, "abcdef", "xyz");
    CHECK(strcmp(buf, "[   42|42   |-0042|abc|      xy]") == 0);
    snprintf(buf, sizeof buf, "%lld %llu %zu %lx", -9000000000ll, 18000000000000000000ull, (size_t)77, 0xfffffffffUL);
    CHECK(strcmp(buf, "-9000000000 18000000000000000000 77 fffffffff") == 0);
    snprintf(buf, sizeof buf, "%p", (void *)0x1234);
    CHECK(strcmp(buf, "0x1234") == 0);
    /* Truncation: the return value is the full length, the buffer ends in NUL. */
    CHECK(snprintf(buf, 5, "%s", "truncated") == 9);
    CHECK(strcmp(buf, "trun") == 0);
    return 0;
}

DEFINE_TEST("libc.strtol", test_libc_strtol)
{
    char *end;
    CHECK(strtol("0x1f", &end, 0) == 31 && *end == '\0');
    CHECK(strtol("  -42abc", &end, 10) == -42 && strcmp(end, "abc") == 0);
    CHECK(strtol("0755", NULL, 0) == 0755);
    CHECK(strtoul("11111111", NULL, 2) == 255);
    CHECK(strtoull("18446744073709551615", NULL, 10) == UINT64_MAX);
    errno = 0;
    CHECK(strtoll("99999999999999999999", NULL, 10) == INT64_MAX);
    CHECK(errno == ERANGE);
    CHECK(strtol("xyz", &end, 10) == 0);
    CHECK(strcmp(end, "xyz") == 0); /* nothing parsed: end is the start */
    CHECK(atoi("123") == 123);
    return 0;
}

DEFINE_TEST("libc.strings", test_libc_strings)
{
    char buf[32] = "0123456789";
    memmove(buf + 2, buf, 8); /* overlapping, forwards */
    CHECK(memcmp(buf, "0101234567", 10) == 0);
    memmove(buf, buf + 2, 8); /* overlapping, backwards */
    CHECK(memcmp(buf, "0123456767", 10) == 0);
    CHECK(strcmp("abc", "abd") < 0 && strcmp("b", "a") > 0 && strcmp("same", "same") == 0);
    CHECK(strncmp("capability", "capable", 5) == 0);
    CHECK(strchr("endpoint", 'p') - "endpoint" == 3 && strrchr("a.b.c", '.') - "a.b.c" == 3);
    CHECK(strstr("notification", "cat") - "notification" == 6 && strstr("vmo", "x") == NULL);
    CHECK(strlen("") == 0 && strnlen("kernel", 3) == 3);
    strcpy(buf, "cap");
    strcat(buf, "ability");
    CHECK(strcmp(buf, "capability") == 0);
    return 0;
}
