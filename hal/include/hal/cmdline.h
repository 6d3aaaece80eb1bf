// The kernel command line's words, for the kernel and each backend's boot
// (`trace`, `ipc.fastpath=off`, `fpu=lazy`, `hal.verbose`): one reading of it.
#pragma once

namespace hal {

// True if the space-separated `cmdline` has the word `word`; with `prefix`,
// a word that starts with it (`fpu=` finds `fpu=lazy`).
inline bool cmdline_has(const char* cmdline, const char* word, bool prefix = false) {
    for (const char* p = cmdline; *p != '\0';) {
        while (*p == ' ')
            ++p;
        const char* w = word;
        const char* q = p;
        while (*w != '\0' && *q == *w)
            ++q, ++w;
        if (*w == '\0' && (prefix || *q == ' ' || *q == '\0'))
            return true;
        while (*p != ' ' && *p != '\0')
            ++p;
    }
    return false;
}

}  // namespace hal
