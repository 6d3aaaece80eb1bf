#include "sim/faults.h"

#include "kernel/introspect.h"

extern "C" {
#include <manifest.h>
}

#include <fmt/core.h>

#include <charconv>

namespace sim {

namespace {

// Each PRNG of the faults is the run's seed mixed with a constant of its own,
// so none repeats the scheduler's stream (seeded with the seed itself).
constexpr uint64_t kResolveSalt = 0x66617563746f7279ull;
constexpr uint64_t kDecideSalt = 0x696e6a6563746564ull;

constexpr FaultPoint kDefaultKillSlices = {1, 20};
constexpr FaultPoint kDefaultAllocs = {1, 2000};

bool number(std::string_view text, uint64_t* out) {
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, *out);
    return !text.empty() && ec == std::errc() && ptr == end;
}

// N or N..M, each at least 1 (M >= N).
bool point(std::string_view text, FaultPoint* out) {
    const size_t dots = text.find("..");
    if (dots == std::string_view::npos) {
        if (!number(text, &out->lo))
            return false;
        out->hi = out->lo;
    } else if (!number(text.substr(0, dots), &out->lo) || !number(text.substr(dots + 2), &out->hi)) {
        return false;
    }
    return out->lo >= 1 && out->hi >= out->lo;
}

bool percent(std::string_view text, uint32_t* out) {
    uint64_t v = 0;
    if (!number(text, &v) || v < 1 || v > 100)
        return false;
    *out = static_cast<uint32_t>(v);
    return true;
}

std::string point_text(const FaultPoint& p) {
    return p.lo == p.hi ? fmt::format("{}", p.lo) : fmt::format("{}..{}", p.lo, p.hi);
}

bool parse_item(std::string_view item, FaultSpec* spec, std::string* error) {
    const size_t eq = item.find('=');
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    const bool has_value = eq != std::string_view::npos;
    auto bad = [&](const char* what) {
        *error = fmt::format("bad item '{}': {}", item, what);
        return false;
    };
    if (key == "kill") {
        const size_t at = value.find('@');
        FaultSpec::Kill k{std::string(value.substr(0, at)), kDefaultKillSlices};
        if (k.service.empty())
            return bad("kill needs a service name (kill=NAME[@N|@N..M])");
        if (at != std::string_view::npos && !point(value.substr(at + 1), &k.slice))
            return bad("the slice after @ must be N or N..M with 1 <= N <= M");
        spec->kills.push_back(k);
        return true;
    }
    if (key == "alloc-fail") {
        FaultPoint p = kDefaultAllocs;
        if (has_value && !point(value, &p))
            return bad("alloc-fail takes N or N..M with 1 <= N <= M (the Nth kernel allocation after boot)");
        spec->alloc_fails.push_back(p);
        return true;
    }
    if (key == "serial-gap") {
        if (spec->serial_gap)
            return bad("given twice");
        if (!number(value, &spec->serial_gap) || spec->serial_gap < 1 || spec->serial_gap > kMaxGapSlices)
            return bad("serial-gap takes 1 to 1000000 slices");
        return true;
    }
    uint32_t* probability = key == "irq-drop"       ? &spec->irq_drop
                            : key == "irq-delay"    ? &spec->irq_delay
                            : key == "uart-drop"    ? &spec->uart_drop
                            : key == "uart-corrupt" ? &spec->uart_corrupt
                                                    : nullptr;
    if (!probability)
        return bad("unknown fault (kill, alloc-fail, irq-drop, irq-delay, uart-drop, uart-corrupt)");
    if (*probability)
        return bad("given twice");
    std::string_view p = value;
    if (key == "irq-delay") {
        const size_t colon = value.find(':');
        if (colon == std::string_view::npos || !number(value.substr(colon + 1), &spec->irq_delay_slices) ||
            spec->irq_delay_slices < 1 || spec->irq_delay_slices > kMaxGapSlices)
            return bad("irq-delay takes P:D, a percentage and 1 to 1000000 slices");
        p = value.substr(0, colon);
    }
    if (!percent(p, probability))
        return bad("the probability must be a whole percentage from 1 to 100");
    return true;
}

}  // namespace

bool parse_faults(const std::string& text, FaultSpec* out, std::string* error) {
    *out = FaultSpec{};
    if (text.empty()) {
        *error = "empty spec (e.g. kill=ioserver,irq-drop=5; anvil-sim --help)";
        return false;
    }
    std::string_view rest = text;
    while (true) {
        const size_t comma = rest.find(',');
        if (!parse_item(rest.substr(0, comma), out, error))
            return false;
        if (comma == std::string_view::npos)
            return true;
        rest.remove_prefix(comma + 1);
    }
}

std::string format_faults(const FaultSpec& spec) {
    std::vector<std::string> items;
    for (const FaultSpec::Kill& k : spec.kills)
        items.push_back(fmt::format("kill={}@{}", k.service, point_text(k.slice)));
    for (const FaultPoint& p : spec.alloc_fails)
        items.push_back("alloc-fail=" + point_text(p));
    if (spec.irq_drop)
        items.push_back(fmt::format("irq-drop={}", spec.irq_drop));
    if (spec.irq_delay)
        items.push_back(fmt::format("irq-delay={}:{}", spec.irq_delay, spec.irq_delay_slices));
    if (spec.uart_drop)
        items.push_back(fmt::format("uart-drop={}", spec.uart_drop));
    if (spec.uart_corrupt)
        items.push_back(fmt::format("uart-corrupt={}", spec.uart_corrupt));
    if (spec.serial_gap)
        items.push_back(fmt::format("serial-gap={}", spec.serial_gap));
    std::string text;
    for (const std::string& item : items)
        text += (text.empty() ? "" : ",") + item;
    return text;
}

FaultSpec resolve_faults(FaultSpec spec, uint64_t seed) {
    Prng prng(seed ^ kResolveSalt);
    auto draw = [&](FaultPoint* p) {
        p->lo += prng.below(p->hi - p->lo + 1);
        p->hi = p->lo;
    };
    for (FaultSpec::Kill& k : spec.kills)
        draw(&k.slice);
    for (FaultPoint& p : spec.alloc_fails)
        draw(&p);
    return spec;
}

Prng fault_prng(uint64_t seed) { return Prng(seed ^ kDecideSalt); }

bool service_index(const std::vector<uint8_t>& initramfs, const std::string& name, uint32_t* index,
                   std::string* error) {
    kernel::cpio::Entry entry;
    const char* why = nullptr;
    if (kernel::cpio::find(initramfs.data(), initramfs.size(), MANIFEST_MEMBER, &entry, &why) != ANVIL_OK) {
        *error = fmt::format("--faults: kill={}: the initramfs has no services manifest for init to start it from",
                             name);
        return false;
    }
    manifest services;
    char parse_error[128];
    if (!manifest_parse(reinterpret_cast<const char*>(entry.data), entry.size, &services, parse_error,
                        sizeof parse_error)) {
        *error = fmt::format("--faults: kill={}: the initramfs's services manifest does not parse ({})", name,
                             parse_error);
        return false;
    }
    std::string names;
    for (unsigned i = 0; i < services.count; ++i) {
        if (name == services.entries[i].name) {
            *index = i;
            return true;
        }
        names += (names.empty() ? "" : ", ") + std::string(services.entries[i].name);
    }
    *error = fmt::format("--faults: kill={}: no such service in the initramfs's manifest (it has {})", name, names);
    return false;
}

bool check_fault_services(const FaultSpec& spec, const std::vector<uint8_t>& initramfs, std::string* error) {
    uint32_t index = 0;
    for (const FaultSpec::Kill& k : spec.kills) {
        if (!service_index(initramfs, k.service, &index, error))
            return false;
    }
    return true;
}

}  // namespace sim
