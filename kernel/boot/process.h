// Building a process from an ELF file: a CNode, a VSpace with the program's
// segments and a stack, and a thread ready to start at the entry point.
#pragma once

#include "kernel/lib/result.h"

#include <stddef.h>
#include <stdint.h>

namespace kernel {

class Thread;

// Where a boot-built process's stack lives.
constexpr uint64_t kInitStackTop = 0x00007fff00000000ull;
constexpr uint64_t kInitStackSize = 64 * 1024;
constexpr uint32_t kInitCNodeSlots = 256;

// A new process running `elf`, with caps to its own CNode, VSpace and TCB in the
// well-known slots, all rights. `*error` names the problem on failure.
Result<Thread*> create_process_from_elf(const uint8_t* elf, size_t size, const char* name,
                                        const char** error);

}  // namespace kernel
