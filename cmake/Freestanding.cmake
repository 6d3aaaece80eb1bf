# Flags for code that runs without a host OS: the kernel image and userspace.
# The host compiler targets x86-64 ELF already; these flags make it freestanding.
set(ANVIL_FREESTANDING_COMMON
  -ffreestanding -fno-stack-protector -fno-pic -fno-pie -mno-red-zone
  -fno-asynchronous-unwind-tables -fno-omit-frame-pointer -O2 -g
  -Wall -Wextra -Wno-unused-parameter)

# The kernel: C++20, no exceptions/RTTI, no SSE (the kernel never saves FPU state
# on entry), kernel code model for the higher half.
set(ANVIL_KERNEL_CXX_FLAGS
  ${ANVIL_FREESTANDING_COMMON}
  -mgeneral-regs-only -mcmodel=kernel -fno-exceptions -fno-rtti
  -fno-threadsafe-statics -fno-use-cxa-atexit -nostdlib)

# Userspace C: freestanding, static, non-PIE ELF64.
# User threads have no FPU/SSE state yet (the HAL saves general registers only).
# assert() stays on in every build type (-UNDEBUG).
set(ANVIL_USER_C_FLAGS ${ANVIL_FREESTANDING_COMMON} -mgeneral-regs-only -nostdlib -fno-builtin -std=gnu11 -UNDEBUG)
set(ANVIL_USER_LINK_FLAGS -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=0x1000)

# Applies the freestanding kernel flags to a target (sources compiled for kernel.elf).
function(anvil_kernel_freestanding target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:${ANVIL_KERNEL_CXX_FLAGS}>
    $<$<COMPILE_LANGUAGE:C>:${ANVIL_FREESTANDING_COMMON} -mgeneral-regs-only -mcmodel=kernel -nostdlib>
    $<$<COMPILE_LANGUAGE:ASM>:-fno-pic>)
endfunction()

# Applies the userspace flags to a target.
function(anvil_user_freestanding target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:C>:${ANVIL_USER_C_FLAGS}> $<$<COMPILE_LANGUAGE:ASM>:-fno-pic>)
endfunction()
