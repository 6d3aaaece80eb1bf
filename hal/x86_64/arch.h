// Thin wrappers over privileged x86-64 instructions.
#pragma once

#include <stdint.h>

namespace x86 {

// Model-specific registers.
constexpr uint32_t kMsrApicBase = 0x1b;
constexpr uint32_t kMsrEfer = 0xc0000080;
constexpr uint32_t kMsrStar = 0xc0000081;
constexpr uint32_t kMsrLstar = 0xc0000082;
constexpr uint32_t kMsrSfmask = 0xc0000084;
constexpr uint32_t kMsrFsBase = 0xc0000100;
constexpr uint32_t kMsrGsBase = 0xc0000101;
constexpr uint32_t kMsrKernelGsBase = 0xc0000102;

// EFER bits.
constexpr uint64_t kEferSce = 1u << 0;
constexpr uint64_t kEferLme = 1u << 8;
constexpr uint64_t kEferNxe = 1u << 11;

// RFLAGS bits.
constexpr uint64_t kRflagsTf = 1u << 8;
constexpr uint64_t kRflagsIf = 1u << 9;
constexpr uint64_t kRflagsDf = 1u << 10;
constexpr uint64_t kRflagsAc = 1u << 18;
// Every defined rflags bit (CF PF AF ZF SF TF IF DF OF IOPL NT RF VM AC VIF VIP ID):
// SFMASK clears them all, so `syscall` enters the kernel with rflags 0x2.
constexpr uint64_t kRflagsAllDefined = 0x3f7fd5;

// CR0 / CR4 bits.
constexpr uint64_t kCr0Mp = 1u << 1;
constexpr uint64_t kCr0Em = 1u << 2;
constexpr uint64_t kCr0Ne = 1u << 5;
constexpr uint64_t kCr0Wp = 1u << 16;
constexpr uint64_t kCr4Pge = 1u << 7;
constexpr uint64_t kCr4Osfxsr = 1u << 9;
constexpr uint64_t kCr4Osxmmexcpt = 1u << 10;
constexpr uint64_t kCr4Umip = 1u << 11;
constexpr uint64_t kCr4Smep = 1u << 20;
constexpr uint64_t kCr4Smap = 1u << 21;

inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
inline void outl(uint16_t port, uint32_t v) { asm volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
inline uint8_t inb(uint16_t port) {
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

inline uint64_t rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (static_cast<uint64_t>(hi) << 32) | lo;
}
inline void wrmsr(uint32_t msr, uint64_t v) {
    asm volatile("wrmsr" ::"c"(msr), "a"(static_cast<uint32_t>(v)), "d"(static_cast<uint32_t>(v >> 32)));
}

inline uint64_t read_cr0() {
    uint64_t v;
    asm volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}
inline void write_cr0(uint64_t v) { asm volatile("mov %0, %%cr0" ::"r"(v) : "memory"); }
inline uint64_t read_cr2() {
    uint64_t v;
    asm volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}
inline uint64_t read_cr3() {
    uint64_t v;
    asm volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
inline void write_cr3(uint64_t v) { asm volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
inline uint64_t read_cr4() {
    uint64_t v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
inline void write_cr4(uint64_t v) { asm volatile("mov %0, %%cr4" ::"r"(v) : "memory"); }

inline void invlpg(uint64_t va) { asm volatile("invlpg (%0)" ::"r"(va) : "memory"); }

inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t* a, uint32_t* b, uint32_t* c, uint32_t* d) {
    asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(subleaf));
}

inline void cli() { asm volatile("cli" ::: "memory"); }
inline void pause() { asm volatile("pause"); }

// Stops this CPU for good.
[[noreturn]] inline void halt_forever() {
    for (;;) asm volatile("cli; hlt");
}


}  // namespace x86
