#include "kernel/boot/cpio.h"

#include "kernel/lib/string.h"

namespace kernel::cpio {

namespace {

constexpr size_t kHeaderSize = 110;  // "070701" + 13 fields of 8 hex digits
constexpr size_t kFieldMode = 1, kFieldFileSize = 6, kFieldNameSize = 11;

// Parses field `index` (8 hex digits) of the header at `h`; false if not hex.
bool field(const uint8_t* h, size_t index, uint32_t* out) {
    uint32_t v = 0;
    const uint8_t* p = h + 6 + index * 8;
    for (int i = 0; i < 8; ++i) {
        const uint8_t c = p[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return false;
        v = (v << 4) | d;
    }
    *out = v;
    return true;
}

size_t pad4(size_t n) { return (n + 3) & ~size_t(3); }

}  // namespace

Status Reader::next(Entry* out) {
    if (done_)
        return ANVIL_ERR_NOT_FOUND;
    if (size_ - pos_ < kHeaderSize)
        return fail(pos_ == 0 ? "cpio: archive shorter than one header"
                              : "cpio: truncated header (archive ends without a TRAILER!!! entry)");
    const uint8_t* h = data_ + pos_;
    if (mem_compare(h, "070701", 6) != 0)
        return fail("cpio: bad magic (not a newc archive: expected \"070701\")");
    uint32_t mode, file_size, name_size;
    if (!field(h, kFieldMode, &mode) || !field(h, kFieldFileSize, &file_size) ||
        !field(h, kFieldNameSize, &name_size))
        return fail("cpio: header field is not hexadecimal");
    for (size_t i = 0; i < 13; ++i) {
        uint32_t ignored;
        if (!field(h, i, &ignored))
            return fail("cpio: header field is not hexadecimal");
    }
    if (name_size == 0)
        return fail("cpio: member has an empty name (namesize 0)");
    const size_t name_pos = pos_ + kHeaderSize;
    if (name_size > size_ - name_pos)
        return fail("cpio: member name runs past the end of the archive");
    const char* name = reinterpret_cast<const char*>(data_ + name_pos);
    if (name[name_size - 1] != '\0' || str_length_bounded(name, name_size) != name_size - 1)
        return fail("cpio: member name is not NUL-terminated at namesize");
    const size_t data_pos = pad4(name_pos + name_size);
    if (data_pos > size_ || file_size > size_ - data_pos)
        return fail("cpio: member data runs past the end of the archive");
    if (str_equal(name, "TRAILER!!!")) {
        done_ = true;
        return ANVIL_ERR_NOT_FOUND;
    }
    out->name = name;
    out->data = data_ + data_pos;
    out->size = file_size;
    out->mode = mode;
    const size_t end = data_pos + file_size;
    pos_ = pad4(end) <= size_ ? pad4(end) : size_;
    return ANVIL_OK;
}

Status find(const uint8_t* data, size_t size, const char* name, Entry* out, const char** error) {
    Reader reader(data, size);
    Entry e;
    for (;;) {
        const Status s = reader.next(&e);
        if (s == ANVIL_ERR_NOT_FOUND)
            return s;
        if (s != ANVIL_OK) {
            if (error)
                *error = reader.error();
            return s;
        }
        // Accept "init" and "./init" for the same member.
        const char* n = e.name;
        if (n[0] == '.' && n[1] == '/')
            n += 2;
        if (str_equal(n, name)) {
            *out = e;
            return ANVIL_OK;
        }
    }
}

}  // namespace kernel::cpio
