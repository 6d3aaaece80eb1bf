#include "sim/uart.h"

#include <utility>

namespace sim {

namespace {
// The modem inputs outside loopback: a host that is connected and ready.
constexpr uint8_t kConnectedInputs = Uart16550::kMsrCts | Uart16550::kMsrDsr | Uart16550::kMsrDcd;
}  // namespace

Uart16550::Uart16550(std::function<void(uint8_t)> transmit, std::function<void()> raise_irq)
    : transmit_(std::move(transmit)), raise_irq_(std::move(raise_irq)), msr_(kConnectedInputs) {}

void Uart16550::add_input(const std::vector<uint8_t>& bytes) {
    input_.insert(input_.end(), bytes.begin(), bytes.end());
    receive();
    update_line();
}

size_t Uart16550::input_left() const {
    return input_.size() - next_input_ + (data_ready_ && rbr_from_line_ ? 1 : 0);
}

uint8_t Uart16550::pending_interrupt() const {
    // The 16550's priorities, highest first.
    if ((ier_ & kIerLineStatus) && overrun_)
        return kIirLineStatus;
    if ((ier_ & kIerRx) && data_ready_)
        return kIirRx;
    if ((ier_ & kIerThre) && thre_pending_)
        return kIirThre;
    if ((ier_ & kIerModemStatus) && (msr_ & 0x0f))
        return kIirModemStatus;
    return kIirNone;
}

bool Uart16550::line_level() const {
    // Loopback disconnects OUT2 from its pin, so a PC sees no interrupt then.
    return (mcr_ & kMcrOut2) && !(mcr_ & kMcrLoop) && pending_interrupt() != kIirNone;
}

void Uart16550::update_line() {
    const bool level = line_level();
    const bool rising = level && !line_;
    line_ = level;
    if (rising && raise_irq_)
        raise_irq_();
}

void Uart16550::receive() {
    // Loopback disconnects the receiver from the line.
    if (data_ready_ || (mcr_ & kMcrLoop) || next_input_ == input_.size() || !may_receive_)
        return;
    rbr_ = input_[next_input_++];
    data_ready_ = true;
    rbr_from_line_ = true;
    may_receive_ = !paced_;  // paced: the next byte has yet to come
}

void Uart16550::arrive() {
    may_receive_ = true;
    receive();
    update_line();
}

uint8_t Uart16550::modem_inputs() const {
    if (!(mcr_ & kMcrLoop))
        return kConnectedInputs;
    // Loopback wires the modem outputs to the inputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
    uint8_t in = 0;
    if (mcr_ & kMcrRts)
        in |= kMsrCts;
    if (mcr_ & kMcrDtr)
        in |= kMsrDsr;
    if (mcr_ & kMcrOut1)
        in |= kMsrRi;
    if (mcr_ & kMcrOut2)
        in |= kMsrDcd;
    return in;
}

void Uart16550::set_mcr(uint8_t value) {
    const bool was_loop = mcr_ & kMcrLoop;
    const uint8_t old_in = modem_inputs();
    mcr_ = value & 0x1f;
    const bool loop = mcr_ & kMcrLoop;
    if (loop && !was_loop && data_ready_ && rbr_from_line_) {
        // A received byte the guest has not read goes back on the line until
        // loopback ends: a driver's loopback self-test must not overrun (and
        // lose) the run's input; it has arrived already, so it is back as
        // soon as loopback ends.
        --next_input_;
        data_ready_ = false;
        may_receive_ = true;
    }
    if (!loop && was_loop)
        receive();
    const uint8_t in = modem_inputs(), changed = old_in ^ in;
    uint8_t delta = 0;
    if (changed & kMsrCts)
        delta |= kMsrDeltaCts;
    if (changed & kMsrDsr)
        delta |= kMsrDeltaDsr;
    if ((old_in & kMsrRi) && !(in & kMsrRi))
        delta |= kMsrTrailingRi;
    if (changed & kMsrDcd)
        delta |= kMsrDeltaDcd;
    msr_ = in | (msr_ & 0x0f) | delta;
}

uint8_t Uart16550::read(uint16_t reg) {
    switch (reg & 7) {
    case kData: {
        if (lcr_ & kLcrDlab)
            return dll_;
        const uint8_t value = rbr_;  // with nothing received, the last byte again
        if (data_ready_) {
            // If the next byte is already waiting (unpaced input), the RX
            // interrupt drops and rises again, as when a new character
            // completes: an edge-triggered controller sees one interrupt per byte.
            data_ready_ = false;
            update_line();
            receive();
            update_line();
        }
        return value;
    }
    case kIer: return (lcr_ & kLcrDlab) ? dlm_ : ier_;
    case kIirFcr: {
        const uint8_t id = pending_interrupt();  // FIFO bits 6-7 stay 0: no FIFOs
        if (id == kIirThre) {
            thre_pending_ = false;  // reading IIR acknowledges the THR-empty interrupt
            update_line();
        }
        return id;
    }
    case kLcr: return lcr_;
    case kMcr: return mcr_;
    case kLsr: {
        // Transmission is instant: THR and the shift register are always empty.
        uint8_t value = kLsrThre | kLsrTemt;
        if (data_ready_)
            value |= kLsrDr;
        if (overrun_)
            value |= kLsrOverrun;
        overrun_ = false;
        update_line();
        return value;
    }
    case kMsr: {
        const uint8_t value = msr_;
        msr_ &= 0xf0;
        update_line();
        return value;
    }
    case kScr: return scr_;
    }
    return 0xff;
}

void Uart16550::write(uint16_t reg, uint8_t value) {
    switch (reg & 7) {
    case kData:
        if (lcr_ & kLcrDlab) {
            dll_ = value;
            return;
        }
        // Writing THR acknowledges the THR-empty interrupt; the byte leaves at
        // once, THR is empty again and the interrupt rises again (an edge).
        thre_pending_ = false;
        update_line();
        if (mcr_ & kMcrLoop) {
            if (data_ready_)
                overrun_ = true;
            rbr_ = value;
            data_ready_ = true;
            rbr_from_line_ = false;
        } else if (transmit_) {
            transmit_(value);
        }
        thre_pending_ = true;
        update_line();
        return;
    case kIer: {
        if (lcr_ & kLcrDlab) {
            dlm_ = value;
            return;
        }
        const uint8_t old = ier_;
        ier_ = value & 0x0f;
        // Enabling the THR-empty interrupt raises it at once (THR is always empty).
        if ((old ^ ier_) & kIerThre)
            thre_pending_ = ier_ & kIerThre;
        update_line();
        return;
    }
    case kIirFcr: return;  // FCR: no FIFOs to enable or clear
    case kLcr: lcr_ = value; return;
    case kMcr:
        set_mcr(value);
        update_line();
        return;
    case kLsr:
    case kMsr: return;  // read-only (factory test writes are not modelled)
    case kScr: scr_ = value; return;
    }
}

}  // namespace sim
