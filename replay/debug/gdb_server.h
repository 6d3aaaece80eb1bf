// The GDB server's one connection (gdb_server.cpp), for the listener
// (gdb_listen.cpp, which front_end.h's gdb_serve is).
#pragma once

#include "replay/debug/programs.h"
#include "replay/timeline.h"

namespace replay::debug {

// Serves the gdb connected on `fd` until it detaches (*detached) or goes;
// false if the session must end with an error (the worker died).
bool serve_gdb_connection(Timeline& timeline, int fd, ProgramFiles& programs, bool* detached);

}  // namespace replay::debug
