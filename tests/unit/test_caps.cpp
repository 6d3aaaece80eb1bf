// Host tests of the capability calls (cnode_create, cap_copy, cap_delete,
// cap_revoke, cap_info) through the syscall layer, and of numbers past the syscall table.
#include "kernel/introspect.h"
#include "kernel_env.h"

using namespace anvil_test;
using kernel::Cap;
using kernel::objects_created;

namespace {

constexpr uint32_t kNoExec = kAll & ~kX;

// cap_copy(src_cnode, src_slot, dst_cnode, dst_slot, mask, badge).
SysResult copy(TestProcess& p, uint64_t src_cnode, uint64_t src_slot, uint64_t dst_cnode, uint64_t dst_slot,
               uint64_t mask = kAll, uint64_t badge = 0) {
    return p.sys(ANVIL_SYS_cap_copy, src_cnode, src_slot, dst_cnode, dst_slot, mask, badge);
}

SysResult info_at(TestProcess& p, uint64_t cnode, uint64_t slot, uint64_t out) {
    return p.sys(ANVIL_SYS_cap_info, cnode, slot, out);
}

anvil_cap_info_t info(TestProcess& p, uint32_t slot, uint32_t cnode = kSelfCNode) {
    REQUIRE(info_at(p, cnode, slot, kUserBuf).status == kOk);
    return p.get<anvil_cap_info_t>(kUserBuf);
}

bool slot_empty(TestProcess& p, uint32_t cnode_slot, uint32_t slot) {
    return p.object<kernel::CNode>(cnode_slot)->slot(slot)->empty();
}

// What a rejected call must leave alone.
struct Snapshot {
    uint32_t used;
    uint32_t refs;
    uint64_t children;
    uint64_t objects;
    bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot(TestProcess& p, uint32_t slot) {
    Cap* c = p.cap(slot);
    return {p.cnode()->used(), c->object->refs(), kernel::cap_descendant_count(c), objects_created()};
}

}  // namespace

// ---- cnode_create ------------------------------------------------------------------

TEST_CASE("cnode_create: powers of two from 16 to 4096 are accepted") {
    TestProcess p;
    for (uint32_t slots : {16u, 32u, 256u, 4096u}) {
        const SysResult r = p.sys(ANVIL_SYS_cnode_create, slots);
        REQUIRE(r.status == kOk);
        const auto* cn = p.object<kernel::CNode>(static_cast<uint32_t>(r.out0));
        CHECK(cn->size() == slots);
        CHECK(info(p, static_cast<uint32_t>(r.out0)).type == ANVIL_OBJ_CNODE);
        CHECK(info(p, static_cast<uint32_t>(r.out0)).rights == kNoExec);
    }
}

TEST_CASE("cnode_create: other sizes are INVALID_ARG and create nothing") {
    TestProcess p;
    const uint32_t used = p.cnode()->used();
    const uint64_t objects = objects_created();
    for (uint64_t slots : U64s{0, 1, 8, 15, 17, 24, 48, 4095, 8192, (1ull << 32) + 16, UINT64_MAX}) {
        CAPTURE(slots);
        CHECK(p.sys(ANVIL_SYS_cnode_create, slots).status == kInvalidArg);
    }
    CHECK(p.cnode()->used() == used);
    CHECK(objects_created() == objects);
}

TEST_CASE("caps: a full caller CNode makes object creation NO_MEMORY and creates nothing") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    while (p.cnode()->used() < TestProcess::kSlots - 1)
        p.copy(vmo, kAll);
    const uint64_t objects = objects_created();
    const size_t frames = kernel::frames().free_count();
    CHECK(p.sys(ANVIL_SYS_cnode_create, 16).status == kNoMemory);
    CHECK(p.sys(ANVIL_SYS_vmo_create, kPage).status == kNoMemory);
    CHECK(p.sys(ANVIL_SYS_vspace_create).status == kNoMemory);
    CHECK(p.sys(ANVIL_SYS_tcb_create).status == kNoMemory);
    CHECK(copy(p, kSelfCNode, vmo, kSelfCNode, ANVIL_SLOT_ANY).status == kNoMemory);
    CHECK(objects_created() == objects);
    CHECK(kernel::frames().free_count() == frames);
    CHECK(p.cap(vmo)->object->refs() == TestProcess::kSlots - 1 - 3);
}

// ---- cap_copy ----------------------------------------------------------------------

TEST_CASE("caps: copy can only drop rights") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    CHECK(info(p, vmo).rights == kAll);

    const uint32_t rw = p.copy(vmo, kR | kW);
    CHECK(info(p, rw).rights == (kR | kW));
    const uint32_t again = p.copy(rw, kAll);  // the mask cannot add MANAGE, GRANT or EXEC back
    CHECK(info(p, again).rights == (kR | kW));
    const uint32_t none = p.copy(rw, 0);
    CHECK(info(p, none).rights == 0);
    // A CNode cap never carries EXEC, whatever the mask.
    CHECK(info(p, p.copy(kSelfCNode, kAll)).rights == kNoExec);
    // The copy is a child of its source and names the same object.
    CHECK(p.cap(rw)->parent == p.cap(vmo));
    CHECK(p.cap(again)->parent == p.cap(rw));
    CHECK(info(p, again).object_id == info(p, vmo).object_id);
}

TEST_CASE("cap_copy: a mask with bits beyond ANVIL_RIGHTS_ALL is INVALID_ARG") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    const Snapshot before = snapshot(p, vmo);
    for (uint64_t mask : U64s{0x20, 0x3f, 0xffffffff, 1ull << 32, UINT64_MAX}) {
        CAPTURE(mask);
        CHECK(copy(p, kSelfCNode, vmo, kSelfCNode, ANVIL_SLOT_ANY, mask).status == kInvalidArg);
        CHECK(copy(p, kSelfCNode, vmo, kSelfCNode, 20, mask).status == kInvalidArg);
    }
    CHECK(snapshot(p, vmo) == before);
    CHECK(p.cap(20)->empty());
}

TEST_CASE("cap_copy: leaving the CNode needs GRANT on the source cap") {
    TestProcess p;
    const uint32_t other = p.new_cnode(16);
    const uint32_t vmo = p.new_vmo(kPage);
    const uint32_t no_grant = p.copy(vmo, kAll & ~kG);  // same CNode: no GRANT needed
    CHECK(info(p, no_grant).rights == (kAll & ~kG));

    const Snapshot before = snapshot(p, no_grant);
    CHECK(copy(p, kSelfCNode, no_grant, other, 5).status == kAccessDenied);
    CHECK(copy(p, kSelfCNode, no_grant, other, ANVIL_SLOT_ANY).status == kAccessDenied);
    CHECK(snapshot(p, no_grant) == before);
    CHECK(slot_empty(p, other, 5));

    // The same CNode named through another cap is still the same CNode.
    const uint32_t self_again = p.copy(kSelfCNode, kAll);
    const SysResult same = copy(p, kSelfCNode, no_grant, self_again, ANVIL_SLOT_ANY);
    REQUIRE(same.status == kOk);
    CHECK(info(p, static_cast<uint32_t>(same.out0)).rights == (kAll & ~kG));

    const SysResult granted = copy(p, kSelfCNode, vmo, other, 5, kR);
    REQUIRE(granted.status == kOk);
    CHECK(granted.out0 == 5);
    const anvil_cap_info_t moved = info(p, 5, other);
    CHECK(moved.type == ANVIL_OBJ_VMO);
    CHECK(moved.rights == kR);
    CHECK(moved.object_id == info(p, vmo).object_id);
}

TEST_CASE("cap_copy: needs READ on the source CNode cap and WRITE on the destination's") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    const uint32_t read_only = p.copy(kSelfCNode, kR);
    const uint32_t write_only = p.copy(kSelfCNode, kW);
    const uint32_t no_rw = p.copy(kSelfCNode, kAll & ~(kR | kW));
    const Snapshot before = snapshot(p, vmo);

    CHECK(copy(p, write_only, vmo, kSelfCNode, ANVIL_SLOT_ANY).status == kAccessDenied);
    CHECK(copy(p, no_rw, vmo, kSelfCNode, ANVIL_SLOT_ANY).status == kAccessDenied);
    CHECK(copy(p, kSelfCNode, vmo, read_only, ANVIL_SLOT_ANY).status == kAccessDenied);
    CHECK(copy(p, kSelfCNode, vmo, no_rw, ANVIL_SLOT_ANY).status == kAccessDenied);
    CHECK(snapshot(p, vmo) == before);

    CHECK(copy(p, read_only, vmo, write_only, ANVIL_SLOT_ANY).status == kOk);
}

TEST_CASE("cap_copy: empty, zero and out-of-range source slots are INVALID_CAP") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    const Snapshot before = snapshot(p, vmo);
    for (uint64_t src : U64s{0, 100, TestProcess::kSlots, ANVIL_SLOT_ANY, (1ull << 32) + vmo}) {
        CAPTURE(src);
        CHECK(copy(p, kSelfCNode, src, kSelfCNode, ANVIL_SLOT_ANY).status == kInvalidCap);
    }
    CHECK(snapshot(p, vmo) == before);
}

TEST_CASE("cap_copy: bad CNode arguments are INVALID_CAP or WRONG_TYPE") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    const Snapshot before = snapshot(p, vmo);
    for (uint64_t bad : U64s{0, 100, TestProcess::kSlots, (1ull << 32) + 1}) {
        CAPTURE(bad);
        CHECK(copy(p, bad, vmo, kSelfCNode, ANVIL_SLOT_ANY).status == kInvalidCap);
        CHECK(copy(p, kSelfCNode, vmo, bad, ANVIL_SLOT_ANY).status == kInvalidCap);
    }
    for (uint64_t wrong : U64s{kSelfVSpace, kSelfTcb, vmo}) {
        CAPTURE(wrong);
        CHECK(copy(p, wrong, vmo, kSelfCNode, ANVIL_SLOT_ANY).status == kWrongType);
        CHECK(copy(p, kSelfCNode, vmo, wrong, ANVIL_SLOT_ANY).status == kWrongType);
    }
    CHECK(snapshot(p, vmo) == before);
}

TEST_CASE("cap_copy: an occupied destination is SLOT_OCCUPIED, an out-of-range one INVALID_CAP") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    const uint32_t other = p.new_vmo(kPage);
    const Snapshot before = snapshot(p, vmo);
    const uint64_t other_id = info(p, other).object_id;
    CHECK(copy(p, kSelfCNode, vmo, kSelfCNode, other).status == kSlotOccupied);
    CHECK(copy(p, kSelfCNode, vmo, kSelfCNode, vmo).status == kSlotOccupied);
    CHECK(copy(p, kSelfCNode, vmo, kSelfCNode, kSelfCNode).status == kSlotOccupied);
    for (uint64_t dst : U64s{0, TestProcess::kSlots, ANVIL_SLOT_ANY - 1, (1ull << 32) + 40, ANVIL_SLOT_ANY + 1ull}) {
        CAPTURE(dst);
        CHECK(copy(p, kSelfCNode, vmo, kSelfCNode, dst).status == kInvalidCap);
    }
    CHECK(snapshot(p, vmo) == before);
    CHECK(info(p, other).object_id == other_id);
}

TEST_CASE("cap_copy: SLOT_ANY takes the lowest free slot and returns it") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    CHECK(vmo == 4);
    CHECK(p.copy(vmo, kAll) == 5);
    CHECK(p.copy(vmo, kAll) == 6);
    CHECK(p.copy(vmo, kAll) == 7);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, 5).status == kOk);
    CHECK(p.copy(vmo, kAll) == 5);
    CHECK(p.copy(vmo, kAll) == 8);

    const uint32_t other = p.new_cnode(16);
    const SysResult first = copy(p, kSelfCNode, vmo, other, ANVIL_SLOT_ANY);
    REQUIRE(first.status == kOk);
    CHECK(first.out0 == 1);  // slot 0 is never handed out
    CHECK(copy(p, kSelfCNode, vmo, other, 3).status == kOk);
    CHECK(copy(p, kSelfCNode, vmo, other, ANVIL_SLOT_ANY).out0 == 2);
    CHECK(copy(p, kSelfCNode, vmo, other, ANVIL_SLOT_ANY).out0 == 4);
}

TEST_CASE("cap_copy: a badge on a VMO, CNode or TCB cap is INVALID_ARG") {
    // Minting needs an endpoint or notification cap; endpoint_create is not
    // implemented yet, so badge tests on endpoints belong with IPC.
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    const uint32_t tcb = p.new_tcb();
    for (uint32_t src : {vmo, kSelfCNode, kSelfVSpace, tcb}) {
        CAPTURE(src);
        const Snapshot before = snapshot(p, src);
        CHECK(copy(p, kSelfCNode, src, kSelfCNode, ANVIL_SLOT_ANY, kAll, 1).status == kInvalidArg);
        CHECK(copy(p, kSelfCNode, src, kSelfCNode, 100, kAll, UINT64_MAX).status == kInvalidArg);
        CHECK(snapshot(p, src) == before);
        CHECK(p.cap(100)->empty());
    }
    CHECK(info(p, p.copy(vmo, kAll)).badge == 0);
}

// ---- cap_delete / cap_revoke ---------------------------------------------------------

TEST_CASE("cap_delete: needs WRITE on the CNode cap, and bad slots are INVALID_CAP") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    const uint32_t no_write = p.copy(kSelfCNode, kAll & ~kW);
    const Snapshot before = snapshot(p, vmo);
    CHECK(p.sys(ANVIL_SYS_cap_delete, no_write, vmo).status == kAccessDenied);
    CHECK(p.sys(ANVIL_SYS_cap_delete, vmo, vmo).status == kWrongType);
    CHECK(p.sys(ANVIL_SYS_cap_delete, 0, vmo).status == kInvalidCap);
    for (uint64_t slot : U64s{0, 100, TestProcess::kSlots, (1ull << 32) + vmo})
        CHECK(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, slot).status == kInvalidCap);
    CHECK(snapshot(p, vmo) == before);

    CHECK(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, vmo).status == kOk);
    CHECK(p.cap(vmo)->empty());
    CHECK(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, vmo).status == kInvalidCap);
}

TEST_CASE("cap_revoke: needs MANAGE on the cap") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    const uint32_t unmanaged = p.copy(vmo, kAll & ~kM);
    const uint32_t child = p.copy(unmanaged, kR);
    const Snapshot before = snapshot(p, unmanaged);
    CHECK(p.sys(ANVIL_SYS_cap_revoke, kSelfCNode, unmanaged).status == kAccessDenied);
    CHECK(snapshot(p, unmanaged) == before);
    CHECK(!p.cap(child)->empty());
    CHECK(p.sys(ANVIL_SYS_cap_revoke, kSelfCNode, 100).status == kInvalidCap);
    CHECK(p.sys(ANVIL_SYS_cap_revoke, kSelfCNode, 0).status == kInvalidCap);
    CHECK(p.sys(ANVIL_SYS_cap_revoke, vmo, 1).status == kWrongType);

    CHECK(p.sys(ANVIL_SYS_cap_revoke, kSelfCNode, vmo).status == kOk);
    CHECK(p.cap(unmanaged)->empty());
    CHECK(p.cap(child)->empty());
    CHECK(!p.cap(vmo)->empty());
}

TEST_CASE("cap_revoke: a deep derivation tree across three CNodes goes, the root stays") {
    TestProcess p;
    const uint32_t cnodes[3] = {kSelfCNode, p.new_cnode(256), p.new_cnode(256)};
    const uint32_t root = p.new_vmo(kPage);
    auto* vmo = p.object<kernel::Vmo>(root);
    const uint32_t refs_before = vmo->refs();

    struct Where {
        uint32_t cnode, slot;
    };
    std::vector<Where> made;
    constexpr int kDepth = 50, kFan = 3;
    Where parent{kSelfCNode, root};
    for (int i = 1; i <= kDepth; ++i) {
        // Fan-out leaves of the current node, then the next link of the chain.
        for (int f = 0; f < kFan; ++f) {
            const uint32_t dst = cnodes[(i + f) % 3];
            const SysResult r = copy(p, parent.cnode, parent.slot, dst, ANVIL_SLOT_ANY, kAll);
            REQUIRE(r.status == kOk);
            made.push_back({dst, static_cast<uint32_t>(r.out0)});
        }
        const uint32_t dst = cnodes[i % 3];
        const SysResult r = copy(p, parent.cnode, parent.slot, dst, ANVIL_SLOT_ANY, kAll);
        REQUIRE(r.status == kOk);
        parent = {dst, static_cast<uint32_t>(r.out0)};
        made.push_back(parent);
    }
    Cap* root_cap = p.cap(root);
    CHECK(kernel::cap_descendant_count(root_cap) == made.size());
    CHECK(vmo->refs() == refs_before + made.size());
    // A cap deep in the chain counts its own subtree only.
    Cap* deep = p.object<kernel::CNode>(made[made.size() - 1 - 4 * 10].cnode)
                    ->slot(made[made.size() - 1 - 4 * 10].slot);
    CHECK(kernel::cap_descendant_count(deep) == 4 * 10);

    REQUIRE(p.sys(ANVIL_SYS_cap_revoke, kSelfCNode, root).status == kOk);
    for (const Where& w : made) {
        CAPTURE(w.cnode, w.slot);
        CHECK(slot_empty(p, w.cnode, w.slot));
    }
    CHECK(kernel::cap_descendant_count(root_cap) == 0);
    CHECK(vmo->refs() == refs_before);
    CHECK(info(p, root).rights == kAll);
    // The CNodes themselves are untouched apart from the revoked caps.
    CHECK(p.object<kernel::CNode>(cnodes[1])->used() == 0);
    CHECK(p.object<kernel::CNode>(cnodes[2])->used() == 0);
}

TEST_CASE("cap_delete: a deleted cap's children move to its parent, so revoke still reaches them") {
    TestProcess p;
    const uint32_t other = p.new_cnode(16);
    const uint32_t root = p.new_vmo(kPage);
    const uint32_t a = p.copy(root, kAll);
    const uint32_t b = p.copy(a, kAll);
    const uint32_t c = p.copy(b, kAll);
    REQUIRE(copy(p, kSelfCNode, b, other, 7).status == kOk);  // d: b's child in another CNode
    Cap* d = p.object<kernel::CNode>(other)->slot(7);
    CHECK(kernel::cap_descendant_count(p.cap(root)) == 4);

    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, b).status == kOk);
    CHECK(p.cap(b)->empty());
    CHECK(p.cap(c)->parent == p.cap(a));
    CHECK(d->parent == p.cap(a));
    CHECK(kernel::cap_descendant_count(p.cap(a)) == 2);
    CHECK(kernel::cap_descendant_count(p.cap(root)) == 3);

    REQUIRE(p.sys(ANVIL_SYS_cap_revoke, kSelfCNode, root).status == kOk);
    CHECK(p.cap(a)->empty());
    CHECK(p.cap(c)->empty());
    CHECK(d->empty());
    CHECK(p.cap(root)->object->refs() == 1);

    // Deleting a root makes its children roots.
    const uint32_t x = p.copy(root, kAll);
    const uint32_t y = p.copy(x, kAll);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, root).status == kOk);
    CHECK(p.cap(x)->parent == nullptr);
    CHECK(p.cap(y)->parent == p.cap(x));
}

TEST_CASE("cap_revoke: a cap without children is left as it is") {
    TestProcess p;
    const uint32_t vmo = p.new_vmo(kPage);
    const Snapshot before = snapshot(p, vmo);
    CHECK(p.sys(ANVIL_SYS_cap_revoke, kSelfCNode, vmo).status == kOk);
    CHECK(snapshot(p, vmo) == before);
}

// ---- Object lifetime -----------------------------------------------------------------

namespace {
constexpr uint64_t kLifetimeVa = 0x30000000;
}

TEST_CASE("caps: deleting the last cap of an unmapped VMO frees its frames") {
    TestProcess p;
    constexpr uint64_t kPages = 16;
    // One warm-up round, so kernel heap blocks are already carved and reused.
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, p.new_vmo(kPages * kPage)).status == kOk);

    const size_t before = kernel::frames().free_count();
    const uint32_t vmo = p.new_vmo(kPages * kPage);
    const uint32_t copy_slot = p.copy(vmo, kR);
    CHECK(kernel::frames().free_count() == before - kPages);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, vmo).status == kOk);
    CHECK(kernel::frames().free_count() == before - kPages);  // the copy still holds it
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, copy_slot).status == kOk);
    CHECK(kernel::frames().free_count() == before);
}

TEST_CASE("caps: a mapped VMO outlives its last cap until it is unmapped") {
    TestProcess p;
    constexpr uint64_t kPages = 4;
    auto round = [&](bool check) {
        const size_t before = kernel::frames().free_count();
        const uint32_t vmo = p.new_vmo(kPages * kPage);
        p.write_user(kUserBuf, pattern(kPages * kPage));
        REQUIRE(p.sys(ANVIL_SYS_vmo_write, vmo, 0, kUserBuf, kPages * kPage).status == kOk);
        REQUIRE(p.sys(ANVIL_SYS_vma_map, kSelfVSpace, kLifetimeVa, vmo, 0, kPages * kPage, kR).status == kOk);
        REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, vmo).status == kOk);
        if (check) {
            // Its pages (and perhaps a heap frame for the kernel's own small
            // objects) are still in use.
            CHECK(before - kernel::frames().free_count() >= kPages);
            CHECK(p.read_user(kLifetimeVa, kPages * kPage) == pattern(kPages * kPage));
        }
        REQUIRE(p.sys(ANVIL_SYS_vma_unmap, kSelfVSpace, kLifetimeVa, kPages * kPage).status == kOk);
        if (check) {
            CHECK(kernel::frames().free_count() == before);
            CHECK(p.vspace()->find(kLifetimeVa) == nullptr);
        }
    };
    round(false);
    round(true);
}

TEST_CASE("caps: object ids come from a counter and are never reused") {
    TestProcess p;
    const uint32_t first = p.new_vmo(kPage);
    const uint64_t first_id = info(p, first).object_id;
    CHECK(first_id == objects_created());
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, first).status == kOk);

    uint64_t last = first_id;
    for (int i = 0; i < 4; ++i) {
        const uint32_t slot = i % 2 ? p.new_vmo(kPage) : p.new_cnode(16);
        CHECK(slot == first);  // the slot is reused, the id is not
        const uint64_t id = info(p, slot).object_id;
        CHECK(id == last + 1);
        CHECK(id == objects_created());
        last = id;
        REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, slot).status == kOk);
    }
    // Copies share the id of their object.
    const uint32_t vmo = p.new_vmo(kPage);
    CHECK(info(p, p.copy(vmo, kR)).object_id == info(p, vmo).object_id);
}

TEST_CASE("caps: a chain of CNodes each holding the only cap to the next is destroyed whole") {
    TestProcess p;
    constexpr int kChain = 200;
    // The slots of a 64-slot CNode take whole frames, which come back when it goes.
    constexpr size_t kSlotBytes = 64 * sizeof(Cap);
    static_assert(kSlotBytes > 2048, "must be above the kernel heap's largest size class");
    constexpr size_t kFramesEach = (kSlotBytes + kPage - 1) / kPage;
    auto round = [&](bool check) {
        const size_t start = kernel::frames().free_count();
        std::vector<uint32_t> chain;
        for (int i = 0; i < kChain; ++i)
            chain.push_back(p.new_cnode(64));
        for (int i = 0; i + 1 < kChain; ++i)
            REQUIRE(copy(p, kSelfCNode, chain[i + 1], chain[i], 1).status == kOk);
        for (int i = kChain - 1; i >= 1; --i)
            REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, chain[i]).status == kOk);
        const size_t held = kernel::frames().free_count();
        REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, chain[0]).status == kOk);
        if (check) {
            // The slot arrays, and the heap frames of the CNode objects: every
            // frame the chain took is back.
            CHECK(kernel::frames().free_count() - held >= kChain * kFramesEach);
            CHECK(kernel::frames().free_count() == start);
        }
    };
    round(false);
    round(true);
}

TEST_CASE("cap_revoke: revoking a cap in a CNode that the revoke itself destroys") {
    // B's self cap R lives in B; its only child J (in A) is the last counted
    // reference to B. Revoking R through J deletes J, which destroys B and R with it.
    TestProcess p;
    const uint32_t b = p.new_cnode(16);
    REQUIRE(copy(p, kSelfCNode, b, b, 1).status == kOk);  // R = B's cap to itself
    const SysResult j = copy(p, b, 1, kSelfCNode, ANVIL_SLOT_ANY);
    REQUIRE(j.status == kOk);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, b).status == kOk);
    const uint32_t js = static_cast<uint32_t>(j.out0);
    REQUIRE(p.cap(js)->object->refs() == 1);

    CHECK(p.sys(ANVIL_SYS_cap_revoke, js, 1).status == kOk);
    CHECK(p.cap(js)->empty());
}

// ---- cap_info ------------------------------------------------------------------------

TEST_CASE("cap_info: reports type, rights, badge and object id") {
    TestProcess p;
    const anvil_cap_info_t self = info(p, kSelfCNode);
    CHECK(self.type == ANVIL_OBJ_CNODE);
    CHECK(self.rights == kNoExec);
    CHECK(self.badge == 0);
    CHECK(self.object_id == p.cnode()->id());
    CHECK(info(p, kSelfVSpace).type == ANVIL_OBJ_VSPACE);
    CHECK(info(p, kSelfVSpace).object_id == p.vspace()->id());
    CHECK(info(p, kSelfTcb).type == ANVIL_OBJ_TCB);
    CHECK(info(p, kSelfTcb).object_id == p.thread()->id());

    const uint32_t vmo = p.new_vmo(kPage);
    const anvil_cap_info_t v = info(p, p.copy(vmo, kR | kX | kG));
    CHECK(v.type == ANVIL_OBJ_VMO);
    CHECK(v.rights == (kR | kX | kG));
    CHECK(v.badge == 0);
    CHECK(v.object_id == p.cap(vmo)->object->id());
}

TEST_CASE("cap_info: needs READ on the CNode cap, and bad slots are INVALID_CAP") {
    TestProcess p;
    const uint32_t no_read = p.copy(kSelfCNode, kAll & ~kR);
    p.write_user(kUserBuf, Bytes(sizeof(anvil_cap_info_t), 0xee));
    CHECK(info_at(p, no_read, kSelfVSpace, kUserBuf).status == kAccessDenied);
    CHECK(info_at(p, kSelfVSpace, 1, kUserBuf).status == kWrongType);
    for (uint64_t slot : U64s{0, 100, TestProcess::kSlots, (1ull << 32) + 1})
        CHECK(info_at(p, kSelfCNode, slot, kUserBuf).status == kInvalidCap);
    CHECK(p.read_user(kUserBuf, sizeof(anvil_cap_info_t)) == Bytes(sizeof(anvil_cap_info_t), 0xee));
}

TEST_CASE("cap_info: a bad out pointer is FAULT and nothing is written") {
    TestProcess p;
    constexpr uint64_t kSize = sizeof(anvil_cap_info_t);
    const uint64_t straddle = kUserBuf + kUserBufSize - 8;  // 8 bytes mapped, the rest not
    p.write_user(straddle, Bytes(8, 0xee));
    for (uint64_t out : U64s{0, kUnmapped, kKernelHalf, kUserRoPage, kUserRoPage + kPage - 8, straddle,
                              ANVIL_USER_LIMIT - 8, UINT64_MAX - 7}) {
        CAPTURE(out);
        CHECK(info_at(p, kSelfCNode, kSelfCNode, out).status == kFault);
    }
    CHECK(p.read_user(straddle, 8) == Bytes(8, 0xee));
    Bytes ro(kPage);
    REQUIRE(p.ro_vmo()->read(0, ro.data(), ro.size()) == ANVIL_OK);
    CHECK(ro == Bytes(kPage, kRoFill));
    CHECK(info_at(p, kSelfCNode, kSelfCNode, kUserBuf + kUserBufSize - kSize).status == kOk);
}

// ---- Numbers past the table ------------------------------------------------------------

TEST_CASE("syscalls: numbers the table does not have return NOT_SUPPORTED and change nothing") {
    TestProcess p;
    const uint32_t used = p.cnode()->used();
    const uint64_t objects = objects_created();
    for (uint64_t nr : U64s{ANVIL_SYS_COUNT, 1000, 1ull << 32, UINT64_MAX}) {
        CAPTURE(nr);
        CHECK(p.sys(nr).status == kNotSupported);
        CHECK(p.sys(nr, 1, 2, 3).status == kNotSupported);
        CHECK(p.sys(nr, kSelfCNode, kUserBuf, kUserBuf, 0, 0, 0, 0).status == kNotSupported);
        CHECK(p.sys(nr, UINT64_MAX, kKernelHalf, kKernelHalf, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX)
                  .status == kNotSupported);
    }
    CHECK(p.cnode()->used() == used);
    CHECK(objects_created() == objects);
}
