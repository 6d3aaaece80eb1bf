# The invariant checker end to end: a planted bug (--perturb-leak: one reference
# too many after the Nth syscall) stops a --check-invariants run with exit 119,
# names the broken invariant, keeps the trace and prints the replay command; that
# command reproduces the same violation at the same trace record.
#   cmake -DSIM=... -DINITRAMFS=... -DDIR=... -P invariants.cmake
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR})
execute_process(COMMAND ${SIM} --initramfs ${INITRAMFS} --check-invariants --perturb-leak 40 --seed 5
  WORKING_DIRECTORY ${DIR} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code TIMEOUT 100)
set(out "${out}${err}")
if(NOT code EQUAL 119)
  message(FATAL_ERROR "expected exit 119 from the planted bug, got ${code}:\n${out}")
endif()
string(REGEX MATCH "kernel invariant violated after a syscall \\(trace record #([0-9]+)[^\n]*" violation "${out}")
set(record ${CMAKE_MATCH_1})
if(NOT violation MATCHES "vspace [0-9]+ has [0-9]+ references but [0-9]+ caps and kernel references name it")
  message(FATAL_ERROR "no reference-count violation reported:\n${out}")
endif()
string(REGEX MATCH "replay it with: tools/anvil replay ([^ ]+) --check-invariants --perturb-leak 40" m "${out}")
set(trace ${CMAKE_MATCH_1})
if(trace STREQUAL "" OR NOT EXISTS ${DIR}/${trace})
  message(FATAL_ERROR "no kept trace or replay command:\n${out}")
endif()
message("caught: ${violation}")

execute_process(COMMAND ${SIM} --replay ${DIR}/${trace} --initramfs ${INITRAMFS} --check-invariants --perturb-leak 40
  OUTPUT_VARIABLE rout ERROR_VARIABLE rerr RESULT_VARIABLE rcode TIMEOUT 100)
set(rout "${rout}${rerr}")
if(NOT rcode EQUAL 119)
  message(FATAL_ERROR "the replay did not stop at the violation (exit ${rcode}):\n${rout}")
endif()
string(FIND "${rout}" "${violation}" same)
if(same EQUAL -1)
  message(FATAL_ERROR "the replay reported another violation than\n  ${violation}\n${rout}")
endif()
message("the replay stops at the same violation (trace record #${record})")

# Without the planted bug the same run is clean, and keeps no trace.
execute_process(COMMAND ${SIM} --initramfs ${INITRAMFS} --check-invariants --seed 5
  WORKING_DIRECTORY ${DIR}/.. OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code TIMEOUT 100)
if(NOT code EQUAL 0 OR EXISTS ${DIR}/../anvil-check-seed-5.atrace)
  message(FATAL_ERROR "a clean run failed the checker or kept its trace (exit ${code}):\n${out}${err}")
endif()
