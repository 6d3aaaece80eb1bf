// The debugger's front ends, each driving a Timeline until its session ends:
// the command loop (command_loop.cpp) and the GDB remote server (gdb_server.cpp).
#pragma once

#include "replay/timeline.h"

namespace replay::debug {

// Runs the command loop until `quit` or the end of the commands; returns the
// exit status (0; 2 if the worker died).
int run_command_loop(Timeline& timeline);

// Serves the GDB remote protocol on 127.0.0.1:port until gdb detaches;
// returns the exit status.
int gdb_serve(Timeline& timeline, int port);

}  // namespace replay::debug
