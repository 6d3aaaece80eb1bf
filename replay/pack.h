// Trace packs: one file holding a trace and what replaying it needs that a
// build may not have, the initramfs it was recorded with (and, for a QEMU
// trace, the kernel ELF that ran), so that it replays and debugs anywhere
// (`tools/anvil trace pack T OUT`; the layout is in docs/trace-format.md,
// "Packs"). replay::load reads a pack as the trace it holds, keeping the
// other members in the Trace. Nothing here trusts a byte of the file.
#pragma once

#include "replay/trace_reader.h"

#include <cstdint>
#include <string>
#include <vector>

namespace replay {

// The file starts with these 8 bytes, then a u16 version and a u16 member count.
constexpr char kPackMagic[8] = {'A', 'N', 'V', 'L', 'P', 'A', 'K', '\n'};
constexpr uint16_t kPackVersion = 1;
constexpr uint32_t kPackHeaderSize = 12;
// Each member: u32 kind, u64 size, u64 FNV-1a 64 of its bytes, then the bytes.
constexpr uint32_t kPackMemberHeaderSize = 20;

enum class PackMember : uint32_t { kTrace = 1, kInitramfs = 2, kKernel = 3 };

// A pack's members (kernel empty for a simulator trace).
struct Pack {
    std::vector<uint8_t> trace;      // the trace file, byte for byte
    std::vector<uint8_t> initramfs;  // the initramfs the trace's header names
    std::vector<uint8_t> kernel;     // QEMU traces: the kernel ELF that ran
};

// True if `bytes` start with the pack magic.
bool is_pack(const std::vector<uint8_t>& bytes);

// Splits a whole pack file into its members, checking the container: magic,
// version, every member header and checksum, no member twice, nothing after
// the last, a trace and an initramfs present. False with `error` naming the
// problem and its byte offset.
bool unpack(const std::vector<uint8_t>& bytes, Pack* out, std::string* error);

// Checks that the members belong to the trace `t` was parsed from (the
// initramfs is the one its header names; a QEMU trace has its kernel, a
// simulator trace none) and moves them into t->packed_initramfs and
// t->packed_kernel. False with `error`.
bool attach(Pack&& pack, Trace* t, std::string* error);

// The pack file of `pack` (members in the order trace, initramfs, kernel).
std::vector<uint8_t> write_pack(const Pack& pack);

}  // namespace replay
