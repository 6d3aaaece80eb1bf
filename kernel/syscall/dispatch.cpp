#include "kernel/object/thread.h"
#include "kernel/object/vspace.h"
#include "kernel/syscall/syscall.h"
#include "kernel/trace/trace.h"

#include <hal/test_hooks.h>

namespace kernel {

namespace {

// A call's input registers, read in table order.
class ArgRegs {
public:
    explicit ArgRegs(const uint64_t* regs) : next_(regs) {}
    template <typename T>
    typename sys::ArgOf<T>::type next() {
        return typename sys::ArgOf<T>::type(*next_++);
    }

private:
    const uint64_t* next_;
};

#define ANVIL_KARG_DECODE(kind, type, name) ANVIL_PARAM_APPLY(ANVIL_KARG_DECODE_, kind, type, name)
#define ANVIL_KARG_DECODE_ANVIL_IN(t, n) .n = regs.next<t>(),
#define ANVIL_KARG_DECODE_ANVIL_OUT(t, n)
#define ANVIL_KARG_DECODE_ANVIL_VOID(t, n)
#define ANVIL_KOUT_ENCODE(kind, type, name) ANVIL_PARAM_APPLY(ANVIL_KOUT_ENCODE_, kind, type, name)
#define ANVIL_KOUT_ENCODE_ANVIL_IN(t, n)
#define ANVIL_KOUT_ENCODE_ANVIL_OUT(t, n) *outs++ = static_cast<uint64_t>(out.n);
#define ANVIL_KOUT_ENCODE_ANVIL_VOID(t, n)

// call_<name>: decodes the input registers `in` into sys::<name>_args (braced
// initializers run in order, so the registers are read in table order), calls
// sys_<name> and encodes its out values into `outs`, in table order.
#define ANVIL_DEFINE_CALL(num, name, wrap, ...)                                                  \
    Status call_##name(Thread& self, const uint64_t* in, uint64_t* outs) {                      \
        [[maybe_unused]] ArgRegs regs(in);                                                      \
        const sys::name##_args args{ANVIL_PP_MAP(ANVIL_KARG_DECODE, ANVIL_PP_NOTHING, __VA_ARGS__)}; \
        sys::name##_out out{};                                                                  \
        const Status status = sys_##name(self, args, out);                                      \
        ANVIL_PP_MAP(ANVIL_KOUT_ENCODE, ANVIL_PP_NOTHING, __VA_ARGS__)                           \
        return status;                                                                          \
    }
ANVIL_SYSCALLS(ANVIL_DEFINE_CALL)
#undef ANVIL_DEFINE_CALL

// Runs syscall `number`; NOT_SUPPORTED for a number the table does not have.
Status call(Thread& self, uint64_t number, const uint64_t* in, uint64_t* outs) {
    switch (number) {
#define ANVIL_DISPATCH_CASE(num, name, wrap, ...) \
    case num:                                     \
        return call_##name(self, in, outs);
        ANVIL_SYSCALLS(ANVIL_DISPATCH_CASE)
#undef ANVIL_DISPATCH_CASE
    }
    return ANVIL_ERR_NOT_SUPPORTED;
}

}  // namespace

void dispatch_syscall(Thread& self) {
    // The call may delete the caller's last TCB cap: keep it alive until its
    // result is written.
    self.retain();
    hal::UserRegs& r = self.entry_regs();
    const uint64_t number = r.rax;
    const uint64_t in[ANVIL_SYSCALL_MAX_ARGS] = {r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9, r.r12};
    uint64_t outs[ANVIL_SYSCALL_MAX_OUTS] = {0, 0};
    trace_event(trace::Kind::k_syscall, self.cpu(), self.id(), number, in[0], in[1], in[2], in[3], in[4], in[5],
                in[6]);
    const Status status = call(self, number, in, outs);
    const ThreadState st = self.state();
    // A blocked thread gets its result when it is woken.
    if (st != ThreadState::kExited && st != ThreadState::kFaulted && st != ThreadState::kBlocked) {
        r.rax = static_cast<uint64_t>(static_cast<int64_t>(status));
        if (status == ANVIL_OK) {
            r.rdx = outs[0];
            r.r10 = outs[1];
        }
        trace_event(trace::Kind::k_sysret, self.cpu(), self.id(), trace_zigzag(status), outs[0], outs[1]);
    }
    if (hal::test_hook(hal::TestHook::kSyscallDone) && self.vspace())
        self.vspace()->retain();  // a planted bug: a reference nobody holds
    self.release();
}

}  // namespace kernel
