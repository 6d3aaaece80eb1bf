// libFuzzer harness: the host's trace reader (replay/trace_reader) on any
// bytes, as anvil-trace and the simulator's replay use it: parse the header,
// validate the whole stream, then walk it record by record and format each one
// (a trace cut short reads to its last complete record). A pack (replay/pack.h)
// is unpacked first and its trace read the same way.
#include "fuzz/check.h"
#include "replay/pack.h"
#include "replay/trace_reader.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    replay::Trace t;
    std::string error;
    std::vector<uint8_t> bytes(data, data + size);
    replay::Pack pack;
    if (replay::is_pack(bytes)) {
        if (!replay::unpack(bytes, &pack, &error)) {
            FUZZ_CHECK(!error.empty(), "a refused pack without a reason");
            return 0;
        }
        bytes = pack.trace;
    }
    if (!replay::parse(std::move(bytes), &t, &error)) {
        FUZZ_CHECK(!error.empty(), "a refused header without a reason");
        return 0;
    }
    if (!pack.trace.empty() && !replay::attach(std::move(pack), &t, &error))
        FUZZ_CHECK(!error.empty(), "a refused pack member without a reason");
    FUZZ_CHECK(t.records_begin >= trace::kHeaderSizeV2 && t.records_begin <= t.bytes.size(),
               "records begin outside the file");
    FUZZ_CHECK(!replay::describe(t).empty(), "empty header description");
    (void)replay::check_build(t, 0);

    replay::Summary summary;
    std::string invalid;
    const bool valid = replay::validate(t, &invalid, &summary);
    const uint64_t records = summary.records;
    FUZZ_CHECK(valid || !invalid.empty(), "an invalid trace without a reason");

    // The dump: every record until the end of the data or the first bad one.
    uint64_t pos = t.records_begin, index = 0;
    replay::Record r;
    while (replay::next(t, &pos, &r, &error)) {
        FUZZ_CHECK(pos > r.offset && pos <= t.bytes.size(), "next() did not advance inside the file");
        r.index = index++;
        FUZZ_CHECK(!replay::format(r).empty(), "empty record line");
        (void)r.field("thread");
    }
    FUZZ_CHECK(pos <= t.bytes.size(), "read position past the end of the file");
    // A valid trace reads to its last byte and ends with the end record it counted.
    if (valid) {
        FUZZ_CHECK(error.empty(), "a valid trace whose records do not all read");
        if (summary.cut)
            FUZZ_CHECK(index == records && t.cut && pos == t.bytes.size(), "a cut trace's prefix does not read whole");
        else
            FUZZ_CHECK(index == records + 1 && r.k() == trace::Kind::k_end, "validate() and next() disagree");
    }
    return 0;
}
