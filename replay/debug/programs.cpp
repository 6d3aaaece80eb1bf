// The files gdb reads each process's symbols from (programs.h).
#include "replay/debug/programs.h"

#include "kernel/introspect.h"

#include <dirent.h>
#include <fmt/core.h>

#include <cstdio>
#include <fstream>
#include <iterator>

namespace replay::debug {

std::string loadable_image(const uint8_t* data, size_t size) {
    kernel::elf::Image image;
    const char* why = nullptr;
    if (kernel::elf::parse(data, size, &image, &why) != ANVIL_OK)
        return "";
    std::string out = fmt::format("{:x}", image.entry);
    for (size_t i = 0; i < image.segment_count; ++i) {
        const kernel::elf::Segment& s = image.segments[i];
        out += fmt::format(";{:x},{:x},{:x},{:x}:", s.vaddr, s.filesz, s.memsz, s.perms);
        out.append(reinterpret_cast<const char*>(data + s.offset), s.filesz);
    }
    return out;
}

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

std::string ProgramFiles::path(const std::string& name) {
    if (const auto it = found_.find(name); it != found_.end())
        return it->second;
    kernel::cpio::Entry e;
    const char* why = nullptr;
    if (name.empty() ||
        kernel::cpio::find(initramfs_.data(), initramfs_.size(), name.c_str(), &e, &why) != ANVIL_OK)
        return "";
    const std::string want = loadable_image(e.data, e.size);
    if (want.empty())
        return "";
    for (const std::string& dir : dirs_) {
        DIR* d = opendir(dir.c_str());
        if (!d)
            continue;
        std::string match;
        while (const dirent* ent = readdir(d)) {
            if (ent->d_type != DT_REG && ent->d_type != DT_LNK && ent->d_type != DT_UNKNOWN)
                continue;
            const std::string file = dir + "/" + ent->d_name;
            const std::string bytes = read_file(file);
            if (bytes.compare(0, 4, "\x7f" "ELF") == 0 &&
                loadable_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()) == want) {
                match = file;
                break;
            }
        }
        closedir(d);
        if (!match.empty())
            return found_[name] = match;
    }
    // No unstripped file: the member itself.
    const std::string file = scratch_ + "/" + name;
    if (std::FILE* f = std::fopen(file.c_str(), "wb")) {
        const bool ok = std::fwrite(e.data, 1, e.size, f) == e.size;
        if (std::fclose(f) == 0 && ok)
            return found_[name] = file;
    }
    return "";
}

}  // namespace replay::debug
