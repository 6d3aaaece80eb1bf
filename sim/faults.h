// Fault injection (anvil-sim --faults SPEC, docs/reliability.md): what a run
// breaks on purpose, where, and how often. The points are drawn from the run's
// seed by PRNGs of their own, so adding faults leaves the schedule's random
// stream as it was; the resolved spec is recorded in the trace (a `faults`
// record) and every fault made is an `inject` record, so a replay makes the
// same faults without being told.
//
// SPEC is comma-separated items:
//   kill=NAME[@N|@N..M]  the init service NAME faults when its thread starts
//                        its Nth slice (default @1..20: services run few slices); init sees the fault
//   alloc-fail[=N|=N..M] the kernel's Nth allocation after boot (a heap block
//                        or a frame) fails (default =1..2000)
//   irq-drop=P           each device interrupt edge is lost with probability P%
//   irq-delay=P:D        ... held back D slices (1..1000000) with probability P%
//   uart-drop=P          each byte of serial input is lost with probability P%
//   uart-corrupt=P       ... arrives with bits flipped with probability P%
// kill and alloc-fail may be given more than once; P is 1..100.
//
// The record also holds how the serial input is paced (anvil-sim --serial-gap
// N, not a fault: bytes that come one at a time, as on a real line), as the
// item serial-gap=N, which parse_faults reads (from a trace) and anvil-sim's
// --faults refuses.
#pragma once

#include "sim/prng.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sim {

// A point: fixed (lo == hi), or drawn from lo..hi when the run starts.
struct FaultPoint {
    uint64_t lo = 0;
    uint64_t hi = 0;
};

struct FaultSpec {
    struct Kill {
        std::string service;  // a name in the initramfs's services manifest
        FaultPoint slice;     // the service thread's slice at which it faults (1-based)
    };
    std::vector<Kill> kills;
    std::vector<FaultPoint> alloc_fails;  // the kernel allocations (1-based, after boot) that fail
    uint32_t irq_drop = 0;                // percent of device interrupt edges lost
    uint32_t irq_delay = 0;               // percent held back ...
    uint64_t irq_delay_slices = 0;        // ... for this many slices
    uint32_t uart_drop = 0;               // percent of serial input bytes lost
    uint32_t uart_corrupt = 0;            // percent of them changed
    // Not a fault, recorded with them: after the guest reads a serial input
    // byte, the next arrives this many slices later (0: at once).
    uint64_t serial_gap = 0;

    bool empty() const {
        return kills.empty() && alloc_fails.empty() && !irq_drop && !irq_delay && !uart_drop && !uart_corrupt &&
               !serial_gap;
    }
};

// The longest --serial-gap and irq-delay, in slices.
constexpr uint64_t kMaxGapSlices = 1000000;

// Parses SPEC (grammar above); false with `error`, one sentence naming the item
// and what is wrong with it.
bool parse_faults(const std::string& text, FaultSpec* out, std::string* error);

// The spec as text, in the grammar above (what the trace records).
std::string format_faults(const FaultSpec& spec);

// Every point drawn from its range, with the PRNG of the run's seed that only
// does this (so the draws neither take from nor depend on any other stream).
FaultSpec resolve_faults(FaultSpec spec, uint64_t seed);

// The PRNG that decides the probabilistic faults of a run (irq-*, uart-*).
Prng fault_prng(uint64_t seed);

// Serial input as it arrives with uart-drop and uart-corrupt applied, drawing
// from `prng`; `on_fault(what, index, value)` is told of each byte lost
// (kInjectUartDrop) or changed (kInjectUartCorrupt, its new value).
template <typename OnFault>
std::vector<uint8_t> apply_uart_faults(const FaultSpec& spec, const std::vector<uint8_t>& input, Prng* prng,
                                       OnFault on_fault);

// The kind of an `inject` record (docs/trace-format.md).
enum InjectKind : uint64_t {
    kInjectKill = 1,         // a = the thread, b = the service's index in the manifest
    kInjectAllocFail = 2,    // a = the allocation's number after boot
    kInjectIrqDrop = 3,      // a = the line
    kInjectIrqDelay = 4,     // a = the line, b = slices
    kInjectUartDrop = 5,     // a = the input byte's index
    kInjectUartCorrupt = 6,  // a = the input byte's index, b = its new value
};

// The index in the services manifest of `initramfs` (init's `services`
// member) of the service named `name`; false with `error` if there is none.
bool service_index(const std::vector<uint8_t>& initramfs, const std::string& name, uint32_t* index,
                   std::string* error);

// Checks that every service the spec kills is in the initramfs's manifest.
bool check_fault_services(const FaultSpec& spec, const std::vector<uint8_t>& initramfs, std::string* error);

// ---- inline ----

inline bool chance(Prng* prng, uint32_t percent) { return percent && prng->below(100) < percent; }

template <typename OnFault>
std::vector<uint8_t> apply_uart_faults(const FaultSpec& spec, const std::vector<uint8_t>& input, Prng* prng,
                                       OnFault on_fault) {
    if (!spec.uart_drop && !spec.uart_corrupt)
        return input;
    std::vector<uint8_t> out;
    for (size_t i = 0; i < input.size(); ++i) {
        if (chance(prng, spec.uart_drop)) {
            on_fault(kInjectUartDrop, i, 0);
            continue;
        }
        uint8_t byte = input[i];
        if (chance(prng, spec.uart_corrupt)) {
            byte ^= static_cast<uint8_t>(1 + prng->below(255));  // never 0: the byte changes
            on_fault(kInjectUartCorrupt, i, byte);
        }
        out.push_back(byte);
    }
    return out;
}

}  // namespace sim
