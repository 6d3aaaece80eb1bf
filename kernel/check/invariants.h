// The kernel's invariants, checked from the outside between kernel entries
// (the simulator's --check-invariants runs this after every entry). Portable:
// it reads kernel state only, never the HAL.
#pragma once

#include <stddef.h>

namespace kernel {

// Checks every invariant; on the first violation writes a one-line description
// into `why` (NUL-terminated) and returns false. Cost: linear in live objects,
// caps, mappings and queued threads.
//   - the derivation tree: links consistent both ways, a child names the same
//     object as its parent, never more rights, the same badge if the parent has one;
//   - reference counts: each object's count equals the caps naming it (not
//     counting a CNode's caps to itself, which hold no reference) plus the
//     kernel's own references (threads to their CNode, VSpace and fault endpoint,
//     mappings to their VMO, a bound IRQ to its notification);
//   - endpoints: each counts exactly the caps with READ that name it, and one
//     with none (closed) has no thread waiting on it;
//   - scheduling: every thread on exactly the queue its state implies (a run
//     queue, a CPU, an endpoint or notification queue, or none), run queues in
//     priority order with a consistent bitmap and count;
//   - deadlines: a thread is on the deadline list exactly when it waits in a
//     notification with a deadline, the list nearest first, no deadline passed;
//   - memory: every VMO page an allocated frame, the allocator's free count equal
//     to its bitmap, every mapping inside its VMO, page-aligned, in the user
//     range, sorted and disjoint.
bool check_invariants(char* why, size_t size);

// Checks run so far (for figures).
unsigned long long invariant_checks();

}  // namespace kernel
