// The target the GDB server describes (gdb_target.h): x86-64 with GNU/Linux's
// OS ABI, so that gdb's `catch syscall` applies, and Anvil's syscall table.
#include "replay/debug/gdb_target.h"

#include "replay/debug/hex.h"

#include <anvil/syscalls.h>
#include <fmt/core.h>

#include <cstring>

namespace replay::debug::gdb {

namespace {


constexpr const char* kCore = "org.gnu.gdb.i386.core";
constexpr const char* kSse = "org.gnu.gdb.i386.sse";
constexpr const char* kLinux = "org.gnu.gdb.i386.linux";
constexpr const char* kSegments = "org.gnu.gdb.i386.segments";

// The types of the SSE registers: an xmm register as the vectors it can hold
// (`p $xmm0`, `info vector`), MXCSR as its flags.
constexpr const char* kSseTypes =
    "<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>\n"
    "<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>\n"
    "<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>\n"
    "<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>\n"
    "<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>\n"
    "<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>\n"
    "<union id=\"vec128\"><field name=\"v4_float\" type=\"v4f\"/><field name=\"v2_double\" type=\"v2d\"/>"
    "<field name=\"v16_int8\" type=\"v16i8\"/><field name=\"v8_int16\" type=\"v8i16\"/>"
    "<field name=\"v4_int32\" type=\"v4i32\"/><field name=\"v2_int64\" type=\"v2i64\"/>"
    "<field name=\"uint128\" type=\"uint128\"/></union>\n"
    "<flags id=\"i386_mxcsr\" size=\"4\"><field name=\"IE\" start=\"0\" end=\"0\"/>"
    "<field name=\"DE\" start=\"1\" end=\"1\"/><field name=\"ZE\" start=\"2\" end=\"2\"/>"
    "<field name=\"OE\" start=\"3\" end=\"3\"/><field name=\"UE\" start=\"4\" end=\"4\"/>"
    "<field name=\"PE\" start=\"5\" end=\"5\"/><field name=\"DAZ\" start=\"6\" end=\"6\"/>"
    "<field name=\"IM\" start=\"7\" end=\"7\"/><field name=\"DM\" start=\"8\" end=\"8\"/>"
    "<field name=\"ZM\" start=\"9\" end=\"9\"/><field name=\"OM\" start=\"10\" end=\"10\"/>"
    "<field name=\"UM\" start=\"11\" end=\"11\"/><field name=\"PM\" start=\"12\" end=\"12\"/>"
    "<field name=\"FZ\" start=\"15\" end=\"15\"/></flags>\n";

// The registers of GDB's amd64 GNU/Linux target. The simulator keeps x87 and
// SSE state per thread, not AVX (Unicorn has none): no ymm registers.
std::vector<Register> make_registers() {
    std::vector<Register> r;
    using U = hal::UserRegs;
    auto field = [&](std::string name, const char* type, uint64_t U::*f, unsigned bits = 64) {
        r.push_back({std::move(name), bits, type, nullptr, kCore, f, std::nullopt});
    };
    field("rax", "int64", &U::rax);
    field("rbx", "int64", &U::rbx);
    field("rcx", "int64", &U::rcx);
    field("rdx", "int64", &U::rdx);
    field("rsi", "int64", &U::rsi);
    field("rdi", "int64", &U::rdi);
    field("rbp", "data_ptr", &U::rbp);
    field("rsp", "data_ptr", &U::rsp);
    uint64_t U::*const high[] = {&U::r8, &U::r9, &U::r10, &U::r11, &U::r12, &U::r13, &U::r14, &U::r15};
    for (int i = 0; i < 8; ++i)
        field(fmt::format("r{}", i + 8), "int64", high[i]);
    field("rip", "code_ptr", &U::rip);
    field("eflags", "int32", &U::rflags, 32);
    // The selectors a user thread runs with (the platform page's GDT).
    const std::pair<const char*, uint64_t> segments[] = {{"cs", 0x23}, {"ss", 0x1b}, {"ds", 0},
                                                         {"es", 0},    {"fs", 0},    {"gs", 0}};
    for (const auto& [name, selector] : segments)
        r.push_back({name, 32, "int32", nullptr, kCore, nullptr, selector});
    // x87 and SSE from the thread's hal::ExtState (FXSAVE's layout: the
    // instruction and operand pointers are 64-bit there, so the selectors are 0).
    using E = Register::Ext;
    auto ext = [&](std::string name, unsigned bits, const char* type, const char* group, const char* feature, E how,
                   unsigned at) {
        r.push_back({std::move(name), bits, type, group, feature, nullptr, std::nullopt, how, at});
    };
    for (unsigned i = 0; i < 8; ++i)
        ext(fmt::format("st{}", i), 80, "i387_ext", nullptr, kCore, E::kBytes, hal::kExtSt0 + 16 * i);
    ext("fctrl", 32, "int", "float", kCore, E::kWord, hal::kExtFcw);
    ext("fstat", 32, "int", "float", kCore, E::kWord, hal::kExtFcw + 2);
    ext("ftag", 32, "int", "float", kCore, E::kTag, 0);
    r.push_back({"fiseg", 32, "int", "float", kCore, nullptr, 0});
    ext("fioff", 32, "int", "float", kCore, E::kBytes, 8);
    r.push_back({"foseg", 32, "int", "float", kCore, nullptr, 0});
    ext("fooff", 32, "int", "float", kCore, E::kBytes, 16);
    ext("fop", 32, "int", "float", kCore, E::kOpcode, 6);
    for (unsigned i = 0; i < 16; ++i)
        ext(fmt::format("xmm{}", i), 128, "vec128", "vector", kSse, E::kBytes, hal::kExtXmm0 + 16 * i);
    ext("mxcsr", 32, "i386_mxcsr", "vector", kSse, E::kBytes, hal::kExtMxcsr);
    r.push_back({"orig_rax", 64, "int", nullptr, kLinux, nullptr, ~0ull});  // not in a syscall restart
    r.push_back({"fs_base", 64, "int", nullptr, kSegments, &U::fs_base, std::nullopt});
    r.push_back({"gs_base", 64, "int", nullptr, kSegments, nullptr, 0});
    return r;
}

}  // namespace

const std::vector<Register>& registers() {
    static const std::vector<Register> kRegisters = make_registers();
    return kRegisters;
}

std::vector<RegSlot> register_layout() {
    std::vector<RegSlot> slots;
    unsigned at = 0;
    for (const Register& r : registers()) {
        slots.push_back({at, r.bits / 8});
        at += r.bits / 8;
    }
    return slots;
}

namespace {

// The x87 tag word gdb shows (2 bits a physical register: 0 valid, 1 zero,
// 2 special, 3 empty) from FXSAVE's abridged one and the registers' values.
uint16_t full_tag_word(const std::vector<uint8_t>& ext) {
    const unsigned top = (ext[hal::kExtFcw + 3] >> 3) & 7;  // FSW bits 11-13
    uint16_t tags = 0;
    for (unsigned phys = 0; phys < 8; ++phys) {
        unsigned tag = 3;
        if (ext[4] & (1u << phys)) {
            const uint8_t* st = &ext[hal::kExtSt0 + 16 * ((phys - top) & 7)];
            const unsigned exponent = (st[8] | st[9] << 8) & 0x7fff;
            uint64_t mantissa;
            std::memcpy(&mantissa, st, 8);
            tag = exponent == 0x7fff ? 2 : exponent == 0 ? (mantissa == 0 ? 1 : 2) : (mantissa >> 63 ? 0 : 2);
        }
        tags |= uint16_t(tag << (2 * phys));
    }
    return tags;
}

}  // namespace

std::string pack_registers(const ThreadRegisters& t) {
    using E = Register::Ext;
    std::string s;
    for (const Register& r : registers()) {
        const unsigned size = r.bits / 8;
        if (r.field || r.constant) {
            const uint64_t v = r.field ? t.regs.*r.field : *r.constant;
            s += to_hex(&v, size);  // little-endian, as x86-64: the low `size` bytes
        } else if (r.ext == E::kNone || t.ext.size() < hal::kExtXstateBv) {
            s += std::string(size * 2, 'x');
        } else if (r.ext == E::kBytes) {
            s += to_hex(&t.ext[r.ext_at], size);
        } else {
            uint32_t v = r.ext == E::kTag ? full_tag_word(t.ext) : uint32_t(t.ext[r.ext_at] | t.ext[r.ext_at + 1] << 8);
            if (r.ext == E::kOpcode)
                v &= 0x7ff;
            s += to_hex(&v, size);
        }
    }
    return s;
}

std::string target_xml() {
    std::string x =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n"
        "<architecture>i386:x86-64</architecture>\n<osabi>GNU/Linux</osabi>\n";
    const char* feature = nullptr;
    unsigned n = 0;
    for (const Register& r : registers()) {
        if (!feature || std::string_view(feature) != r.feature) {
            x += fmt::format("{}<feature name=\"{}\">\n", feature ? "</feature>\n" : "", r.feature);
            feature = r.feature;
            if (feature == std::string_view(kSse))
                x += kSseTypes;
        }
        x += fmt::format("<reg name=\"{}\" bitsize=\"{}\" type=\"{}\" regnum=\"{}\"{}/>\n", r.name, r.bits, r.type,
                         n++, r.group ? fmt::format(" group=\"{}\"", r.group) : "");
    }
    x += "</feature>\n</target>\n";
    return x;
}

std::string syscalls_xml() {
    std::string x = "<?xml version=\"1.0\"?>\n<!-- Anvil's syscalls, for gdb's catch syscall NAME: generated by "
                    "anvil-debug from kernel/include/anvil/syscalls.h -->\n<syscalls_info>\n";
    for (uint32_t i = 0; i < ANVIL_SYS_COUNT; ++i)
        x += fmt::format("  <syscall name=\"{}\" number=\"{}\"/>\n", anvil_syscall_desc(i)->name, i);
    x += "</syscalls_info>\n";
    return x;
}

}  // namespace replay::debug::gdb
