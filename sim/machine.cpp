#include "sim/machine.h"

#include <fmt/core.h>
#include <hal/kernel_entry.h>
#include <sys/mman.h>

#include <cstdio>
#include <cstring>

namespace sim {

namespace {
Machine* g_active = nullptr;
constexpr uint64_t kPage = hal::kPageSize;
// Physical memory below this is never handed to the kernel (as on a PC).
constexpr uint64_t kLowReserved = 1ull << 20;
}  // namespace

Machine* Machine::active() { return g_active; }

Machine::Machine(Config config) : config_(std::move(config)), prng_(config_.seed) {
    memory_size_ = config_.memory_mib << 20;
    void* mem = mmap(nullptr, memory_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    memory_ = mem == MAP_FAILED ? nullptr : static_cast<uint8_t*>(mem);
}

Machine::~Machine() {
    engines_.clear();
    if (memory_)
        munmap(memory_, memory_size_);
    if (g_active == this)
        g_active = nullptr;
}

void* Machine::phys_to_virt(uint64_t pa) { return memory_ + pa; }

void Machine::console_write(const char* s, size_t len) {
    console_.append(s, len);
    if (config_.echo_console) {
        std::fwrite(s, 1, len, stdout);
        std::fflush(stdout);
    }
}

void Machine::request_halt(int code) {
    halted_ = true;
    halt_code_ = code;
}

uint64_t Machine::as_create() {
    auto e = std::make_unique<Engine>(&clock_);
    if (!e->ok()) {
        fmt::print(stderr, "anvil-sim: {}\n", e->error());
        return hal::kNoAs;
    }
    const uint64_t id = next_as_++;
    engines_.emplace(id, std::move(e));
    return id;
}

void Machine::as_destroy(uint64_t as) { engines_.erase(as); }

Engine* Machine::engine(uint64_t as) {
    auto it = engines_.find(as);
    return it == engines_.end() ? nullptr : it->second.get();
}

bool Machine::as_map(uint64_t as, uint64_t va, uint64_t pa, uint32_t perms) {
    Engine* e = engine(as);
    return e && pa + kPage <= memory_size_ && e->map_page(va, memory_ + pa, perms);
}

void Machine::as_unmap(uint64_t as, uint64_t va) {
    if (Engine* e = engine(as))
        e->unmap_page(va);
}

bool Machine::prepare(hal::BootInfo* info, std::string* error) {
    if (!memory_) {
        *error = fmt::format("cannot allocate {} MiB of simulated physical memory", config_.memory_mib);
        return false;
    }
    g_active = this;
    // The initramfs sits at the top of physical memory, outside the usable range.
    const uint64_t rd_size = (config_.initramfs.size() + kPage - 1) / kPage * kPage;
    if (rd_size + kLowReserved + (16ull << 20) > memory_size_) {
        *error = fmt::format("initramfs of {} bytes does not fit in {} MiB of memory", config_.initramfs.size(),
                             config_.memory_mib);
        return false;
    }
    const uint64_t rd_base = memory_size_ - rd_size;
    if (!config_.initramfs.empty())
        std::memcpy(memory_ + rd_base, config_.initramfs.data(), config_.initramfs.size());
    *info = hal::BootInfo{};
    info->usable[0] = {kLowReserved, rd_base - kLowReserved};
    info->usable_count = 1;
    info->initramfs = memory_ + rd_base;
    info->initramfs_size = config_.initramfs.size();
    info->cpu_count = config_.cpus;
    std::snprintf(info->cmdline, sizeof info->cmdline, "%s", config_.cmdline.c_str());
    return true;
}

void Machine::digest(uint64_t value) {
    for (int i = 0; i < 8; ++i) {
        stats_.schedule_digest ^= (value >> (i * 8)) & 0xff;
        stats_.schedule_digest *= 0x100000001b3ull;
    }
}

Outcome Machine::run() {
    Outcome out;
    hal::BootInfo info;
    if (!prepare(&info, &out.message)) {
        out.kind = Outcome::Kind::kEmulatorError;
        return out;
    }
    current_cpu_ = 0;
    kernel::boot(info);

    cpu_time_.assign(config_.cpus, 0);
    cpu_deadline_.assign(config_.cpus, config_.quantum_blocks);
    stats_.schedule_digest = 0xcbf29ce484222325ull;
    std::vector<uint32_t> ready;
    std::vector<kernel::Resume> resumes(config_.cpus);
    while (!halted_) {
        // Which vCPUs have a thread to run? The PRNG picks one of them.
        // Asking a vCPU can only take threads from other vCPUs' queues, never
        // change what another vCPU already runs, so each answer stays valid.
        ready.clear();
        for (uint32_t cpu = 0; cpu < config_.cpus; ++cpu) {
            current_cpu_ = cpu;
            if (kernel::next_to_run(cpu, &resumes[cpu]))
                ready.push_back(cpu);
        }
        if (halted_)
            break;
        if (ready.empty()) {
            out.kind = Outcome::Kind::kIdle;
            out.message = "every vCPU is idle and no thread can run (all threads blocked, exited or faulted)";
            return out;
        }
        if (config_.max_slices && stats_.slices >= config_.max_slices) {
            out.kind = Outcome::Kind::kSliceLimit;
            out.message = fmt::format("stopped after {} slices (--max-slices)", stats_.slices);
            return out;
        }
        ++stats_.slices;
        // The PRNG picks the vCPU and how long it runs before the next pick; the
        // vCPU's timer interrupt comes at its own virtual-time deadline.
        const uint32_t cpu = ready.size() == 1 ? ready[0] : ready[prng_.below(ready.size())];
        const uint64_t slice = 1 + prng_.below(config_.slice_max);
        const uint64_t to_timer = cpu_deadline_[cpu] > cpu_time_[cpu] ? cpu_deadline_[cpu] - cpu_time_[cpu] : 1;
        current_cpu_ = cpu;
        const kernel::Resume r = resumes[cpu];
        Engine* e = engine(r.as);
        if (!e) {
            out.kind = Outcome::Kind::kEmulatorError;
            out.message = fmt::format("thread {} has no address space engine", r.thread_id);
            return out;
        }
        const uint64_t before = e->blocks();
        const Stop stop = e->run(*r.regs, slice < to_timer ? slice : to_timer);
        const uint64_t ran = e->blocks() - before;
        cpu_time_[cpu] += ran;
        digest(cpu);
        digest(r.thread_id);
        digest(ran);
        digest(static_cast<uint64_t>(stop.kind));
        switch (stop.kind) {
        case StopKind::kSyscall:
            ++stats_.syscalls;
            ++stats_.kernel_entries;
            kernel::on_syscall(cpu);
            break;
        case StopKind::kFault:
            ++stats_.kernel_entries;
            kernel::on_fault(cpu, stop.fault);
            break;
        case StopKind::kBudget:
            break;  // another vCPU's turn; this one resumes where it stopped
        case StopKind::kError:
            out.kind = Outcome::Kind::kEmulatorError;
            out.message = fmt::format("thread {}: {}", r.thread_id, stop.error);
            return out;
        }
        if (cpu_time_[cpu] >= cpu_deadline_[cpu] && !halted_) {
            ++stats_.timer_interrupts;
            ++stats_.kernel_entries;
            cpu_deadline_[cpu] = cpu_time_[cpu] + config_.quantum_blocks;
            kernel::on_timer(cpu);
        }
    }
    out.kind = Outcome::Kind::kHalted;
    out.exit_code = halt_code_;
    return out;
}

}  // namespace sim
