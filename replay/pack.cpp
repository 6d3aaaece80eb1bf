#include "replay/pack.h"

#include <fmt/core.h>

#include <cstring>

namespace replay {

namespace {

const char* member_name(uint32_t kind) {
    switch (static_cast<PackMember>(kind)) {
    case PackMember::kTrace: return "trace";
    case PackMember::kInitramfs: return "initramfs";
    case PackMember::kKernel: return "kernel ELF";
    }
    return nullptr;
}

void put_member(std::vector<uint8_t>* out, PackMember kind, const std::vector<uint8_t>& bytes) {
    uint8_t h[kPackMemberHeaderSize];
    trace::put_le(h, static_cast<uint32_t>(kind), 4);
    trace::put_le(h + 4, bytes.size(), 8);
    trace::put_le(h + 12, trace::fnv1a(trace::kFnvOffset, bytes.data(), bytes.size()), 8);
    out->insert(out->end(), h, h + sizeof h);
    out->insert(out->end(), bytes.begin(), bytes.end());
}

}  // namespace

bool is_pack(const std::vector<uint8_t>& bytes) {
    return bytes.size() >= sizeof kPackMagic && std::memcmp(bytes.data(), kPackMagic, sizeof kPackMagic) == 0;
}

bool unpack(const std::vector<uint8_t>& bytes, Pack* out, std::string* error) {
    *out = Pack{};
    if (!is_pack(bytes)) {
        *error = "not an Anvil trace pack (bad magic)";
        return false;
    }
    if (bytes.size() < kPackHeaderSize) {
        *error = fmt::format("truncated pack: only {} bytes of the {}-byte header", bytes.size(), kPackHeaderSize);
        return false;
    }
    const uint64_t version = trace::get_le(bytes.data() + 8, 2);
    const uint64_t count = trace::get_le(bytes.data() + 10, 2);
    if (version != kPackVersion) {
        *error = fmt::format("pack format version {} is not supported (this build reads version {})", version,
                             kPackVersion);
        return false;
    }
    if (count < 2 || count > 3) {
        *error = fmt::format("corrupt pack: {} members (a pack has 2 or 3)", count);
        return false;
    }
    std::vector<uint8_t>* slots[] = {nullptr, &out->trace, &out->initramfs, &out->kernel};
    bool seen[4] = {};
    uint64_t pos = kPackHeaderSize;
    for (uint64_t i = 0; i < count; ++i) {
        if (bytes.size() - pos < kPackMemberHeaderSize) {
            *error = fmt::format("truncated pack: member {} of {} at byte {} is cut off", i + 1, count, pos);
            return false;
        }
        const uint8_t* h = bytes.data() + pos;
        const uint64_t kind = trace::get_le(h, 4);
        const uint64_t size = trace::get_le(h + 4, 8);
        const uint64_t check = trace::get_le(h + 12, 8);
        const char* name = member_name(static_cast<uint32_t>(kind));
        if (!name || kind >= 4) {
            *error = fmt::format("corrupt pack: unknown member kind {} at byte {}", kind, pos);
            return false;
        }
        if (seen[kind]) {
            *error = fmt::format("corrupt pack: a second {} at byte {}", name, pos);
            return false;
        }
        seen[kind] = true;
        const uint64_t data = pos + kPackMemberHeaderSize;
        if (size == 0 || size > bytes.size() - data) {
            *error = fmt::format("{} pack: the {} at byte {} announces {} bytes, {} are left",
                                 size == 0 ? "corrupt" : "truncated", name, pos, size, bytes.size() - data);
            return false;
        }
        if (trace::fnv1a(trace::kFnvOffset, bytes.data() + data, size) != check) {
            *error = fmt::format("corrupt pack: the {} at byte {} ({} bytes) does not match its checksum", name, pos,
                                 size);
            return false;
        }
        slots[kind]->assign(bytes.begin() + static_cast<long>(data), bytes.begin() + static_cast<long>(data + size));
        pos = data + size;
    }
    if (pos != bytes.size()) {
        *error = fmt::format("corrupt pack: {} bytes after its last member", bytes.size() - pos);
        return false;
    }
    for (const PackMember needed : {PackMember::kTrace, PackMember::kInitramfs}) {
        if (!seen[static_cast<uint32_t>(needed)]) {
            *error = fmt::format("corrupt pack: it has no {}", member_name(static_cast<uint32_t>(needed)));
            return false;
        }
    }
    return true;
}

bool attach(Pack&& pack, Trace* t, std::string* error) {
    const trace::Header& h = t->header;
    const uint64_t hash = trace::fnv1a(trace::kFnvOffset, pack.initramfs.data(), pack.initramfs.size());
    if (hash != h.initramfs_hash || pack.initramfs.size() != h.initramfs_size) {
        *error = fmt::format("the pack's initramfs (hash {:016x}, {} bytes) is not the one its trace names (hash "
                             "{:016x}, {} bytes)",
                             hash, pack.initramfs.size(), h.initramfs_hash, h.initramfs_size);
        return false;
    }
    const bool qemu = h.backend == static_cast<uint32_t>(trace::Backend::kQemu);
    if (qemu && pack.kernel.empty()) {
        *error = "the pack holds a QEMU trace but not the kernel ELF that recorded it";
        return false;
    }
    if (!qemu && !pack.kernel.empty()) {
        *error = "the pack holds a simulator trace and a kernel ELF (only QEMU traces are packed with one)";
        return false;
    }
    t->packed_initramfs = std::move(pack.initramfs);
    t->packed_kernel = std::move(pack.kernel);
    return true;
}

std::vector<uint8_t> write_pack(const Pack& pack) {
    std::vector<uint8_t> out(kPackHeaderSize);
    std::memcpy(out.data(), kPackMagic, sizeof kPackMagic);
    trace::put_le(out.data() + 8, kPackVersion, 2);
    trace::put_le(out.data() + 10, pack.kernel.empty() ? 2 : 3, 2);
    put_member(&out, PackMember::kTrace, pack.trace);
    put_member(&out, PackMember::kInitramfs, pack.initramfs);
    if (!pack.kernel.empty())
        put_member(&out, PackMember::kKernel, pack.kernel);
    return out;
}

}  // namespace replay
