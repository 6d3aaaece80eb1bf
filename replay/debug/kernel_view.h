// Kernel state for people: what the command loop's looking commands print
// (`threads`, `runqueues`, `endpoints`, `caps`, `vspace`, `regs`, `mem`,
// `disas`), read from the kernel objects of the machine in this process (a
// worker or a view). Also the lookups the worker's answers to the GDB server
// need (live threads, user memory).
#pragma once

#include "replay/debug/command.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kernel {
class Thread;
}

namespace replay::debug {

// The live thread with this id; nullptr if there is none.
kernel::Thread* find_thread(uint64_t id);
// The ids of the threads that have not exited.
std::vector<uint64_t> live_threads();
// A process as gdb sees it: an address space (its VSpace's object id), the
// threads that run in it, by id, and the program it runs.
struct ProcessInfo {
    uint64_t id = 0;
    std::string name;
    std::vector<uint64_t> threads;
};
// The processes with a started thread (resumed, not exited), by id, each
// with those threads; the name is left to program_of.
std::vector<ProcessInfo> live_processes();
// The initramfs member whose code process `process` runs: the first whose
// executable segments are all in its memory, byte for byte ("" if none is).
// The kernel keeps no program names (spawning is userspace's), so this is
// how the debugger tells programs apart.
std::string program_of(uint64_t process, const std::vector<uint8_t>& initramfs);
// The process thread `t` runs in (0: none).
uint64_t process_of(kernel::Thread* t);
// The address space (hal handle) of process `id`; 0 if it has none.
uint64_t address_space_of(uint64_t process);
// What a thread waits on, for people (" recv on endpoint 4"); "" if nothing.
std::string waits_on(kernel::Thread* t);

// What an object watch (`watch slot|endpoint|thread`) watches, as it is now,
// for people: "endpoint cap (rights 0x7, badge 0x0) to object 12", "senders
// [5] receivers []", "blocked recv on endpoint 4"; "" for other breakpoints.
std::string object_state(const Breakpoint& b);

// `threads`: every thread's state, CPU, priority, affinity and wait.
void print_threads();
// `runqueues`: per CPU, the running thread and the queue, best first.
void print_runqueues();
// `endpoints`: endpoints with waiters, notifications with bits or waiters.
void print_endpoints();
// `caps`: the thread's CNode, slot by slot.
void print_caps(kernel::Thread* t);
// `vspace`: the thread's mappings.
void print_vspace(kernel::Thread* t);
// `regs`: the thread's registers.
void print_regs(kernel::Thread* t);
// `mem`: a hex dump of `len` bytes at `va` in thread `thread`'s address space.
void print_memory(uint64_t thread, uint64_t va, uint64_t len);
// `disas`: `n` instructions from `va` in thread `thread`'s address space.
void print_disassembly(uint64_t thread, uint64_t va, uint64_t n);

// As much of `len` bytes from `va` as is readable in t's address space (gdb
// asks across ends of mappings); empty if t is null.
std::vector<uint8_t> read_readable(kernel::Thread* t, uint64_t va, uint64_t len);

}  // namespace replay::debug
