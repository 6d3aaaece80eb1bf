#!/usr/bin/env bash
# Test hooks stay out of the shipped kernel (hal/include/hal/test_hooks.h):
# kernel.elf names no hook, hook counter or plan, while the simulator, built
# from the same kernel sources, has them (so the names looked for are the real
# ones, and the check can fail).
#   no_test_hooks.sh KERNEL_ELF ANVIL_SIM
set -uo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 KERNEL_ELF ANVIL_SIM" >&2; exit 2; }
kernel=$1 sim=$2
pattern='test_hook|TestHook|refused_handoff|leak_reference|refuse_handoff|perturb'

sim_names=$(nm -C "$sim" | grep -E "$pattern")
if [[ -z "$sim_names" ]]; then
    echo "FAILED: $sim names no test hook: the pattern ($pattern) looks for the wrong names"
    exit 1
fi
kernel_names=$(nm -C "$kernel" | grep -E "$pattern")
if [[ -n "$kernel_names" ]]; then
    echo "FAILED: $kernel holds test hook code or state:"
    echo "$kernel_names"
    exit 1
fi
echo "kernel.elf names none of the $(wc -l <<<"$sim_names") test hook symbols anvil-sim has:"
echo "$sim_names"
