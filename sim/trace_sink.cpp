#include "sim/trace_sink.h"

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <deque>

namespace sim {

bool FileTraceSink::open(const std::string& path, std::string* error) {
    file_ = std::fopen(path.c_str(), "wb");
    if (!file_) {
        *error = fmt::format("cannot create trace file '{}': {}", path, std::strerror(errno));
        return false;
    }
    path_ = path;
    return true;
}

FileTraceSink::~FileTraceSink() {
    if (file_)
        std::fclose(file_);
}

void FileTraceSink::write(const void* data, size_t len) {
    if (!file_ || !error_.empty())
        return;
    bool ok = true;
    framer_.write(data, len, [&](const uint8_t* p, size_t n) {
        if (ok && std::fwrite(p, 1, n, file_) != n)
            ok = false;
        bytes_ += ok ? n : 0;
    });
    if (!ok || std::fflush(file_) != 0)
        error_ = fmt::format("writing trace file '{}' failed after {} bytes: {}", path_, bytes_, std::strerror(errno));
}

void ReplaySink::write(const void* data, size_t len) {
    const auto* p = static_cast<const uint8_t*>(data);
    const uint64_t base = produced_size_;
    produced_size_ += len;
    if (diverged_) {
        tail_.insert(tail_.end(), p, p + len);
        return;
    }
    const std::vector<uint8_t>& want = expected_.bytes;
    if (base + len <= want.size() && std::memcmp(want.data() + base, p, len) == 0)
        return;  // the usual case; the loop below finds the first different byte
    for (size_t i = 0; i < len; ++i) {
        if (base + i >= want.size() || want[base + i] != p[i]) {
            diverged_ = true;
            diverged_at_ = base + i;
            tail_.assign(p + i, p + len);
            if (on_diverge)
                on_diverge(ctx);
            return;
        }
    }
}

std::string ReplaySink::report(unsigned context) const {
    if (!diverged_)
        return "";
    if (diverged_at_ < expected_.records_begin)
        return fmt::format("replay diverged in the trace header (byte {}): the run's configuration differs from the "
                           "recording's",
                           diverged_at_);
    // Walk the recorded stream to the record holding the first different byte.
    std::deque<replay::Record> before;
    replay::Record want;
    std::string error;
    uint64_t pos = expected_.records_begin, index = 0;
    bool found = false;
    while (replay::next(expected_, &pos, &want, &error)) {
        want.index = index++;
        if (pos > diverged_at_) {
            found = true;
            break;
        }
        before.push_back(want);
        if (before.size() > context)
            before.pop_front();
    }
    std::string got_line = "(nothing: the run ended)";
    // What the replay produced: the expected bytes up to the difference, then its own.
    replay::Trace produced;
    produced.bytes.assign(expected_.bytes.begin(), expected_.bytes.begin() + static_cast<long>(diverged_at_));
    produced.bytes.insert(produced.bytes.end(), tail_.begin(), tail_.end());
    produced.records_begin = expected_.records_begin;
    produced.header = expected_.header;
    replay::Record got;
    uint64_t got_pos = found ? want.offset : diverged_at_;
    if (got_pos < produced.bytes.size()) {
        if (replay::next(produced, &got_pos, &got, &error)) {
            got.index = found ? want.index : index;
            got_line = replay::format(got);
        } else {
            got_line = "(an incomplete record)";
        }
    }
    std::string out = fmt::format("replay diverged at record #{} (byte {} of the trace)\n",
                                  found ? want.index : index,
                                  expected_.file_offset(found ? want.offset : diverged_at_));
    out += fmt::format("  expected: {}\n", found ? replay::format(want) : "(the end of the trace)");
    out += fmt::format("  got:      {}\n", got_line);
    if (!before.empty()) {
        out += fmt::format("  the {} records before it:\n", before.size());
        for (const replay::Record& r : before)
            out += "    " + replay::format(r) + "\n";
    }
    return out;
}

}  // namespace sim
