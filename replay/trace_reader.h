// Reading traces on the host (format: kernel/trace/events.h, docs/trace-format.md):
// the header, the record stream, validation, and one readable line per record.
// Every malformed input is an error message naming the problem and where it is;
// nothing here trusts a byte of the file.
#pragma once

#include "kernel/trace/events.h"

#include <anvil/status.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace replay {

// One decoded record.
struct Record {
    uint8_t kind = 0;
    unsigned count = 0;                  // fields
    uint64_t f[trace::kMaxFields] = {};  // fields as stored (signed ones still zigzagged)
    std::vector<uint8_t> input;          // kinds input and faults: the bytes that follow
    uint64_t offset = 0;                 // byte offset of the record in the file
    uint64_t index = 0;                  // its number in the stream (0 = first)

    trace::Kind k() const { return static_cast<trace::Kind>(kind); }
    // A field by name ("thread"), or `missing` if this kind has none.
    uint64_t field(const char* name, uint64_t missing = 0) const;
    // A signed field, decoded.
    static int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }
};

// A whole trace file in memory. Offsets into `bytes` (Record::offset) are
// offsets in the record stream; file_offset() turns them into the file's.
struct Trace {
    trace::Header header{};
    std::string cmdline;
    // The header, the command line and the record stream as the kernel wrote
    // them: a chunked (version 2 or 3) file's chunk headers are taken out, and a trace cut
    // short ends at its last complete record.
    std::vector<uint8_t> bytes;
    uint64_t records_begin = 0;  // offset of the first record
    uint64_t file_size = 0;      // bytes of the file
    // Where each chunk's payload starts, in `bytes` and in the file (versions 2, 3).
    struct Chunk {
        uint64_t at = 0;
        uint64_t file_at = 0;
    };
    std::vector<Chunk> chunks;
    // Damage found in the chunks (empty if none): `bytes` stops at the last
    // complete record before the damaged chunk, and next() reports this there.
    std::string damage;
    // Cut short: the file stops inside a chunk or a record, or has no end
    // record (a run killed, a QEMU run timed out). `bytes` holds every complete
    // record; validate() accepts it with Summary::cut set. Versions 2 and 3 only: a
    // version 1 file cannot tell a cut from damage and is refused as before.
    bool cut = false;
    uint64_t cut_records = 0;  // the complete records it holds
    uint64_t cut_at = 0;       // the file offset where the last of them ends
    // Read from a pack (replay/pack.h): the initramfs it holds and, for a QEMU
    // trace, the kernel ELF; empty for a plain trace file. Offsets (above and
    // in messages) are then offsets in the pack's trace, the original file.
    std::vector<uint8_t> packed_initramfs;
    std::vector<uint8_t> packed_kernel;

    // The file offset of stream offset `at`.
    uint64_t file_offset(uint64_t at) const;
    // "cut short after 812 records (at byte 9,316 of 9,400)".
    std::string cut_text() const;
    // Recorded by the kernel on QEMU: followed in the simulator, not replayed
    // (docs/replay.md, "Schedule-following replay").
    bool from_qemu() const { return header.backend == static_cast<uint32_t>(trace::Backend::kQemu); }
};

// The largest trace the host tools read (a trace is read whole into memory;
// the userspace test suite's is 4.4 MiB for 190,000 slices, so a run stopped at
// a sweep's default 10,000,000 slices writes about 250 MB).
constexpr uint64_t kMaxTraceBytes = 1ull << 30;

// The name of a status a trace holds (any 64-bit value: a trace is not trusted),
// or null if it is none.
inline const char* status_name(int64_t s) {
    return s >= ANVIL_STATUS_MIN && s <= ANVIL_OK ? anvil_status_name(static_cast<anvil_status_t>(s), nullptr)
                                                  : nullptr;
}

// Reads the whole of the regular file `path` (appending to *bytes). Refuses,
// with `error` saying why ("it is empty", or errno's text if it cannot be
// opened), anything that is not a regular file (a FIFO would block, a device
// may never end), an empty file, and one larger than `max_bytes` (`bound`,
// if given, says what sets that limit: "(half the simulated memory)").
bool read_file(const std::string& path, uint64_t max_bytes, std::vector<uint8_t>* bytes, std::string* error,
               std::string_view bound = "");

// A size for messages: "300 bytes", "128.0 MiB".
std::string size_text(uint64_t bytes);

// The *.cpio file in `dirs` (each searched in name order) whose FNV-1a hash is
// `hash`, i.e. the initramfs a trace was recorded with; "" if none. Files
// read_file refuses (with `max_bytes`) are passed over.
std::string find_initramfs(const std::vector<std::string>& dirs, uint64_t hash, uint64_t max_bytes);

// Reads `path` (at most kMaxTraceBytes) and checks its header (magic,
// version, sizes). The build id is not checked here: see check_build. A pack
// (replay/pack.h) is read as the trace it holds, its other members checked
// against the trace and kept in packed_initramfs and packed_kernel.
bool load(const std::string& path, Trace* out, std::string* error);
// The same for bytes already in memory.
bool parse(std::vector<uint8_t> bytes, Trace* out, std::string* error);

// Decodes the record at *pos (advancing it). Returns false at the end of the
// data (error empty; t.damage if the chunks were damaged there) or on a
// malformed record (error says what and where, as a file offset).
bool next(const Trace& t, uint64_t* pos, Record* r, std::string* error);

// What validate() learns on its way through a trace.
struct Summary {
    uint64_t records = 0;  // records before the end one (a cut trace: all it holds)
    uint64_t slices = 0;   // slice records
    int64_t end_code = 0;  // the exit code the end record carries
    bool cut = false;      // cut short (Trace::cut): no end record, the prefix is whole
};

// Reads every record and checks the end record (present, last, record count
// and checksum right); fills `summary` if given. A chunked trace cut short
// is valid, with summary->cut: every record it holds decodes and every
// complete chunk checks.
bool validate(const Trace& t, std::string* error, Summary* summary = nullptr);

// Empty if the trace was recorded by this kernel build, else why not.
std::string check_build(const Trace& t, uint64_t build_id);

// "sim" or "qemu".
const char* backend_name(uint32_t backend);

// A Unicorn version as uc_version() packs it (the header's unicorn_version),
// as text: "2.0.1", or "2.1.0-rc3" for a release candidate (extra < 255).
std::string unicorn_version_text(uint64_t version);

// One line for a record: "#12 sched cpu=1 from=7 to=9", syscalls by name with
// named arguments, statuses by name.
std::string format(const Record& r);

// A short description of the header (seed, cpus, backend, build, initramfs).
std::string describe(const Trace& t);
// A switch of the simulator's vCPUs: when vCPU `cpu` had run `at` basic
// blocks in all, vCPU `to` ran next (docs/scheduling.md, the script schedule).
struct Switch {
    uint32_t cpu = 0;
    uint64_t at = 0;
    uint32_t to = 0;
    bool operator==(const Switch&) const = default;
};
// The switches a simulator trace's slice records show: one at each boundary
// between two slices (to the same vCPU or another). Running them as a script
// gives the same slices again (what replaying a script trace does, and what
// tools/anvil shrink starts from).
std::vector<Switch> switches(const Trace& t, std::string* error);

// "schedule random" or "schedule pct (depth D, K steps)": how a simulator
// trace's interleaving was picked (or a QEMU trace's serialized user code).
std::string schedule_text(const trace::Header& h);

}  // namespace replay
