# Flags for code that runs without a host OS: the kernel image and userspace.
# The host compiler targets x86-64 ELF already; these flags make it freestanding.
set(ANVIL_FREESTANDING_COMMON
  -ffreestanding -fno-stack-protector -fno-pic -fno-pie -mno-red-zone
  -fno-asynchronous-unwind-tables -fno-omit-frame-pointer -O2 -g
  -Wall -Wextra -Wno-unused-parameter)

# No absolute path of the checkout goes into kernel.elf or a user program (in
# __FILE__, the debug info, its compilation directories), so every checkout of
# a commit builds the same bytes and a trace recorded in one replays in another
# (docs/replay.md, "Traces from elsewhere"). Paths become relative to the tree
# (userspace/demo/tally.c; the build directory is build/ wherever it is), which
# gdb finds from the tree's top or with `directory` (tools/anvil debug --gdb
# prints it). tests/tools/no_paths.sh checks the built files.
set(ANVIL_PREFIX_MAP -ffile-prefix-map=${CMAKE_SOURCE_DIR}/= -ffile-prefix-map=${CMAKE_BINARY_DIR}/=build/)
list(APPEND ANVIL_FREESTANDING_COMMON ${ANVIL_PREFIX_MAP})

# The kernel: C++20, no exceptions/RTTI, general registers only (the x87/SSE/AVX
# registers hold the user thread's state, which the HAL saves and loads around
# user mode: the kernel never touches them), kernel code model for the higher half.
set(ANVIL_KERNEL_CXX_FLAGS
  ${ANVIL_FREESTANDING_COMMON}
  -mgeneral-regs-only -mcmodel=kernel -fno-exceptions -fno-rtti
  -fno-threadsafe-statics -fno-use-cxa-atexit -nostdlib)

# Userspace C: freestanding, static, non-PIE ELF64.
# Doubles and SSE as the x86-64 baseline has them: every user thread has its own
# x87/SSE/AVX state (hal::ExtState). assert() stays on in every build type (-UNDEBUG).
set(ANVIL_USER_C_FLAGS ${ANVIL_FREESTANDING_COMMON} -nostdlib -fno-builtin -std=gnu11 -UNDEBUG)
set(ANVIL_USER_LINK_FLAGS -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=0x1000)

# Applies the freestanding kernel flags to a target (sources compiled for kernel.elf).
function(anvil_kernel_freestanding target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:${ANVIL_KERNEL_CXX_FLAGS}>
    $<$<COMPILE_LANGUAGE:C>:${ANVIL_FREESTANDING_COMMON} -mgeneral-regs-only -mcmodel=kernel -nostdlib>
    $<$<COMPILE_LANGUAGE:ASM>:-fno-pic ${ANVIL_PREFIX_MAP}>)
endfunction()

# Applies the userspace flags to a target.
function(anvil_user_freestanding target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:C>:${ANVIL_USER_C_FLAGS}> $<$<COMPILE_LANGUAGE:ASM>:-fno-pic ${ANVIL_PREFIX_MAP}>)
endfunction()
