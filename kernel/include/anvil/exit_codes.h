/* Exit statuses of an Anvil run and its tools: the one list (docs/exit-codes.md
 * explains each; a host test checks the doc has them all).
 *
 * A run exits with the code init exited with (0-118), or with one of these: the
 * kernel halts the machine with 125-127 on both backends, the simulator stops
 * with 119-124, and every tool exits 2 for a bad argument. */
#ifndef ANVIL_EXIT_CODES_H
#define ANVIL_EXIT_CODES_H

/* X(name, value, description). */
#define ANVIL_EXIT_CODES(X)                                                                  \
    X(ANVIL_EXIT_USAGE, 2, "bad arguments, or an input file that cannot be used")            \
    X(ANVIL_EXIT_INVARIANT, 119, "--check-invariants: a kernel invariant broke")             \
    X(ANVIL_EXIT_DIVERGED, 120, "--replay: the run diverged from the trace")                 \
    X(ANVIL_EXIT_EMULATOR_ERROR, 121, "emulator error")                                      \
    X(ANVIL_EXIT_IDLE, 122, "every vCPU is idle and no thread can ever run again")           \
    X(ANVIL_EXIT_CUT_SHORT, 123, "--replay: every record of a trace cut short replayed")     \
    X(ANVIL_EXIT_SLICE_LIMIT, 124, "--max-slices reached")                                   \
    X(ANVIL_EXIT_INIT_FAULTED, 125, "init faulted")                                          \
    X(ANVIL_EXIT_PANIC, 126, "kernel panic")                                                 \
    X(ANVIL_EXIT_BOOT_FAILED, 127, "boot failed: no init, or init is not a valid program")

#define ANVIL_EXIT_ENUM_ITEM(name, value, desc) name = (value),
enum { ANVIL_EXIT_CODES(ANVIL_EXIT_ENUM_ITEM) };
#undef ANVIL_EXIT_ENUM_ITEM

#endif /* ANVIL_EXIT_CODES_H */
