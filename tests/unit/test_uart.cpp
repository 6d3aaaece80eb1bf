// Host tests of the simulator's 16550 UART model (sim/uart.h): registers, the
// receive queue, interrupt priorities and the edges of the interrupt output.
#include "sim/uart.h"

#include "catch.h"

#include <string>
#include <vector>

using sim::Uart16550;

namespace {

// A UART whose transmitted bytes and interrupt edges are recorded.
struct Com {
    std::string out;
    int edges = 0;
    Uart16550 uart{[this](uint8_t b) { out.push_back(static_cast<char>(b)); }, [this] { ++edges; }};

    uint8_t rd(uint16_t reg) { return uart.read(reg); }
    void wr(uint16_t reg, uint8_t v) { uart.write(reg, v); }
    void input(const std::string& s) { uart.add_input(std::vector<uint8_t>(s.begin(), s.end())); }
};

constexpr uint8_t kOut2 = Uart16550::kMcrOut2;

}  // namespace

TEST_CASE("uart: registers after reset, masks, scratch and the divisor latch behind DLAB") {
    Com c;
    CHECK(c.rd(Uart16550::kIer) == 0);
    CHECK(c.rd(Uart16550::kIirFcr) == Uart16550::kIirNone);
    CHECK(c.rd(Uart16550::kLcr) == 0);
    CHECK(c.rd(Uart16550::kMcr) == 0);
    CHECK(c.rd(Uart16550::kLsr) == (Uart16550::kLsrThre | Uart16550::kLsrTemt));
    // A connected host: CTS, DSR and DCD, no ring, no changes.
    CHECK(c.rd(Uart16550::kMsr) == (Uart16550::kMsrCts | Uart16550::kMsrDsr | Uart16550::kMsrDcd));

    c.wr(Uart16550::kScr, 0x5a);
    CHECK(c.rd(Uart16550::kScr) == 0x5a);
    c.wr(Uart16550::kIer, 0xff);
    CHECK(c.rd(Uart16550::kIer) == 0x0f);
    c.wr(Uart16550::kIer, 0);
    c.wr(Uart16550::kMcr, 0xff & ~Uart16550::kMcrLoop);
    CHECK(c.rd(Uart16550::kMcr) == 0x0f);

    // DLAB: offsets 0 and 1 are the divisor latch, readable and writable.
    c.wr(Uart16550::kLcr, Uart16550::kLcrDlab | 0x03);
    c.wr(Uart16550::kData, 0x0c);
    c.wr(Uart16550::kIer, 0x01);
    CHECK(c.rd(Uart16550::kData) == 0x0c);
    CHECK(c.rd(Uart16550::kIer) == 0x01);
    CHECK(c.rd(Uart16550::kLcr) == (Uart16550::kLcrDlab | 0x03));
    CHECK(c.out.empty());
    c.wr(Uart16550::kLcr, 0x03);
    CHECK(c.rd(Uart16550::kIer) == 0);  // IER again, untouched by the DLM write
    c.wr(Uart16550::kData, 'A');
    CHECK(c.out == "A");
    c.wr(Uart16550::kLcr, Uart16550::kLcrDlab);
    CHECK(c.rd(Uart16550::kData) == 0x0c);
}

TEST_CASE("uart: transmission is instant and FCR is ignored (no FIFOs)") {
    Com c;
    for (char ch : std::string("hi\n")) {
        CHECK((c.rd(Uart16550::kLsr) & (Uart16550::kLsrThre | Uart16550::kLsrTemt)) ==
              (Uart16550::kLsrThre | Uart16550::kLsrTemt));
        c.wr(Uart16550::kData, static_cast<uint8_t>(ch));
    }
    CHECK(c.out == "hi\n");
    c.input("q");
    c.wr(Uart16550::kIirFcr, 0xc7);  // enable and clear FIFOs: nothing to do
    CHECK((c.rd(Uart16550::kIirFcr) & 0xc0) == 0);
    CHECK(c.rd(Uart16550::kData) == 'q');
}

TEST_CASE("uart: input arrives one byte at a time, DR set while bytes remain") {
    Com c;
    CHECK_FALSE(c.rd(Uart16550::kLsr) & Uart16550::kLsrDr);
    c.input("ab");
    CHECK(c.uart.input_left() == 2);
    CHECK(c.rd(Uart16550::kLsr) & Uart16550::kLsrDr);
    CHECK(c.rd(Uart16550::kData) == 'a');
    CHECK(c.rd(Uart16550::kLsr) & Uart16550::kLsrDr);
    c.input("c");  // queued behind what is left
    CHECK(c.rd(Uart16550::kData) == 'b');
    CHECK(c.rd(Uart16550::kData) == 'c');
    CHECK_FALSE(c.rd(Uart16550::kLsr) & Uart16550::kLsrDr);
    CHECK(c.uart.input_left() == 0);
    CHECK(c.rd(Uart16550::kData) == 'c');  // RBR read while empty: the last byte again
    CHECK_FALSE(c.rd(Uart16550::kLsr) & Uart16550::kLsrDr);
    CHECK(c.edges == 0);  // no interrupt was enabled
}

TEST_CASE("uart: interrupt priorities, and what acknowledges each") {
    Com c;
    c.input("x");
    c.wr(Uart16550::kIer, Uart16550::kIerRx | Uart16550::kIerThre);
    // Received data outranks THR empty; IIR keeps reporting it until RBR is read.
    CHECK(c.rd(Uart16550::kIirFcr) == Uart16550::kIirRx);
    CHECK(c.rd(Uart16550::kIirFcr) == Uart16550::kIirRx);
    CHECK(c.rd(Uart16550::kData) == 'x');
    // Reading IIR when it reports THR empty acknowledges that interrupt...
    CHECK(c.rd(Uart16550::kIirFcr) == Uart16550::kIirThre);
    CHECK(c.rd(Uart16550::kIirFcr) == Uart16550::kIirNone);
    // ...and the next transmitted byte raises it again.
    c.wr(Uart16550::kData, '.');
    CHECK(c.rd(Uart16550::kIirFcr) == Uart16550::kIirThre);
    // Disabling it clears it; enabling it while THR is empty raises it at once.
    c.wr(Uart16550::kIer, Uart16550::kIerRx);
    CHECK(c.rd(Uart16550::kIirFcr) == Uart16550::kIirNone);
    c.wr(Uart16550::kIer, Uart16550::kIerRx | Uart16550::kIerThre);
    CHECK(c.rd(Uart16550::kIirFcr) == Uart16550::kIirThre);
    CHECK(c.rd(Uart16550::kIirFcr) == Uart16550::kIirNone);
    // An overrun (line status) outranks everything, and reading LSR clears it.
    c.wr(Uart16550::kMcr, Uart16550::kMcrLoop);
    c.wr(Uart16550::kData, 1);
    c.wr(Uart16550::kData, 2);
    c.wr(Uart16550::kIer, Uart16550::kIerRx | Uart16550::kIerLineStatus);
    CHECK(c.rd(Uart16550::kIirFcr) == Uart16550::kIirLineStatus);
    CHECK(c.rd(Uart16550::kLsr) & Uart16550::kLsrOverrun);
    CHECK(c.rd(Uart16550::kIirFcr) == Uart16550::kIirRx);
    CHECK(c.rd(Uart16550::kData) == 2);
}

TEST_CASE("uart: the IRQ line needs OUT2 and rises once per event") {
    Com c;
    c.input("xy");
    c.wr(Uart16550::kIer, Uart16550::kIerRx);
    CHECK_FALSE(c.uart.irq_line());  // OUT2 off: the PC's IRQ driver is disabled
    CHECK(c.edges == 0);
    c.wr(Uart16550::kMcr, Uart16550::kMcrDtr | Uart16550::kMcrRts | kOut2);
    CHECK(c.uart.irq_line());
    CHECK(c.edges == 1);
    // Accesses that leave the condition alone make no edge.
    c.wr(Uart16550::kScr, 1);
    (void)c.rd(Uart16550::kLsr);
    (void)c.rd(Uart16550::kIirFcr);
    CHECK(c.edges == 1);
    // Reading a byte when the next one is waiting drops and raises the line.
    CHECK(c.rd(Uart16550::kData) == 'x');
    CHECK(c.uart.irq_line());
    CHECK(c.edges == 2);
    CHECK(c.rd(Uart16550::kData) == 'y');
    CHECK_FALSE(c.uart.irq_line());
    CHECK(c.edges == 2);
    // THR empty: an edge when enabled, none while acknowledged, one per byte sent.
    c.wr(Uart16550::kIer, Uart16550::kIerRx | Uart16550::kIerThre);
    CHECK(c.edges == 3);
    CHECK(c.rd(Uart16550::kIirFcr) == Uart16550::kIirThre);
    CHECK_FALSE(c.uart.irq_line());
    c.wr(Uart16550::kData, 'a');
    c.wr(Uart16550::kData, 'b');
    CHECK(c.edges == 5);
    CHECK(c.out == "ab");
    // OUT2 gates the line: dropping it lowers the line, raising it again is an edge.
    c.wr(Uart16550::kMcr, Uart16550::kMcrDtr | Uart16550::kMcrRts);
    CHECK_FALSE(c.uart.irq_line());
    c.wr(Uart16550::kMcr, Uart16550::kMcrDtr | Uart16550::kMcrRts | kOut2);
    CHECK(c.edges == 6);
}

TEST_CASE("uart: paced input: the next byte waits on the line until it arrives, then raises the line once") {
    Com c;
    c.uart.pace_input();
    c.input("xyz");
    c.wr(Uart16550::kIer, Uart16550::kIerRx);
    c.wr(Uart16550::kMcr, kOut2);
    CHECK(c.edges == 1);  // the first byte is there at once
    CHECK_FALSE(c.uart.input_on_the_way());
    CHECK(c.rd(Uart16550::kData) == 'x');
    // Nothing in RBR, the line low, and 'y' on its way until the machine says it came.
    CHECK_FALSE(c.rd(Uart16550::kLsr) & Uart16550::kLsrDr);
    CHECK_FALSE(c.uart.irq_line());
    CHECK(c.uart.input_on_the_way());
    CHECK(c.uart.input_left() == 2);
    CHECK(c.rd(Uart16550::kData) == 'x');  // RBR read while empty: the last byte again
    CHECK(c.edges == 1);
    c.uart.arrive();
    CHECK_FALSE(c.uart.input_on_the_way());
    CHECK(c.uart.irq_line());
    CHECK(c.edges == 2);
    // A byte that arrived is kept through loopback and back at once after it.
    c.wr(Uart16550::kMcr, Uart16550::kMcrLoop | kOut2);
    CHECK_FALSE(c.rd(Uart16550::kLsr) & Uart16550::kLsrDr);
    CHECK_FALSE(c.uart.input_on_the_way());
    c.wr(Uart16550::kMcr, kOut2);
    CHECK(c.edges == 3);
    CHECK(c.rd(Uart16550::kData) == 'y');
    CHECK(c.uart.input_on_the_way());
    c.uart.arrive();
    CHECK(c.rd(Uart16550::kData) == 'z');
    // The input is over: nothing on its way, and arrive() changes nothing.
    CHECK_FALSE(c.uart.input_on_the_way());
    c.uart.arrive();
    CHECK_FALSE(c.rd(Uart16550::kLsr) & Uart16550::kLsrDr);
    CHECK(c.edges == 4);
}

TEST_CASE("uart: loopback returns THR to RBR, mirrors MCR in MSR, and keeps the input and IRQ aside") {
    Com c;
    c.input("in");
    c.wr(Uart16550::kIer, Uart16550::kIerRx);
    c.wr(Uart16550::kMcr, kOut2);
    CHECK(c.edges == 1);
    // A driver's self-test: loopback with OUT1, OUT2 and RTS (as the OSDev wiki's).
    c.wr(Uart16550::kMcr, Uart16550::kMcrLoop | Uart16550::kMcrOut1 | kOut2 | Uart16550::kMcrRts);
    CHECK_FALSE(c.uart.irq_line());
    CHECK_FALSE(c.rd(Uart16550::kLsr) & Uart16550::kLsrDr);  // the line's byte waits
    CHECK(c.uart.input_left() == 2);
    c.wr(Uart16550::kData, 0xae);
    CHECK(c.out.empty());
    CHECK(c.rd(Uart16550::kLsr) & Uart16550::kLsrDr);
    CHECK_FALSE(c.uart.irq_line());  // loopback disconnects OUT2 from the IRQ
    CHECK(c.rd(Uart16550::kData) == 0xae);
    // RTS->CTS, OUT1->RI, OUT2->DCD (DTR->DSR is off); the changes are flagged once.
    const uint8_t msr = c.rd(Uart16550::kMsr);
    CHECK((msr & 0xf0) == (Uart16550::kMsrCts | Uart16550::kMsrRi | Uart16550::kMsrDcd));
    CHECK((msr & Uart16550::kMsrDeltaDsr));
    CHECK((c.rd(Uart16550::kMsr) & 0x0f) == 0);
    // Back to normal: the input is all there.
    c.wr(Uart16550::kMcr, Uart16550::kMcrDtr | Uart16550::kMcrRts | kOut2);
    CHECK(c.uart.irq_line());
    CHECK(c.rd(Uart16550::kData) == 'i');
    CHECK(c.rd(Uart16550::kData) == 'n');
    CHECK(c.uart.input_left() == 0);
}

TEST_CASE("uart: modem status interrupt on a change of the modem inputs") {
    Com c;
    c.wr(Uart16550::kMcr, Uart16550::kMcrLoop);
    (void)c.rd(Uart16550::kMsr);
    c.wr(Uart16550::kIer, Uart16550::kIerModemStatus);
    CHECK(c.rd(Uart16550::kIirFcr) == Uart16550::kIirNone);
    c.wr(Uart16550::kMcr, Uart16550::kMcrLoop | Uart16550::kMcrRts);
    CHECK(c.rd(Uart16550::kIirFcr) == Uart16550::kIirModemStatus);
    CHECK(c.rd(Uart16550::kMsr) == (Uart16550::kMsrCts | Uart16550::kMsrDeltaCts));
    CHECK(c.rd(Uart16550::kIirFcr) == Uart16550::kIirNone);
}
