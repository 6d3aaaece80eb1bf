#!/usr/bin/env bash
# Boots an Anvil ISO in QEMU (TCG) with COM1 on stdout and maps QEMU's exit
# status back to the kernel's: the kernel stops QEMU through isa-debug-exit,
# which exits with (code << 1) | 1.
#
# usage: tools/qemu-run.sh ISO [--smp N] [--timeout S] [--serial-log FILE]
#                          [--serial-input FILE] [--trace-file FILE] [-- QEMU_ARGS...]
# --serial-input FILE: COM1 receives FILE's bytes, starting once the guest has
#        written its first byte to COM1 (the kernel has set the UART up by then,
#        so no byte is lost to its FIFO reset). QEMU passes them on as the
#        UART's receive FIFO has room; after the last one the line stays idle.
#        Without it, COM1 receives nothing.
# --trace-file FILE: COM2 (0x2f8) is written to FILE, which is where the kernel
#        streams its trace when its command line has the word "trace" (see
#        docs/replay.md). COM1 stays on stdout.
# The CPU model is made from kernel/include/anvil/cpuid.h (tools/qemu_cpu.c),
# so user code sees the CPUID the simulator gives it; a -cpu after -- wins.
# exit:  the kernel's code (0..127); 124 if the timeout expired; 125 if QEMU
#        failed or stopped without going through isa-debug-exit (or is not
#        installed), or the CPU model could not be made; 2 for bad arguments
#        or files (before QEMU starts).
# -h, --help: this text.
set -uo pipefail

usage() {
    echo "usage: $0 ISO [--smp N] [--timeout S] [--serial-log FILE] [--serial-input FILE] [--trace-file FILE] [-- QEMU_ARGS...]" >&2
    exit 2
}

for arg in "$@"; do
    [[ $arg == -- ]] && break
    [[ $arg == -h || $arg == --help ]] && { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0; }
done
[[ $# -ge 1 ]] || usage
iso=$1
shift
smp=1
timeout_s=120
serial_log=
serial_input=
trace_file=
extra=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --smp) [[ $# -ge 2 && $2 =~ ^[0-9]{1,3}$ ]] || usage; smp=$2; shift 2 ;;
    --timeout) [[ $# -ge 2 && $2 =~ ^[0-9]{1,6}$ ]] || usage; timeout_s=$2; shift 2 ;;
    --serial-log) [[ $# -ge 2 ]] || usage; serial_log=$2; shift 2 ;;
    --serial-input) [[ $# -ge 2 ]] || usage; serial_input=$2; shift 2 ;;
    --trace-file) [[ $# -ge 2 && -n $2 ]] || usage; trace_file=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) usage ;;
    esac
done

[[ -f $iso ]] || { echo "qemu: no such ISO: $iso" >&2; exit 2; }
if [[ -n $serial_input && ! ( -f $serial_input && -r $serial_input ) ]]; then
    echo "qemu: cannot read the --serial-input file $serial_input (it must be a readable regular file)" >&2
    exit 2
fi
# QEMU's file backend truncates the file; creating it here first turns a bad
# path into a clear message instead of a QEMU failure.
if [[ -n $trace_file ]] && ! : >"$trace_file"; then
    echo "qemu: cannot write the --trace-file $trace_file" >&2
    exit 2
fi
qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || {
    echo "qemu: $qemu not found (apt-get install qemu-system-x86)" >&2
    exit 125
}

# The CPU model that gives user code anvil/cpuid.h's CPUID (QEMU has no CPUID
# faulting), made from the header by tools/qemu_cpu.c. One CPU per package:
# leaf 1 then holds no logical-processor count, as the table says.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model_dir=$(mktemp -d)
if ! ${CC:-cc} -std=c11 -I"$root/kernel/include" "$root/tools/qemu_cpu.c" -o "$model_dir/qemu-cpu" ||
    ! cpu_model=$("$model_dir/qemu-cpu"); then
    rm -rf "$model_dir"
    echo "qemu: cannot make the CPU model from kernel/include/anvil/cpuid.h (tools/qemu_cpu.c)" >&2
    exit 125
fi
rm -rf "$model_dir"

# The first -serial is COM1 (the console), the second COM2 (the trace).
cmd=("$qemu" -cdrom "$iso" -boot d -m 256M -smp "$smp,sockets=$smp" -cpu "$cpu_model" -display none -serial stdio)
[[ -n $trace_file ]] && cmd+=(-serial "file:$trace_file")
cmd+=(-no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 -accel tcg "${extra[@]}")
timeout_args=(-k 5 "$timeout_s")
if [[ -n $serial_input ]]; then
    # QEMU reads a FIFO that this script holds open read-write: opening it does
    # not block, and the guest never sees an end of input. The feeder writes FILE
    # into it once run_qemu has passed on the guest's first byte, through its own
    # open of the FIFO (QEMU makes its stdin non-blocking, and with it every fd
    # that shares the open).
    work=$(mktemp -d)
    feeder=
    trap '[[ -n $feeder ]] && kill "$feeder" 2>/dev/null; rm -rf "$work"' EXIT
    mkfifo "$work/rx" "$work/go"
    exec <>"$work/rx"
    (read -r _ <"$work/go"; exec cat -- "$serial_input" >"$work/rx") &
    feeder=$!
# Without a terminal QEMU must not read it; with one, timeout must leave QEMU in
# the foreground process group or reading the tty would stop it.
elif [[ -t 0 ]]; then
    timeout_args=(--foreground "${timeout_args[@]}")
else
    exec </dev/null
fi

# QEMU's exit status (through timeout), its COM1 output on stdout.
run_qemu() {
    if [[ -z $serial_input ]]; then
        timeout "${timeout_args[@]}" "${cmd[@]}"
        return
    fi
    timeout "${timeout_args[@]}" "${cmd[@]}" | { dd bs=1 count=1 status=none; echo >"$work/go"; exec cat; }
    return "${PIPESTATUS[0]}"
}

start=$SECONDS
if [[ -n $serial_log ]]; then
    run_qemu | tee "$serial_log"
    status=${PIPESTATUS[0]}
else
    run_qemu
    status=$?
fi

# 124: timeout's own status; a kill after the grace period shows as 137 instead.
if [[ $status -eq 124 ]] || { [[ $status -eq 137 ]] && (( SECONDS - start >= timeout_s )); }; then
    echo "qemu: timed out after $timeout_s s" >&2
    exit 124
fi
if (( status % 2 == 1 )); then
    exit $((status >> 1))
fi
if [[ $status -eq 0 ]]; then
    echo "qemu: exited without isa-debug-exit (guest reset or shut down, status 0)" >&2
else
    echo "qemu: failed with status $status" >&2
fi
exit 125
