// The kernel's clock and the threads waiting with a deadline on it.
//
// The clock counts timer interrupts: every one any CPU takes (on_timer)
// advances it by one tick. A CPU running a thread takes one per quantum (the
// simulator's --quantum blocks of virtual time, the LAPIC's 10 ms on x86_64);
// an idle x86_64 CPU still takes its ticks (it halts with interrupts on); when
// every simulated vCPU is idle the simulator delivers the ticks that end the
// nearest deadline (kernel/introspect.h, next_deadline_in). It is the same
// clock on both backends, advanced only by kernel entries, so a recorded run
// replays it exactly.
#pragma once

#include "kernel/lib/list.h"
#include "kernel/object/thread.h"

#include <stdint.h>

namespace kernel {

// Ticks so far.
uint64_t clock_ticks();

// Puts `t` (just blocked in a notification wait) on the deadline list, to be
// woken with TIMED_OUT `ticks` ticks from now (ticks > 0).
void deadline_arm(Thread& t, uint64_t ticks);
// Takes `t` off the deadline list if it is on it (its wait ended otherwise).
void deadline_cancel(Thread& t);
// One tick: advances the clock and wakes every thread whose deadline it reaches,
// earliest first, with TIMED_OUT.
void clock_tick();

// Ticks until the nearest deadline (at least 1), or 0 if no thread waits with one.
uint64_t next_deadline_in();

// The threads waiting with a deadline, nearest first (for the invariant checker).
using DeadlineList = List<Thread, &Thread::deadline_link>;
DeadlineList& deadline_waiters();

}  // namespace kernel
