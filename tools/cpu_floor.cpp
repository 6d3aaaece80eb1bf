// anvil-cpu-floor: raw Unicorn running a user program with no hooks in its way,
// for the simulator's user-code throughput ratio (docs/benchmarks.md). Loads the
// ELF's PT_LOAD segments and a stack into one engine, starts at the entry point
// and stops at the program's first syscall (the only hook, which fires once).
// With --block-hook it also installs an empty UC_HOOK_BLOCK callback: the cost
// of the hook mechanism alone, which any block-granular preemption pays.
//   anvil-cpu-floor ELF [--block-hook]
#include "kernel/introspect.h"
#include "sim/unicorn_compat.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fmt/core.h>
#include <fstream>
#include <iterator>
#include <memory>
#include <unicorn/unicorn.h>
#include <vector>

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kStackTop = 0x00007fff00000000ull;
constexpr uint64_t kStackSize = 64 * 1024;

void on_syscall(uc_engine* uc, void*) { uc_emu_stop(uc); }

uint64_t g_blocks = 0;
void on_block(uc_engine*, uint64_t, uint32_t, void*) { ++g_blocks; }

}  // namespace

int main(int argc, char** argv) {
    const bool block_hook = argc == 3 && std::strcmp(argv[2], "--block-hook") == 0;
    if (argc != 2 && !block_hook) {
        fmt::print(stderr, "usage: anvil-cpu-floor ELF [--block-hook]\n");
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    const std::vector<uint8_t> elf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The kernel's own ELF checker describes the segments.
    kernel::elf::Image image;
    const char* why = "";
    if (kernel::elf::parse(elf.data(), elf.size(), &image, &why) != ANVIL_OK) {
        fmt::print(stderr, "anvil-cpu-floor: {}: {}\n", argv[1], why);
        return 2;
    }
    uc_engine* uc = nullptr;
    // The simulator's address model (sim/unicorn_compat.h) on every Unicorn version.
    if (uc_open(UC_ARCH_X86, UC_MODE_64, &uc) != UC_ERR_OK || sim::use_flat_addresses(uc) != UC_ERR_OK) {
        fmt::print(stderr, "anvil-cpu-floor: cannot create a Unicorn engine\n");
        return 1;
    }
    std::vector<std::unique_ptr<uint8_t[]>> keep;
    for (size_t i = 0; i < image.segment_count; ++i) {
        const kernel::elf::Segment& seg = image.segments[i];
        const uint64_t start = seg.vaddr & ~(kPage - 1);
        const uint64_t end = (seg.vaddr + seg.memsz + kPage - 1) & ~(kPage - 1);
        auto mem = std::make_unique<uint8_t[]>(end - start);
        std::memset(mem.get(), 0, end - start);
        std::memcpy(mem.get() + (seg.vaddr - start), elf.data() + seg.offset, seg.filesz);
        uc_mem_map_ptr(uc, start, end - start, UC_PROT_ALL, mem.get());
        keep.push_back(std::move(mem));
    }
    auto stack = std::make_unique<uint8_t[]>(kStackSize);
    uc_mem_map_ptr(uc, kStackTop - kStackSize, kStackSize, UC_PROT_READ | UC_PROT_WRITE, stack.get());
    uint64_t rsp = kStackTop - 64, zero = 0;
    uc_reg_write(uc, UC_X86_REG_RSP, &rsp);
    uc_reg_write(uc, UC_X86_REG_RDI, &zero);
    uc_reg_write(uc, UC_X86_REG_RSI, &zero);
    uc_hook hook;
    uc_hook_add(uc, &hook, UC_HOOK_INSN, reinterpret_cast<void*>(&on_syscall), nullptr, 1, 0, UC_X86_INS_SYSCALL);
    if (block_hook)
        uc_hook_add(uc, &hook, UC_HOOK_BLOCK, reinterpret_cast<void*>(&on_block), nullptr, 1, 0);
    const auto start = std::chrono::steady_clock::now();
    const uc_err err = uc_emu_start(uc, image.entry, ~0ull, 0, 0);
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
    if (err != UC_ERR_OK) {
        fmt::print(stderr, "anvil-cpu-floor: {}\n", uc_strerror(err));
        return 1;
    }
    if (block_hook)
        fmt::print("cpu floor: {} ran to its first syscall in {} ns on raw Unicorn with an empty block hook ({} "
                   "blocks)\n",
                   argv[1], ns, g_blocks);
    else
        fmt::print("cpu floor: {} ran to its first syscall in {} ns on raw Unicorn (no hooks in the loop)\n", argv[1],
                   ns);
    uc_close(uc);
    return 0;
}
