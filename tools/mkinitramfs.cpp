// anvil-mkinitramfs: packs files into a CPIO "newc" archive (the initramfs).
//   anvil-mkinitramfs OUT.cpio NAME=PATH [NAME=PATH ...]
// Entries are written in argument order with fixed metadata (mtime 0, uid 0,
// inode = index), so the same inputs always give the same bytes.
// Exit status: 0; 1 if the archive cannot be written; 2 for bad arguments or an
// unreadable input file.
#include <cstdio>
#include <fmt/core.h>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

void append_entry(std::string& out, unsigned ino, const std::string& name, const std::string& data,
                  unsigned mode) {
    out += fmt::format("070701{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
                       ino, mode, 0, 0, 1, 0, data.size(), 0, 0, 0, 0, name.size() + 1, 0);
    out += name;
    out.push_back('\0');
    while (out.size() % 4)
        out.push_back('\0');
    out += data;
    while (out.size() % 4)
        out.push_back('\0');
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
        fmt::print(stderr, "usage: anvil-mkinitramfs OUT.cpio NAME=PATH [NAME=PATH ...]\n"
                           "Packs each PATH as member NAME of a CPIO newc archive.\n");
        return argc < 2 ? 2 : 0;
    }
    std::string archive;
    unsigned ino = 1;
    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        const auto eq = arg.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size()) {
            fmt::print(stderr, "anvil-mkinitramfs: '{}' is not NAME=PATH\n", arg);
            return 2;
        }
        const std::string name = arg.substr(0, eq), path = arg.substr(eq + 1);
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            fmt::print(stderr, "anvil-mkinitramfs: cannot read '{}' (for member '{}')\n", path, name);
            return 2;
        }
        const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        append_entry(archive, ino++, name, data, 0100755);
    }
    append_entry(archive, 0, "TRAILER!!!", "", 0);
    std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
    out.write(archive.data(), static_cast<std::streamsize>(archive.size()));
    if (!out) {
        fmt::print(stderr, "anvil-mkinitramfs: cannot write '{}'\n", argv[1]);
        return 1;
    }
    return 0;
}
