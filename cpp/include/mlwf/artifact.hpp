// Reading a .mlwf artifact without Python: zip container (stored or deflated members),
// JSON manifest, .npy forest arrays, sha256 checksums. Self-contained: a small inflater
// (RFC 1951), SHA-256 (FIPS 180-4), a JSON reader and an .npy reader, all bounds-checked,
// so a malformed or truncated file gives an ArtifactError, never a crash.
#pragma once

#include <mlwf/forest.hpp>
#include <mlwf/plan.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mlwf {

class ArtifactError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// ------------------------------------------------------------------------------ JSON
struct Json {
    enum Type : uint8_t { Null, Bool, Number, String, Array, Object };
    Type type = Null;
    bool boolean = false;
    double number = 0.0;
    bool integer = false;  // the number was written without fraction or exponent
    std::string text;
    std::vector<Json> items;
    std::vector<std::pair<std::string, Json>> members;

    const Json* get(const std::string& key) const {
        if (type != Object) return nullptr;
        for (const auto& m : members) {
            if (m.first == key) return &m.second;
        }
        return nullptr;
    }
    // Scalar as text: strings as they are, numbers as Python prints them, true / false.
    std::string scalar_text() const {
        char buf[64];
        switch (type) {
            case String:
                return text;
            case Bool:
                return boolean ? "True" : "False";
            case Number:
                if (integer) {
                    std::snprintf(buf, sizeof buf, "%.0f", number);
                } else {
                    std::snprintf(buf, sizeof buf, "%.17g", number);
                }
                return buf;
            case Null:
                return "None";
            default:
                return "";
        }
    }
};

namespace detail {

class JsonReader {
public:
    JsonReader(const char* data, size_t size) : p_(data), end_(data + size) {}

    Json parse() {
        Json v = value(0);
        skip();
        if (p_ != end_) fail("trailing characters");
        return v;
    }

private:
    [[noreturn]] void fail(const char* what) const { throw ArtifactError(std::string("manifest.json: ") + what); }

    void skip() {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    }
    bool consume(const char* word) {
        size_t n = std::strlen(word);
        if (static_cast<size_t>(end_ - p_) >= n && std::memcmp(p_, word, n) == 0) {
            p_ += n;
            return true;
        }
        return false;
    }

    Json value(int depth) {
        if (depth > 256) fail("nested too deeply");
        skip();
        if (p_ >= end_) fail("unexpected end");
        Json v;
        char c = *p_;
        if (c == '{') {
            ++p_;
            v.type = Json::Object;
            skip();
            if (p_ < end_ && *p_ == '}') {
                ++p_;
                return v;
            }
            for (;;) {
                skip();
                if (p_ >= end_ || *p_ != '"') fail("expected a key");
                std::string key = string();
                skip();
                if (p_ >= end_ || *p_ != ':') fail("expected ':'");
                ++p_;
                v.members.emplace_back(std::move(key), value(depth + 1));
                skip();
                if (p_ < end_ && *p_ == ',') {
                    ++p_;
                    continue;
                }
                if (p_ < end_ && *p_ == '}') {
                    ++p_;
                    return v;
                }
                fail("expected ',' or '}'");
            }
        }
        if (c == '[') {
            ++p_;
            v.type = Json::Array;
            skip();
            if (p_ < end_ && *p_ == ']') {
                ++p_;
                return v;
            }
            for (;;) {
                v.items.push_back(value(depth + 1));
                skip();
                if (p_ < end_ && *p_ == ',') {
                    ++p_;
                    continue;
                }
                if (p_ < end_ && *p_ == ']') {
                    ++p_;
                    return v;
                }
                fail("expected ',' or ']'");
            }
        }
        if (c == '"') {
            v.type = Json::String;
            v.text = string();
            return v;
        }
        if (consume("true")) {
            v.type = Json::Bool;
            v.boolean = true;
            return v;
        }
        if (consume("false")) {
            v.type = Json::Bool;
            return v;
        }
        if (consume("null")) return v;
        v.type = Json::Number;
        // Python's json writes NaN / Infinity for non-finite floats
        if (consume("NaN")) {
            v.number = std::nan("");
            return v;
        }
        if (consume("Infinity")) {
            v.number = HUGE_VAL;
            return v;
        }
        if (consume("-Infinity")) {
            v.number = -HUGE_VAL;
            return v;
        }
        const char* b = p_;
        bool integer = true;
        while (p_ < end_ && (std::strchr("+-0123456789.eE", *p_) != nullptr && *p_ != '\0')) {
            if (*p_ == '.' || *p_ == 'e' || *p_ == 'E') integer = false;
            ++p_;
        }
        if (p_ == b || p_ - b > 64) fail("bad value");
        char buf[80];
        std::memcpy(buf, b, static_cast<size_t>(p_ - b));
        buf[p_ - b] = '\0';
        char* e = nullptr;
        v.number = std::strtod(buf, &e);
        if (e != buf + (p_ - b)) fail("bad number");
        v.integer = integer;
        return v;
    }

    static void utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    uint32_t hex4() {
        if (end_ - p_ < 4) fail("bad \\u escape");
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            char c = *p_++;
            v <<= 4;
            if (c >= '0' && c <= '9') {
                v |= static_cast<uint32_t>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                v |= static_cast<uint32_t>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                v |= static_cast<uint32_t>(c - 'A' + 10);
            } else {
                fail("bad \\u escape");
            }
        }
        return v;
    }

    std::string string() {
        ++p_;  // opening quote
        std::string out;
        for (;;) {
            if (p_ >= end_) fail("unterminated string");
            char c = *p_++;
            if (c == '"') return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (p_ >= end_) fail("unterminated string");
            char e = *p_++;
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    uint32_t cp = hex4();
                    if (cp >= 0xD800 && cp < 0xDC00 && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
                        p_ += 2;
                        uint32_t lo = hex4();
                        if (lo >= 0xDC00 && lo < 0xE000) {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        } else {
                            utf8(out, cp);
                            cp = lo;
                        }
                    }
                    utf8(out, cp);
                    break;
                }
                default:
                    fail("bad escape");
            }
        }
    }

    const char* p_;
    const char* end_;
};

// ------------------------------------------------------------------------------ inflate
class Inflater {
public:
    Inflater(const uint8_t* in, size_t n, size_t expected) : in_(in), n_(n), limit_(expected) {
        out_.reserve(expected);
    }

    std::vector<uint8_t> run() {
        int last;
        do {
            last = bits(1);
            int type = bits(2);
            if (type == 0) {
                stored();
            } else if (type == 1) {
                fixed();
            } else if (type == 2) {
                dynamic();
            } else {
                fail("bad block type");
            }
        } while (!last);
        return std::move(out_);
    }

private:
    static constexpr int kMaxBits = 15;
    struct Huffman {
        int16_t count[kMaxBits + 1];
        int16_t symbol[288];
    };

    [[noreturn]] static void fail(const char* what) { throw ArtifactError(std::string("deflate data: ") + what); }

    int bits(int need) {
        uint32_t v = bitbuf_;
        while (bitcnt_ < need) {
            if (pos_ >= n_) fail("truncated");
            v |= static_cast<uint32_t>(in_[pos_++]) << bitcnt_;
            bitcnt_ += 8;
        }
        bitbuf_ = v >> need;
        bitcnt_ -= need;
        return static_cast<int>(v & ((1u << need) - 1));
    }

    void emit(uint8_t b) {
        if (out_.size() >= limit_) fail("more data than the zip header says");
        out_.push_back(b);
    }

    void stored() {
        bitbuf_ = 0;
        bitcnt_ = 0;
        if (pos_ + 4 > n_) fail("truncated");
        unsigned len = in_[pos_] | (in_[pos_ + 1] << 8);
        unsigned nlen = in_[pos_ + 2] | (in_[pos_ + 3] << 8);
        pos_ += 4;
        if (len != (~nlen & 0xffffu)) fail("bad stored block");
        if (pos_ + len > n_) fail("truncated");
        if (out_.size() + len > limit_) fail("more data than the zip header says");
        out_.insert(out_.end(), in_ + pos_, in_ + pos_ + len);
        pos_ += len;
    }

    static int construct(Huffman& h, const int16_t* length, int n) {
        int16_t offs[kMaxBits + 1];
        for (int len = 0; len <= kMaxBits; ++len) h.count[len] = 0;
        for (int s = 0; s < n; ++s) h.count[length[s]]++;
        if (h.count[0] == n) return 0;
        int left = 1;
        for (int len = 1; len <= kMaxBits; ++len) {
            left <<= 1;
            left -= h.count[len];
            if (left < 0) return left;
        }
        offs[1] = 0;
        for (int len = 1; len < kMaxBits; ++len) offs[len + 1] = static_cast<int16_t>(offs[len] + h.count[len]);
        for (int s = 0; s < n; ++s) {
            if (length[s] != 0) h.symbol[offs[length[s]]++] = static_cast<int16_t>(s);
        }
        return left;
    }

    int decode(const Huffman& h) {
        int code = 0, first = 0, index = 0;
        for (int len = 1; len <= kMaxBits; ++len) {
            code |= bits(1);
            int count = h.count[len];
            if (code - count < first) return h.symbol[index + (code - first)];
            index += count;
            first += count;
            first <<= 1;
            code <<= 1;
        }
        fail("bad code");
    }

    void codes(const Huffman& lencode, const Huffman& distcode) {
        static const int16_t lbase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                          31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
        static const int16_t lext[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                         2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
        static const int16_t dbase[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,
                                          33,  49,  65,  97,  129, 193,  257,  385,  513,  769,
                                          1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
        static const int16_t dext[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                         6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
        for (;;) {
            int symbol = decode(lencode);
            if (symbol < 256) {
                emit(static_cast<uint8_t>(symbol));
            } else if (symbol == 256) {
                return;
            } else {
                symbol -= 257;
                if (symbol >= 29) fail("bad length symbol");
                size_t len = static_cast<size_t>(lbase[symbol] + bits(lext[symbol]));
                int ds = decode(distcode);
                if (ds < 0 || ds >= 30) fail("bad distance symbol");
                size_t dist = static_cast<size_t>(dbase[ds] + bits(dext[ds]));
                if (dist > out_.size()) fail("distance too far back");
                if (out_.size() + len > limit_) fail("more data than the zip header says");
                size_t from = out_.size() - dist;
                for (size_t k = 0; k < len; ++k) out_.push_back(out_[from + k]);
            }
        }
    }

    void fixed() {
        Huffman lencode, distcode;
        int16_t lengths[288];
        int s = 0;
        for (; s < 144; ++s) lengths[s] = 8;
        for (; s < 256; ++s) lengths[s] = 9;
        for (; s < 280; ++s) lengths[s] = 7;
        for (; s < 288; ++s) lengths[s] = 8;
        construct(lencode, lengths, 288);
        for (s = 0; s < 30; ++s) lengths[s] = 5;
        construct(distcode, lengths, 30);
        codes(lencode, distcode);
    }

    void dynamic() {
        static const int16_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
        int16_t lengths[320];
        int nlen = bits(5) + 257;
        int ndist = bits(5) + 1;
        int ncode = bits(4) + 4;
        if (nlen > 286 || ndist > 30) fail("bad counts");
        int i = 0;
        for (; i < ncode; ++i) lengths[order[i]] = static_cast<int16_t>(bits(3));
        for (; i < 19; ++i) lengths[order[i]] = 0;
        Huffman lencode, distcode;
        if (construct(lencode, lengths, 19) != 0) fail("bad code lengths");
        i = 0;
        while (i < nlen + ndist) {
            int symbol = decode(lencode);
            if (symbol < 16) {
                lengths[i++] = static_cast<int16_t>(symbol);
            } else {
                int len = 0, repeat;
                if (symbol == 16) {
                    if (i == 0) fail("repeat with no first length");
                    len = lengths[i - 1];
                    repeat = 3 + bits(2);
                } else if (symbol == 17) {
                    repeat = 3 + bits(3);
                } else {
                    repeat = 11 + bits(7);
                }
                if (i + repeat > nlen + ndist) fail("too many lengths");
                while (repeat--) lengths[i++] = static_cast<int16_t>(len);
            }
        }
        if (lengths[256] == 0) fail("no end-of-block code");
        int err = construct(lencode, lengths, nlen);
        if (err < 0 || (err > 0 && nlen - lencode.count[0] != 1)) fail("bad literal/length code");
        err = construct(distcode, lengths + nlen, ndist);
        if (err < 0 || (err > 0 && ndist - distcode.count[0] != 1)) fail("bad distance code");
        codes(lencode, distcode);
    }

    const uint8_t* in_;
    size_t n_;
    size_t limit_;
    size_t pos_ = 0;
    uint32_t bitbuf_ = 0;
    int bitcnt_ = 0;
    std::vector<uint8_t> out_;
};

inline uint32_t crc32(const uint8_t* data, size_t n) {
    static uint32_t table[256];
    static bool ready = [] {
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        return true;
    }();
    (void)ready;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

inline std::string sha256_hex(const uint8_t* data, size_t n) {
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    auto rotr = [](uint32_t x, int r) { return (x >> r) | (x << (32 - r)); };
    auto block = [&](const uint8_t* p) {
        uint32_t w[64];
        for (int i = 0; i < 16; ++i) {
            w[i] = (uint32_t(p[4 * i]) << 24) | (uint32_t(p[4 * i + 1]) << 16) | (uint32_t(p[4 * i + 2]) << 8) |
                   uint32_t(p[4 * i + 3]);
        }
        for (int i = 16; i < 64; ++i) {
            uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int i = 0; i < 64; ++i) {
            uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
            uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            hh = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
        h[5] += f;
        h[6] += g;
        h[7] += hh;
    };
    size_t full = n / 64;
    for (size_t i = 0; i < full; ++i) block(data + 64 * i);
    uint8_t tail[128] = {0};
    size_t rest = n - full * 64;
    std::memcpy(tail, data + full * 64, rest);
    tail[rest] = 0x80;
    size_t tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bitlen = static_cast<uint64_t>(n) * 8;
    for (int i = 0; i < 8; ++i) tail[tail_len - 1 - i] = static_cast<uint8_t>(bitlen >> (8 * i));
    block(tail);
    if (tail_len == 128) block(tail + 64);
    char hex[65];
    for (int i = 0; i < 8; ++i) std::snprintf(hex + 8 * i, 9, "%08x", h[i]);
    return std::string(hex, 64);
}

inline uint32_t le16(const uint8_t* p) { return uint32_t(p[0]) | (uint32_t(p[1]) << 8); }
inline uint32_t le32(const uint8_t* p) { return le16(p) | (le16(p + 2) << 16); }

}  // namespace detail

// ------------------------------------------------------------------------------ zip
// Members of a zip file by name (stored and deflated members, CRC-checked).
inline std::map<std::string, std::vector<uint8_t>> read_zip(const std::vector<uint8_t>& z) {
    using detail::le16;
    using detail::le32;
    const size_t n = z.size();
    if (n < 22) throw ArtifactError("not a zip file (too short)");
    size_t eocd = std::string::npos;
    size_t stop = n > 22 + 65535 ? n - 22 - 65535 : 0;
    for (size_t i = n - 22 + 1; i-- > stop;) {
        if (le32(&z[i]) == 0x06054b50u) {
            eocd = i;
            break;
        }
    }
    if (eocd == std::string::npos) throw ArtifactError("not a zip file (no end of central directory; truncated?)");
    const uint32_t entries = le16(&z[eocd + 10]);
    const uint32_t cd_size = le32(&z[eocd + 12]);
    const uint32_t cd_off = le32(&z[eocd + 16]);
    if (cd_off == 0xFFFFFFFFu || entries == 0xFFFF) throw ArtifactError("zip64 archives are not supported");
    if (size_t(cd_off) + cd_size > eocd) throw ArtifactError("zip central directory out of bounds");
    std::map<std::string, std::vector<uint8_t>> out;
    size_t p = cd_off;
    for (uint32_t e = 0; e < entries; ++e) {
        if (p + 46 > eocd || le32(&z[p]) != 0x02014b50u) throw ArtifactError("corrupted zip central directory");
        const uint32_t flags = le16(&z[p + 8]);
        const uint32_t method = le16(&z[p + 10]);
        const uint32_t crc = le32(&z[p + 16]);
        const uint32_t csize = le32(&z[p + 20]);
        const uint32_t usize = le32(&z[p + 24]);
        const uint32_t name_len = le16(&z[p + 28]);
        const uint32_t extra_len = le16(&z[p + 30]);
        const uint32_t comment_len = le16(&z[p + 32]);
        const uint32_t local = le32(&z[p + 42]);
        if (p + 46 + name_len > eocd) throw ArtifactError("corrupted zip central directory");
        std::string name(reinterpret_cast<const char*>(&z[p + 46]), name_len);
        p += 46 + size_t(name_len) + extra_len + comment_len;
        if (flags & 1) throw ArtifactError("encrypted zip member " + name);
        if (csize == 0xFFFFFFFFu || usize == 0xFFFFFFFFu) throw ArtifactError("zip64 member " + name);
        if (size_t(local) + 30 > n || le32(&z[local]) != 0x04034b50u) {
            throw ArtifactError("corrupted zip local header of " + name);
        }
        const size_t data = size_t(local) + 30 + le16(&z[local + 26]) + le16(&z[local + 28]);
        if (data + csize > n) throw ArtifactError("zip member " + name + " is truncated");
        std::vector<uint8_t> bytes;
        if (method == 0) {
            if (csize != usize) throw ArtifactError("corrupted stored zip member " + name);
            bytes.assign(z.begin() + static_cast<std::ptrdiff_t>(data),
                         z.begin() + static_cast<std::ptrdiff_t>(data + csize));
        } else if (method == 8) {
            bytes = detail::Inflater(&z[data], csize, usize).run();
            if (bytes.size() != usize) throw ArtifactError("zip member " + name + " has the wrong size");
        } else {
            throw ArtifactError("zip member " + name + " uses unsupported compression " + std::to_string(method));
        }
        if (detail::crc32(bytes.data(), bytes.size()) != crc) throw ArtifactError("zip member " + name + " fails its CRC");
        out[name] = std::move(bytes);
    }
    return out;
}

// ------------------------------------------------------------------------------ npy
// A 1-D numeric .npy array converted to T (little-endian ints, floats and bools).
template <typename T>
std::vector<T> read_npy(const std::vector<uint8_t>& b, const std::string& what) {
    auto fail = [&](const std::string& m) -> ArtifactError { return ArtifactError("array " + what + ": " + m); };
    if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) throw fail("not an .npy file");
    const int major = b[6];
    size_t header_len, start;
    if (major == 1) {
        header_len = detail::le16(&b[8]);
        start = 10;
    } else if (major == 2 || major == 3) {
        if (b.size() < 12) throw fail("truncated");
        header_len = detail::le32(&b[8]);
        start = 12;
    } else {
        throw fail("unknown .npy version");
    }
    if (start + header_len > b.size()) throw fail("truncated header");
    std::string h(reinterpret_cast<const char*>(&b[start]), header_len);
    auto field = [&](const char* key) -> std::string {
        size_t k = h.find(key);
        if (k == std::string::npos) throw fail(std::string("header lacks ") + key);
        size_t c = h.find(':', k);
        if (c == std::string::npos) throw fail("bad header");
        return h.substr(c + 1);
    };
    std::string descr = field("'descr'");
    size_t q1 = descr.find('\'');
    size_t q2 = q1 == std::string::npos ? q1 : descr.find('\'', q1 + 1);
    if (q2 == std::string::npos) throw fail("bad descr");
    descr = descr.substr(q1 + 1, q2 - q1 - 1);
    std::string fortran = field("'fortran_order'");
    std::string shape = field("'shape'");
    size_t lp = shape.find('('), rp = shape.find(')');
    if (lp == std::string::npos || rp == std::string::npos || rp < lp) throw fail("bad shape");
    std::string dims = shape.substr(lp + 1, rp - lp - 1);
    int64_t count = 1;
    int ndim = 0;
    for (size_t i = 0; i < dims.size();) {
        while (i < dims.size() && (dims[i] == ' ' || dims[i] == ',')) ++i;
        if (i >= dims.size()) break;
        int64_t d = 0;
        bool digit = false;
        while (i < dims.size() && dims[i] >= '0' && dims[i] <= '9') {
            d = d * 10 + (dims[i] - '0');
            if (d > (int64_t(1) << 40)) throw fail("shape too large");
            digit = true;
            ++i;
        }
        if (!digit) throw fail("bad shape");
        count *= d;
        ++ndim;
    }
    if (ndim > 1 && fortran.find("True") < fortran.find('}')) throw fail("Fortran order is not supported");
    size_t item;
    char kind;
    if (descr.size() < 3 || (descr[0] != '<' && descr[0] != '|' && descr[0] != '=')) throw fail("unsupported dtype " + descr);
    kind = descr[1];
    item = static_cast<size_t>(std::atoi(descr.c_str() + 2));
    const size_t data = start + header_len;
    if (item == 0 || count < 0 || data + static_cast<size_t>(count) * item != b.size()) throw fail("size does not match shape");
    std::vector<T> out(static_cast<size_t>(count));
    const uint8_t* p = &b[data];
    for (int64_t i = 0; i < count; ++i, p += item) {
        double v;
        if (kind == 'f' && item == 8) {
            double x;
            std::memcpy(&x, p, 8);
            v = x;
        } else if (kind == 'f' && item == 4) {
            float x;
            std::memcpy(&x, p, 4);
            v = x;
        } else if (kind == 'i' && item == 8) {
            int64_t x;
            std::memcpy(&x, p, 8);
            out[static_cast<size_t>(i)] = static_cast<T>(x);
            continue;
        } else if (kind == 'i' && item == 4) {
            int32_t x;
            std::memcpy(&x, p, 4);
            v = x;
        } else if ((kind == 'u' || kind == 'b') && item == 1) {
            v = *p;
        } else if (kind == 'u' && item == 4) {
            uint32_t x;
            std::memcpy(&x, p, 4);
            v = x;
        } else {
            throw fail("unsupported dtype " + descr);
        }
        out[static_cast<size_t>(i)] = static_cast<T>(v);
    }
    return out;
}

// ------------------------------------------------------------------------------ model
// A loaded model: its plan, forest, task and classes.
struct Model {
    std::string task;
    std::vector<std::string> classes;  // class labels as text
    std::shared_ptr<Plan> plan;
    std::shared_ptr<Forest> forest;
};

inline std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw ArtifactError("cannot open model file '" + path + "'");
    f.seekg(0, std::ios::end);
    std::streamoff size = f.tellg();
    if (size < 0) throw ArtifactError("cannot read model file '" + path + "'");
    f.seekg(0, std::ios::beg);
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    if (size > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), size)) {
        throw ArtifactError("cannot read model file '" + path + "'");
    }
    return bytes;
}

inline Plan plan_from_json(const Json& j) {
    PlanSpec spec;
    const Json* version = j.get("version");
    const Json* columns = j.get("columns");
    if (!version || version->type != Json::Number || !columns || columns->type != Json::Array) {
        throw ArtifactError("the manifest's plan lacks 'version' or 'columns'");
    }
    spec.version = static_cast<int64_t>(version->number);
    for (const Json& c : columns->items) {
        const Json* name = c.get("name");
        const Json* kind = c.get("kind");
        if (!name || name->type != Json::String || !kind || kind->type != Json::String) {
            throw ArtifactError("a plan column lacks 'name' or 'kind'");
        }
        OpSpec op;
        op.name = name->text;
        op.kind = kind->text;
        if (const Json* levels = c.get("levels")) {
            for (const Json& l : levels->items) op.levels.push_back(l.scalar_text());
        }
        spec.ops.push_back(std::move(op));
    }
    if (const Json* ops = j.get("ops")) {
        for (const Json& o : ops->items) {
            const Json* op = o.get("op");
            const Json* output = o.get("output");
            if (!op || op->type != Json::String || !output || output->type != Json::String) {
                throw ArtifactError("a plan op lacks 'op' or 'output'");
            }
            PlanOpSpec s;
            s.op = op->text;
            s.output = output->text;
            auto strings = [&](const char* key, std::vector<std::string>& out) {
                if (const Json* v = o.get(key)) for (const Json& x : v->items) out.push_back(x.scalar_text());
            };
            auto numbers = [&](const char* key, std::vector<double>& out) {
                if (const Json* v = o.get(key)) for (const Json& x : v->items) out.push_back(x.number);
            };
            auto number = [&](const char* key, double& out) {
                if (const Json* v = o.get(key); v && v->type == Json::Number) out = v->number;
            };
            auto text = [&](const char* key, std::string& out) {
                if (const Json* v = o.get(key); v && v->type == Json::String) out = v->text;
            };
            strings("inputs", s.inputs);
            strings("levels", s.levels);
            numbers("values", s.values);
            numbers("mean", s.mean);
            numbers("scale", s.scale);
            numbers("weights", s.weights);
            number("default", s.default_value);
            number("missing", s.missing_value);
            number("origin", s.origin);
            number("value", s.fill);
            text("format", s.format);
            text("part", s.part);
            text("base", s.base);
            double bucket = 0.0, n_buckets = 0.0;
            number("bucket", bucket);
            number("n_buckets", n_buckets);
            s.bucket = static_cast<int64_t>(bucket);
            s.n_buckets = static_cast<int64_t>(n_buckets);
            spec.steps.push_back(std::move(s));
        }
    }
    if (const Json* features = j.get("features")) {
        for (const Json& f : features->items) spec.features.push_back(f.text);
    }
    try {
        return Plan(spec);
    } catch (const PlanError& e) {
        throw ArtifactError(std::string("the model's plan cannot be loaded: ") + e.what());
    }
}

inline Model load_model(const std::string& path) {
    auto members = read_zip(read_file(path));
    auto m = members.find("manifest.json");
    if (m == members.end()) throw ArtifactError("'" + path + "' is not an mlwf model: it has no manifest.json");
    Json manifest = detail::JsonReader(reinterpret_cast<const char*>(m->second.data()), m->second.size()).parse();
    const Json* format = manifest.get("format");
    const Json* version = manifest.get("format_version");
    if (!format || format->text != "mlwf") throw ArtifactError("'" + path + "' is not an mlwf model");
    if (!version || version->type != Json::Number || version->number != 1) {
        throw ArtifactError("'" + path + "' has an unsupported format version (this loader reads version 1)");
    }
    const Json* checksums = manifest.get("checksums");
    if (!checksums || checksums->type != Json::Object || checksums->members.size() + 1 != members.size()) {
        throw ArtifactError("'" + path + "' is corrupted: its members do not match the manifest");
    }
    for (const auto& c : checksums->members) {
        auto it = members.find(c.first);
        if (it == members.end() || detail::sha256_hex(it->second.data(), it->second.size()) != c.second.text) {
            throw ArtifactError("'" + path + "' is corrupted: member '" + c.first + "' fails its sha256 check");
        }
    }
    Model model;
    const Json* task = manifest.get("task");
    if (!task || task->type != Json::String) throw ArtifactError("the manifest lacks 'task'");
    model.task = task->text;
    if (const Json* classes = manifest.get("classes")) {
        for (const Json& c : classes->items) model.classes.push_back(c.scalar_text());
    }
    const Json* plan = manifest.get("plan");
    if (!plan) throw ArtifactError("the manifest lacks 'plan'");
    model.plan = std::make_shared<Plan>(plan_from_json(*plan));

    auto arr = [&](const char* name, bool required) -> const std::vector<uint8_t>* {
        auto it = members.find(std::string("forest/") + name + ".npy");
        if (it == members.end()) {
            if (required) {
                throw ArtifactError("'" + path + "' has no forest array '" + name +
                                    "' (saved without its forest; save it again with this mlwf)");
            }
            return nullptr;
        }
        return &it->second;
    };
    auto meta = read_npy<int64_t>(*arr("meta", true), "meta");
    auto base = read_npy<double>(*arr("base", true), "base");
    auto tree_ptr = read_npy<int64_t>(*arr("tree_ptr", true), "tree_ptr");
    auto tree_group = read_npy<int32_t>(*arr("tree_group", true), "tree_group");
    auto kind = read_npy<uint8_t>(*arr("kind", true), "kind");
    auto flags = read_npy<uint8_t>(*arr("flags", true), "flags");
    auto feature = read_npy<int32_t>(*arr("feature", true), "feature");
    auto threshold = read_npy<double>(*arr("threshold", true), "threshold");
    auto left = read_npy<int32_t>(*arr("left", true), "left");
    auto right = read_npy<int32_t>(*arr("right", true), "right");
    auto value = read_npy<double>(*arr("value", true), "value");
    auto cat_ptr = read_npy<int64_t>(*arr("cat_ptr", true), "cat_ptr");
    auto cat_values = read_npy<int64_t>(*arr("cat_values", true), "cat_values");
    const size_t n = kind.size();
    if (flags.size() != n || feature.size() != n || threshold.size() != n || left.size() != n ||
        right.size() != n || value.size() != n) {
        throw ArtifactError("the model's forest arrays differ in length");
    }
    ForestArrays a;
    a.meta = meta.data();
    a.n_meta = static_cast<int64_t>(meta.size());
    a.base = base.data();
    a.n_base = static_cast<int64_t>(base.size());
    a.tree_ptr = tree_ptr.data();
    a.n_tree_ptr = static_cast<int64_t>(tree_ptr.size());
    a.tree_group = tree_group.data();
    a.n_tree_group = static_cast<int64_t>(tree_group.size());
    a.kind = kind.data();
    a.flags = flags.data();
    a.feature = feature.data();
    a.threshold = threshold.data();
    a.left = left.data();
    a.right = right.data();
    a.value = value.data();
    a.n_nodes = static_cast<int64_t>(n);
    a.cat_ptr = cat_ptr.data();
    a.n_cat_ptr = static_cast<int64_t>(cat_ptr.size());
    a.cat_values = cat_values.data();
    a.n_cat_values = static_cast<int64_t>(cat_values.size());
    std::vector<uint8_t> tree_linear;
    std::vector<int64_t> linear_ptr;
    std::vector<double> linear_const, linear_coef;
    std::vector<int32_t> linear_feature;
    if (const auto* tl = arr("tree_linear", false)) {
        tree_linear = read_npy<uint8_t>(*tl, "tree_linear");
        linear_ptr = read_npy<int64_t>(*arr("linear_ptr", true), "linear_ptr");
        linear_const = read_npy<double>(*arr("linear_const", true), "linear_const");
        linear_feature = read_npy<int32_t>(*arr("linear_feature", true), "linear_feature");
        linear_coef = read_npy<double>(*arr("linear_coef", true), "linear_coef");
        if (linear_feature.size() != linear_coef.size()) throw ArtifactError("the model's linear arrays differ in length");
        static const uint8_t none = 0;
        a.tree_linear = tree_linear.empty() ? &none : tree_linear.data();
        a.n_tree_linear = static_cast<int64_t>(tree_linear.size());
        a.linear_ptr = linear_ptr.data();
        a.n_linear_ptr = static_cast<int64_t>(linear_ptr.size());
        a.linear_const = linear_const.data();
        a.n_linear_const = static_cast<int64_t>(linear_const.size());
        a.linear_feature = linear_feature.data();
        a.linear_coef = linear_coef.data();
        a.n_linear = static_cast<int64_t>(linear_feature.size());
    }
    try {
        model.forest = std::make_shared<Forest>(a);
    } catch (const ForestError& e) {
        throw ArtifactError(std::string("the model's forest cannot be loaded: ") + e.what());
    }
    const int64_t expected = model.task == "multiclass" ? static_cast<int64_t>(model.classes.size()) : 1;
    if (model.forest->n_groups() != expected) {
        throw ArtifactError("the model's forest has " + std::to_string(model.forest->n_groups()) +
                            " outputs per row but its task needs " + std::to_string(expected));
    }
    if (model.plan->n_features() != model.forest->n_features()) {
        throw ArtifactError("the model's plan makes " + std::to_string(model.plan->n_features()) +
                            " features but its forest reads " + std::to_string(model.forest->n_features()));
    }
    return model;
}

}  // namespace mlwf
