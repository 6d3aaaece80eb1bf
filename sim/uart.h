// A 16550 UART, the register model behind the simulator's COM1 (ports
// 0x3f8-0x3ff, IRQ 4). It has no FIFOs (IIR reports none and FCR writes are
// ignored) and transmits instantly, so THR is always empty. Received bytes come
// from a fixed input, one at a time: the next one is in RBR as soon as the guest
// has read the previous one, or, with paced input, once the machine says it has
// arrived (Machine: --serial-gap slices later). No wall clock and no host I/O:
// what a run sees depends only on the input, the guest's register accesses and
// (paced) the slices at which the machine lets bytes arrive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace sim {

class Uart16550 {
public:
    static constexpr uint16_t kCom1Base = 0x3f8;
    static constexpr uint32_t kCom1Irq = 4;
    static constexpr uint16_t kPortCount = 8;

    // Register offsets from the base port (two registers share an offset where
    // one is read-only and the other write-only, or where LCR.DLAB selects).
    enum Reg : uint16_t { kData = 0, kIer = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7 };

    // Register bits a driver and the tests name.
    static constexpr uint8_t kIerRx = 0x01, kIerThre = 0x02, kIerLineStatus = 0x04, kIerModemStatus = 0x08;
    static constexpr uint8_t kIirNone = 0x01, kIirLineStatus = 0x06, kIirRx = 0x04, kIirThre = 0x02,
                             kIirModemStatus = 0x00;
    static constexpr uint8_t kLcrDlab = 0x80;
    static constexpr uint8_t kMcrDtr = 0x01, kMcrRts = 0x02, kMcrOut1 = 0x04, kMcrOut2 = 0x08, kMcrLoop = 0x10;
    static constexpr uint8_t kLsrDr = 0x01, kLsrOverrun = 0x02, kLsrThre = 0x20, kLsrTemt = 0x40;
    static constexpr uint8_t kMsrDeltaCts = 0x01, kMsrDeltaDsr = 0x02, kMsrTrailingRi = 0x04,
                             kMsrDeltaDcd = 0x08, kMsrCts = 0x10, kMsrDsr = 0x20, kMsrRi = 0x40, kMsrDcd = 0x80;

    // `transmit` gets every byte written to THR outside loopback mode;
    // `raise_irq` is called on each 0 -> 1 transition of the interrupt output.
    Uart16550(std::function<void(uint8_t)> transmit, std::function<void()> raise_irq);

    // Queues bytes on the receive line (after any still queued).
    void add_input(const std::vector<uint8_t>& bytes);

    // Paced input (set before any input is added): once the guest has read a
    // byte, the next one stays on the line until arrive(), as on a real line
    // where bytes come one character time apart. The first byte is there at once.
    void pace_input() { paced_ = true; }
    // Paced input: the guest has read the last byte that arrived and another is
    // on its way (the machine schedules its arrival).
    bool input_on_the_way() const { return paced_ && !may_receive_ && !data_ready_ && next_input_ < input_.size(); }
    // Paced input: the next byte arrives in RBR, raising the interrupt if enabled.
    void arrive();

    // A guest access to register `reg` (0-7).
    uint8_t read(uint16_t reg);
    void write(uint16_t reg, uint8_t value);

    // The interrupt output as the PC wires it: some enabled interrupt is pending,
    // and MCR.OUT2 (which gates the IRQ line on a PC) is set outside loopback.
    bool irq_line() const { return line_; }
    // Received bytes the guest has not read yet (the one in RBR included).
    size_t input_left() const;

private:
    uint8_t pending_interrupt() const;  // IIR's interrupt id (kIirNone if none)
    bool line_level() const;
    void update_line();
    void receive();
    uint8_t modem_inputs() const;
    void set_mcr(uint8_t value);

    std::function<void(uint8_t)> transmit_;
    std::function<void()> raise_irq_;
    std::vector<uint8_t> input_;
    size_t next_input_ = 0;        // index in input_ of the next byte to arrive
    bool paced_ = false;           // pace_input()
    bool may_receive_ = true;      // input_[next_input_] has arrived (always, unless paced)
    uint8_t rbr_ = 0;
    bool data_ready_ = false;      // LSR.DR: rbr_ holds a byte not read yet
    bool rbr_from_line_ = false;   // rbr_ came from input_ (not from loopback)
    bool overrun_ = false;         // LSR.OE
    bool thre_pending_ = false;    // the THR-empty interrupt, until IIR reports it or THR is written
    uint8_t ier_ = 0;
    uint8_t lcr_ = 0;
    uint8_t mcr_ = 0;
    uint8_t msr_;                  // modem inputs (high nibble) and their change bits
    uint8_t scr_ = 0;
    uint8_t dll_ = 1, dlm_ = 0;    // divisor latch: 115200 baud
    bool line_ = false;
};

}  // namespace sim
