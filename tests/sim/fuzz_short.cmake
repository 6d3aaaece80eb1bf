# A short run of the syscall fuzzer (userspace/fuzz/): a few seeds, each
# changing both the fuzzer's syscalls (fuzz.seed=N) and the simulator's
# interleaving (--seed N), on 4 down to 1 vCPUs, with the kernel's invariants
# checked after every kernel entry. Every run must exit 0 with the fuzzer's
# closing line and no failures; a kernel panic (126), a broken invariant (119),
# a hang (122, or 124 at the slice limit) or a failed check fails the test with
# the command that runs the seed again. A run is cut after 200 s of host time
# only as a safety net (a loaded machine took 60 s for one seed); a hang is
# the slice limit or every thread blocked, not the clock.
#   cmake -DSIM=<anvil-sim> -DINITRAMFS=<initramfs-fuzz.cpio> -DSEEDS=N -DOPS=N -P fuzz_short.cmake
foreach(var SIM INITRAMFS SEEDS OPS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "fuzz_short.cmake needs -D${var}=...")
  endif()
endforeach()

set(total 0)
foreach(seed RANGE 1 ${SEEDS})
  # 4, 3, 2, 1 vCPUs in turn: other interleavings, other preemptions.
  math(EXPR cpus "4 - (${seed} - 1) % 4")
  set(cmdline "fuzz.seed=${seed} fuzz.ops=${OPS}")
  execute_process(COMMAND ${SIM} --initramfs ${INITRAMFS} --seed ${seed} --cpus ${cpus} --max-slices 20000000
                          --check-invariants --cmdline ${cmdline}
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code TIMEOUT 200)
  set(replay "anvil-sim --initramfs ${INITRAMFS} --seed ${seed} --cpus ${cpus} --check-invariants "
             "--cmdline '${cmdline}'")
  string(REPLACE ";" "" replay "${replay}")
  string(REGEX MATCH "fuzz: ([0-9]+) syscalls, ([0-9]+) distinct \\(nr, status\\) pairs, ([0-9]+) failures"
         summary "${out}")
  if(NOT code STREQUAL "0" OR NOT summary)
    message("${out}${err}")
    message(FATAL_ERROR "fuzz seed ${seed} exited '${code}' (126: kernel panic, 119: broken invariant, "
                        "122: every thread blocked, 124: slice limit, 1: failed checks)${summary}; "
                        "run it again with: ${replay}")
  endif()
  set(calls ${CMAKE_MATCH_1})
  set(pairs ${CMAKE_MATCH_2})
  set(failures ${CMAKE_MATCH_3})
  if(NOT failures EQUAL 0)
    message("${out}${err}")
    message(FATAL_ERROR "fuzz seed ${seed}: ${failures} failures; run it again with: ${replay}")
  endif()
  # A fuzzer that stopped reaching the kernel's paths would still pass the
  # checks above: it must make its budget of calls and see most outcomes.
  if(calls LESS OPS OR pairs LESS 120)
    message("${out}${err}")
    message(FATAL_ERROR "fuzz seed ${seed}: only ${calls} syscalls and ${pairs} distinct (nr, status) pairs")
  endif()
  message("seed ${seed} (${cpus} vCPUs): ${summary}")
  math(EXPR total "${total} + ${calls}")
endforeach()
message("fuzz: ${SEEDS} seeds, ${total} syscalls, no failures")
