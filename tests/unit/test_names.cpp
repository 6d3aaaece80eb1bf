// Host tests of the name lookups every program shares (<anvil/syscalls.h>,
// <anvil/status.h>, <anvil/exit_codes.h>): each name is found by its number and
// nothing else is, and docs/exit-codes.md explains every exit code in the list;
// and the kernel command line's words (<hal/cmdline.h>), read the same way by
// the kernel and the x86_64 backend's boot.
#include "replay/trace_reader.h"

#include <anvil/exit_codes.h>
#include <anvil/status.h>
#include <anvil/syscalls.h>
#include <hal/cmdline.h>
#include "catch.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>

TEST_CASE("names: every syscall number has its row's description, and no other number has one") {
    std::set<std::string> names;
#define ANVIL_TEST_SYSCALL(num, row_name, wrap, ...)                            \
    {                                                                         \
        const anvil_syscall_desc_t* d = anvil_syscall_desc(num);              \
        REQUIRE(d != nullptr);                                                \
        CHECK(std::string(d->name) == #row_name);                             \
        CHECK(d->nin == ANVIL_SYSCALL_NIN(__VA_ARGS__));                      \
        CHECK(d->nout == ANVIL_SYSCALL_NOUT(__VA_ARGS__));                    \
        names.insert(d->name);                                                \
    }
    ANVIL_SYSCALLS(ANVIL_TEST_SYSCALL)
#undef ANVIL_TEST_SYSCALL
    CHECK(names.size() == ANVIL_SYS_COUNT);
    CHECK(std::string(anvil_syscall_desc(ANVIL_SYS_vma_map)->in_names[1]) == "va");
    CHECK(anvil_syscall_desc(ANVIL_SYS_vma_map)->in_names[6] == nullptr);
    CHECK(std::string(anvil_syscall_desc(ANVIL_SYS_ipc_recv)->out_names[0]) == "badge");
    for (uint64_t nr : {uint64_t{ANVIL_SYS_COUNT}, uint64_t{1000}, uint64_t{1} << 32, UINT64_MAX})
        CHECK(anvil_syscall_desc(nr) == nullptr);
}

TEST_CASE("names: every status code has its name, and values that are no status have none") {
    int listed = 0;
#define ANVIL_TEST_STATUS(name, value, desc)                    \
    CHECK(std::string(anvil_status_name(value, "?")) == #name); \
    ++listed;
    ANVIL_STATUS_LIST(ANVIL_TEST_STATUS)
#undef ANVIL_TEST_STATUS
    CHECK(listed == 1 - ANVIL_STATUS_MIN);  // the list has no gaps
    for (int s : {1, ANVIL_STATUS_MIN - 1, INT32_MIN, INT32_MAX})
        CHECK(anvil_status_name(s, nullptr) == nullptr);
    // A trace's status may be any 64-bit value: one that is not a status has no
    // name, even if its low 32 bits are one.
    for (int64_t s : {int64_t{1}, int64_t{ANVIL_STATUS_MIN} - 1, int64_t{1} << 32, (int64_t{1} << 32) - 5, INT64_MIN})
        CHECK(replay::status_name(s) == nullptr);
    CHECK(std::string(replay::status_name(ANVIL_ERR_FAULT)) == "ANVIL_ERR_FAULT");
}

TEST_CASE("names: docs/exit-codes.md has a row for every exit code in <anvil/exit_codes.h>") {
    std::ifstream in(ANVIL_SOURCE_DIR "/docs/exit-codes.md");
    REQUIRE(in);
    std::stringstream doc;
    doc << in.rdbuf();
    const std::string text = doc.str();
    std::set<int> values;
#define ANVIL_TEST_EXIT(name, value, desc)                          \
    {                                                               \
        CAPTURE(#name);                                             \
        CHECK(text.find("\n| " #value " | ") != std::string::npos); \
        CHECK(values.insert(value).second); /* each value once */   \
    }
    ANVIL_EXIT_CODES(ANVIL_TEST_EXIT)
#undef ANVIL_TEST_EXIT
}

TEST_CASE("names: a command-line word is found whole, or as a prefix when asked") {
    const char* line = "  trace ipc.fastpath=off fpu=lazy ";
    CHECK(hal::cmdline_has(line, "trace"));
    CHECK(hal::cmdline_has(line, "ipc.fastpath=off"));
    CHECK(hal::cmdline_has(line, "fpu=lazy"));
    CHECK_FALSE(hal::cmdline_has(line, "trac"));
    CHECK_FALSE(hal::cmdline_has(line, "fpu="));
    CHECK(hal::cmdline_has(line, "fpu=", true));
    CHECK_FALSE(hal::cmdline_has(line, "lazy", true));
    CHECK_FALSE(hal::cmdline_has("", "trace"));
    CHECK_FALSE(hal::cmdline_has("tracefoo", "trace"));
}
