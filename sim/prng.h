// The simulator's only source of randomness: a seeded xoshiro256** generator.
// The same seed gives the same sequence on every host (DESIGN.md determinism).
#pragma once

#include <cstdint>

namespace sim {

class Prng {
public:
    explicit Prng(uint64_t seed) {
        // splitmix64 expands the seed into the state.
        for (auto& word : s_) {
            seed += 0x9e3779b97f4a7c15ull;
            uint64_t z = seed;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            word = z ^ (z >> 31);
        }
    }

    uint64_t next() {
        const uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    // A value in [0, bound) (bound > 0); the tiny modulo bias is irrelevant here.
    uint64_t below(uint64_t bound) { return next() % bound; }

private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    uint64_t s_[4];
};

}  // namespace sim
