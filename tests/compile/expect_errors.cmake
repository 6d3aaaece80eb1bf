# Compiles tests/compile/syscall_args.cpp once per case: case 0 (the right use)
# must compile without a warning, every other case (a misuse) must fail with an
# error that names it, so the test fails if the typed arguments stop catching one.
#   cmake -DCXX=c++ -DSOURCE=syscall_args.cpp "-DINCLUDES=dir|dir..." "-DWARNINGS=-Wall|..."
#         -P expect_errors.cmake

string(REPLACE "|" ";" includes "${INCLUDES}")
list(TRANSFORM includes PREPEND "-I")
string(REPLACE "|" ";" warnings "${WARNINGS}")
set(FLAGS -std=c++20 ${includes} ${warnings})

# CASE_<n>: a piece of the compiler's message for misuse n.
set(CASE_1 "has no member named 'arg'")
set(CASE_2 "UserPtr")
set(CASE_3 "Arg32")
set(CASE_4 "non-pointer type")
set(CASE_5 "nodiscard")
set(CASE_6 "nodiscard")
set(CASE_7 "has no member named 'out'")
set(CASES 1 2 3 4 5 6 7)

function(compile case result_var output_var)
  execute_process(COMMAND ${CXX} ${FLAGS} -Werror -fsyntax-only -DCASE=${case} ${SOURCE}
    RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  set(${result_var} ${result} PARENT_SCOPE)
  set(${output_var} "${out}" PARENT_SCOPE)
endfunction()

set(failures 0)
compile(0 result out)
if(NOT result EQUAL 0)
  message(SEND_ERROR "case 0 (the right use) does not compile:\n${out}")
  math(EXPR failures "${failures} + 1")
endif()
foreach(case IN LISTS CASES)
  compile(${case} result out)
  # GCC quotes with ‘’ in a UTF-8 locale and '' otherwise.
  string(REPLACE "‘" "'" out_ascii "${out}")
  string(REPLACE "’" "'" out_ascii "${out_ascii}")
  if(result EQUAL 0)
    message(SEND_ERROR "case ${case} (a misuse) compiles")
    math(EXPR failures "${failures} + 1")
  elseif(NOT out_ascii MATCHES "error:[^\n]*${CASE_${case}}")
    message(SEND_ERROR "case ${case} fails, but with no error naming \"${CASE_${case}}\":\n${out}")
    math(EXPR failures "${failures} + 1")
  else()
    message(STATUS "case ${case}: rejected as expected")
  endif()
endforeach()
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} case(s) failed")
endif()
