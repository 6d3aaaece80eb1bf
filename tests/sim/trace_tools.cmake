# anvil-trace on real recordings: records the default workload with two seeds,
# then checks dump, stats, diff and export --chrome, and their refusals.
#   cmake -DSIM=anvil-sim -DTOOL=anvil-trace -DINITRAMFS=... -DWORK=dir -P trace_tools.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(A ${WORK}/seed1.atrace)
set(B ${WORK}/seed2.atrace)

function(fail what)
  message(FATAL_ERROR "${what}")
endfunction()

# run(NAME EXPECTED-STATUS ARGS...): runs anvil-trace; output in NAME_out, NAME_err.
function(run name code)
  execute_process(COMMAND ${TOOL} ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 60)
  if(NOT rc STREQUAL "${code}")
    fail("anvil-trace ${ARGN}: exit ${rc}, expected ${code}\n--- stdout\n${out}\n--- stderr\n${err}")
  endif()
  set(${name}_out "${out}" PARENT_SCOPE)
  set(${name}_err "${err}" PARENT_SCOPE)
endfunction()

# expect(TEXT WHAT PATTERN...): every regex PATTERN must match TEXT. (A pattern
# holding '[' would stop CMake splitting the list: use '.' for it.)
function(expect text what)
  foreach(pattern ${ARGN})
    if(NOT text MATCHES "${pattern}")
      fail("${what}: no match for '${pattern}' in:\n${text}")
    endif()
  endforeach()
endfunction()

foreach(seed 1 2)
  execute_process(COMMAND ${SIM} --initramfs ${INITRAMFS} --seed ${seed} --record ${WORK}/seed${seed}.atrace
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 100)
  if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/seed${seed}.atrace)
    fail("recording seed ${seed} failed (exit ${rc}):\n${out}${err}")
  endif()
endforeach()

# dump: the header, syscalls by name with named arguments, the end record last.
run(dump 0 dump ${A})
expect("${dump_out}" "dump" "backend sim, [0-9]+ cpu\\(s\\)" "seed 1"
  "\n#[0-9]+ syscall cpu=[0-9]+ thread=[0-9]+ ipc_call ep=0x" "\n#[0-9]+ ipc endpoint=" "\n#[0-9]+ sched cpu=")
string(STRIP "${dump_out}" dump_stripped)
expect("${dump_stripped}" "dump's last line" "\n#[0-9]+ end code=0 records=[0-9]+ checksum=0x[0-9a-f]+$")
run(dump_some 0 dump ${A} --kind ipc,sched --from 10 --count 3)
string(REGEX MATCHALL "\n#[0-9]+ " lines "${dump_some_out}")
list(LENGTH lines n)
if(NOT n EQUAL 3 OR dump_some_out MATCHES "\n#[0-9]+ (syscall|slice|sysret)")
  fail("dump --kind ipc,sched --count 3 printed:\n${dump_some_out}")
endif()

# stats: the headings and a few figures.
run(stats 0 stats ${A})
expect("${stats_out}" "stats" "bytes per record" "virtual time: [0-9]+ basic blocks" "Records by kind:"
  "\n  syscall +[0-9]+" "Threads:" "CPUs:" "IPC pairs \\(sender -> receiver" "Syscalls by name:")

# diff: a trace against itself, and against another seed's run.
run(same 0 diff ${A} ${A})
expect("${same_out}" "diff of a trace with itself" "records: identical")
run(other 1 diff ${A} ${B})
expect("${other_out}" "diff of two seeds" "seed 1 / 2" "first difference at record #[0-9]+" "\n  A: #" "\n  B: #"
  "records: A has [0-9]+, B has [0-9]+")

# export --chrome: JSON with the events, valid if python3 can tell.
run(export 0 export --chrome ${A} -o ${WORK}/seed1.json)
if(NOT EXISTS ${WORK}/seed1.json)
  fail("export --chrome wrote no ${WORK}/seed1.json")
endif()
file(READ ${WORK}/seed1.json json)
expect("${json}" "export --chrome" "^{\"traceEvents\":." "\"ph\":\"X\"" "\"name\":\"cpu 0\"" "\"ph\":\"s\"" "\"ph\":\"f\""
  "\"name\":\"ipc_call\"" "\"time_axis\":\"virtual time")
find_program(PYTHON3 python3)
if(PYTHON3)
  execute_process(COMMAND ${PYTHON3} -m json.tool ${WORK}/seed1.json OUTPUT_QUIET ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    fail("export --chrome wrote invalid JSON: ${err}")
  endif()
else()
  message("python3 not found: the JSON was checked by pattern only")
endif()

# A trace cut short: dump prints every complete record, then a note (exit 3);
# diff compares what it holds and notes the cut.
find_program(HEAD head)
if(HEAD)
  execute_process(COMMAND ${HEAD} -c 5000 ${A} OUTPUT_FILE ${WORK}/cut.atrace RESULT_VARIABLE rc)
  run(cut 3 dump ${WORK}/cut.atrace)
  expect("${cut_out}" "dump of a cut trace" "\n#0 ")
  expect("${cut_err}" "dump of a cut trace" "cut.atrace: cut short after [0-9]+ records \\(they end at byte [0-9]+ of 5000\\)")
  run(cut_diff 1 diff ${A} ${WORK}/cut.atrace)
  expect("${cut_diff_out}" "diff with a cut trace" "the trace stops after")
  expect("${cut_diff_err}" "diff with a cut trace" "note: .*cut.atrace was cut short after")
endif()

# Refusals: one line naming the problem, exit 2.
run(missing 2 dump ${WORK}/no-such.atrace)
expect("${missing_err}" "a missing file" "cannot read .*no-such.atrace")
run(not_trace 2 stats ${WORK}/seed1.json)
expect("${not_trace_err}" "a file that is not a trace" "is not an Anvil trace")
run(bad_kind 2 dump ${A} --kind nosuch)
expect("${bad_kind_err}" "an unknown --kind" "no record kind \"nosuch\"")
run(no_format 2 export ${A} -o ${WORK}/x.json)
expect("${no_format_err}" "export without a format" "--chrome")
run(unknown 2 frobnicate)
expect("${unknown_err}" "an unknown command" "unknown command \"frobnicate\"")
message("anvil-trace: dump, stats, diff, export and refusals as expected")
