/* The userspace test suite: runs as the main service of a test initramfs (init
 * starts the name server and the IO server first), on both backends.
 * Each test exercises the ABI from ring 3; more arrive with each kernel issue.
 * The tests of each area live in <area>_tests.c, each declared once with
 * DEFINE_TEST; they run in the order the program is linked
 * (userspace/CMakeLists.txt), each file's in the order they are written. */
#include "tests.h"

#include <anvil/process.h>
#include <anvil/services.h>
#include <stdio.h>
#include <string.h>

const char kReadOnly[16] = "read-only data";
uint64_t g_initramfs_size;

DEFINE_TEST("abi.debug_write", test_debug_write_ok)
{
    CHECK_STATUS(anvil_debug_write("", 0), ANVIL_OK);
    CHECK_STATUS(anvil_debug_write("  (debug_write reaches the console)\n", 36), ANVIL_OK);
    return 0;
}

DEFINE_TEST("abi.debug_write_bad_pointers", test_debug_write_bad_pointers)
{
    CHECK_STATUS(anvil_debug_write(UNMAPPED_VA, 4), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_debug_write(KERNEL_VA, 4), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_debug_write(NONCANONICAL_VA, 4), ANVIL_ERR_FAULT);
    /* A range that starts mapped and runs off the end of the mapping. */
    CHECK_STATUS(anvil_debug_write(kReadOnly, 1ull << 40), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_debug_write((const char *)0x00007fffffffff00ull, 0x1000), ANVIL_ERR_FAULT);
    return 0;
}

DEFINE_TEST("abi.unknown_syscall", test_unknown_syscall)
{
    uint64_t a[ANVIL_SYSCALL_MAX_ARGS] = {0}, o[ANVIL_SYSCALL_MAX_OUTS];
    CHECK_STATUS(anvil_syscall_raw(ANVIL_SYS_COUNT, a, o), ANVIL_ERR_NOT_SUPPORTED);
    CHECK_STATUS(anvil_syscall_raw(0xffffffffffffffffull, a, o), ANVIL_ERR_NOT_SUPPORTED);
    return 0;
}

/* After `syscall`, rcx holds the return rip and r11 the user rflags: a 32-bit
 * value, zero-extended. The upper half must never carry anything (the
 * simulator once leaked host stack bytes there). */
DEFINE_TEST("abi.syscall_clobbers", test_syscall_clobbers)
{
    uint64_t rax = ANVIL_SYS_thread_yield, rcx, r11;
    __asm__ volatile("syscall\n\tmovq %%r11, %2"
                     : "+a"(rax), "=c"(rcx), "=r"(r11)
                     :
                     : "rdx", "r10", "r11", "memory");
    CHECK_STATUS((anvil_status_t)rax, ANVIL_OK);
    CHECK((r11 >> 32) == 0);
    CHECK(r11 & 0x200); /* IF: user threads always run with interrupts on */
    CHECK(rcx != 0);    /* the return address */
    return 0;
}

/* Every register the ABI says is preserved survives a syscall. */
DEFINE_TEST("abi.registers_preserved", test_registers_preserved)
{
    uint64_t in[9] = {0x1111111111111111ull, 0x2222222222222222ull, 0x3333333333333333ull,
                      0x4444444444444444ull, 0x5555555555555555ull, 0x6666666666666666ull,
                      0x7777777777777777ull, 0x8888888888888888ull, 0x9999999999999999ull};
    uint64_t out[9] = {0};
    uint64_t *pin = in, *pout = out; /* rax and rcx are consumed by the syscall */
    __asm__ volatile(
        "push %%rbp\n"
        "mov 0(%0), %%rbx\n"
        "mov 8(%0), %%rbp\n"
        "mov 16(%0), %%r12\n"
        "mov 24(%0), %%r13\n"
        "mov 32(%0), %%r14\n"
        "mov 40(%0), %%r15\n"
        "mov 48(%0), %%r8\n"
        "mov 56(%0), %%r9\n"
        "mov 64(%0), %%rsi\n"
        "push %1\n"
        "mov %2, %%eax\n"
        "syscall\n"
        "pop %%rdi\n"
        "mov %%rbx, 0(%%rdi)\n"
        "mov %%rbp, 8(%%rdi)\n"
        "mov %%r12, 16(%%rdi)\n"
        "mov %%r13, 24(%%rdi)\n"
        "mov %%r14, 32(%%rdi)\n"
        "mov %%r15, 40(%%rdi)\n"
        "mov %%r8, 48(%%rdi)\n"
        "mov %%r9, 56(%%rdi)\n"
        "mov %%rsi, 64(%%rdi)\n"
        "pop %%rbp\n"
        : "+a"(pin), "+c"(pout)
        : "i"(ANVIL_SYS_thread_yield)
        : "rbx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "memory");
    for (int i = 0; i < 9; i++)
        CHECK(out[i] == in[i]);
    return 0;
}

DEFINE_TEST("cap.info_self", test_cap_info_self)
{
    anvil_cap_info_t info;
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_CNODE, &info), ANVIL_OK);
    CHECK(info.type == ANVIL_OBJ_CNODE);
    CHECK(info.badge == 0);
    CHECK(info.object_id != 0);
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_VSPACE, &info), ANVIL_OK);
    CHECK(info.type == ANVIL_OBJ_VSPACE);
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, ANVIL_CAP_SELF_TCB, &info), ANVIL_OK);
    CHECK(info.type == ANVIL_OBJ_TCB);
    CHECK((info.rights & ANVIL_RIGHT_EXEC) == 0); /* EXEC only exists on VMOs */
    return 0;
}

DEFINE_TEST("cap.info_errors", test_cap_info_errors)
{
    anvil_cap_info_t info;
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, 0, &info), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, 200, &info), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, 100000, &info), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_VSPACE, 1, &info), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_cap_info(0, 1, &info), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, 1, UNMAPPED_VA), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, 1, KERNEL_VA), ANVIL_ERR_FAULT);
    /* The kernel must not write through a pointer to read-only memory. */
    CHECK_STATUS(anvil_cap_info(ANVIL_CAP_SELF_CNODE, 1, (anvil_cap_info_t *)kReadOnly), ANVIL_ERR_FAULT);
    CHECK(memcmp(kReadOnly, "read-only data", 15) == 0);
    return 0;
}

/* Unmaps the scratch region tests map into (a no-op after a passing test). */
static void unmap_scratch(void)
{
    anvil_vma_unmap(ANVIL_CAP_SELF_VSPACE, TEST_VA, TEST_SHARED_VA + PAGE - TEST_VA);
}

/* The value of `tests=` on the command line init passed on, or null. */
static const char *test_filter(void)
{
    static char filter[ANVIL_PROCESS_CMDLINE_MAX];
    const char *line = anvil_cmdline();
    for (const char *p = line; *p;) {
        while (*p == ' ')
            p++;
        size_t n = 0;
        while (p[n] && p[n] != ' ')
            n++;
        if (n > 6 && strncmp(p, "tests=", 6) == 0) {
            memcpy(filter, p + 6, n - 6);
            filter[n - 6] = '\0';
            return filter;
        }
        p += n;
    }
    return NULL;
}

int main(uint64_t start_arg)
{
    g_initramfs_size = start_arg;
    suite_cleanup = unmap_scratch;
    anvil_stdio_use_ioserver();
    const char *filter = test_filter();
    if (filter)
        printf("anvil userspace tests matching \"%s\"\n", filter);
    else
        printf("anvil userspace tests\n");
    return run_tests(filter);
}
