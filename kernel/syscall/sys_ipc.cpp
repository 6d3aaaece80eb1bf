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

// A call's reply buffer is `reply_va`; a send has none (0).
Status send_common(Thread& self, Arg32 ep, UserPtr<const anvil_msg_t> m, bool call, uint64_t reply_va,
                   bool blocking) {
    TRY_ASSIGN(cap, lookup_cap(self, ep, ANVIL_OBJ_ENDPOINT, ANVIL_RIGHT_WRITE));
    return ipc_send(self, static_cast<Endpoint*>(cap->object), m.va(), cap->badge, cap->has(ANVIL_RIGHT_GRANT),
                    call, reply_va, blocking);
}

Status recv_common(Thread& self, Arg32 ep_cap, UserPtr<anvil_msg_t> m, bool blocking, uint64_t& badge_out) {
    TRY_ASSIGN(ep, lookup_object<Endpoint>(self, ep_cap, ANVIL_OBJ_ENDPOINT, ANVIL_RIGHT_READ));
    uint64_t badge = 0;
    TRY(ipc_recv(self, ep, m.va(), blocking, &badge));
    badge_out = badge;  // a blocked receiver gets its badge when woken
    return ANVIL_OK;
}

}  // namespace

Status sys_endpoint_create(Thread& self, const sys::endpoint_create_args&, sys::endpoint_create_out& out) {
    return install_new_object(self, out.out, [] { return Endpoint::create(); });
}

Status sys_notification_create(Thread& self, const sys::notification_create_args&,
                               sys::notification_create_out& out) {
    return install_new_object(self, out.out, [] { return Notification::create(); });
}

Status sys_ipc_send(Thread& self, const sys::ipc_send_args& a, sys::ipc_send_out&) {
    return send_common(self, a.ep, a.m, false, 0, true);
}

Status sys_ipc_try_send(Thread& self, const sys::ipc_try_send_args& a, sys::ipc_try_send_out&) {
    return send_common(self, a.ep, a.m, false, 0, false);
}

Status sys_ipc_call(Thread& self, const sys::ipc_call_args& a, sys::ipc_call_out&) {
    return send_common(self, a.ep, a.req, true, a.reply.va(), true);
}

Status sys_ipc_recv(Thread& self, const sys::ipc_recv_args& a, sys::ipc_recv_out& out) {
    return recv_common(self, a.ep, a.m, true, out.badge);
}

Status sys_ipc_try_recv(Thread& self, const sys::ipc_try_recv_args& a, sys::ipc_try_recv_out& out) {
    return recv_common(self, a.ep, a.m, false, out.badge);
}

Status sys_ipc_reply(Thread& self, const sys::ipc_reply_args& a, sys::ipc_reply_out&) {
    return ipc_reply(self, a.m.va());
}

Status sys_ipc_reply_recv(Thread& self, const sys::ipc_reply_recv_args& a, sys::ipc_reply_recv_out& out) {
    // Check the endpoint and the receive buffer first, so that a call that
    // cannot receive does not send its reply either.
    TRY_ASSIGN(ep, lookup_object<Endpoint>(self, a.ep, ANVIL_OBJ_ENDPOINT, ANVIL_RIGHT_READ));
    if (!self.vspace()->range_allows(a.next.va(), sizeof(anvil_msg_t), ANVIL_PERM_R | ANVIL_PERM_W))
        return ANVIL_ERR_FAULT;
    uint64_t badge = 0;
    TRY(ipc_reply_recv(self, ep, a.reply.va(), a.next.va(), &badge));
    out.badge = badge;  // a blocked receiver gets its badge when woken
    return ANVIL_OK;
}

Status sys_notify_signal(Thread& self, const sys::notify_signal_args& a, sys::notify_signal_out&) {
    TRY_ASSIGN(n, lookup_object<Notification>(self, a.n, ANVIL_OBJ_NOTIFICATION, ANVIL_RIGHT_WRITE));
    if (a.bits == 0)
        return ANVIL_ERR_INVALID_ARG;
    notify_signal(n, a.bits);
    return ANVIL_OK;
}

Status sys_notify_wait(Thread& self, const sys::notify_wait_args& a, sys::notify_wait_out& out) {
    TRY_ASSIGN(n, lookup_object<Notification>(self, a.n, ANVIL_OBJ_NOTIFICATION, ANVIL_RIGHT_READ));
    uint64_t bits = 0;
    TRY(notify_wait(self, n, &bits));
    out.bits = bits;
    return ANVIL_OK;
}

}  // namespace kernel
