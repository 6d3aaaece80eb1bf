#include "kernel/ipc/ipc.h"

#include "kernel/lib/string.h"
#include "kernel/object/vspace.h"
#include "kernel/sched/scheduler.h"
#include "kernel/sched/timeout.h"
#include "kernel/trace/trace.h"

#include <hal/test_hooks.h>

namespace kernel {

namespace {

constexpr uint64_t kPage = hal::kPageSize;

bool g_fastpath = true;
uint64_t g_fastpath_count = 0;

// The frame behind user address `va` (which is mapped).
hal::paddr_t frame_of(VSpace* vs, uint64_t va) {
    Mapping* m = vs->find(va);
    return m->vmo->page((m->offset + (va - m->va)) / kPage);
}

// True if the two ranges (each at most a message long) share a frame.
bool share_frames(VSpace* a, uint64_t ava, VSpace* b, uint64_t bva, uint64_t len) {
    for (uint64_t x = align_down(ava, kPage); x < ava + len; x += kPage)
        for (uint64_t y = align_down(bva, kPage); y < bva + len; y += kPage)
            if (frame_of(a, x) == frame_of(b, y))
                return true;
    return false;
}

}  // namespace

void ipc_block(Thread& self, IpcWait wait, KObject* object, WaitQueue* queue) {
    scheduler().deschedule(&self, ThreadState::kBlocked);
    self.ipc.wait = wait;
    self.ipc.object = object;
    if (queue)
        queue->push_back(&self);
}

void ipc_wake(Thread* t, Status status, uint64_t out0, uint32_t direct_cpu) {
    hal::UserRegs& r = t->entry_regs();
    r.rax = static_cast<uint64_t>(static_cast<int64_t>(status));
    if (status == ANVIL_OK)
        r.rdx = out0;
    t->ipc.wait = IpcWait::kNone;
    t->ipc.object = nullptr;
    deadline_cancel(*t);  // a signal that comes first ends a timed wait
    trace_event(trace::Kind::k_wake, t->id(), trace_zigzag(status), status == ANVIL_OK ? out0 : 0);
    if (direct_cpu != kNoCpu && hal::test_hook(hal::TestHook::kIpcHandoff))
        direct_cpu = kNoCpu;  // a test's changed decision: queue it instead
    if (direct_cpu != kNoCpu && scheduler().handoff(direct_cpu, t)) {
        ++g_fastpath_count;
        return;
    }
    scheduler().make_runnable(t);
}

void ipc_set_fastpath(bool on) { g_fastpath = on; }
bool ipc_fastpath_enabled() { return g_fastpath; }
bool ipc_fast_message(uint32_t len, uint32_t ncaps) { return g_fastpath && ncaps == 0 && len <= kIpcFastBytes; }
uint64_t ipc_fastpath_count() { return g_fastpath_count; }

// Normally this is the single copy, frame to frame; if the two ranges share
// memory (one address space, or a shared VMO) it goes through a kernel buffer
// so an overlap cannot corrupt it.
void ipc_copy(VSpace* src, uint64_t sva, VSpace* dst, uint64_t dva, uint64_t len) {
    if (len && share_frames(src, sva, dst, dva, len)) {
        uint8_t bounce[ANVIL_MSG_MAX_BYTES];
        already_checked(src->copy_in(bounce, sva, len));
        already_checked(dst->copy_out(dva, bounce, len));
        return;
    }
    while (len) {
        Mapping* ms = src->find(sva);
        Mapping* md = dst->find(dva);
        const uint64_t soff = ms->offset + (sva - ms->va), doff = md->offset + (dva - md->va);
        uint64_t chunk = kPage - soff % kPage;
        if (kPage - doff % kPage < chunk)
            chunk = kPage - doff % kPage;
        if (len < chunk)
            chunk = len;
        const auto* s = static_cast<const uint8_t*>(hal::phys_to_virt(ms->vmo->page(soff / kPage))) + soff % kPage;
        auto* d = static_cast<uint8_t*>(hal::phys_to_virt(md->vmo->page(doff / kPage))) + doff % kPage;
        mem_copy(d, s, chunk);
        sva += chunk;
        dva += chunk;
        len -= chunk;
    }
}

}  // namespace kernel
