# A gdb session against anvil-debug's stub (tests/debug/gdb.sh checks the
# output): break in a C function of userspace/demo/tally.c, read variables,
# catch a syscall by its Anvil name, step forward and back, run to the exit.
set pagination off
set confirm off
break tally
continue
print n
print total
continue
print total
catch syscall thread_yield
continue
continue
set $before = $pc
stepi
set $after = $pc
reverse-stepi
if $pc == $before && $after != $before
  echo CHECK reverse-stepi returned to the same pc\n
end
reverse-continue
reverse-continue
print total
delete
continue
