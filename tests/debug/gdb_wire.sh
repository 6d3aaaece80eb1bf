# Sourced by the tests that speak the GDB remote protocol to anvil-debug --gdb
# themselves (gdb_interrupt.sh, gdb_protocol.sh), after start_stub (stub.sh):
# opens fd 3 to the stub and defines the helpers below.
exec 3<>"/dev/tcp/127.0.0.1/$port"

# checksum PAYLOAD: sets $sum to the sum of its bytes, mod 256.
checksum() {
    local payload=$1 i c
    sum=0
    for ((i = 0; i < ${#payload}; i++)); do
        printf -v c '%d' "'${payload:i:1}"
        sum=$(((sum + c) % 256))
    done
}
# One packet: $payload#checksum.
send() {
    checksum "$1"
    printf '$%s#%02x' "$1" "$sum" >&3
}
# The next byte from the stub into $byte; fails after 60 s.
next_byte() {
    IFS= read -r -N 1 -t 60 byte <&3 || { echo "FAILED: the stub sent nothing for 60 s"; cat "$stub_log"; exit 1; }
}
# The next packet's payload into $reply (acknowledgements before it skipped),
# the whole packet as sent into $raw_reply.
reply="" raw_reply=""
receive() {
    local c
    reply=""
    while next_byte; [[ $byte != '$' ]]; do :; done
    while next_byte; [[ $byte != '#' ]]; do reply+=$byte; done
    next_byte && c=$byte
    next_byte && c+=$byte
    raw_reply="\$$reply#$c"
}
failed=0
# check DESCRIPTION PATTERN: the last reply matches the pattern.
check() {
    if [[ $reply =~ $2 ]]; then
        echo "ok: $1 (${reply:0:40})"
    else
        echo "FAILED: $1: got '${reply:0:80}', want /$2/"
        failed=1
    fi
}
# check_true DESCRIPTION COMMAND...: the command succeeds.
check_true() {
    local what=$1
    shift
    if "$@"; then
        echo "ok: $what"
    else
        echo "FAILED: $what"
        failed=1
    fi
}
# Closes the connection, waits for the stub and reports (exit 1 on a failure).
finish() {
    exec 3>&-
    wait "$stub" || true
    trap - EXIT
    if [[ $failed != 0 ]]; then
        echo "--- stub output"
        cat "$stub_log"
        exit 1
    fi
    echo "$1: all checks passed"
}
