/* C side of process start: run main, then exit the thread with its result. */
#include <anvil/anvil.h>
#include <anvil/process.h>

int main(uint64_t start_arg);

static const char *g_cmdline = "";

const char *anvil_cmdline(void)
{
    return g_cmdline;
}

/* rdi: the start argument; rsi: init's command line (0 in other processes). */
__attribute__((noreturn, used)) void anvil_start(uint64_t start_arg, const char *cmdline)
{
    if (cmdline)
        g_cmdline = cmdline;
    anvil_thread_exit(main(start_arg));
}
