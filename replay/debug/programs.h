// The files gdb reads each process's symbols from (the GDB server's answer to
// qXfer:exec-file). The initramfs holds the programs with their debug info
// stripped (userspace/CMakeLists.txt); the unstripped programs they were made
// from lie in the build tree, and stripping keeps every loadable segment, so
// a member's unstripped file is the one in the symbol directories whose
// loadable segments are the member's byte for byte. Failing that, gdb gets
// the member itself, written to a scratch directory: no symbols, but the
// right code.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace replay::debug {

class ProgramFiles {
public:
    // `initramfs`: the run's archive; `dirs`: where unstripped programs may be;
    // `scratch`: a directory for members with no unstripped file.
    ProgramFiles(const std::vector<uint8_t>& initramfs, std::vector<std::string> dirs, std::string scratch)
        : initramfs_(initramfs), dirs_(std::move(dirs)), scratch_(std::move(scratch)) {}

    // The file for initramfs member `name`; "" if there is no such program.
    std::string path(const std::string& name);

private:
    const std::vector<uint8_t>& initramfs_;
    std::vector<std::string> dirs_;
    std::string scratch_;
    std::map<std::string, std::string> found_;  // by member name
};

// What of an ELF program a stripped copy keeps: its entry point and its
// loadable segments (addresses, sizes and bytes), as one string; "" if the
// bytes are not a program kernel::elf::parse accepts.
std::string loadable_image(const uint8_t* data, size_t size);

}  // namespace replay::debug
