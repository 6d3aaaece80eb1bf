/* Tests of the running system: init's supervision of the services. The suite
 * runs as init's main service and holds the IO server's thread (slot
 * ANVIL_CAP_PEER_TCB, "tcb:ioserver" in tests/services) and the name server's
 * (slot ANVIL_CAP_PEER_TCB2, "tcb:nameserver"). */
#include "tests.h"

#include <anvil/services.h>
#include <stdio.h>
#include <string.h>

#define SELF ANVIL_CAP_SELF_CNODE

/* One request through `ep`, by anvil_ipc_call or, `numbered`, anvil_io_call. */
static anvil_status_t raw_request(anvil_cap_t ep, uint64_t label, const void *data, uint32_t len, anvil_cap_t cap,
                                  int numbered)
{
    static anvil_msg_t req, reply;
    req.label = label;
    req.len = len;
    req.ncaps = cap ? 1 : 0;
    req.caps[0] = cap;
    if (len)
        memcpy(req.data, data, len);
    reply.label = 1; /* no status */
    reply.len = 0;
    reply.ncaps = 0;
    const anvil_status_t s = numbered ? anvil_io_call(ep, &req, &reply) : anvil_ipc_call(ep, &req, &reply);
    return s != ANVIL_OK ? s : (anvil_status_t)(int64_t)reply.label;
}

anvil_status_t service_raw(anvil_cap_t ep, uint64_t label, const void *data, uint32_t len, anvil_cap_t cap)
{
    return raw_request(ep, label, data, len, cap, 0);
}

anvil_status_t io_raw(anvil_cap_t ep, uint64_t label, const void *data, uint32_t len)
{
    return raw_request(ep, label, data, len, 0, 1);
}

/* Sends the thread of `tcb` to address 0, an instant page fault: init sees it
 * on its fault endpoint and starts the service again. */
static int crash(anvil_cap_t tcb)
{
    CHECK_STATUS(anvil_tcb_suspend(tcb), ANVIL_OK);
    anvil_regs_t regs;
    CHECK_STATUS(anvil_tcb_get_regs(tcb, &regs), ANVIL_OK);
    regs.rip = 0;
    CHECK_STATUS(anvil_tcb_set_regs(tcb, &regs), ANVIL_OK);
    CHECK_STATUS(anvil_tcb_resume(tcb), ANVIL_OK);
    return 0;
}

/* A service's thread before crash(): its object id, and a copy of the cap
 * kept here, which still names it once init has given the slot the thread of
 * the restarted service. */
struct old_thread {
    uint64_t id;
    anvil_cap_t cap;
};

static int remember(anvil_cap_t slot, struct old_thread *old)
{
    anvil_cap_info_t info;
    CHECK_STATUS(anvil_cap_info(SELF, slot, &info), ANVIL_OK);
    old->id = info.object_id;
    CHECK_STATUS(anvil_cap_copy_any(SELF, slot, SELF, ANVIL_RIGHTS_ALL, 0, &old->cap), ANVIL_OK);
    return 0;
}

/* After the service was crashed and has served a call again: init restarted
 * it and gives `slot` the new thread, a live one, while the old thread stays
 * dead. (Called after a call that blocks until the new instance serves, not
 * in place of one: on one CPU a yield loop here would never let the
 * lower-priority service run and fault. init hands the thread on right after
 * starting it, so at most other CPUs' timing is waited for.) */
static int check_new_thread(anvil_cap_t slot, const struct old_thread *old)
{
    anvil_cap_info_t now;
    int moved = 0;
    for (int i = 0; i < 100000 && !moved; i++) {
        moved = anvil_cap_info(SELF, slot, &now) == ANVIL_OK && now.object_id != old->id;
        if (!moved)
            anvil_thread_yield();
    }
    CHECK(moved);
    CHECK(now.type == ANVIL_OBJ_TCB);
    CHECK_STATUS(anvil_tcb_resume(slot), ANVIL_OK);               /* alive: already going */
    CHECK_STATUS(anvil_tcb_resume(old->cap), ANVIL_ERR_BAD_STATE); /* the old thread stays dead */
    CHECK_STATUS(anvil_cap_delete(SELF, old->cap), ANVIL_OK);
    return 0;
}

/* Registers a name, crashes the name server, and finds the name again, with
 * the same endpoint and the same owner: init restarts the server on the same
 * endpoint with the same store and table (and gives this suite the new
 * server's thread). The IO server's "io", registered at
 * boot, is still there too, and the new server takes new names. */
DEFINE_TEST("ns.survives_restart", test_ns_survives_restart)
{
    anvil_cap_info_t info, ep_info;
    if (anvil_cap_info(SELF, ANVIL_CAP_PEER_TCB2, &info) != ANVIL_OK || info.type != ANVIL_OBJ_TCB ||
        anvil_cap_info(SELF, ANVIL_CAP_NAMESERVER, &ep_info) != ANVIL_OK)
        SKIP("no name server thread in slot 14 or no name server");
    anvil_cap_t ep, copy;
    uint32_t pub;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    CHECK_STATUS(anvil_cap_info(SELF, ep, &ep_info), ANVIL_OK);
    CHECK_STATUS(anvil_cap_copy_any(SELF, ep, SELF, ANVIL_RIGHT_WRITE | ANVIL_RIGHT_GRANT, 0, &pub), ANVIL_OK);
    CHECK_STATUS(anvil_ns_register("ns-restart.before", pub), ANVIL_OK);
    const int have_io = anvil_ns_lookup("io", &copy) == ANVIL_OK;
    if (have_io)
        CHECK_STATUS(anvil_cap_delete(SELF, copy), ANVIL_OK);

    struct old_thread old;
    if (remember(ANVIL_CAP_PEER_TCB2, &old) || crash(ANVIL_CAP_PEER_TCB2))
        return 1;
    /* Waits on the endpoint until the new server receives. */
    CHECK_STATUS(anvil_ns_lookup("ns-restart.before", &copy), ANVIL_OK);
    if (check_new_thread(ANVIL_CAP_PEER_TCB2, &old))
        return 1;
    CHECK_STATUS(anvil_cap_info(SELF, copy, &info), ANVIL_OK);
    CHECK(info.object_id == ep_info.object_id);
    CHECK_STATUS(anvil_cap_delete(SELF, copy), ANVIL_OK);
    if (have_io) {
        CHECK_STATUS(anvil_ns_lookup("io", &copy), ANVIL_OK);
        CHECK_STATUS(anvil_cap_delete(SELF, copy), ANVIL_OK);
    }
    /* Still ours: replaced and unregistered by us, the owner. */
    CHECK_STATUS(anvil_ns_register("ns-restart.before", pub), ANVIL_OK);
    CHECK_STATUS(anvil_ns_unregister("ns-restart.before"), ANVIL_OK);
    CHECK_STATUS(anvil_ns_lookup("ns-restart.before", &copy), ANVIL_ERR_NOT_FOUND);
    CHECK_STATUS(anvil_ns_register("ns-restart.after", pub), ANVIL_OK);
    CHECK_STATUS(anvil_ns_lookup("ns-restart.after", &copy), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, copy), ANVIL_OK);
    CHECK_STATUS(anvil_ns_unregister("ns-restart.after"), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, pub), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ep), ANVIL_OK);
    return 0;
}

/* Crashes the IO server, then writes through the same IO endpoint: init sees
 * the fault on its fault endpoint and starts a new IO server on that endpoint,
 * which serves the write (and gives this suite the new server's thread). The console checks of the ctest show init's report
 * and both markers. */
DEFINE_TEST("io.restart_after_crash", test_io_restart_after_crash)
{
    anvil_cap_info_t info;
    CHECK_STATUS(anvil_cap_info(SELF, ANVIL_CAP_PEER_TCB, &info), ANVIL_OK);
    CHECK(info.type == ANVIL_OBJ_TCB);
    printf("io-restart: before the crash\n");
    struct old_thread old;
    if (remember(ANVIL_CAP_PEER_TCB, &old) || crash(ANVIL_CAP_PEER_TCB))
        return 1;

    /* Blocks until the new IO server takes it; PEER_CLOSED would mean the
     * endpoint died with the old server. */
    static const char kAfter[] = "io-restart: output continues after the restart\n";
    CHECK_STATUS(anvil_io_write(kAfter, sizeof kAfter - 1), ANVIL_OK);
    if (check_new_thread(ANVIL_CAP_PEER_TCB, &old))
        return 1;
    /* And the new server is findable again. */
    anvil_cap_t io;
    CHECK_STATUS(anvil_ns_lookup("io", &io), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, io), ANVIL_OK);
    return 0;
}
