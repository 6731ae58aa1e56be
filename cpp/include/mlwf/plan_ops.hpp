// Per-record semantics of the Plan ops added by the data layer, for the C++ scorer.
//
// The Python Plan (mlwf_core/preprocess.py) applies these ops with Polars for
// training and batch scoring; the functions here give the same value for one
// record, so plan.hpp can replay a plan without Python. All functions are pure:
// raw values in (std::string_view for text, double for numbers, a null flag for
// missing fields), the op's fitted constants as arguments, a double out (the
// scorer stores it as float32, as the Python matrix does).
//
// Op kind (plan dict "op")  ->  function here
//   parse_number           ->  parse_number(text, NumberFormat)         ("format": number | number_comma)
//   category_pooled        ->  LevelTable::pooled(levels).lookup(text, is_null)
//   frequency              ->  LevelTable(levels, values, default, missing).lookup(text, is_null)
//   target_mean            ->  LevelTable(...).lookup(text, is_null)
//   group_mean             ->  LevelTable(...).lookup(text, is_null)
//   group_count            ->  LevelTable(...).lookup(text, is_null)
//   date_part              ->  date_part(text, DateFormat, DatePart, origin)  ("format": iso | dmy | mdy)
//   text_length            ->  text_length(text)          (null / NA token -> NaN)
//   word_count             ->  word_count(text)
//   token_hash             ->  token_hash_count(text, bucket, n_buckets)
//   missing_indicator      ->  missing_indicator(text, is_null) or missing_indicator(double)
//   impute                 ->  impute(base value, value)  (base: the column kind's conversion,
//                              or parse_number, or LevelTable::pooled for category_pooled)
//   ratio / difference / product -> ratio(a, b) / difference(a, b) / product(a, b)
//   pca                    ->  pca_projection(x, mean, scale, weights, n)
//
// Raw ops read input columns; a value is missing when it is null, NaN, or text that
// equals one of na_tokens() after stripping ASCII whitespace. A non-text value that
// reaches a text op is first written as Polars casts it to string (integers "3",
// floats "3.5"). Derived ops (ratio, difference, product, pca) read features already
// computed: the plan's "columns" features and raw-op outputs.

#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mlwf {

namespace plan_detail {
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

inline bool is_ascii_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Parses 1..max_digits decimal digits at text[pos]; advances pos.
inline bool digits(std::string_view text, std::size_t& pos, int min_digits, int max_digits,
                   int& out) {
    int n = 0;
    int value = 0;
    while (pos < text.size() && n < max_digits && is_digit(text[pos])) {
        value = value * 10 + (text[pos] - '0');
        ++pos;
        ++n;
    }
    if (n < min_digits || (pos < text.size() && is_digit(text[pos]))) return false;
    out = value;
    return true;
}

inline bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

inline int days_in_month(int y, int m) {
    static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : kDays[static_cast<std::size_t>(m - 1)];
}

// Byte length of a non-ASCII Unicode White_Space character at text[i] (0 if none):
// U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
inline std::size_t unicode_space_bytes(std::string_view text, std::size_t i) {
    auto at = [&](std::size_t k) {
        return k < text.size() ? static_cast<unsigned char>(text[k]) : 0u;
    };
    const unsigned a = at(i), b = at(i + 1), c = at(i + 2);
    if (a == 0xC2 && (b == 0x85 || b == 0xA0)) return 2;
    if (a == 0xE1 && b == 0x9A && c == 0x80) return 3;
    if (a == 0xE2 && b == 0x80 && ((c >= 0x80 && c <= 0x8A) || c == 0xA8 || c == 0xA9 || c == 0xAF))
        return 3;
    if (a == 0xE2 && b == 0x81 && c == 0x9F) return 3;
    if (a == 0xE3 && b == 0x80 && c == 0x80) return 3;
    return 0;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
inline std::int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153u * static_cast<unsigned>(m + (m > 2 ? -3 : 9)) + 2u) / 5u +
                         static_cast<unsigned>(d) - 1u;
    const unsigned doe = yoe * 365u + yoe / 4u - yoe / 100u + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}
}  // namespace plan_detail

// ------------------------------------------------------------------ missing values
inline const std::array<std::string_view, 11>& na_tokens() {
    // Same list, same order as mlwf_core.io.NA_TOKENS.
    static constexpr std::array<std::string_view, 11> kTokens = {
        "", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "?", "-"};
    return kTokens;
}

inline std::string_view strip(std::string_view text) {
    std::size_t a = 0;
    std::size_t b = text.size();
    while (a < b && plan_detail::is_ascii_space(text[a])) ++a;
    while (b > a && plan_detail::is_ascii_space(text[b - 1])) --b;
    return text.substr(a, b - a);
}

// Text without leading and trailing white space in Unicode's sense (what Polars'
// str.strip_chars() removes, so dates padded with e.g. U+00A0 read as in training).
inline std::string_view strip_white_space(std::string_view text) {
    std::size_t a = 0;
    std::size_t b = text.size();
    // (non-ASCII white space starts with a byte >= 0xC2 and ends with one >= 0x80)
    while (a < b) {
        if (plan_detail::is_ascii_space(text[a])) {
            ++a;
        } else if (static_cast<unsigned char>(text[a]) < 0x80) {
            break;
        } else if (const std::size_t w = plan_detail::unicode_space_bytes(text, a);
                   w > 0 && a + w <= b) {
            a += w;
        } else {
            break;
        }
    }
    while (b > a) {
        if (plan_detail::is_ascii_space(text[b - 1])) {
            --b;
        } else if (static_cast<unsigned char>(text[b - 1]) < 0x80) {
            break;
        } else if (b - a >= 2 && plan_detail::unicode_space_bytes(text.substr(0, b), b - 2) == 2) {
            b -= 2;
        } else if (b - a >= 3 && plan_detail::unicode_space_bytes(text.substr(0, b), b - 3) == 3) {
            b -= 3;
        } else {
            break;
        }
    }
    return text.substr(a, b - a);
}

// True when stripped text is one of the NA tokens (the empty string included).
inline bool is_na_token(std::string_view text) {
    const std::string_view s = strip(text);
    for (std::string_view token : na_tokens()) {
        if (s == token) return true;
    }
    return false;
}

inline double missing_indicator(std::string_view text, bool is_null) {
    return is_null || is_na_token(text) ? 1.0 : 0.0;
}

inline double missing_indicator(double value) { return std::isnan(value) ? 1.0 : 0.0; }

inline double impute(double value, double fill) { return std::isnan(value) ? fill : value; }

// ------------------------------------------------------------------ numbers as text
enum class NumberFormat { Point, Comma };

inline NumberFormat number_format(std::string_view name) {
    return name == "number_comma" ? NumberFormat::Comma : NumberFormat::Point;
}

// "$1,234.50", " 12 % ", "1.234,5" (Comma) -> the number; anything else -> NaN.
// Whitespace (ASCII and Unicode), $ € £ ¥ ₹ and % are removed anywhere, then the thousands separator;
// what is left must match [+-]?(digits[.digits*] | .digits)([eE][+-]?digits)?.
inline double parse_number(std::string_view text, NumberFormat format) {
    using plan_detail::kNaN;
    const std::string_view s = strip(text);
    if (is_na_token(s)) return kNaN;
    std::string clean;
    clean.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (plan_detail::is_ascii_space(s[i]) || c == '$' || c == '%') continue;
        if (const std::size_t w = plan_detail::unicode_space_bytes(s, i); w > 0) {
            i += w - 1;
            continue;
        }
        if (c == 0xC2 && i + 1 < s.size()) {  // £ (C2 A3), ¥ (C2 A5)
            const unsigned char d = static_cast<unsigned char>(s[i + 1]);
            if (d == 0xA3 || d == 0xA5) {
                ++i;
                continue;
            }
        }
        if (c == 0xE2 && i + 2 < s.size()) {  // € (E2 82 AC), ₹ (E2 82 B9)
            const unsigned char d = static_cast<unsigned char>(s[i + 1]);
            const unsigned char e = static_cast<unsigned char>(s[i + 2]);
            if (d == 0x82 && (e == 0xAC || e == 0xB9)) {
                i += 2;
                continue;
            }
        }
        if (format == NumberFormat::Point) {
            if (c == ',') continue;
        } else {
            if (c == '.') continue;
            if (c == ',') {
                clean.push_back('.');
                continue;
            }
        }
        clean.push_back(static_cast<char>(c));
    }
    // grammar check, so that strtod's extras (hex, inf, nan) are not accepted
    std::size_t p = 0;
    const std::size_t n = clean.size();
    if (p < n && (clean[p] == '+' || clean[p] == '-')) ++p;
    std::size_t int_digits = 0;
    while (p < n && plan_detail::is_digit(clean[p])) ++p, ++int_digits;
    std::size_t frac_digits = 0;
    if (p < n && clean[p] == '.') {
        ++p;
        while (p < n && plan_detail::is_digit(clean[p])) ++p, ++frac_digits;
    }
    if (int_digits == 0 && frac_digits == 0) return kNaN;
    if (p < n && (clean[p] == 'e' || clean[p] == 'E')) {
        ++p;
        if (p < n && (clean[p] == '+' || clean[p] == '-')) ++p;
        std::size_t exp_digits = 0;
        while (p < n && plan_detail::is_digit(clean[p])) ++p, ++exp_digits;
        if (exp_digits == 0) return kNaN;
    }
    if (p != n) return kNaN;
    return std::strtod(clean.c_str(), nullptr);
}

// ------------------------------------------------------------------ level lookups
// A fitted map from category text to a value: frequency, target mean, group mean or
// count, or the code of a pooled categorical. Lookups strip the text; NA tokens and
// nulls give `missing`, text not in `levels` gives `fallback` ("default" in the plan).
class LevelTable {
   public:
    LevelTable(const std::vector<std::string>& levels, const std::vector<double>& values,
               double fallback, double missing)
        : fallback_(fallback), missing_(missing) {
        map_.reserve(levels.size());
        for (std::size_t i = 0; i < levels.size() && i < values.size(); ++i) {
            map_.emplace(levels[i], values[i]);
        }
    }

    // category_pooled: code = index in levels, other text -> levels.size(), missing -> NaN.
    static LevelTable pooled(const std::vector<std::string>& levels) {
        std::vector<double> codes(levels.size());
        for (std::size_t i = 0; i < levels.size(); ++i) codes[i] = static_cast<double>(i);
        return LevelTable(levels, codes, static_cast<double>(levels.size()), plan_detail::kNaN);
    }

    double lookup(std::string_view text, bool is_null) const {
        if (is_null) return missing_;
        const std::string_view s = strip(text);
        if (is_na_token(s)) return missing_;
        const auto it = map_.find(std::string(s));
        return it == map_.end() ? fallback_ : it->second;
    }

   private:
    std::unordered_map<std::string, double> map_;
    double fallback_;
    double missing_;
};

// ------------------------------------------------------------------ dates
enum class DateFormat { Iso, DayMonthYear, MonthDayYear };
enum class DatePart { Year, Month, Day, Weekday, Hour, ElapsedDays };

inline DateFormat date_format(std::string_view name) {
    if (name == "dmy") return DateFormat::DayMonthYear;
    if (name == "mdy") return DateFormat::MonthDayYear;
    return DateFormat::Iso;
}

inline DatePart date_part_kind(std::string_view name) {
    if (name == "month") return DatePart::Month;
    if (name == "day") return DatePart::Day;
    if (name == "weekday") return DatePart::Weekday;
    if (name == "hour") return DatePart::Hour;
    if (name == "elapsed_days") return DatePart::ElapsedDays;
    return DatePart::Year;
}

struct DateTime {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

// Copies t to out when it is a real date and time of day.
inline bool valid_datetime(const DateTime& t, DateTime& out) {
    if (t.month < 1 || t.month > 12 || t.day < 1 ||
        t.day > plan_detail::days_in_month(t.year, t.month) || t.hour > 23 || t.minute > 59 ||
        t.second > 59)
        return false;
    out = t;
    return true;
}

namespace plan_detail {
// The common ISO layouts at fixed positions: YYYY-MM-DD, then optionally THH:MM and
// :SS ('-' or '/' between date parts, 'T' or ' ' before the time). Fills t and returns
// true only for text of exactly that shape, which the general grammar reads the same;
// anything else is left to it.
inline bool iso_fixed(std::string_view s, DateTime& t) {
    const std::size_t n = s.size();
    if (n != 10 && n != 16 && n != 19) return false;
    auto two = [&](std::size_t i) {
        const unsigned a = static_cast<unsigned char>(s[i]) - '0';
        const unsigned b = static_cast<unsigned char>(s[i + 1]) - '0';
        return a > 9 || b > 9 ? -1 : static_cast<int>(a * 10 + b);
    };
    const int y1 = two(0), y2 = two(2), m = two(5), d = two(8);
    if (y1 < 0 || y2 < 0 || m < 0 || d < 0 || (s[4] != '-' && s[4] != '/') ||
        (s[7] != '-' && s[7] != '/'))
        return false;
    t = DateTime{};
    t.year = y1 * 100 + y2, t.month = m, t.day = d;
    if (n >= 16) {
        const int hh = two(11), mm = two(14);
        if ((s[10] != 'T' && s[10] != ' ') || s[13] != ':' || hh < 0 || mm < 0) return false;
        t.hour = hh, t.minute = mm;
    }
    if (n == 19) {
        const int ss = two(17);
        if (s[16] != ':' || ss < 0) return false;
        t.second = ss;
    }
    return true;
}
}  // namespace plan_detail

// ISO: YYYY[-/]M[M][-/]D[D][(T| )H[H]:MM[:SS[.f+]]][Z|(+|-)HH[:]MM] (offset ignored);
// dmy / mdy: D[D] and M[M] in either order, separators / . -, a 4-digit year, then an
// optional time as above without offset. Returns false when the text does not match
// or the date or time is invalid.
inline bool parse_datetime(std::string_view text, DateFormat format, DateTime& out) {
    using plan_detail::digits;
    const std::string_view s = strip_white_space(text);
    // Both grammars start with a digit, which also rules out every NA token.
    if (s.empty() || !plan_detail::is_digit(s[0])) return false;
    DateTime t;
    if (format == DateFormat::Iso && plan_detail::iso_fixed(s, t)) return valid_datetime(t, out);
    std::size_t p = 0;
    int a = 0, b = 0, c = 0;
    auto sep = [&](const char* allowed) {
        if (p < s.size() && std::string_view(allowed).find(s[p]) != std::string_view::npos) {
            ++p;
            return true;
        }
        return false;
    };
    if (format == DateFormat::Iso) {
        if (!digits(s, p, 4, 4, a) || !sep("-/") || !digits(s, p, 1, 2, b) || !sep("-/") ||
            !digits(s, p, 1, 2, c))
            return false;
        t.year = a, t.month = b, t.day = c;
    } else {
        if (!digits(s, p, 1, 2, a) || !sep("/.-") || !digits(s, p, 1, 2, b) || !sep("/.-") ||
            !digits(s, p, 4, 4, c))
            return false;
        t.year = c;
        t.day = format == DateFormat::DayMonthYear ? a : b;
        t.month = format == DateFormat::DayMonthYear ? b : a;
    }
    if (p < s.size() && (s[p] == 'T' || s[p] == ' ')) {
        ++p;
        if (!digits(s, p, 1, 2, t.hour) || !sep(":") || !digits(s, p, 2, 2, t.minute)) return false;
        if (p < s.size() && s[p] == ':') {
            ++p;
            if (!digits(s, p, 2, 2, t.second)) return false;
            if (p < s.size() && s[p] == '.') {
                ++p;
                const std::size_t start = p;
                while (p < s.size() && plan_detail::is_digit(s[p])) ++p;
                if (p == start) return false;
            }
        }
    }
    if (format == DateFormat::Iso && p < s.size()) {
        if (s[p] == 'Z') {
            ++p;
        } else if (s[p] == '+' || s[p] == '-') {
            // two digits, an optional colon, two digits: "+05:30" and "+0530" alike
            auto two = [&]() {
                if (p + 1 >= s.size() || !plan_detail::is_digit(s[p]) ||
                    !plan_detail::is_digit(s[p + 1]))
                    return false;
                p += 2;
                return true;
            };
            ++p;
            if (!two()) return false;
            if (p < s.size() && s[p] == ':') ++p;
            if (!two()) return false;
        }
    }
    if (p != s.size()) return false;
    return valid_datetime(t, out);
}

// Microseconds since 1970-01-01 of a parsed date and time (seconds precision).
inline std::int64_t epoch_us(const DateTime& t) {
    const std::int64_t days = plan_detail::days_from_civil(t.year, t.month, t.day);
    return (days * 86400 + t.hour * 3600 + t.minute * 60 + t.second) * 1000000LL;
}

namespace plan_detail {
// Value i of an Arrow text column. (parse_datetime is called from the column loops
// themselves: behind one more helper GCC stops inlining it, at twice the cost.)
inline std::string_view value_at(const std::int64_t* offsets, const char* data, std::size_t i) {
    return {data + offsets[i], static_cast<std::size_t>(offsets[i + 1] - offsets[i])};
}
}  // namespace plan_detail

// Parses a column of n strings held as Arrow offsets and bytes (value i is
// data[offsets[i]:offsets[i + 1]]). `valid` may be null (every value present). Writes
// microseconds since the epoch and 1 where a value parses; 0 and 0 otherwise.
inline void parse_datetime_column(const std::int64_t* offsets, const char* data,
                                  const std::uint8_t* valid, std::size_t n, DateFormat format,
                                  std::int64_t* out_us, std::uint8_t* out_ok) {
    for (std::size_t i = 0; i < n; ++i) {
        DateTime t;
        const bool ok = (valid == nullptr || valid[i] != 0) &&
                        parse_datetime(plan_detail::value_at(offsets, data, i), format, t);
        out_us[i] = ok ? epoch_us(t) : 0;
        out_ok[i] = ok ? 1 : 0;
    }
}

// Weekday: 1 = Monday .. 7 = Sunday; elapsed days: fractional days since 1970-01-01 minus
// origin.
inline double date_part_of(const DateTime& t, DatePart part, double origin) {
    switch (part) {
        case DatePart::Year:
            return t.year;
        case DatePart::Month:
            return t.month;
        case DatePart::Day:
            return t.day;
        case DatePart::Hour:
            return t.hour;
        case DatePart::Weekday: {
            const std::int64_t days = plan_detail::days_from_civil(t.year, t.month, t.day);
            return static_cast<double>(((days % 7) + 7 + 3) % 7 + 1);
        }
        case DatePart::ElapsedDays:
            return static_cast<double>(epoch_us(t)) / 86400000000.0 - origin;
    }
    return plan_detail::kNaN;
}

// A part of a text date; unparseable or missing -> NaN.
inline double date_part(std::string_view text, DateFormat format, DatePart part, double origin) {
    DateTime t;
    if (!parse_datetime(text, format, t)) return plan_detail::kNaN;
    return date_part_of(t, part, origin);
}

// Date parts of a column of text dates (Arrow offsets and bytes, as in
// parse_datetime_column) written into a row-major float block of `stride` columns:
// out[i * stride + cols[k]] = date_part(value i, parts[k], origins[k]), NaN when the
// value is missing or does not parse. Each value is parsed once for all its parts.
inline void date_parts_column(const std::int64_t* offsets, const char* data,
                              const std::uint8_t* valid, std::size_t n, DateFormat format,
                              const DatePart* parts, const double* origins,
                              const std::int64_t* cols, std::size_t n_parts, float* out,
                              std::size_t stride) {
    for (std::size_t i = 0; i < n; ++i) {
        float* row = out + i * stride;
        DateTime t;
        const bool ok = (valid == nullptr || valid[i] != 0) &&
                        parse_datetime(plan_detail::value_at(offsets, data, i), format, t);
        for (std::size_t k = 0; k < n_parts; ++k)
            row[cols[k]] = static_cast<float>(ok ? date_part_of(t, parts[k], origins[k])
                                                 : plan_detail::kNaN);
    }
}

// ------------------------------------------------------------------ free text
namespace plan_detail {
inline bool is_token_byte(unsigned char b) {
    return (b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || b >= 128;
}
}  // namespace plan_detail

// 32-bit FNV-1a of the ASCII-lower-cased bytes of a token.
inline std::uint32_t fnv1a_lower(std::string_view token) {
    std::uint32_t h = 2166136261u;
    for (char ch : token) {
        unsigned char b = static_cast<unsigned char>(ch);
        if (b >= 'A' && b <= 'Z') b = static_cast<unsigned char>(b + 32);
        h = (h ^ b) * 16777619u;
    }
    return h;
}

// Fills out[0] = code points, out[1] = words, out[2 + k] = tokens hashed to bucket k
// (n_buckets entries), for stripped text; NaN everywhere when missing.
inline void text_features(std::string_view text, bool is_null, int n_buckets, double* out) {
    const std::string_view s = strip(text);
    const int width = 2 + (n_buckets > 0 ? n_buckets : 0);
    if (is_null || is_na_token(s)) {
        for (int k = 0; k < width; ++k) out[k] = plan_detail::kNaN;
        return;
    }
    for (int k = 0; k < width; ++k) out[k] = 0.0;
    bool in_word = false;
    std::size_t token_start = 0;
    bool in_token = false;
    auto close_token = [&](std::size_t end) {
        if (n_buckets > 0) {
            const std::uint32_t h = fnv1a_lower(s.substr(token_start, end - token_start));
            out[2 + h % static_cast<std::uint32_t>(n_buckets)] += 1.0;
        }
    };
    for (std::size_t i = 0; i < s.size(); ++i) {
        const unsigned char b = static_cast<unsigned char>(s[i]);
        if ((b & 0xC0) != 0x80) out[0] += 1.0;
        if (plan_detail::is_ascii_space(s[i])) {
            in_word = false;
        } else if (!in_word) {
            in_word = true;
            out[1] += 1.0;
        }
        if (plan_detail::is_token_byte(b)) {
            if (!in_token) {
                in_token = true;
                token_start = i;
            }
        } else if (in_token) {
            in_token = false;
            close_token(i);
        }
    }
    if (in_token) close_token(s.size());
}

inline double text_length(std::string_view text, bool is_null = false) {
    double out[2];
    text_features(text, is_null, 0, out);
    return out[0];
}

inline double word_count(std::string_view text, bool is_null = false) {
    double out[2];
    text_features(text, is_null, 0, out);
    return out[1];
}

inline double token_hash_count(std::string_view text, int bucket, int n_buckets,
                               bool is_null = false) {
    std::vector<double> out(static_cast<std::size_t>(2 + n_buckets));
    text_features(text, is_null, n_buckets, out.data());
    return out[static_cast<std::size_t>(2 + bucket)];
}

// ------------------------------------------------------------------ derived features
inline double ratio(double a, double b) { return b == 0.0 ? plan_detail::kNaN : a / b; }

inline double difference(double a, double b) { return a - b; }

inline double product(double a, double b) { return a * b; }

// sum_i weights[i] * (x[i] - mean[i]) / scale[i] over non-NaN x[i], in input order.
inline double pca_projection(const double* x, const double* mean, const double* scale,
                             const double* weights, std::size_t n) {
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        if (std::isnan(x[i])) continue;
        total += weights[i] * ((x[i] - mean[i]) / scale[i]);
    }
    return total;
}

}  // namespace mlwf
