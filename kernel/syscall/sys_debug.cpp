// debug_write: early-boot and test output straight to the kernel console.
#include "kernel/lib/format.h"
#include "kernel/object/thread.h"
#include "kernel/object/vspace.h"
#include "kernel/syscall/syscall.h"

#include <hal/hal.h>

namespace kernel {

namespace {
constexpr uint64_t kMaxDebugWrite = 64 * 1024;
}

Status sys_debug_write(Thread& self, const sys::debug_write_args& a, sys::debug_write_out&) {
    const uint64_t va = a.s.va(), len = a.len;
    if (len == 0)
        return ANVIL_OK;
    if (len > kMaxDebugWrite)
        return ANVIL_ERR_INVALID_ARG;
    if (!self.vspace()->range_allows(va, len, ANVIL_PERM_R))
        return ANVIL_ERR_FAULT;
    char chunk[256];
    for (uint64_t done = 0; done < len;) {
        const uint64_t n = len - done < sizeof chunk ? len - done : sizeof chunk;
        TRY(self.vspace()->copy_in(chunk, va + done, n));
        hal::console_write(chunk, n);
        done += n;
    }
    return ANVIL_OK;
}

}  // namespace kernel
