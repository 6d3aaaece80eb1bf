// libFuzzer harness: init's services manifest parser (userspace/init/manifest.c,
// the same C source init runs) on any bytes, as init reads the "services"
// member of the initramfs.
//
// Checks, for a manifest it accepts: 1 to MANIFEST_MAX_SERVICES services with
// distinct valid names and programs, NUL-terminated inside their arrays;
// priority, restart limit and CPU in range; at most one main service, the one
// manifest_main() returns; each service's caps in distinct well-known slots,
// a tcb: cap naming an earlier service; and the manifest written back as text
// parses to the same services. For one it refuses: a message naming the line.
// Both ways, a short error buffer is filled NUL-terminated and not overrun.
extern "C" {
#include "manifest.h"
}
#include "fuzz/check.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace {

// The caps= words (manifest.h), by kind.
const char* cap_word(const manifest& m, const manifest_cap& c, std::string* tcb) {
    switch (c.kind) {
    case CAP_NS: return "ns";
    case CAP_NS_SERVE: return "ns-serve";
    case CAP_IO: return "io";
    case CAP_IO_SERVE: return "io-serve";
    case CAP_IO_PUBLISH: return "io-publish";
    case CAP_COM1_IOPORT: return "com1-ioport";
    case CAP_COM1_IRQ: return "com1-irq";
    case CAP_INITRAMFS: return "initramfs";
    case CAP_PEER_TCB: *tcb = std::string("tcb:") + m.entries[c.peer].name; return tcb->c_str();
    }
    return nullptr;
}

bool terminated(const char* s, size_t n) { return std::memchr(s, '\0', n) != nullptr; }

// The manifest as text in the format of manifest.h, every option spelled out.
std::string write_back(const manifest& m) {
    std::string text = "# written back by fuzz-manifest\n";
    for (unsigned i = 0; i < m.count; ++i) {
        const manifest_entry& e = m.entries[i];
        text += std::string(e.name) + " program=" + e.program + " prio=" + std::to_string(e.priority) +
                " restart=" + std::to_string(e.restart_limit);
        if (e.pinned)
            text += " cpu=" + std::to_string(e.cpu);
        if (e.is_main)
            text += "\tmain";
        for (unsigned k = 0; k < e.cap_count; ++k) {
            std::string tcb;
            text += (k ? "," : " caps=") + std::string(cap_word(m, e.caps[k], &tcb));
        }
        text += "\n";
    }
    return text;
}

bool same_entry(const manifest_entry& a, const manifest_entry& b) {
    if (std::strcmp(a.name, b.name) || std::strcmp(a.program, b.program) || a.priority != b.priority ||
        a.restart_limit != b.restart_limit || a.pinned != b.pinned || a.cpu != b.cpu || a.is_main != b.is_main ||
        a.cap_count != b.cap_count)
        return false;
    for (unsigned k = 0; k < a.cap_count; ++k)
        if (a.caps[k].kind != b.caps[k].kind || a.caps[k].peer != b.caps[k].peer || a.caps[k].slot != b.caps[k].slot)
            return false;
    return true;
}

void check_accepted(const manifest& m) {
    FUZZ_CHECK(m.count >= 1 && m.count <= MANIFEST_MAX_SERVICES, "service count out of range");
    const manifest_entry* main_entry = nullptr;
    for (unsigned i = 0; i < m.count; ++i) {
        const manifest_entry& e = m.entries[i];
        FUZZ_CHECK(terminated(e.name, sizeof e.name) && e.name[0], "a name empty or not NUL-terminated");
        FUZZ_CHECK(terminated(e.program, sizeof e.program) && e.program[0], "a program empty or not NUL-terminated");
        for (unsigned j = 0; j < i; ++j)
            FUZZ_CHECK(std::strcmp(m.entries[j].name, e.name) != 0, "two services with one name");
        FUZZ_CHECK(e.priority <= 255 && e.restart_limit <= 100, "priority or restart limit out of range");
        FUZZ_CHECK(e.pinned ? e.cpu <= 255 : e.cpu == 0, "a CPU out of range, or one without cpu=");
        if (e.is_main) {
            FUZZ_CHECK(!main_entry, "two main services");
            main_entry = &e;
        }
        FUZZ_CHECK(e.cap_count <= MANIFEST_MAX_CAPS, "too many caps");
        unsigned tcbs = 0;
        for (unsigned k = 0; k < e.cap_count; ++k) {
            const manifest_cap& c = e.caps[k];
            FUZZ_CHECK(c.kind >= CAP_NS && c.kind <= CAP_PEER_TCB, "a cap of no kind");
            FUZZ_CHECK(manifest_has_cap(&e, c.kind), "manifest_has_cap misses a cap the entry has");
            for (unsigned j = 0; j < k; ++j)
                FUZZ_CHECK(e.caps[j].slot != c.slot, "two caps in one slot");
            if (c.kind == CAP_PEER_TCB) {
                FUZZ_CHECK(c.peer < i, "a tcb: cap naming no earlier service");
                FUZZ_CHECK(c.slot == (tcbs++ == 0 ? 11u : 14u), "a tcb: cap outside slots 11 and 14");
            } else {
                FUZZ_CHECK(c.slot >= 4 && c.slot <= 10 && c.slot != 6, "a cap outside the well-known slots");
            }
        }
    }
    FUZZ_CHECK(manifest_main(&m) == main_entry, "manifest_main() is not the main service");

    // Written back as text, the same services.
    const std::string text = write_back(m);
    static manifest again;
    char error[128] = "";
    FUZZ_CHECK(manifest_parse(text.data(), text.size(), &again, error, sizeof error), "the written-back manifest is refused");
    FUZZ_CHECK(again.count == m.count, "the written-back manifest has another count");
    for (unsigned i = 0; i < m.count; ++i)
        FUZZ_CHECK(same_entry(m.entries[i], again.entries[i]), "a written-back service differs");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static manifest m;  // about 2 KiB: not on the stack, as in init
    const char* text = reinterpret_cast<const char*>(data);
    char error[128];
    std::memset(error, 'x', sizeof error);
    const int ok = manifest_parse(text, size, &m, error, sizeof error);
    if (ok) {
        check_accepted(m);
    } else {
        FUZZ_CHECK(terminated(error, sizeof error), "an error message not NUL-terminated");
        FUZZ_CHECK(std::strncmp(error, "line ", 5) == 0 || std::strcmp(error, "no services listed") == 0,
                   "an error that names no line");
    }
    // A short error buffer: cut, terminated, and nothing written past it.
    char small[16];
    std::memset(small, 'x', sizeof small);
    const int again = manifest_parse(text, size, &m, small, 6);
    FUZZ_CHECK(again == ok, "the error buffer's size changed the verdict");
    if (!again) {
        FUZZ_CHECK(terminated(small, 6), "a short error buffer not NUL-terminated");
        for (size_t i = 6; i < sizeof small; ++i)
            FUZZ_CHECK(small[i] == 'x', "the parser wrote past the error buffer");
    }
    return 0;
}
