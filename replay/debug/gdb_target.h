// The target the GDB server describes to gdb (gdb_server.cpp): one table of
// its registers, from which come both the target description XML and the
// layout and contents of the `g` packet; and Anvil's syscall table in GDB's
// format.
#pragma once

#include "hal/hal.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace replay::debug::gdb {

// One register of the target, by GDB register number.
struct Register {
    std::string name;
    unsigned bits;
    const char* type;                      // the target description's type
    const char* group;                     // its group (nullptr: gdb's default)
    const char* feature;                   // the target description feature it belongs to
    uint64_t hal::UserRegs::*field;        // its value: a field of the thread's registers,
    std::optional<uint64_t> constant;      // or a constant,
    // or bytes of the thread's x87/SSE state (hal::ExtState): kBytes copies
    // them, kWord zero-extends a 16-bit word (fop: its 11 bits), kTag makes
    // the full x87 tag word from the abridged one; kNone with neither of the
    // above: unavailable.
    enum class Ext { kNone, kBytes, kWord, kOpcode, kTag } ext = Ext::kNone;
    unsigned ext_at = 0;
};

// A thread's registers as the debugger reads them: the register file and,
// when known, its x87/SSE state (the first ANVIL_EXT_STATE_SIZE bytes of
// hal::ExtState).
struct ThreadRegisters {
    hal::UserRegs regs;
    std::vector<uint8_t> ext;  // empty: unknown
};

// Every register, in GDB register number order.
const std::vector<Register>& registers();

// Where one register lies in the `g` packet, in bytes.
struct RegSlot {
    unsigned offset, size;
};

// Every register's place in the `g` packet, by GDB register number.
std::vector<RegSlot> register_layout();

// The `g` packet of a thread with these registers: each register in target
// byte order, "xx" for each byte of an unavailable one.
std::string pack_registers(const ThreadRegisters& r);

// The target description (qXfer:features:read:target.xml).
std::string target_xml();

// Anvil's syscalls in GDB's syscall XML format (for `catch syscall NAME`).
std::string syscalls_xml();

}  // namespace replay::debug::gdb
