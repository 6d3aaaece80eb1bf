// A small user program on one simulator engine, for host tests of the
// engine (port I/O in test_sim_io.cpp, the debugger's hooks in
// test_sim_debug.cpp).
#pragma once

#include "sim/engine.h"

#include "catch.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

namespace code_run {

// Records every access that reaches the bus; reads return 0x50 + (port & 0xf).
struct RecordingBus final : sim::IoBus {
    std::vector<std::pair<uint16_t, uint8_t>> writes;
    std::vector<uint16_t> reads;
    uint8_t port_read(uint16_t port) override {
        reads.push_back(port);
        return static_cast<uint8_t>(0x50 + (port & 0xf));
    }
    void port_write(uint16_t port, uint8_t value) override { writes.emplace_back(port, value); }
};

constexpr uint64_t kCode = 0x400000, kData = 0x600000, kStack = 0x7f0000;
// rflags bits a thread owns (hal::kUserRflagsMask).
constexpr uint64_t kArithFlags = hal::kUserRflagsMask;

// One engine with a code page, a data page and a stack page, the way
// Machine::as_map maps them, and a thread about to run the code page.
class CodeRun {
public:
    explicit CodeRun(const std::vector<uint8_t>& code) : engine_(&clock_, &bus) {
        REQUIRE(engine_.ok());
        for (auto* page : {&code_, &data_, &stack_}) {
            page->reset(static_cast<uint8_t*>(std::aligned_alloc(hal::kPageSize, hal::kPageSize)));
            std::memset(page->get(), 0, hal::kPageSize);
        }
        REQUIRE(code.size() <= hal::kPageSize);
        std::memcpy(code_.get(), code.data(), code.size());
        REQUIRE(engine_.map_page(kCode, code_.get(), hal::kMapRead | hal::kMapExec));
        REQUIRE(engine_.map_page(kData, data_.get(), hal::kMapRead | hal::kMapWrite));
        REQUIRE(engine_.map_page(kStack, stack_.get(), hal::kMapRead | hal::kMapWrite));
        regs.rip = kCode;
        regs.rsp = kStack + hal::kPageSize;
        regs.rflags = hal::kUserRflags;
    }

    sim::Engine& engine() { return engine_; }
    uint8_t* data() { return data_.get(); }
    sim::Stop run(uint64_t budget = 0) {
        const sim::Stop s = engine_.run(regs, budget);
        engine_.sync_regs();  // the checks read any register
        return s;
    }

    RecordingBus bus;
    hal::UserRegs regs{};

private:
    struct Free {
        void operator()(uint8_t* p) const { std::free(p); }
    };
    uint64_t clock_ = 0;
    sim::Engine engine_;
    std::unique_ptr<uint8_t, Free> code_, data_, stack_;
};

}  // namespace code_run
