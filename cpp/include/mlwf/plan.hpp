// The fitted preprocessing of a model (the Plan of mlwf_core/preprocess.py) in C++:
// raw values in (numbers, strings, booleans, missing), the float32 feature row out.
//
// A plan is a list of ops, one per produced column, then the ordered feature list.
// Each op kind is one case of the switches in Plan::compile / apply_*; a plan that names
// a kind this build does not know is refused with a PlanError naming it.
//
// Semantics (identical to Plan.transform in Polars):
//   numeric      numbers -> float32; booleans -> 1 / 0; text is stripped and parsed
//                (empty -> missing, unparseable -> error); missing -> NaN.
//   categorical  the value's string form looked up in `levels` (exact match) -> its
//                index; unseen or missing -> NaN.
//   boolean      booleans -> 1 / 0; numbers -> float32; text stripped, lower-cased and
//                matched against yes/true/y/t/1 and no/false/n/f/0; else NaN.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mlwf {

class PlanError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// One raw input value.
struct Value {
    enum Type : uint8_t { Missing = 0, Number = 1, Text = 2, Bool = 3 };
    Type type = Missing;
    double number = 0.0;
    bool boolean = false;
    bool integer = false;  // Number came from an integer (prints without ".0")
    std::string_view text;

    static Value missing() { return Value{}; }
    static Value of_number(double v) {
        Value x;
        x.type = Number;
        x.number = v;
        return x;
    }
    static Value of_integer(double v) {
        Value x = of_number(v);
        x.integer = true;
        return x;
    }
    static Value of_text(std::string_view s) {
        Value x;
        x.type = Text;
        x.text = s;
        return x;
    }
    static Value of_bool(bool b) {
        Value x;
        x.type = Bool;
        x.boolean = b;
        return x;
    }
};

// One input column of a batch: numbers (float64, NaN = missing) or Arrow-style strings.
struct ColumnView {
    enum Type : uint8_t { Absent = 0, Float64 = 1, Strings = 2, Booleans = 3 };
    Type type = Absent;
    const double* numbers = nullptr;       // Float64 / Booleans (0, 1, NaN)
    const int64_t* offsets = nullptr;      // Strings: n + 1 offsets into chars
    const char* chars = nullptr;
    const uint8_t* validity = nullptr;     // Strings: Arrow validity bitmap (null = all valid)
    int64_t validity_offset = 0;           // bit offset of row 0 in validity
};

// Serialised form of one op, as in the manifest's plan["columns"].
struct OpSpec {
    std::string name;
    std::string kind;
    std::vector<std::string> levels;
};

struct PlanSpec {
    int64_t version = 1;
    std::vector<OpSpec> ops;
    std::vector<std::string> features;  // empty = the ops' names in order
};

namespace detail {

// Open-addressing string -> index table with lookups by string_view (no allocation).
class LevelTable {
public:
    void build(const std::vector<std::string>& levels) {
        levels_ = levels;
        size_t cap = 8;
        while (cap < levels.size() * 2 + 1) cap <<= 1;
        slots_.assign(cap, -1);
        mask_ = cap - 1;
        for (size_t i = 0; i < levels_.size(); ++i) {
            size_t h = hash(levels_[i]) & mask_;
            while (slots_[h] >= 0) {
                if (levels_[static_cast<size_t>(slots_[h])] == levels_[i]) break;  // keep first
                h = (h + 1) & mask_;
            }
            if (slots_[h] < 0) slots_[h] = static_cast<int32_t>(i);
        }
    }
    int32_t find(std::string_view s) const {
        if (slots_.empty()) return -1;
        size_t h = hash(s) & mask_;
        for (;;) {
            int32_t k = slots_[h];
            if (k < 0) return -1;
            if (levels_[static_cast<size_t>(k)] == s) return k;
            h = (h + 1) & mask_;
        }
    }
    size_t size() const { return levels_.size(); }

private:
    static size_t hash(std::string_view s) {
        uint64_t h = 1469598103934665603ull;
        for (unsigned char c : s) {
            h ^= c;
            h *= 1099511628211ull;
        }
        return static_cast<size_t>(h ^ (h >> 29));
    }
    std::vector<std::string> levels_;
    std::vector<int32_t> slots_;
    size_t mask_ = 0;
};

inline bool is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

inline std::string_view strip(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && is_space(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && is_space(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

// Parses a stripped decimal number; false when the text is not a number.
inline bool parse_number(std::string_view s, double* out) {
    if (s.empty() || s.size() > 300) return false;
    char buf[320];
    std::memcpy(buf, s.data(), s.size());
    buf[s.size()] = '\0';
    // strtod also reads hex and "0x" forms that Polars does not: allow decimal forms only
    for (char c : s) {
        if (c == 'x' || c == 'X' || c == 'p' || c == 'P') return false;
    }
    char* end = nullptr;
    double v = std::strtod(buf, &end);
    if (end != buf + s.size()) return false;
    *out = v;
    return true;
}

inline float nan32() { return std::numeric_limits<float>::quiet_NaN(); }

}  // namespace detail

class Plan {
public:
    enum class OpKind : uint8_t { numeric, categorical, boolean };

    Plan() = default;
    explicit Plan(const PlanSpec& spec) { compile(spec); }

    int64_t n_columns() const { return static_cast<int64_t>(ops_.size()); }
    int64_t n_features() const { return static_cast<int64_t>(feature_op_.size()); }
    const std::string& column_name(int64_t i) const { return ops_[static_cast<size_t>(i)].name; }
    OpKind column_kind(int64_t i) const { return ops_[static_cast<size_t>(i)].kind; }
    // Index of an input column by name, or -1.
    int64_t column_index(std::string_view name) const {
        auto it = by_name_.find(std::string(name));
        return it == by_name_.end() ? -1 : it->second;
    }

    // values[i] is the raw value of input column i; out has n_features() floats.
    void transform_record(const Value* values, float* out) const {
        for (size_t j = 0; j < feature_op_.size(); ++j) {
            const size_t i = feature_op_[j];
            out[j] = apply_value(ops_[i], values[i]);
        }
    }

    // cols[i] holds input column i for n rows; out is row-major n x n_features().
    void transform_columns(const ColumnView* cols, int64_t n, float* out) const {
        const int64_t nf = n_features();
        for (size_t j = 0; j < feature_op_.size(); ++j) {
            const size_t i = feature_op_[j];
            const Op& op = ops_[i];
            const ColumnView& c = cols[i];
            for (int64_t r = 0; r < n; ++r) {
                out[r * nf + static_cast<int64_t>(j)] = apply_cell(op, c, r);
            }
        }
    }

private:
    struct Op {
        std::string name;
        OpKind kind;
        detail::LevelTable levels;
    };

    static OpKind kind_of(const std::string& kind, const std::string& name) {
        if (kind == "numeric") return OpKind::numeric;
        if (kind == "categorical") return OpKind::categorical;
        if (kind == "boolean") return OpKind::boolean;
        throw PlanError("plan column '" + name + "' has op kind '" + kind +
                        "', which this scorer does not implement (known kinds: numeric, "
                        "categorical, boolean); score it with the mlwf version that saved it");
    }

    void compile(const PlanSpec& spec) {
        if (spec.version != 1) {
            throw PlanError("plan version " + std::to_string(spec.version) +
                            " is not supported (this scorer reads version 1)");
        }
        for (const OpSpec& s : spec.ops) {
            Op op;
            op.name = s.name;
            op.kind = kind_of(s.kind, s.name);
            switch (op.kind) {
                case OpKind::categorical:
                    op.levels.build(s.levels);
                    break;
                case OpKind::numeric:
                case OpKind::boolean:
                    break;
            }
            if (!by_name_.emplace(op.name, static_cast<int64_t>(ops_.size())).second) {
                throw PlanError("plan column '" + s.name + "' appears twice");
            }
            ops_.push_back(std::move(op));
        }
        if (spec.features.empty()) {
            for (size_t i = 0; i < ops_.size(); ++i) feature_op_.push_back(i);
        } else {
            for (const std::string& f : spec.features) {
                auto it = by_name_.find(f);
                if (it == by_name_.end()) {
                    throw PlanError("plan feature '" + f + "' is produced by no plan column");
                }
                feature_op_.push_back(static_cast<size_t>(it->second));
            }
        }
    }

    static float numeric_text(const Op& op, std::string_view raw) {
        std::string_view s = detail::strip(raw);
        if (s.empty()) return detail::nan32();
        double v;
        if (!detail::parse_number(s, &v)) {
            throw PlanError("column '" + op.name + "' must be numeric, as in training, but holds the value '" +
                            std::string(raw) + "'; fix or remove such values");
        }
        return static_cast<float>(v);
    }

    static float boolean_text(std::string_view raw) {
        std::string_view s = detail::strip(raw);
        if (s.size() > 5) return detail::nan32();
        char low[6];
        for (size_t k = 0; k < s.size(); ++k) {
            char c = s[k];
            low[k] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        }
        std::string_view l(low, s.size());
        if (l == "yes" || l == "true" || l == "y" || l == "t" || l == "1") return 1.0f;
        if (l == "no" || l == "false" || l == "n" || l == "f" || l == "0") return 0.0f;
        return detail::nan32();
    }

    static float category(const Op& op, std::string_view s) {
        int32_t k = op.levels.find(s);
        return k < 0 ? detail::nan32() : static_cast<float>(k);
    }

    // String form of a number, as Polars casts numbers to String (integers without ".0").
    static std::string_view number_text(double v, bool integer, char* buf, size_t cap) {
        if (std::isnan(v)) return {};
        if (std::isinf(v)) return v > 0 ? std::string_view("inf") : std::string_view("-inf");
        int len;
        if (integer) {
            len = std::snprintf(buf, cap, "%.0f", v);
        } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
            len = std::snprintf(buf, cap, "%.1f", v);
        } else {
            len = std::snprintf(buf, cap, "%.17g", v);
            // shortest form that round-trips, as Python's repr and Polars print
            for (int p = 1; p <= 17; ++p) {
                char tmp[64];
                int l2 = std::snprintf(tmp, sizeof tmp, "%.*g", p, v);
                if (std::strtod(tmp, nullptr) == v) {
                    std::memcpy(buf, tmp, static_cast<size_t>(l2) + 1);
                    len = l2;
                    break;
                }
            }
        }
        return std::string_view(buf, static_cast<size_t>(len));
    }

    static float apply_value(const Op& op, const Value& v) {
        switch (op.kind) {
            case OpKind::numeric:
                switch (v.type) {
                    case Value::Number:
                        return static_cast<float>(v.number);
                    case Value::Bool:
                        return v.boolean ? 1.0f : 0.0f;
                    case Value::Text:
                        return numeric_text(op, v.text);
                    case Value::Missing:
                        return detail::nan32();
                }
                break;
            case OpKind::categorical:
                switch (v.type) {
                    case Value::Text:
                        return category(op, v.text);
                    case Value::Bool:
                        return category(op, v.boolean ? "true" : "false");
                    case Value::Number: {
                        char buf[64];
                        if (std::isnan(v.number)) return detail::nan32();
                        return category(op, number_text(v.number, v.integer, buf, sizeof buf));
                    }
                    case Value::Missing:
                        return detail::nan32();
                }
                break;
            case OpKind::boolean:
                switch (v.type) {
                    case Value::Bool:
                        return v.boolean ? 1.0f : 0.0f;
                    case Value::Number:
                        return static_cast<float>(v.number);
                    case Value::Text:
                        return boolean_text(v.text);
                    case Value::Missing:
                        return detail::nan32();
                }
                break;
        }
        return detail::nan32();
    }

    static float apply_cell(const Op& op, const ColumnView& c, int64_t r) {
        switch (c.type) {
            case ColumnView::Absent:
                return detail::nan32();
            case ColumnView::Float64: {
                double v = c.numbers[r];
                if (std::isnan(v)) return detail::nan32();
                return apply_value(op, Value::of_number(v));
            }
            case ColumnView::Booleans: {
                double v = c.numbers[r];
                if (std::isnan(v)) return detail::nan32();
                return apply_value(op, Value::of_bool(v != 0.0));
            }
            case ColumnView::Strings: {
                if (c.validity) {
                    int64_t bit = c.validity_offset + r;
                    if (!((c.validity[bit >> 3] >> (bit & 7)) & 1)) return detail::nan32();
                }
                int64_t b = c.offsets[r], e = c.offsets[r + 1];
                return apply_value(op, Value::of_text(std::string_view(c.chars + b, static_cast<size_t>(e - b))));
            }
        }
        return detail::nan32();
    }

    std::vector<Op> ops_;
    std::vector<size_t> feature_op_;
    std::unordered_map<std::string, int64_t> by_name_;
};

}  // namespace mlwf
