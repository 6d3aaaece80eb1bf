// The x86_64 backend's answer to the kernel's test hooks (<hal/test_hooks.h>):
// never. A constant, so no hook point reaches kernel.elf.
#pragma once

namespace hal {

constexpr bool test_hook(TestHook) { return false; }

}  // namespace hal
