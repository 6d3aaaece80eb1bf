/* IO server tests: the protocol of <anvil/services.h> through the suite's slot
 * ANVIL_CAP_IOSERVER (a badged WRITE|GRANT cap from init). Each test skips if
 * that slot (or, for io.lookup, the name server's slot 4) holds no endpoint.
 *
 * Table entries (name, function), in this order:
 *   {"io.write",           test_io_write},           writes of 0, 1, 1024 and 2500 bytes (several messages) return OK
 *   {"io.unknown_label",   test_io_unknown_label},   an unknown request label is NOT_SUPPORTED
 *   {"io.lookup",          test_io_lookup},          "io" from the name server is the IO server's endpoint and takes a write
 *   {"io.stdio_sink",      test_io_stdio_sink},      anvil_stdio_use_ioserver sends printf output through the IO server
 *   {"io.read_line_args",  test_io_read_line_args},  read_line refuses a null buffer or one without room for a byte
 *   {"io.read_line",       test_io_read_line},       two reads return the harness's two input lines exactly
 *
 * Console markers (for the harness to find in the output, one line each):
 *   "anvil-io-write-marker-7c1d"    from io.write (the 1024-byte write ends in it)
 *   "anvil-io-lookup-marker-7c1d"   from io.lookup
 *   "anvil-io-printf-marker-7c1d"   from io.stdio_sink
 * io.read_line blocks until the harness feeds "anvil-input-line-1\nsecond line\n"
 * to the serial input. */
#include "tests.h"

#include <anvil/services.h>
#include <stdio.h>
#include <string.h>

#define SELF ANVIL_CAP_SELF_CNODE

static int have_endpoint(anvil_cap_t slot)
{
    anvil_cap_info_t info;
    return anvil_cap_info(SELF, slot, &info) == ANVIL_OK && info.type == ANVIL_OBJ_ENDPOINT &&
           (info.rights & ANVIL_RIGHT_WRITE);
}

#define NEED_IO()                                                \
    do {                                                         \
        if (!have_endpoint(ANVIL_CAP_IOSERVER))                  \
            SKIP("no IO server endpoint in slot 5");             \
    } while (0)

/* `len` bytes of text: "io.write <len>: " then lines of a pattern, ending
 * in " <marker>\n" if it fits. */
static void fill_text(char *buf, size_t len, const char *marker)
{
    const size_t mlen = strlen(marker);
    for (size_t i = 0; i < len; i++)
        buf[i] = i % 100 == 99 ? '\n' : (char)('a' + i % 26);
    char head[32];
    const int h = snprintf(head, sizeof head, "io.write %u: ", (unsigned)len);
    if (h > 0 && (size_t)h < len)
        memcpy(buf, head, (size_t)h);
    if (len >= mlen + 2) {
        buf[len - mlen - 2] = ' ';
        memcpy(buf + len - mlen - 1, marker, mlen);
    }
    if (len)
        buf[len - 1] = '\n';
}

DEFINE_TEST("io.write", test_io_write)
{
    NEED_IO();
    static char text[2500];
    CHECK_STATUS(anvil_io_write("", 0), ANVIL_OK);
    CHECK_STATUS(anvil_io_write(NULL, 0), ANVIL_OK);
    CHECK_STATUS(anvil_io_write("\n", 1), ANVIL_OK);
    fill_text(text, ANVIL_MSG_MAX_BYTES, "anvil-io-write-marker-7c1d");
    CHECK_STATUS(anvil_io_write(text, ANVIL_MSG_MAX_BYTES), ANVIL_OK);
    /* More than one message holds: the client splits it. */
    fill_text(text, sizeof text, "(2500 bytes, 3 messages)");
    CHECK_STATUS(anvil_io_write(text, sizeof text), ANVIL_OK);
    CHECK_STATUS(anvil_io_write(NULL, 1), ANVIL_ERR_INVALID_ARG);
    return 0;
}

DEFINE_TEST("io.unknown_label", test_io_unknown_label)
{
    NEED_IO();
    CHECK_STATUS(io_raw(ANVIL_CAP_IOSERVER, 0, "", 0), ANVIL_ERR_NOT_SUPPORTED);
    CHECK_STATUS(io_raw(ANVIL_CAP_IOSERVER, 0x10ad, "xyz", 3), ANVIL_ERR_NOT_SUPPORTED);
    /* Still serving. */
    CHECK_STATUS(io_raw(ANVIL_CAP_IOSERVER, ANVIL_IO_WRITE, "", 0), ANVIL_OK);
    return 0;
}

DEFINE_TEST("io.lookup", test_io_lookup)
{
    NEED_IO();
    if (!have_endpoint(ANVIL_CAP_NAMESERVER))
        SKIP("no name server endpoint in slot 4");
    anvil_cap_t io = 0;
    CHECK_STATUS(anvil_ns_lookup("io", &io), ANVIL_OK);
    anvil_cap_info_t found, ours;
    CHECK_STATUS(anvil_cap_info(SELF, io, &found), ANVIL_OK);
    CHECK_STATUS(anvil_cap_info(SELF, ANVIL_CAP_IOSERVER, &ours), ANVIL_OK);
    CHECK(found.type == ANVIL_OBJ_ENDPOINT);
    CHECK(found.object_id == ours.object_id);
    CHECK((found.rights & (ANVIL_RIGHT_WRITE | ANVIL_RIGHT_READ)) == ANVIL_RIGHT_WRITE);
    static const char kLine[] = "io.lookup: anvil-io-lookup-marker-7c1d\n";
    CHECK_STATUS(io_raw(io, ANVIL_IO_WRITE, kLine, sizeof kLine - 1), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, io), ANVIL_OK);
    return 0;
}

DEFINE_TEST("io.stdio_sink", test_io_stdio_sink)
{
    NEED_IO();
    CHECK(anvil_stdio_use_ioserver() == 1);
    /* The suite's main points stdout at the IO server already; doing it
     * again is harmless, and the sink stays there afterwards. */
    static const char kLine[] = "io.stdio_sink: anvil-io-printf-marker-7c1d\n";
    const int n = printf("io.stdio_sink: %s\n", "anvil-io-printf-marker-7c1d");
    CHECK(n == (int)sizeof kLine - 1);
    return 0;
}

DEFINE_TEST("io.read_line_args", test_io_read_line_args)
{
    NEED_IO();
    char buf[4];
    size_t len = 99;
    CHECK_STATUS(anvil_io_read_line(NULL, 16, &len), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_io_read_line(buf, 0, &len), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_io_read_line(buf, 1, &len), ANVIL_ERR_INVALID_ARG);
    CHECK(len == 99);
    return 0;
}

DEFINE_TEST("io.read_line", test_io_read_line)
{
    NEED_IO();
    char buf[ANVIL_IO_LINE_MAX + 1];
    size_t len = 0;
    memset(buf, 0x55, sizeof buf);
    CHECK_STATUS(anvil_io_read_line(buf, sizeof buf, &len), ANVIL_OK);
    CHECK(len == 18);
    CHECK(strcmp(buf, "anvil-input-line-1") == 0);
    memset(buf, 0x55, sizeof buf);
    CHECK_STATUS(anvil_io_read_line(buf, sizeof buf, &len), ANVIL_OK);
    CHECK(len == 11);
    CHECK(strcmp(buf, "second line") == 0);
    return 0;
}
