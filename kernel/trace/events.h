// The trace's record kinds and their fields, declared once: the kernel's
// encoder (kernel/trace/trace.cpp) and the host's reader (replay/trace_reader.*)
// both use this table. docs/trace-format.md describes the format in words.
//
// A record is its kind byte followed by its fields, each an unsigned LEB128
// varint (signed fields are zigzag-encoded first). Kinds never change meaning
// within a format version; a new field or kind means a new version.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace trace {

// The file starts with this header (fixed layout, little-endian).
constexpr char kMagic[8] = {'A', 'N', 'V', 'L', 'T', 'R', 'C', '\n'};
// Version 6 adds the faults and inject kinds (simulator traces of runs with
// --faults: a version 5 stream is a version 6 one without them).
// Version 5 added the header's schedule fields (the strategy that picked the
// vCPU interleaving and its parameters; an older header means `random`).
// Version 4 adds the user_at and fault_at kinds (QEMU traces only: a version
// 3 stream is a version 4 one without them); version 3 added the header's
// unicorn_version; version 2 framed the record stream in self-checking chunks
// (Framer below); version 1 was the bare record stream. Readers still accept
// 1 to 4 (the header of 1 and 2 is 80 bytes, without unicorn_version; that of
// 3 and 4 is 88, without the schedule fields).
constexpr uint16_t kVersion = 6;
constexpr uint16_t kVersionNoFaults = 5;
constexpr uint16_t kVersionNoSchedule = 4;
constexpr uint16_t kVersionNoUserAt = 3;
constexpr uint16_t kVersionChunked = 2;
constexpr uint16_t kVersionUnchunked = 1;
constexpr uint32_t kHeaderSizeV2 = 80;  // the fixed header of versions 1 and 2
constexpr uint32_t kHeaderSizeV4 = 88;  // the fixed header of versions 3 and 4

// How the simulator picked which vCPU runs and for how long (docs/scheduling.md).
enum class Schedule : uint32_t {
    kRandom = 0,  // uniform over ready vCPUs, slices of 1..slice_max blocks
    kPct = 1,     // probabilistic concurrency testing: priorities and change points
    kScript = 2,  // given vCPU switches; the trace's slice records hold them
    // QEMU: the recording kernel let one CPU at a time run user code (the x86_64
    // HAL holds the BKL in ring 3 while it records), so the order of kernel
    // entries orders every stretch of user code too (docs/replay.md).
    kSerialized = 3,
};

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
    // Simulator: the Unicorn library that ran user code, as uc_version()
    // returns it (major << 24 | minor << 16 | patch << 8 | extra; basic-block
    // counts, and so the interleaving, differ between versions); QEMU: 0.
    uint64_t unicorn_version;
    // Simulator: the Schedule, and with kPct its depth (change points + 1) and
    // the kernel entries its change points are drawn among; 0 otherwise. QEMU:
    // kSerialized, or 0 (kRandom) from a kernel that let CPUs run user code at once.
    uint32_t schedule;
    uint32_t pct_depth;
    uint64_t pct_steps;
};
static_assert(sizeof(Header) == 104);

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
    X(14, end, F(kS, code) F(kU, records) F(kHex, checksum))                                                 \
    /* Backends without slices (QEMU): the timer or device interrupt recorded next found `thread`              \
       running user code on `cpu` at `rip`, its registers hashing to `regs` (kernel::user_regs_hash). */       \
    X(15, user_at, F(kCpu, cpu) F(kThread, thread) F(kHex, rip) F(kHex, regs))                              \
    /* Backends without slices (QEMU): the fault recorded next, as the CPU reported it: its vector,          \
       error code and the rip it left (CPUs and emulators differ in these; docs/x86_64.md). */                \
    X(16, fault_at, F(kCpu, cpu) F(kThread, thread) F(kU, vector) F(kHex, error) F(kHex, rip))          \
    /* Simulator, version 6: the faults the run injects (anvil-sim --faults), `count` raw bytes of                 \
       their spec, every point resolved, follow the field; written after boot, before the first slice. */      \
    X(17, faults, F(kU, count))                                                                                \
    /* Simulator, version 6: a fault was injected here: `what` (1 kill, 2 alloc-fail, 3 irq-drop,               \
       4 irq-delay, 5 uart-drop, 6 uart-corrupt) and its two values (sim/faults.h, InjectKind). */             \
    X(18, inject, F(kU, what) F(kU, a) F(kU, b))

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

// ---- Chunks (version 2) --------------------------------------------------------
// After the header and command line, the record stream is stored in chunks, each
// a 16-byte chunk header and then `size` bytes of the stream (records may run on
// into the next chunk). The chunk header, little-endian:
//   0  u32 size          payload bytes, 1 to kMaxChunk
//   4  u64 check         FNV-1a 64 of the whole record stream up to the end of
//                        this chunk's payload (so a chunk dropped, repeated or
//                        moved fails it as well as a changed byte)
//   12 u32 header_check  the low 32 bits of FNV-1a 64 of bytes 0-11
// So a reader tells a file that merely stops (inside a chunk header or payload:
// the recording was cut short) from damage (a chunk header or a whole chunk that
// does not check), and can trust every chunk before a cut.
constexpr uint32_t kChunkHeaderSize = 16;
constexpr uint32_t kMaxChunk = 1u << 16;

inline void put_le(uint8_t* out, uint64_t v, unsigned bytes) {
    for (unsigned i = 0; i < bytes; ++i)
        out[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint64_t get_le(const uint8_t* in, unsigned bytes) {
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; ++i)
        v |= static_cast<uint64_t>(in[i]) << (8 * i);
    return v;
}
// The header_check of a chunk header's first 12 bytes.
inline uint32_t chunk_header_check(const uint8_t* header) {
    return static_cast<uint32_t>(fnv1a(kFnvOffset, header, 12));
}

// Turns what the kernel writes through hal::trace_write (the header, the command
// line, then the record stream) into the file: header and command line as they
// come, each later write as one chunk (split at kMaxChunk). Each backend's
// trace output runs its bytes through one Framer; `out(data, len)` stores bytes.
class Framer {
public:
    template <typename Out>
    void write(const void* data, size_t len, Out&& out) {
        const auto* p = static_cast<const uint8_t*>(data);
        while (len && !in_records_) {
            size_t n;
            if (seen_ < sizeof(Header)) {
                n = sizeof(Header) - seen_;
                n = n < len ? n : len;
                for (size_t i = 0; i < n; ++i)
                    head_[seen_ + i] = p[i];
            } else {
                n = header_size_ - seen_;
                n = n < len ? n : len;
            }
            out(p, n);
            seen_ += n;
            p += n;
            len -= n;
            if (seen_ == sizeof(Header)) {
                header_size_ = get_le(head_ + 10, 2);  // Header::header_size
                if (header_size_ < sizeof(Header))
                    header_size_ = sizeof(Header);
            }
            in_records_ = seen_ >= sizeof(Header) && seen_ == header_size_;
        }
        while (len) {
            const size_t n = len < kMaxChunk ? len : kMaxChunk;
            check_ = fnv1a(check_, p, n);
            uint8_t h[kChunkHeaderSize];
            put_le(h, n, 4);
            put_le(h + 4, check_, 8);
            put_le(h + 12, chunk_header_check(h), 4);
            out(h, sizeof h);
            out(p, n);
            p += n;
            len -= n;
        }
    }

private:
    uint8_t head_[sizeof(Header)] = {};
    uint64_t seen_ = 0;         // header and command line bytes passed on so far
    uint64_t header_size_ = 0;  // known once the fixed header is complete
    bool in_records_ = false;
    uint64_t check_ = kFnvOffset;
};

}  // namespace trace
