// IPC calls: endpoint_create, notification_create, ipc_send/recv/call/reply/
// reply_recv/try_send/try_recv, notify_signal/wait. The rules are the objects'
// (kernel/object/endpoint.cpp, notification.cpp); these handlers decode caps
// and rights into the operation each call asks for.
#include "kernel/object/endpoint.h"
#include "kernel/object/notification.h"
#include "kernel/object/vspace.h"
#include "kernel/syscall/lookup.h"
#include "kernel/syscall/syscall.h"

namespace kernel {

namespace {

// Sends on the endpoint cap `ep` (WRITE) with the cap's badge; caps may go with
// the message if it has GRANT. A call's reply buffer is `reply_va`; a send has
// none (0).
Status send_on(Thread& self, Arg32 ep, SendKind kind, uint64_t msg_va, uint64_t reply_va) {
    TRY_ASSIGN(cap, lookup_cap(self, ep, ANVIL_OBJ_ENDPOINT, ANVIL_RIGHT_WRITE));
    const SendOp op{kind, msg_va, reply_va, cap->badge, cap->has(ANVIL_RIGHT_GRANT)};
    return static_cast<Endpoint*>(cap->object)->send(self, op);
}

// Receives on the endpoint cap `ep_cap` (READ); the sender's badge goes out.
Status receive_on(Thread& self, Arg32 ep_cap, RecvKind kind, UserPtr<anvil_msg_t> m, uint64_t& badge_out) {
    TRY_ASSIGN(ep, lookup_object<Endpoint>(self, ep_cap, ANVIL_OBJ_ENDPOINT, ANVIL_RIGHT_READ));
    TRY_ASSIGN(badge, ep->receive(self, m.va(), kind));
    badge_out = badge;
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
    return send_on(self, a.ep, SendKind::kSend, a.m.va(), 0);
}

Status sys_ipc_try_send(Thread& self, const sys::ipc_try_send_args& a, sys::ipc_try_send_out&) {
    return send_on(self, a.ep, SendKind::kTrySend, a.m.va(), 0);
}

Status sys_ipc_call(Thread& self, const sys::ipc_call_args& a, sys::ipc_call_out&) {
    return send_on(self, a.ep, SendKind::kCall, a.req.va(), a.reply.va());
}

Status sys_ipc_recv(Thread& self, const sys::ipc_recv_args& a, sys::ipc_recv_out& out) {
    return receive_on(self, a.ep, RecvKind::kRecv, a.m, out.badge);
}

Status sys_ipc_try_recv(Thread& self, const sys::ipc_try_recv_args& a, sys::ipc_try_recv_out& out) {
    return receive_on(self, a.ep, RecvKind::kTryRecv, a.m, out.badge);
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
    TRY_ASSIGN(badge, ep->reply_receive(self, a.reply.va(), a.next.va()));
    out.badge = badge;
    return ANVIL_OK;
}

Status sys_notify_signal(Thread& self, const sys::notify_signal_args& a, sys::notify_signal_out&) {
    TRY_ASSIGN(n, lookup_object<Notification>(self, a.n, ANVIL_OBJ_NOTIFICATION, ANVIL_RIGHT_WRITE));
    if (a.bits == 0)
        return ANVIL_ERR_INVALID_ARG;
    n->signal(a.bits);
    return ANVIL_OK;
}

Status sys_notify_wait(Thread& self, const sys::notify_wait_args& a, sys::notify_wait_out& out) {
    TRY_ASSIGN(n, lookup_object<Notification>(self, a.n, ANVIL_OBJ_NOTIFICATION, ANVIL_RIGHT_READ));
    TRY_ASSIGN(bits, n->wait(self));
    out.bits = bits;
    return ANVIL_OK;
}

Status sys_notify_wait_timeout(Thread& self, const sys::notify_wait_timeout_args& a,
                               sys::notify_wait_timeout_out& out) {
    TRY_ASSIGN(n, lookup_object<Notification>(self, a.n, ANVIL_OBJ_NOTIFICATION, ANVIL_RIGHT_READ));
    TRY_ASSIGN(bits, n->wait_timeout(self, a.ticks));
    out.bits = bits;
    return ANVIL_OK;
}

}  // namespace kernel
