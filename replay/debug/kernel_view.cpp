// Kernel state for people (kernel_view.h).
#include "replay/debug/kernel_view.h"

#include "kernel/introspect.h"

#include <capstone/capstone.h>
#include <fmt/core.h>

#include <algorithm>
#include <cstring>

namespace replay::debug {

namespace {

// Reads user memory of a thread's address space (as the kernel would).
bool read_user(kernel::Thread* t, uint64_t va, uint8_t* out, uint64_t len) {
    return t && t->vspace() && t->vspace()->copy_in(out, va, len) == ANVIL_OK;
}

}  // namespace

kernel::Thread* find_thread(uint64_t id) {
    for (kernel::KObject* o = kernel::KObject::first_live(); o; o = o->next_live())
        if (o->type() == ANVIL_OBJ_TCB && o->id() == id)
            return static_cast<kernel::Thread*>(o);
    return nullptr;
}

std::vector<uint64_t> live_threads() {
    std::vector<uint64_t> ids;
    for (kernel::KObject* o = kernel::KObject::first_live(); o; o = o->next_live())
        if (o->type() == ANVIL_OBJ_TCB && static_cast<kernel::Thread*>(o)->state() != kernel::ThreadState::kExited)
            ids.push_back(o->id());
    return ids;
}

uint64_t process_of(kernel::Thread* t) { return t && t->vspace() ? t->vspace()->id() : 0; }

std::vector<ProcessInfo> live_processes() {
    std::vector<ProcessInfo> out;
    for (kernel::KObject* o = kernel::KObject::first_live(); o; o = o->next_live()) {
        if (o->type() != ANVIL_OBJ_TCB)
            continue;
        auto* t = static_cast<kernel::Thread*>(o);
        const uint64_t pid = process_of(t);
        if (!pid || t->state() == kernel::ThreadState::kExited || t->state() == kernel::ThreadState::kInactive)
            continue;
        auto it = std::find_if(out.begin(), out.end(), [&](const ProcessInfo& p) { return p.id == pid; });
        if (it == out.end())
            it = out.insert(std::upper_bound(out.begin(), out.end(), pid,
                                             [](uint64_t id, const ProcessInfo& p) { return id < p.id; }),
                            ProcessInfo{pid, "", {}});
        it->threads.push_back(t->id());  // (the live list is in id order)
    }
    return out;
}

namespace {

kernel::VSpace* find_vspace(uint64_t id) {
    for (kernel::KObject* o = kernel::KObject::first_live(); o; o = o->next_live())
        if (o->type() == ANVIL_OBJ_VSPACE && o->id() == id)
            return static_cast<kernel::VSpace*>(o);
    return nullptr;
}

}  // namespace

uint64_t address_space_of(uint64_t process) {
    kernel::VSpace* vs = find_vspace(process);
    return vs ? vs->as() : 0;
}

std::string program_of(uint64_t process, const std::vector<uint8_t>& initramfs) {
    kernel::VSpace* vs = find_vspace(process);
    if (!vs)
        return "";
    kernel::cpio::Reader archive(initramfs.data(), initramfs.size());
    kernel::cpio::Entry e;
    std::vector<uint8_t> code;
    while (archive.next(&e) == ANVIL_OK) {
        kernel::elf::Image image;
        const char* why = nullptr;
        if (kernel::elf::parse(e.data, e.size, &image, &why) != ANVIL_OK)
            continue;
        bool any = false, all = true;
        for (size_t i = 0; i < image.segment_count && all; ++i) {
            const kernel::elf::Segment& s = image.segments[i];
            if (!(s.perms & ANVIL_PERM_X) || s.filesz == 0)
                continue;
            any = true;
            code.resize(s.filesz);
            all = vs->copy_in(code.data(), s.vaddr, s.filesz) == ANVIL_OK &&
                  std::memcmp(code.data(), e.data + s.offset, s.filesz) == 0;
        }
        if (any && all)
            return e.name;
    }
    return "";
}

std::string waits_on(kernel::Thread* t) {
    using kernel::IpcWait;
    const char* what = "";
    switch (t->ipc.wait) {
    case IpcWait::kNone: return "";
    case IpcWait::kSend: what = "send on"; break;
    case IpcWait::kCall: what = "call on"; break;
    case IpcWait::kRecv: what = "recv on"; break;
    case IpcWait::kReply: return fmt::format(" waits for a reply from thread {}",
                                             t->ipc.replier ? t->ipc.replier->id() : 0);
    case IpcWait::kNotify: what = "notify_wait on"; break;
    case IpcWait::kFaultMsg: what = "fault message on"; break;
    }
    return fmt::format(" {} {} {}", what, t->ipc.object ? kernel::object_type_name(t->ipc.object->type()) : "?",
                       t->ipc.object ? t->ipc.object->id() : 0);
}

void print_threads() {
    fmt::print("{:>6} {:<10} {:>4} {:>4} {:>8}  waiting\n", "thread", "state", "cpu", "prio", "affinity");
    for (kernel::KObject* o = kernel::KObject::first_live(); o; o = o->next_live()) {
        if (o->type() != ANVIL_OBJ_TCB)
            continue;
        auto* t = static_cast<kernel::Thread*>(o);
        fmt::print("{:>6} {:<10} {:>4} {:>4} {:>8} {}\n", t->id(), kernel::thread_state_name(t->state()),
                   t->cpu(), t->priority(),
                   t->affinity() == ANVIL_CPU_ANY ? std::string("any") : fmt::format("{}", t->affinity()),
                   waits_on(t));
    }
}

void print_runqueues() {
    kernel::Scheduler& s = kernel::scheduler();
    for (uint32_t cpu = 0; cpu < s.cpu_count(); ++cpu) {
        std::string line = fmt::format("cpu {}: running {}", cpu, s.current(cpu) ? s.current(cpu)->id() : 0);
        for (uint32_t p = kernel::Thread::kMaxPriority + 1; p-- > 0;) {
            auto& q = s.queue(cpu).at(p);
            for (kernel::Thread* t = q.front(); t; t = q.next(t))
                line += fmt::format(" | {} (prio {})", t->id(), p);
        }
        fmt::print("{}\n", line);
    }
}

namespace {

std::string queue_text(kernel::Endpoint* e) {
    std::string s, r;
    for (kernel::Thread* t = e->senders().front(); t; t = e->senders().next(t))
        s += fmt::format("{}{}", s.empty() ? "" : " ", t->id());
    for (kernel::Thread* t = e->receivers().front(); t; t = e->receivers().next(t))
        r += fmt::format("{}{}", r.empty() ? "" : " ", t->id());
    return fmt::format("senders [{}] receivers [{}]", s, r);
}

}  // namespace

void print_endpoints() {
    bool any = false;
    for (kernel::KObject* o = kernel::KObject::first_live(); o; o = o->next_live()) {
        if (o->type() == ANVIL_OBJ_ENDPOINT) {
            auto* e = static_cast<kernel::Endpoint*>(o);
            if (e->senders().front() || e->receivers().front()) {
                fmt::print("endpoint {}: {}\n", e->id(), queue_text(e));
                any = true;
            }
        } else if (o->type() == ANVIL_OBJ_NOTIFICATION) {
            auto* n = static_cast<kernel::Notification*>(o);
            std::string w;
            for (kernel::Thread* t = n->waiters().front(); t; t = n->waiters().next(t))
                w += fmt::format(" {}", t->id());
            if (n->bits || !w.empty()) {
                fmt::print("notification {}: bits 0x{:x} waiters [{}]\n", n->id(), n->bits, w);
                any = true;
            }
        }
    }
    if (!any)
        fmt::print("no thread waits on an endpoint or notification, and no notification has bits\n");
}


std::string object_state(const Breakpoint& b) {
    switch (b.kind) {
    case Breakpoint::Kind::kSlot: {
        kernel::Thread* t = find_thread(b.thread);
        if (!t || !t->cnode())
            return fmt::format("no thread {}", b.thread);
        if (b.value == 0 || b.value >= t->cnode()->size())
            return fmt::format("no slot {} (the cnode has {})", b.value, t->cnode()->size());
        const kernel::Cap* c = t->cnode()->slot(static_cast<uint32_t>(b.value));
        if (c->empty())
            return "empty";
        return fmt::format("{} cap (rights {:#x}, badge {:#x}) to object {}", kernel::object_type_name(c->object->type()),
                           c->rights, c->badge, c->object->id());
    }
    case Breakpoint::Kind::kEndpoint:
        for (kernel::KObject* o = kernel::KObject::first_live(); o; o = o->next_live())
            if (o->type() == ANVIL_OBJ_ENDPOINT && o->id() == b.value)
                return queue_text(static_cast<kernel::Endpoint*>(o));
        return fmt::format("no endpoint {}", b.value);
    case Breakpoint::Kind::kThread: {
        kernel::Thread* t = find_thread(b.value);
        return t ? kernel::thread_state_name(t->state()) + waits_on(t) : fmt::format("no thread {}", b.value);
    }
    default: return "";
    }
}

void print_caps(kernel::Thread* t) {
    if (!t->cnode())
        return;
    kernel::CNode* cn = t->cnode();
    fmt::print("cnode {} of thread {} ({} slots, {} used)\n", cn->id(), t->id(), cn->size(), cn->used());
    fmt::print("{:>5} {:<12} {:>6} {:>10} {:>8}  derived from\n", "slot", "type", "rights", "badge", "object");
    for (uint32_t i = 1; i < cn->size(); ++i) {
        kernel::Cap* c = cn->slot(i);
        if (c->empty())
            continue;
        const std::string parent =
            c->parent ? fmt::format("cnode {} slot {}", c->parent->cnode->id(), c->parent->index) : "-";
        fmt::print("{:>5} {:<12} {:>#6x} {:>#10x} {:>8}  {}\n", i, kernel::object_type_name(c->object->type()),
                   c->rights, c->badge, c->object->id(), parent);
    }
}

void print_vspace(kernel::Thread* t) {
    if (!t->vspace())
        return;
    kernel::VSpace* vs = t->vspace();
    fmt::print("vspace {} of thread {}\n", vs->id(), t->id());
    for (kernel::Mapping* m = vs->mappings().front(); m; m = vs->mappings().next(m))
        fmt::print("  0x{:012x}-0x{:012x} {}{}{} vmo {} offset 0x{:x}\n", m->va, m->va + m->len,
                   m->perms & ANVIL_PERM_R ? 'r' : '-', m->perms & ANVIL_PERM_W ? 'w' : '-',
                   m->perms & ANVIL_PERM_X ? 'x' : '-', m->vmo->id(), m->offset);
}

void print_regs(kernel::Thread* t) {
    const hal::UserRegs& r = t->regs();
    fmt::print("thread {} ({}): rip 0x{:x} rsp 0x{:x} rflags 0x{:x}\n", t->id(),
               kernel::thread_state_name(t->state()), r.rip, r.rsp, r.rflags);
    fmt::print("  rax 0x{:x} rbx 0x{:x} rcx 0x{:x} rdx 0x{:x}\n", r.rax, r.rbx, r.rcx, r.rdx);
    fmt::print("  rsi 0x{:x} rdi 0x{:x} rbp 0x{:x} r8 0x{:x} r9 0x{:x}\n", r.rsi, r.rdi, r.rbp, r.r8, r.r9);
    fmt::print("  r10 0x{:x} r11 0x{:x} r12 0x{:x} r13 0x{:x} r14 0x{:x} r15 0x{:x} fs_base 0x{:x}\n", r.r10,
               r.r11, r.r12, r.r13, r.r14, r.r15, r.fs_base);
}

void print_memory(uint64_t thread, uint64_t va, uint64_t len) {
    std::vector<uint8_t> buf(len);
    if (!read_user(find_thread(thread), va, buf.data(), len)) {
        fmt::print("0x{:x}..0x{:x} is not all mapped readable in thread {}'s address space\n", va, va + len,
                   thread);
        return;
    }
    for (uint64_t i = 0; i < len; i += 16) {
        std::string hex, text;
        for (uint64_t j = i; j < i + 16 && j < len; ++j) {
            hex += fmt::format("{:02x} ", buf[j]);
            text += buf[j] >= 32 && buf[j] < 127 ? static_cast<char>(buf[j]) : '.';
        }
        fmt::print("0x{:012x}  {:<48} {}\n", va + i, hex, text);
    }
}

void print_disassembly(uint64_t thread, uint64_t va, uint64_t n) {
    kernel::Thread* t = find_thread(thread);
    uint8_t code[16 * 32];
    uint64_t len = sizeof code;
    while (len > 0 && !read_user(t, va, code, len))
        len -= 16;  // up to the end of the mapping
    if (len == 0) {
        fmt::print("nothing readable at 0x{:x}\n", va);
        return;
    }
    csh cs;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
        return;
    cs_insn* insn = nullptr;
    const size_t count = cs_disasm(cs, code, len, va, n, &insn);
    for (size_t i = 0; i < count; ++i)
        fmt::print("  0x{:012x}: {} {}\n", insn[i].address, insn[i].mnemonic, insn[i].op_str);
    cs_free(insn, count);
    cs_close(&cs);
}

std::vector<uint8_t> read_readable(kernel::Thread* t, uint64_t va, uint64_t len) {
    std::vector<uint8_t> buf;
    while (t && t->vspace() && buf.size() < len && len <= 65536) {
        const uint64_t at = va + buf.size();
        const uint64_t chunk = std::min(len - buf.size(), hal::kPageSize - at % hal::kPageSize);
        std::vector<uint8_t> part(chunk);
        if (t->vspace()->copy_in(part.data(), at, chunk) != ANVIL_OK)
            break;
        buf.insert(buf.end(), part.begin(), part.end());
    }
    return buf;
}

}  // namespace replay::debug
