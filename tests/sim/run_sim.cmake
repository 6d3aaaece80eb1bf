# Runs anvil-sim on an initramfs and checks its console output and exit status.
#   cmake -DSIM=... -DINITRAMFS=... -DEXPECT=substring -DEXPECT_CODE=N [-DARGS=...] -P run_sim.cmake
set(extra ${ARGS})  # a CMake list of extra anvil-sim arguments
execute_process(COMMAND ${SIM} --initramfs ${INITRAMFS} ${extra}
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code TIMEOUT 50)
message("${out}${err}")
string(FIND "${out}" "${EXPECT}" found)
if(found EQUAL -1)
  message(FATAL_ERROR "expected console output to contain '${EXPECT}'")
endif()
if(NOT code STREQUAL "${EXPECT_CODE}")
  message(FATAL_ERROR "expected exit status ${EXPECT_CODE}, got '${code}'")
endif()
