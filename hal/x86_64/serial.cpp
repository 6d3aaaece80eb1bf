#include "hal/x86_64/serial.h"

#include <hal/hal.h>

#include "kernel/trace/events.h"

#include "hal/x86_64/arch.h"

namespace x86 {
namespace {

constexpr uint16_t kCom1 = 0x3f8;
// COM2 carries the trace (hal::trace_write): binary, never mixed with the console.
constexpr uint16_t kCom2 = 0x2f8;
// Register offsets from the base port.
constexpr uint16_t kData = 0;         // THR/RBR; DLL when DLAB=1
constexpr uint16_t kIntEnable = 1;    // IER; DLM when DLAB=1
constexpr uint16_t kFifoControl = 2;  // FCR
constexpr uint16_t kLineControl = 3;  // LCR
constexpr uint16_t kModemControl = 4; // MCR
constexpr uint16_t kLineStatus = 5;   // LSR
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kLcr8N1 = 0x03;
constexpr uint8_t kLsrThrEmpty = 0x20;
constexpr uint16_t kDivisor115200 = 1;  // 115200 / 115200

// Touches only LSR and THR: a user-mode driver that owns the receive side, IER and
// MCR (OUT2) of COM1 and the kernel console leave each other alone.
void put_byte(uint16_t port, uint8_t c) {
    while (!(inb(port + kLineStatus) & kLsrThrEmpty)) pause();
    outb(port + kData, c);
}

void program(uint16_t port) {
    outb(port + kIntEnable, 0);
    outb(port + kLineControl, kLcrDlab);
    outb(port + kData, kDivisor115200 & 0xff);
    outb(port + kIntEnable, kDivisor115200 >> 8);
    outb(port + kLineControl, kLcr8N1);
    // Before any input is meant to arrive (tools/qemu-run.sh feeds COM1 only after
    // the first output): enabling the FIFOs resets them.
    outb(port + kFifoControl, 0xc7);   // enable + clear FIFOs, 14-byte trigger
    outb(port + kModemControl, 0x03);  // DTR | RTS, OUT2 off: no IRQs
}

bool g_com2_ready = false;
// The file format's chunks are made here, below the kernel's encoder
// (kernel/trace/events.h): every write after the header is one chunk.
constinit trace::Framer g_trace_framer;

}  // namespace

void serial_init() { program(kCom1); }

void serial_write(const char* s, size_t len) {
    for (size_t i = 0; i < len; ++i) put_byte(kCom1, static_cast<uint8_t>(s[i]));
}

void print(const char* s) {
    size_t n = 0;
    while (s[n] != '\0') ++n;
    serial_write(s, n);
}

void print_hex(uint64_t v, int digits) {
    if (digits > 16) digits = 16;
    char buf[16];
    for (int i = digits - 1; i >= 0; --i) {
        buf[i] = "0123456789abcdef"[v & 0xf];
        v >>= 4;
    }
    serial_write(buf, static_cast<size_t>(digits));
}

void print_dec(uint64_t v) {
    char buf[20];
    int n = 0;
    do {
        buf[sizeof(buf) - 1 - n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    serial_write(buf + sizeof(buf) - n, static_cast<size_t>(n));
}

}  // namespace x86

void hal::console_write(const char* s, size_t len) { x86::serial_write(s, len); }

// The kernel only writes a trace when asked to (command line "trace"), so COM2 is
// programmed on first use. tools/anvil qemu --record sends COM2 to a file.
bool x86::recording() { return x86::g_com2_ready; }

void hal::trace_write(const void* data, size_t len) {
    if (!x86::g_com2_ready) {
        x86::program(x86::kCom2);
        x86::g_com2_ready = true;
    }
    x86::g_trace_framer.write(data, len, [](const uint8_t* p, size_t n) {
        for (size_t i = 0; i < n; ++i) x86::put_byte(x86::kCom2, p[i]);
    });
}
