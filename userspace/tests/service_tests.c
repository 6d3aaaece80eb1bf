/* Tests of the running system: init's supervision of the services. The suite
 * runs as init's main service and holds the IO server's thread (slot
 * ANVIL_CAP_PEER_TCB, "tcb:ioserver" in tests/services). */
#include "tests.h"

#include <anvil/services.h>
#include <stdio.h>
#include <string.h>

#define SELF ANVIL_CAP_SELF_CNODE

anvil_status_t service_raw(anvil_cap_t ep, uint64_t label, const void *data, uint32_t len, anvil_cap_t cap)
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
    const anvil_status_t s = anvil_ipc_call(ep, &req, &reply);
    return s != ANVIL_OK ? s : (anvil_status_t)(int64_t)reply.label;
}

/* Crashes the IO server (its thread is sent to address 0, an instant page
 * fault), then writes through the same IO endpoint: init sees the fault on its
 * fault endpoint and starts a new IO server on that endpoint, which serves the
 * write. The console checks of the ctest show init's report and both markers. */
int test_io_restart_after_crash(void)
{
    anvil_cap_info_t info;
    CHECK_STATUS(anvil_cap_info(SELF, ANVIL_CAP_PEER_TCB, &info), ANVIL_OK);
    CHECK(info.type == ANVIL_OBJ_TCB);
    printf("io-restart: before the crash\n");

    CHECK_STATUS(anvil_tcb_suspend(ANVIL_CAP_PEER_TCB), ANVIL_OK);
    anvil_regs_t regs;
    CHECK_STATUS(anvil_tcb_get_regs(ANVIL_CAP_PEER_TCB, &regs), ANVIL_OK);
    regs.rip = 0;
    CHECK_STATUS(anvil_tcb_set_regs(ANVIL_CAP_PEER_TCB, &regs), ANVIL_OK);
    CHECK_STATUS(anvil_tcb_resume(ANVIL_CAP_PEER_TCB), ANVIL_OK);

    /* Blocks until the new IO server takes it; PEER_CLOSED would mean the
     * endpoint died with the old server. */
    static const char kAfter[] = "io-restart: output continues after the restart\n";
    CHECK_STATUS(anvil_io_write(kAfter, sizeof kAfter - 1), ANVIL_OK);
    /* The dead thread stays dead: its TCB cap now names a faulted thread. */
    CHECK_STATUS(anvil_tcb_resume(ANVIL_CAP_PEER_TCB), ANVIL_ERR_BAD_STATE);
    /* And the new server is findable again. */
    anvil_cap_t io;
    CHECK_STATUS(anvil_ns_lookup("io", &io), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, io), ANVIL_OK);
    return 0;
}
