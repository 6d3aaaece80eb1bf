#!/usr/bin/env bash
# QEMU boot test: boots the ISO, checks that the serial log contains the expected
# text and that the kernel's exit code (through isa-debug-exit) is the expected one.
# EXPECTED may list several substrings separated by '|': each must appear, in order.
#
# usage: tests/qemu/boot_test.sh ISO EXPECTED EXPECTED_CODE [--smp N] [--timeout S] [--serial-input FILE]
#                                [-- QEMU_ARGS...]
# QEMU_ARGS go to QEMU through tools/qemu-run.sh (e.g. `-- -cpu max`).
set -uo pipefail

if [[ $# -lt 3 ]]; then
    echo "usage: $0 ISO EXPECTED EXPECTED_CODE [--smp N] [--timeout S] [--serial-input FILE] [-- QEMU_ARGS...]" >&2
    exit 2
fi
iso=$1
expected_text=$2
expected_code=$3
shift 3
smp=1
timeout_s=120
input=()
qemu_args=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --smp) smp=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --serial-input) input=(--serial-input "$2"); shift 2 ;;
    --) shift; qemu_args=(-- "$@"); break ;;
    *) echo "boot_test: unknown option $1" >&2; exit 2 ;;
    esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

"$root/tools/qemu-run.sh" "$iso" --smp "$smp" --timeout "$timeout_s" --serial-log "$log" "${input[@]}" "${qemu_args[@]}" >/dev/null
code=$?

fail=0
rest=$(tr -d '\0' <"$log")
# The userspace suite's closing line "N passed, N failed" with nothing passed or
# failed: the run's test filter matched nothing that ran. That never passes.
if [[ $rest =~ (^|[^0-9])0\ passed,\ 0\ failed ]]; then
    echo "boot_test: FAIL: the userspace test suite ran no test (\"0 passed, 0 failed\")" >&2
    fail=1
fi
IFS='|' read -r -a pieces <<<"$expected_text"
for piece in "${pieces[@]}"; do
    if [[ "$rest" != *"$piece"* ]]; then
        echo "boot_test: FAIL: serial output lacks \"$piece\" (after the earlier expected text)" >&2
        fail=1
        break
    fi
    rest=${rest#*"$piece"}
done
if [[ $code -ne $expected_code ]]; then
    echo "boot_test: FAIL: exit code $code, expected $expected_code" >&2
    fail=1
fi
if [[ $fail -ne 0 ]]; then
    echo "----- serial output ($(wc -c <"$log") bytes) -----" >&2
    cat "$log" >&2
    echo "----- end of serial output -----" >&2
    exit 1
fi
echo "boot_test: PASS (found \"$expected_text\", exit code $code)"
