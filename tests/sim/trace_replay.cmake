# Record and replay in the simulator (docs/trace-format.md):
#  - the same seed twice gives byte-identical traces; another seed another trace;
#  - a trace replays identically (exit 0), also one of a run stopped by
#    --max-slices (the replay stops at the same slice);
#  - one changed kernel decision (the Nth IPC handoff refused) is reported at the
#    record where the runs part; one changed simulator decision (a slice one
#    block longer) is reported at that slice;
#  - corrupted, wrong-version and wrong-build traces are refused (traces cut
#    short replay their prefix: tests/sim/cut_traces.sh).
#   cmake -DSIM=... -DINITRAMFS=... -DDIR=... -P trace_replay.cmake
file(MAKE_DIRECTORY ${DIR})
function(sim out_var code_var)
  execute_process(COMMAND ${SIM} ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code TIMEOUT 100)
  set(${out_var} "${out}${err}" PARENT_SCOPE)
  set(${code_var} "${code}" PARENT_SCOPE)
endfunction()
function(expect_code what got want text)
  if(NOT got STREQUAL "${want}")
    message(FATAL_ERROR "${what}: exit ${got}, expected ${want}\n${text}")
  endif()
endfunction()

foreach(run a1 a2 b)
  set(seed 3)
  if(run STREQUAL "b")
    set(seed 4)
  endif()
  sim(out code --initramfs ${INITRAMFS} --seed ${seed} --record ${DIR}/${run}.atrace)
  expect_code("recording seed ${seed}" "${code}" 0 "${out}")
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${DIR}/a1.atrace ${DIR}/a2.atrace RESULT_VARIABLE same)
if(NOT same EQUAL 0)
  message(FATAL_ERROR "seed 3 recorded twice gave different traces")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${DIR}/a1.atrace ${DIR}/b.atrace RESULT_VARIABLE same)
if(same EQUAL 0)
  message(FATAL_ERROR "seeds 3 and 4 gave the same trace")
endif()
message("same seed: byte-identical traces; another seed: a different trace")

# Replays `trace`: exit 0 and the report that every record matched, the run
# having exited `run_code` again.
function(expect_identical_replay what trace run_code)
  sim(out code --replay ${trace} --initramfs ${INITRAMFS})
  expect_code("${what}" "${code}" 0 "${out}")
  string(FIND "${out}" "replay identical: every record of ${trace} matched (the run exited ${run_code})" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "${what}: no identical replay ending with exit ${run_code}:\n${out}")
  endif()
endfunction()

expect_identical_replay("exact replay" ${DIR}/a1.atrace 0)
message("replay: identical")

# A run cut short by --max-slices (exit 124) replays to the same end: the
# replay takes the limit from the trace.
sim(out code --initramfs ${INITRAMFS} --seed 3 --max-slices 700 --record ${DIR}/cut.atrace)
expect_code("recording with --max-slices" "${code}" 124 "${out}")
expect_identical_replay("replaying a run stopped by --max-slices" ${DIR}/cut.atrace 124)
message("replay of a run stopped by --max-slices: identical, exit 124 again")

# One changed kernel decision. Some refusals change nothing visible (the thread
# lands on the same CPU anyway); the first one that does must be reported at the
# record where the two runs part: at or just after the refusal.
set(diverged FALSE)
foreach(n RANGE 1 60)
  sim(out code --replay ${DIR}/a1.atrace --initramfs ${INITRAMFS} --perturb-handoff ${n})
  if(code EQUAL 120)
    string(REGEX MATCH "refused at record #([0-9]+)" m "${out}")
    set(refused ${CMAKE_MATCH_1})
    string(REGEX MATCH "diverged at record #([0-9]+)" m "${out}")
    set(at ${CMAKE_MATCH_1})
    if(refused STREQUAL "" OR at STREQUAL "")
      message(FATAL_ERROR "handoff ${n}: no refusal or divergence index in the report:\n${out}")
    endif()
    math(EXPR limit "${refused} + 8")
    if(at LESS refused OR at GREATER limit)
      message(FATAL_ERROR "handoff ${n} was refused at record #${refused} but the divergence is reported at #${at}:\n${out}")
    endif()
    foreach(line "expected: #${at} " "got:      #${at} " "records before it")
      string(FIND "${out}" "${line}" found)
      if(found EQUAL -1)
        message(FATAL_ERROR "the divergence report lacks '${line}':\n${out}")
      endif()
    endforeach()
    message("refused handoff #${n} (record #${refused}): divergence reported at record #${at}")
    set(diverged TRUE)
    break()
  endif()
  expect_code("replay with handoff ${n} refused" "${code}" 0 "${out}")
endforeach()
if(NOT diverged)
  message(FATAL_ERROR "no refused handoff among the first 60 changed the run")
endif()

# One changed simulator decision: slice K runs one block longer. A slice that
# ended in a syscall before its budget is unaffected; the first that changes
# must be reported as that slice, with one more block.
set(diverged FALSE)
foreach(k RANGE 1 60)
  sim(out code --replay ${DIR}/a1.atrace --initramfs ${INITRAMFS} --perturb-slice ${k})
  if(code EQUAL 120)
    string(REGEX MATCH "expected: #([0-9]+) slice cpu=([0-9]+) thread=([0-9]+) blocks=([0-9]+)" m "${out}")
    set(idx ${CMAKE_MATCH_1})
    set(blocks ${CMAKE_MATCH_4})
    if(idx STREQUAL "")
      message(FATAL_ERROR "slice ${k}: the divergence is not at a slice record:\n${out}")
    endif()
    math(EXPR more "${blocks} + 1")
    string(FIND "${out}" "got:      #${idx} slice cpu=${CMAKE_MATCH_2} thread=${CMAKE_MATCH_3} blocks=${more} " found)
    if(found EQUAL -1)
      message(FATAL_ERROR "slice ${k}: expected the same slice with ${more} blocks:\n${out}")
    endif()
    message("slice ${k} one block longer: divergence reported at record #${idx}")
    set(diverged TRUE)
    break()
  endif()
endforeach()
if(NOT diverged)
  message(FATAL_ERROR "no longer slice among the first 60 changed the run")
endif()

# Bad traces are refused with a message naming the problem (exit 2).
file(SIZE ${DIR}/a1.atrace size)
math(EXPR half "${size} / 2")
execute_process(COMMAND sh -c "cp '${DIR}/a1.atrace' '${DIR}/flipped.atrace' && printf '\\377' | dd of='${DIR}/flipped.atrace' bs=1 seek=${half} conv=notrunc status=none")
execute_process(COMMAND sh -c "cp '${DIR}/a1.atrace' '${DIR}/version.atrace' && printf '\\007' | dd of='${DIR}/version.atrace' bs=1 seek=8 conv=notrunc status=none")
execute_process(COMMAND sh -c "cp '${DIR}/a1.atrace' '${DIR}/build.atrace' && printf '\\125\\125' | dd of='${DIR}/build.atrace' bs=1 seek=16 conv=notrunc status=none")
execute_process(COMMAND sh -c "head -c 5000 /dev/urandom > '${DIR}/random.atrace'")
foreach(case "flipped;corrupt trace: the chunk at byte" "version;format version 7 is not supported"
             "build;recorded by kernel build" "random;not an Anvil trace")
  list(GET case 0 name)
  list(GET case 1 want)
  sim(out code --replay ${DIR}/${name}.atrace --initramfs ${INITRAMFS})
  expect_code("replaying the ${name} trace" "${code}" 2 "${out}")
  string(FIND "${out}" "${want}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "replaying the ${name} trace: expected '${want}' in:\n${out}")
  endif()
  message("${name} trace refused: ${want}")
endforeach()
