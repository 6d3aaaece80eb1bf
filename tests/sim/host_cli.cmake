# The host tools' command lines (anvil-sim, anvil-debug, anvil-trace), one
# PART at a time:
#   args     bad arguments exit 2 with one line naming them (not CLI11's
#            104-115, inside init's range); numbers are read strictly: a seed
#            of -1 or 2^64 is refused, not wrapped or clamped; 010 is ten
#   files    files read whole are refused with exit 2 and a sentence naming the
#            file and the problem, before anything is read: a FIFO (which would
#            block), a device (/dev/zero would eat memory), an empty file, one
#            over the bound (a 300 MiB initramfs, 17 MiB of serial input);
#            anvil-trace diff exits 2 for a trace it cannot read whole
#   replay   a replay (anvil-sim --replay, anvil-debug --trace) names the run
#            options the trace overrides in a warning, and still replays
#   debug    anvil-debug's commands refuse negative and garbage numbers with a
#            message and do not move; a huge stepi runs on, never back
#   cmake -DPART=... -DSIM=... -DDEBUG=... -DTRACE_TOOL=... -DINITRAMFS=...
#         -DDBG_SCRIPT=... -DWORK=... -P host_cli.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(checks 0)

# check(NAME CODE COMMAND cmd... EXPECT text...): runs cmd; it must exit CODE
# within 100 s and print (stdout and stderr together) every text, literally.
function(check name code)
  cmake_parse_arguments(ARG "" "" "COMMAND;EXPECT" ${ARGN})
  execute_process(COMMAND ${ARG_COMMAND} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 100)
  if(NOT rc STREQUAL "${code}")
    message(FATAL_ERROR "${name}: exit '${rc}', expected ${code}\n${ARG_COMMAND}\n--- output\n${out}${err}")
  endif()
  foreach(text IN LISTS ARG_EXPECT)
    string(FIND "${out}${err}" "${text}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "${name}: expected '${text}' in:\n${out}${err}")
    endif()
  endforeach()
  math(EXPR n "${checks} + 1")
  set(checks ${n} PARENT_SCOPE)
  set(last_output "${out}${err}" PARENT_SCOPE)
endfunction()

if(PART STREQUAL "args")
  foreach(tool SIM DEBUG)
    set(exe ${${tool}})
    get_filename_component(name ${exe} NAME)
    set(run ${exe} --initramfs ${INITRAMFS})
    check("${name} --frobnicate" 2 COMMAND ${run} --frobnicate EXPECT "${name}: " "--frobnicate")
    check("${name} --cpus 0" 2 COMMAND ${run} --cpus 0 EXPECT "${name}: " "--cpus")
    check("${name} --cpus without a value" 2 COMMAND ${run} --cpus EXPECT "${name}: ")
    check("${name} --seed 2^64" 2 COMMAND ${run} --seed 18446744073709551616
      EXPECT "\"18446744073709551616\" is not a number from 0 to 18446744073709551615")
    check("${name} --seed -1" 2 COMMAND ${run} --seed -1 EXPECT "\"-1\" is not a number from 0 to")
    check("${name} --seed 12abc" 2 COMMAND ${run} --seed 12abc EXPECT "\"12abc\" is not a number")
    check("${name} --quantum -1" 2 COMMAND ${run} --quantum -1 EXPECT "\"-1\" is not a number")
    check("${name} --help" 0 COMMAND ${exe} --help EXPECT "--seed" "Exit status")
  endforeach()
  check("anvil-sim --max-slices -5" 2 COMMAND ${SIM} --initramfs ${INITRAMFS} --max-slices -5
    EXPECT "\"-5\" is not a number")
  check("anvil-sim --memory 10" 2 COMMAND ${SIM} --initramfs ${INITRAMFS} --memory 10 EXPECT "anvil-sim: " "--memory")
  check("anvil-sim without --initramfs" 2 COMMAND ${SIM} EXPECT "anvil-sim: --initramfs is required")
  # A seed is decimal: 010 is ten (CLI11 alone read it as octal 8).
  check("anvil-sim --seed 010" 124 COMMAND ${SIM} --initramfs ${INITRAMFS} --seed 010 --max-slices 1 --stats
    EXPECT "stats: seed 10 ")
  check("anvil-trace dump --from -1" 2 COMMAND ${TRACE_TOOL} dump x.atrace --from -1
    EXPECT "anvil-trace: " "\"-1\" is not a number")
  check("anvil-trace --frobnicate" 2 COMMAND ${TRACE_TOOL} --frobnicate EXPECT "anvil-trace: ")
  check("anvil-trace --help" 0 COMMAND ${TRACE_TOOL} --help EXPECT "pack" "Exit status")
  check("anvil-trace pack --help" 0 COMMAND ${TRACE_TOOL} pack --help EXPECT "--initramfs-search" "--kernel")
  check("anvil-trace pack without an output" 2 COMMAND ${TRACE_TOOL} pack x.atrace EXPECT "anvil-trace: " "out")
  check("anvil-trace pack of a missing trace" 2 COMMAND ${TRACE_TOOL} pack ${WORK}/no-such.atrace ${WORK}/out.apack
    EXPECT "anvil-trace: cannot read ${WORK}/no-such.atrace")
  if(EXISTS ${WORK}/out.apack)
    message(FATAL_ERROR "a refused pack wrote ${WORK}/out.apack")
  endif()

elseif(PART STREQUAL "files")
  find_program(MKFIFO mkfifo REQUIRED)
  find_program(TRUNCATE truncate REQUIRED)
  execute_process(COMMAND ${MKFIFO} ${WORK}/fifo RESULT_VARIABLE rc)
  file(WRITE ${WORK}/empty "")
  # Sparse: no disk space, and nothing reads them.
  execute_process(COMMAND ${TRUNCATE} -s 300M ${WORK}/big.cpio)
  execute_process(COMMAND ${TRUNCATE} -s 17M ${WORK}/big-input)
  foreach(tool SIM DEBUG)
    set(exe ${${tool}})
    get_filename_component(name ${exe} NAME)
    check("${name} --initramfs FIFO" 2 COMMAND ${exe} --initramfs ${WORK}/fifo
      EXPECT "${name}: cannot read the initramfs ${WORK}/fifo: it is not a regular file")
    check("${name} --initramfs /dev/zero" 2 COMMAND ${exe} --initramfs /dev/zero
      EXPECT "cannot read the initramfs /dev/zero: it is not a regular file")
    check("${name} --initramfs EMPTY" 2 COMMAND ${exe} --initramfs ${WORK}/empty
      EXPECT "cannot read the initramfs ${WORK}/empty: it is empty")
    check("${name} --initramfs 300 MiB" 2 COMMAND ${exe} --initramfs ${WORK}/big.cpio
      EXPECT "cannot read the initramfs ${WORK}/big.cpio: it is 300.0 MiB, more than the 128.0 MiB allowed (at most half of the 256 MiB of simulated memory, --memory)")
    check("${name} --serial-input FIFO" 2 COMMAND ${exe} --initramfs ${INITRAMFS} --serial-input ${WORK}/fifo
      EXPECT "cannot read serial input ${WORK}/fifo: it is not a regular file")
    check("${name} --serial-input EMPTY" 2 COMMAND ${exe} --initramfs ${INITRAMFS} --serial-input ${WORK}/empty
      EXPECT "cannot read serial input ${WORK}/empty: it is empty")
    check("${name} --serial-input 17 MiB" 2 COMMAND ${exe} --initramfs ${INITRAMFS} --serial-input ${WORK}/big-input
      EXPECT "cannot read serial input ${WORK}/big-input: it is 17.0 MiB, more than the 16.0 MiB allowed for serial input")
  endforeach()
  # With more memory the bound grows with it (half of 1024 MiB): the same file
  # is read and booted (and is no archive).
  check("anvil-sim --initramfs 300 MiB --memory 1024" 127 COMMAND ${SIM} --initramfs ${WORK}/big.cpio --memory 1024
    EXPECT "boot failed")
  check("anvil-sim --replay FIFO" 2 COMMAND ${SIM} --replay ${WORK}/fifo
    EXPECT "cannot read ${WORK}/fifo: it is not a regular file")
  check("anvil-sim --replay EMPTY" 2 COMMAND ${SIM} --replay ${WORK}/empty EXPECT "cannot read ${WORK}/empty: it is empty")
  check("anvil-debug --trace FIFO" 2 COMMAND ${DEBUG} --trace ${WORK}/fifo
    EXPECT "cannot read ${WORK}/fifo: it is not a regular file")
  check("anvil-debug --script /dev/zero" 2 COMMAND ${DEBUG} --initramfs ${INITRAMFS} --script /dev/zero
    EXPECT "anvil-debug: --script /dev/zero is a device; give a file of commands")
  check("anvil-trace dump FIFO" 2 COMMAND ${TRACE_TOOL} dump ${WORK}/fifo
    EXPECT "anvil-trace: cannot read ${WORK}/fifo: it is not a regular file")
  check("anvil-trace stats EMPTY" 2 COMMAND ${TRACE_TOOL} stats ${WORK}/empty EXPECT "it is empty")
  # diff: 0 the same, 1 different, 2 a trace it cannot read whole.
  check("record A" 0 COMMAND ${SIM} --initramfs ${INITRAMFS} --seed 1 --record ${WORK}/a.atrace)
  check("record B" 0 COMMAND ${SIM} --initramfs ${INITRAMFS} --seed 2 --record ${WORK}/b.atrace)
  check("diff A A" 0 COMMAND ${TRACE_TOOL} diff ${WORK}/a.atrace ${WORK}/a.atrace EXPECT "records: identical")
  check("diff A B" 1 COMMAND ${TRACE_TOOL} diff ${WORK}/a.atrace ${WORK}/b.atrace EXPECT "first difference")
  check("diff A EMPTY" 2 COMMAND ${TRACE_TOOL} diff ${WORK}/a.atrace ${WORK}/empty EXPECT "it is empty")
  check("diff A FIFO" 2 COMMAND ${TRACE_TOOL} diff ${WORK}/a.atrace ${WORK}/fifo EXPECT "not a regular file")
  check("diff A MISSING" 2 COMMAND ${TRACE_TOOL} diff ${WORK}/a.atrace ${WORK}/no-such.atrace EXPECT "cannot read")
  check("diff A NOT-A-TRACE" 2 COMMAND ${TRACE_TOOL} diff ${WORK}/a.atrace ${INITRAMFS} EXPECT "is not an Anvil trace")

elseif(PART STREQUAL "replay")
  check("record" 0 COMMAND ${SIM} --initramfs ${INITRAMFS} --seed 3 --cpus 4 --record ${WORK}/run.atrace)
  check("replay" 0 COMMAND ${SIM} --replay ${WORK}/run.atrace --initramfs ${INITRAMFS} EXPECT "replay identical")
  string(FIND "${last_output}" "warning" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "a replay without run options warned:\n${last_output}")
  endif()
  check("replay --seed 5 --cpus 2" 0
    COMMAND ${SIM} --replay ${WORK}/run.atrace --initramfs ${INITRAMFS} --seed 5 --cpus 2 --stats
    EXPECT "anvil-sim: warning: ignoring --seed, --cpus: a replay runs with the trace's seed and configuration"
           "replay identical" "stats: seed 3 cpus 4 ")
  check("replay --memory --cmdline --max-slices" 0
    COMMAND ${SIM} --replay ${WORK}/run.atrace --initramfs ${INITRAMFS} --memory 64 --cmdline x --max-slices 9
    EXPECT "warning: ignoring --memory, --max-slices, --cmdline:" "replay identical")
  file(WRITE ${WORK}/quit.dbg "where\nquit\n")
  check("anvil-debug --trace --seed 5" 0
    COMMAND ${DEBUG} --trace ${WORK}/run.atrace --initramfs ${INITRAMFS} --seed 5 --script ${WORK}/quit.dbg
    EXPECT "anvil-debug: warning: ignoring --seed: the trace's run has its own seed and configuration")

elseif(PART STREQUAL "debug")
  check("anvil-debug numbers" 0 COMMAND ${DEBUG} --initramfs ${INITRAMFS} --script ${DBG_SCRIPT}
    EXPECT "\"-1\" is not a number of instructions (1 or more)"
           "\"abc\" is not a number of instructions"
           "stepi steps 1 or more instructions"
           "\"18446744073709551616\" is not a number of instructions"
           "(anvil) delete abc\nusage: delete [N]"
           "  1: break syscall ipc_call"
           "(anvil) break event -1\nusage: break event N"
           "no syscall named \"-1\""
           "(anvil) break syscall ipc_call thread -2\nusage: break syscall NAME|NUMBER [thread T]"
           "(anvil) events -1\nusage: events [N]"
           "(anvil) thread -1\nusage: thread T"
           "(anvil) caps x\nusage: caps [T]"
           "(anvil) mem -1 16\nusage: mem ADDR LEN"
           "(anvil) mem 0x400000 -5\nusage: mem ADDR LEN"
           "(anvil) disas zz\nusage: disas [ADDR [N]]"
           "3 instructions into a slice"
           "ran no further: the run has ended")
  # The refused stepi commands did not move: the two `where` answers before
  # `stepi 3` are the same.
  string(REGEX MATCHALL "\\(anvil\\) where\n[^\n]*\n" wheres "${last_output}")
  list(LENGTH wheres n)
  if(n LESS 3)
    message(FATAL_ERROR "expected three `where` answers, got ${n}:\n${last_output}")
  endif()
  list(GET wheres 0 w0)
  list(GET wheres 1 w1)
  list(GET wheres 2 w2)
  if(NOT w0 STREQUAL w1)
    message(FATAL_ERROR "a refused stepi moved the debugger:\n${w0}vs\n${w1}")
  endif()
  # stepi 2^64-1 from 3 instructions into a slice runs on (it wrapped to one
  # instruction back before).
  string(FIND "${w2}" "2 instructions into" back)
  if(NOT back EQUAL -1)
    message(FATAL_ERROR "stepi 18446744073709551615 went back:\n${w2}")
  endif()
else()
  message(FATAL_ERROR "PART must be args, files, replay or debug (got '${PART}')")
endif()
if(checks EQUAL 0)
  message(FATAL_ERROR "no check ran")
endif()
message("${PART}: ${checks} checks passed")
