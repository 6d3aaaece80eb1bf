#include "kernel/object/endpoint.h"

#include "kernel/ipc/ipc.h"

namespace kernel {

Result<Endpoint*> Endpoint::create() {
    Endpoint* ep = make<Endpoint>();
    if (!ep)
        return Result<Endpoint*>::error(ANVIL_ERR_NO_MEMORY);
    return ep;
}

void Endpoint::destroy() {
    while (Thread* t = senders_.front())
        ipc_close_waiter(t);
    while (Thread* t = receivers_.front())
        ipc_close_waiter(t);
    unmake(this);
}

Result<Notification*> Notification::create() {
    Notification* n = make<Notification>();
    if (!n)
        return Result<Notification*>::error(ANVIL_ERR_NO_MEMORY);
    return n;
}

void Notification::destroy() {
    while (Thread* t = waiters_.front())
        ipc_close_waiter(t);
    unmake(this);
}

}  // namespace kernel
