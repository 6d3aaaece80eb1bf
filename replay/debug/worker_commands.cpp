// The worker's commands (worker.h describes the protocol): the command loop's
// commands, which print their answers to the terminal, and the debugger
// process's requests ("=..."), answered with "R ..." lines; and the settings
// they make: instruction breakpoints by process, data watchpoints.
#include "replay/debug/worker.h"

#include "kernel/introspect.h"
#include "replay/debug/hex.h"
#include "replay/debug/kernel_view.h"
#include "replay/debug/session.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <unistd.h>

namespace replay::debug {

using sim::Machine;
using sim::Outcome;
using sim::StopKind;

void Worker::execute(const std::string& line) {
    if (line.rfind("=capture ", 0) == 0) {  // a command-loop command, its output as a reply
        std::fflush(stdout);
        const int saved = dup(STDOUT_FILENO);
        std::FILE* tmp = std::tmpfile();
        if (saved < 0 || !tmp) {
            reply("captured ");
            return;
        }
        dup2(fileno(tmp), STDOUT_FILENO);
        command(parse_command(line.substr(9)));
        std::fflush(stdout);
        dup2(saved, STDOUT_FILENO);
        close(saved);
        std::string text;
        std::rewind(tmp);
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, tmp)) > 0)
            text.append(buf, n);
        std::fclose(tmp);
        reply("captured " + to_hex(text.data(), text.size()));
        return;
    }
    if (!line.empty() && line[0] == '=') {
        std::istringstream in(line.substr(1));
        std::string cmd;
        in >> cmd;
        machine_command(cmd, in);
        return;
    }
    command(parse_command(line));  // the command loop sends only lines it parsed
}

// ---- The command loop's commands ----------------------------------------------------

void Worker::command(const DebugCommand& cmd) {
    using Kind = DebugCommand::Kind;
    if (view_ && (cmd.kind == Kind::kContinue || cmd.kind == Kind::kNext)) {
        fmt::print("(inside a slice: the debugger leaves it first)\n");
        return;
    }
    switch (cmd.kind) {
    case Kind::kContinue: run(false); break;
    case Kind::kNext: run(true); break;
    case Kind::kWhere: where(); break;
    case Kind::kEvents: events(cmd.number); break;
    case Kind::kSyscall: syscall(); break;
    case Kind::kThreads: print_threads(); break;
    case Kind::kRunqueues: print_runqueues(); break;
    case Kind::kEndpoints: print_endpoints(); break;
    case Kind::kCaps:
        if (kernel::Thread* t = thread_or_focus(cmd.thread))
            print_caps(t);
        break;
    case Kind::kVspace:
        if (kernel::Thread* t = thread_or_focus(cmd.thread))
            print_vspace(t);
        break;
    case Kind::kRegs:
        if (kernel::Thread* t = thread_or_focus(cmd.thread))
            print_regs(t);
        break;
    case Kind::kMem:
        if (cmd.addr > ~0ull - cmd.number)
            fmt::print("usage: mem ADDR LEN (hex address, 1..4096 bytes, in the focus thread's address space)\n");
        else
            print_memory(focus_thread(), cmd.addr, cmd.number);
        break;
    case Kind::kDisas: {
        kernel::Thread* t = find_thread(focus_thread());
        print_disassembly(focus_thread(), cmd.has_addr ? cmd.addr : t ? t->regs().rip : 0, cmd.number);
        break;
    }
    case Kind::kThread: focus(cmd.thread); break;
    case Kind::kBreak:
        breaks_.push_back(cmd.breakpoint);
        object_states_.push_back(object_state(cmd.breakpoint));
        break;
    case Kind::kDelete:  // the debugger process has checked N
        if (cmd.number == 0) {
            breaks_.clear();
            object_states_.clear();
        } else if (cmd.number <= breaks_.size()) {
            breaks_.erase(breaks_.begin() + static_cast<long>(cmd.number - 1));
            object_states_.erase(object_states_.begin() + static_cast<long>(cmd.number - 1));
        }
        break;
    default: break;  // the debugger process's own (stepi, prev, help, ...)
    }
}

// continue (or next: stop after the first step that wrote records).
void Worker::run(bool next) {
    if (ended_) {
        fmt::print("the run has ended ({})\n", end_text());
        return;
    }
    const size_t first = recs().size();
    snapshot_objects();
    for (;;) {
        const size_t before = recs().size();
        const bool more = step_once();
        if (sink_.diverged()) {
            fmt::print("the run diverged from the trace at or before record #{}\n", recs().size() - 1);
            break;
        }
        const std::string hit = breakpoint_hit(before);
        if (!hit.empty()) {
            fmt::print("breakpoint: {}\n", hit);
            break;
        }
        if (next && recs().size() > before)
            break;
        if (!more)
            break;
        if (g_interrupted) {
            fmt::print("interrupted\n");
            break;
        }
    }
    const size_t shown_from = next ? first : (recs().size() > first + 5 ? recs().size() - 5 : first);
    if (shown_from > first)
        fmt::print("  ... {} events\n", shown_from - first);
    for (size_t i = shown_from; i < recs().size(); ++i)
        fmt::print("  {}\n", replay::format(recs()[i]));
    if (ended_)
        fmt::print("the run has ended ({})\n", end_text());
    where();
}

std::string Worker::end_text() const {
    if (outcome_.kind == Outcome::Kind::kHalted)
        return fmt::format("the machine halted with code {}", outcome_.exit_code);
    return outcome_.message;
}

// The first breakpoint the records from `from` on satisfy, described; "" if none.
void Worker::snapshot_objects() {
    for (size_t i = 0; i < breaks_.size(); ++i)
        object_states_[i] = object_state(breaks_[i]);
}

std::string Worker::breakpoint_hit(size_t from) {
    // Object watches: what the step changed (every state is taken anew; the
    // first change is the one told).
    std::string changed;
    for (size_t i = 0; i < breaks_.size(); ++i) {
        if (!breaks_[i].watches_object())
            continue;
        std::string now = object_state(breaks_[i]);
        if (now != object_states_[i] && changed.empty())
            changed = fmt::format("{}: {} -> {} (at event #{})", breaks_[i].describe(), object_states_[i], now,
                                  recs().empty() ? 0 : recs().back().index);
        object_states_[i] = std::move(now);
    }
    if (!changed.empty())
        return changed;
    for (size_t i = from; i < recs().size(); ++i) {
        const Record& r = recs()[i];
        for (const Breakpoint& b : breaks_) {
            const bool hit =
                (b.kind == Breakpoint::Kind::kEvent && r.index == b.value) ||
                (b.kind == Breakpoint::Kind::kFault && r.k() == trace::Kind::k_fault) ||
                (b.kind == Breakpoint::Kind::kSyscall && r.k() == trace::Kind::k_syscall && r.f[2] == b.value &&
                 (!b.thread || r.f[1] == b.thread));
            if (hit) {
                focus_ = r.field("thread", focus_);
                return fmt::format("{} at {}", b.describe(), replay::format(r));
            }
        }
    }
    return "";
}

// The thread `id`, or the focus thread for 0; says so if there is none.
kernel::Thread* Worker::thread_or_focus(uint64_t id) {
    if (id == 0)
        id = focus_thread();
    kernel::Thread* t = find_thread(id);
    if (!t)
        fmt::print("no live thread {} (see `threads`)\n", id);
    return t;
}

void Worker::where() {
    const Machine::Slice* p = machine_.planned();
    std::string inside;
    if (view_)
        inside = fmt::format(", {} instruction{} into a slice of thread {} on cpu {}", view_k_,
                             view_k_ == 1 ? "" : "s", p->thread, p->cpu);
    else if (p && p->ran && machine_.slice_stop().kind == StopKind::kSyscall)
        inside = fmt::format(", thread {} entering a syscall on cpu {}", p->thread, p->cpu);
    fmt::print("at event #{} (step {}{}, virtual time {} blocks), cpu {}, thread {}\n",
               recs().empty() ? 0 : recs().back().index, steps_, inside, machine_.virtual_time(),
               machine_.last_cpu(), focus_thread());
}

void Worker::events(uint64_t n) {
    const size_t from = recs().size() > n ? recs().size() - n : 0;
    for (size_t i = from; i < recs().size(); ++i)
        fmt::print("  {}\n", replay::format(recs()[i]));
}

void Worker::syscall() {
    const uint64_t t = focus_thread();
    for (size_t i = recs().size(); i-- > 0;) {
        const Record& r = recs()[i];
        if (r.k() != trace::Kind::k_syscall || r.f[1] != t)
            continue;
        fmt::print("{}\n", replay::format(r));
        for (size_t j = i + 1; j < recs().size(); ++j) {
            const Record& x = recs()[j];
            if ((x.k() == trace::Kind::k_sysret && x.f[1] == t) || (x.k() == trace::Kind::k_wake && x.f[0] == t)) {
                fmt::print("  result: {}\n", replay::format(x));
                return;
            }
        }
        fmt::print("  result: not yet (thread {} is {})\n", t,
                   find_thread(t) ? kernel::thread_state_name(find_thread(t)->state()) : "gone");
        return;
    }
    fmt::print("thread {} has made no syscall yet\n", t);
}

void Worker::focus(uint64_t id) {
    if (!find_thread(id)) {
        fmt::print("no live thread {}\n", id);
        return;
    }
    focus_ = id;
    fmt::print("thread {}\n", id);
}

// Where the focus thread is, with its instruction.
void Worker::show() {
    where();
    if (kernel::Thread* t = find_thread(focus_thread()))
        print_disassembly(focus_thread(), t->regs().rip, 1);
}

// ---- The debugger process's requests ------------------------------------------------

void Worker::machine_command(const std::string& cmd, std::istringstream& in) {
    if (cmd == "goto") {  // forward to a step
        uint64_t target = 0;
        in >> target;
        fast_forward(target);
    } else if (cmd == "entry") {  // run the next slice up to its kernel entry
        if (plan() && !machine_.planned()->ran)
            run_user();
    } else if (cmd == "plan") {
        plan();
    } else if (cmd == "view") {
        uint64_t k = 0;
        in >> k;
        if (plan() && !machine_.planned()->ran && k > 0)
            become_view(k, "");
    } else if (cmd == "stepi") {
        uint64_t t = 0, n = 1, k = 0;
        in >> t >> n >> k;
        stepi(t, n, k);
    } else if (cmd == "cont") {
        uint64_t k = 0;
        int skip = 0;
        std::string known;
        in >> k >> skip >> known;
        watch_processes_ = !known.empty();
        known_processes_.clear();
        for (char* p = known.data(); *p;) {
            known_processes_.push_back(std::strtoull(p, &p, 16));
            p += *p == ',';
        }
        cont(k, skip != 0);
    } else if (cmd == "scan") {
        uint64_t hi = 0;
        int exclude = 0;
        in >> hi >> exclude;
        scan(hi, exclude != 0);
    } else if (cmd == "probe" || cmd == "collect") {
        uint64_t limit = ~0ull;
        in >> limit;
        if (!plan() || machine_.planned()->ran) {
            reply("probe none");
            return;
        }
        const Probe r = cmd == "probe" ? probe(limit, nullptr, 0, false)
                                       : probe(limit, slice_breakpoints(machine_.planned()->thread), 0, true);
        reply(fmt::format("probe {} {} {}", r.thread, r.executed, r.reached(limit) ? 1 : 0) +
              format_hits(r.hits, r.watch_hits));
    } else if (cmd == "find") {  // the last step at or before S whose slice ran thread T
        uint64_t t = 0, s = 0;
        in >> t >> s;
        uint64_t found = 0;
        for (uint64_t j = std::min<uint64_t>(s, slice_thread_.size()); j > 0; --j)
            if (slice_thread_[j - 1] == t) {
                found = j;
                break;
            }
        reply(fmt::format("find {}", found));
    } else if (cmd == "bp") {  // PROCESS:ADDR ... (the whole set)
        bps_.clear();
        std::string item;
        while (in >> item) {
            char* p = item.data();
            const uint64_t process = std::strtoull(p, &p, 16);
            bps_[process][std::strtoull(p + (*p == ':'), nullptr, 16)] = {};
        }
        set_code_watch();
    } else if (cmd == "watch") {  // PA:LEN:TYPE:VA:PROCESS ... (the whole set)
        std::vector<Watch> w;
        std::string item;
        while (in >> item) {
            Watch x;
            char* p = item.data();
            x.pa = std::strtoull(p, &p, 16);
            x.len = static_cast<uint32_t>(std::strtoul(p + 1, &p, 10));
            x.type = static_cast<int>(std::strtol(p + 1, &p, 10));
            x.va = std::strtoull(p + 1, &p, 16);
            x.process = *p == ':' ? std::strtoull(p + 1, &p, 16) : 0;
            w.push_back(x);
        }
        set_watches(std::move(w));
    } else if (cmd == "eventstep") {  // N [known]
        uint64_t n = 0;
        std::string known;
        in >> n >> known;
        while (known.empty() && recs().size() <= n && step_once()) {
        }
        if (n < record_step_.size())
            reply(fmt::format("eventstep {}", record_step_[n]));
    } else if (cmd == "phys") {  // T VA LEN
        uint64_t id = 0, va = 0, len = 0, pa = 0, last = 0;
        in >> id >> std::hex >> va >> len;
        kernel::Thread* t = find_thread(id);
        const bool ok = t && t->vspace() && len > 0 && len <= 8 &&
                        machine_.user_phys(t->vspace()->as(), va, &pa) &&
                        machine_.user_phys(t->vspace()->as(), va + len - 1, &last) && last == pa + len - 1;
        reply(ok ? fmt::format("phys {:x} {:x}", pa, process_of(t)) : std::string("phys none"));
    } else if (cmd == "catch") {  // off | all | NR...
        std::string what;
        in >> what;
        catching_ = what != "off";
        catch_all_ = what == "all";
        catch_.clear();
        if (catching_ && !catch_all_) {
            catch_.insert(std::strtoull(what.c_str(), nullptr, 10));
            uint64_t nr;
            while (in >> nr)
                catch_.insert(nr);
        }
    } else if (cmd == "focus") {
        uint64_t t = 0;
        if (in >> t)
            focus_ = t;
        reply(fmt::format("focus {}", focus_thread()));
    } else if (cmd == "threads") {
        std::string text = "threads";
        for (uint64_t id : live_threads())
            text += fmt::format(" {}", id);
        reply(text);
    } else if (cmd == "procs") {
        std::string text = "procs";
        for (const ProcessInfo& p : live_processes()) {
            std::string& name = program_names_[p.id];
            if (name.empty())
                name = program_of(p.id, options_.config.initramfs);
            text += fmt::format(" {:x}:{}:", p.id, to_hex(name.data(), name.size()));
            for (size_t i = 0; i < p.threads.size(); ++i)
                text += fmt::format("{}{:x}", i ? "," : "", p.threads[i]);
        }
        reply(text);
    } else if (cmd == "tinfo") {
        uint64_t id = 0;
        in >> id;
        kernel::Thread* t = find_thread(id);
        reply(t ? fmt::format("tinfo {} on cpu {}{}", kernel::thread_state_name(t->state()), t->cpu(), waits_on(t))
                : "tinfo gone");
    } else if (cmd == "regs") {  // the registers as they are in memory (Timeline::registers reads them)
        uint64_t id = 0;
        in >> id;
        kernel::Thread* t = find_thread(id);
        reply(t ? fmt::format("regs {} {}", to_hex(&t->regs(), sizeof(hal::UserRegs)),
                              to_hex(t->ext().bytes, ANVIL_EXT_STATE_SIZE))
                : "regs");
    } else if (cmd == "mem") {
        uint64_t id = 0, va = 0, len = 0;
        in >> id >> std::hex >> va >> len;
        const std::vector<uint8_t> buf = read_readable(find_thread(id), va, len);
        reply("mem " + to_hex(buf.data(), buf.size()));
    } else if (cmd == "show") {
        show();
    }
}

// ---- Instruction breakpoints, by process --------------------------------------

const sim::Breakpoints* Worker::slice_breakpoints(uint64_t thread) {
    const auto every = bps_.find(0);
    const auto own = bps_.find(process_of(find_thread(thread)));
    if (own == bps_.end() || own->first == 0)
        return every == bps_.end() ? nullptr : &every->second;
    slice_bps_ = own->second;
    if (every != bps_.end())
        slice_bps_.insert(every->second.begin(), every->second.end());
    return &slice_bps_;
}

void Worker::set_code_watch() {
    as_made_ = machine_.address_spaces_made();
    if (view_)
        return;
    std::map<uint64_t, sim::Breakpoints> per_as;
    for (const auto& [process, b] : bps_)
        if (process != 0)
            if (const uint64_t as = address_space_of(process))
                per_as[as] = b;
    const auto every = bps_.find(0);
    machine_.set_watch(every == bps_.end() ? sim::Breakpoints{} : every->second, per_as);
}

uint64_t Worker::new_process_thread() {
    if (!watch_processes_ || !std::exchange(resumed_, false))
        return 0;
    for (const ProcessInfo& p : live_processes())
        if (std::find(known_processes_.begin(), known_processes_.end(), p.id) == known_processes_.end()) {
            known_processes_.push_back(p.id);
            return p.threads.front();
        }
    return 0;
}

// ---- Data watchpoints ---------------------------------------------------------

bool Worker::stops_at(const sim::DataHit& h) const {
    if (h.watch >= watches_.size())
        return false;
    // (a watch of one process: the access was made by the slice's thread)
    const Machine::Slice* p = machine_.planned();
    if (watches_[h.watch].process && (!p || process_of(find_thread(p->thread)) != watches_[h.watch].process))
        return false;
    switch (watches_[h.watch].type) {
    case 2: return h.write && h.old_value != h.new_value;
    case 3: return !h.write;
    default: return true;
    }
}

bool Worker::take_watch_stop() {
    bool stop = false;
    for (const sim::DataHit& h : machine_.take_data_hits())
        stop |= stops_at(h);
    return stop;
}

void Worker::set_watches(std::vector<Watch> w) {
    watches_ = std::move(w);
    std::vector<sim::DataWatch> data;
    for (const Watch& x : watches_)
        data.push_back(sim::DataWatch{static_cast<const uint8_t*>(machine_.phys_to_virt(x.pa)), x.len,
                                      x.type != 2, x.type != 3});
    machine_.set_data_watches(std::move(data));
}

}  // namespace replay::debug
