# anvil-debug in script mode, with checked output:
#  - `break syscall ipc_call` + `continue` stops at an ipc_call record, and
#    `syscall` decodes it by name with named arguments;
#  - `caps` lists the caller's CNode (slot, type, rights, badge, object, parent);
#  - `next` moves on; `prev` comes back to the very same state: `where` and
#    `caps` print exactly what they printed before `next`;
#  - `break event N` stops at record N; the run ends cleanly;
#  - `delete foo` is refused and the breakpoints stay;
#  - a trace recorded with anvil-sim debugs to the same state (--trace).
#   cmake -DDEBUG=... -DSIM=... -DINITRAMFS=... -DSCRIPT=... -DDIR=... -P debugger.cmake
file(MAKE_DIRECTORY ${DIR})
function(debug out_var)
  execute_process(COMMAND ${DEBUG} ${ARGN} --script ${SCRIPT}
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code TIMEOUT 100)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "anvil-debug exited ${code}:\n${out}${err}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()
# The text between "(anvil) CMD" and the next prompt.
function(answer out_var text cmd nth)
  set(rest "${text}")
  foreach(i RANGE ${nth})
    string(FIND "${rest}" "(anvil) ${cmd}\n" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "no answer #${nth} to '${cmd}' in:\n${text}")
    endif()
    string(LENGTH "(anvil) ${cmd}\n" len)
    math(EXPR at "${at} + ${len}")
    string(SUBSTRING "${rest}" ${at} -1 rest)
  endforeach()
  string(FIND "${rest}" "(anvil) " end)
  string(SUBSTRING "${rest}" 0 ${end} ans)
  set(${out_var} "${ans}" PARENT_SCOPE)
endfunction()
function(expect text what)
  string(REGEX MATCH "${what}" m "${text}")
  if(m STREQUAL "")
    message(FATAL_ERROR "expected /${what}/ in:\n${text}")
  endif()
endfunction()

debug(live --initramfs ${INITRAMFS} --seed 3)
answer(stop "${live}" "continue" 0)
expect("${stop}" "breakpoint: syscall ipc_call at #[0-9]+ syscall cpu=[0-9] thread=[0-9]+ ipc_call ep=0x")
answer(sys "${live}" "syscall" 0)
expect("${sys}" "ipc_call ep=0x[0-9a-f]+ req=0x[0-9a-f]+ reply=0x[0-9a-f]+")
answer(caps1 "${live}" "caps" 0)
expect("${caps1}" "slot type +rights +badge +object  derived from")
expect("${caps1}" "1 cnode +0x")
answer(where1 "${live}" "where" 0)
answer(next "${live}" "next" 0)
expect("${next}" "#[0-9]+ ")
answer(where2 "${live}" "where" 1)
answer(caps2 "${live}" "caps" 1)
if(NOT where1 STREQUAL where2 OR NOT caps1 STREQUAL caps2)
  message(FATAL_ERROR "prev did not return to the same state:\n--- before next\n${where1}${caps1}\n--- after prev\n${where2}${caps2}")
endif()
answer(threads "${live}" "threads" 0)
expect("${threads}" "thread state +cpu prio affinity  waiting")
answer(regs "${live}" "regs" 0)
expect("${regs}" "rip 0x[0-9a-f]+ rsp 0x")
answer(disas "${live}" "disas" 0)
expect("${disas}" "0x[0-9a-f]+: [a-z]+")
# Instructions: three forward, one more and one back lands on the same
# registers; back three more reaches the instruction before the first step.
answer(s3 "${live}" "stepi 3" 0)
expect("${s3}" "3 instructions into a slice of thread [0-9]+")
expect("${s3}" "  0x[0-9a-f]+: [a-z]+")
answer(regs3 "${live}" "regs" 1)
answer(regs3b "${live}" "regs" 2)
if(NOT regs3 STREQUAL regs3b)
  message(FATAL_ERROR "stepi + reverse-stepi did not come back to the same registers:\n${regs3}\nvs\n${regs3b}")
endif()
# Four back from four forward: the thread's pc where the stepping began (the
# first line `disas` showed there).
string(REGEX MATCH "0x[0-9a-f]+:" first_pc "${disas}")
answer(back "${live}" "reverse-stepi" 3)
expect("${back}" "  ${first_pc} ")
answer(ev "${live}" "continue" 1)
expect("${ev}" "breakpoint: event #400 at #400 ")
answer(end "${live}" "continue" 2)
expect("${end}" "the run has ended \\(the machine halted with code 0\\)")
# A bad argument is refused and changes nothing (it used to delete every breakpoint).
answer(bad_delete "${live}" "delete foo" 0)
expect("${bad_delete}" "usage: delete \\[N\\]")
answer(list "${live}" "break" 0)
expect("${list}" "  1: break fault")
message("live session: breakpoints, syscall decoding, caps, next/prev to the same state, event breakpoint, end, bad delete refused")

# The same run from a trace.
execute_process(COMMAND ${SIM} --initramfs ${INITRAMFS} --seed 3 --record ${DIR}/run.atrace
  OUTPUT_QUIET ERROR_QUIET RESULT_VARIABLE code TIMEOUT 100)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "recording failed (${code})")
endif()
debug(traced --trace ${DIR}/run.atrace --initramfs ${INITRAMFS})
answer(where_t "${traced}" "where" 0)
answer(caps_t "${traced}" "caps" 0)
if(NOT where_t STREQUAL where1 OR NOT caps_t STREQUAL caps1)
  message(FATAL_ERROR "the trace's run stopped elsewhere:\n${where_t}${caps_t}\nvs\n${where1}${caps1}")
endif()
string(FIND "${traced}" "diverged" div)
if(NOT div EQUAL -1)
  message(FATAL_ERROR "the traced run diverged:\n${traced}")
endif()
message("trace session: the same stops as the live run, no divergence")
