# Anvil's bootstrap libc (userspace/libc). Included by userspace/CMakeLists.txt.
# ANVIL_LIBC_SOURCES go into anvil_user_rt (freestanding, public names);
# anvil_libc_host is the same code built for the host with every public name
# prefixed anvil_libc_ (see libc_impl.h), for the Catch2 tests.
set(ANVIL_LIBC_DIR ${CMAKE_CURRENT_LIST_DIR})
set(ANVIL_LIBC_SOURCES
  ${ANVIL_LIBC_DIR}/string.c
  ${ANVIL_LIBC_DIR}/ctype.c
  ${ANVIL_LIBC_DIR}/malloc.c
  ${ANVIL_LIBC_DIR}/stdlib.c
  ${ANVIL_LIBC_DIR}/stdio.c
  ${ANVIL_LIBC_DIR}/float.c
  ${ANVIL_LIBC_DIR}/assert.c)

add_library(anvil_libc_host STATIC ${ANVIL_LIBC_SOURCES})
target_compile_definitions(anvil_libc_host PUBLIC ANVIL_LIBC_HOST)
target_include_directories(anvil_libc_host PUBLIC ${ANVIL_LIBC_DIR})
set_target_properties(anvil_libc_host PROPERTIES C_STANDARD 11 C_EXTENSIONS ON)
anvil_host_target(anvil_libc_host)
