# Runs anvil-sim with exactly the given arguments and checks its exit status and
# that its output (stdout and stderr together) contains a text.
#   cmake -DSIM=... -DEXPECT=text -DEXPECT_CODE=N "-DARGS=a;b;c" -P run_sim_cli.cmake
execute_process(COMMAND ${SIM} ${ARGS}
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code TIMEOUT 50)
message("${out}${err}")
string(FIND "${out}${err}" "${EXPECT}" found)
if(found EQUAL -1)
  message(FATAL_ERROR "expected the output to contain '${EXPECT}'")
endif()
if(NOT code STREQUAL "${EXPECT_CODE}")
  message(FATAL_ERROR "expected exit status ${EXPECT_CODE}, got '${code}'")
endif()
