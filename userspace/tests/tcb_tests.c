/* Thread calls from one process: tcb_configure's checks (priority above our
 * own, CPU, IPC buffer, types, rights, state), tcb_set_regs/get_regs, and a
 * second thread in our own address space that runs, is suspended and exits. */
#include "tests.h"

#include <string.h>

#define SELF ANVIL_CAP_SELF_CNODE
#define VS ANVIL_CAP_SELF_VSPACE
#define STACK_SIZE (16 * PAGE)

static volatile uint64_t g_thread_arg;
static volatile uint64_t g_thread_counter;
static volatile uint32_t g_thread_stop;

/* Entry of a thread that records its argument and exits. */
__attribute__((noreturn)) static void thread_record(uint64_t arg)
{
    g_thread_arg = arg;
    anvil_thread_exit(7);
}

/* Entry of a thread that counts until told to stop. */
__attribute__((noreturn)) static void thread_spin(uint64_t arg)
{
    (void)arg;
    while (!g_thread_stop) {
        g_thread_counter++;
        anvil_thread_yield();
    }
    anvil_thread_exit(0);
}

/* Creates a thread in our own process running `entry(arg)` on a stack from
 * vma_alloc, and starts it. */
static anvil_status_t start_thread(void (*entry)(uint64_t), uint64_t arg, anvil_cap_t *tcb, uint64_t *stack)
{
    anvil_status_t s = anvil_vma_alloc(VS, STACK_SIZE, ANVIL_PERM_R | ANVIL_PERM_W, stack);
    if (s != ANVIL_OK)
        return s;
    if ((s = anvil_tcb_create(tcb)) != ANVIL_OK)
        return s;
    if ((s = anvil_tcb_configure(*tcb, SELF, VS, 0, TEST_PRIORITY, ANVIL_CPU_ANY, 0)) != ANVIL_OK)
        return s;
    anvil_regs_t regs;
    memset(&regs, 0, sizeof regs);
    regs.rip = (uint64_t)(uintptr_t)entry;
    regs.rsp = *stack + STACK_SIZE - 8; /* as if called: rsp + 8 is 16-byte aligned */
    regs.rdi = arg;
    regs.rflags = 0x202;
    if ((s = anvil_tcb_set_regs(*tcb, &regs)) != ANVIL_OK)
        return s;
    return anvil_tcb_resume(*tcb);
}

DEFINE_TEST("tcb.configure", test_tcb_configure)
{
    anvil_cap_t t;
    CHECK_STATUS(anvil_tcb_create(&t), ANVIL_OK);
    anvil_cap_info_t info;
    CHECK_STATUS(anvil_cap_info(SELF, t, &info), ANVIL_OK);
    CHECK(info.type == ANVIL_OBJ_TCB && info.rights == (ANVIL_RIGHTS_ALL & ~ANVIL_RIGHT_EXEC));

    /* Never above our own priority (128); never above 255. */
    CHECK_STATUS(anvil_tcb_configure(t, SELF, VS, 0, TEST_PRIORITY + 1, ANVIL_CPU_ANY, 0), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_tcb_configure(t, SELF, VS, 0, 255, ANVIL_CPU_ANY, 0), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_tcb_configure(t, SELF, VS, 0, 256, ANVIL_CPU_ANY, 0), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_tcb_configure(t, SELF, VS, 0, 0xffffffffu, ANVIL_CPU_ANY, 0), ANVIL_ERR_INVALID_ARG);
    /* CPU index, IPC buffer. */
    CHECK_STATUS(anvil_tcb_configure(t, SELF, VS, 0, 1, 99, 0), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_tcb_configure(t, SELF, VS, 0x10001, 1, ANVIL_CPU_ANY, 0), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_tcb_configure(t, SELF, VS, KERNEL_HALF_ADDR, 1, ANVIL_CPU_ANY, 0), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_tcb_configure(t, SELF, VS, NONCANONICAL_ADDR, 1, ANVIL_CPU_ANY, 0), ANVIL_ERR_INVALID_ARG);
    /* Fault endpoint: must be an endpoint. */
    CHECK_STATUS(anvil_tcb_configure(t, SELF, VS, 0, 1, ANVIL_CPU_ANY, VS), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_tcb_configure(t, SELF, VS, 0, 1, ANVIL_CPU_ANY, 200), ANVIL_ERR_INVALID_CAP);
    /* Types of the tcb, cnode and vspace arguments; empty slots. */
    CHECK_STATUS(anvil_tcb_configure(VS, SELF, VS, 0, 1, ANVIL_CPU_ANY, 0), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_tcb_configure(t, VS, VS, 0, 1, ANVIL_CPU_ANY, 0), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_tcb_configure(t, SELF, SELF, 0, 1, ANVIL_CPU_ANY, 0), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_tcb_configure(200, SELF, VS, 0, 1, ANVIL_CPU_ANY, 0), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_tcb_configure(t, 200, VS, 0, 1, ANVIL_CPU_ANY, 0), ANVIL_ERR_INVALID_CAP);
    /* MANAGE on the TCB. */
    uint32_t weak = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, t, SELF, ANVIL_RIGHT_READ | ANVIL_RIGHT_WRITE, 0, &weak), ANVIL_OK);
    CHECK_STATUS(anvil_tcb_configure(weak, SELF, VS, 0, 1, ANVIL_CPU_ANY, 0), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_tcb_resume(weak), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_tcb_suspend(weak), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_cap_delete(SELF, weak), ANVIL_OK);
    /* A running thread (us) cannot be reconfigured. */
    CHECK_STATUS(anvil_tcb_configure(ANVIL_CAP_SELF_TCB, SELF, VS, 0, 1, ANVIL_CPU_ANY, 0), ANVIL_ERR_BAD_STATE);

    /* A never-configured thread cannot start. */
    CHECK_STATUS(anvil_tcb_resume(t), ANVIL_ERR_BAD_STATE);
    CHECK_STATUS(anvil_tcb_suspend(t), ANVIL_OK); /* already still */
    /* At or below our priority, on CPU 0 or any, with an aligned IPC buffer: fine, repeatedly. */
    CHECK_STATUS(anvil_tcb_configure(t, SELF, VS, 0, TEST_PRIORITY, ANVIL_CPU_ANY, 0), ANVIL_OK);
    CHECK_STATUS(anvil_tcb_configure(t, SELF, VS, TEST_VA, 0, 0, 0), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, t), ANVIL_OK);
    return 0;
}

DEFINE_TEST("tcb.regs", test_tcb_regs)
{
    anvil_cap_t t;
    CHECK_STATUS(anvil_tcb_create(&t), ANVIL_OK);
    anvil_regs_t in, out;
    /* A thread that never ran is stopped: its registers can be read and set. */
    CHECK_STATUS(anvil_tcb_get_regs(t, &out), ANVIL_OK);
    memset(&in, 0, sizeof in);
    in.rip = 0x400000;
    in.rsp = 0x7000000000ull;
    in.rdi = 0x1122334455667788ull;
    in.rbx = 0xb;
    in.r15 = 0xf15;
    in.fs_base = 0x5000;
    in.rflags = 0x202;
    CHECK_STATUS(anvil_tcb_set_regs(t, &in), ANVIL_OK);
    CHECK_STATUS(anvil_tcb_get_regs(t, &out), ANVIL_OK);
    CHECK(out.rip == in.rip && out.rsp == in.rsp && out.rdi == in.rdi && out.rbx == in.rbx);
    CHECK(out.r15 == in.r15 && out.fs_base == in.fs_base);
    CHECK((out.rflags & 0x200) != 0); /* interrupts stay on in user mode */

    /* rip, rsp and fs_base must be user addresses. */
    anvil_regs_t bad = in;
    bad.rip = KERNEL_HALF_ADDR;
    CHECK_STATUS(anvil_tcb_set_regs(t, &bad), ANVIL_ERR_INVALID_ARG);
    bad = in;
    bad.rip = NONCANONICAL_ADDR;
    CHECK_STATUS(anvil_tcb_set_regs(t, &bad), ANVIL_ERR_INVALID_ARG);
    bad = in;
    bad.rsp = KERNEL_HALF_ADDR;
    CHECK_STATUS(anvil_tcb_set_regs(t, &bad), ANVIL_ERR_INVALID_ARG);
    bad = in;
    bad.fs_base = NONCANONICAL_ADDR;
    CHECK_STATUS(anvil_tcb_set_regs(t, &bad), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_tcb_get_regs(t, &out), ANVIL_OK);
    CHECK(out.rip == in.rip && out.rsp == in.rsp && out.fs_base == in.fs_base); /* unchanged */

    /* Bad pointers both ways; the read-only one stays unchanged. */
    CHECK_STATUS(anvil_tcb_set_regs(t, UNMAPPED_VA), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_tcb_set_regs(t, KERNEL_VA), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_tcb_set_regs(t, NONCANONICAL_VA), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_tcb_get_regs(t, UNMAPPED_VA), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_tcb_get_regs(t, KERNEL_VA), ANVIL_ERR_FAULT);
    CHECK_STATUS(anvil_tcb_get_regs(t, (anvil_regs_t *)(uintptr_t)kReadOnly), ANVIL_ERR_FAULT);
    CHECK(memcmp(kReadOnly, "read-only data", 15) == 0);

    /* Rights: READ to get, WRITE to set. Types. */
    uint32_t ro = 0, wo = 0;
    CHECK_STATUS(anvil_cap_copy_any(SELF, t, SELF, ANVIL_RIGHT_READ, 0, &ro), ANVIL_OK);
    CHECK_STATUS(anvil_cap_copy_any(SELF, t, SELF, ANVIL_RIGHT_WRITE, 0, &wo), ANVIL_OK);
    CHECK_STATUS(anvil_tcb_set_regs(ro, &in), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_tcb_get_regs(wo, &out), ANVIL_ERR_ACCESS_DENIED);
    CHECK_STATUS(anvil_tcb_get_regs(ro, &out), ANVIL_OK);
    CHECK_STATUS(anvil_tcb_set_regs(wo, &in), ANVIL_OK);
    CHECK_STATUS(anvil_tcb_get_regs(VS, &out), ANVIL_ERR_WRONG_TYPE);
    CHECK_STATUS(anvil_tcb_set_regs(200, &in), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_cap_delete(SELF, wo), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, ro), ANVIL_OK);

    /* A running thread's registers are not readable or writable. */
    CHECK_STATUS(anvil_tcb_get_regs(ANVIL_CAP_SELF_TCB, &out), ANVIL_ERR_BAD_STATE);
    CHECK_STATUS(anvil_tcb_set_regs(ANVIL_CAP_SELF_TCB, &in), ANVIL_ERR_BAD_STATE);
    CHECK_STATUS(anvil_cap_delete(SELF, t), ANVIL_OK);
    return 0;
}

DEFINE_TEST("tcb.thread_in_own_process", test_tcb_thread)
{
    anvil_cap_t t = 0;
    uint64_t stack = 0;
    g_thread_arg = 0;
    CHECK_STATUS(start_thread(thread_record, 0x1234abcdull, &t, &stack), ANVIL_OK);
    anvil_regs_t regs;
    CHECK(wait_stopped(t, &regs));
    CHECK(g_thread_arg == 0x1234abcdull);
    /* An exited thread stays exited. */
    CHECK_STATUS(anvil_tcb_resume(t), ANVIL_ERR_BAD_STATE);
    CHECK_STATUS(anvil_tcb_suspend(t), ANVIL_ERR_BAD_STATE);
    CHECK_STATUS(anvil_tcb_set_regs(t, &regs), ANVIL_ERR_BAD_STATE);
    CHECK_STATUS(anvil_tcb_configure(t, SELF, VS, 0, 1, ANVIL_CPU_ANY, 0), ANVIL_ERR_BAD_STATE);
    CHECK_STATUS(anvil_cap_delete(SELF, t), ANVIL_OK);
    CHECK_STATUS(anvil_vma_unmap(VS, stack, STACK_SIZE), ANVIL_OK);
    return 0;
}

DEFINE_TEST("tcb.suspend_resume", test_tcb_suspend_resume)
{
    anvil_cap_t t = 0;
    uint64_t stack = 0;
    g_thread_counter = 0;
    g_thread_stop = 0;
    CHECK_STATUS(start_thread(thread_spin, 0, &t, &stack), ANVIL_OK);
    anvil_regs_t regs;
    memset(&regs, 0, sizeof regs);
    for (unsigned i = 0; i < CHILD_WAIT_LIMIT && g_thread_counter < 3; i++)
        anvil_thread_yield();
    CHECK(g_thread_counter >= 3);
    CHECK_STATUS(anvil_tcb_get_regs(t, &regs), ANVIL_ERR_BAD_STATE); /* it is running */
    CHECK_STATUS(anvil_tcb_set_regs(t, &regs), ANVIL_ERR_BAD_STATE);
    CHECK_STATUS(anvil_tcb_resume(t), ANVIL_OK); /* already going */

    /* Suspended: it stops counting and its registers can be read and written back. */
    CHECK_STATUS(anvil_tcb_suspend(t), ANVIL_OK);
    CHECK_STATUS(anvil_tcb_suspend(t), ANVIL_OK);
    CHECK_STATUS(anvil_tcb_get_regs(t, &regs), ANVIL_OK);
    CHECK(regs.rsp > stack && regs.rsp <= stack + STACK_SIZE);
    const uint64_t frozen = g_thread_counter;
    for (unsigned i = 0; i < 50; i++)
        anvil_thread_yield();
    CHECK(g_thread_counter == frozen);
    CHECK_STATUS(anvil_tcb_set_regs(t, &regs), ANVIL_OK);

    /* Resumed: it counts again; then it is told to stop and exits. */
    CHECK_STATUS(anvil_tcb_resume(t), ANVIL_OK);
    for (unsigned i = 0; i < CHILD_WAIT_LIMIT && g_thread_counter < frozen + 3; i++)
        anvil_thread_yield();
    CHECK(g_thread_counter >= frozen + 3);
    g_thread_stop = 1;
    CHECK(wait_stopped(t, &regs));
    CHECK_STATUS(anvil_cap_delete(SELF, t), ANVIL_OK);
    CHECK_STATUS(anvil_vma_unmap(VS, stack, STACK_SIZE), ANVIL_OK);
    return 0;
}

DEFINE_TEST("tcb.delete_running_thread", test_tcb_delete_running)
{
    anvil_cap_t t = 0;
    uint64_t stack = 0;
    g_thread_counter = 0;
    g_thread_stop = 0;
    CHECK_STATUS(start_thread(thread_spin, 0, &t, &stack), ANVIL_OK);
    for (unsigned i = 0; i < CHILD_WAIT_LIMIT && g_thread_counter < 3; i++)
        anvil_thread_yield();
    CHECK(g_thread_counter >= 3);
    /* Its only cap goes while it runs: the thread is destroyed and stops. */
    CHECK_STATUS(anvil_cap_delete(SELF, t), ANVIL_OK);
    for (unsigned i = 0; i < 20; i++) /* another CPU may finish its current step */
        anvil_thread_yield();
    const uint64_t frozen = g_thread_counter;
    for (unsigned i = 0; i < 100; i++)
        anvil_thread_yield();
    CHECK(g_thread_counter == frozen);
    /* Its stack can go, and new threads still work. */
    CHECK_STATUS(anvil_vma_unmap(VS, stack, STACK_SIZE), ANVIL_OK);
    g_thread_arg = 0;
    CHECK_STATUS(start_thread(thread_record, 99, &t, &stack), ANVIL_OK);
    anvil_regs_t regs;
    CHECK(wait_stopped(t, &regs));
    CHECK(g_thread_arg == 99);
    CHECK_STATUS(anvil_cap_delete(SELF, t), ANVIL_OK);
    CHECK_STATUS(anvil_vma_unmap(VS, stack, STACK_SIZE), ANVIL_OK);
    return 0;
}
