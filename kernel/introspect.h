// The kernel as the code around it sees it: the one kernel header that the
// simulator (sim/), the debugger and trace tools (replay/), the fuzz harnesses,
// the host tools and the tests include. It names what they may read or drive
// from the outside, so a change to anything else in kernel/ is the kernel's
// own business. Besides it they use the ABI (<anvil/*.h>), the HAL
// (<hal/*.h>, the entry points in <hal/kernel_entry.h>) and the trace format
// (kernel/trace/events.h). tests/tools/boundaries.sh checks that nothing
// outside kernel/ and the kernel's own backend includes any other kernel header.
#pragma once

// Kernel objects and their state: what the debugger shows (threads, run
// queues, endpoints, notifications, caps, mappings), what the follower and the
// tests read, and the objects the unit tests build and check.
#include "kernel/cap/cap.h"
#include "kernel/object/cnode.h"
#include "kernel/object/device.h"
#include "kernel/object/endpoint.h"
#include "kernel/object/notification.h"
#include "kernel/object/object.h"
#include "kernel/object/thread.h"
#include "kernel/object/vmo.h"
#include "kernel/object/vspace.h"
#include "kernel/sched/scheduler.h"
// The clock and its deadlines: the simulator advances an idle machine to the
// nearest one (next_deadline_in).
#include "kernel/sched/timeout.h"
#include "kernel/vm/frame_alloc.h"

// The invariant checker run between kernel entries (--check-invariants).
#include "kernel/check/invariants.h"

// IPC's fast-path switch and counters, and the syscall dispatcher and typed
// handlers the unit tests call.
#include "kernel/ipc/ipc.h"
#include "kernel/syscall/syscall.h"

// The recorder: the register hash a user_at record carries, which the
// follower computes too.
#include "kernel/trace/trace.h"

// The boot parsers (newc CPIO, ELF), which the debugger, the fuzzers and
// tools/cpu_floor run on the host as they are, and the page arithmetic the
// ELF fuzzer checks their results with.
#include "kernel/boot/cpio.h"
#include "kernel/boot/elf.h"
#include "kernel/lib/string.h"
