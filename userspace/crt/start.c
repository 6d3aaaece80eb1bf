/* C side of process start: run main, then exit the thread with its result. */
#include <anvil/anvil.h>

int main(uint64_t start_arg);

__attribute__((noreturn, used)) void anvil_start(uint64_t start_arg)
{
    anvil_thread_exit(main(start_arg));
}
