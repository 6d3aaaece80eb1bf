# The PCT schedule (docs/scheduling.md), on the planted bugs (userspace/bugs):
#  - a PCT run is deterministic: the same seed twice gives byte-identical
#    traces, another seed another trace;
#  - its trace names the schedule and its parameters, and replays exactly
#    with nothing else given (a --schedule on the replay's command line is
#    ignored, with a warning);
#  - PCT finds lost-update (depth 2) in the seeds 1..40, where the random
#    schedule finds it in none: each failing run says the bug showed;
#  - bad schedule options are refused (exit 2).
#   cmake -DSIM=... -DTRACE=... -DINITRAMFS=... -DDIR=... -P pct.cmake
file(MAKE_DIRECTORY ${DIR})
function(sim out_var code_var)
  execute_process(COMMAND ${SIM} --initramfs ${INITRAMFS} ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err
                  RESULT_VARIABLE code TIMEOUT 100)
  set(${out_var} "${out}${err}" PARENT_SCOPE)
  set(${code_var} "${code}" PARENT_SCOPE)
endfunction()
function(expect what text needle)
  string(FIND "${text}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: no '${needle}' in:\n${text}")
  endif()
endfunction()
set(pct --cmdline bug=lost-update --schedule pct --pct-depth 2 --pct-steps 60)

# The first seed of 1..40 under which PCT shows the bug; random shows it in none.
set(failing "")
foreach(seed RANGE 1 40)
  sim(out code ${pct} --seed ${seed})
  if(code EQUAL 1)
    expect("PCT seed ${seed}" "${out}" "bugs: lost-update (depth 2) showed: an update of the balance was lost")
    if(failing STREQUAL "")
      set(failing ${seed})
    endif()
  elseif(NOT code EQUAL 0)
    message(FATAL_ERROR "PCT seed ${seed}: exit ${code}\n${out}")
  endif()
  sim(out code --cmdline bug=lost-update --seed ${seed})
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "random seed ${seed} showed lost-update (exit ${code}): the bug is not as rare as planted\n${out}")
  endif()
endforeach()
if(failing STREQUAL "")
  message(FATAL_ERROR "PCT did not show lost-update in seeds 1..40")
endif()
message("PCT showed lost-update first at seed ${failing}; random in none of seeds 1..40")

foreach(run a1 a2)
  sim(out code ${pct} --seed ${failing} --record ${DIR}/${run}.atrace)
  if(NOT code EQUAL 1)
    message(FATAL_ERROR "recording PCT seed ${failing}: exit ${code}\n${out}")
  endif()
endforeach()
sim(out code ${pct} --seed 1000 --record ${DIR}/b.atrace)
# Fails unless traces `a` and `b` are byte-identical (`want` 0) or differ (1).
function(expect_compare a b want why)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${a} ${b} RESULT_VARIABLE differ)
  if(NOT differ EQUAL want)
    message(FATAL_ERROR "${why}")
  endif()
endfunction()
expect_compare(${DIR}/a1.atrace ${DIR}/a2.atrace 0 "PCT seed ${failing} recorded twice gave different traces")
expect_compare(${DIR}/a1.atrace ${DIR}/b.atrace 1 "PCT seeds ${failing} and 1000 gave the same trace")

execute_process(COMMAND ${TRACE} stats ${DIR}/a1.atrace OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code)
expect("anvil-trace stats" "${out}${err}" "schedule pct (depth 2, 60 steps)")
sim(out code --replay ${DIR}/a1.atrace --schedule random)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "replaying the PCT trace: exit ${code}\n${out}")
endif()
expect("PCT replay" "${out}" "ignoring --schedule")
expect("PCT replay" "${out}" "bugs: lost-update (depth 2) showed")
expect("PCT replay" "${out}" "replay identical: every record of ${DIR}/a1.atrace matched (the run exited 1)")
message("PCT traces: deterministic, name their schedule, replay identically")

foreach(bad "--schedule;fair" "--schedule;pct;--pct-depth;0" "--schedule;pct;--pct-steps;0" "--pct-steps;-1")
  sim(out code --cmdline bug=lost-update ${bad})
  if(NOT code EQUAL 2)
    message(FATAL_ERROR "anvil-sim ${bad}: exit ${code}, expected 2\n${out}")
  endif()
endforeach()
message("bad schedule options: exit 2")
