# Shrinking (tools/anvil shrink, anvil-shrink; docs/replay.md):
#  - a failing seed of the race demo shrinks to at most 3 essential vCPU
#    switches and at most 3 preemptions (issue #20's target), printed in
#    kernel terms; the shrunk trace replays identically and fails the same
#    way (exit 1), and the debugger runs it to its end;
#  - a failing PCT run of a planted depth-2 bug shrinks to at most 3 switches;
#  - a passing trace is not shrunk (exit 1); an existing output is not
#    overwritten and a missing trace is refused (exit 2).
#   cmake -DSIM=... -DSHRINK=... -DDEBUG=... -DRACE=... -DBUGS=... -DDIR=... -P shrink.cmake
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR})
function(run out_var code_var)
  execute_process(COMMAND ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code TIMEOUT 250)
  set(${out_var} "${out}${err}" PARENT_SCOPE)
  set(${code_var} "${code}" PARENT_SCOPE)
endfunction()
function(expect what text regex)
  if(NOT text MATCHES "${regex}")
    message(FATAL_ERROR "${what}: no match for '${regex}' in:\n${text}")
  endif()
endfunction()

# Sets `var` to the first seed of 1..`last` whose run (anvil-sim ARGN) exits 1,
# recorded to `trace`.
function(first_failing var last trace)
  foreach(s RANGE 1 ${last})
    run(out code ${SIM} ${ARGN} --seed ${s} --record ${trace})
    if(code EQUAL 1)
      set(${var} ${s} PARENT_SCOPE)
      return()
    endif()
  endforeach()
  message(FATAL_ERROR "no seed of 1..${last} fails: ${ARGN}")
endfunction()

# The first failing race seed of 1..10 (about half fail).
first_failing(seed 10 ${DIR}/race.atrace --initramfs ${RACE})
run(out code ${SHRINK} ${DIR}/race.atrace --out ${DIR}/race-shrunk.atrace --initramfs ${RACE})
if(NOT code EQUAL 0)
  message(FATAL_ERROR "shrinking race seed ${seed}: exit ${code}\n${out}")
endif()
expect("shrink of race seed ${seed}" "${out}" "([0-9]+) of the ([0-9]+) switches are essential")
string(REGEX MATCH "([0-9]+) of the ([0-9]+) switches are essential" m "${out}")
if(CMAKE_MATCH_1 GREATER 3 OR NOT CMAKE_MATCH_1 LESS CMAKE_MATCH_2)
  message(FATAL_ERROR "race seed ${seed}: ${CMAKE_MATCH_1} of ${CMAKE_MATCH_2} switches kept\n${out}")
endif()
set(kept ${CMAKE_MATCH_1})
set(total ${CMAKE_MATCH_2})
expect("shrink of race seed ${seed}" "${out}" "switches are essential: [0-3] preemptions \\([0-9]+ in user code, [0-9]+ at kernel entries\\)")
expect("shrink of race seed ${seed}" "${out}" "1\\. (preemption|switch|stay): ")
expect("shrink of race seed ${seed}" "${out}" "thread [0-9]+ between #[0-9]+ syscall cpu=")
run(out code ${SIM} --replay ${DIR}/race-shrunk.atrace --initramfs ${RACE})
if(NOT code EQUAL 0)
  message(FATAL_ERROR "replaying the shrunk race trace: exit ${code}\n${out}")
endif()
expect("replay of the shrunk trace" "${out}" "race: lost [0-9]+ updates")
expect("replay of the shrunk trace" "${out}" "replay identical: every record of .* matched \\(the run exited 1\\)")
file(WRITE ${DIR}/session.dbg "continue\nquit\n")
run(out code ${DEBUG} --trace ${DIR}/race-shrunk.atrace --initramfs ${RACE} --script ${DIR}/session.dbg)
expect("the shrunk trace in the debugger" "${out}" "the run has ended \\(the machine halted with code 1\\)")
message("race seed ${seed}: ${kept} of ${total} switches essential; the shrunk trace replays to the lost update")

# A planted depth-2 bug found by PCT: at most 3 essential switches.
first_failing(found 40 ${DIR}/lost.atrace --initramfs ${BUGS} --cmdline bug=lost-update --schedule pct --pct-depth 2
              --pct-steps 60)
run(out code ${SHRINK} ${DIR}/lost.atrace --out ${DIR}/lost-shrunk.atrace --initramfs ${BUGS})
expect("shrink of lost-update" "${out}" " [1-3] of the [0-9]+ switches are essential")
run(out code ${SIM} --replay ${DIR}/lost-shrunk.atrace --initramfs ${BUGS})
expect("replay of the shrunk lost-update" "${out}" "bugs: lost-update \\(depth 2\\) showed")
message("lost-update (PCT seed ${found}): shrunk to at most 3 switches, replays to the bug")

# Refusals.
run(out code ${SIM} --initramfs ${RACE} --seed 1000 --record ${DIR}/pass.atrace)
set(pass_code ${code})
run(out code ${SHRINK} ${DIR}/race.atrace --out ${DIR}/race-shrunk.atrace --initramfs ${RACE})
if(NOT code EQUAL 2)
  message(FATAL_ERROR "shrinking onto an existing file: exit ${code}, expected 2\n${out}")
endif()
expect("an existing --out" "${out}" "exists; remove it or name another --out")
run(out code ${SHRINK} ${DIR}/no-such.atrace --out ${DIR}/x.atrace)
if(NOT code EQUAL 2)
  message(FATAL_ERROR "shrinking a missing trace: exit ${code}, expected 2\n${out}")
endif()
if(pass_code EQUAL 0)
  run(out code ${SHRINK} ${DIR}/pass.atrace --out ${DIR}/pass-shrunk.atrace --initramfs ${RACE})
  if(NOT code EQUAL 1)
    message(FATAL_ERROR "shrinking a passing trace: exit ${code}, expected 1\n${out}")
  endif()
  expect("a passing trace" "${out}" "exited 0: there is no failure to keep")
endif()
message("refused: an existing output (2), a missing trace (2), a passing run (1)")
