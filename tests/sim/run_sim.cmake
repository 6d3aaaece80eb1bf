# Runs anvil-sim on an initramfs and checks its console output and exit status.
#   cmake -DSIM=... -DINITRAMFS=... -DEXPECT=text -DEXPECT_CODE=N [-DARGS=...] -P run_sim.cmake
# EXPECT may list several substrings separated by '|': each must appear, in
# that order.
set(extra ${ARGS})  # a CMake list of extra anvil-sim arguments
execute_process(COMMAND ${SIM} --initramfs ${INITRAMFS} ${extra}
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code TIMEOUT 110)
message("${out}${err}")
# The userspace suite's closing line "N passed, N failed" with nothing passed or
# failed: the run's test filter matched nothing that ran. That never passes.
if(out MATCHES "(^|[^0-9])0 passed, 0 failed")
  message(FATAL_ERROR "the userspace test suite ran no test (\"0 passed, 0 failed\")")
endif()
string(REPLACE "|" ";" wanted "${EXPECT}")
set(rest "${out}")
foreach(piece IN LISTS wanted)
  string(FIND "${rest}" "${piece}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "expected console output to contain '${piece}' (after the earlier expected text)")
  endif()
  string(LENGTH "${piece}" piece_len)
  math(EXPR next "${found} + ${piece_len}")
  string(SUBSTRING "${rest}" ${next} -1 rest)
endforeach()
if(NOT code STREQUAL "${EXPECT_CODE}")
  message(FATAL_ERROR "expected exit status ${EXPECT_CODE}, got '${code}'")
endif()
