# Runs anvil-sim three times: twice with SEED_A, once with SEED_B. The two SEED_A
# runs must print the same console output and the same schedule digest; the
# SEED_B run must interleave differently (another digest). INITRAMFS runs the
# userspace suite; each run must pass at least one of its tests.
#   cmake -DSIM=... -DINITRAMFS=... -DSEED_A=1 -DSEED_B=2 [-DARGS=...] -P determinism.cmake
foreach(run a1 a2 b)
  if(run STREQUAL "b")
    set(seed ${SEED_B})
  else()
    set(seed ${SEED_A})
  endif()
  execute_process(COMMAND ${SIM} --initramfs ${INITRAMFS} --seed ${seed} --stats ${ARGS}
    OUTPUT_VARIABLE out_${run} ERROR_VARIABLE err_${run} RESULT_VARIABLE code_${run} TIMEOUT 100)
  string(REGEX MATCH "schedule_digest [0-9a-f]+" digest_${run} "${err_${run}}")
  if(NOT digest_${run})
    message(FATAL_ERROR "run ${run} (seed ${seed}) printed no schedule digest:\n${out_${run}}${err_${run}}")
  endif()
  # The workload is the userspace suite: two runs that tested nothing agree and prove nothing.
  if(NOT out_${run} MATCHES "(^|[^0-9])[1-9][0-9]* passed, [0-9]+ failed")
    message(FATAL_ERROR "run ${run} (seed ${seed}) passed no userspace test:\n${out_${run}}${err_${run}}")
  endif()
  message("seed ${seed}: ${digest_${run}}, exit ${code_${run}}")
endforeach()
if(NOT out_a1 STREQUAL out_a2)
  message(FATAL_ERROR "seed ${SEED_A} gave different console output in two runs:\n--- first\n${out_a1}\n--- second\n${out_a2}")
endif()
if(NOT digest_a1 STREQUAL digest_a2 OR NOT code_a1 STREQUAL code_a2)
  message(FATAL_ERROR "seed ${SEED_A} gave different schedules: ${digest_a1} vs ${digest_a2}")
endif()
if(digest_a1 STREQUAL digest_b)
  message(FATAL_ERROR "seeds ${SEED_A} and ${SEED_B} gave the same schedule (${digest_b})")
endif()
