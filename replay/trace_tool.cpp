// anvil-trace: Anvil traces on the host (format: kernel/trace/events.h,
// docs/trace-format.md). dump prints every record, stats counts them, diff finds
// the first semantic difference between two runs, export writes a
// Chrome/Perfetto timeline, pack bundles a trace with its initramfs (replay/
// pack.h). Each reads a pack as the trace it holds. Exit status: 0 success (diff: identical), 1 invalid
// trace content (diff: the traces differ), 2 bad arguments or unreadable files
// (diff: a trace that cannot be read whole, as nothing can be said of the rest),
// 3 (dump, stats, export) a trace cut short, every record it holds shown.
#include "replay/cli.h"
#include "replay/pack.h"
#include "replay/trace_reader.h"

#include <anvil/status.h>
#include <anvil/syscalls.h>
#include <anvil_build_id.h>
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr int kExitInvalid = 1;  // the trace's content is malformed (diff: the traces differ)
constexpr int kExitUsage = cli::kExitUsage;  // bad arguments, or a file that cannot be read or is not a trace
constexpr int kExitCut = 3;  // the trace was cut short: everything it holds was read

// A syscall's name, or "syscall#N" for a number this build does not know.
std::string syscall_name(uint64_t nr) {
    const anvil_syscall_desc_t* d = anvil_syscall_desc(nr);
    return d ? std::string(d->name) : fmt::format("syscall#{}", nr);
}

// A status by name ("ANVIL_ERR_NOT_FOUND"), or its number.
std::string status_text(int64_t s) {
    const char* name = replay::status_name(s);
    return name ? std::string(name) : fmt::format("{}", s);
}

const char* kind_name(uint8_t kind) {
    const char* n = trace::kind_info(kind).name;
    return n ? n : "?";
}

// Every kind this version has, for messages: "syscall, sysret, ...".
std::string kind_list() {
    std::string s;
    for (unsigned k = 0; k < 256; ++k)
        if (const char* n = trace::kind_info(static_cast<uint8_t>(k)).name)
            s += (s.empty() ? "" : ", ") + std::string(n);
    return s;
}

// Bytes shown as a C-like string literal (input records, command lines).
std::string quoted(const uint8_t* p, size_t n, size_t limit) {
    std::string s = "\"";
    for (size_t i = 0; i < n && i < limit; ++i) {
        const uint8_t c = p[i];
        if (c == '\n')
            s += "\\n";
        else if (c == '"' || c == '\\')
            s += {'\\', static_cast<char>(c)};
        else if (c >= 0x20 && c < 0x7f)
            s += static_cast<char>(c);
        else
            s += fmt::format("\\x{:02x}", c);
    }
    s += n > limit ? "\"..." : "\"";
    return s;
}

// One line for a record, as replay::format plus the bytes of an input or faults record.
std::string line_for(const replay::Record& r) {
    std::string s = replay::format(r);
    if (r.k() == trace::Kind::k_input || r.k() == trace::Kind::k_faults)
        s += " " + quoted(r.input.data(), r.input.size(), 64);
    return s;
}

void error_line(const std::string& what) { fmt::print(stderr, "anvil-trace: {}\n", what); }

// The note for a trace cut short (its records were all read): its exit status.
int cut_note(const std::string& path, const replay::Trace& t) {
    error_line(fmt::format("{}: {}: the recording stopped before its end record (killed, or a QEMU run that timed "
                           "out); every complete record is here, and a replay stops after the last",
                           path, t.cut_text()));
    return kExitCut;
}

// Checks the header of the trace `bytes` read from `path`. Exit status on
// failure: 2 if it is not a trace at all, 1 if it is a trace with a bad header.
std::optional<int> parse_trace(const std::string& path, std::vector<uint8_t> bytes, replay::Trace* t) {
    std::string error;
    if (bytes.size() < sizeof trace::kMagic || std::memcmp(bytes.data(), trace::kMagic, sizeof trace::kMagic) != 0) {
        error_line(fmt::format("{} is not an Anvil trace (it does not start with the trace magic \"ANVLTRC\")", path));
        return kExitUsage;
    }
    if (!replay::parse(std::move(bytes), t, &error)) {
        error_line(fmt::format("{}: {}", path, error));
        return kExitInvalid;
    }
    return std::nullopt;
}

// Reads and checks the header of `path`, a trace or a pack (the trace it
// holds). Exit status on failure: 2 if the file cannot be read or is not a
// trace at all (or a malformed pack), 1 if it is a trace with a bad header.
std::optional<int> open_trace(const std::string& path, replay::Trace* t) {
    std::vector<uint8_t> bytes;
    std::string error;
    if (!replay::read_file(path, replay::kMaxTraceBytes, &bytes, &error)) {
        error_line(fmt::format("cannot read {}: {}", path, error));
        return kExitUsage;
    }
    if (replay::is_pack(bytes)) {
        replay::Pack pack;
        if (!replay::unpack(bytes, &pack, &error)) {
            error_line(fmt::format("{}: {}", path, error));
            return kExitUsage;
        }
        bytes = std::move(pack.trace);
    }
    return parse_trace(path, std::move(bytes), t);
}

// diff's status for a trace that cannot be read: a bad header or a record that
// does not decode leaves nothing to compare, so not "different" but unreadable.
std::optional<int> open_trace_to_compare(const std::string& path, replay::Trace* t) {
    const std::optional<int> code = open_trace(path, t);
    return code ? std::optional<int>(kExitUsage) : std::nullopt;
}

// Walks a trace's records in order, numbering them, and stops after the end
// record: bytes after it are validate()'s business, not records.
class Walker {
public:
    explicit Walker(const replay::Trace& t) : t_(t), pos_(t.records_begin) {}

    // The next record; false at the end of the stream or at a malformed record.
    bool next(replay::Record* r) {
        if (done_)
            return false;
        if (!replay::next(t_, &pos_, r, &error_)) {
            done_ = true;
            return false;
        }
        r->index = index_++;
        size_ = pos_ - r->offset;
        if (r->k() == trace::Kind::k_end)
            done_ = true;
        return true;
    }
    // Bytes of the record next() returned last.
    uint64_t size() const { return size_; }
    // Records returned so far.
    uint64_t count() const { return index_; }
    // After the walk: empty if the whole trace is valid, else the first problem.
    std::string problem() const {
        if (!error_.empty())
            return error_;
        std::string e;
        return replay::validate(t_, &e) ? "" : e;
    }

private:
    const replay::Trace& t_;
    uint64_t pos_;
    uint64_t index_ = 0;
    uint64_t size_ = 0;
    bool done_ = false;
    std::string error_;
};

bool is_sim(const replay::Trace& t) { return t.header.backend == static_cast<uint32_t>(trace::Backend::kSim); }

// ------------------------------------------------------------------ dump

struct DumpOptions {
    std::string path;
    uint64_t from = 0;
    std::optional<uint64_t> count;
    std::vector<std::string> kinds;
};

int cmd_dump(const DumpOptions& o) {
    std::set<uint8_t> kinds;
    for (const std::string& name : o.kinds) {
        unsigned k = 0;
        while (k < 256 && !(trace::kind_info(static_cast<uint8_t>(k)).name &&
                            name == trace::kind_info(static_cast<uint8_t>(k)).name))
            ++k;
        if (k == 256) {
            error_line(fmt::format("--kind: no record kind \"{}\" (kinds: {})", name, kind_list()));
            return kExitUsage;
        }
        kinds.insert(static_cast<uint8_t>(k));
    }
    replay::Trace t;
    if (auto code = open_trace(o.path, &t))
        return *code;
    fmt::print("{}: {}\n", o.path, replay::describe(t));
    Walker w(t);
    replay::Record r;
    uint64_t shown = 0;
    while ((!o.count || shown < *o.count) && w.next(&r)) {
        if (r.index < o.from || (!kinds.empty() && !kinds.count(r.kind)))
            continue;
        fmt::print("{}\n", line_for(r));
        ++shown;
    }
    std::fflush(stdout);
    if (const std::string problem = w.problem(); !problem.empty()) {
        error_line(fmt::format("{}: {}", o.path, problem));
        return kExitInvalid;
    }
    if (t.cut)
        return cut_note(o.path, t);
    return 0;
}

// ------------------------------------------------------------------ stats

struct ThreadStats {
    uint64_t syscalls = 0, wakeups = 0, faults = 0, slices = 0, blocks = 0, sent = 0, received = 0;
    std::optional<int64_t> exit_code;
};
struct CpuStats {
    uint64_t slices = 0, blocks = 0, timers = 0, switches = 0, steals = 0, irqs = 0;
};
struct KindStats {
    uint64_t count = 0, bytes = 0;
};

int cmd_stats(const std::string& path) {
    replay::Trace t;
    if (auto code = open_trace(path, &t))
        return *code;
    KindStats by_kind[256];
    std::map<uint64_t, ThreadStats> threads;
    std::map<uint64_t, CpuStats> cpus;
    std::map<std::pair<uint64_t, uint64_t>, uint64_t> pairs;
    std::map<uint64_t, uint64_t> syscalls;
    uint64_t record_bytes = 0, ipc_bytes = 0;
    std::optional<int64_t> end_code;
    std::string faults;  // the faults record: the injected faults and the input's pacing
    Walker w(t);
    replay::Record r;
    while (w.next(&r)) {
        by_kind[r.kind].count++;
        by_kind[r.kind].bytes += w.size();
        record_bytes += w.size();
        switch (r.k()) {
        case trace::Kind::k_syscall:
            threads[r.field("thread")].syscalls++;
            syscalls[r.field("nr")]++;
            break;
        case trace::Kind::k_wake: threads[r.field("thread")].wakeups++; break;
        case trace::Kind::k_fault: threads[r.field("thread")].faults++; break;
        case trace::Kind::k_exit:
            threads[r.field("thread")].exit_code = replay::Record::unzigzag(r.field("code"));
            break;
        case trace::Kind::k_slice: {
            ThreadStats& th = threads[r.field("thread")];
            CpuStats& c = cpus[r.field("cpu")];
            th.slices++;
            th.blocks += r.field("blocks");
            c.slices++;
            c.blocks += r.field("blocks");
            break;
        }
        case trace::Kind::k_timer: cpus[r.field("cpu")].timers++; break;
        case trace::Kind::k_irq: cpus[r.field("cpu")].irqs++; break;
        case trace::Kind::k_sched: cpus[r.field("cpu")].switches++; break;
        case trace::Kind::k_steal: cpus[r.field("cpu")].steals++; break;
        case trace::Kind::k_ipc:
            pairs[{r.field("sender"), r.field("receiver")}]++;
            threads[r.field("sender")].sent++;
            threads[r.field("receiver")].received++;
            ipc_bytes += r.field("bytes");
            break;
        case trace::Kind::k_end: end_code = replay::Record::unzigzag(r.field("code")); break;
        case trace::Kind::k_faults: faults.assign(r.input.begin(), r.input.end()); break;
        default: break;
        }
    }
    threads.erase(0);  // "nobody": the idle side of a switch

    fmt::print("{}: {}\n", path, replay::describe(t));
    const uint64_t n = w.count();
    fmt::print("{} records, {} bytes of records ({:.2f} bytes per record), {} bytes in the file\n", n,
               record_bytes, n ? static_cast<double>(record_bytes) / static_cast<double>(n) : 0.0, t.file_size);
    if (end_code)
        fmt::print("the run ended with exit code {}\n", *end_code);
    if (!faults.empty())
        fmt::print("faults and input pacing: {}\n", faults);
    if (t.cut)
        fmt::print("the trace was {}: no end record\n", t.cut_text());
    if (by_kind[static_cast<uint8_t>(trace::Kind::k_slice)].count) {
        uint64_t total = 0;
        for (const auto& [cpu, c] : cpus)
            total += c.blocks;
        fmt::print("virtual time: {} basic blocks run by all CPUs\n", total);
    } else {
        fmt::print("virtual time: not recorded (no slice records: a {} trace)\n",
                   replay::backend_name(t.header.backend));
    }

    fmt::print("\nRecords by kind:\n  {:<8} {:>9} {:>10} {:>7}\n", "kind", "records", "bytes", "share");
    for (unsigned k = 0; k < 256; ++k) {
        const KindStats& s = by_kind[k];
        if (!s.count)
            continue;
        fmt::print("  {:<8} {:>9} {:>10} {:>6.1f}%\n", kind_name(static_cast<uint8_t>(k)), s.count, s.bytes,
                   record_bytes ? 100.0 * static_cast<double>(s.bytes) / static_cast<double>(record_bytes) : 0.0);
    }

    fmt::print("\nThreads:\n  {:>7} {:>9} {:>8} {:>7} {:>7} {:>10} {:>6} {:>9} {:>5}\n", "thread", "syscalls",
               "wake-ups", "faults", "slices", "blocks", "sent", "received", "exit");
    for (const auto& [id, th] : threads)
        fmt::print("  {:>7} {:>9} {:>8} {:>7} {:>7} {:>10} {:>6} {:>9} {:>5}\n", id, th.syscalls, th.wakeups,
                   th.faults, th.slices, th.blocks, th.sent, th.received,
                   th.exit_code ? fmt::format("{}", *th.exit_code) : "-");

    fmt::print("\nCPUs:\n  {:>4} {:>7} {:>10} {:>7} {:>9} {:>7} {:>6}\n", "cpu", "slices", "blocks", "timer",
               "switches", "steals", "irqs");
    for (const auto& [cpu, c] : cpus)
        fmt::print("  {:>4} {:>7} {:>10} {:>7} {:>9} {:>7} {:>6}\n", cpu, c.slices, c.blocks, c.timers, c.switches,
                   c.steals, c.irqs);

    std::vector<std::pair<std::pair<uint64_t, uint64_t>, uint64_t>> ranked(pairs.begin(), pairs.end());
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    const uint64_t messages = by_kind[static_cast<uint8_t>(trace::Kind::k_ipc)].count;
    fmt::print("\nIPC pairs (sender -> receiver; {} messages, {} payload bytes), top {} of {}:\n", messages, ipc_bytes,
               std::min<size_t>(20, ranked.size()), ranked.size());
    for (size_t i = 0; i < ranked.size() && i < 20; ++i)
        fmt::print("  {:>7} -> {:<7} {:>8}\n", ranked[i].first.first, ranked[i].first.second, ranked[i].second);

    std::vector<std::pair<uint64_t, uint64_t>> calls(syscalls.begin(), syscalls.end());
    std::stable_sort(calls.begin(), calls.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    fmt::print("\nSyscalls by name:\n");
    for (const auto& [nr, count] : calls)
        fmt::print("  {:<20} {:>8}\n", syscall_name(nr), count);

    std::fflush(stdout);
    if (const std::string problem = w.problem(); !problem.empty()) {
        error_line(fmt::format("{}: {}", path, problem));
        return kExitInvalid;
    }
    if (t.cut)
        return cut_note(path, t);
    return 0;
}

// ------------------------------------------------------------------ diff

// What differs between two headers, one "field A / B" item per field.
std::vector<std::string> header_differences(const replay::Trace& a, const replay::Trace& b) {
    std::vector<std::string> out;
    const trace::Header& x = a.header;
    const trace::Header& y = b.header;
    auto num = [&](const char* name, uint64_t u, uint64_t v, bool hex) {
        if (u != v)
            out.push_back(hex ? fmt::format("{} {:016x} / {:016x}", name, u, v)
                              : fmt::format("{} {} / {}", name, u, v));
    };
    if (x.backend != y.backend)
        out.push_back(fmt::format("backend {} / {}", replay::backend_name(x.backend), replay::backend_name(y.backend)));
    num("build", x.build_id, y.build_id, true);
    num("initramfs hash", x.initramfs_hash, y.initramfs_hash, true);
    num("initramfs size", x.initramfs_size, y.initramfs_size, false);
    num("seed", x.seed, y.seed, false);
    num("quantum", x.quantum, y.quantum, false);
    num("slice", x.slice_max, y.slice_max, false);
    if (replay::schedule_text(x) != replay::schedule_text(y))
        out.push_back(fmt::format("{} / {}", replay::schedule_text(x), replay::schedule_text(y)));
    num("memory bytes", x.memory_bytes, y.memory_bytes, false);
    num("cpus", x.cpus, y.cpus, false);
    if (a.cmdline != b.cmdline)
        out.push_back(fmt::format("cmdline {} / {}",
                                  quoted(reinterpret_cast<const uint8_t*>(a.cmdline.data()), a.cmdline.size(), 80),
                                  quoted(reinterpret_cast<const uint8_t*>(b.cmdline.data()), b.cmdline.size(), 80)));
    return out;
}

// Same event: kind, every field and any input bytes (not where it sits in the file).
bool same_record(const replay::Record& a, const replay::Record& b) {
    return a.kind == b.kind && a.count == b.count && std::equal(a.f, a.f + a.count, b.f) && a.input == b.input;
}

int cmd_diff(const std::string& path_a, const std::string& path_b) {
    replay::Trace a, b;
    if (auto code = open_trace_to_compare(path_a, &a))
        return *code;
    if (auto code = open_trace_to_compare(path_b, &b))
        return *code;
    fmt::print("A: {}: {}\nB: {}: {}\n", path_a, replay::describe(a), path_b, replay::describe(b));
    const std::vector<std::string> headers = header_differences(a, b);
    if (headers.empty()) {
        fmt::print("headers: the same\n");
    } else {
        fmt::print("headers differ (A / B):\n");
        for (const std::string& h : headers)
            fmt::print("  {}\n", h);
    }

    constexpr size_t kContext = 5;
    Walker wa(a), wb(b);
    std::deque<replay::Record> before;
    replay::Record x, y;
    uint64_t count_a[256] = {}, count_b[256] = {};
    bool differ = false;
    std::string report;
    for (;;) {
        const bool have_a = wa.next(&x);
        const bool have_b = wb.next(&y);
        if (have_a)
            count_a[x.kind]++;
        if (have_b)
            count_b[y.kind]++;
        if (!have_a && !have_b)
            break;
        if (differ)
            continue;
        if (have_a && have_b && same_record(x, y)) {
            before.push_back(x);
            if (before.size() > kContext)
                before.pop_front();
            continue;
        }
        differ = true;
        const uint64_t index = have_a ? x.index : y.index;
        report = fmt::format("first difference at record #{}:\n", index);
        auto side = [](bool have, const replay::Record& r, const Walker& w) {
            return have ? line_for(r) : fmt::format("(nothing: the trace stops after {} records)", w.count());
        };
        report += fmt::format("  A: {}\n", side(have_a, x, wa));
        report += fmt::format("  B: {}\n", side(have_b, y, wb));
        if (!before.empty()) {
            report += fmt::format("  the {} records before it (the same in both):\n", before.size());
            for (const replay::Record& r : before)
                report += "    " + line_for(r) + "\n";
        }
    }
    const std::string problem_a = wa.problem();
    const std::string problem_b = wb.problem();
    if (a.cut)
        error_line(fmt::format("note: {} was {}", path_a, a.cut_text()));
    if (b.cut)
        error_line(fmt::format("note: {} was {}", path_b, b.cut_text()));
    if (!differ) {
        if (problem_a.empty() && problem_b.empty()) {
            fmt::print("records: identical ({} records)\n", wa.count());
            return 0;
        }
        fmt::print("records: the same {} records as far as both decode\n", wa.count());
    } else {
        fmt::print("{}", report);
        fmt::print("records: A has {}, B has {}\n", wa.count(), wb.count());
        std::string kinds;
        for (unsigned k = 0; k < 256; ++k)
            if (count_a[k] != count_b[k])
                kinds += fmt::format("  {:<8} {:>9} {:>9}\n", kind_name(static_cast<uint8_t>(k)), count_a[k],
                                     count_b[k]);
        if (kinds.empty())
            fmt::print("counts by kind: the same in both\n");
        else
            fmt::print("counts by kind that differ:\n  {:<8} {:>9} {:>9}\n{}", "kind", "A", "B", kinds);
    }
    std::fflush(stdout);
    if (!problem_a.empty())
        error_line(fmt::format("{}: {}", path_a, problem_a));
    if (!problem_b.empty())
        error_line(fmt::format("{}: {}", path_b, problem_b));
    return problem_a.empty() && problem_b.empty() ? kExitInvalid : kExitUsage;
}

// ------------------------------------------------------------------ export

// A JSON string literal.
std::string json_str(const std::string& s) {
    std::string out = "\"";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\')
            out += {'\\', ch};
        else if (c == '\n')
            out += "\\n";
        else if (c < 0x20 || c >= 0x7f)
            out += fmt::format("\\u{:04x}", c);  // bytes, not UTF-8: keep the file ASCII
        else
            out += ch;
    }
    return out + "\"";
}

// Builds the Chrome trace-event timeline. Lanes are CPUs (pid 1, tid cpu+1:
// tid 0 would be taken for the process). Events are kept with a sort key so
// the file lists them in time order, and events at the same time in the order
// they happened: Perfetto binds a flow to the slice last opened on its lane, so
// that order decides what an arrow attaches to.
class ChromeExport {
public:
    explicit ChromeExport(const replay::Trace& t) : sim_(is_sim(t)) {}

    void add(const replay::Record& r) {
        index_ = r.index;
        ++records_;
        const trace::KindInfo info = trace::kind_info(r.kind);
        for (unsigned i = 0; i < r.count; ++i)
            if (info.fields[i] == trace::Field::kCpu) {
                cpu_ = r.f[i];  // the first CPU field: where the kernel runs this event
                break;
            }
        switch (r.k()) {
        case trace::Kind::k_slice: clock_[r.field("cpu")] += r.field("blocks"); break;
        case trace::Kind::k_sched: on_sched(r.field("cpu"), r.field("from"), r.field("to")); break;
        case trace::Kind::k_syscall: on_syscall(r); break;
        case trace::Kind::k_sysret:
            finish_syscall(r.field("thread"),
                           fmt::format("\"status\":{},\"out0\":\"0x{:x}\",\"out1\":\"0x{:x}\"",
                                       json_str(status_text(replay::Record::unzigzag(r.field("status")))),
                                       r.field("out0"), r.field("out1")));
            break;
        case trace::Kind::k_wake:
            finish_syscall(r.field("thread"),
                           fmt::format("\"blocked\":true,\"woken_at_record\":{},\"status\":{},\"out0\":\"0x{:x}\"",
                                       r.index, json_str(status_text(replay::Record::unzigzag(r.field("status")))),
                                       r.field("out0")));
            break;
        case trace::Kind::k_ipc: on_ipc(r); break;
        case trace::Kind::k_fault: {
            const uint64_t thread = r.field("thread");
            const Point p = instant(cpu_, "fault", "fault",
                                    fmt::format("\"thread\":{},\"kind\":{},\"access\":{},\"addr\":\"0x{:x}\"", thread,
                                                r.field("kind"), r.field("access"), r.field("addr")));
            threads_[thread].last = p;
            break;
        }
        case trace::Kind::k_exit: {
            const uint64_t thread = r.field("thread");
            finish_syscall(thread, "\"returned\":false");
            const uint64_t lane = threads_[thread].running_on.value_or(cpu_);
            instant(lane, "exit", "thread",
                    fmt::format("\"thread\":{},\"code\":{}", thread, replay::Record::unzigzag(r.field("code"))));
            break;
        }
        case trace::Kind::k_steal:
            instant(cpu_, "steal", "sched",
                    fmt::format("\"victim_cpu\":{},\"thread\":{}", r.field("victim"), r.field("thread")));
            break;
        case trace::Kind::k_timer: instant(cpu_, "timer", "irq", ""); break;
        case trace::Kind::k_irq: instant(cpu_, fmt::format("irq {}", r.field("line")), "irq", ""); break;
        case trace::Kind::k_end: exit_code_ = replay::Record::unzigzag(r.field("code")); break;
        default: break;  // input, digest: nothing to draw
        }
    }

    // Closes what is still open and writes the file; false (with `error`) if it cannot be written.
    bool write(const replay::Trace& t, const std::string& trace_path, const std::string& out_path,
               const std::string& problem, std::string* error) {
        for (auto& [cpu, lane] : lanes_)
            close_run(cpu);
        for (auto& [thread, th] : threads_)
            finish_syscall(thread, "\"returned\":false");
        std::stable_sort(events_.begin(), events_.end(), [](const Event& a, const Event& b) {
            return a.ts != b.ts ? a.ts < b.ts : a.seq < b.seq;
        });

        std::FILE* f = std::fopen(out_path.c_str(), "w");
        if (!f) {
            *error = fmt::format("cannot write {}: {}", out_path, std::strerror(errno));
            return false;
        }
        const std::string axis =
            sim_ ? "virtual time: 1 us on the axis is 1 basic block run by that CPU (the running sum of the "
                   "trace's slice records per CPU; each CPU has its own clock)"
                 : "record index: a QEMU trace has no slice records, so 1 us on the axis is one trace record";
        std::set<uint64_t> cpus;
        for (uint64_t c = 0; c < t.header.cpus; ++c)
            cpus.insert(c);
        for (const auto& [cpu, lane] : lanes_)
            cpus.insert(cpu);
        std::string head = "{\"traceEvents\":[\n";
        const std::string process = fmt::format("anvil ({} trace; time axis: {})",
                                                replay::backend_name(t.header.backend),
                                                sim_ ? "virtual basic blocks" : "record index");
        head += fmt::format("{{\"ph\":\"M\",\"pid\":1,\"tid\":1,\"name\":\"process_name\",\"args\":{{\"name\":{}}}}}",
                            json_str(process));
        for (const uint64_t cpu : cpus)
            head += fmt::format(
                ",\n{{\"ph\":\"M\",\"pid\":1,\"tid\":{0},\"name\":\"thread_name\",\"args\":{{\"name\":\"cpu {1}\"}}}}"
                ",\n{{\"ph\":\"M\",\"pid\":1,\"tid\":{0},\"name\":\"thread_sort_index\","
                "\"args\":{{\"sort_index\":{1}}}}}",
                cpu + 1, cpu);
        bool ok = std::fputs(head.c_str(), f) >= 0;
        for (const Event& e : events_)
            if (!e.json.empty())
                ok = ok && std::fprintf(f, ",\n%s", e.json.c_str()) >= 0;
        std::string tail = "\n],\n\"otherData\":{";
        tail += fmt::format("\"source\":{},\"backend\":\"{}\",\"time_axis\":{},", json_str(trace_path),
                            replay::backend_name(t.header.backend), json_str(axis));
        tail += fmt::format("\"seed\":{},\"cpus\":{},\"build\":\"{:016x}\",\"cmdline\":{},\"records\":{}",
                            t.header.seed, t.header.cpus, t.header.build_id, json_str(t.cmdline), records_);
        if (exit_code_)
            tail += fmt::format(",\"exit_code\":{}", *exit_code_);
        if (!problem.empty())
            tail += fmt::format(",\"incomplete\":{}", json_str(problem));
        tail += "}\n}\n";
        ok = ok && std::fputs(tail.c_str(), f) >= 0;
        ok = (std::fclose(f) == 0) && ok;
        if (!ok)
            *error = fmt::format("cannot write {}: {}", out_path, std::strerror(errno));
        return ok;
    }

private:
    // A place on the timeline: a lane, a time and the order within that time.
    struct Point {
        uint64_t lane = 0, ts = 0, seq = 0;
    };
    struct Event {
        uint64_t ts, seq;
        std::string json;  // empty until known (a run still open, a syscall without its result)
    };
    struct Lane {
        uint64_t thread = 0;  // running now (0: idle)
        uint64_t start = 0;
        size_t event = 0;     // its X event, valid while thread != 0
    };
    struct Flow {
        uint64_t id;
        Point from;
    };
    struct Thread {
        std::optional<uint64_t> running_on;
        std::optional<Point> last;               // the latest event of this thread while it ran
        std::optional<size_t> syscall;           // its syscall event waiting for a result
        std::string syscall_head;                // that event's JSON up to its args
        std::vector<Flow> inbound;               // messages it receives when it next runs
    };

    uint64_t now(uint64_t cpu) const {
        if (!sim_)
            return index_;
        auto it = clock_.find(cpu);
        return it == clock_.end() ? 0 : it->second;
    }
    Point here(uint64_t cpu) {
        seq_ += 4;  // room for "just before" (-1) and "just after" (+1)
        return {cpu, now(cpu), seq_};
    }
    size_t push(const Point& p, std::string json) {
        events_.push_back({p.ts, p.seq, std::move(json)});
        return events_.size() - 1;
    }
    Point instant(uint64_t lane, const std::string& name, const char* cat, const std::string& args) {
        const Point p = here(lane);
        push(p, fmt::format("{{\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":{},\"ts\":{},\"name\":{},\"cat\":\"{}\","
                            "\"args\":{{{}}}}}",
                            lane + 1, p.ts, json_str(name), cat, args));
        return p;
    }
    void flow(const char* ph, const Point& p, uint64_t id, bool enclosing) {
        push(p, fmt::format("{{\"ph\":\"{}\",\"pid\":1,\"tid\":{},\"ts\":{},\"id\":{},\"name\":\"ipc\","
                            "\"cat\":\"ipc\"{}}}",
                            ph, p.lane + 1, p.ts, id, enclosing ? ",\"bp\":\"e\"" : ""));
    }

    void close_run(uint64_t cpu) {
        Lane& lane = lanes_[cpu];
        if (lane.thread) {
            const uint64_t end = now(cpu);
            Event& e = events_[lane.event];
            e.json = fmt::format("{{\"ph\":\"X\",\"pid\":1,\"tid\":{},\"ts\":{},\"dur\":{},\"name\":\"thread {}\","
                                 "\"cat\":\"run\",\"args\":{{\"thread\":{}}}}}",
                                 cpu + 1, lane.start, end >= lane.start ? end - lane.start : 0, lane.thread,
                                 lane.thread);
            threads_[lane.thread].running_on.reset();
        }
        lane.thread = 0;
    }

    void on_sched(uint64_t cpu, uint64_t from, uint64_t to) {
        close_run(cpu);
        if (!to)
            return;
        // A thread runs on one CPU at a time: a record saying otherwise ends the old run.
        if (auto other = threads_[to].running_on; other && *other != cpu)
            close_run(*other);
        const Point p = here(cpu);
        Lane& lane = lanes_[cpu];
        lane.thread = to;
        lane.start = p.ts;
        lane.event = push(p, "");
        Thread& th = threads_[to];
        th.running_on = cpu;
        th.last = p;
        // Messages that arrived while it was blocked end at the start of this run
        // (an "f" without "bp":"e" binds to the next slice that begins on its lane).
        for (const Flow& fl : th.inbound) {
            flow("s", fl.from, fl.id, false);
            flow("f", {cpu, p.ts, p.seq - 1}, fl.id, false);
        }
        th.inbound.clear();
    }

    void on_syscall(const replay::Record& r) {
        const uint64_t thread = r.field("thread");
        const uint64_t nr = r.field("nr");
        finish_syscall(thread, "\"returned\":false");
        std::string args = fmt::format("\"thread\":{},\"record\":{}", thread, r.index);
        const anvil_syscall_desc_t* sys = anvil_syscall_desc(nr);
        const unsigned nin = sys ? sys->nin : ANVIL_SYSCALL_MAX_ARGS;
        for (unsigned i = 0; i < nin && 3 + i < r.count; ++i)
            args += fmt::format(",{}:\"0x{:x}\"", json_str(sys ? sys->in_names[i] : fmt::format("a{}", i)),
                                r.f[3 + i]);
        const Point p = here(cpu_);
        Thread& th = threads_[thread];
        th.last = p;
        th.syscall = push(p, "");
        th.syscall_head = fmt::format("{{\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":{},\"ts\":{},\"name\":{},"
                                      "\"cat\":\"syscall\",\"args\":{{{}",
                                      cpu_ + 1, p.ts, json_str(syscall_name(nr)), args);
    }

    void finish_syscall(uint64_t thread, const std::string& result) {
        auto it = threads_.find(thread);
        if (it == threads_.end() || !it->second.syscall)
            return;
        events_[*it->second.syscall].json = it->second.syscall_head + "," + result + "}}";
        it->second.syscall.reset();
    }

    // A message from sender to receiver: an arrow from the sender's last event
    // (its send or call) to the receiver's receive, or to its next run if it is
    // blocked now.
    void on_ipc(const replay::Record& r) {
        const uint64_t sender = r.field("sender"), receiver = r.field("receiver");
        const uint64_t endpoint = r.field("endpoint");
        const Point at = instant(cpu_, endpoint ? "ipc" : "ipc reply", "ipc",
                                 fmt::format("\"endpoint\":{},\"sender\":{},\"receiver\":{},\"badge\":\"0x{:x}\","
                                             "\"bytes\":{},\"caps\":{}",
                                             endpoint, sender, receiver, r.field("badge"), r.field("bytes"),
                                             r.field("caps")));
        Point from = at;
        if (const auto& last = threads_[sender].last)
            from = {last->lane, last->ts, last->seq + 1};
        const uint64_t id = ++flows_;
        Thread& rx = threads_[receiver];
        if (rx.running_on) {
            flow("s", from, id, false);
            const Point to = rx.last ? Point{rx.last->lane, rx.last->ts, rx.last->seq + 1} : at;
            flow("f", to, id, true);
        } else {
            rx.inbound.push_back({id, from});
        }
    }

    const bool sim_;
    uint64_t index_ = 0;       // the record being added
    uint64_t records_ = 0;
    uint64_t cpu_ = 0;         // the CPU of the latest record that names one
    uint64_t seq_ = 0;
    uint64_t flows_ = 0;
    std::optional<int64_t> exit_code_;
    std::map<uint64_t, uint64_t> clock_;  // per CPU: basic blocks run so far
    std::map<uint64_t, Lane> lanes_;
    std::map<uint64_t, Thread> threads_;
    std::vector<Event> events_;
};

int cmd_export(const std::string& path, bool chrome, const std::string& out_path) {
    if (!chrome) {
        error_line("export: choose the output format: --chrome (Chrome/Perfetto trace-event JSON)");
        return kExitUsage;
    }
    replay::Trace t;
    if (auto code = open_trace(path, &t))
        return *code;
    ChromeExport ex(t);
    Walker w(t);
    replay::Record r;
    uint64_t n = 0;
    while (w.next(&r)) {
        ex.add(r);
        ++n;
    }
    const std::string problem = w.problem();
    std::string error;
    if (!ex.write(t, path, out_path, problem, &error)) {
        error_line(error);
        return kExitUsage;
    }
    fmt::print("{}: {} records written to {} (open it in https://ui.perfetto.dev or chrome://tracing)\n", path, n,
               out_path);
    if (!problem.empty()) {
        error_line(fmt::format("{}: {} (the timeline holds the records before it)", path, problem));
        return kExitInvalid;
    }
    if (t.cut)
        return cut_note(path, t);
    return 0;
}

// ------------------------------------------------------------------ pack

struct PackOptions {
    std::string trace, out, initramfs, kernel;
    std::vector<std::string> initramfs_search;
};

// The largest kernel ELF a pack takes (this build's is about 1 MiB).
constexpr uint64_t kMaxKernelBytes = 64ull << 20;

// Writes `bytes` to `path` whole or not at all (a temporary file renamed).
bool write_whole(const std::string& path, const std::vector<uint8_t>& bytes, std::string* error) {
    const std::string tmp = path + ".partial";
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    bool ok = f && std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    ok = f && std::fclose(f) == 0 && ok;
    if (ok && std::rename(tmp.c_str(), path.c_str()) == 0)
        return true;
    *error = fmt::format("cannot write {}: {}", path, std::strerror(errno));
    std::remove(tmp.c_str());
    return false;
}

// The trace's initramfs for a pack: --initramfs, or the one with its hash
// among the --initramfs-search directories. Exit status on failure.
std::optional<int> read_pack_initramfs(const PackOptions& o, const replay::Trace& t, std::vector<uint8_t>* out) {
    // What anvil-sim would load; a QEMU trace names no memory size, only its
    // initramfs's (the one file that matches it has that size).
    const bool qemu = t.from_qemu();
    const uint64_t bound = qemu ? t.header.initramfs_size : t.header.memory_bytes / 2;
    const std::string path = !o.initramfs.empty()
                                 ? o.initramfs
                                 : replay::find_initramfs(o.initramfs_search, t.header.initramfs_hash, bound);
    if (path.empty()) {
        error_line(fmt::format("{}: no initramfs with the trace's hash {:016x} ({} bytes) found; give it with "
                               "--initramfs (or pack the trace in a build of the commit that recorded it)",
                               o.trace, t.header.initramfs_hash, t.header.initramfs_size));
        return kExitUsage;
    }
    std::string error;
    if (!replay::read_file(path, bound, out, &error, qemu ? "(the trace's initramfs size)" : "(half the trace's memory)")) {
        error_line(fmt::format("cannot read the initramfs {}: {}", path, error));
        return kExitUsage;
    }
    if (trace::fnv1a(trace::kFnvOffset, out->data(), out->size()) != t.header.initramfs_hash) {
        error_line(fmt::format("{} is not the initramfs {} was recorded with (hash {:016x})", path, o.trace,
                               t.header.initramfs_hash));
        return kExitUsage;
    }
    return std::nullopt;
}

// A QEMU trace's kernel for a pack: --kernel, which must be this build's and
// the trace recorded by this build. Exit status on failure.
std::optional<int> read_pack_kernel(const PackOptions& o, const replay::Trace& t, std::vector<uint8_t>* out) {
    if (o.kernel.empty()) {
        error_line(fmt::format("{} is a QEMU trace: give --kernel, the kernel ELF that ran (tools/anvil trace pack "
                               "gives this build's)",
                               o.trace));
        return kExitUsage;
    }
    if (t.header.build_id != ANVIL_BUILD_ID) {
        error_line(fmt::format("{} was recorded by kernel build {:016x}, and {} is this build's ({:016x}), not the "
                               "kernel that ran: pack it in a checkout of the commit that recorded it",
                               o.trace, t.header.build_id, o.kernel, uint64_t(ANVIL_BUILD_ID)));
        return kExitUsage;
    }
    std::string error;
    if (!replay::read_file(o.kernel, kMaxKernelBytes, out, &error)) {
        error_line(fmt::format("cannot read the kernel {}: {}", o.kernel, error));
        return kExitUsage;
    }
    if (out->size() < 4 || std::memcmp(out->data(), "\x7f" "ELF", 4) != 0) {
        error_line(fmt::format("{} is not an ELF file (give the kernel.elf of this build)", o.kernel));
        return kExitUsage;
    }
    return std::nullopt;
}

int cmd_pack(const PackOptions& o) {
    replay::Pack pack;
    std::string error;
    if (!replay::read_file(o.trace, replay::kMaxTraceBytes, &pack.trace, &error)) {
        error_line(fmt::format("cannot read {}: {}", o.trace, error));
        return kExitUsage;
    }
    if (replay::is_pack(pack.trace)) {
        error_line(fmt::format("{} is a pack already (tools/anvil replay and debug take it as it is)", o.trace));
        return kExitUsage;
    }
    replay::Trace t;
    if (auto code = parse_trace(o.trace, pack.trace, &t))
        return *code;
    if (!replay::validate(t, &error)) {
        error_line(fmt::format("cannot pack {}: {}", o.trace, error));
        return kExitInvalid;
    }
    std::error_code ec;
    if (std::filesystem::equivalent(o.trace, o.out, ec)) {
        error_line(fmt::format("{}: the pack would overwrite its own trace; name another output file", o.out));
        return kExitUsage;
    }
    if (auto code = read_pack_initramfs(o, t, &pack.initramfs))
        return *code;
    if (!is_sim(t)) {
        if (auto code = read_pack_kernel(o, t, &pack.kernel))
            return *code;
    }
    if (!write_whole(o.out, replay::write_pack(pack), &error)) {
        error_line(error);
        return kExitUsage;
    }
    fmt::print("{}: packed into {} with its initramfs ({}){} (replay: tools/anvil replay {}; debug: tools/anvil debug "
               "--trace {})\n",
               o.trace, o.out, replay::size_text(pack.initramfs.size()),
               pack.kernel.empty() ? "" : fmt::format(" and kernel ELF ({})", replay::size_text(pack.kernel.size())),
               o.out, o.out);
    return 0;
}

}  // namespace

// The vCPU switches of a simulator trace, one "CPU AT TO" a line: the input
// of anvil-sim --schedule script --switches (tools/anvil shrink starts there).
int cmd_switches(const std::string& path) {
    replay::Trace t;
    if (auto code = open_trace(path, &t))
        return *code;
    if (t.header.backend != static_cast<uint32_t>(trace::Backend::kSim)) {
        error_line(fmt::format("{} is a QEMU trace: it has no vCPU slices to switch between", path));
        return kExitUsage;
    }
    std::string error;
    const std::vector<replay::Switch> list = replay::switches(t, &error);
    if (!error.empty()) {
        error_line(fmt::format("{}: {}", path, error));
        return kExitInvalid;
    }
    fmt::print("# vCPU switches of {}: CPU AT TO (when CPU had run AT basic blocks, TO ran next)\n", path);
    for (const replay::Switch& s : list)
        fmt::print("{} {} {}\n", s.cpu, s.at, s.to);
    return 0;
}

int main(int argc, char** argv) {
    CLI::App app{"anvil-trace: read Anvil kernel traces (format: docs/trace-format.md).\n"
                 "Exit status: 0 success (diff: identical), 1 invalid trace content (diff: the traces differ),\n"
                 "2 bad arguments or unreadable files (diff: a trace that cannot be read whole), 3 (dump, stats,\n"
                 "export) a trace cut short: every complete record shown, then a note (pack: 1 a damaged trace,\n"
                 "2 also no initramfs with its hash; nothing written then). Each command takes a pack as its trace.\n"
                 "A trace or pack is read whole: a regular, non-empty file of at most 1 GiB."};
    app.require_subcommand(1);

    DumpOptions dump;
    CLI::App* dump_cmd = app.add_subcommand("dump", "print the header and one line per record");
    dump_cmd->add_option("trace", dump.path, "trace file")->required();
    dump_cmd->add_option("--from", dump.from, "start at record N (0 = the first)")->transform(cli::unsigned64());
    uint64_t dump_count = 0;
    CLI::Option* count_opt =
        dump_cmd->add_option("--count", dump_count, "print at most N records")->transform(cli::unsigned64());
    dump_cmd->add_option("--kind", dump.kinds, "print only records of these kinds (repeat or comma-separate)")
        ->delimiter(',');

    std::string stats_path;
    CLI::App* stats_cmd = app.add_subcommand("stats", "counts: records by kind, threads, CPUs, IPC pairs");
    stats_cmd->add_option("trace", stats_path, "trace file")->required();

    std::string diff_a, diff_b;
    CLI::App* diff_cmd = app.add_subcommand(
        "diff", "the first semantic difference between two traces (exit 0 identical, 1 different, 2 a trace "
                "cannot be read whole)");
    diff_cmd->add_option("a", diff_a, "first trace")->required();
    diff_cmd->add_option("b", diff_b, "second trace")->required();

    std::string export_path, export_out;
    bool export_chrome = false;
    CLI::App* export_cmd = app.add_subcommand("export", "write the trace as a timeline for another tool");
    export_cmd->add_option("trace", export_path, "trace file")->required();
    export_cmd->add_flag("--chrome", export_chrome, "Chrome/Perfetto trace-event JSON (ui.perfetto.dev)");
    export_cmd->add_option("-o,--output", export_out, "output file")->required();

    PackOptions pack;
    CLI::App* pack_cmd = app.add_subcommand(
        "pack", "bundle a trace with its initramfs (and a QEMU trace with its kernel ELF) into one file that "
                "anvil-sim --replay, anvil-debug --trace and this tool read as the trace");
    pack_cmd->add_option("trace", pack.trace, "trace file")->required();
    pack_cmd->add_option("out", pack.out, "the pack to write")->required();
    pack_cmd->add_option("--initramfs", pack.initramfs, "the trace's initramfs (default: found by hash)");
    pack_cmd->add_option("--initramfs-search", pack.initramfs_search,
                         "directories whose *.cpio files are searched for the trace's initramfs");
    pack_cmd->add_option("--kernel", pack.kernel,
                         "this build's kernel ELF, packed with a QEMU trace of this build (not with simulator "
                         "traces)");

    std::string switches_path;
    CLI::App* switches_cmd = app.add_subcommand(
        "switches", "the vCPU switches of a simulator trace, one \"CPU AT TO\" a line (anvil-sim --schedule "
                    "script --switches reads them)");
    switches_cmd->add_option("trace", switches_path, "trace file")->required();

    const std::set<std::string> commands = {"dump", "stats", "diff", "export", "pack", "switches"};
    if (argc > 1 && argv[1][0] != '-' && !commands.count(argv[1])) {
        error_line(fmt::format(
            "unknown command \"{}\" (commands: dump, stats, diff, export, pack, switches; see anvil-trace --help)",
            argv[1]));
        return kExitUsage;
    }
    if (const std::optional<int> code = cli::parse(app, argc, argv, "anvil-trace"))
        return *code;
    if (count_opt->count())
        dump.count = dump_count;
    if (dump_cmd->parsed())
        return cmd_dump(dump);
    if (stats_cmd->parsed())
        return cmd_stats(stats_path);
    if (diff_cmd->parsed())
        return cmd_diff(diff_a, diff_b);
    if (export_cmd->parsed())
        return cmd_export(export_path, export_chrome, export_out);
    if (pack_cmd->parsed())
        return cmd_pack(pack);
    if (switches_cmd->parsed())
        return cmd_switches(switches_path);
    return kExitUsage;
}
