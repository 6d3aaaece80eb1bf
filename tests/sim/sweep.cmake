# A short seed sweep of the race workload (tools/sweep.sh): the range holds
# failing and passing seeds, so the sweep exits 1, reports its progress and
# every failing seed, keeps a trace for each failing seed and none for a
# passing one, and one kept trace replays to the same lost update.
#   cmake -DSWEEP=tools/sweep.sh -DBUILD=<build dir> -DSIM=<anvil-sim>
#         -DINITRAMFS=<initramfs-race.cpio> -DDIR=<scratch dir> -DSEEDS=A..B -P sweep.cmake
string(REGEX MATCH "^([0-9]+)\\.\\.([0-9]+)$" range "${SEEDS}")
if(NOT range)
  message(FATAL_ERROR "SEEDS must be A..B, got '${SEEDS}'")
endif()
set(first ${CMAKE_MATCH_1})
set(last ${CMAKE_MATCH_2})
math(EXPR total "${last} - ${first} + 1")

# Bad arguments: a clear message and exit 2, before anything runs.
foreach(bad "--seeds;5..1" "--seeds;x" "--seeds;1..3;--workload;nope" "--seeds;1..3;--jobs;0"
            "--seeds;1..3;--workload;race;--tests;ipc.*" "--seeds;1..3;--max-slices;lots"
            "--seeds;1..3;--;--max-slices;5")
  execute_process(COMMAND bash ${SWEEP} --build ${BUILD} ${bad}
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code TIMEOUT 30)
  if(NOT code EQUAL 2 OR NOT err MATCHES "^sweep: ")
    message(FATAL_ERROR "sweep ${bad}: expected exit 2 and a 'sweep: ' message, got ${code}:\n${out}${err}")
  endif()
endforeach()

# A trace left by an earlier sweep for every seed: a passing seed's must go.
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR})
foreach(seed RANGE ${first} ${last})
  file(WRITE ${DIR}/seed-${seed}.atrace "stale")
endforeach()

execute_process(COMMAND bash ${SWEEP} --build ${BUILD} --seeds ${SEEDS} --jobs 2 --workload race --out ${DIR}
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code TIMEOUT 100)
message("${out}${err}")
if(NOT code EQUAL 1)
  message(FATAL_ERROR "expected the sweep to exit 1 (some seeds fail), got '${code}'")
endif()

# Progress: not a terminal, so one line per finished seed, in order.
string(REGEX MATCHALL "sweep: [0-9]+/${total} seeds, [0-9]+ failing\n" progress "${out}")
list(LENGTH progress nprogress)
if(NOT nprogress EQUAL total)
  message(FATAL_ERROR "expected ${total} progress lines, got ${nprogress}")
endif()
list(GET progress -1 final)
if(NOT final MATCHES "^sweep: ${total}/${total} seeds, ([0-9]+) failing")
  message(FATAL_ERROR "the last progress line is '${final}'")
endif()
set(nfailing ${CMAKE_MATCH_1})

# Summary: the count, then one line per failing seed with its status and a replay command.
if(NOT out MATCHES "sweep: ${nfailing} of ${total} seeds failed \\(race workload, seeds ${first}\\.\\.${last}\\)")
  message(FATAL_ERROR "no summary line for ${nfailing} failing seeds")
endif()
string(REGEX MATCHALL "  seed [0-9]+ exited [0-9]+: [^\n]*replay [^\n]*" lines "${out}")
list(LENGTH lines nlines)
if(NOT nlines EQUAL nfailing OR nfailing EQUAL 0 OR nfailing EQUAL total)
  message(FATAL_ERROR "expected failing and passing seeds, one summary line per failing seed; "
                      "${nfailing} failing, ${nlines} lines")
endif()
set(failing)
foreach(line IN LISTS lines)
  string(REGEX MATCH "seed ([0-9]+) exited ([0-9]+)" _ "${line}")
  if(NOT CMAKE_MATCH_2 EQUAL 1)
    message(FATAL_ERROR "a race run fails with exit 1 (lost updates), not: ${line}")
  endif()
  list(APPEND failing ${CMAKE_MATCH_1})
endforeach()

# A trace and a console log for each failing seed, nothing for a passing one.
foreach(seed RANGE ${first} ${last})
  list(FIND failing ${seed} at)
  if(at EQUAL -1)
    if(EXISTS ${DIR}/seed-${seed}.atrace OR EXISTS ${DIR}/seed-${seed}.log)
      message(FATAL_ERROR "seed ${seed} passed but ${DIR} still holds a trace or log for it")
    endif()
  else()
    file(READ ${DIR}/seed-${seed}.atrace magic LIMIT 8)
    if(NOT magic STREQUAL "ANVLTRC\n")
      message(FATAL_ERROR "${DIR}/seed-${seed}.atrace is not a trace")
    endif()
    file(READ ${DIR}/seed-${seed}.log log)
    if(NOT log MATCHES "race: lost [0-9]+ updates")
      message(FATAL_ERROR "the console log of failing seed ${seed} has no lost-update line")
    endif()
  endif()
endforeach()

# The first failing seed's trace replays identically, lost update included.
list(GET failing 0 seed)
file(READ ${DIR}/seed-${seed}.log recorded)
string(REGEX MATCH "race: lost [^\n]*" recorded_line "${recorded}")
execute_process(COMMAND ${SIM} --replay ${DIR}/seed-${seed}.atrace --initramfs ${INITRAMFS}
  OUTPUT_VARIABLE rout ERROR_VARIABLE rerr RESULT_VARIABLE rcode TIMEOUT 60)
message("replay of seed ${seed}:\n${rout}${rerr}")
if(NOT rcode EQUAL 0)
  message(FATAL_ERROR "replaying seed ${seed} exited ${rcode}, not 0 (identical)")
endif()
string(FIND "${rout}" "${recorded_line}" found)
if(found EQUAL -1)
  message(FATAL_ERROR "the replay of seed ${seed} did not print the recorded '${recorded_line}'")
endif()

# A bound the runs reach: each stops there (exit 124, named in the summary),
# and its trace replays to the same point.
file(REMOVE_RECURSE ${DIR}/bounded)
execute_process(COMMAND bash ${SWEEP} --build ${BUILD} --seeds ${first}..${first} --workload race --max-slices 200
                        --out ${DIR}/bounded
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code TIMEOUT 100)
message("${out}${err}")
if(NOT code EQUAL 1 OR NOT out MATCHES "seed ${first} exited 124 \\(stopped at --max-slices 200: ")
  message(FATAL_ERROR "a bounded sweep: expected seed ${first} to stop at the bound (exit 124), got ${code}")
endif()
execute_process(COMMAND ${SIM} --replay ${DIR}/bounded/seed-${first}.atrace --initramfs ${INITRAMFS}
  OUTPUT_VARIABLE rout ERROR_VARIABLE rerr RESULT_VARIABLE rcode TIMEOUT 60)
if(NOT rcode EQUAL 0 OR NOT rerr MATCHES "replay identical: .*\\(the run exited 124\\)")
  message(FATAL_ERROR "replaying the bounded run exited ${rcode}:\n${rout}${rerr}")
endif()
message("a bounded sweep: the run stopped at --max-slices and its trace replays to the same point")
