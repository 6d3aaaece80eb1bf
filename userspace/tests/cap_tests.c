/* Capability calls from one process: cnode_create, cap_copy (rights, GRANT,
 * badges, slots), cap_delete, cap_revoke and their error statuses. */
#include "tests.h"

#define SELF ANVIL_CAP_SELF_CNODE
#define R ANVIL_RIGHT_READ
#define W ANVIL_RIGHT_WRITE
#define X ANVIL_RIGHT_EXEC
#define M ANVIL_RIGHT_MANAGE
#define G ANVIL_RIGHT_GRANT

/* Rights of the cap in our slot, or ~0u if the slot is empty. */
static uint32_t rights_of(anvil_cap_t cnode, uint32_t slot)
{
    anvil_cap_info_t info;
    return anvil_cap_info(cnode, slot, &info) == ANVIL_OK ? info.rights : ~0u;
}

static int slot_empty(anvil_cap_t cnode, uint32_t slot)
{
    anvil_cap_info_t info;
    return anvil_cap_info(cnode, slot, &info) == ANVIL_ERR_INVALID_CAP;
}

/* The lowest empty slot of our CNode at or above `from`. */
static uint32_t lowest_free(uint32_t from)
{
    uint32_t slot = from;
    while (slot < SUITE_CNODE_SLOTS && !slot_empty(SELF, slot))
        slot++;
    return slot;
}

DEFINE_TEST("cap.cnode_create", test_cnode_create)
{
    const unsigned base = caps_in_use();
    anvil_cap_t c;
    CHECK_STATUS(anvil_cnode_create(0, &c), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_cnode_create(8, &c), ANVIL_ERR_INVALID_ARG);    /* below 16 */
    CHECK_STATUS(anvil_cnode_create(17, &c), ANVIL_ERR_INVALID_ARG);   /* not a power of two */
    CHECK_STATUS(anvil_cnode_create(48, &c), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_cnode_create(8192, &c), ANVIL_ERR_INVALID_ARG); /* above 4096 */
    CHECK_STATUS(anvil_cnode_create(0xffffffffu, &c), ANVIL_ERR_INVALID_ARG);
    CHECK(caps_in_use() == base); /* a refused call takes no slot */

    const uint32_t first = lowest_free(1), second = lowest_free(first + 1);
    anvil_cap_t small, big;
    CHECK_STATUS(anvil_cnode_create(16, &small), ANVIL_OK);
    CHECK_STATUS(anvil_cnode_create(4096, &big), ANVIL_OK);
    anvil_cap_info_t info;
    CHECK_STATUS(anvil_cap_info(SELF, small, &info), ANVIL_OK);
    CHECK(info.type == ANVIL_OBJ_CNODE);
    CHECK(info.rights == (ANVIL_RIGHTS_ALL & ~X)); /* EXEC only exists on VMOs */
    /* New objects take the lowest free slot. */
    CHECK(small == first && big == second);
    /* A new CNode is empty; its slot 0 and slots past its end are not slots. */
    CHECK(slot_empty(small, 1) && slot_empty(small, 15));
    CHECK_STATUS(anvil_cap_info(small, 16, &info), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_info(big, 4095, &info), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_info(big, 4096, &info), ANVIL_ERR_INVALID_CAP);

    /* Filling a CNode: slot 0 never holds a cap, so 15 fit; the 16th has no room. */
    uint32_t slot = 0;
    for (uint32_t i = 1; i < 16; i++) {
        CHECK_STATUS(anvil_cap_copy_any(SELF, small, small, R, 0, &slot), ANVIL_OK);
        CHECK(slot == i);
    }
    CHECK_STATUS(anvil_cap_copy_any(SELF, small, small, R, 0, &slot), ANVIL_ERR_NO_MEMORY);
    CHECK_STATUS(anvil_cap_copy(SELF, small, big, 4095, R, 0), ANVIL_OK);
    CHECK(rights_of(big, 4095) == R);

    CHECK_STATUS(anvil_cap_delete(SELF, big), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, small), ANVIL_OK);
    return 0;
}

DEFINE_TEST("cap.copy_reduces_rights", test_cap_copy_rights)
{
    anvil_cap_t vmo;
    CHECK_STATUS(anvil_vmo_create(PAGE, &vmo), ANVIL_OK);
    CHECK(rights_of(SELF, vmo) == ANVIL_RIGHTS_ALL);

    /* new rights = source rights & mask; a later copy can never add any back. */
    uint32_t rw = 0, again = 0, none = 0, ro = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, vmo, SELF, R | W, 0, &rw), ANVIL_OK);
    CHECK(rights_of(SELF, rw) == (R | W));
    CHECK_STATUS(anvil_cap_copy_any(SELF, rw, SELF, ANVIL_RIGHTS_ALL, 0, &again), ANVIL_OK);
    CHECK(rights_of(SELF, again) == (R | W));
    CHECK_STATUS(anvil_cap_copy_any(SELF, again, SELF, R | X | G, 0, &ro), ANVIL_OK);
    CHECK(rights_of(SELF, ro) == R);
    CHECK_STATUS(anvil_cap_copy_any(SELF, ro, SELF, 0, 0, &none), ANVIL_OK);
    CHECK(rights_of(SELF, none) == 0);

    /* The copies name the same object; reduced rights are enforced. */
    anvil_cap_info_t a, b;
    CHECK_STATUS(anvil_cap_info(SELF, vmo, &a), ANVIL_OK);
    CHECK_STATUS(anvil_cap_info(SELF, ro, &b), ANVIL_OK);
    CHECK(a.object_id == b.object_id && b.type == ANVIL_OBJ_VMO && b.badge == 0);
    char c = 'x';
    CHECK_STATUS(anvil_vmo_write(rw, 0, &c, 1), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_write(ro, 0, &c, 1), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_vmo_read(ro, 0, &c, 1), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_read(none, 0, &c, 1), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_cap_revoke(SELF, rw), ANVIL_ERR_ACCESS_DENIED); /* no MANAGE */

    /* Masks with bits outside the rights, and badges on non-IPC caps, are refused. */
    CHECK_STATUS(anvil_cap_copy(SELF, vmo, SELF, ANVIL_SLOT_ANY, 0x20, 0), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_cap_copy(SELF, vmo, SELF, ANVIL_SLOT_ANY, 0xffffffffu, 0), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_cap_copy(SELF, vmo, SELF, ANVIL_SLOT_ANY, R, 7), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_cap_copy(SELF, ANVIL_CAP_SELF_TCB, SELF, ANVIL_SLOT_ANY, R, 1), ANVIL_ERR_INVALID_ARG);

    /* Copies of a CNode cap: the same rules. */
    uint32_t cn = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, SELF, SELF, ANVIL_RIGHTS_ALL, 0, &cn), ANVIL_OK);
    CHECK(rights_of(SELF, cn) == rights_of(SELF, SELF)); /* a service's own CNode cap has no GRANT */

    CHECK_STATUS(anvil_cap_delete(SELF, cn), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, none), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ro), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, again), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, rw), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, vmo), ANVIL_OK);
    return 0;
}

DEFINE_TEST("cap.copy_grant_rules", test_cap_copy_grant)
{
    anvil_cap_t vmo, other;
    CHECK_STATUS(anvil_vmo_create(PAGE, &vmo), ANVIL_OK);
    CHECK_STATUS(anvil_cnode_create(16, &other), ANVIL_OK);

    /* With GRANT a cap may go to another CNode, with its rights reduced. */
    CHECK_STATUS(anvil_cap_copy(SELF, vmo, other, 1, R | W, 0), ANVIL_OK);
    CHECK(rights_of(other, 1) == (R | W));
    /* Without GRANT it stays in its CNode, even for the holder of both CNodes. */
    uint32_t nogrant = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, vmo, SELF, R | W | M, 0, &nogrant), ANVIL_OK);
    CHECK_STATUS(anvil_cap_copy(SELF, nogrant, other, 2, R, 0), ANVIL_ERR_ACCESS_DENIED);
    CHECK(slot_empty(other, 2));
    CHECK_STATUS(anvil_cap_copy(other, 1, SELF, ANVIL_SLOT_ANY, R, 0), ANVIL_ERR_ACCESS_DENIED);
    /* ... but copies inside one CNode need no GRANT. */
    CHECK_STATUS(anvil_cap_copy(other, 1, other, 3, R, 0), ANVIL_OK);
    CHECK(rights_of(other, 3) == R);
    /* The own CNode cap reached through a second cap is the same CNode. */
    uint32_t self2 = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, SELF, SELF, R | W, 0, &self2), ANVIL_OK);
    uint32_t via = 0;
    CHECK_STATUS(anvil_cap_copy_any(self2, nogrant, SELF, R, 0, &via), ANVIL_OK);
    CHECK(rights_of(SELF, via) == R);

    /* Source CNode needs READ, destination CNode needs WRITE. */
    uint32_t cn_ro = 0, cn_wo = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, SELF, SELF, R, 0, &cn_ro), ANVIL_OK);
    CHECK_STATUS(anvil_cap_copy_any(SELF, SELF, SELF, W, 0, &cn_wo), ANVIL_OK);
    CHECK_STATUS(anvil_cap_copy(SELF, vmo, cn_ro, ANVIL_SLOT_ANY, R, 0), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_cap_copy(cn_wo, vmo, SELF, ANVIL_SLOT_ANY, R, 0), ANVIL_ERR_ACCESS_DENIED);
    uint32_t ok_slot = 0;
    CHECK_STATUS(anvil_cap_copy_any(cn_ro, vmo, cn_wo, R, 0, &ok_slot), ANVIL_OK);
    CHECK(rights_of(SELF, ok_slot) == R);

    /* Deleting the CNode deletes the caps in it. */
    anvil_cap_info_t info;
    CHECK_STATUS(anvil_cap_delete(SELF, other), ANVIL_OK);
    CHECK_STATUS(anvil_cap_info(other, 1, &info), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_vmo_read(vmo, 0, &info, 1), ANVIL_OK);

    CHECK_STATUS(anvil_cap_delete(SELF, ok_slot), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, cn_wo), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, cn_ro), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, via), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, self2), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, nogrant), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, vmo), ANVIL_OK);
    return 0;
}

DEFINE_TEST("cap.copy_errors", test_cap_copy_errors)
{
    anvil_cap_t vmo;
    CHECK_STATUS(anvil_vmo_create(PAGE, &vmo), ANVIL_OK);
    const unsigned base = caps_in_use();
    /* Source: empty, slot 0, out of range, absurd. */
    CHECK_STATUS(anvil_cap_copy(SELF, 200, SELF, ANVIL_SLOT_ANY, R, 0), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_copy(SELF, 0, SELF, ANVIL_SLOT_ANY, R, 0), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_copy(SELF, 256, SELF, ANVIL_SLOT_ANY, R, 0), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_copy(SELF, 0xfffffffeu, SELF, ANVIL_SLOT_ANY, R, 0), ANVIL_ERR_INVALID_CAP);
    /* Destination: occupied, slot 0, out of range. */
    CHECK_STATUS(anvil_cap_copy(SELF, vmo, SELF, ANVIL_CAP_SELF_TCB, R, 0), ANVIL_ERR_SLOT_OCCUPIED);
    CHECK_STATUS(anvil_cap_copy(SELF, vmo, SELF, vmo, R, 0), ANVIL_ERR_SLOT_OCCUPIED);
    CHECK_STATUS(anvil_cap_copy(SELF, vmo, SELF, 0, R, 0), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_copy(SELF, vmo, SELF, 256, R, 0), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_copy(SELF, vmo, SELF, 0xfffffffeu, R, 0), ANVIL_ERR_INVALID_CAP);
    /* CNode arguments that are not CNodes, or not caps at all. */
    CHECK_STATUS(anvil_cap_copy(vmo, 1, SELF, ANVIL_SLOT_ANY, R, 0), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_cap_copy(SELF, vmo, ANVIL_CAP_SELF_VSPACE, 5, R, 0), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_cap_copy(0, vmo, SELF, ANVIL_SLOT_ANY, R, 0), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_copy(SELF, vmo, 200, 5, R, 0), ANVIL_ERR_INVALID_CAP);
    /* Nothing above took a slot. */
    CHECK(caps_in_use() == base);
    /* A specific free slot works, and copy_any takes the lowest free one. */
    CHECK_STATUS(anvil_cap_copy(SELF, vmo, SELF, 100, R, 0), ANVIL_OK);
    const uint32_t expect = lowest_free(1);
    uint32_t low = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, vmo, SELF, R, 0, &low), ANVIL_OK);
    CHECK(low == expect);
    CHECK_STATUS(anvil_cap_delete(SELF, low), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, 100), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, vmo), ANVIL_OK);
    return 0;
}

DEFINE_TEST("cap.delete", test_cap_delete)
{
    anvil_cap_t vmo;
    CHECK_STATUS(anvil_vmo_create(PAGE, &vmo), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, 0), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_delete(SELF, 200), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_delete(SELF, 256), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_delete(SELF, 0xffffffffu), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_delete(vmo, 1), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_cap_delete(0, vmo), ANVIL_ERR_INVALID_CAP);
    /* Needs WRITE on the CNode. */
    uint32_t cn_ro = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, SELF, SELF, R | M | G, 0, &cn_ro), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(cn_ro, vmo), ANVIL_ERR_ACCESS_DENIED);
    CHECK(rights_of(SELF, vmo) == ANVIL_RIGHTS_ALL);
    CHECK_STATUS(anvil_cap_delete(SELF, cn_ro), ANVIL_OK);

    /* Deleting a parent leaves its copy working (it moves up the tree). */
    uint32_t copy = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, vmo, SELF, R, 0, &copy), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, vmo), ANVIL_OK);
    CHECK(slot_empty(SELF, vmo));
    CHECK_STATUS(anvil_cap_delete(SELF, vmo), ANVIL_ERR_INVALID_CAP);
    char c;
    CHECK_STATUS(anvil_vmo_read(copy, 0, &c, 1), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, copy), ANVIL_OK);
    CHECK_STATUS(anvil_vmo_read(copy, 0, &c, 1), ANVIL_ERR_INVALID_CAP);
    return 0;
}

DEFINE_TEST("cap.revoke", test_cap_revoke)
{
    anvil_cap_t vmo, other;
    CHECK_STATUS(anvil_vmo_create(PAGE, &vmo), ANVIL_OK);
    CHECK_STATUS(anvil_cnode_create(16, &other), ANVIL_OK);
    CHECK_STATUS(anvil_cap_revoke(SELF, 0), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_revoke(SELF, 200), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_revoke(SELF, 0xffffffffu), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_revoke(vmo, 1), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_cap_revoke(SELF, vmo), ANVIL_OK); /* no children: nothing to do */

    /* A tree: vmo -> a -> b, vmo -> other[1] -> other[2], vmo -> nomanage. */
    uint32_t a = 0, b = 0, nomanage = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, vmo, SELF, ANVIL_RIGHTS_ALL, 0, &a), ANVIL_OK);
    CHECK_STATUS(anvil_cap_copy_any(SELF, a, SELF, R, 0, &b), ANVIL_OK);
    CHECK_STATUS(anvil_cap_copy(SELF, vmo, other, 1, ANVIL_RIGHTS_ALL, 0), ANVIL_OK);
    CHECK_STATUS(anvil_cap_copy(other, 1, other, 2, R, 0), ANVIL_OK);
    CHECK_STATUS(anvil_cap_copy_any(SELF, vmo, SELF, R | W | G, 0, &nomanage), ANVIL_OK);
    CHECK_STATUS(anvil_cap_revoke(SELF, nomanage), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_cap_revoke(SELF, b), ANVIL_ERR_ACCESS_DENIED);

    /* Revoking a middle cap takes its subtree only. */
    CHECK_STATUS(anvil_cap_revoke(SELF, a), ANVIL_OK);
    CHECK(slot_empty(SELF, b));
    CHECK(!slot_empty(SELF, a) && !slot_empty(other, 2));

    /* A deleted middle cap's children stay reachable from above: a -> c -> d,
     * delete c, revoke a: d goes. */
    uint32_t c = 0, d = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, a, SELF, ANVIL_RIGHTS_ALL, 0, &c), ANVIL_OK);
    CHECK_STATUS(anvil_cap_copy_any(SELF, c, SELF, R, 0, &d), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, c), ANVIL_OK);
    CHECK(!slot_empty(SELF, d));
    CHECK_STATUS(anvil_cap_revoke(SELF, a), ANVIL_OK);
    CHECK(slot_empty(SELF, d) && !slot_empty(SELF, a));

    /* Revoking the root reaches every descendant, in every CNode, and keeps the root. */
    CHECK_STATUS(anvil_cap_revoke(SELF, vmo), ANVIL_OK);
    CHECK(slot_empty(SELF, a) && slot_empty(SELF, nomanage));
    CHECK(slot_empty(other, 1) && slot_empty(other, 2));
    CHECK(rights_of(SELF, vmo) == ANVIL_RIGHTS_ALL);
    char ch;
    CHECK_STATUS(anvil_vmo_read(vmo, 0, &ch, 1), ANVIL_OK);
    CHECK_STATUS(anvil_cap_revoke(SELF, vmo), ANVIL_OK);

    CHECK_STATUS(anvil_cap_delete(SELF, other), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, vmo), ANVIL_OK);
    return 0;
}
