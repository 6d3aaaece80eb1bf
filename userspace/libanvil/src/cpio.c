/* CPIO newc reader: the userspace twin of kernel/boot/cpio.cpp. */
#include <anvil/cpio.h>

#include <string.h>

enum {
    kHeaderSize = 110, /* "070701" + 13 fields of 8 hex digits */
    kFieldCount = 13,
    kFieldMode = 1,
    kFieldFileSize = 6,
    kFieldNameSize = 11,
};

/* Parses field `index` (8 hex digits) of the header at `h`; 0 if not hex. */
static int header_field(const uint8_t *h, unsigned index, uint32_t *out)
{
    const uint8_t *p = h + 6 + index * 8;
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        const uint8_t c = p[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else
            return 0;
        v = (v << 4) | d;
    }
    *out = v;
    return 1;
}

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

anvil_status_t anvil_cpio_next(const void *archive, size_t size, size_t *pos, anvil_cpio_entry_t *out)
{
    if (!archive || !pos || !out)
        return ANVIL_ERR_INVALID_ARG;
    const uint8_t *base = archive;
    const size_t at = *pos;
    if (at > size || size - at < kHeaderSize)
        return ANVIL_ERR_INVALID_ARG; /* truncated: no TRAILER!!! */
    const uint8_t *h = base + at;
    if (memcmp(h, "070701", 6) != 0)
        return ANVIL_ERR_INVALID_ARG;
    uint32_t fields[kFieldCount];
    for (unsigned i = 0; i < kFieldCount; i++)
        if (!header_field(h, i, &fields[i]))
            return ANVIL_ERR_INVALID_ARG;
    const size_t name_size = fields[kFieldNameSize], file_size = fields[kFieldFileSize];
    const size_t name_pos = at + kHeaderSize;
    if (name_size == 0 || name_size > size - name_pos)
        return ANVIL_ERR_INVALID_ARG;
    const char *name = (const char *)(base + name_pos);
    /* Exactly one NUL, at name_size - 1. */
    if (name[name_size - 1] != '\0')
        return ANVIL_ERR_INVALID_ARG;
    for (size_t i = 0; i + 1 < name_size; i++)
        if (name[i] == '\0')
            return ANVIL_ERR_INVALID_ARG;
    /* name_pos + name_size <= size here, so padding to 4 cannot overflow. */
    const size_t data_pos = (name_pos + name_size + 3) & ~(size_t)3;
    if (data_pos > size || file_size > size - data_pos)
        return ANVIL_ERR_INVALID_ARG;
    if (str_eq(name, "TRAILER!!!"))
        return ANVIL_ERR_NOT_FOUND;
    out->name = name;
    out->data = base + data_pos;
    out->size = file_size;
    out->mode = fields[kFieldMode];
    const size_t end = data_pos + file_size;
    const size_t next = (end + 3) & ~(size_t)3;
    *pos = next <= size ? next : size;
    return ANVIL_OK;
}

anvil_status_t anvil_cpio_find(const void *archive, size_t size, const char *name, const void **data,
                               size_t *len)
{
    if (!archive || !name || !data || !len)
        return ANVIL_ERR_INVALID_ARG;
    size_t pos = 0;
    for (;;) {
        anvil_cpio_entry_t e;
        const anvil_status_t s = anvil_cpio_next(archive, size, &pos, &e);
        if (s != ANVIL_OK)
            return s;
        const char *n = e.name;
        if (n[0] == '.' && n[1] == '/')
            n += 2;
        if (str_eq(n, name)) {
            *data = e.data;
            *len = e.size;
            return ANVIL_OK;
        }
    }
}
