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
//
// The plan's "ops" (PlanSpec::steps) replay the data layer's op kinds with the functions
// of plan_ops.hpp: raw ops read input columns (the "columns" names and the ops' inputs,
// one input slot per distinct name), derived ops (ratio, difference, product, pca) read
// features computed before them. Each record is computed into one float32 slot per
// column and per op; the feature row picks slots by name.
#pragma once

#include <mlwf/plan_ops.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <memory>
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
    bool integer = false;                  // Float64 of an integer column (prints without ".0")
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

// Serialised form of one of the plan's "ops" (see mlwf_core/preprocess.py).
struct PlanOpSpec {
    std::string op;
    std::string output;
    std::vector<std::string> inputs;
    std::vector<std::string> levels;
    std::vector<double> values, mean, scale, weights;
    double default_value = std::numeric_limits<double>::quiet_NaN();
    double missing_value = std::numeric_limits<double>::quiet_NaN();
    double origin = 0.0;
    double fill = std::numeric_limits<double>::quiet_NaN();  // impute "value"
    std::string format, part, base;
    int64_t bucket = 0, n_buckets = 0;
};

struct PlanSpec {
    int64_t version = 1;
    std::vector<OpSpec> ops;       // the plan's "columns"
    std::vector<PlanOpSpec> steps;  // the plan's "ops"
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

    // Input columns: the plan's "columns" first, then the other inputs of its raw ops.
    int64_t n_columns() const { return static_cast<int64_t>(inputs_.size()); }
    int64_t n_features() const { return static_cast<int64_t>(feature_slot_.size()); }
    const std::string& column_name(int64_t i) const { return inputs_[static_cast<size_t>(i)]; }
    // Kind of input column i: its column kind, or "input" for one only ops read.
    const char* column_kind_name(int64_t i) const {
        const int k = input_kind_[static_cast<size_t>(i)];
        static const char* const kNames[] = {"numeric", "categorical", "boolean", "input"};
        return kNames[k < 0 ? 3 : k];
    }
    // Index of an input column by name, or -1.
    int64_t column_index(std::string_view name) const {
        auto it = by_name_.find(std::string(name));
        return it == by_name_.end() ? -1 : it->second;
    }

    // values[i] is the raw value of input column i; out has n_features() floats.
    void transform_record(const Value* values, float* out) const {
        if (steps_.empty()) {
            for (size_t j = 0; j < feature_slot_.size(); ++j) {
                const Op& op = ops_[feature_slot_[j]];
                out[j] = apply_value(op, values[op.input]);
            }
            return;
        }
        Scratch scratch(*this);
        record_slots(values, scratch);
        for (size_t j = 0; j < feature_slot_.size(); ++j) out[j] = scratch.slots[feature_slot_[j]];
    }

    // cols[i] holds input column i for n rows; out is row-major n x n_features().
    void transform_columns(const ColumnView* cols, int64_t n, float* out) const {
        const int64_t nf = n_features();
        if (steps_.empty()) {
            for (size_t j = 0; j < feature_slot_.size(); ++j) {
                const Op& op = ops_[feature_slot_[j]];
                const ColumnView& c = cols[op.input];
                for (int64_t r = 0; r < n; ++r) {
                    out[r * nf + static_cast<int64_t>(j)] = apply_value(op, cell_value(c, r));
                }
            }
            return;
        }
        Scratch scratch(*this);
        std::vector<Value> values(inputs_.size());
        for (int64_t r = 0; r < n; ++r) {
            for (size_t i = 0; i < inputs_.size(); ++i) values[i] = cell_value(cols[i], r);
            record_slots(values.data(), scratch);
            float* row = out + r * nf;
            for (size_t j = 0; j < feature_slot_.size(); ++j) row[j] = scratch.slots[feature_slot_[j]];
        }
    }

private:
    struct Op {
        std::string name;
        OpKind kind;
        size_t input = 0;
        detail::LevelTable levels;
    };

    enum class StepKind : uint8_t {
        parse_number, category_pooled, lookup, date_part, text_length, word_count, token_hash,
        missing_indicator, impute, ratio, difference, product, pca
    };
    enum class Base : uint8_t { numeric, boolean, categorical, category_pooled, parse_number };

    struct Step {
        StepKind kind;
        std::string output;
        size_t input = 0;                 // raw ops: input column
        std::vector<size_t> args;         // derived ops: slots read
        std::shared_ptr<const LevelTable> table;  // category_pooled, lookups, impute of pooled codes
        detail::LevelTable codes;         // impute with base categorical
        NumberFormat number_format = NumberFormat::Point;
        DateFormat date_format = DateFormat::Iso;
        DatePart date_part = DatePart::Year;
        double origin = 0.0;
        Base base = Base::numeric;
        float fill = 0.0f;
        size_t text_group = 0;            // text ops: statistics of this group
        size_t text_index = 0;            // index in that group's statistics
        std::vector<double> mean, scale, weights;
    };

    // Text statistics of one input column: lengths, words and max(n_buckets) buckets.
    struct TextGroup {
        size_t input = 0;
        int n_buckets = 0;
        size_t offset = 0;  // in Scratch::text
    };

    struct Scratch {
        std::vector<float> slots;
        std::vector<double> text;
        std::vector<double> pca;
        explicit Scratch(const Plan& p)
            : slots(p.ops_.size() + p.steps_.size()), text(p.text_width_), pca(p.pca_width_) {}
    };

    static OpKind kind_of(const std::string& kind, const std::string& name) {
        if (kind == "numeric") return OpKind::numeric;
        if (kind == "categorical") return OpKind::categorical;
        if (kind == "boolean") return OpKind::boolean;
        throw PlanError("plan column '" + name + "' has op kind '" + kind +
                        "', which this scorer does not implement (known kinds: numeric, "
                        "categorical, boolean); score it with the mlwf version that saved it");
    }

    size_t add_input(const std::string& name, int kind) {
        auto it = by_name_.find(name);
        if (it != by_name_.end()) return static_cast<size_t>(it->second);
        by_name_.emplace(name, static_cast<int64_t>(inputs_.size()));
        inputs_.push_back(name);
        input_kind_.push_back(kind);
        return inputs_.size() - 1;
    }

    [[noreturn]] static void bad_op(const PlanOpSpec& s, const std::string& why) {
        throw PlanError("plan op '" + s.output + "' (" + s.op + ") " + why);
    }

    void compile(const PlanSpec& spec) {
        if (spec.version != 1) {
            throw PlanError("plan version " + std::to_string(spec.version) +
                            " is not supported (this scorer reads version 1)");
        }
        std::unordered_map<std::string, size_t> slot_of;  // feature name -> slot
        for (const OpSpec& s : spec.ops) {
            Op op;
            op.name = s.name;
            op.kind = kind_of(s.kind, s.name);
            if (op.kind == OpKind::categorical) op.levels.build(s.levels);
            if (by_name_.count(op.name)) throw PlanError("plan column '" + s.name + "' appears twice");
            op.input = add_input(op.name, static_cast<int>(op.kind));
            slot_of.emplace(op.name, ops_.size());
            ops_.push_back(std::move(op));
        }
        // raw ops first (their inputs are input columns), then derived ops (their inputs are slots)
        for (int pass = 0; pass < 2; ++pass) {
            for (const PlanOpSpec& s : spec.steps) {
                const bool derived = s.op == "ratio" || s.op == "difference" || s.op == "product" || s.op == "pca";
                if (derived != (pass == 1)) continue;
                Step st = compile_step(s, slot_of);
                if (!slot_of.emplace(s.output, ops_.size() + steps_.size()).second) {
                    throw PlanError("plan feature '" + s.output + "' appears twice");
                }
                steps_.push_back(std::move(st));
            }
        }
        if (spec.features.empty()) {
            for (size_t i = 0; i < ops_.size(); ++i) feature_slot_.push_back(i);
            for (const PlanOpSpec& s : spec.steps) feature_slot_.push_back(slot_of.at(s.output));
        } else {
            for (const std::string& f : spec.features) {
                auto it = slot_of.find(f);
                if (it == slot_of.end()) {
                    throw PlanError("plan feature '" + f + "' is produced by no plan column or op");
                }
                feature_slot_.push_back(it->second);
            }
        }
    }

    Step compile_step(const PlanOpSpec& s, const std::unordered_map<std::string, size_t>& slot_of) {
        Step st;
        st.output = s.output;
        const std::string& k = s.op;
        if (k == "ratio" || k == "difference" || k == "product" || k == "pca") {
            st.kind = k == "ratio" ? StepKind::ratio
                      : k == "difference" ? StepKind::difference
                      : k == "product" ? StepKind::product
                                       : StepKind::pca;
            if (st.kind != StepKind::pca && s.inputs.size() != 2) bad_op(s, "needs 2 inputs");
            if (s.inputs.empty()) bad_op(s, "needs inputs");
            for (const std::string& in : s.inputs) {
                auto it = slot_of.find(in);
                if (it == slot_of.end()) bad_op(s, "reads '" + in + "', which is no column or raw op");
                st.args.push_back(it->second);
            }
            if (st.kind == StepKind::pca) {
                const size_t n = s.inputs.size();
                if (s.mean.size() != n || s.scale.size() != n || s.weights.size() != n) {
                    bad_op(s, "needs one mean, scale and weight per input");
                }
                st.mean = s.mean;
                st.scale = s.scale;
                st.weights = s.weights;
                pca_width_ = std::max(pca_width_, n);
            }
            return st;
        }
        if (s.inputs.size() != 1) bad_op(s, "needs exactly 1 input");
        st.input = add_input(s.inputs[0], -1);
        auto number_fmt = [&](const std::string& f) {
            if (f != "number" && f != "number_comma") bad_op(s, "has unknown format '" + f + "'");
            return mlwf::number_format(f);
        };
        if (k == "parse_number") {
            st.kind = StepKind::parse_number;
            st.number_format = number_fmt(s.format);
        } else if (k == "category_pooled") {
            st.kind = StepKind::category_pooled;
            st.table = std::make_shared<const LevelTable>(LevelTable::pooled(s.levels));
        } else if (k == "frequency" || k == "target_mean" || k == "group_mean" || k == "group_count") {
            st.kind = StepKind::lookup;
            if (s.values.size() != s.levels.size()) bad_op(s, "needs one value per level");
            st.table = std::make_shared<const LevelTable>(s.levels, s.values, s.default_value, s.missing_value);
        } else if (k == "date_part") {
            st.kind = StepKind::date_part;
            if (s.format != "iso" && s.format != "iso_general" && s.format != "dmy" && s.format != "mdy") {
                bad_op(s, "has unknown date format '" + s.format + "'");
            }
            if (s.part != "year" && s.part != "month" && s.part != "day" && s.part != "weekday" &&
                s.part != "hour" && s.part != "elapsed_days") {
                bad_op(s, "has unknown date part '" + s.part + "'");
            }
            st.date_format = mlwf::date_format(s.format);
            st.date_part = date_part_kind(s.part);
            st.origin = s.origin;
        } else if (k == "text_length" || k == "word_count" || k == "token_hash") {
            st.kind = k == "text_length" ? StepKind::text_length
                      : k == "word_count" ? StepKind::word_count
                                          : StepKind::token_hash;
            int n_buckets = 0;
            if (st.kind == StepKind::token_hash) {
                if (s.n_buckets < 1 || s.n_buckets > (1 << 20) || s.bucket < 0 || s.bucket >= s.n_buckets) {
                    bad_op(s, "needs 0 <= bucket < n_buckets");
                }
                n_buckets = static_cast<int>(s.n_buckets);
                st.text_index = 2 + static_cast<size_t>(s.bucket);
            } else {
                st.text_index = st.kind == StepKind::text_length ? 0 : 1;
            }
            size_t g = 0;
            while (g < text_groups_.size() && text_groups_[g].input != st.input) ++g;
            if (g == text_groups_.size()) text_groups_.push_back(TextGroup{st.input, 0, 0});
            text_groups_[g].n_buckets = std::max(text_groups_[g].n_buckets, n_buckets);
            st.text_group = g;
            text_width_ = 0;  // offsets are laid out again once every group is known
            for (TextGroup& t : text_groups_) {
                t.offset = text_width_;
                text_width_ += 2 + static_cast<size_t>(t.n_buckets);
            }
        } else if (k == "missing_indicator") {
            st.kind = StepKind::missing_indicator;
        } else if (k == "impute") {
            st.kind = StepKind::impute;
            st.fill = static_cast<float>(s.fill);
            if (s.base == "numeric") {
                st.base = Base::numeric;
            } else if (s.base == "boolean") {
                st.base = Base::boolean;
            } else if (s.base == "categorical") {
                st.base = Base::categorical;
                st.codes.build(s.levels);
            } else if (s.base == "category_pooled") {
                st.base = Base::category_pooled;
                st.table = std::make_shared<const LevelTable>(LevelTable::pooled(s.levels));
            } else if (s.base == "parse_number") {
                st.base = Base::parse_number;
                st.number_format = number_fmt(s.format);
            } else {
                bad_op(s, "has unknown base '" + s.base + "'");
            }
        } else {
            throw PlanError("plan op '" + s.output + "' has op kind '" + k +
                            "', which this scorer does not implement; score it with the mlwf version "
                            "that saved it");
        }
        return st;
    }

    // Text form of a value, as Polars casts it to String; false when missing.
    static bool value_text(const Value& v, char* buf, size_t cap, std::string_view* out) {
        switch (v.type) {
            case Value::Text:
                *out = v.text;
                return true;
            case Value::Bool:
                *out = v.boolean ? std::string_view("true") : std::string_view("false");
                return true;
            case Value::Number:
                if (std::isnan(v.number)) return false;
                *out = number_text(v.number, v.integer, buf, cap);
                return true;
            case Value::Missing:
                return false;
        }
        return false;
    }

    static float parsed_number(const Value& v, NumberFormat fmt) {
        switch (v.type) {
            case Value::Number:
                return static_cast<float>(v.number);
            case Value::Bool:
                return v.boolean ? 1.0f : 0.0f;
            case Value::Text:
                return static_cast<float>(mlwf::parse_number(v.text, fmt));
            case Value::Missing:
                break;
        }
        return detail::nan32();
    }

    // Numeric conversion that gives NaN for unparseable text (an imputed column's base).
    static float lenient_numeric(const Value& v) {
        if (v.type != Value::Text) return apply_kind(OpKind::numeric, nullptr, v);
        std::string_view s = detail::strip(v.text);
        double x;
        if (s.empty() || !detail::parse_number(s, &x)) return detail::nan32();
        return static_cast<float>(x);
    }

    void record_slots(const Value* values, Scratch& sc) const {
        for (size_t i = 0; i < ops_.size(); ++i) sc.slots[i] = apply_value(ops_[i], values[ops_[i].input]);
        for (const TextGroup& g : text_groups_) {
            char buf[64];
            std::string_view text;
            const bool present = value_text(values[g.input], buf, sizeof buf, &text);
            text_features(text, !present, g.n_buckets, sc.text.data() + g.offset);
        }
        const size_t base = ops_.size();
        for (size_t k = 0; k < steps_.size(); ++k) {
            sc.slots[base + k] = apply_step(steps_[k], values, sc);
        }
    }

    float apply_step(const Step& st, const Value* values, const Scratch& sc) const {
        char buf[64];
        std::string_view text;
        switch (st.kind) {
            case StepKind::parse_number:
                return parsed_number(values[st.input], st.number_format);
            case StepKind::category_pooled:
            case StepKind::lookup: {
                const bool present = value_text(values[st.input], buf, sizeof buf, &text);
                return static_cast<float>(st.table->lookup(text, !present));
            }
            case StepKind::date_part: {
                const Value& v = values[st.input];
                if (v.type != Value::Text) return detail::nan32();
                return static_cast<float>(mlwf::date_part(v.text, st.date_format, st.date_part, st.origin));
            }
            case StepKind::text_length:
            case StepKind::word_count:
            case StepKind::token_hash:
                return static_cast<float>(sc.text[text_groups_[st.text_group].offset + st.text_index]);
            case StepKind::missing_indicator: {
                const Value& v = values[st.input];
                switch (v.type) {
                    case Value::Missing:
                        return 1.0f;
                    case Value::Number:
                        return static_cast<float>(missing_indicator(v.number));
                    case Value::Bool:
                        return 0.0f;
                    case Value::Text:
                        return static_cast<float>(missing_indicator(v.text, false));
                }
                return 1.0f;
            }
            case StepKind::impute: {
                const Value& v = values[st.input];
                float x = detail::nan32();
                switch (st.base) {
                    case Base::numeric:
                        x = lenient_numeric(v);
                        break;
                    case Base::boolean:
                        x = apply_kind(OpKind::boolean, nullptr, v);
                        break;
                    case Base::categorical:
                        x = apply_kind(OpKind::categorical, &st.codes, v);
                        break;
                    case Base::category_pooled: {
                        const bool present = value_text(v, buf, sizeof buf, &text);
                        x = static_cast<float>(st.table->lookup(text, !present));
                        break;
                    }
                    case Base::parse_number:
                        x = parsed_number(v, st.number_format);
                        break;
                }
                return std::isnan(x) ? st.fill : x;
            }
            case StepKind::ratio:
                return static_cast<float>(ratio(sc.slots[st.args[0]], sc.slots[st.args[1]]));
            case StepKind::difference:
                return static_cast<float>(difference(sc.slots[st.args[0]], sc.slots[st.args[1]]));
            case StepKind::product:
                return static_cast<float>(product(sc.slots[st.args[0]], sc.slots[st.args[1]]));
            case StepKind::pca: {
                double* x = const_cast<double*>(sc.pca.data());
                for (size_t i = 0; i < st.args.size(); ++i) x[i] = sc.slots[st.args[i]];
                return static_cast<float>(
                    pca_projection(x, st.mean.data(), st.scale.data(), st.weights.data(), st.args.size()));
            }
        }
        return detail::nan32();
    }

    static float numeric_text(const std::string& name, std::string_view raw) {
        std::string_view s = detail::strip(raw);
        if (s.empty()) return detail::nan32();
        double v;
        if (!detail::parse_number(s, &v)) {
            throw PlanError("column '" + name + "' must be numeric, as in training, but holds the value '" +
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

    static float category(const detail::LevelTable& levels, std::string_view s) {
        int32_t k = levels.find(s);
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
        if (op.kind == OpKind::numeric && v.type == Value::Text) return numeric_text(op.name, v.text);
        return apply_kind(op.kind, &op.levels, v);
    }

    // A column kind's conversion; text in numeric columns is parsed leniently (NaN if not a number).
    static float apply_kind(OpKind kind, const detail::LevelTable* levels, const Value& v) {
        switch (kind) {
            case OpKind::numeric:
                switch (v.type) {
                    case Value::Number:
                        return static_cast<float>(v.number);
                    case Value::Bool:
                        return v.boolean ? 1.0f : 0.0f;
                    case Value::Text: {
                        std::string_view s = detail::strip(v.text);
                        double x;
                        if (s.empty() || !detail::parse_number(s, &x)) return detail::nan32();
                        return static_cast<float>(x);
                    }
                    case Value::Missing:
                        return detail::nan32();
                }
                break;
            case OpKind::categorical:
                switch (v.type) {
                    case Value::Text:
                        return category(*levels, v.text);
                    case Value::Bool:
                        return category(*levels, v.boolean ? "true" : "false");
                    case Value::Number: {
                        char buf[64];
                        if (std::isnan(v.number)) return detail::nan32();
                        return category(*levels, number_text(v.number, v.integer, buf, sizeof buf));
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

    static Value cell_value(const ColumnView& c, int64_t r) {
        switch (c.type) {
            case ColumnView::Absent:
                return Value::missing();
            case ColumnView::Float64: {
                double v = c.numbers[r];
                if (std::isnan(v)) return Value::missing();
                return c.integer ? Value::of_integer(v) : Value::of_number(v);
            }
            case ColumnView::Booleans: {
                double v = c.numbers[r];
                if (std::isnan(v)) return Value::missing();
                return Value::of_bool(v != 0.0);
            }
            case ColumnView::Strings: {
                if (c.validity) {
                    int64_t bit = c.validity_offset + r;
                    if (!((c.validity[bit >> 3] >> (bit & 7)) & 1)) return Value::missing();
                }
                int64_t b = c.offsets[r], e = c.offsets[r + 1];
                return Value::of_text(std::string_view(c.chars + b, static_cast<size_t>(e - b)));
            }
        }
        return Value::missing();
    }

    std::vector<Op> ops_;                      // the plan's columns, slots 0 .. ops_.size()
    std::vector<Step> steps_;                  // raw ops, then derived ops, the slots after
    std::vector<TextGroup> text_groups_;
    size_t text_width_ = 0;
    size_t pca_width_ = 0;
    std::vector<size_t> feature_slot_;
    std::vector<std::string> inputs_;
    std::vector<int> input_kind_;              // OpKind of a column, -1 for an op-only input
    std::unordered_map<std::string, int64_t> by_name_;
};

}  // namespace mlwf
