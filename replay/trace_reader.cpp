#include "replay/trace_reader.h"

#include "replay/pack.h"

#include <anvil/status.h>
#include <anvil/syscalls.h>
#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace replay {

namespace {

// How reading a varint went.
enum class Varint { kOk, kTruncated, kTooLong };

// Reads an unsigned LEB128 varint of at most 10 bytes (64 bits).
Varint read_varint(const std::vector<uint8_t>& b, uint64_t* pos, uint64_t* out) {
    uint64_t v = 0;
    for (unsigned shift = 0, i = 0; i < 10; ++i, shift += 7) {
        if (*pos >= b.size())
            return Varint::kTruncated;
        const uint8_t byte = b[(*pos)++];
        if (i == 9 && byte > 1)
            return Varint::kTooLong;  // more than 64 bits
        v |= static_cast<uint64_t>(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return Varint::kOk;
        }
    }
    return Varint::kTooLong;
}

// Bytes of the header's command line as printable text (it is not trusted).
std::string printable(const std::string& s) {
    std::string out;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\')
            out += {'\\', ch};
        else if (c >= 0x20 && c < 0x7f)
            out += ch;
        else
            out += fmt::format("\\x{:02x}", c);
    }
    return out;
}

}  // namespace

uint64_t Record::field(const char* name, uint64_t missing) const {
    const trace::KindInfo info = trace::kind_info(kind);
    for (unsigned i = 0; i < info.field_count && i < count; ++i)
        if (std::strcmp(info.field_names[i], name) == 0)
            return f[i];
    return missing;
}

namespace {

// Versions 2 and 3: replaces the chunked file in t->bytes by the header, command line
// and record stream, noting where each chunk's payload was and what stops the
// chunks early: a file that ends inside a chunk (the payload there is kept,
// unchecked: a cut leaves bytes out, it does not change them) or damage.
void unchunk(Trace* t) {
    std::vector<uint8_t> file = std::move(t->bytes);
    std::vector<uint8_t>& out = t->bytes;
    out.assign(file.begin(), file.begin() + static_cast<long>(t->records_begin));
    uint64_t pos = t->records_begin, check = trace::kFnvOffset;
    while (pos < file.size()) {
        if (file.size() - pos < trace::kChunkHeaderSize) {
            t->cut = true;  // the file ends inside a chunk header
            break;
        }
        const uint8_t* h = file.data() + pos;
        const uint64_t size = trace::get_le(h, 4);
        if (trace::get_le(h + 12, 4) != trace::chunk_header_check(h) || size == 0 || size > trace::kMaxChunk) {
            t->damage = fmt::format("corrupt trace: the chunk header at byte {} is damaged", pos);
            break;
        }
        const uint64_t payload = pos + trace::kChunkHeaderSize;
        const uint64_t have = std::min<uint64_t>(size, file.size() - payload);
        if (have == size) {
            check = trace::fnv1a(check, file.data() + payload, size);
            if (check != trace::get_le(h + 4, 8)) {
                t->damage = fmt::format("corrupt trace: the chunk at byte {} ({} bytes) does not match its checksum",
                                        pos, size);
                break;
            }
        }
        t->chunks.push_back({out.size(), payload});
        out.insert(out.end(), file.begin() + static_cast<long>(payload),
                   file.begin() + static_cast<long>(payload + have));
        if (have < size) {
            t->cut = true;  // the file ends inside this chunk's payload
            break;
        }
        pos = payload + size;
    }
}

// What decoding the record at a position found.
enum class Decoded { kRecord, kEndOfData, kTorn, kCorrupt };

Decoded decode(const Trace& t, uint64_t* pos, Record* r, std::string* error);

}  // namespace

namespace {

// The fixed header's size in format `version` (the current one's for a
// version this build does not read: parse refuses it after reading that much).
uint64_t fixed_header_size(uint16_t version) {
    if (version >= trace::kVersionUnchunked && version <= trace::kVersionChunked)
        return trace::kHeaderSizeV2;
    if (version > trace::kVersionChunked && version <= trace::kVersionNoSchedule)
        return trace::kHeaderSizeV4;
    return sizeof(trace::Header);
}

}  // namespace

bool parse(std::vector<uint8_t> bytes, Trace* out, std::string* error) {
    *out = Trace{};
    out->bytes = std::move(bytes);
    out->file_size = out->bytes.size();
    const std::vector<uint8_t>& b = out->bytes;
    // Versions 1 and 2 have the 80-byte header; 3 adds unicorn_version, 5 the schedule.
    const bool magic =
        b.size() >= sizeof trace::kMagic && std::memcmp(b.data(), trace::kMagic, sizeof trace::kMagic) == 0;
    const uint16_t version = b.size() >= 10 ? static_cast<uint16_t>(trace::get_le(b.data() + 8, 2)) : 0;
    const uint64_t fixed = magic ? fixed_header_size(version) : sizeof(trace::Header);
    if (b.size() < fixed) {
        // With the magic there, it is a trace that was cut short; without it, something else.
        *error = magic ? fmt::format("truncated trace: only {} bytes of the {}-byte header", b.size(), fixed)
                       : fmt::format("not an Anvil trace: {} bytes, shorter than the {}-byte header", b.size(),
                                     fixed);
        return false;
    }
    std::memcpy(&out->header, b.data(), fixed);
    const trace::Header& h = out->header;
    if (!magic) {
        *error = "not an Anvil trace (bad magic)";
        return false;
    }
    if (h.version < trace::kVersionUnchunked || h.version > trace::kVersion) {
        *error = fmt::format("trace format version {} is not supported (this build reads versions {} to {})",
                             h.version, trace::kVersionUnchunked, trace::kVersion);
        return false;
    }
    if (h.header_size != fixed + h.cmdline_len || h.cmdline_len >= 4096) {
        *error = fmt::format("corrupt header: header size {} does not match its command line of {} bytes",
                             h.header_size, h.cmdline_len);
        return false;
    }
    if (b.size() < h.header_size) {
        *error = "truncated trace: the header's command line is cut off";
        return false;
    }
    if (h.backend != static_cast<uint32_t>(trace::Backend::kSim) &&
        h.backend != static_cast<uint32_t>(trace::Backend::kQemu)) {
        *error = fmt::format("corrupt header: unknown backend {}", h.backend);
        return false;
    }
    if (h.cpus == 0 || h.cpus > 64) {
        *error = fmt::format("corrupt header: {} CPUs", h.cpus);
        return false;
    }
    const bool pct = h.schedule == static_cast<uint32_t>(trace::Schedule::kPct);
    if (h.schedule > static_cast<uint32_t>(trace::Schedule::kSerialized)) {
        *error = fmt::format("corrupt header: unknown schedule {}", h.schedule);
        return false;
    }
    if (h.schedule == static_cast<uint32_t>(trace::Schedule::kSerialized) &&
        h.backend != static_cast<uint32_t>(trace::Backend::kQemu)) {
        *error = "corrupt header: schedule serialized in a simulator trace (only QEMU traces have it)";
        return false;
    }
    if (pct && (h.pct_depth == 0 || h.pct_steps == 0)) {
        *error = fmt::format("corrupt header: schedule pct with depth {} and {} steps (both are at least 1)",
                             h.pct_depth, h.pct_steps);
        return false;
    }
    out->cmdline.assign(reinterpret_cast<const char*>(b.data()) + fixed, h.cmdline_len);
    out->records_begin = h.header_size;
    if (h.version == trace::kVersionUnchunked) {
        out->chunks.push_back({out->records_begin, out->records_begin});
        return true;
    }
    unchunk(out);
    // Where the complete records end: the stream ends there if the file was cut
    // short (or damaged); without an end record, it was cut short.
    uint64_t pos = out->records_begin, last = pos, count = 0;
    Record r;
    std::string ignored;
    for (;;) {
        const Decoded d = decode(*out, &pos, &r, &ignored);
        if (d == Decoded::kRecord) {
            if (r.k() == trace::Kind::k_end) {
                // Nothing may follow it: not even the start of a chunk.
                const uint64_t end = out->file_offset(pos - 1) + 1;
                if (out->cut && out->damage.empty() && pos == out->bytes.size())
                    out->damage = fmt::format("corrupt trace: {} bytes after the end record", out->file_size - end);
                out->cut = false;
                return true;  // (what follows it is validate()'s business)
            }
            last = pos;
            ++count;
            continue;
        }
        if (d == Decoded::kCorrupt)
            return true;  // next() and validate() name it
        break;
    }
    out->bytes.resize(last);
    out->cut = out->damage.empty();
    out->cut_records = count;
    // The end of the last complete record, in the chunk that holds its last byte.
    out->cut_at = last > out->records_begin ? out->file_offset(last - 1) + 1 : out->records_begin;
    return true;
}

uint64_t Trace::file_offset(uint64_t at) const {
    // The last chunk that starts at or before `at`.
    auto c = std::upper_bound(chunks.begin(), chunks.end(), at,
                              [](uint64_t v, const Chunk& ch) { return v < ch.at; });
    if (c == chunks.begin())
        return at;
    --c;
    return c->file_at + (at - c->at);
}

std::string Trace::cut_text() const {
    return fmt::format("cut short after {} records (they end at byte {} of {})", cut_records, cut_at, file_size);
}

std::string size_text(uint64_t bytes) {
    if (bytes < (1ull << 20))
        return fmt::format("{} bytes", bytes);
    return fmt::format("{:.1f} MiB", double(bytes) / double(1ull << 20));
}

bool read_file(const std::string& path, uint64_t max_bytes, std::vector<uint8_t>* bytes, std::string* error,
               std::string_view bound) {
    // Opened without blocking (a FIFO would wait for a writer) and checked
    // through the descriptor, so what is checked is what is read.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *error = std::strerror(errno);
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        *error = std::strerror(errno);
        ::close(fd);
        return false;
    }
    if (!S_ISREG(st.st_mode))
        *error = "it is not a regular file (a directory, FIFO, socket or device)";
    else if (st.st_size == 0)
        *error = "it is empty";
    else if (static_cast<uint64_t>(st.st_size) > max_bytes)
        *error = fmt::format("it is {}, more than the {} allowed{}{}", size_text(static_cast<uint64_t>(st.st_size)),
                             size_text(max_bytes), bound.empty() ? "" : " ", bound);
    else
        error->clear();
    if (!error->empty()) {
        ::close(fd);
        return false;
    }
    // One allocation of the file's size: growing the vector instead would free
    // large blocks on the way, and glibc then raises its mmap threshold, so the
    // emulator's big allocations come from the heap afterwards: a run that read
    // a trace ran 2-3 % slower for that alone.
    bytes->reserve(bytes->size() + static_cast<size_t>(st.st_size));
    const size_t start = bytes->size();
    uint8_t buf[65536];
    ssize_t n;
    // A file that grows while it is read stops at the limit all the same.
    while (bytes->size() - start <= max_bytes && (n = ::read(fd, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *error = std::strerror(errno);
            ::close(fd);
            return false;
        }
        bytes->insert(bytes->end(), buf, buf + n);
    }
    ::close(fd);
    if (bytes->size() - start > max_bytes) {
        *error = fmt::format("it grew past the {} allowed while it was read", size_text(max_bytes));
        return false;
    }
    return true;
}

// The *.cpio file (sorted by name, for determinism) in `dirs` whose FNV-1a hash
// is `hash`; "" if none.
std::string find_initramfs(const std::vector<std::string>& dirs, uint64_t hash, uint64_t max_bytes) {
    for (const std::string& dir : dirs) {
        std::error_code ec;
        std::vector<std::string> files;
        for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
            if (entry.path().extension() == ".cpio")
                files.push_back(entry.path().string());
        std::sort(files.begin(), files.end());
        for (const std::string& f : files) {
            std::vector<uint8_t> bytes;
            std::string error;
            if (read_file(f, max_bytes, &bytes, &error) && trace::fnv1a(trace::kFnvOffset, bytes.data(), bytes.size()) == hash)
                return f;
        }
    }
    return "";
}

bool load(const std::string& path, Trace* out, std::string* error) {
    std::vector<uint8_t> bytes;
    if (!read_file(path, kMaxTraceBytes, &bytes, error)) {
        *error = fmt::format("cannot read {}: {}", path, *error);
        return false;
    }
    Pack pack;
    if (is_pack(bytes)) {
        if (!unpack(bytes, &pack, error)) {
            *error = path + ": " + *error;
            return false;
        }
        bytes = std::move(pack.trace);
    }
    if (!parse(std::move(bytes), out, error) || (!pack.initramfs.empty() && !attach(std::move(pack), out, error))) {
        *error = path + ": " + *error;
        return false;
    }
    return true;
}

namespace {

Decoded decode(const Trace& t, uint64_t* pos, Record* r, std::string* error) {
    const std::vector<uint8_t>& b = t.bytes;
    if (*pos >= b.size())
        return Decoded::kEndOfData;
    const uint64_t start = *pos;
    r->offset = start;
    r->kind = b[(*pos)++];
    const trace::KindInfo info = trace::kind_info(r->kind);
    // user_at and fault_at came with version 4, faults and inject with 6: in
    // an older trace they are no kinds at all.
    const auto kind = static_cast<trace::Kind>(r->kind);
    const bool too_new = ((kind == trace::Kind::k_user_at || kind == trace::Kind::k_fault_at) &&
                          t.header.version <= trace::kVersionNoUserAt) ||
                         ((kind == trace::Kind::k_faults || kind == trace::Kind::k_inject) &&
                          t.header.version <= trace::kVersionNoFaults);
    if (!info.name || too_new) {
        *error = fmt::format("corrupt trace: unknown record kind {} at byte {}", r->kind, t.file_offset(start));
        return Decoded::kCorrupt;
    }
    r->count = info.field_count;
    for (unsigned i = 0; i < info.field_count; ++i) {
        const Varint v = read_varint(b, pos, &r->f[i]);
        if (v == Varint::kTruncated) {
            *error = fmt::format("truncated trace: the {} record at byte {} is cut off", info.name,
                                 t.file_offset(start));
            return Decoded::kTorn;
        }
        if (v == Varint::kTooLong) {
            *error = fmt::format("corrupt trace: bad number (over 64 bits) in the {} record at byte {}", info.name,
                                 t.file_offset(start));
            return Decoded::kCorrupt;
        }
    }
    r->input.clear();
    if (r->k() == trace::Kind::k_input || r->k() == trace::Kind::k_faults) {
        if (r->f[0] > b.size() - *pos) {
            *error = fmt::format("truncated trace: the {} record at byte {} announces {} bytes", info.name,
                                 t.file_offset(start), r->f[0]);
            return Decoded::kTorn;
        }
        r->input.assign(b.begin() + static_cast<long>(*pos), b.begin() + static_cast<long>(*pos + r->f[0]));
        *pos += r->f[0];
    }
    return Decoded::kRecord;
}

}  // namespace

bool next(const Trace& t, uint64_t* pos, Record* r, std::string* error) {
    error->clear();
    const Decoded d = decode(t, pos, r, error);
    if (d == Decoded::kEndOfData)
        *error = t.damage;
    return d == Decoded::kRecord;
}

bool validate(const Trace& t, std::string* error, Summary* summary) {
    uint64_t pos = t.records_begin, count = 0, slices = 0;
    Record r;
    while (next(t, &pos, &r, error)) {
        if (r.k() == trace::Kind::k_end) {
            const uint64_t checksum = trace::fnv1a(trace::kFnvOffset, t.bytes.data() + t.records_begin,
                                                   r.offset - t.records_begin);
            if (r.f[1] != count) {
                *error = fmt::format("corrupt trace: the end record counts {} records, the file has {}", r.f[1],
                                     count);
                return false;
            }
            if (r.f[2] != checksum) {
                *error = fmt::format("corrupt trace: checksum mismatch (recorded {:016x}, computed {:016x})", r.f[2],
                                     checksum);
                return false;
            }
            if (pos != t.bytes.size()) {
                *error = fmt::format("corrupt trace: {} bytes after the end record", t.bytes.size() - pos);
                return false;
            }
            if (!t.damage.empty()) {
                *error = t.damage;
                return false;
            }
            if (summary)
                *summary = Summary{count, slices, Record::unzigzag(r.f[0]), false};
            return true;
        }
        slices += r.k() == trace::Kind::k_slice;
        ++count;
    }
    if (!error->empty()) {
        if (!t.damage.empty() && *error == t.damage)
            *error = fmt::format("{}, after {} good records", t.damage, count);
        return false;
    }
    if (t.cut) {
        if (summary)
            *summary = Summary{count, slices, 0, true};
        return true;
    }
    *error = fmt::format("truncated trace: no end record after {} records (the recording was cut short)", count);
    return false;
}

std::string check_build(const Trace& t, uint64_t build_id) {
    if (t.header.build_id == build_id)
        return "";
    return fmt::format("the trace was recorded by kernel build {:016x}; this is build {:016x} (replay needs the same "
                       "kernel sources)",
                       t.header.build_id, build_id);
}

const char* backend_name(uint32_t backend) {
    switch (static_cast<trace::Backend>(backend)) {
    case trace::Backend::kSim: return "sim";
    case trace::Backend::kQemu: return "qemu";
    }
    return "?";
}

std::string format(const Record& r) {
    const trace::KindInfo info = trace::kind_info(r.kind);
    std::string line = fmt::format("#{} {}", r.index, info.name ? info.name : "?");
    const anvil_syscall_desc_t* sys = nullptr;
    for (unsigned i = 0; i < r.count && i < info.field_count && info.name; ++i) {
        const uint64_t v = r.f[i];
        const char* name = info.field_names[i];
        switch (info.fields[i]) {
        case trace::Field::kSyscall:
            sys = anvil_syscall_desc(v);
            line += sys ? fmt::format(" {}", sys->name) : fmt::format(" syscall#{}", v);
            break;
        case trace::Field::kStatus:
        case trace::Field::kS: {
            const int64_t s = Record::unzigzag(v);
            const char* sn = info.fields[i] == trace::Field::kStatus ? status_name(s) : nullptr;
            line += sn ? fmt::format(" {}={}", name, sn) : fmt::format(" {}={}", name, s);
            break;
        }
        case trace::Field::kHex:
            if (r.k() == trace::Kind::k_syscall) {
                // Arguments: named by the syscall table, only as many as it takes.
                const unsigned arg = i - 3;
                if (sys && arg < sys->nin)
                    line += fmt::format(" {}=0x{:x}", sys->in_names[arg], v);
                else if (!sys && v)
                    line += fmt::format(" a{}=0x{:x}", arg, v);
                break;
            }
            line += fmt::format(" {}=0x{:x}", name, v);
            break;
        default:
            line += fmt::format(" {}={}", name, v);
            break;
        }
    }
    if (r.k() == trace::Kind::k_input || r.k() == trace::Kind::k_faults)
        line += fmt::format(" ({} bytes)", r.input.size());
    return line;
}

std::string unicorn_version_text(uint64_t version) {
    const uint64_t extra = version & 0xff;
    std::string text = fmt::format("{}.{}.{}", version >> 24, (version >> 16) & 0xff, (version >> 8) & 0xff);
    return extra == 0xff ? text : fmt::format("{}-rc{}", text, extra);
}

std::vector<Switch> switches(const Trace& t, std::string* error) {
    // One at every slice boundary, even to the same vCPU: the script's default
    // (run on; move on at a yield or tick) need not be what the run did there.
    std::vector<Switch> out;
    std::vector<uint64_t> cpu_time(t.header.cpus, 0);
    uint64_t pos = t.records_begin;
    Record r;
    bool have_last = false;
    uint32_t last = 0;
    while (next(t, &pos, &r, error)) {
        if (r.k() != trace::Kind::k_slice)
            continue;
        const auto cpu = static_cast<uint32_t>(r.field("cpu"));
        if (cpu >= cpu_time.size())
            break;  // validate() refuses such a trace before this is asked
        if (have_last)
            out.push_back({last, cpu_time[last], cpu});
        cpu_time[cpu] += r.field("blocks");
        last = cpu;
        have_last = true;
    }
    return out;
}

std::string schedule_text(const trace::Header& h) {
    if (h.schedule == static_cast<uint32_t>(trace::Schedule::kPct))
        return fmt::format("schedule pct (depth {}, {} steps)", h.pct_depth, h.pct_steps);
    if (h.schedule == static_cast<uint32_t>(trace::Schedule::kRandom))
        return "schedule random";
    if (h.schedule == static_cast<uint32_t>(trace::Schedule::kScript))
        return "schedule script (its slices)";
    if (h.schedule == static_cast<uint32_t>(trace::Schedule::kSerialized))
        return "schedule serialized (one CPU at a time in user code)";
    return fmt::format("schedule {} (unknown)", h.schedule);
}

std::string describe(const Trace& t) {
    const trace::Header& h = t.header;
    std::string s = fmt::format("backend {}, {} cpu(s), build {:016x}, initramfs {} bytes (hash {:016x})",
                                backend_name(h.backend), h.cpus, h.build_id, h.initramfs_size, h.initramfs_hash);
    if (h.backend == static_cast<uint32_t>(trace::Backend::kSim))
        s += fmt::format(", seed {}, quantum {}, slice {}, {}, memory {} MiB", h.seed, h.quantum, h.slice_max,
                         schedule_text(h), h.memory_bytes >> 20);
    else if (h.schedule == static_cast<uint32_t>(trace::Schedule::kSerialized))
        s += ", one CPU at a time in user code";
    if (h.unicorn_version)
        s += fmt::format(", Unicorn {}", unicorn_version_text(h.unicorn_version));
    s += fmt::format(", cmdline \"{}\"", printable(t.cmdline));
    if (h.version != trace::kVersion)
        s += fmt::format(", format version {}", h.version);
    return s;
}

}  // namespace replay
