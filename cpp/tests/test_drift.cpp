// Plain C++ test of cpp/include/mlwf/drift.hpp: the detectors work without Python.
// Build: cmake -S . -B build/cpp -DMLWF_BUILD_CPP=ON && cmake --build build/cpp
//        && ctest --test-dir build/cpp
#include "mlwf/drift.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const char *what) {
    if (!ok) {
        std::fprintf(stderr, "FAILED: %s\n", what);
        ++failures;
    }
}

std::vector<double> shifted_stream(std::uint64_t seed, std::size_t pre, std::size_t post,
                                   double shift) {
    std::mt19937_64 gen(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<double> x(pre + post);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = normal(gen) + (i >= pre ? shift : 0.0);
    return x;
}

template <class D>
std::vector<std::int64_t> one_by_one(D det, const std::vector<double> &x) {
    std::vector<std::int64_t> out;
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (det.update(x[i])) out.push_back(static_cast<std::int64_t>(i));
    }
    return out;
}

template <class D>
std::vector<std::int64_t> batched(D det, const std::vector<double> &x) {
    std::vector<std::int64_t> out;
    mlwf::update_many(det, x.data(), x.size(), out);
    return out;
}

// A copy taken mid-stream continues exactly like the original.
template <class D>
bool resumes(D det, const std::vector<double> &x, std::size_t cut) {
    std::vector<std::int64_t> a, b;
    mlwf::update_many(det, x.data(), cut, a);
    D copy = det;
    mlwf::update_many(det, x.data() + cut, x.size() - cut, a);
    mlwf::update_many(copy, x.data() + cut, x.size() - cut, b);
    return a.size() >= b.size() &&
           std::equal(b.begin(), b.end(), a.end() - static_cast<std::ptrdiff_t>(b.size()));
}

template <class D>
void contract(const D &proto, const std::vector<double> &x, const char *name) {
    const auto a = one_by_one(proto, x);
    const auto b = batched(proto, x);
    if (a != b) std::fprintf(stderr, "%s: update_many differs from update\n", name);
    check(a == b, "update_many == update");
    check(!a.empty(), "detects the change");
    check(resumes(proto, x, 3333), "a copy resumes exactly");
}

}  // namespace

int main() {
    const auto x = shifted_stream(1, 4000, 4000, 2.0);
    contract(mlwf::ADWIN(), x, "ADWIN");
    contract(mlwf::PageHinkley(), x, "PageHinkley");
    contract(mlwf::CUSUM(), x, "CUSUM");
    contract(mlwf::KSWIN(), x, "KSWIN");

    std::vector<double> errors(8000);
    std::mt19937_64 gen(2);
    std::uniform_real_distribution<double> unif(0.0, 1.0);
    for (std::size_t i = 0; i < errors.size(); ++i)
        errors[i] = unif(gen) < (i < 4000 ? 0.1 : 0.4) ? 1.0 : 0.0;
    contract(mlwf::DDM(), errors, "DDM");
    contract(mlwf::EDDM(), errors, "EDDM");

    // ADWIN: quiet on a constant stream, prompt on a large step
    std::vector<double> flat(20000, 1.0);
    check(batched(mlwf::ADWIN(), flat).empty(), "ADWIN quiet on constants");
    std::vector<double> step(2000, 0.0);
    for (std::size_t i = 1000; i < step.size(); ++i) step[i] = 5.0;
    const auto det = batched(mlwf::ADWIN(), step);
    check(!det.empty() && det[0] >= 1000 && det[0] < 1064, "ADWIN detects a step within 2 clocks");

    // exact two-sample KS tail: P(D >= 1) for n = 2 is 2 / C(4, 2)
    check(std::fabs(mlwf::ks_2samp_sf(2, 2) - 1.0 / 3.0) < 1e-15, "KS sf n=2");
    check(mlwf::ks_2samp_sf(30, 0) == 1.0 && mlwf::ks_2samp_sf(30, 31) == 0.0, "KS sf bounds");

    // calibration: a larger target gives a larger threshold
    const auto ref = shifted_stream(3, 3000, 0, 0.0);
    const auto lo = mlwf::calibrate_threshold(mlwf::CUSUM(), ref.data(), ref.size(), 500.0, 32,
                                              1000, 0);
    const auto hi = mlwf::calibrate_threshold(mlwf::CUSUM(), ref.data(), ref.size(), 5000.0, 32,
                                              10000, 0);
    check(std::isfinite(lo.threshold) && lo.threshold < hi.threshold, "calibration is monotone");

    if (failures == 0) std::printf("drift: all checks passed\n");
    return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
