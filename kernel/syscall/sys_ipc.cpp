// IPC calls: endpoint_create, notification_create, ipc_send/recv/call/reply/
// reply_recv/try_send/try_recv, notify_signal/wait. The rendezvous logic is in
// kernel/ipc; these handlers decode caps and rights.
#include "kernel/ipc/ipc.h"
#include "kernel/object/endpoint.h"
#include "kernel/object/vspace.h"
#include "kernel/syscall/lookup.h"
#include "kernel/syscall/syscall.h"

namespace kernel {

namespace {

Status send_common(Thread& self, SyscallArgs& a, bool call, uint64_t reply_va, bool blocking) {
    TRY_ASSIGN(cap, lookup_cap(self, a.arg[0], ANVIL_OBJ_ENDPOINT, ANVIL_RIGHT_WRITE));
    return ipc_send(self, static_cast<Endpoint*>(cap->object), a.arg[1], cap->badge, cap->has(ANVIL_RIGHT_GRANT),
                    call, reply_va, blocking);
}

Status recv_common(Thread& self, SyscallArgs& a, uint64_t msg_va, bool blocking) {
    TRY_ASSIGN(ep, lookup_object<Endpoint>(self, a.arg[0], ANVIL_OBJ_ENDPOINT, ANVIL_RIGHT_READ));
    uint64_t badge = 0;
    TRY(ipc_recv(self, ep, msg_va, blocking, &badge));
    a.out[0] = badge;  // a blocked receiver gets its badge when woken
    return ANVIL_OK;
}

}  // namespace

Status sys_endpoint_create(Thread& self, SyscallArgs& a) {
    return install_new_object(self, a, [] { return Endpoint::create(); });
}

Status sys_notification_create(Thread& self, SyscallArgs& a) {
    return install_new_object(self, a, [] { return Notification::create(); });
}

Status sys_ipc_send(Thread& self, SyscallArgs& a) { return send_common(self, a, false, 0, true); }
Status sys_ipc_try_send(Thread& self, SyscallArgs& a) { return send_common(self, a, false, 0, false); }
Status sys_ipc_call(Thread& self, SyscallArgs& a) { return send_common(self, a, true, a.arg[2], true); }
Status sys_ipc_recv(Thread& self, SyscallArgs& a) { return recv_common(self, a, a.arg[1], true); }
Status sys_ipc_try_recv(Thread& self, SyscallArgs& a) { return recv_common(self, a, a.arg[1], false); }
Status sys_ipc_reply(Thread& self, SyscallArgs& a) { return ipc_reply(self, a.arg[0]); }

Status sys_ipc_reply_recv(Thread& self, SyscallArgs& a) {
    // Check the endpoint and the receive buffer first, so that a call that
    // cannot receive does not send its reply either.
    TRY_ASSIGN(ep, lookup_object<Endpoint>(self, a.arg[0], ANVIL_OBJ_ENDPOINT, ANVIL_RIGHT_READ));
    if (!self.vspace()->range_allows(a.arg[2], sizeof(anvil_msg_t), ANVIL_PERM_R | ANVIL_PERM_W))
        return ANVIL_ERR_FAULT;
    uint64_t badge = 0;
    TRY(ipc_reply_recv(self, ep, a.arg[1], a.arg[2], &badge));
    a.out[0] = badge;  // a blocked receiver gets its badge when woken
    return ANVIL_OK;
}

Status sys_notify_signal(Thread& self, SyscallArgs& a) {
    TRY_ASSIGN(n, lookup_object<Notification>(self, a.arg[0], ANVIL_OBJ_NOTIFICATION, ANVIL_RIGHT_WRITE));
    if (a.arg[1] == 0)
        return ANVIL_ERR_INVALID_ARG;
    notify_signal(n, a.arg[1]);
    return ANVIL_OK;
}

Status sys_notify_wait(Thread& self, SyscallArgs& a) {
    TRY_ASSIGN(n, lookup_object<Notification>(self, a.arg[0], ANVIL_OBJ_NOTIFICATION, ANVIL_RIGHT_READ));
    uint64_t bits = 0;
    TRY(notify_wait(self, n, &bits));
    a.out[0] = bits;
    return ANVIL_OK;
}

}  // namespace kernel
