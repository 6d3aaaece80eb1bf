// Host tests of memory exhaustion through the syscall layer: objects of every
// kind until the kernel says NO_MEMORY, the kernel still consistent while it is
// out of memory, and every frame back once the objects are gone.
#include "kernel/introspect.h"
#include "kernel_env.h"

#include <array>
#include <cstdio>

using namespace anvil_test;

namespace {

// Caps are parked in storage CNodes so that our own 256-slot CNode never fills
// (a full CNode is NO_MEMORY too, and would end a loop for the wrong reason).
constexpr uint32_t kStorageSlots = 4096;
constexpr int kStorageCNodes = 8;
// Frames left free after the VMOs, for the small objects to use up.
constexpr size_t kSmallObjectFrames = 256;

// The kinds of small objects, created in rotation.
struct Kind {
    const char* name;
    uint64_t nr;
    uint64_t arg;
};
constexpr std::array<Kind, 6> kKinds{{
    {"endpoint", ANVIL_SYS_endpoint_create, 0},
    {"notification", ANVIL_SYS_notification_create, 0},
    {"thread", ANVIL_SYS_tcb_create, 0},
    {"cnode(16)", ANVIL_SYS_cnode_create, 16},
    {"vspace", ANVIL_SYS_vspace_create, 0},
    {"vmo(1 page)", ANVIL_SYS_vmo_create, kPage},
}};

// What one round made before each kind ran out.
struct Counts {
    uint64_t vmos = 0;
    uint64_t vmo_pages = 0;
    std::array<uint64_t, kKinds.size()> small{};
    friend bool operator==(const Counts&, const Counts&) = default;
};

class Storage {
public:
    explicit Storage(TestProcess& p) : p_(p) {
        for (int i = 0; i < kStorageCNodes; ++i)
            cnodes_.push_back(p.new_cnode(kStorageSlots));
    }

    // Moves the cap in our slot `slot` into storage.
    void park(uint32_t slot) {
        // Slot 0 of every CNode stays empty.
        REQUIRE(next_ < cnodes_.size() * (kStorageSlots - 1));
        const uint32_t cnode = cnodes_[next_ / (kStorageSlots - 1)];
        const uint32_t index = static_cast<uint32_t>(next_ % (kStorageSlots - 1)) + 1;
        REQUIRE(p_.sys(ANVIL_SYS_cap_copy, kSelfCNode, slot, cnode, index, kAll, 0).status == kOk);
        REQUIRE(p_.sys(ANVIL_SYS_cap_delete, kSelfCNode, slot).status == kOk);
        parked_.push_back({cnode, index});
        ++next_;
    }

    size_t parked() const { return parked_.size(); }
    // (storage CNode slot, index) of the i-th parked cap.
    std::pair<uint32_t, uint32_t> at(size_t i) const { return parked_[i]; }

    // Deleting the storage CNodes deletes every parked cap with them.
    void free_all() {
        for (uint32_t cnode : cnodes_)
            REQUIRE(p_.sys(ANVIL_SYS_cap_delete, kSelfCNode, cnode).status == kOk);
        cnodes_.clear();
        parked_.clear();
        next_ = 0;
    }

private:
    TestProcess& p_;
    std::vector<uint32_t> cnodes_;
    std::vector<std::pair<uint32_t, uint32_t>> parked_;
    size_t next_ = 0;
};

SysResult create(TestProcess& p, uint64_t nr, uint64_t arg) { return p.sys(nr, arg); }

// Objects on the kernel's list of live objects (bounded, in case it is broken).
size_t live_objects() {
    size_t n = 0;
    for (const kernel::KObject* o = kernel::KObject::first_live(); o && n < 10'000'000; o = o->next_live())
        ++n;
    return n;
}

// Big VMOs first (halving the size on NO_MEMORY) until fewer than `leave`
// frames are free.
void fill_with_vmos(TestProcess& p, Storage& storage, Counts& counts, size_t leave) {
    uint64_t pages = kernel::frames().free_count();
    while (pages > 0 && kernel::frames().free_count() > leave) {
        const size_t free_now = kernel::frames().free_count();
        if (pages > free_now - leave)
            pages = free_now - leave;
        if (pages == 0)
            break;
        const SysResult r = create(p, ANVIL_SYS_vmo_create, pages * kPage);
        if (r.status == kNoMemory) {
            pages /= 2;
            continue;
        }
        REQUIRE(r.status == kOk);
        storage.park(static_cast<uint32_t>(r.out0));
        ++counts.vmos;
        counts.vmo_pages += pages;
    }
}

// Small objects in rotation until every kind has hit NO_MEMORY; a failed create
// takes no frames.
void fill_with_small_objects(TestProcess& p, Storage& storage, Counts& counts) {
    std::array<bool, kKinds.size()> exhausted{};
    size_t left = kKinds.size();
    while (left > 0) {
        for (size_t k = 0; k < kKinds.size(); ++k) {
            if (exhausted[k])
                continue;
            const size_t frames_before = kernel::frames().free_count();
            const uint64_t objects_before = kernel::objects_created();
            const SysResult r = create(p, kKinds[k].nr, kKinds[k].arg);
            if (r.status == kNoMemory) {
                CAPTURE(kKinds[k].name);
                CHECK(kernel::frames().free_count() == frames_before);
                // Partly built objects are destroyed again: at most one id is used.
                CHECK(kernel::objects_created() - objects_before <= 1);
                exhausted[k] = true;
                --left;
                continue;
            }
            REQUIRE(r.status == kOk);
            storage.park(static_cast<uint32_t>(r.out0));
            ++counts.small[k];
        }
    }
}

// While memory is exhausted: every create is NO_MEMORY and changes nothing,
// calls that need no memory still work, and parked caps are intact.
void check_consistent_when_exhausted(TestProcess& p, Storage& storage) {
    const size_t frames = kernel::frames().free_count();
    uint32_t lowest_free = 1;
    while (!p.cap(lowest_free)->empty())
        ++lowest_free;
    for (const Kind& k : kKinds) {
        CAPTURE(k.name);
        CHECK(create(p, k.nr, k.arg).status == kNoMemory);
    }
    CHECK(p.sys(ANVIL_SYS_vma_alloc, kSelfVSpace, 16 * kPage, kR | kW).status == kNoMemory);
    CHECK(p.sys(ANVIL_SYS_cnode_create, kStorageSlots).status == kNoMemory);
    CHECK(kernel::frames().free_count() == frames);
    for (uint32_t slot = 1; slot < TestProcess::kSlots; ++slot) {
        if (p.cap(slot)->empty()) {
            CHECK(slot == lowest_free);  // nothing half-made was left in a slot
            break;
        }
    }

    // cap_info on parked caps (through their storage CNodes) still answers.
    REQUIRE(storage.parked() > 0);
    for (size_t i = 0; i < storage.parked(); i += storage.parked() / 16 + 1) {
        const auto [cnode, index] = storage.at(i);
        CAPTURE(i);
        CHECK(p.sys(ANVIL_SYS_cap_info, cnode, index, kUserBuf).status == kOk);
    }
    // Copies need no memory: a parked endpoint comes back into our CNode, and
    // IPC and notifications on objects that exist need none either.
    const auto [cnode, index] = storage.at(storage.parked() - 1);
    const SysResult copy = p.sys(ANVIL_SYS_cap_copy, cnode, index, kSelfCNode, ANVIL_SLOT_ANY, kAll, 0);
    REQUIRE(copy.status == kOk);
    REQUIRE(p.sys(ANVIL_SYS_cap_delete, kSelfCNode, copy.out0).status == kOk);
    CHECK(p.sys(ANVIL_SYS_thread_yield).status == kOk);
    CHECK(kernel::frames().free_count() == frames);
}

// One round: VMOs until `leave` frames are free, small objects until nothing
// more can be made, the checks while exhausted, then everything freed.
Counts exhaust_and_free(TestProcess& p, size_t leave) {
    Counts counts;
    Storage storage(p);
    fill_with_vmos(p, storage, counts, leave);
    fill_with_small_objects(p, storage, counts);
    check_consistent_when_exhausted(p, storage);
    storage.free_all();
    return counts;
}

}  // namespace

TEST_CASE("exhaustion: objects until NO_MEMORY, the kernel consistent, later rounds as far, every frame back") {
    TestProcess p;
    const size_t before = kernel::frames().free_count();
    const size_t live_before = live_objects();
    // Round 1 leaves frames for the small objects, so that every kind runs out
    // for want of frames.
    const Counts warm = exhaust_and_free(p, kSmallObjectFrames);
    const size_t after_warm = kernel::frames().free_count();
    // Rounds 2 and 3 take every frame with VMOs first. Nothing may leak: both
    // get exactly as far, and every frame comes back each time.
    const Counts second = exhaust_and_free(p, 0);
    const size_t after_second = kernel::frames().free_count();
    const Counts third = exhaust_and_free(p, 0);
    const size_t after_third = kernel::frames().free_count();

    auto show = [](const char* what, const Counts& c, size_t frames_after) {
        std::printf("exhaustion: %s: %llu VMOs (%llu pages), then", what, static_cast<unsigned long long>(c.vmos),
                    static_cast<unsigned long long>(c.vmo_pages));
        for (size_t k = 0; k < kKinds.size(); ++k)
            std::printf(" %llu %s", static_cast<unsigned long long>(c.small[k]), kKinds[k].name);
        std::printf("; %zu frames free after\n", frames_after);
    };
    std::printf("exhaustion: %zu frames free before\n", before);
    show("round 1", warm, after_warm);
    show("round 2", second, after_second);
    show("round 3", third, after_third);

    for (size_t k = 0; k < kKinds.size(); ++k) {
        CAPTURE(kKinds[k].name);
        CHECK(warm.small[k] > 0);
    }
    CHECK(second.vmos > 0);
    CHECK(third == second);
    CHECK(after_third == after_second);
    CHECK(after_second == after_warm);
    // Every object made (or half made, then refused) is off the live list again.
    CHECK(live_objects() == live_before);
    // Every frame is back with the frame allocator (the heap returns empty slabs).
    CHECK(after_warm == before);
}

TEST_CASE("exhaustion: a mapping made with no frames left fails cleanly or works") {
    TestProcess p;
    Counts counts;
    Storage storage(p);
    const uint32_t vmo = p.new_vmo(4 * kPage);
    fill_with_vmos(p, storage, counts, 0);
    fill_with_small_objects(p, storage, counts);
    // Page tables (on x86-64) and the mapping record need memory there is none of.
    const size_t frames = kernel::frames().free_count();
    const size_t mappings = p.vspace()->mappings().size();
    const SysResult r = p.sys(ANVIL_SYS_vma_map, kSelfVSpace, 0x500000000000ull, vmo, 0, 4 * kPage, kR | kW);
    if (r.status == kNoMemory) {
        CHECK(p.vspace()->mappings().size() == mappings);
        CHECK(kernel::frames().free_count() == frames);
    } else {
        REQUIRE(r.status == kOk);
        p.write_user(0x500000000000ull, pattern(4 * kPage));
        CHECK(p.read_user(0x500000000000ull, 4 * kPage) == pattern(4 * kPage));
        REQUIRE(p.sys(ANVIL_SYS_vma_unmap, kSelfVSpace, 0x500000000000ull, 4 * kPage).status == kOk);
    }
    CHECK(kernel::frames().free_count() == frames);
    storage.free_all();
}

// The kernel heap (kernel/vm/kheap.cpp) gives a slab frame back to the frame
// allocator when its last block is freed: memory turned into small objects is
// memory for VMOs again once they are gone.
TEST_CASE("kheap: frames of deleted small objects go back to the frame allocator", "[kheap]") {
    TestProcess p;
    Storage storage(p);
    constexpr int kEndpoints = 32000;
    const size_t before = kernel::frames().free_count();
    for (int i = 0; i < kEndpoints; ++i) {
        const SysResult r = p.sys(ANVIL_SYS_endpoint_create);
        REQUIRE(r.status == kOk);
        storage.park(static_cast<uint32_t>(r.out0));
    }
    const size_t with_endpoints = kernel::frames().free_count();
    storage.free_all();
    Storage again(p);  // the storage CNodes' own frames, taken again
    const size_t after = kernel::frames().free_count();
    std::printf("kheap: %zu frames free before %d endpoints, %zu with them, %zu after deleting them\n", before,
                kEndpoints, with_endpoints, after);
    CHECK(after == before);
    again.free_all();
}
