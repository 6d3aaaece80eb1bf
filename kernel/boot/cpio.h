// A reader for CPIO "newc" archives (the initramfs). It never trusts the bytes:
// every header, name and size is checked against the buffer, and a malformed
// archive yields an error naming the problem instead of a crash.
#pragma once

#include "kernel/lib/result.h"

#include <stddef.h>
#include <stdint.h>

namespace kernel::cpio {

// One archive member. `name` is NUL-terminated inside the archive.
struct Entry {
    const char* name;
    const uint8_t* data;
    uint64_t size;
    uint32_t mode;  // st_mode bits from the header
};

// Walks an archive member by member.
class Reader {
public:
    Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

    // Reads the next member into `out`. Returns ANVIL_OK with a member, NOT_FOUND
    // at the trailer, or INVALID_ARG with error() naming what is malformed.
    Status next(Entry* out);
    // Why the last next() failed ("" if it did not).
    const char* error() const { return error_; }

private:
    Status fail(const char* why) {
        error_ = why;
        return ANVIL_ERR_INVALID_ARG;
    }

    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
    bool done_ = false;
    const char* error_ = "";
};

// Finds `name` in the archive. NOT_FOUND if absent, INVALID_ARG if the archive is
// malformed before it (`*error` then says why; may be null).
Status find(const uint8_t* data, size_t size, const char* name, Entry* out, const char** error);

}  // namespace kernel::cpio
