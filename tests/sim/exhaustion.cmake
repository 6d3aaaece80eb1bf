# The exhaustion workload (userspace/stress/exhaust.c) in the simulator: the
# kernel runs out of memory three times and gets it all back, while the name
# and IO servers keep answering; rounds 2 and 3 must reach the same counts, and
# the kernel's invariants hold after every kernel entry (creates refused half
# way through for want of memory included).
#   cmake -DSIM=<anvil-sim> -DINITRAMFS=<initramfs-exhaust.cpio> -P exhaustion.cmake
foreach(var SIM INITRAMFS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "exhaustion.cmake needs -D${var}=...")
  endif()
endforeach()

foreach(run "--seed;1" "--seed;2;--cpus;2")
  execute_process(COMMAND ${SIM} --initramfs ${INITRAMFS} --memory 64 --max-slices 5000000 --check-invariants ${run}
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code TIMEOUT 50)
  message("${out}${err}")
  if(NOT code STREQUAL "0")
    message(FATAL_ERROR "exhaust (${run}) exited '${code}', not 0 (1: rounds differ, 2: a call failed, "
                        "119: broken invariant, 126: kernel panic, 122: every thread blocked)")
  endif()
  # Each round: out of memory, the servers still answer, a thread still runs.
  foreach(round 1 2 3)
    foreach(line "exhaust: round ${round}: out of memory; the IO server still prints this"
                 "exhaust: round ${round}: the name server still answers"
                 "exhaust: round ${round}: a thread started with no memory left prints through the IO server"
                 "exhaust: round ${round}: [0-9]+ KiB anonymous memory in [0-9]+ regions \\(written and read back\\)")
      if(NOT out MATCHES "${line}")
        message(FATAL_ERROR "exhaust (${run}): no line matching '${line}'")
      endif()
    endforeach()
  endforeach()
  if(NOT out MATCHES "exhaust: rounds 2 and 3 match: [0-9]+ KiB of memory and [0-9]+ objects each time, nothing leaked"
     OR NOT out MATCHES "init: all services stopped; halting with code 0")
    message(FATAL_ERROR "exhaust (${run}): no closing line saying rounds 2 and 3 match")
  endif()
endforeach()
