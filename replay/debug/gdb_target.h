// The target the GDB stub describes to gdb (replay/debug/gdb_server.cpp): the register
// layout of its `g` packet and the target description XML, and Anvil's
// syscall table in GDB's format.
#pragma once

#include <string>
#include <vector>

namespace sim::gdb {

// Where one register lies in the `g` packet, in bytes.
struct RegSlot {
    unsigned offset, size;
};

// Every register by GDB register number, in the order of target_xml()
// (the worker's =regs reply sends them in this order).
std::vector<RegSlot> register_layout();

// The target description (qXfer:features:read:target.xml).
std::string target_xml();

}  // namespace sim::gdb
