// anvil-unicorn-floor: the raw Unicorn cost the simulator's IPC is compared with.
// Two engines (two address spaces), each running `syscall` in a loop; a
// syscall hook stops the engine, and the host switches to the other engine,
// writing rip and reading the registers an entry needs, as a kernel entry
// would, but with no kernel work at all. A round trip is A -> B -> A.
//   anvil-unicorn-floor [ROUNDS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/core.h>
#include <unicorn/unicorn.h>

namespace {

constexpr uint64_t kCode = 0x400000;

void on_syscall(uc_engine* uc, void*) { uc_emu_stop(uc); }

uc_engine* make_engine(void* page) {
    uc_engine* uc = nullptr;
    if (uc_open(UC_ARCH_X86, UC_MODE_64, &uc) != UC_ERR_OK)
        return nullptr;
    const uint8_t code[] = {0x0f, 0x05, 0xeb, 0xfc};  // syscall; jmp back
    std::memcpy(page, code, sizeof code);
    uc_mem_map_ptr(uc, kCode, 4096, UC_PROT_READ | UC_PROT_EXEC, page);
    // As the simulator's engines: no exit address, so a stop costs no
    // invalidation of the code at one (sim/engine.cpp).
    uc_ctl_exits_enable(uc);
    uc_hook hook;
    uc_hook_add(uc, &hook, UC_HOOK_INSN, reinterpret_cast<void*>(&on_syscall), nullptr, 1, 0, UC_X86_INS_SYSCALL);
    return uc;
}

// One entry's worth of register traffic: resume at rip, then read rip back.
void run_once(uc_engine* uc) {
    uint64_t rip = kCode;
    uc_reg_write(uc, UC_X86_REG_RIP, &rip);
    uc_emu_start(uc, kCode, ~0ull, 0, 0);
    uc_reg_read(uc, UC_X86_REG_RIP, &rip);
}

}  // namespace

int main(int argc, char** argv) {
    const long rounds = argc > 1 ? std::atol(argv[1]) : 200000;
    if (rounds <= 0) {
        fmt::print(stderr, "usage: anvil-unicorn-floor [ROUNDS > 0]\n");
        return 2;
    }
    alignas(4096) static uint8_t page_a[4096], page_b[4096];
    uc_engine* a = make_engine(page_a);
    uc_engine* b = make_engine(page_b);
    if (!a || !b) {
        fmt::print(stderr, "anvil-unicorn-floor: cannot create Unicorn engines\n");
        return 1;
    }
    for (int i = 0; i < 1000; ++i) {  // warm the translation caches
        run_once(a);
        run_once(b);
    }
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < rounds; ++i) {
        run_once(a);
        run_once(b);
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
    fmt::print("unicorn floor: {} round trips (two engine switches each), {} ns per round trip\n", rounds,
               ns / rounds);
    uc_close(a);
    uc_close(b);
    return 0;
}
