// Host tests of the memory calls (vspace_create, vmo_create/read/write,
// vma_map/unmap/alloc) through the syscall layer.
#include "kernel/introspect.h"
#include "kernel_env.h"

using namespace anvil_test;
using kernel::objects_created;

namespace {

constexpr uint64_t kMapVa = 0x40000000;  // free in every TestProcess
constexpr uint64_t kAllocBase = 0x100000000000ull;
constexpr uint64_t kRW = ANVIL_PERM_R | ANVIL_PERM_W, kRX = ANVIL_PERM_R | ANVIL_PERM_X;

SysResult vmo_read(TestProcess& p, uint64_t vmo, uint64_t offset, uint64_t buf, uint64_t len) {
    return p.sys(ANVIL_SYS_vmo_read, vmo, offset, buf, len);
}
SysResult vmo_write(TestProcess& p, uint64_t vmo, uint64_t offset, uint64_t buf, uint64_t len) {
    return p.sys(ANVIL_SYS_vmo_write, vmo, offset, buf, len);
}
SysResult map(TestProcess& p, uint64_t vspace, uint64_t va, uint64_t vmo, uint64_t offset, uint64_t len,
              uint64_t perms) {
    return p.sys(ANVIL_SYS_vma_map, vspace, va, vmo, offset, len, perms);
}
SysResult unmap(TestProcess& p, uint64_t vspace, uint64_t va, uint64_t len) {
    return p.sys(ANVIL_SYS_vma_unmap, vspace, va, len);
}
SysResult alloc(TestProcess& p, uint64_t vspace, uint64_t len, uint64_t perms) {
    return p.sys(ANVIL_SYS_vma_alloc, vspace, len, perms);
}

// A VMO's bytes, read in the kernel.
Bytes contents(TestProcess& p, uint32_t slot) {
    auto* vmo = p.object<kernel::Vmo>(slot);
    Bytes b(vmo->size());
    REQUIRE(vmo->read(0, b.data(), b.size()) == ANVIL_OK);
    return b;
}

size_t mapping_count(kernel::VSpace* vs) { return vs->mappings().size(); }

}  // namespace

// ---- vspace_create ---------------------------------------------------------------------

TEST_CASE("vspace_create: a new empty VSpace in the lowest free slot, without EXEC") {
    TestProcess p;
    const SysResult r = p.sys(ANVIL_SYS_vspace_create);
    REQUIRE(r.status == kOk);
    CHECK(r.out0 == 4);
    const uint32_t slot = static_cast<uint32_t>(r.out0);
    CHECK(p.cap(slot)->object->type() == ANVIL_OBJ_VSPACE);
    CHECK(p.cap(slot)->rights == (kAll & ~kX));
    CHECK(mapping_count(p.object<kernel::VSpace>(slot)) == 0);
    CHECK(p.new_vspace() == 5);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, 4).status == kOk);
    CHECK(p.new_vspace() == 4);
}

// ---- vmo_create ----------------------------------------------------------------------

TEST_CASE("vmo_create: size 0 is INVALID_ARG") {
    TestProcess p;
    const uint64_t objects = objects_created();
    CHECK(p.sys(ANVIL_SYS_vmo_create, 0).status == kInvalidArg);
    CHECK(objects_created() == objects);
    CHECK(p.cap(4)->empty());
}

TEST_CASE("vmo_create: sizes beyond memory are NO_MEMORY and create nothing") {
    TestProcess p;
    const uint64_t objects = objects_created();
    const size_t frames = kernel::frames().free_count();
    const uint64_t too_many_frames = (frames + 1) * kPage;
    for (uint64_t size : U64s{too_many_frames, 1ull << 36, (1ull << 36) + 1, 1ull << 40, UINT64_MAX - kPage + 2,
                              UINT64_MAX}) {
        CAPTURE(size);
        CHECK(p.sys(ANVIL_SYS_vmo_create, size).status == kNoMemory);
    }
    CHECK(objects_created() == objects);
    CHECK(kernel::frames().free_count() == frames);
    CHECK(p.cap(4)->empty());
}

TEST_CASE("vmo_create: the size rounds up to whole pages") {
    TestProcess p;
    const uint32_t one = p.new_vmo(1);
    CHECK(p.object<kernel::Vmo>(one)->size() == kPage);
    CHECK(vmo_read(p, one, kPage - 1, kUserBuf, 1).status == kOk);
    CHECK(vmo_write(p, one, kPage - 1, kUserBuf, 1).status == kOk);
    CHECK(vmo_read(p, one, kPage, kUserBuf, 1).status == kOutOfRange);
    CHECK(vmo_write(p, one, kPage, kUserBuf, 1).status == kOutOfRange);
    CHECK(vmo_read(p, one, 0, kUserBuf, kPage + 1).status == kOutOfRange);

    const uint32_t two = p.new_vmo(kPage + 1);
    CHECK(p.object<kernel::Vmo>(two)->size() == 2 * kPage);
    CHECK(vmo_read(p, two, 2 * kPage - 1, kUserBuf, 1).status == kOk);
    CHECK(vmo_read(p, two, 2 * kPage, kUserBuf, 1).status == kOutOfRange);
    CHECK(p.object<kernel::Vmo>(p.new_vmo(kPage))->size() == kPage);
}

TEST_CASE("vmo: new memory is zero-filled, also when its frames were used before") {
    TestProcess p;
    constexpr uint64_t kSize = 8 * kPage;
    const uint32_t dirty = p.new_vmo(kSize);
    p.write_user(kUserBuf, Bytes(kSize, 0x5a));
    REQUIRE(vmo_write(p, dirty, 0, kUserBuf, kSize).status == kOk);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, dirty).status == kOk);

    const uint32_t fresh = p.new_vmo(kSize);
    CHECK(contents(p, fresh) == Bytes(kSize, 0));
    REQUIRE(vmo_read(p, fresh, 0, kUserBuf, kSize).status == kOk);
    CHECK(p.read_user(kUserBuf, kSize) == Bytes(kSize, 0));
}

// ---- vmo_read / vmo_write ---------------------------------------------------------------

TEST_CASE("vmo_read/vmo_write: data round-trips across page boundaries") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(4 * kPage);
    const Bytes data = pattern(5000, 7);
    p.write_user(kUserBuf, data);
    REQUIRE(vmo_write(p, vmo, 4000, kUserBuf, data.size()).status == kOk);
    const Bytes all = contents(p, vmo);
    CHECK(Bytes(all.begin() + 4000, all.begin() + 9000) == data);
    CHECK(Bytes(all.begin(), all.begin() + 4000) == Bytes(4000, 0));

    REQUIRE(vmo_read(p, vmo, 4000, kUserBuf + 20000, data.size()).status == kOk);
    CHECK(p.read_user(kUserBuf + 20000, data.size()) == data);
    CHECK(vmo_read(p, vmo, 0, kUserBuf, 0).status == kOk);
    CHECK(vmo_write(p, vmo, 4 * kPage, kUserBuf, 0).status == kOk);
}

TEST_CASE("vmo_read/vmo_write: ranges past the end are OUT_OF_RANGE") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(2 * kPage);
    constexpr uint64_t kSize = 2 * kPage;
    p.write_user(kUserBuf, Bytes(8, 0x11));
    struct Range {
        uint64_t offset, len;
    };
    for (const Range r : {Range{kSize, 1}, Range{kSize - 1, 2}, Range{0, kSize + 1}, Range{kSize + 1, 0},
                          Range{UINT64_MAX - 1, 2}, Range{UINT64_MAX, 1}, Range{1, UINT64_MAX},
                          Range{kPage, UINT64_MAX - kPage + 1}}) {
        CAPTURE(r.offset, r.len);
        CHECK(vmo_read(p, vmo, r.offset, kUserBuf, r.len).status == kOutOfRange);
        CHECK(vmo_write(p, vmo, r.offset, kUserBuf, r.len).status == kOutOfRange);
    }
    CHECK(contents(p, vmo) == Bytes(kSize, 0));
    CHECK(p.read_user(kUserBuf, 8) == Bytes(8, 0x11));
}

TEST_CASE("vmo_read/vmo_write: need READ / WRITE on the VMO cap") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    const uint32_t read_only = p.copy(vmo, kAll & ~kW);
    const uint32_t write_only = p.copy(vmo, kAll & ~kR);
    p.write_user(kUserBuf, Bytes(16, 0x22));
    CHECK(vmo_write(p, read_only, 0, kUserBuf, 16).status == kAccessDenied);
    CHECK(vmo_read(p, write_only, 0, kUserBuf + 100, 16).status == kAccessDenied);
    CHECK(contents(p, vmo) == Bytes(kPage, 0));
    CHECK(p.read_user(kUserBuf + 100, 16) == Bytes(16, 0));

    CHECK(vmo_write(p, write_only, 0, kUserBuf, 16).status == kOk);
    CHECK(vmo_read(p, read_only, 0, kUserBuf + 100, 16).status == kOk);
    CHECK(p.read_user(kUserBuf + 100, 16) == Bytes(16, 0x22));

    CHECK(vmo_read(p, kSelfCNode, 0, kUserBuf, 16).status == kWrongType);
    CHECK(vmo_write(p, kSelfVSpace, 0, kUserBuf, 16).status == kWrongType);
    CHECK(vmo_read(p, 100, 0, kUserBuf, 16).status == kInvalidCap);
    CHECK(vmo_write(p, 0, 0, kUserBuf, 16).status == kInvalidCap);
}

TEST_CASE("vmo_write: a bad user buffer is FAULT and nothing reaches the VMO") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(4 * kPage);
    p.write_user(kUserBuf, Bytes(kUserBufSize, 0x33));
    const uint64_t straddle = kUserBuf + kUserBufSize - 100;  // 100 readable bytes, then nothing
    for (uint64_t buf : U64s{0, kUnmapped, kKernelHalf, straddle, kUserRoPage + kPage - 1, ANVIL_USER_LIMIT - 1,
                             UINT64_MAX - 9}) {
        CAPTURE(buf);
        CHECK(vmo_write(p, vmo, 0, buf, 1000).status == kFault);
    }
    CHECK(contents(p, vmo) == Bytes(4 * kPage, 0));
    // A read-only user buffer is fine as a source.
    CHECK(vmo_write(p, vmo, 0, kUserRoPage, 10).status == kOk);
    const Bytes after = contents(p, vmo);
    CHECK(Bytes(after.begin(), after.begin() + 10) == Bytes(10, kRoFill));
}

TEST_CASE("vmo_read: a bad or read-only user buffer is FAULT and nothing is written") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(4 * kPage);
    p.write_user(kUserBuf, pattern(4 * kPage, 3));
    REQUIRE(vmo_write(p, vmo, 0, kUserBuf, 4 * kPage).status == kOk);
    p.write_user(kUserBuf, Bytes(kUserBufSize, 0x44));
    const uint64_t straddle = kUserBuf + kUserBufSize - 100;
    for (uint64_t buf : U64s{0, kUnmapped, kKernelHalf, straddle, kUserRoPage, ANVIL_USER_LIMIT - 1, UINT64_MAX - 9}) {
        CAPTURE(buf);
        CHECK(vmo_read(p, vmo, 0, buf, 1000).status == kFault);
    }
    CHECK(p.read_user(kUserBuf, kUserBufSize) == Bytes(kUserBufSize, 0x44));
    Bytes ro(kPage);
    REQUIRE(p.ro_vmo()->read(0, ro.data(), ro.size()) == ANVIL_OK);
    CHECK(ro == Bytes(kPage, kRoFill));
}

// ---- vma_map ---------------------------------------------------------------------------

TEST_CASE("vma_map: misaligned va, offset or length is ALIGNMENT") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(4 * kPage);
    CHECK(map(p, kSelfVSpace, kMapVa + 1, vmo, 0, kPage, kRW).status == kAlignment);
    CHECK(map(p, kSelfVSpace, kMapVa + kPage / 2, vmo, 0, kPage, kRW).status == kAlignment);
    CHECK(map(p, kSelfVSpace, kMapVa, vmo, 1, kPage, kRW).status == kAlignment);
    CHECK(map(p, kSelfVSpace, kMapVa, vmo, 0, kPage - 1, kRW).status == kAlignment);
    CHECK(map(p, kSelfVSpace, kMapVa, vmo, 0, kPage + 1, kRW).status == kAlignment);
    CHECK(map(p, kSelfVSpace, kMapVa, vmo, 0, 1, kRW).status == kAlignment);
    CHECK(p.vspace()->find(kMapVa) == nullptr);
}

TEST_CASE("vma_map: ranges outside the user half are OUT_OF_RANGE") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(4 * kPage);
    const size_t mappings = mapping_count(p.vspace());
    struct Range {
        uint64_t va, len;
    };
    for (const Range r : {Range{kMapVa, 0}, Range{0, kPage}, Range{ANVIL_USER_LIMIT, kPage},
                          Range{ANVIL_USER_LIMIT - kPage, 2 * kPage}, Range{kKernelHalf, kPage},
                          Range{0x0000800000000000ull, kPage}, Range{UINT64_MAX - kPage + 1, kPage},
                          Range{ANVIL_USER_LIMIT - kPage, UINT64_MAX - kPage + 1},
                          Range{kMapVa, 0ull - kPage}}) {
        CAPTURE(r.va, r.len);
        CHECK(map(p, kSelfVSpace, r.va, vmo, 0, r.len, kRW).status == kOutOfRange);
    }
    CHECK(mapping_count(p.vspace()) == mappings);
    // The top user page is fine.
    CHECK(map(p, kSelfVSpace, ANVIL_USER_LIMIT - kPage, vmo, 0, kPage, kRW).status == kOk);
}

TEST_CASE("vma_map: a VMO range past the VMO's end is OUT_OF_RANGE") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(4 * kPage);
    CHECK(map(p, kSelfVSpace, kMapVa, vmo, 0, 5 * kPage, kRW).status == kOutOfRange);
    CHECK(map(p, kSelfVSpace, kMapVa, vmo, 4 * kPage, kPage, kRW).status == kOutOfRange);
    CHECK(map(p, kSelfVSpace, kMapVa, vmo, 3 * kPage, 2 * kPage, kRW).status == kOutOfRange);
    CHECK(map(p, kSelfVSpace, kMapVa, vmo, 0ull - kPage, 2 * kPage, kRW).status == kOutOfRange);
    CHECK(p.vspace()->find(kMapVa) == nullptr);
    CHECK(map(p, kSelfVSpace, kMapVa, vmo, 3 * kPage, kPage, kRW).status == kOk);
}

TEST_CASE("vma_map: overlapping an existing mapping is ADDR_IN_USE") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(4 * kPage);
    REQUIRE(map(p, kSelfVSpace, kMapVa, vmo, 0, 2 * kPage, kRW).status == kOk);
    const uint32_t refs = p.cap(vmo)->object->refs();
    struct Range {
        uint64_t va, len;
    };
    for (const Range r : {Range{kMapVa, 2 * kPage}, Range{kMapVa, kPage}, Range{kMapVa + kPage, kPage},
                          Range{kMapVa - kPage, 2 * kPage}, Range{kMapVa + kPage, 2 * kPage},
                          Range{kMapVa - kPage, 4 * kPage}, Range{kUserBuf + kUserBufSize - kPage, 2 * kPage},
                          Range{kUserRoPage, kPage}}) {
        CAPTURE(r.va, r.len);
        CHECK(map(p, kSelfVSpace, r.va, vmo, 0, r.len, ANVIL_PERM_R).status == kAddrInUse);
    }
    CHECK(p.cap(vmo)->object->refs() == refs);
    // Right next to it on both sides is free.
    CHECK(map(p, kSelfVSpace, kMapVa - kPage, vmo, 0, kPage, ANVIL_PERM_R).status == kOk);
    CHECK(map(p, kSelfVSpace, kMapVa + 2 * kPage, vmo, 0, kPage, ANVIL_PERM_R).status == kOk);
}

TEST_CASE("vma_map: W|X, no permission or unknown permission bits are INVALID_ARG") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    // W-only and X-only are refused too: every mapping is readable (x86-64 cannot
    // express anything else, and both backends must agree).
    for (uint64_t perms : U64s{ANVIL_PERM_W | ANVIL_PERM_X, kAll & 7, 0, 8, 0x10, ANVIL_PERM_R | 8, ANVIL_PERM_W,
                               ANVIL_PERM_X,
                               ANVIL_PERM_R | (1ull << 32), UINT64_MAX}) {
        CAPTURE(perms);
        CHECK(map(p, kSelfVSpace, kMapVa, vmo, 0, kPage, perms).status == kInvalidArg);
    }
    CHECK(p.vspace()->find(kMapVa) == nullptr);
}

TEST_CASE("vma_map: permissions must be allowed by the VMO cap's rights") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    const uint32_t read_only = p.copy(vmo, kR);
    const uint32_t no_exec = p.copy(vmo, kAll & ~kX);
    const uint32_t write_only = p.copy(vmo, kW);
    CHECK(map(p, kSelfVSpace, kMapVa, read_only, 0, kPage, kRW).status == kAccessDenied);
    CHECK(map(p, kSelfVSpace, kMapVa, no_exec, 0, kPage, kRX).status == kAccessDenied);
    CHECK(map(p, kSelfVSpace, kMapVa, write_only, 0, kPage, kRW).status == kAccessDenied);
    CHECK(p.vspace()->find(kMapVa) == nullptr);

    CHECK(map(p, kSelfVSpace, kMapVa, read_only, 0, kPage, ANVIL_PERM_R).status == kOk);
    CHECK(map(p, kSelfVSpace, kMapVa + kPage, vmo, 0, kPage, kRX).status == kOk);
    CHECK(p.vspace()->find(kMapVa + kPage)->perms == kRX);
}

TEST_CASE("vma_map: needs MANAGE on the VSpace cap and caps of the right types") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    const uint32_t unmanaged = p.copy(kSelfVSpace, kAll & ~kM);
    CHECK(map(p, unmanaged, kMapVa, vmo, 0, kPage, kRW).status == kAccessDenied);
    CHECK(map(p, vmo, kMapVa, vmo, 0, kPage, kRW).status == kWrongType);
    CHECK(map(p, kSelfVSpace, kMapVa, kSelfVSpace, 0, kPage, kRW).status == kWrongType);
    CHECK(map(p, kSelfCNode, kMapVa, vmo, 0, kPage, kRW).status == kWrongType);
    CHECK(map(p, 0, kMapVa, vmo, 0, kPage, kRW).status == kInvalidCap);
    CHECK(map(p, kSelfVSpace, kMapVa, 100, 0, kPage, kRW).status == kInvalidCap);
    CHECK(p.vspace()->find(kMapVa) == nullptr);
    CHECK(p.cap(vmo)->object->refs() == 1);
}

TEST_CASE("vma_map: a VMO mapped in two VSpaces shows the same memory in both") {
    TestProcess p;
    const uint32_t other_slot = p.new_vspace();
    auto* other = p.object<kernel::VSpace>(other_slot);
    const uint32_t vmo = p.new_vmo(4 * kPage);
    constexpr uint64_t kOtherVa = 0x50000000;
    REQUIRE(map(p, kSelfVSpace, kMapVa, vmo, 0, 4 * kPage, kRW).status == kOk);
    REQUIRE(map(p, other_slot, kOtherVa, vmo, kPage, 2 * kPage, ANVIL_PERM_R).status == kOk);

    const Bytes data = pattern(2 * kPage, 9);
    p.write_user(kMapVa + kPage, data);
    Bytes seen(data.size());
    REQUIRE(other->copy_in(seen.data(), kOtherVa, seen.size()) == ANVIL_OK);
    CHECK(seen == data);
    // The other side is read-only.
    CHECK(other->copy_out(kOtherVa, data.data(), 1) == ANVIL_ERR_FAULT);
    // And the VMO itself has the bytes.
    REQUIRE(vmo_read(p, vmo, kPage, kUserBuf, data.size()).status == kOk);
    CHECK(p.read_user(kUserBuf, data.size()) == data);
    // A write through the VMO shows in both mappings.
    p.write_user(kUserBuf, Bytes(16, 0x77));
    REQUIRE(vmo_write(p, vmo, kPage, kUserBuf, 16).status == kOk);
    REQUIRE(other->copy_in(seen.data(), kOtherVa, 16) == ANVIL_OK);
    CHECK(Bytes(seen.begin(), seen.begin() + 16) == Bytes(16, 0x77));
    CHECK(p.read_user(kMapVa + kPage, 16) == Bytes(16, 0x77));
}

TEST_CASE("vma_map: a read-only mapping cannot be written through user pointers") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    REQUIRE(map(p, kSelfVSpace, kMapVa, vmo, 0, kPage, ANVIL_PERM_R).status == kOk);
    const Bytes data = pattern(16);
    CHECK(p.vspace()->copy_out(kMapVa, data.data(), data.size()) == ANVIL_ERR_FAULT);
    // cap_info and vmo_read write user memory: a read-only target is FAULT.
    CHECK(p.sys(ANVIL_SYS_cap_info, kSelfCNode, vmo, kMapVa).status == kFault);
    CHECK(vmo_read(p, vmo, 0, kMapVa, 16).status == kFault);
    CHECK(contents(p, vmo) == Bytes(kPage, 0));
}

// ---- vma_unmap -------------------------------------------------------------------------

TEST_CASE("vma_unmap: cutting a mapping in part is INVALID_ARG and removes nothing") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(4 * kPage);
    REQUIRE(map(p, kSelfVSpace, kMapVa, vmo, 0, 4 * kPage, kRW).status == kOk);
    const uint64_t other_va = kMapVa + 8 * kPage;
    REQUIRE(map(p, kSelfVSpace, other_va, vmo, 0, kPage, kRW).status == kOk);
    const size_t mappings = mapping_count(p.vspace());
    const uint32_t refs = p.cap(vmo)->object->refs();
    struct Range {
        uint64_t va, len;
    };
    for (const Range r : {Range{kMapVa, kPage}, Range{kMapVa + kPage, 3 * kPage}, Range{kMapVa + kPage, kPage},
                          Range{kMapVa - kPage, 2 * kPage}, Range{kMapVa + 3 * kPage, 2 * kPage},
                          Range{kMapVa + kPage, 8 * kPage}}) {  // the last one holds other_va whole
        CAPTURE(r.va, r.len);
        CHECK(unmap(p, kSelfVSpace, r.va, r.len).status == kInvalidArg);
    }
    CHECK(mapping_count(p.vspace()) == mappings);
    CHECK(p.cap(vmo)->object->refs() == refs);
    CHECK(p.vspace()->find(kMapVa)->len == 4 * kPage);
    CHECK(p.vspace()->find(other_va) != nullptr);
}

TEST_CASE("vma_unmap: a range holding whole mappings removes all of them") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(4 * kPage);
    REQUIRE(map(p, kSelfVSpace, kMapVa, vmo, 0, 2 * kPage, kRW).status == kOk);
    REQUIRE(map(p, kSelfVSpace, kMapVa + 3 * kPage, vmo, 0, kPage, ANVIL_PERM_R).status == kOk);
    REQUIRE(map(p, kSelfVSpace, kMapVa + 10 * kPage, vmo, 0, kPage, ANVIL_PERM_R).status == kOk);
    const uint32_t refs = p.cap(vmo)->object->refs();

    CHECK(unmap(p, kSelfVSpace, kMapVa - kPage, 6 * kPage).status == kOk);
    CHECK(p.vspace()->find(kMapVa) == nullptr);
    CHECK(p.vspace()->find(kMapVa + 3 * kPage) == nullptr);
    CHECK(p.vspace()->find(kMapVa + 10 * kPage) != nullptr);
    CHECK(p.cap(vmo)->object->refs() == refs - 2);
    // The memory is gone from the user's view.
    Bytes b(1);
    CHECK(p.vspace()->copy_in(b.data(), kMapVa, 1) == ANVIL_ERR_FAULT);
    CHECK(vmo_read(p, vmo, 0, kMapVa, 1).status == kFault);

    // Exactly one whole mapping.
    CHECK(unmap(p, kSelfVSpace, kMapVa + 10 * kPage, kPage).status == kOk);
    CHECK(p.vspace()->find(kMapVa + 10 * kPage) == nullptr);
    CHECK(p.cap(vmo)->object->refs() == refs - 3);
    // The same range can be mapped again.
    CHECK(map(p, kSelfVSpace, kMapVa, vmo, 0, 4 * kPage, kRW).status == kOk);
}

TEST_CASE("vma_unmap: alignment, range and rights errors") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    REQUIRE(map(p, kSelfVSpace, kMapVa, vmo, 0, kPage, kRW).status == kOk);
    CHECK(unmap(p, kSelfVSpace, kMapVa + 1, kPage).status == kAlignment);
    CHECK(unmap(p, kSelfVSpace, kMapVa, kPage - 1).status == kAlignment);
    CHECK(unmap(p, kSelfVSpace, kMapVa, kPage + 1).status == kAlignment);
    CHECK(unmap(p, kSelfVSpace, kMapVa, 0).status == kOutOfRange);
    CHECK(unmap(p, kSelfVSpace, 0, kPage).status == kOutOfRange);
    CHECK(unmap(p, kSelfVSpace, ANVIL_USER_LIMIT, kPage).status == kOutOfRange);
    CHECK(unmap(p, kSelfVSpace, kKernelHalf, kPage).status == kOutOfRange);
    CHECK(unmap(p, kSelfVSpace, kMapVa, 0ull - kPage).status == kOutOfRange);
    CHECK(unmap(p, p.copy(kSelfVSpace, kAll & ~kM), kMapVa, kPage).status == kAccessDenied);
    CHECK(unmap(p, vmo, kMapVa, kPage).status == kWrongType);
    CHECK(p.vspace()->find(kMapVa) != nullptr);
}

// ---- vma_alloc -------------------------------------------------------------------------

TEST_CASE("vma_alloc: zeroed memory at a free page-aligned address above the alloc base") {
    TestProcess p;
    const SysResult a = alloc(p, kSelfVSpace, 5000, kRW);
    REQUIRE(a.status == kOk);
    CHECK(a.out0 % kPage == 0);
    CHECK(a.out0 >= kAllocBase);
    CHECK(a.out0 + 2 * kPage <= ANVIL_USER_LIMIT);
    const kernel::Mapping* m = p.vspace()->find(a.out0);
    REQUIRE(m != nullptr);
    CHECK(m->va == a.out0);
    CHECK(m->len == 2 * kPage);
    CHECK(m->perms == kRW);
    CHECK(p.read_user(a.out0, 2 * kPage) == Bytes(2 * kPage, 0));
    p.write_user(a.out0, pattern(2 * kPage));

    const SysResult b = alloc(p, kSelfVSpace, kPage, ANVIL_PERM_R);
    REQUIRE(b.status == kOk);
    CHECK((b.out0 >= a.out0 + 2 * kPage || b.out0 + kPage <= a.out0));
    CHECK(p.read_user(b.out0, kPage) == Bytes(kPage, 0));
    const Bytes one(1, 1);
    CHECK(p.vspace()->copy_out(b.out0, one.data(), 1) == ANVIL_ERR_FAULT);
    CHECK(p.read_user(a.out0, 2 * kPage) == pattern(2 * kPage));

    const SysResult x = alloc(p, kSelfVSpace, 1, kRX);
    REQUIRE(x.status == kOk);
    CHECK(p.vspace()->find(x.out0)->perms == kRX);
}

TEST_CASE("vma_alloc: bad lengths and permissions") {
    TestProcess p;
    const size_t mappings = mapping_count(p.vspace());
    const uint64_t objects = objects_created();
    CHECK(alloc(p, kSelfVSpace, 0, kRW).status == kInvalidArg);
    for (uint64_t perms : U64s{ANVIL_PERM_W | ANVIL_PERM_X, 7, 0, 8, ANVIL_PERM_R | (1ull << 32)}) {
        CAPTURE(perms);
        CHECK(alloc(p, kSelfVSpace, kPage, perms).status == kInvalidArg);
    }
    CHECK(alloc(p, kSelfVSpace, 1ull << 40, kRW).status == kNoMemory);
    CHECK(alloc(p, kSelfVSpace, UINT64_MAX, kRW).status == kNoMemory);
    CHECK(alloc(p, p.copy(kSelfVSpace, kAll & ~kM), kPage, kRW).status == kAccessDenied);
    CHECK(alloc(p, kSelfCNode, kPage, kRW).status == kWrongType);
    CHECK(mapping_count(p.vspace()) == mappings);
    CHECK(objects_created() == objects);
}

TEST_CASE("vma_alloc: unmapping the memory frees its frames") {
    TestProcess p;
    constexpr uint64_t kLen = 8 * kPage;
    auto round = [&](bool check) {
        const size_t before = kernel::frames().free_count();
        const SysResult a = alloc(p, kSelfVSpace, kLen, kRW);
        REQUIRE(a.status == kOk);
        if (check)
            CHECK(kernel::frames().free_count() == before - kLen / kPage);
        REQUIRE(unmap(p, kSelfVSpace, a.out0, kLen).status == kOk);
        if (check)
            CHECK(kernel::frames().free_count() == before);
    };
    round(false);
    round(true);
}

TEST_CASE("vspace: deleting the last cap of a VSpace removes its mappings") {
    TestProcess p;
    const uint32_t vs = p.new_vspace();
    const uint32_t vmo = p.new_vmo(2 * kPage);
    REQUIRE(map(p, vs, kMapVa, vmo, 0, 2 * kPage, kRW).status == kOk);
    REQUIRE(map(p, vs, kMapVa + 4 * kPage, vmo, 0, kPage, ANVIL_PERM_R).status == kOk);
    CHECK(p.cap(vmo)->object->refs() == 3);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, vs).status == kOk);
    CHECK(p.cap(vmo)->object->refs() == 1);
}
