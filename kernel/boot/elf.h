// A checker for static ELF64 x86-64 executables (user programs). parse() never
// trusts the file: headers, program headers and segments are bounds-checked,
// and a malformed file yields an error naming the problem.
#pragma once

#include "kernel/lib/result.h"

#include <stddef.h>
#include <stdint.h>

namespace kernel::elf {

constexpr size_t kMaxSegments = 16;

// One PT_LOAD segment, already checked: inside the file and the user half.
struct Segment {
    uint64_t vaddr;
    uint64_t memsz;
    uint64_t offset;
    uint64_t filesz;
    uint32_t perms;  // ANVIL_PERM_* from p_flags
};

struct Image {
    uint64_t entry;
    size_t segment_count;
    Segment segments[kMaxSegments];
};

// Checks `data` and describes its loadable segments. INVALID_ARG with *error
// naming the problem if the file is not a loadable static ELF64 x86-64 program.
Status parse(const uint8_t* data, size_t size, Image* out, const char** error);

}  // namespace kernel::elf
