// The trace's record kinds and their fields, declared once: the kernel's
// encoder (kernel/trace/trace.cpp) and the host's reader (replay/trace_format.*)
// both use this table. docs/trace-format.md describes the format in words.
//
// A record is its kind byte followed by its fields, each an unsigned LEB128
// varint (signed fields are zigzag-encoded first). Kinds never change meaning
// within a format version; a new field or kind means a new version.
#pragma once

#include <stdint.h>

namespace trace {

// The file starts with this header (fixed layout, little-endian).
constexpr char kMagic[8] = {'A', 'N', 'V', 'L', 'T', 'R', 'C', '\n'};
constexpr uint16_t kVersion = 1;

enum class Backend : uint32_t { kSim = 1, kQemu = 2 };

struct Header {
    char magic[8];
    uint16_t version;
    uint16_t header_size;     // bytes from the start of the file to the first record
    uint32_t backend;         // Backend
    uint64_t build_id;        // hash of the kernel's sources (generated anvil_build_id.h)
    uint64_t initramfs_hash;  // FNV-1a 64 of the initramfs bytes
    uint64_t initramfs_size;
    uint64_t seed;            // simulator: the seed; QEMU: 0
    uint64_t quantum;         // simulator: --quantum (basic blocks); QEMU: 0
    uint64_t slice_max;       // simulator: --slice (basic blocks); QEMU: 0
    uint64_t memory_bytes;    // RAM the kernel was given
    uint32_t cpus;
    uint32_t cmdline_len;     // bytes of command line right after this struct
};
static_assert(sizeof(Header) == 80);

// Field kinds: how the dump prints them and whether they are zigzag-encoded.
enum class Field : uint8_t {
    kU,       // unsigned number
    kS,       // signed number (zigzag)
    kHex,     // unsigned, printed in hex (addresses, badges, hashes)
    kCpu,
    kThread,  // a thread id (TCB object id); 0 = nobody (idle)
    kObject,  // a kernel object id
    kSyscall, // a syscall number (printed by name)
    kStatus,  // an anvil_status_t (signed)
};

// X(id, name, fields): the record kinds; `fields` is a sequence of
// F(field kind, field name), at most kMaxFields of them.
#define ANVIL_TRACE_EVENTS(X, F)                                                                              \
    /* A thread made a syscall: its number and all seven argument registers. */                              \
    X(1, syscall, F(kCpu, cpu) F(kThread, thread) F(kSyscall, nr) F(kHex, a0) F(kHex, a1) F(kHex, a2)      \
                      F(kHex, a3) F(kHex, a4) F(kHex, a5) F(kHex, a6))                                       \
    /* A syscall finished without blocking: status and the two out registers. */                             \
    X(2, sysret, F(kCpu, cpu) F(kThread, thread) F(kStatus, status) F(kHex, out0) F(kHex, out1))            \
    /* A blocked thread was woken with a result (IPC, notification, PEER_CLOSED). */                         \
    X(3, wake, F(kThread, thread) F(kStatus, status) F(kHex, out0))                                          \
    /* `cpu` switched from thread `from` to `to` (0: idle). */                                                 \
    X(4, sched, F(kCpu, cpu) F(kThread, from) F(kThread, to))                                                \
    /* A rendezvous: a message moved from `sender` to `receiver` (endpoint 0: a reply). */                    \
    X(5, ipc, F(kObject, endpoint) F(kThread, sender) F(kThread, receiver) F(kHex, badge) F(kU, bytes)      \
                  F(kU, caps))                                                                               \
    /* A user fault (FaultKind, FaultAccess, address). */                                                     \
    X(6, fault, F(kCpu, cpu) F(kThread, thread) F(kU, kind) F(kU, access) F(kHex, addr))                     \
    /* A thread exited with `code`. */                                                                         \
    X(7, exit, F(kThread, thread) F(kS, code))                                                               \
    /* `cpu` took `thread` from `victim`'s run queue. */                                                       \
    X(8, steal, F(kCpu, cpu) F(kCpu, victim) F(kThread, thread))                                             \
    /* The preemption timer of `cpu` fired. */                                                                \
    X(9, timer, F(kCpu, cpu))                                                                                 \
    /* A device interrupt on `line` reached the kernel on `cpu`. */                                            \
    X(10, irq, F(kCpu, cpu) F(kU, line))                                                                      \
    /* External input: `count` raw bytes for COM1's receive line follow the field. */                        \
    X(11, input, F(kU, count))                                                                                \
    /* A digest of kernel state after `records` records (free frames, objects, queues). */                   \
    X(12, digest, F(kU, records) F(kU, free_frames) F(kU, objects) F(kHex, hash))                            \
    /* Simulator: `cpu` ran `blocks` basic blocks of `thread`, then stopped for `why`                        \
       (1 syscall, 2 fault, 3 budget). The interleaving that makes a simulator run exact. */                 \
    X(13, slice, F(kCpu, cpu) F(kThread, thread) F(kU, blocks) F(kU, why))                                   \
    /* The run ended: machine exit code, records before this one, and FNV-1a 64 of                           \
       every record byte before this one. Always the last record. */                                          \
    X(14, end, F(kS, code) F(kU, records) F(kHex, checksum))

constexpr unsigned kMaxFields = 10;

enum class Kind : uint8_t {
#define ANVIL_TRACE_KIND(id, name, fields) k_##name = id,
#define ANVIL_TRACE_NOFIELD(kind, fname)
    ANVIL_TRACE_EVENTS(ANVIL_TRACE_KIND, ANVIL_TRACE_NOFIELD)
#undef ANVIL_TRACE_KIND
#undef ANVIL_TRACE_NOFIELD
};

// What a kind looks like, for readers.
struct KindInfo {
    const char* name;           // null: no such kind in this version
    unsigned field_count;
    const Field* fields;        // field_count entries
    const char* const* field_names;
};

#define ANVIL_TRACE_F_ONE(k, n) +1
#define ANVIL_TRACE_F_KIND(k, n) Field::k,
#define ANVIL_TRACE_F_NAME(k, n) #n,
#define ANVIL_TRACE_X_COUNT(id, name, fields) \
    case id: return 0 fields;
#define ANVIL_TRACE_X_KINDS(id, name, fields)     \
    case id: {                                    \
        static constexpr Field f[] = {fields};    \
        return f;                                 \
    }
#define ANVIL_TRACE_X_NAMES(id, name, fields)         \
    case id: {                                        \
        static constexpr const char* n[] = {fields};  \
        return n;                                     \
    }
#define ANVIL_TRACE_X_NAME(id, name, fields) \
    case id: return #name;

// The layout of `kind`; name == null for a kind this version does not have.
inline KindInfo kind_info(uint8_t kind) {
    auto count = [](uint8_t k) -> unsigned {
        switch (k) { ANVIL_TRACE_EVENTS(ANVIL_TRACE_X_COUNT, ANVIL_TRACE_F_ONE) default: return 0; }
    };
    auto kinds = [](uint8_t k) -> const Field* {
        switch (k) { ANVIL_TRACE_EVENTS(ANVIL_TRACE_X_KINDS, ANVIL_TRACE_F_KIND) default: return nullptr; }
    };
    auto names = [](uint8_t k) -> const char* const* {
        switch (k) { ANVIL_TRACE_EVENTS(ANVIL_TRACE_X_NAMES, ANVIL_TRACE_F_NAME) default: return nullptr; }
    };
    auto name = [](uint8_t k) -> const char* {
        switch (k) { ANVIL_TRACE_EVENTS(ANVIL_TRACE_X_NAME, ANVIL_TRACE_F_ONE) default: return nullptr; }
    };
    return {name(kind), count(kind), kinds(kind), names(kind)};
}

#undef ANVIL_TRACE_F_ONE
#undef ANVIL_TRACE_F_KIND
#undef ANVIL_TRACE_F_NAME
#undef ANVIL_TRACE_X_COUNT
#undef ANVIL_TRACE_X_KINDS
#undef ANVIL_TRACE_X_NAMES
#undef ANVIL_TRACE_X_NAME

// How often the kernel writes a digest record (in records).
constexpr uint64_t kDigestInterval = 4096;

// FNV-1a 64, over bytes (the initramfs hash and the end record's checksum).
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
inline uint64_t fnv1a(uint64_t h, const void* data, uint64_t len) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (uint64_t i = 0; i < len; ++i)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

}  // namespace trace
