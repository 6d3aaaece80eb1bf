/* Process entry: the kernel starts a program at _start with rsp 16-byte aligned
 * and rdi = the start argument (init also gets its command line in rsi).
 * Calls anvil_start(arg, cmdline), which never returns. */
    .section .text._start, "ax"
    .globl _start
    .type _start, @function
_start:
    xor %ebp, %ebp
    and $-16, %rsp
    call anvil_start
    ud2
    .size _start, . - _start
    .section .note.GNU-stack, "", @progbits
