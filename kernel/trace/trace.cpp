#include "kernel/trace/trace.h"

#include "kernel/lib/string.h"
#include "kernel/object/object.h"
#include "kernel/sched/scheduler.h"
#include "kernel/vm/frame_alloc.h"

#include <anvil_build_id.h>

namespace kernel {

bool g_trace_on = false;

namespace {

// Records are gathered here and handed to the backend a chunk at a time.
constexpr size_t kBufferSize = 4096;
constexpr size_t kMaxRecord = 1 + trace::kMaxFields * 10;  // kind + ten 10-byte varints
// The buffer also goes out after this many timer records, so the last events of
// a machine that hangs (or sits idle, ticking) leave it and a recording cut
// short there still holds them.
constexpr uint64_t kFlushTicks = 32;

struct Recorder {
    uint8_t buffer[kBufferSize];
    size_t used = 0;
    uint64_t records = 0;
    uint64_t checksum = trace::kFnvOffset;
    uint64_t running[kMaxCpus] = {};  // the thread each CPU was last recorded running
    uint64_t ticks = 0;  // timer records since the last flush
    bool finished = false;
    bool flush_each = false;
    // Write user_at records: the backend has no block-counted timer (quantum
    // 0, QEMU), so nothing else in the trace says where interrupts landed.
    bool user_positions = false;
};
Recorder g_rec;

void flush() {
    if (g_rec.used) {
        hal::trace_write(g_rec.buffer, g_rec.used);
        g_rec.used = 0;
    }
    g_rec.ticks = 0;
}

// Appends raw bytes that are part of the record stream (checksummed).
void put_bytes(const uint8_t* p, size_t len) {
    g_rec.checksum = trace::fnv1a(g_rec.checksum, p, len);
    while (len) {
        if (g_rec.used == kBufferSize)
            flush();
        size_t n = kBufferSize - g_rec.used;
        if (n > len)
            n = len;
        mem_copy(g_rec.buffer + g_rec.used, p, n);
        g_rec.used += n;
        p += n;
        len -= n;
    }
}

size_t encode_varint(uint8_t* out, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = static_cast<uint8_t>(v | 0x80);
        v >>= 7;
    }
    out[n++] = static_cast<uint8_t>(v);
    return n;
}

void put_record(trace::Kind kind, const uint64_t* fields, unsigned count) {
    uint8_t rec[kMaxRecord];
    size_t n = 0;
    rec[n++] = static_cast<uint8_t>(kind);
    for (unsigned i = 0; i < count; ++i)
        n += encode_varint(rec + n, fields[i]);
    put_bytes(rec, n);
    ++g_rec.records;
}

// A cheap digest of kernel state: what replay compares besides the events.
void put_digest() {
    const uint64_t free_frames = frames().free_count();
    const uint64_t objects = objects_created();
    uint64_t h = trace::kFnvOffset;
    h = trace::fnv1a(h, &free_frames, sizeof free_frames);
    h = trace::fnv1a(h, &objects, sizeof objects);
    for (uint32_t cpu = 0; cpu < scheduler().cpu_count(); ++cpu) {
        const uint64_t queued = scheduler().queue(cpu).count();
        h = trace::fnv1a(h, &queued, sizeof queued);
    }
    const uint64_t f[] = {g_rec.records, free_frames, objects, h};
    put_record(trace::Kind::k_digest, f, 4);
}

}  // namespace

void trace_start(const hal::BootInfo& info, bool cmdline_says) {
    if (!info.trace.enabled && !cmdline_says)
        return;
    trace::Header h{};
    mem_copy(h.magic, trace::kMagic, sizeof h.magic);
    h.version = trace::kVersion;
    h.cmdline_len = static_cast<uint32_t>(str_length_bounded(info.cmdline, hal::kMaxCmdline - 1));
    h.header_size = static_cast<uint16_t>(sizeof h + h.cmdline_len);
    h.backend = info.trace.enabled ? info.trace.backend : static_cast<uint32_t>(trace::Backend::kQemu);
    h.build_id = ANVIL_BUILD_ID;
    h.initramfs_hash = trace::fnv1a(trace::kFnvOffset, info.initramfs, info.initramfs_size);
    h.initramfs_size = info.initramfs_size;
    h.seed = info.trace.seed;
    h.quantum = info.trace.quantum;
    h.slice_max = info.trace.slice_max;
    h.memory_bytes = info.trace.memory_bytes;
    h.cpus = info.cpu_count;
    h.unicorn_version = info.trace.unicorn_version;
    h.schedule = info.trace.schedule;
    h.pct_depth = info.trace.pct_depth;
    h.pct_steps = info.trace.pct_steps;
    // The header is not part of the checksummed record stream.
    hal::trace_write(&h, sizeof h);
    hal::trace_write(info.cmdline, h.cmdline_len);
    g_rec.user_positions = h.quantum == 0;
    g_trace_on = true;
}

void trace_record(trace::Kind kind, const uint64_t* fields, unsigned count) {
    if (!g_trace_on)
        return;
    put_record(kind, fields, count);
    if (g_rec.records % trace::kDigestInterval == trace::kDigestInterval - 1)
        put_digest();
    if (kind == trace::Kind::k_timer && ++g_rec.ticks >= kFlushTicks)
        flush();
    if (g_rec.flush_each)
        flush();
}

void trace_set_flush_each(bool on) { g_rec.flush_each = on; }

void trace_running(uint32_t cpu, uint64_t thread) {
    if (!g_trace_on || cpu >= kMaxCpus || g_rec.running[cpu] == thread)
        return;
    const uint64_t from = g_rec.running[cpu];
    g_rec.running[cpu] = thread;
    trace_event(trace::Kind::k_sched, cpu, from, thread);
}

void trace_interrupted(uint32_t cpu, uint64_t thread, const hal::UserRegs& regs) {
    if (!g_trace_on || !g_rec.user_positions)
        return;
    trace_event(trace::Kind::k_user_at, cpu, thread, regs.rip, user_regs_hash(regs));
}

void trace_fault_at(uint32_t cpu, uint64_t thread, uint64_t vector, uint64_t error, uint64_t rip) {
    if (!g_trace_on || !g_rec.user_positions)
        return;
    trace_event(trace::Kind::k_fault_at, cpu, thread, vector, error, rip);
}

void trace_bytes(trace::Kind kind, const uint8_t* bytes, uint64_t len) {
    if (!g_trace_on || len == 0)
        return;
    const uint64_t f[] = {len};
    put_record(kind, f, 1);
    put_bytes(bytes, len);
}

void trace_input(const uint8_t* bytes, uint64_t len) { trace_bytes(trace::Kind::k_input, bytes, len); }

void trace_finish(int code) {
    if (!g_trace_on || g_rec.finished)
        return;
    g_rec.finished = true;
    const uint64_t f[] = {trace_zigzag(code), g_rec.records, g_rec.checksum};
    put_record(trace::Kind::k_end, f, 3);
    flush();
    g_trace_on = false;  // nothing may follow the end record
}

void halt_machine(int code) {
    trace_finish(code);
    hal::machine_halt(code);
}

uint64_t trace_records() { return g_rec.records; }

}  // namespace kernel
