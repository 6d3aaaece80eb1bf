// Kernel state for people: what the command loop's looking commands print
// (`threads`, `runqueues`, `endpoints`, `caps`, `vspace`, `regs`, `mem`,
// `disas`), read from the kernel objects of the machine in this process (a
// worker or a view). Also the lookups the worker's answers to the GDB server
// need (live threads, user memory).
#pragma once

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
// What a thread waits on, for people (" recv on endpoint 4"); "" if nothing.
std::string waits_on(kernel::Thread* t);

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
