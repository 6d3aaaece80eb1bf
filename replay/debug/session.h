// The processes of one debugging session (docs/debugging.md, "How it works"):
// where the FIFOs are through which the debugger process (replay/timeline.cpp)
// talks to its workers and checkpoints (worker.cpp), and which checkpoints
// there are. Set up by Timeline::start, inherited by every process it forks.
#pragma once

#include "sim/engine.h"

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace replay::debug {

// A worker forks a checkpoint every this many steps (the debugger process thins
// them out past kMaxCheckpoints, so going back re-executes at most a few
// intervals' worth; see thin_checkpoints).
inline constexpr uint64_t kCheckpointEvery = 2000;
inline constexpr size_t kMaxCheckpoints = 40;

// The session's shared state, inherited by every process it forks.
struct Session {
    std::string dir;        // FIFOs: w<ID>.cmd/.out per worker, cp-<STEP> per checkpoint
    int lifeline = -1;      // read end of a pipe only the debugger process writes to
};
extern Session g_session;

// The FIFO of worker `id` that carries commands ("cmd") or answers ("out").
std::string worker_fifo(uint64_t id, const char* end);
// The FIFO through which the checkpoint at `step` is asked for a new worker.
std::string checkpoint_fifo(uint64_t step);

// A probe's hits as the worker's text carries them (its pipe, and the
// =probe/=collect replies): " H... ; I:W:OLD:NEW...", breakpoint hits (the
// instructions at breakpoints) then watch hits (instruction count at the
// access, watch, the watched bytes before and after).
std::string format_hits(const std::vector<uint64_t>& hits, const std::vector<sim::DataHit>& watch_hits);
// Reads what format_hits wrote, from the rest of `in`.
void parse_hits(std::istream& in, std::vector<uint64_t>* hits, std::vector<sim::DataHit>* watch_hits);

// The steps that have a checkpoint, ascending.
std::vector<uint64_t> checkpoints();
// How many trace records the run had written at the checkpoint at `step`
// (written by the worker that made it; ~0 if unknown): where a kernel event
// is, without running to it.
void note_checkpoint_records(uint64_t step, uint64_t records);
uint64_t checkpoint_records(uint64_t step);

// Past kMaxCheckpoints, the checkpoints whose neighbours are closest go
// (never the one at boot, nor the newest), one at a time, until they fit: the
// spacing stays even over the run, memory stays bounded.
void thin_checkpoints();

}  // namespace replay::debug
