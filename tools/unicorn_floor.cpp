// anvil-unicorn-floor: the raw Unicorn cost the simulator's IPC is compared with.
// Two engines (two address spaces), each running `syscall` in a loop; a
// syscall hook stops the engine, and the host switches to the other engine,
// writing rip and reading it back, but with no kernel work at all. A round
// trip is A -> B -> A. That is the floor docs/benchmarks.md's target refers to.
//
// A second measurement adds, still with no kernel, what Unicorn itself costs
// for the rest of a simulated round trip of userspace/bench/ipc_bench.c: the
// guest's own stores (one in the client's loop, two in the server's), a block
// hook (the simulator's deterministic preemption counts blocks), and the
// register traffic of a kernel entry (the entry registers read, the syscall's
// results written).
//   anvil-unicorn-floor [ROUNDS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/core.h>
#include <unicorn/unicorn.h>

#include "sim/unicorn_compat.h"

namespace {

constexpr uint64_t kCode = 0x400000;
constexpr uint64_t kData = 0x600000;

struct Options {
    int stores = 0;           // `mov [rsp - 8k], rax` before the syscall
    bool block_hook = false;  // a counting UC_HOOK_BLOCK
    bool entry_regs = false;  // the simulator's register traffic per entry
};

uint64_t g_blocks = 0;

void on_syscall(uc_engine* uc, void*) { uc_emu_stop(uc); }
void on_block(uc_engine*, uint64_t, uint32_t, void*) { ++g_blocks; }

uc_engine* make_engine(uint8_t* code_page, uint8_t* data_page, const Options& o) {
    uc_engine* uc = nullptr;
    if (uc_open(UC_ARCH_X86, UC_MODE_64, &uc) != UC_ERR_OK)
        return nullptr;
    if (sim::use_flat_addresses(uc) != UC_ERR_OK) {  // as the simulator's engines
        uc_close(uc);
        return nullptr;
    }
    size_t n = 0;
    for (int i = 0; i < o.stores; ++i) {  // mov [rsp - 8 * (i + 1)], rax
        const uint8_t store[] = {0x48, 0x89, 0x44, 0x24, static_cast<uint8_t>(-8 * (i + 1))};
        std::memcpy(code_page + n, store, sizeof store);
        n += sizeof store;
    }
    code_page[n++] = 0x0f;  // syscall
    code_page[n++] = 0x05;
    code_page[n++] = 0xeb;  // jmp to the start
    code_page[n] = static_cast<uint8_t>(-static_cast<int>(n + 1));
    uc_mem_map_ptr(uc, kCode, 4096, UC_PROT_READ | UC_PROT_EXEC, code_page);
    uc_mem_map_ptr(uc, kData, 4096, UC_PROT_READ | UC_PROT_WRITE, data_page);
    // As the simulator's engines: no exit address, so a stop costs no
    // invalidation of the code at one (sim/engine.cpp).
    uc_ctl_exits_enable(uc);
    uc_hook hook;
    uc_hook_add(uc, &hook, UC_HOOK_INSN, reinterpret_cast<void*>(&on_syscall), nullptr, 1, 0, UC_X86_INS_SYSCALL);
    if (o.block_hook)
        uc_hook_add(uc, &hook, UC_HOOK_BLOCK, reinterpret_cast<void*>(&on_block), nullptr, 1, 0);
    const uint64_t rsp = kData + 2048;
    uc_reg_write(uc, UC_X86_REG_RSP, &rsp);
    return uc;
}

// One entry's worth of register traffic: resume at rip, then read rip back;
// with entry_regs, what the simulator moves around a syscall instead.
void run_once(uc_engine* uc, const Options& o) {
    uint64_t rip = kCode;
    uc_reg_write(uc, UC_X86_REG_RIP, &rip);
    if (o.entry_regs) {  // the syscall's results: rax, rdx, r10, rcx, r11
        uint64_t v[5] = {};
        int ids[5] = {UC_X86_REG_RAX, UC_X86_REG_RDX, UC_X86_REG_R10, UC_X86_REG_RCX, UC_X86_REG_R11};
        void* ptrs[5] = {&v[0], &v[1], &v[2], &v[3], &v[4]};
        uc_reg_write_batch(uc, ids, ptrs, 5);
    }
    uc_emu_start(uc, kCode, 0, 0, 0);
    if (o.entry_regs) {  // rip, rflags and the syscall's arguments
        uint64_t v[10];
        int ids[10] = {UC_X86_REG_RIP, UC_X86_REG_EFLAGS, UC_X86_REG_RAX, UC_X86_REG_RDI, UC_X86_REG_RSI,
                       UC_X86_REG_RDX, UC_X86_REG_R8,     UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R12};
        void* ptrs[10];
        for (int i = 0; i < 10; ++i)
            ptrs[i] = &v[i];
        uc_reg_read_batch(uc, ids, ptrs, 10);
    } else {
        uc_reg_read(uc, UC_X86_REG_RIP, &rip);
    }
}

// ns per round trip, or -1 if an engine could not be made.
long measure(long rounds, const Options& client, const Options& server) {
    alignas(4096) static uint8_t pages[4][4096];
    std::memset(pages, 0, sizeof pages);
    uc_engine* a = make_engine(pages[0], pages[1], client);
    uc_engine* b = make_engine(pages[2], pages[3], server);
    long result = -1;
    if (a && b) {
        for (int i = 0; i < 1000; ++i) {  // warm the translation caches
            run_once(a, client);
            run_once(b, server);
        }
        const auto start = std::chrono::steady_clock::now();
        for (long i = 0; i < rounds; ++i) {
            run_once(a, client);
            run_once(b, server);
        }
        const auto ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
        result = static_cast<long>(ns / rounds);
    }
    if (a)
        uc_close(a);
    if (b)
        uc_close(b);
    return result;
}

}  // namespace

int main(int argc, char** argv) {
    char* end = nullptr;
    const long rounds = argc > 1 ? std::strtol(argv[1], &end, 10) : 200000;
    if (argc > 2 || rounds <= 0 || (end && *end)) {
        fmt::print(stderr, "usage: anvil-unicorn-floor [ROUNDS > 0]\n");
        return 2;
    }
    const long bare = measure(rounds, Options{}, Options{});
    const long guest = measure(rounds, Options{1, true, true}, Options{2, true, true});
    if (bare < 0 || guest < 0) {
        fmt::print(stderr, "anvil-unicorn-floor: cannot create Unicorn engines\n");
        return 1;
    }
    fmt::print("unicorn floor: {} round trips (two engine switches each), {} ns per round trip\n", rounds, bare);
    fmt::print("unicorn floor with the benchmark's guest work (3 stores, a block hook, entry registers), no kernel: "
               "{} ns per round trip\n",
               guest);
    return 0;
}
