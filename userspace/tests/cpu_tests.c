/* What the CPU does to user code, and what user code may do to the kernel:
 * a table of faulting instructions, each run in a thread of its own and
 * reported through its fault endpoint (cpu.fault_table prints one line per
 * case; tests/sim/fault_table.cmake compares the lines of both backends), and
 * user-controlled state (rflags bits, segment selectors, the stack pointer)
 * carried into syscalls, faults and timer interrupts (cpu.flags_*). */
#include "tests.h"

#include <anvil/cpuid.h>
#include <stdio.h>
#include <string.h>

/* The syscall numbers the assembly below uses. */
_Static_assert(ANVIL_SYS_thread_exit == 1, "fault-table cases exit with syscall 1");
_Static_assert(ANVIL_SYS_thread_yield == 2, "fault-table cases yield with syscall 2");

/* rflags bits. */
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_DF (1ull << 10)
#define RFLAGS_IOPL (3ull << 12)
#define RFLAGS_NT (1ull << 14)
#define RFLAGS_AC (1ull << 18)
#define RFLAGS_ID (1ull << 21)

/* The exit code of a case whose instruction did not fault. */
#define NO_FAULT_CODE 0x600d

/* Each case: a label, the instructions, then a jump to fc_no_fault (reached
 * only if nothing faulted). A case thread starts with rdi = 0 and a stack. */
#define FC_CASE(name, body) ".globl fc_" #name "\nfc_" #name ":\n" body "\n    jmp fc_no_fault\n"

__asm__(".pushsection .text\n"
        "fc_no_fault:\n"
        "    mov $" "0x600d" ", %edi\n"
        "    mov $1, %eax\n"
        "    syscall\n"
        "    ud2\n"
        /* Privileged instructions: #GP(0). */
        FC_CASE(cli, "    cli")
        FC_CASE(sti, "    sti")
        FC_CASE(hlt, "    hlt")
        FC_CASE(mov_cr3, "    mov %cr3, %rax")
        FC_CASE(mov_to_cr0, "    xor %eax, %eax\n    mov %rax, %cr0")
        FC_CASE(mov_dr7, "    mov %dr7, %rax")
        FC_CASE(clts, "    clts")
        FC_CASE(lgdt, "    lgdt (%rsp)")
        FC_CASE(lidt, "    lidt (%rsp)")
        FC_CASE(ltr, "    mov $0x30, %eax\n    ltr %ax")
        FC_CASE(invlpg, "    invlpg (%rsp)")
        FC_CASE(wbinvd, "    wbinvd")
        FC_CASE(rdmsr, "    xor %ecx, %ecx\n    rdmsr")
        FC_CASE(wrmsr, "    mov $0xc0000100, %ecx\n    xor %eax, %eax\n    xor %edx, %edx\n    wrmsr")
        FC_CASE(rdpmc, "    xor %ecx, %ecx\n    rdpmc")
        FC_CASE(swapgs, "    swapgs")
        FC_CASE(sysretq, "    .byte 0x48, 0x0f, 0x07")
        FC_CASE(sysexit, "    .byte 0x0f, 0x35")
        FC_CASE(in_no_cap, "    in $0x60, %al")
        FC_CASE(out_no_cap, "    out %al, $0x80")
        FC_CASE(in_dx_no_cap, "    mov $0x3f8, %dx\n    in %dx, %al")
        /* Software interrupts: only int3 and int $4 have DPL 3 gates. */
        FC_CASE(int_0x00, "    int $0x00")
        FC_CASE(int_0x01, "    int $0x01")
        FC_CASE(int_0x02, "    int $0x02")
        FC_CASE(int_0x03, "    int $0x03")
        FC_CASE(int_0x04, "    int $0x04")
        FC_CASE(int_0x05, "    int $0x05")
        FC_CASE(int_0x06, "    int $0x06")
        FC_CASE(int_0x0d, "    int $0x0d")
        FC_CASE(int_0x0e, "    int $0x0e")
        FC_CASE(int_0x20, "    int $0x20")
        FC_CASE(int_0x40, "    int $0x40")
        FC_CASE(int_0x80, "    int $0x80")
        FC_CASE(int_0xf0, "    int $0xf0")
        FC_CASE(int_0xff, "    int $0xff")
        FC_CASE(int3, "    int3")
        FC_CASE(int1, "    .byte 0xf1")
        FC_CASE(into, "    .byte 0xce")
        FC_CASE(ud2, "    ud2")
        FC_CASE(lock_nop, "    .byte 0xf0, 0x90")
        /* iretq to ring 0: #GP(the code selector). */
        FC_CASE(iretq_ring0, "    mov %rsp, %rax\n    pushq $0x10\n    pushq %rax\n    pushfq\n    pushq $0x08\n"
                             "    lea fc_no_fault(%rip), %rax\n    pushq %rax\n    iretq")
        /* iretq to ring 3 with the current selectors: allowed. */
        FC_CASE(iretq_ring3, "    mov %rsp, %rax\n    mov %ss, %ecx\n    pushq %rcx\n    pushq %rax\n    pushfq\n"
                             "    mov %cs, %ecx\n    pushq %rcx\n    lea fc_no_fault(%rip), %rax\n    pushq %rax\n"
                             "    iretq")
        /* Segment loads a user may not make: #GP(selector). */
        FC_CASE(mov_ss_null, "    xor %eax, %eax\n    mov %ax, %ss")
        FC_CASE(mov_ds_kernel_data, "    mov $0x10, %eax\n    mov %ax, %ds")
        FC_CASE(mov_ds_beyond_gdt, "    mov $0x83, %eax\n    mov %ax, %ds")
        /* Memory: null, the kernel half, non-canonical addresses. */
        FC_CASE(read_null, "    mov 0, %rax")
        FC_CASE(write_null, "    movq $1, 0")
        FC_CASE(jump_null, "    xor %eax, %eax\n    jmp *%rax")
        FC_CASE(read_kernel, "    movabs $0xffffffff80000000, %rbx\n    mov (%rbx), %rax")
        FC_CASE(write_kernel, "    movabs $0xffffffff80000000, %rbx\n    movq $1, (%rbx)")
        FC_CASE(jump_kernel, "    movabs $0xffffffff80000000, %rbx\n    jmp *%rbx")
        FC_CASE(read_noncanonical, "    movabs $0x0000800000000000, %rbx\n    mov (%rbx), %rax")
        FC_CASE(write_noncanonical, "    movabs $0x8000000000000000, %rbx\n    movq $1, (%rbx)")
        FC_CASE(jump_noncanonical, "    movabs $0x0000800000000000, %rbx\n    jmp *%rbx")
        FC_CASE(call_noncanonical, "    movabs $0x0000800000000000, %rbx\n    call *%rbx")
        FC_CASE(ret_noncanonical, "    movabs $0x0000800000000000, %rbx\n    push %rbx\n    ret")
        /* Arithmetic. */
        FC_CASE(divide_by_zero, "    xor %ecx, %ecx\n    xor %edx, %edx\n    mov $1, %eax\n    div %rcx")
        FC_CASE(idiv_overflow, "    movabs $0x8000000000000000, %rax\n    cqo\n    mov $-1, %rcx\n    idiv %rcx")
        /* AC with a misaligned access: #AC only if the kernel set CR0.AM. */
        FC_CASE(misaligned_with_ac, "    pushfq\n    orq $0x40000, (%rsp)\n    popfq\n    mov 1(%rsp), %rax\n"
                                    "    pushfq\n    andq $~0x40000, (%rsp)\n    popfq")
        /* The stack: non-canonical (#SS), unmapped and kernel-half (#PF). */
        FC_CASE(push_noncanonical_rsp, "    movabs $0x8000000000000000, %rsp\n    push %rax")
        FC_CASE(push_unmapped_rsp, "    mov $0x10000, %esp\n    push %rax")
        FC_CASE(push_kernel_rsp, "    movabs $0xffffffff80001000, %rsp\n    push %rax")
        FC_CASE(syscall_noncanonical_rsp, "    movabs $0x0000800000000000, %rsp\n    mov $2, %eax\n    syscall")
        /* TF: #DB after the next instruction. */
        FC_CASE(trap_flag, "    pushfq\n    orq $0x100, (%rsp)\n    popfq\n    nop\n    nop")
        /* iretq with NT set is a task return: #GP(0) in long mode. */
        FC_CASE(iretq_with_nt, "    pushfq\n    orq $0x4000, (%rsp)\n    popfq\n    iretq")
        ".popsection\n");

/* User state carried into the kernel (cpu.flags_*). */
__asm__(".pushsection .text\n"
        /* void cpu_syscall_with_flags(uint64_t set, uint64_t out[2]): sets the
         * rflags bits `set` (as popfq may at CPL 3), makes a thread_yield and
         * stores its status and the rflags after it; the flags are restored. */
        ".globl cpu_syscall_with_flags\n"
        "cpu_syscall_with_flags:\n"
        "    push %rsi\n"
        "    pushfq\n"
        "    mov (%rsp), %rax\n"
        "    or %rdi, %rax\n"
        "    push %rax\n"
        "    popfq\n"
        "    mov $2, %eax\n"
        "    syscall\n"
        "    pushfq\n"
        "    pop %rcx\n"
        "    popfq\n"
        "    pop %rsi\n"
        "    mov %rax, (%rsi)\n"
        "    mov %rcx, 8(%rsi)\n"
        "    ret\n"
        /* Thread entry: sets the rflags bits in rdi, then ud2. */
        ".globl cpu_flags_then_ud2\n"
        "cpu_flags_then_ud2:\n"
        "    pushfq\n"
        "    or %rdi, (%rsp)\n"
        "    popfq\n"
        "    ud2\n"
        /* Thread entry: spins with the rflags bits in rdi set (again after
         * every interrupt) until g_cpu_release is non-zero, then exits. */
        ".globl cpu_flags_spin\n"
        "cpu_flags_spin:\n"
        "1:  pushfq\n"
        "    or %rdi, (%rsp)\n"
        "    popfq\n"
        "    cmpl $0, g_cpu_release(%rip)\n"
        "    je 1b\n"
        "    pushfq\n"
        "    andq $~0x44400, (%rsp)\n" /* NT, AC, DF off again */
        "    popfq\n"
        "    jmp fc_no_fault\n"
        /* Thread entry: loads the selector in rdi into ds, es, fs and gs,
         * yields, then exits with NO_FAULT_CODE if all four still hold it. */
        ".globl cpu_selectors_syscall\n"
        "cpu_selectors_syscall:\n"
        "    mov %di, %ds\n"
        "    mov %di, %es\n"
        "    mov %di, %fs\n"
        "    mov %di, %gs\n"
        "    push %rdi\n"
        "    mov $2, %eax\n"
        "    syscall\n"
        "    pop %rdi\n"
        "    mov $0xbad0, %esi\n"
        "    mov %ds, %eax\n    cmp %di, %ax\n    jne 2f\n    inc %esi\n"
        "    mov %es, %eax\n    cmp %di, %ax\n    jne 2f\n    inc %esi\n"
        "    mov %fs, %eax\n    cmp %di, %ax\n    jne 2f\n    inc %esi\n"
        "    mov %gs, %eax\n    cmp %di, %ax\n    jne 2f\n"
        "    jmp fc_no_fault\n"
        "2:  mov %esi, %edi\n" /* 0xbad0 + the first register that changed (ds, es, fs, gs) */
        "    mov $1, %eax\n"
        "    syscall\n"
        "    ud2\n"
        ".popsection\n");
void cpu_syscall_with_flags(uint64_t set, uint64_t out[2]);
extern const char cpu_flags_then_ud2[], cpu_flags_spin[], cpu_selectors_syscall[];
volatile uint32_t g_cpu_release;

/* The case labels. */
#define FC_NAMES(X)                                                                                              \
    X(cli) X(sti) X(hlt) X(mov_cr3) X(mov_to_cr0) X(mov_dr7) X(clts) X(lgdt) X(lidt) X(ltr) X(invlpg) X(wbinvd) \
    X(rdmsr) X(wrmsr) X(rdpmc) X(swapgs) X(sysretq) X(sysexit) X(in_no_cap) X(out_no_cap) X(in_dx_no_cap)       \
    X(int_0x00) X(int_0x01) X(int_0x02) X(int_0x03) X(int_0x04) X(int_0x05) X(int_0x06) X(int_0x0d)           \
    X(int_0x0e) X(int_0x20) X(int_0x40) X(int_0x80) X(int_0xf0) X(int_0xff) X(int3) X(int1) X(into) X(ud2)             \
    X(lock_nop) X(iretq_ring0) X(iretq_ring3) X(mov_ss_null) X(mov_ds_kernel_data) X(mov_ds_beyond_gdt)        \
    X(read_null) X(write_null) X(jump_null) X(read_kernel) X(write_kernel) X(jump_kernel) X(read_noncanonical) \
    X(write_noncanonical) X(jump_noncanonical) X(call_noncanonical) X(ret_noncanonical) X(divide_by_zero)      \
    X(idiv_overflow) X(misaligned_with_ac) X(push_noncanonical_rsp) X(push_unmapped_rsp) X(push_kernel_rsp)    \
    X(syscall_noncanonical_rsp) X(trap_flag) X(iretq_with_nt)

#define FC_DECLARE(name) extern const char fc_##name[];
FC_NAMES(FC_DECLARE)
#define FC_ENTRY(name) {#name, fc_##name},
static const struct {
    const char *name;
    const char *entry;
} kCases[] = {FC_NAMES(FC_ENTRY)};

#define CASE_STACK_SIZE 4096u
static uint8_t g_case_stack[CASE_STACK_SIZE] __attribute__((aligned(16)));

/* Runs a thread starting at `entry` with `rdi` on our own CPU (the suite's,
 * 0), calls `between` (if set) once it is started, and takes its stop report
 * from `ep`; 0 if it came. Without `between` the thread runs while we wait. */
static int run_case(anvil_cap_t ep, const char *entry, uint64_t rdi, void (*between)(void), anvil_fault_msg_t *fm)
{
    anvil_cap_t t;
    g_cpu_release = 0;
    CHECK_STATUS(start_test_thread((uint64_t)(uintptr_t)entry, rdi, g_case_stack + CASE_STACK_SIZE, TEST_PRIORITY,
                                   0, ep, &t),
                 ANVIL_OK);
    if (between)
        between();
    anvil_msg_t m;
    memset(&m, 0, sizeof m);
    uint64_t badge = 0;
    const anvil_status_t s = anvil_ipc_recv(ep, &m, &badge);
    anvil_tcb_suspend(t);
    anvil_cap_delete(ANVIL_CAP_SELF_CNODE, t);
    CHECK_STATUS(s, ANVIL_OK);
    CHECK(m.label == ANVIL_FAULT_MSG_LABEL && m.len == sizeof *fm);
    memcpy(fm, m.data, sizeof *fm);
    return 0;
}

/* Runs `entry` once with each of args[0..n) as rdi (run_case) and checks that
 * each stop report is of `kind` with `value` (a fault's vector, an exit's
 * code); 0 if all were, else the failure `what`. */
static int run_each(const char *entry, const uint64_t *args, unsigned n, void (*between)(void), uint32_t kind,
                    uint64_t value, const char *what)
{
    anvil_cap_t ep;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    int failed = 0;
    for (unsigned i = 0; i < n && !failed; i++) {
        anvil_fault_msg_t fm;
        failed = run_case(ep, entry, args[i], between, &fm);
        const uint64_t got = kind == ANVIL_FAULT_KIND_EXIT ? (uint64_t)fm.exit_code : fm.vector;
        if (!failed && (fm.kind != kind || got != value)) {
            printf("  rdi 0x%llx: stop kind %u, vector %llu, exit code 0x%llx\n", (unsigned long long)args[i], fm.kind,
                   (unsigned long long)fm.vector, (unsigned long long)fm.exit_code);
            failed = test_fail(__FILE__, __LINE__, what);
        }
    }
    anvil_cap_delete(ANVIL_CAP_SELF_CNODE, ep);
    return failed;
}

/* One line per case: what the thread's fault endpoint was told. rip is shown
 * relative to the case's first instruction when it is inside the case. */
static void print_case(const char *name, const char *entry, const anvil_fault_msg_t *fm)
{
    if (fm->kind == ANVIL_FAULT_KIND_EXIT) {
        printf("fault-table: %-26s %s\n", name,
               fm->exit_code == NO_FAULT_CODE ? "no fault" : "exited with an unexpected code");
        return;
    }
    const uint64_t base = (uint64_t)(uintptr_t)entry;
    char rip[40];
    if (fm->rip >= base && fm->rip < base + 64)
        snprintf(rip, sizeof rip, "+%llu", (unsigned long long)(fm->rip - base));
    else
        snprintf(rip, sizeof rip, "0x%llx", (unsigned long long)fm->rip);
    printf("fault-table: %-26s vector %2llu error 0x%llx address 0x%llx rip %s\n", name,
           (unsigned long long)fm->vector, (unsigned long long)fm->error_code, (unsigned long long)fm->address, rip);
}

/* The rflags bits a user may try to set with popfq (IOPL is ignored at CPL 3). */
static const uint64_t kUserFlagSets[] = {
    RFLAGS_NT, RFLAGS_AC, RFLAGS_DF, RFLAGS_ID, RFLAGS_IOPL, RFLAGS_NT | RFLAGS_AC | RFLAGS_DF | RFLAGS_ID | RFLAGS_IOPL,
};
#define FLAG_SETS (sizeof kUserFlagSets / sizeof kUserFlagSets[0])

DEFINE_TEST("cpu.flags_syscall", test_cpu_flags_syscall)
{
    for (unsigned i = 0; i < FLAG_SETS; i++) {
        uint64_t out[2];
        cpu_syscall_with_flags(kUserFlagSets[i], out);
        CHECK_STATUS((anvil_status_t)out[0], ANVIL_OK);
        /* The kernel returns with the arithmetic flags and DF as they were;
         * NT, AC, ID, TF and IOPL are cleared, IF is set. */
        const uint64_t after = out[1];
        CHECK((after & RFLAGS_DF) == (kUserFlagSets[i] & RFLAGS_DF));
        CHECK((after & (RFLAGS_NT | RFLAGS_AC | RFLAGS_ID | RFLAGS_IOPL | RFLAGS_TF)) == 0);
        CHECK(after & 0x200);
    }
    return 0;
}

DEFINE_TEST("cpu.flags_fault", test_cpu_flags_fault)
{
    return run_each(cpu_flags_then_ud2, kUserFlagSets, FLAG_SETS, NULL, ANVIL_FAULT_KIND_UD, 6,
                    "a thread with user flags set took #UD");
}

/* Yields to the spinning thread (same CPU, same priority): we run again only
 * once the timer has preempted it, with its flags set; then lets it exit. */
static void release_after_preemption(void)
{
    anvil_thread_yield();
    g_cpu_release = 1;
}

DEFINE_TEST("cpu.flags_timer", test_cpu_flags_timer)
{
    return run_each(cpu_flags_spin, kUserFlagSets, FLAG_SETS, release_after_preemption, ANVIL_FAULT_KIND_EXIT,
                    NO_FAULT_CODE, "a spinning thread with user flags set was preempted and exited");
}

DEFINE_TEST("cpu.selectors", test_cpu_selectors)
{
    uint16_t ss;
    __asm__ volatile("mov %%ss, %0" : "=r"(ss));
    /* The null selector and the user data selector, in every data segment register. */
    const uint64_t selectors[2] = {0, ss};
    return run_each(cpu_selectors_syscall, selectors, 2, NULL, ANVIL_FAULT_KIND_EXIT, NO_FAULT_CODE,
                    "ds, es, fs and gs keep their selectors across a syscall");
}

DEFINE_TEST("cpu.fault_table", test_cpu_fault_table)
{
    anvil_cap_t ep;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    int failed = 0;
    for (unsigned i = 0; i < sizeof kCases / sizeof kCases[0] && !failed; i++) {
        anvil_fault_msg_t fm;
        failed = run_case(ep, kCases[i].entry, 0, NULL, &fm);
        if (!failed)
            print_case(kCases[i].name, kCases[i].entry, &fm);
    }
    anvil_cap_delete(ANVIL_CAP_SELF_CNODE, ep);
    return failed;
}

/* CPUID as this program sees it is anvil/cpuid.h's table, on every backend:
 * the simulator answers it through a Unicorn hook, the x86_64 kernel through
 * CPUID faulting, and QEMU (no CPUID faulting) has a CPU model made from the
 * table (tools/qemu-run.sh). Every leaf of the table with two values of ECX,
 * and leaves past each range's end (read as the highest basic leaf). Leaf 1's
 * initial APIC ID is the CPU's own, and this thread may move between CPUs:
 * it is taken from the answer, every other bit is compared. */
struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};

static struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;
    __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

static int cpuid_is(uint32_t leaf, uint32_t subleaf)
{
    const struct cpuid_regs got = cpuid(leaf, subleaf);
    const struct anvil_cpuid_leaf want = anvil_cpuid_answer(leaf, got.ebx >> ANVIL_CPUID1_EBX_APIC_ID_SHIFT);
    if (got.eax == want.eax && got.ebx == want.ebx && got.ecx == want.ecx && got.edx == want.edx)
        return 1;
    printf("  (cpuid 0x%x: 0x%x 0x%x 0x%x 0x%x, the table says 0x%x 0x%x 0x%x 0x%x)\n", leaf, got.eax, got.ebx, got.ecx,
           got.edx, want.eax, want.ebx, want.ecx, want.edx);
    return 0;
}

DEFINE_TEST("cpu.cpuid", test_cpu_cpuid)
{
    int same = 1;
    for (unsigned i = 0; i < ANVIL_CPUID_LEAVES; i++) {
        same &= cpuid_is(anvil_cpuid_table[i].leaf, 0);
        same &= cpuid_is(anvil_cpuid_table[i].leaf, 7);
    }
    const uint32_t past[] = {ANVIL_CPUID_MAX_BASIC + 1, 0x40000002u, ANVIL_CPUID_MAX_EXT + 1, 0xc0000000u, 0xffffffffu};
    for (unsigned i = 0; i < sizeof past / sizeof past[0]; i++)
        same &= cpuid_is(past[i], 0);
    CHECK(same);
    /* What the table promises, spelled out: x87, SSE and SSE2, no AVX. */
    const struct cpuid_regs one = cpuid(1, 0);
    CHECK((one.edx & (1u << 0 | 1u << 25 | 1u << 26)) == (1u << 0 | 1u << 25 | 1u << 26));
    CHECK((one.ecx & (1u << 28)) == 0);
    printf("  (CPUID answered from anvil/cpuid.h: %u leaves)\n", (unsigned)ANVIL_CPUID_LEAVES);
    return 0;
}
