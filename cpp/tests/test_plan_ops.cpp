// Checks plan_ops.hpp against values produced by the Python Plan.
//
// Usage: test_plan_ops [cases.tsv]
// Without an argument only the built-in checks run. Each line of the case file is
// tab-separated: the op, its constants, the input (hex-encoded UTF-8, "~" = null) and
// the value the Python Plan put in the float32 matrix. Exit status 0 when every value
// matches exactly (as float32, NaN equal to NaN), 1 otherwise.

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "mlwf/plan_ops.hpp"

namespace {

int failures = 0;
int checks = 0;

bool same(double got, double expected) {
    const float a = static_cast<float>(got);
    const float b = static_cast<float>(expected);
    return (std::isnan(a) && std::isnan(b)) || a == b;
}

void check(double got, double expected, const std::string& what) {
    ++checks;
    if (!same(got, expected)) {
        ++failures;
        std::cerr << "MISMATCH " << what << ": got " << got << ", expected " << expected << "\n";
    }
}

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> out;
    std::string item;
    std::istringstream in(text);
    while (std::getline(in, item, sep)) out.push_back(item);
    if (!text.empty() && text.back() == sep) out.emplace_back();
    return out;
}

std::string unhex(const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    return out;
}

double num(const std::string& text) { return std::strtod(text.c_str(), nullptr); }

std::vector<double> nums(const std::string& text) {
    std::vector<double> out;
    for (const auto& item : split(text, ',')) out.push_back(num(item));
    return out;
}

std::vector<std::string> strings(const std::string& text) {
    std::vector<std::string> out;
    if (text.empty()) return out;
    for (const auto& item : split(text, ',')) out.push_back(unhex(item));
    return out;
}

void built_in() {
    using namespace mlwf;
    const double nan = std::nan("");
    check(parse_number("$1,234.50", NumberFormat::Point), 1234.5, "currency");
    check(parse_number(" 12 % ", NumberFormat::Point), 12.0, "percent");
    check(parse_number("1.234,5", NumberFormat::Comma), 1234.5, "decimal comma");
    check(parse_number("\xE2\x82\xAC" "3", NumberFormat::Point), 3.0, "euro");
    check(parse_number("N/A", NumberFormat::Point), nan, "na token");
    check(parse_number("abc", NumberFormat::Point), nan, "text");
    check(parse_number("0x10", NumberFormat::Point), nan, "hex rejected");
    check(parse_number("-1e3", NumberFormat::Point), -1000.0, "exponent");
    check(date_part("2024-02-29T13:45:00Z", DateFormat::Iso, DatePart::Hour, 0), 13, "hour");
    check(date_part("2024-02-30", DateFormat::Iso, DatePart::Day, 0), nan, "invalid day");
    check(date_part("1970-01-01", DateFormat::Iso, DatePart::Weekday, 0), 4, "thursday");
    check(date_part("31/12/2023", DateFormat::DayMonthYear, DatePart::Month, 0), 12, "dmy");
    check(date_part("12/31/2023", DateFormat::MonthDayYear, DatePart::Day, 0), 31, "mdy");
    check(date_part("1970-01-02 12:00", DateFormat::Iso, DatePart::ElapsedDays, 0), 1.5, "elapsed");
    check(date_part("2024-02-29T13:45-0530", DateFormat::Iso, DatePart::Hour, 0), 13,
          "offset without colon");
    check(date_part("2024-02-29T13:45+053", DateFormat::Iso, DatePart::Hour, 0), nan,
          "short offset");
    check(date_part("\xc2\xa0" "2024-02-29" "\xe3\x80\x80", DateFormat::Iso, DatePart::Day, 0), 29,
          "unicode white space stripped");
    {
        const std::string joined = "2024-02-29 12:00NA1970-01-02";
        const std::int64_t offsets[] = {0, 16, 18, 28};
        const std::uint8_t valid[] = {1, 1, 1};
        std::int64_t us[3];
        std::uint8_t ok[3];
        mlwf::parse_datetime_column(offsets, joined.data(), valid, 3, DateFormat::Iso, us, ok);
        check(ok[0] == 1 && ok[1] == 0 && ok[2] == 1 ? 1.0 : 0.0, 1.0, "column presence");
        check(static_cast<double>(us[2]), 86400e6, "column epoch");
        check(static_cast<double>(us[0]) / 86400e6, 19782.5, "column epoch with time");
    }
    check(text_length("  h\xC3\xA9llo  "), 5, "code points");
    check(word_count("a  b\tc"), 3, "words");
    check(text_length("NA"), nan, "missing text");
    check(ratio(1, 0), nan, "ratio by zero");
    const LevelTable pooled = LevelTable::pooled({"a", "b"});
    check(pooled.lookup(" b ", false), 1, "pooled level");
    check(pooled.lookup("zzz", false), 2, "pooled other");
    check(pooled.lookup("?", false), nan, "pooled missing");
    const LevelTable freq({"x"}, {0.25}, 0.0, 0.5);
    check(freq.lookup("x", false), 0.25, "lookup");
    check(freq.lookup("", true), 0.5, "lookup missing");
    check(freq.lookup("y", false), 0.0, "lookup unseen");
    check(missing_indicator("-", false), 1, "missing indicator");
    check(impute(nan, 3.0), 3.0, "impute");
}

void run_case(const std::vector<std::string>& f, const std::string& line) {
    using namespace mlwf;
    const std::string& op = f.at(0);
    auto input = [&](const std::string& hex, bool& is_null) {
        is_null = hex == "~";
        return is_null ? std::string() : unhex(hex);
    };
    bool is_null = false;
    if (op == "number") {
        const std::string text = input(f.at(2), is_null);
        const double got = is_null ? std::nan("") : parse_number(text, number_format(f.at(1)));
        check(got, num(f.at(3)), line);
    } else if (op == "date") {
        const std::string text = input(f.at(4), is_null);
        const double got = is_null ? std::nan("")
                                   : date_part(text, date_format(f.at(1)), date_part_kind(f.at(2)),
                                               num(f.at(3)));
        check(got, num(f.at(5)), line);
    } else if (op == "text") {
        const int n_buckets = std::atoi(f.at(1).c_str());
        const std::string text = input(f.at(2), is_null);
        std::vector<double> out(static_cast<std::size_t>(2 + n_buckets));
        text_features(text, is_null, n_buckets, out.data());
        const std::vector<double> expected = nums(f.at(3));
        for (std::size_t k = 0; k < out.size(); ++k) check(out[k], expected.at(k), line);
    } else if (op == "lookup") {
        const LevelTable table(strings(f.at(1)), nums(f.at(2)), num(f.at(3)), num(f.at(4)));
        const std::string text = input(f.at(5), is_null);
        check(table.lookup(text, is_null), num(f.at(6)), line);
    } else if (op == "pooled") {
        const LevelTable table = LevelTable::pooled(strings(f.at(1)));
        const std::string text = input(f.at(2), is_null);
        check(table.lookup(text, is_null), num(f.at(3)), line);
    } else if (op == "missing") {
        const std::string text = input(f.at(1), is_null);
        check(missing_indicator(text, is_null), num(f.at(2)), line);
    } else if (op == "ratio" || op == "difference" || op == "product") {
        const double a = num(f.at(1)), b = num(f.at(2));
        const double got = op == "ratio" ? ratio(a, b) : op == "difference" ? difference(a, b)
                                                                            : product(a, b);
        check(got, num(f.at(3)), line);
    } else if (op == "pca") {
        const auto x = nums(f.at(1)), mean = nums(f.at(2)), scale = nums(f.at(3)),
                   w = nums(f.at(4));
        check(pca_projection(x.data(), mean.data(), scale.data(), w.data(), x.size()), num(f.at(5)),
              line);
    } else {
        ++failures;
        std::cerr << "unknown case " << op << "\n";
    }
}

}  // namespace

int main(int argc, char** argv) {
    built_in();
    if (argc > 1) {
        std::ifstream in(argv[1]);
        if (!in) {
            std::cerr << "cannot open " << argv[1] << "\n";
            return 2;
        }
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty()) continue;
            run_case(split(line, '\t'), line);
        }
    }
    std::cout << checks << " checks, " << failures << " failures\n";
    return failures == 0 ? 0 : 1;
}
