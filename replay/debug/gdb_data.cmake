# Builds GDB's data directory for anvil-debug's stub in ${OUT}: every entry of
# the system's (/usr/share/gdb, if gdb is installed) linked in, and
# syscalls/amd64-linux.xml replaced by Anvil's syscall table.
#   cmake -DOUT=build/gdb -DDEBUG=build/sim/anvil-debug -P gdb_data.cmake
set(system /usr/share/gdb)
file(MAKE_DIRECTORY ${OUT}/syscalls)
if(EXISTS ${system})
  file(GLOB entries RELATIVE ${system} ${system}/*)
  foreach(e ${entries})
    if(NOT e STREQUAL "syscalls" AND NOT EXISTS ${OUT}/${e})
      file(CREATE_LINK ${system}/${e} ${OUT}/${e} SYMBOLIC)
    endif()
  endforeach()
  file(GLOB calls RELATIVE ${system}/syscalls ${system}/syscalls/*)
  foreach(e ${calls})
    if(NOT e STREQUAL "amd64-linux.xml" AND NOT EXISTS ${OUT}/syscalls/${e})
      file(CREATE_LINK ${system}/syscalls/${e} ${OUT}/syscalls/${e} SYMBOLIC)
    endif()
  endforeach()
endif()
execute_process(COMMAND ${DEBUG} --gdb-syscalls-xml OUTPUT_FILE ${OUT}/syscalls/amd64-linux.xml
  RESULT_VARIABLE code)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "${DEBUG} --gdb-syscalls-xml failed (${code})")
endif()
