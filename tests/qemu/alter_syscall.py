#!/usr/bin/env python3
"""Writes a copy of a trace in which one syscall record's first argument
register differs (its lowest bit flipped), every checksum made anew, so that
following it must diverge there. The record kinds and their field counts are
read from kernel/trace/events.h, the format's one declaration; the chunk and
end-record layout is docs/trace-format.md's.

usage: alter_syscall.py EVENTS_H IN OUT
Alters the first syscall record past the middle of the stream whose thread
made an earlier syscall, and prints its index.
"""
import re
import struct
import sys

FNV_BASIS = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
CHUNK_HEADER = 16
SYSCALL, INPUT, END = 1, 11, 14


def fnv(data, h=FNV_BASIS):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def field_counts(events_h):
    text = open(events_h).read().replace("\\\n", " ")
    text = re.sub(r"/\*.*?\*/", " ", text)
    table = text[text.index("#define ANVIL_TRACE_EVENTS(X, F)"):]
    table = table[: table.index("\n")]
    counts = {}
    for m in re.finditer(r"X\((\d+),\s*\w+,(.*?)\)\s*(?=X\(|$)", table):
        counts[int(m.group(1))] = m.group(2).count("F(")
    return counts


def varint(data, pos):
    value, shift = 0, 0
    while True:
        b = data[pos]
        value |= (b & 0x7F) << shift
        pos += 1
        shift += 7
        if not b & 0x80:
            return value, pos


def encode(value):
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        out.append(b | (0x80 if value else 0))
        if not value:
            return bytes(out)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: alter_syscall.py EVENTS_H IN OUT")
    counts = field_counts(sys.argv[1])
    raw = open(sys.argv[2], "rb").read()
    header_size = struct.unpack_from("<H", raw, 10)[0]
    stream, pos = bytearray(), header_size
    while pos + CHUNK_HEADER <= len(raw):
        size = struct.unpack_from("<I", raw, pos)[0]
        stream += raw[pos + CHUNK_HEADER : pos + CHUNK_HEADER + size]
        pos += CHUNK_HEADER + size

    # Every record's start, and the syscall records with the thread's and a0's offsets.
    starts, syscalls, seen_threads = [], [], set()
    pos = 0
    while pos < len(stream):
        starts.append(pos)
        kind = stream[pos]
        p = pos + 1
        fields = []
        for _ in range(counts[kind]):
            offset = p
            value, p = varint(stream, p)
            fields.append((value, offset))
        if kind == INPUT:
            p += fields[0][0]
        if kind == SYSCALL:
            thread = fields[1][0]
            syscalls.append((len(starts) - 1, fields[3][1], thread in seen_threads))
            seen_threads.add(thread)
        if kind == END:
            break
        pos = p
    end_at = starts[-1]
    index, a0_at = next((i, at) for i, at, again in syscalls if i > len(starts) // 2 and again)

    stream[a0_at] ^= 1  # the lowest bit; the varint keeps its length
    code, p = varint(stream, end_at + 1)
    records, _ = varint(stream, p)
    stream = stream[:end_at] + bytes([END]) + encode(code) + encode(records) + encode(fnv(stream[:end_at]))

    out = bytearray(raw[:header_size])
    h = FNV_BASIS
    for at in range(0, len(stream), 4096):
        payload = bytes(stream[at : at + 4096])
        h = fnv(payload, h)
        chunk = struct.pack("<IQ", len(payload), h)
        out += chunk + struct.pack("<I", fnv(chunk) & 0xFFFFFFFF) + payload
    open(sys.argv[3], "wb").write(out)
    print(index)


if __name__ == "__main__":
    main()
