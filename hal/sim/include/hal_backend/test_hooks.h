// The simulator's answer to the kernel's test hooks (<hal/test_hooks.h>):
// hal/sim/test_hooks.cpp decides, by the plan anvil-sim set (hal/sim/test_hooks.h).
#pragma once

namespace hal {

bool test_hook(TestHook point);

}  // namespace hal
