#!/usr/bin/env bash
# gdb's interrupt (Ctrl-C, the byte 0x03) during a continue, spoken to
# anvil-debug --gdb over the remote protocol directly (gdb in batch mode cannot
# press Ctrl-C). The program is the compute benchmark, which runs for about
# half a second without a syscall, so the interrupt, sent right after the
# continue, arrives while it runs: the stub must answer T02 (SIGINT), with the
# machine still there to read registers from and to continue to the end.
#   tests/debug/gdb_interrupt.sh ANVIL_DEBUG INITRAMFS WORK_DIR
set -euo pipefail
debug=$1 initramfs=$2 work=$3
mkdir -p "$work"
stub_log=$work/stub.log
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/stub.sh"
start_stub "$stub_log" "$debug" --initramfs "$initramfs"
exec 3<>"/dev/tcp/127.0.0.1/$port"

# One packet: $payload#checksum (the sum of the payload's bytes, mod 256).
send() {
    local payload=$1 sum=0 i c
    for ((i = 0; i < ${#payload}; i++)); do
        printf -v c '%d' "'${payload:i:1}"
        sum=$(((sum + c) % 256))
    done
    printf '$%s#%02x' "$payload" "$sum" >&3
}
# The next packet's payload (acknowledgements before it skipped); fails after 60 s.
reply=""
receive() {
    local c
    reply=""
    while IFS= read -r -N 1 -t 60 c <&3; do
        [[ $c == '$' ]] && break
    done || { echo "FAILED: no reply from the stub"; cat "$stub_log"; exit 1; }
    while IFS= read -r -N 1 -t 60 c <&3; do
        [[ $c == '#' ]] && break
        reply+=$c
    done
    IFS= read -r -N 2 -t 60 c <&3 || true  # the checksum
}
failed=0
check() {  # check DESCRIPTION PATTERN: the last reply matches the pattern
    if [[ $reply =~ $2 ]]; then
        echo "ok: $1 (${reply:0:40})"
    else
        echo "FAILED: $1: got '${reply:0:80}', want /$2/"
        failed=1
    fi
}

send QStartNoAckMode
receive
check "no-ack mode" '^OK$'
printf '+' >&3  # the acknowledgement of that OK, the last one
send '?'
receive
check "stopped at the start" '^T05'
send 'vCont;c'
printf '\003' >&3
receive
check "Ctrl-C during continue stops with SIGINT" '^T02thread:[0-9a-f]+;$'
send g
receive
check "registers read after the interrupt" '^[0-9a-fx]{32,}$'
send 'vCont;c'
receive
check "continue after the interrupt runs to the exit" '^W[0-9a-f]{2}$'
exec 3>&-
wait $stub || true
trap - EXIT
if [[ $failed != 0 ]]; then
    echo "--- stub output"; cat "$stub_log"
    exit 1
fi
echo "gdb interrupt: all checks passed"
