# Checks that every Catch2 test case runs under exactly one ctest entry named after it.
# catch_discover_tests makes one ctest entry per line of Catch2's list of test case
# names but (Catch2 2.x) splits a name at ';' (and CMake lists mishandle '[', ']' and
# '\'), so a test case with such a name never ran: its pieces became entries that
# matched no test case. For each group of entries (a ctest name prefix and the
# Catch2 test spec it was discovered with) this checks that
#   - no test case name holds one of those characters or leading/trailing blanks,
#   - the group's entries are exactly the prefixed names, each once,
#   - each entry's command selects exactly its own test case and carries the arguments
#     that make Catch2 fail when no test case runs (NO_TESTS_ARGS: 2.x `-w NoTests`;
#     3.x none, it fails such a run by default),
# and, once, that the command does fail when it selects nothing.
# LIST_ARGS are the arguments that list test case names, one a line (2.x
# `--list-test-names-only`, 3.x `--list-tests --verbosity quiet`).
#   cmake -DUNIT=anvil-unit-tests -DCTEST=ctest -DBUILD=build-dir "-DNO_TESTS_ARGS=-w;NoTests"
#         -DLIST_ARGS=--list-test-names-only -DGROUPS=N -DPREFIX_0=unit/ [-DSPEC_0=spec] ...
#         -P ctest_entries.cmake

# string(JSON) needs 3.19; this also sets the policies of that version (CMP0007).
cmake_minimum_required(VERSION 3.19)

set(failures 0)
macro(fail text)
  message(SEND_ERROR "${text}")
  math(EXPR failures "${failures} + 1")
endmacro()

# The test case names the spec selects, one per line ("\n"-framed, so any name but
# one holding a newline can be looked up with string(FIND)). Lists are avoided
# until the names are known to be free of ';', '[', ']' and '\'.
function(catch_names out_var spec)
  set(spec_args)
  if(NOT spec STREQUAL "")
    set(spec_args "${spec}")
  endif()
  execute_process(COMMAND ${UNIT} ${spec_args} ${LIST_ARGS}
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc MATCHES "^[0-9]+$")
    message(FATAL_ERROR "${UNIT} ${LIST_ARGS} failed (${rc}):\n${out}${err}")
  endif()
  set(${out_var} "\n${out}" PARENT_SCOPE)
endfunction()

catch_names(all "")
# Name by name, without lists: report every name that registration would break.
set(rest "${all}")
set(count 0)
while(NOT rest STREQUAL "\n" AND NOT rest STREQUAL "")
  string(SUBSTRING "${rest}" 1 -1 rest)
  string(FIND "${rest}" "\n" end)
  if(end EQUAL -1)
    string(LENGTH "${rest}" end)
  endif()
  string(SUBSTRING "${rest}" 0 ${end} name)
  string(SUBSTRING "${rest}" ${end} -1 rest)
  math(EXPR count "${count} + 1")
  if(name MATCHES "[][;\\\\]" OR name MATCHES "^[ \t]" OR name MATCHES "[ \t]$")
    fail("test case name \"${name}\" holds ';', '[', ']', a backslash or a leading or trailing \
blank: ctest registration splits or mangles it; rename the test case")
  endif()
endwhile()
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} test case name(s) cannot be registered with ctest")
endif()
if(count EQUAL 0)
  message(FATAL_ERROR "${UNIT} lists no test case")
endif()
message("${count} Catch2 test cases")

execute_process(COMMAND ${CTEST} --show-only=json-v1 WORKING_DIRECTORY ${BUILD}
  OUTPUT_VARIABLE json ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ctest --show-only=json-v1 in ${BUILD} failed (${rc}):\n${err}")
endif()
string(JSON ntests LENGTH "${json}" tests)
math(EXPR last_test "${ntests} - 1")
set(entry_names)
foreach(i RANGE ${last_test})
  string(JSON name GET "${json}" tests ${i} name)
  list(APPEND entry_names "${name}")
endforeach()

string(REPLACE ";" " " no_tests_args_text "${NO_TESTS_ARGS}")
math(EXPR last_group "${GROUPS} - 1")
set(checked_no_tests FALSE)
foreach(g RANGE ${last_group})
  set(prefix "${PREFIX_${g}}")
  catch_names(names "${SPEC_${g}}")
  string(REPLACE "\n" ";" wanted "${names}")
  list(REMOVE_ITEM wanted "")
  list(LENGTH wanted nwanted)
  set(seen "\n")
  set(nentries 0)
  string(LENGTH "${prefix}" prefix_len)
  set(i -1)
  foreach(entry IN LISTS entry_names)
    math(EXPR i "${i} + 1")
    string(FIND "${entry}" "${prefix}" at)
    if(NOT at EQUAL 0)
      continue()
    endif()
    math(EXPR nentries "${nentries} + 1")
    string(SUBSTRING "${entry}" ${prefix_len} -1 name)
    string(FIND "${names}" "\n${name}\n" known)
    string(FIND "${seen}" "\n${name}\n" again)
    if(known EQUAL -1)
      fail("ctest entry \"${entry}\" names no test case (Catch2 spec \"${SPEC_${g}}\")")
      continue()
    elseif(NOT again EQUAL -1)
      fail("ctest entry \"${entry}\" is registered twice")
      continue()
    endif()
    string(APPEND seen "${name}\n")
    # The entry's command, run to list what it selects instead of running it.
    string(JSON command GET "${json}" tests ${i} command)
    string(JSON nargs LENGTH "${command}")
    math(EXPR last_arg "${nargs} - 1")
    set(args)
    foreach(a RANGE ${last_arg})
      string(JSON arg GET "${command}" ${a})
      list(APPEND args "${arg}")
    endforeach()
    string(REPLACE ";" " " args_text "${args}")
    string(FIND "${args_text} " " ${no_tests_args_text} " has_no_tests)
    if(NOT no_tests_args_text STREQUAL "" AND has_no_tests EQUAL -1)
      fail("ctest entry \"${entry}\" lacks \"${no_tests_args_text}\": it would pass running no test case")
    endif()
    execute_process(COMMAND ${args} ${LIST_ARGS} OUTPUT_VARIABLE selected ERROR_VARIABLE err)
    if(NOT selected STREQUAL "${name}\n")
      fail("ctest entry \"${entry}\" selects, instead of its own test case:\n${selected}${err}")
    endif()
    # Once: the same command with a spec that matches nothing must fail.
    if(NOT checked_no_tests)
      set(checked_no_tests TRUE)
      list(GET args 0 exe)
      set(extra)
      if(nargs GREATER 2)
        list(SUBLIST args 2 -1 extra)
      endif()
      execute_process(COMMAND ${exe} "anvil: no such test case" ${extra}
        OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
      if(rc EQUAL 0)
        fail("\"${exe} 'anvil: no such test case' ${extra}\" ran no test case yet exited 0:\n${out}${err}")
      endif()
    endif()
  endforeach()
  foreach(name IN LISTS wanted)
    string(FIND "${seen}" "\n${name}\n" found)
    if(found EQUAL -1)
      fail("test case \"${name}\" has no ctest entry \"${prefix}${name}\"")
    endif()
  endforeach()
  message("\"${prefix}\": ${nentries} ctest entries for ${nwanted} test cases (spec \"${SPEC_${g}}\")")
endforeach()
if(NOT checked_no_tests)
  fail("no ctest entry ran a Catch2 test case")
endif()
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} problem(s) with the Catch2 ctest entries")
endif()
