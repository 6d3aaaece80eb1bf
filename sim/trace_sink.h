// Where the kernel's trace bytes go in the simulator (hal::trace_write): a file
// when recording, a comparison against a recorded trace when replaying.
#pragma once

#include "replay/trace_reader.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace sim {

class TraceSink {
public:
    virtual ~TraceSink() = default;
    virtual void write(const void* data, size_t len) = 0;
};

// Writes the trace to a file as it comes, in the file's chunks (each flushed,
// so a run that dies still leaves everything recorded up to then, readable).
class FileTraceSink final : public TraceSink {
public:
    // False (with `error`) if the file cannot be created.
    bool open(const std::string& path, std::string* error);
    ~FileTraceSink() override;
    void write(const void* data, size_t len) override;
    // Empty unless a write failed (disk full...): then what and where.
    const std::string& error() const { return error_; }
    uint64_t bytes() const { return bytes_; }

private:
    std::FILE* file_ = nullptr;
    std::string path_;
    std::string error_;
    uint64_t bytes_ = 0;
    trace::Framer framer_;
};

// Exact replay: compares every byte the kernel writes with the recorded trace.
// The first difference is a divergence; `on_diverge` is called once then.
class ReplaySink final : public TraceSink {
public:
    explicit ReplaySink(const replay::Trace& expected) : expected_(expected) {}
    void write(const void* data, size_t len) override;

    bool diverged() const { return diverged_; }
    // Byte offset of the first difference (valid if diverged()).
    uint64_t diverged_at() const { return diverged_at_; }
    // How many bytes the replay produced so far.
    uint64_t produced_size() const { return produced_size_; }
    // True if the replay produced exactly the recorded bytes, end record included.
    bool complete() const { return !diverged_ && produced_size_ == expected_.bytes.size(); }
    void (*on_diverge)(void* ctx) = nullptr;
    void* ctx = nullptr;

    // A report of the divergence in kernel terms: the record index, both
    // versions of the record, and the records before it.
    std::string report(unsigned context = 10) const;

private:
    const replay::Trace& expected_;
    // Up to the first difference the produced bytes are the expected ones, so
    // only what comes from there on is kept (for the report).
    uint64_t produced_size_ = 0;
    std::vector<uint8_t> tail_;  // the produced bytes from diverged_at_ on
    bool diverged_ = false;
    uint64_t diverged_at_ = 0;
};

}  // namespace sim
