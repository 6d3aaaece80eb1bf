/* The services manifest parser (format in manifest.h). */
#include "manifest.h"

#include <stdio.h>
#include <string.h>

#define MANIFEST_LINE_MAX 256u

struct cap_word {
    const char *word;
    enum manifest_cap_kind kind;
};

static const struct cap_word kCapWords[] = {
    {"ns", CAP_NS},
    {"ns-serve", CAP_NS_SERVE},
    {"io", CAP_IO},
    {"io-serve", CAP_IO_SERVE},
    {"io-publish", CAP_IO_PUBLISH},
    {"com1-ioport", CAP_COM1_IOPORT},
    {"com1-irq", CAP_COM1_IRQ},
    {"initramfs", CAP_INITRAMFS},
};

/* Parses a decimal number of at most `max`; 0 if it is not one. */
static int parse_uint(const char *s, size_t len, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 10)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max)
        return 0;
    *out = (uint32_t)v;
    return 1;
}

static int valid_name(const char *s, size_t len)
{
    if (len == 0 || len >= MANIFEST_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        const char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.' || c == '/'))
            return 0;
    }
    return 1;
}

static int word_is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* The slot (manifest.h) a cap kind lands in: two caps may not share one. A
 * second tcb: cap lands in slot 14 (parse_cap). */
static unsigned cap_slot(enum manifest_cap_kind kind)
{
    switch (kind) {
    case CAP_NS:
    case CAP_NS_SERVE: return 4;
    case CAP_IO:
    case CAP_IO_SERVE: return 5;
    case CAP_INITRAMFS: return 7;
    case CAP_COM1_IOPORT: return 8;
    case CAP_COM1_IRQ: return 9;
    case CAP_IO_PUBLISH: return 10;
    case CAP_PEER_TCB: return 11;
    }
    return 0;
}

/* One cap word of a caps= list into e->caps; 0 with *why set if bad. Each cap
 * has a slot of its own, so e->caps (one entry per slot) cannot overflow. */
static int parse_cap(const struct manifest *m, struct manifest_entry *e, const char *s, size_t len,
                     const char **why)
{
    struct manifest_cap c = {0, 0, 0};
    if (len > 4 && memcmp(s, "tcb:", 4) == 0) {
        for (unsigned i = 0; i < m->count && !c.kind; i++) {
            if (word_is(s + 4, len - 4, m->entries[i].name)) {
                c.kind = CAP_PEER_TCB;
                c.peer = i;
            }
        }
        if (!c.kind) {
            *why = "tcb: names no earlier service";
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof kCapWords / sizeof kCapWords[0] && !c.kind; i++)
        if (word_is(s, len, kCapWords[i].word))
            c.kind = kCapWords[i].kind;
    if (!c.kind) {
        *why = "unknown cap";
        return 0;
    }
    c.slot = cap_slot(c.kind);
    for (unsigned j = 0; j < e->cap_count; j++) {
        if (c.kind == CAP_PEER_TCB && e->caps[j].kind == CAP_PEER_TCB) {
            if (e->caps[j].peer == c.peer) {
                *why = "the same tcb: cap twice";
                return 0;
            }
            if (c.slot == 14) {
                *why = "more than two tcb: caps";
                return 0;
            }
            c.slot = 14;
        } else if (e->caps[j].slot == c.slot) {
            *why = "two caps for the same slot";
            return 0;
        }
    }
    e->caps[e->cap_count++] = c;
    return 1;
}

/* One key[=value] word of a service line; 0 with *why set if bad. */
static int parse_option(const struct manifest *m, struct manifest_entry *e, const char *s, size_t len,
                        const char **why)
{
    const char *eq = memchr(s, '=', len);
    if (!eq) {
        if (word_is(s, len, "main")) {
            e->is_main = 1;
            return 1;
        }
        *why = "unknown option";
        return 0;
    }
    const size_t klen = (size_t)(eq - s);
    const char *v = eq + 1;
    const size_t vlen = len - klen - 1;
    if (word_is(s, klen, "program")) {
        if (!valid_name(v, vlen)) {
            *why = "bad program name";
            return 0;
        }
        memcpy(e->program, v, vlen);
        e->program[vlen] = '\0';
        return 1;
    }
    if (word_is(s, klen, "prio")) {
        if (!parse_uint(v, vlen, 255, &e->priority)) {
            *why = "prio must be 0..255";
            return 0;
        }
        return 1;
    }
    if (word_is(s, klen, "restart")) {
        if (!parse_uint(v, vlen, 100, &e->restart_limit)) {
            *why = "restart must be 0..100";
            return 0;
        }
        return 1;
    }
    if (word_is(s, klen, "cpu")) {
        if (!parse_uint(v, vlen, 255, &e->cpu)) {
            *why = "cpu must be a CPU number";
            return 0;
        }
        e->pinned = 1;
        return 1;
    }
    if (word_is(s, klen, "caps")) {
        size_t start = 0;
        for (size_t i = 0; i <= vlen; i++) {
            if (i == vlen || v[i] == ',') {
                if (i == start) {
                    *why = "empty cap in caps=";
                    return 0;
                }
                if (!parse_cap(m, e, v + start, i - start, why))
                    return 0;
                start = i + 1;
            }
        }
        return 1;
    }
    *why = "unknown option";
    return 0;
}

/* Parses one non-empty line into a new entry; 0 with *why set if bad. */
static int parse_line(struct manifest *m, const char *line, size_t len, const char **why)
{
    if (m->count == MANIFEST_MAX_SERVICES) {
        *why = "too many services";
        return 0;
    }
    struct manifest_entry *e = &m->entries[m->count];
    memset(e, 0, sizeof *e);
    e->priority = 100;
    size_t i = 0, words = 0;
    while (i < len) {
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        const size_t start = i;
        while (i < len && line[i] != ' ' && line[i] != '\t')
            i++;
        if (i == start)
            break;
        if (words++ == 0) {
            if (!valid_name(line + start, i - start)) {
                *why = "bad service name";
                return 0;
            }
            for (unsigned k = 0; k < m->count; k++) {
                if (word_is(line + start, i - start, m->entries[k].name)) {
                    *why = "service named twice";
                    return 0;
                }
            }
            memcpy(e->name, line + start, i - start);
            e->name[i - start] = '\0';
            memcpy(e->program, e->name, sizeof e->program);
        } else if (!parse_option(m, e, line + start, i - start, why)) {
            return 0;
        }
    }
    if (e->is_main && manifest_main(m)) {
        *why = "more than one main service";
        return 0;
    }
    m->count++;
    return 1;
}

int manifest_parse(const char *text, size_t len, struct manifest *out, char *error, size_t error_size)
{
    memset(out, 0, sizeof *out);
    unsigned line_no = 0;
    size_t pos = 0;
    while (pos < len) {
        line_no++;
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        size_t n = end - pos;
        const char *line = text + pos;
        pos = end + 1;
        const char *hash = memchr(line, '#', n);
        if (hash)
            n = (size_t)(hash - line);
        while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
            n--;
        size_t lead = 0;
        while (lead < n && (line[lead] == ' ' || line[lead] == '\t'))
            lead++;
        if (lead == n)
            continue;
        const char *why = "";
        if (n > MANIFEST_LINE_MAX)
            why = "line too long";
        else if (memchr(line, '\0', n))
            why = "NUL byte in the text";
        if (*why || !parse_line(out, line + lead, n - lead, &why)) {
            snprintf(error, error_size, "line %u: %s", line_no, why);
            return 0;
        }
    }
    if (out->count == 0) {
        snprintf(error, error_size, "no services listed");
        return 0;
    }
    return 1;
}

int manifest_has_cap(const struct manifest_entry *e, enum manifest_cap_kind kind)
{
    for (unsigned i = 0; i < e->cap_count; i++)
        if (e->caps[i].kind == kind)
            return 1;
    return 0;
}

const struct manifest_entry *manifest_main(const struct manifest *m)
{
    for (unsigned i = 0; i < m->count; i++)
        if (m->entries[i].is_main)
            return &m->entries[i];
    return NULL;
}
