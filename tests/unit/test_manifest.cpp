// Host tests of init's services manifest parser (userspace/init/manifest.c, the
// same C source init runs): the format of manifest.h, and bad manifests refused
// with the line and the problem named.
extern "C" {
#include "manifest.h"
}

#include "catch.h"

#include <set>
#include <string>

namespace {

struct Parsed {
    bool ok;
    std::string error;
    manifest m;
};

Parsed parse(const std::string& text) {
    Parsed p{};
    char error[128] = "";
    p.ok = manifest_parse(text.data(), text.size(), &p.m, error, sizeof error) != 0;
    p.error = error;
    return p;
}

}  // namespace

TEST_CASE("manifest: services in order with their options and caps") {
    const Parsed p = parse(
        "# comment line\n"
        "nameserver prio=120 restart=3 caps=ns-serve\n"
        "\n"
        "  ioserver prio=120 restart=3 caps=io-serve,io-publish,ns,com1-ioport,com1-irq   # trailing\n"
        "tests program=anvil-user-tests prio=128 cpu=0 main caps=ns,io,initramfs,tcb:ioserver\r\n");
    REQUIRE(p.ok);
    REQUIRE(p.m.count == 3);
    const manifest_entry& ns = p.m.entries[0];
    CHECK(std::string(ns.name) == "nameserver");
    CHECK(std::string(ns.program) == "nameserver");
    CHECK(ns.priority == 120);
    CHECK(ns.restart_limit == 3);
    CHECK_FALSE(ns.pinned);
    CHECK_FALSE(ns.is_main);
    REQUIRE(ns.cap_count == 1);
    CHECK(ns.caps[0].kind == CAP_NS_SERVE);

    const manifest_entry& io = p.m.entries[1];
    REQUIRE(io.cap_count == 5);
    CHECK(io.caps[0].kind == CAP_IO_SERVE);
    CHECK(io.caps[4].kind == CAP_COM1_IRQ);
    CHECK(manifest_has_cap(&io, CAP_COM1_IOPORT));
    CHECK_FALSE(manifest_has_cap(&io, CAP_INITRAMFS));

    const manifest_entry& t = p.m.entries[2];
    CHECK(std::string(t.program) == "anvil-user-tests");
    CHECK(t.pinned);
    CHECK(t.cpu == 0);
    CHECK(t.is_main);
    REQUIRE(t.cap_count == 4);
    CHECK(t.caps[3].kind == CAP_PEER_TCB);
    CHECK(t.caps[3].peer == 1);
    CHECK(manifest_main(&p.m) == &p.m.entries[2]);
}

TEST_CASE("manifest: defaults") {
    const Parsed p = parse("solo\n");
    REQUIRE(p.ok);
    CHECK(p.m.entries[0].priority == 100);
    CHECK(p.m.entries[0].restart_limit == 0);
    CHECK(p.m.entries[0].cap_count == 0);
    CHECK(manifest_main(&p.m) == nullptr);
}

TEST_CASE("manifest: bad manifests are refused with the line and the problem") {
    const auto [text, why] = GENERATE(table<std::string, std::string>({
        {"", "no services listed"},
        {"# only a comment\n", "no services listed"},
        {"a\nb prio=256\n", "line 2: prio must be 0..255"},
        {"a prio=\n", "line 1: prio must be 0..255"},
        {"a prio=12x\n", "line 1: prio must be 0..255"},
        {"a restart=101\n", "line 1: restart must be 0..100"},
        {"a cpu=-1\n", "line 1: cpu must be a CPU number"},
        {"a caps=ns,bogus\n", "line 1: unknown cap"},
        {"a caps=ns,,io\n", "line 1: empty cap in caps="},
        {"a caps=ns,ns\n", "line 1: two caps for the same slot"},
        {"a caps=io,io-serve\n", "line 1: two caps for the same slot"},
        {"a\nb caps=tcb:a,tcb:a\n", "line 2: the same tcb: cap twice"},
        {"a\nb\nc\nd caps=tcb:a,tcb:b,tcb:c\n", "line 4: more than two tcb: caps"},
        {"a caps=tcb:b\nb\n", "line 1: tcb: names no earlier service"},
        {"a colour=red\n", "line 1: unknown option"},
        {"a loud\n", "line 1: unknown option"},
        {"a main\nb main\n", "line 2: more than one main service"},
        {"a\na\n", "line 2: service named twice"},
        {"bad!name\n", "line 1: bad service name"},
        {"a program=\n", "line 1: bad program name"},
        {"abcdefghijabcdefghijabcdefghijabc\n", "line 1: bad service name"},
        {std::string("a\nb") + std::string(300, ' ') + "x\n", "line 2: line too long"},
        {std::string("a\0b\n", 4), "line 1: NUL byte in the text"},
    }));
    INFO("manifest: " << text);
    const Parsed p = parse(text);
    CHECK_FALSE(p.ok);
    CHECK(p.error == why);
}

TEST_CASE("manifest: at most MANIFEST_MAX_SERVICES services, and every slot filled at once") {
    std::string text;
    for (unsigned i = 0; i < MANIFEST_MAX_SERVICES; ++i)
        text += "s" + std::to_string(i) + "\n";
    CHECK(parse(text).ok);
    text += "one-more\n";
    CHECK(parse(text).error == "line 17: too many services");

    const Parsed p = parse("a\nb\nc caps=ns,io,initramfs,com1-ioport,com1-irq,io-publish,tcb:a,tcb:b\n");
    REQUIRE(p.ok);
    const manifest_entry& c = p.m.entries[2];
    REQUIRE(c.cap_count == MANIFEST_MAX_CAPS);
    // Each in its own slot; the second tcb: cap in slot 14.
    std::set<unsigned> slots;
    for (unsigned i = 0; i < c.cap_count; ++i)
        slots.insert(c.caps[i].slot);
    CHECK(slots == std::set<unsigned>{4, 5, 7, 8, 9, 10, 11, 14});
    CHECK(c.caps[6].kind == CAP_PEER_TCB);
    CHECK(c.caps[6].peer == 0);
    CHECK(c.caps[6].slot == 11);
    CHECK(c.caps[7].peer == 1);
    CHECK(c.caps[7].slot == 14);
}
