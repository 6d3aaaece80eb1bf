// libFuzzer harness: the kernel's initramfs reader (kernel/boot/cpio) on any
// bytes, as boot() uses it: walk the archive, find "init", check it as an ELF.
// The data libFuzzer passes is an exact-size heap copy, so ASan catches a read
// even one byte past the archive.
#include "fuzz/check.h"
#include "kernel/introspect.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace {

constexpr size_t kHeaderSize = 110;
volatile unsigned g_sink;

// Checks one member against the archive it came from.
void check_entry(const uint8_t* data, size_t size, const kernel::cpio::Entry& e) {
    const auto name_at = reinterpret_cast<uintptr_t>(e.name), base = reinterpret_cast<uintptr_t>(data);
    FUZZ_CHECK(name_at >= base + kHeaderSize && name_at < base + size, "member name outside the archive");
    const size_t name_room = base + size - name_at;
    FUZZ_CHECK(std::memchr(e.name, '\0', name_room) != nullptr, "member name not NUL-terminated inside the archive");
    const auto data_at = reinterpret_cast<uintptr_t>(e.data);
    FUZZ_CHECK(data_at >= name_at && data_at <= base + size, "member data outside the archive");
    FUZZ_CHECK(e.size <= base + size - data_at, "member data runs past the archive");
    g_sink = touch(e.data, e.size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    kernel::cpio::Reader reader(data, size);
    kernel::cpio::Entry e{};
    kernel::Status s;
    size_t members = 0;
    while ((s = reader.next(&e)) == ANVIL_OK) {
        check_entry(data, size, e);
        // A member takes at least a header and a 1-byte name: the walk always advances.
        FUZZ_CHECK(++members <= size / (kHeaderSize + 1), "more members than the archive has room for");
    }
    FUZZ_CHECK(s == ANVIL_ERR_NOT_FOUND || s == ANVIL_ERR_INVALID_ARG, "next() returned an unexpected status");
    if (s == ANVIL_ERR_INVALID_ARG)
        FUZZ_CHECK(reader.error() && reader.error()[0], "a malformed archive without a reason");
    else
        FUZZ_CHECK(reader.next(&e) == ANVIL_ERR_NOT_FOUND, "next() after the trailer did not stay at the end");

    // What boot() does next: find "init" and check it as a program.
    kernel::cpio::Entry init{};
    const char* error = nullptr;
    s = kernel::cpio::find(data, size, "init", &init, &error);
    if (s == ANVIL_ERR_INVALID_ARG)
        FUZZ_CHECK(error && error[0], "find() failed without a reason");
    if (s != ANVIL_OK)
        return 0;
    check_entry(data, size, init);
    kernel::elf::Image image;
    error = nullptr;
    if (kernel::elf::parse(init.data, init.size, &image, &error) != ANVIL_OK)
        FUZZ_CHECK(error && error[0], "elf::parse failed without a reason");
    return 0;
}
