// Evaluation metrics of mlwf: classification (ROC AUC, log loss, confusion-matrix scores)
// and regression (MSE, RMSE, MAE, R^2), with optional sample weights.
//
// Plain C++17, no Python headers. Every kernel takes raw contiguous float64 pointers
// (sample weights may be nullptr) and throws mlwf::MetricError with a message that names
// the offending array, row and value when the data cannot be scored.
// Results match scikit-learn (sklearn.metrics, zero_division=0, force_finite=True).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <atomic>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace mlwf {

// Raised when the data cannot be scored (NaN, bad class code, probability outside [0, 1],
// one class for ROC AUC...). Bindings map it to mlwf_core.exceptions.DataError.
class MetricError : public std::invalid_argument {
   public:
    using std::invalid_argument::invalid_argument;
};

enum class Average { Binary, Macro, Weighted };

// Largest class code accepted when the number of classes is inferred from the labels.
inline constexpr int kMaxClasses = 1 << 16;

namespace detail {

// Most threads a metric kernel may use (1 or 2); callers honouring a user's n_jobs
// lower it (mlwf_core.metrics.set_max_threads). Relaxed atomics: it is a hint read once
// per call, never a synchronisation point.
inline std::atomic<int> &thread_limit() {
    static std::atomic<int> limit{2};
    return limit;
}
inline bool may_parallel() { return thread_limit().load(std::memory_order_relaxed) > 1; }


inline std::string format_value(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

[[noreturn]] inline void fail_nan(const char *what, std::size_t row) {
    throw MetricError(std::string(what) + " contains NaN (first at row " + std::to_string(row) +
                      "); remove those rows or fix the " +
                      (std::strcmp(what, "y_pred") == 0 ? "model output" : "input") +
                      " before scoring.");
}

[[noreturn]] inline void fail_class(const char *what, std::size_t row, double v, int n_classes) {
    if (std::isnan(v)) fail_nan(what, row);
    std::string range = n_classes > 0 ? "0.." + std::to_string(n_classes - 1)
                                      : "0.." + std::to_string(kMaxClasses - 1);
    throw MetricError(std::string(what) + " must hold integer class codes " + range + "; got " +
                      format_value(v) + " at row " + std::to_string(row) +
                      ". Encode the classes as 0..K-1 first.");
}

[[noreturn]] inline void fail_proba(std::size_t row, double v) {
    if (std::isnan(v)) fail_nan("y_pred", row);
    throw MetricError("y_pred must hold probabilities in [0, 1]; got " + format_value(v) +
                      " at row " + std::to_string(row) +
                      ". Pass predict_proba output, not raw scores or labels.");
}

// First NaN in x, or n when there is none.
inline std::size_t find_nan(const double *x, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (std::isnan(x[i])) return i;
    return n;
}

// Called only once a result came out NaN: find which input holds the NaN and say so.
inline void raise_if_nan(const double *y, const double *p, std::size_t np, const double *w,
                         std::size_t n) {
    std::size_t i = find_nan(y, n);
    if (i < n) fail_nan("y_true", i);
    i = find_nan(p, np);
    if (i < np) fail_nan("y_pred", i);
    if (w != nullptr) {
        i = find_nan(w, n);
        if (i < n) fail_nan("sample_weight", i);
    }
}

// Class code of v when it is an integer in [0, n_classes), else throws. The range test
// comes first because casting NaN or a huge double to int is undefined behaviour.
inline int class_code(double v, int n_classes, const char *what, std::size_t row) {
    if (!(v >= 0.0 && v < static_cast<double>(n_classes))) fail_class(what, row, v, n_classes);
    const int c = static_cast<int>(v);
    if (static_cast<double>(c) != v) fail_class(what, row, v, n_classes);
    return c;
}

// Blocked sum with four independent accumulators: faster than one chain and keeps the
// rounding error near that of NumPy's pairwise summation.
template <class F>
inline double block_sum(std::size_t n, F f) {
    constexpr std::size_t kBlock = 4096;
    double total = 0.0;
    for (std::size_t start = 0; start < n; start += kBlock) {
        const std::size_t end = std::min(n, start + kBlock);
        double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
        std::size_t i = start;
        for (; i + 4 <= end; i += 4) {
            a0 += f(i);
            a1 += f(i + 1);
            a2 += f(i + 2);
            a3 += f(i + 3);
        }
        for (; i < end; ++i) a0 += f(i);
        total += (a0 + a1) + (a2 + a3);
    }
    return total;
}

// Sample weights must be finite, non-negative and not all zero. Called once the sums of a
// kernel's pass look wrong (or by validate_weights): finds the culprit and says so.
[[noreturn]] inline void weights_failed(const double *w, std::size_t n) {
    bool positive = false;
    for (std::size_t i = 0; i < n; ++i) {
        if (!(w[i] >= 0.0) || std::isinf(w[i])) {
            if (std::isnan(w[i])) fail_nan("sample_weight", i);
            throw MetricError("sample_weight must hold finite, non-negative numbers; got " +
                              format_value(w[i]) + " at row " + std::to_string(i) + ".");
        }
        positive |= w[i] > 0.0;
    }
    if (positive)
        throw MetricError("sample_weight sums to more than the largest double; rescale it.");
    throw MetricError("sample_weight sums to zero; at least one row needs a positive weight.");
}

// Vectorised row sums. Kernels are written once as a generic lambda f(lanes, i, acc) that
// loads with load(lanes, ptr + i) and adds into acc[0..N): called with Lanes2 it handles
// rows i, i+1 as a GCC/Clang vector (SSE2 on any x86-64, NEON on ARM; the compiler does not
// vectorise floating-point sums by itself), with Lanes1 a single row as plain doubles.
// Sums run in blocks of 4096 rows over 8 partial sums, so rounding stays near NumPy's
// pairwise summation.
struct Lanes1 {};
inline double load(Lanes1, const double *p) { return *p; }
inline double indicator(bool c) { return c ? 1.0 : 0.0; }
inline double abs_value(double x) { return std::fabs(x); }

#if defined(__GNUC__) || defined(__clang__)
#define MLWF_METRICS_VECTOR 1
using V2 = double __attribute__((vector_size(16)));
using V2Mask = decltype(V2{} < V2{});  // the type vector comparisons give
struct Lanes2 {};
inline V2 load(Lanes2, const double *p) {
    V2 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline V2 indicator(V2Mask m) {
    const V2 one = {1.0, 1.0};
    V2Mask bits;
    std::memcpy(&bits, &one, sizeof bits);
    const V2Mask r = m & bits;
    V2 out;
    std::memcpy(&out, &r, sizeof out);
    return out;
}
inline V2 abs_value(V2 x) {
    V2Mask bits;
    std::memcpy(&bits, &x, sizeof bits);
    bits &= V2Mask{0x7FFFFFFFFFFFFFFF, 0x7FFFFFFFFFFFFFFF};
    V2 out;
    std::memcpy(&out, &bits, sizeof out);
    return out;
}
#endif

template <int N, class F>
inline std::array<double, N> row_sums(std::size_t n, F f) {
    constexpr std::size_t kBlock = 4096;
    // Independent partial sums hide the add latency; with several sums at once fewer sets
    // suffice, and more would spill the 16 vector registers of x86-64.
    constexpr int kSets = N == 1 ? 4 : 2;
    constexpr std::size_t kStep = 2 * kSets;
    std::array<double, N> total{};
    for (std::size_t start = 0; start < n; start += kBlock) {
        const std::size_t end = std::min(n, start + kBlock);
        double part[N] = {};
        std::size_t i = start;
#ifdef MLWF_METRICS_VECTOR
        V2 acc[kSets][N] = {};
        for (; i + kStep <= end; i += kStep)
            for (int set = 0; set < kSets; ++set) f(Lanes2{}, i + 2 * set, acc[set]);
        for (int k = 0; k < N; ++k) {
            V2 v = acc[0][k];
            for (int set = 1; set < kSets; ++set) v += acc[set][k];
            part[k] = v[0] + v[1];
        }
#endif
        for (; i < end; ++i) f(Lanes1{}, i, part);
        for (int k = 0; k < N; ++k) total[k] += part[k];
    }
    return total;
}

// Runs f(begin, end, part) over [0, n): on two threads as halves [0, mid) and [mid, n)
// when `parallel`, else once as part 0. An exception on the helper thread is rethrown here.
template <class F>
void run_halves(std::size_t n, std::size_t mid, bool parallel, F f) {
    if (!parallel) {
        f(std::size_t{0}, n, 0);
        return;
    }
    std::exception_ptr error;
    std::thread helper([&] {
        try {
            f(mid, n, 1);
        } catch (...) {
            error = std::current_exception();
        }
    });
    try {
        f(std::size_t{0}, mid, 0);
    } catch (...) {
        helper.join();
        throw;
    }
    helper.join();
    if (error) std::rethrow_exception(error);
}

// Reductions over more rows than this use two threads: past the caches one core cannot
// draw all the memory bandwidth, and the work dwarfs a thread start.
constexpr std::size_t kParallelSumRows = std::size_t{1} << 21;

// row_sums, on two threads for large n (halves split at a block boundary).
template <int N, class F>
inline std::array<double, N> row_sums_mt(std::size_t n, F f) {
    if (n < kParallelSumRows || !may_parallel()) return row_sums<N>(n, f);
    const std::size_t mid = n / 2 / 4096 * 4096;
    std::array<double, N> part[2];
    run_halves(n, mid, true, [&](std::size_t begin, std::size_t end, int k) {
        part[k] = row_sums<N>(end - begin, [&](auto lanes, std::size_t i, auto *acc) {
            f(lanes, begin + i, acc);
        });
    });
    std::array<double, N> total;
    for (int k = 0; k < N; ++k) total[k] = part[0][k] + part[1][k];
    return total;
}

// Total of the weights, in one pass that throws unless they are finite, non-negative and
// not all zero.
inline double weight_total(const double *w, std::size_t n) {
    const auto s = row_sums_mt<2>(n, [&](auto lanes, std::size_t i, auto *acc) {
        const auto wi = load(lanes, w + i);
        acc[0] += wi;
        acc[1] += indicator(wi < 0.0);
    });
    if (!(s[0] > 0.0) || std::isinf(s[0]) || s[1] > 0.0) weights_failed(w, n);
    return s[0];
}

inline void validate_weights(const double *w, std::size_t n) {
    if (w != nullptr) weight_total(w, n);
}

// Mean of e(lanes, i) (a per-row error), weighted when w is given; one pass that also
// checks the weights.
template <class E>
inline double mean_error(const double *y, const double *p, const double *w, std::size_t n,
                         E e) {
    double r;
    if (w == nullptr) {
        r = row_sums_mt<1>(n, [&](auto lanes, std::size_t i, auto *acc) {
                acc[0] += e(lanes, i);
            })[0] /
            static_cast<double>(n);
    } else {
        const auto s = row_sums_mt<3>(n, [&](auto lanes, std::size_t i, auto *acc) {
            const auto wi = load(lanes, w + i);
            acc[0] += wi * e(lanes, i);
            acc[1] += wi;
            acc[2] += indicator(wi < 0.0);
        });
        if (!(s[1] > 0.0) || std::isinf(s[1]) || s[2] > 0.0) weights_failed(w, n);
        r = s[0] / s[1];
    }
    if (std::isnan(r)) raise_if_nan(y, p, n, w, n);
    return r;
}

// Weighted mean of g(i): sum w_i g(i) / sum w_i (plain mean without weights), for kernels
// whose per-row work (a logarithm, a class check) does not vectorise.
template <class G>
inline double weighted_mean(const double *w, std::size_t n, G g) {
    // Two threads on large inputs; a failing row on either is reported, the first half's
    // first (run_halves rethrows the calling thread's exception before the helper's).
    auto sum = [n](auto f) {
        if (n < kParallelSumRows || !may_parallel()) return block_sum(n, f);
        double part[2];
        run_halves(n, n / 2 / 4096 * 4096, true, [&](std::size_t begin, std::size_t end, int k) {
            part[k] = block_sum(end - begin, [&](std::size_t i) { return f(begin + i); });
        });
        return part[0] + part[1];
    };
    if (w == nullptr) return sum(g) / static_cast<double>(n);
    const double den = weight_total(w, n);
    return sum([&](std::size_t i) { return w[i] * g(i); }) / den;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------
// Regression
// ---------------------------------------------------------------------------------------

inline double mse(const double *y, const double *p, const double *w, std::size_t n) {
    return detail::mean_error(y, p, w, n, [&](auto lanes, std::size_t i) {
        const auto d = detail::load(lanes, y + i) - detail::load(lanes, p + i);
        return d * d;
    });
}

inline double rmse(const double *y, const double *p, const double *w, std::size_t n) {
    return std::sqrt(mse(y, p, w, n));
}

inline double mae(const double *y, const double *p, const double *w, std::size_t n) {
    return detail::mean_error(y, p, w, n, [&](auto lanes, std::size_t i) {
        return detail::abs_value(detail::load(lanes, y + i) - detail::load(lanes, p + i));
    });
}

namespace detail {

// Running state of R^2 over a range of rows: weights seen (NaN/inf show here), merged
// weight, weighted mean and sum of squared deviations of y, residual sum of squares.
struct R2Part {
    double w_seen = 0.0, total_w = 0.0, mean = 0.0, m2 = 0.0, ss_res = 0.0, n_negative = 0.0;

    // Chan et al.'s merge of two (weight, mean, M2) summaries.
    void merge(double bw, double bmean, double bm2) {
        if (!(bw > 0.0)) return;
        if (total_w == 0.0) {
            total_w = bw;
            mean = bmean;
            m2 = bm2;
            return;
        }
        const double delta = bmean - mean;
        const double new_w = total_w + bw;
        mean += delta * (bw / new_w);
        m2 += bm2 + delta * delta * (total_w * bw / new_w);
        total_w = new_w;
    }
};

// Per cache-sized block a two-pass weighted mean and sum of squares (the second pass reads
// from L1), merged block by block: one read of memory, the accuracy of a two-pass formula.
inline R2Part r2_range(const double *y, const double *p, const double *w, std::size_t n) {
    constexpr std::size_t kBlock = 4096;
    R2Part r;
    for (std::size_t start = 0; start < n; start += kBlock) {
        const std::size_t m = std::min(n - start, kBlock);
        const double *yb = y + start, *pb = p + start;
        const double *wb = w == nullptr ? nullptr : w + start;
        double bw, bwy, bm2;
        if (wb == nullptr) {
            const auto s = row_sums<2>(m, [&](auto lanes, std::size_t i, auto *acc) {
                const auto yi = load(lanes, yb + i);
                const auto d = yi - load(lanes, pb + i);
                acc[0] += yi;
                acc[1] += d * d;
            });
            bw = static_cast<double>(m);
            bwy = s[0];
            r.ss_res += s[1];
            const double bmean = bwy / bw;
            bm2 = row_sums<1>(m, [&](auto lanes, std::size_t i, auto *acc) {
                const auto d = load(lanes, yb + i) - bmean;
                acc[0] += d * d;
            })[0];
        } else {
            const auto s = row_sums<4>(m, [&](auto lanes, std::size_t i, auto *acc) {
                const auto yi = load(lanes, yb + i);
                const auto wi = load(lanes, wb + i);
                const auto d = yi - load(lanes, pb + i);
                acc[0] += wi;
                acc[1] += wi * yi;
                acc[2] += wi * (d * d);
                acc[3] += indicator(wi < 0.0);
            });
            bw = s[0];
            bwy = s[1];
            r.ss_res += s[2];
            r.n_negative += s[3];
            const double bmean = bw > 0.0 ? bwy / bw : 0.0;
            bm2 = row_sums<1>(m, [&](auto lanes, std::size_t i, auto *acc) {
                const auto d = load(lanes, yb + i) - bmean;
                acc[0] += load(lanes, wb + i) * (d * d);
            })[0];
        }
        r.w_seen += bw;
        if (bw > 0.0) r.merge(bw, bwy / bw, bm2);
    }
    return r;
}

}  // namespace detail

// Coefficient of determination, with the total sum of squares as accurate as
// scikit-learn's two-pass formula in one read of memory (detail::r2_range; two threads
// on large inputs). Constant y_true gives 1.0 for a perfect prediction and 0.0 otherwise
// (scikit-learn's force_finite=True).
inline double r2(const double *y, const double *p, const double *w, std::size_t n) {
    detail::R2Part r;
    if (n < detail::kParallelSumRows || !detail::may_parallel()) {
        r = detail::r2_range(y, p, w, n);
    } else {
        const std::size_t mid = n / 2 / 4096 * 4096;
        detail::R2Part part[2];
        detail::run_halves(n, mid, true, [&](std::size_t begin, std::size_t end, int k) {
            part[k] = detail::r2_range(y + begin, p + begin, w == nullptr ? nullptr : w + begin,
                                       end - begin);
        });
        r = part[0];
        r.merge(part[1].total_w, part[1].mean, part[1].m2);
        r.w_seen += part[1].w_seen;
        r.ss_res += part[1].ss_res;
        r.n_negative += part[1].n_negative;
    }
    if (w != nullptr && (!(r.w_seen > 0.0) || std::isinf(r.w_seen) || r.n_negative > 0.0))
        detail::weights_failed(w, n);
    if (std::isnan(r.ss_res) || std::isnan(r.m2)) detail::raise_if_nan(y, p, n, w, n);
    // A constant y_true leaves only rounding in m2 (its block means need not be exactly
    // y[0]); check exactly, but only when m2 is that small.
    double m2 = r.m2;
    if (m2 <= 1e-24 * r.total_w * (r.mean * r.mean + 1e-300)) {
        bool constant = true;
        for (std::size_t i = 1; i < n && constant; ++i) constant = y[i] == y[0];
        if (constant) m2 = 0.0;
    }
    if (m2 == 0.0) return r.ss_res == 0.0 ? 1.0 : 0.0;
    return 1.0 - r.ss_res / m2;
}

// ---------------------------------------------------------------------------------------
// Log loss (scikit-learn 1.9: probabilities clipped to [eps, 1 - eps], eps = DBL_EPSILON)
// ---------------------------------------------------------------------------------------

// Binary: p = P(class 1); y holds codes 0 / 1.
inline double log_loss_binary(const double *y, const double *p, const double *w,
                              std::size_t n, double eps) {
    const double lo = eps, hi = 1.0 - eps;
    auto row_loss = [&](std::size_t i) {
        const int c = detail::class_code(y[i], 2, "y_true", i);
        const double q = p[i];
        if (!(q >= 0.0 && q <= 1.0)) detail::fail_proba(i, q);
        // scikit-learn forms 1 - p before clipping; doing the same keeps 1e-16 agreement.
        const double t = c == 1 ? q : 1.0 - q;
        return -std::log(std::min(std::max(t, lo), hi));
    };
    const double r = detail::weighted_mean(w, n, row_loss);
    if (std::isnan(r)) detail::raise_if_nan(y, p, n, w, n);
    return r;
}

// Multiclass: P is n x K row-major; y holds codes 0..K-1.
inline double log_loss_multiclass(const double *y, const double *P, const double *w,
                                  std::size_t n, int n_classes, double eps) {
    const double lo = eps, hi = 1.0 - eps;
    const std::size_t k = static_cast<std::size_t>(n_classes);
    auto row_loss = [&](std::size_t i) {
        const int c = detail::class_code(y[i], n_classes, "y_true", i);
        const double *row = P + i * k;
        for (std::size_t j = 0; j < k; ++j)
            if (!(row[j] >= 0.0 && row[j] <= 1.0)) detail::fail_proba(i, row[j]);
        return -std::log(std::min(std::max(row[c], lo), hi));
    };
    const double r = detail::weighted_mean(w, n, row_loss);
    if (std::isnan(r)) detail::raise_if_nan(y, P, n * k, w, n);
    return r;
}

// ---------------------------------------------------------------------------------------
// Confusion matrix and the label metrics derived from it
// ---------------------------------------------------------------------------------------

struct Confusion {
    int n_classes = 0;
    std::vector<double> matrix;         // n_classes x n_classes, row = true, column = predicted
    std::vector<std::uint8_t> present;  // class seen in y_true or y_pred (scikit-learn's labels)

    void resize(int k) {
        if (k <= n_classes) return;
        std::vector<double> m(static_cast<std::size_t>(k) * k, 0.0);
        for (int a = 0; a < n_classes; ++a)
            for (int b = 0; b < n_classes; ++b)
                m[static_cast<std::size_t>(a) * k + b] =
                    matrix[static_cast<std::size_t>(a) * n_classes + b];
        matrix.swap(m);
        present.resize(static_cast<std::size_t>(k), 0);
        n_classes = k;
    }
    void add(int t, int p, double wt) {
        matrix[static_cast<std::size_t>(t) * n_classes + p] += wt;
        present[t] = 1;
        present[p] = 1;
    }
};

// From label arrays; the number of classes is 1 + the largest code seen.
inline Confusion confusion_from_labels(const double *y, const double *yhat, const double *w,
                                       std::size_t n) {
    detail::validate_weights(w, n);
    Confusion c;
    c.resize(2);
    for (std::size_t i = 0; i < n; ++i) {
        const int t = detail::class_code(y[i], kMaxClasses, "y_true", i);
        const int p = detail::class_code(yhat[i], kMaxClasses, "y_pred", i);
        if (t >= c.n_classes || p >= c.n_classes) c.resize(std::max(t, p) + 1);
        c.add(t, p, w == nullptr ? 1.0 : w[i]);
    }
    return c;
}

// From probabilities: n_classes == 1 means P holds P(class 1) of a binary task and the
// predicted label is p > 0.5 (what predict() does: ties go to class 0); otherwise P is
// n x n_classes and the predicted label is the first argmax of each row.
inline Confusion confusion_from_proba(const double *y, const double *P, const double *w,
                                      std::size_t n, int n_classes) {
    detail::validate_weights(w, n);
    Confusion c;
    if (n_classes == 1) {
        c.resize(2);
        double m[4] = {0.0, 0.0, 0.0, 0.0};
        bool seen[2] = {false, false}, seen_pred[2] = {false, false};
        for (std::size_t i = 0; i < n; ++i) {
            const int t = detail::class_code(y[i], 2, "y_true", i);
            const double q = P[i];
            if (std::isnan(q)) detail::fail_nan("y_pred", i);
            const int p = q > 0.5 ? 1 : 0;
            m[2 * t + p] += w == nullptr ? 1.0 : w[i];
            seen[t] = true;
            seen_pred[p] = true;
        }
        for (int k = 0; k < 4; ++k) c.matrix[k] = m[k];
        for (int k = 0; k < 2; ++k) c.present[k] = seen[k] || seen_pred[k];
    } else {
        c.resize(n_classes);
        const std::size_t k = static_cast<std::size_t>(n_classes);
        for (std::size_t i = 0; i < n; ++i) {
            const int t = detail::class_code(y[i], n_classes, "y_true", i);
            const double *row = P + i * k;
            std::size_t best = 0;
            double best_v = row[0];
            if (std::isnan(best_v)) detail::fail_nan("y_pred", i);
            for (std::size_t j = 1; j < k; ++j) {
                if (std::isnan(row[j])) detail::fail_nan("y_pred", i);
                const bool higher = row[j] > best_v;  // strict: ties keep the first class
                best = higher ? j : best;
                best_v = higher ? row[j] : best_v;
            }
            c.add(t, static_cast<int>(best), w == nullptr ? 1.0 : w[i]);
        }
    }
    return c;
}

struct PrecisionRecallF1 {
    double precision = 0.0, recall = 0.0, f1 = 0.0;
};

// Precision, recall and F1 as scikit-learn's precision_recall_fscore_support with
// zero_division=0: Binary scores class 1; Macro averages the classes present in y_true or
// y_pred; Weighted weighs them by their (weighted) support.
inline PrecisionRecallF1 precision_recall_f1(const Confusion &c, Average average) {
    const int k = c.n_classes;
    auto at = [&](int a, int b) { return c.matrix[static_cast<std::size_t>(a) * k + b]; };
    auto div = [](double num, double den) { return den == 0.0 ? 0.0 : num / den; };
    auto scores = [&](int cls, double &true_sum) {
        double pred_sum = 0.0;
        true_sum = 0.0;
        for (int j = 0; j < k; ++j) {
            pred_sum += at(j, cls);
            true_sum += at(cls, j);
        }
        const double tp = at(cls, cls);
        return PrecisionRecallF1{div(tp, pred_sum), div(tp, true_sum),
                                 div(2.0 * tp, true_sum + pred_sum)};
    };
    if (average == Average::Binary) {
        if (k > 2) {
            for (int cls = 2; cls < k; ++cls)
                if (c.present[cls])
                    throw MetricError(
                        "average='binary' needs class codes 0 and 1 only; found class " +
                        std::to_string(cls) + ". Use average='macro' or 'weighted'.");
        }
        double true_sum = 0.0;
        return scores(1, true_sum);
    }
    PrecisionRecallF1 out;
    double total = 0.0;
    int n_present = 0;
    for (int cls = 0; cls < k; ++cls) {
        if (!c.present[cls]) continue;
        double true_sum = 0.0;
        const PrecisionRecallF1 s = scores(cls, true_sum);
        const double weight = average == Average::Macro ? 1.0 : true_sum;
        out.precision += weight * s.precision;
        out.recall += weight * s.recall;
        out.f1 += weight * s.f1;
        total += weight;
        ++n_present;
    }
    if (n_present == 0 || total == 0.0) return PrecisionRecallF1{};
    out.precision /= total;
    out.recall /= total;
    out.f1 /= total;
    return out;
}

// Share of rows (by weight) whose predicted label equals the true one.
inline double accuracy_from_labels(const double *y, const double *yhat, const double *w,
                                   std::size_t n) {
    using detail::indicator;
    using detail::load;
    double r, nan_probe;
    if (w == nullptr) {
        const auto s = detail::row_sums_mt<2>(n, [&](auto lanes, std::size_t i, auto *acc) {
            const auto a = load(lanes, y + i), b = load(lanes, yhat + i);
            acc[0] += indicator(a == b);
            acc[1] += (a - b) * 0.0;  // NaN when a label is NaN (or both infinite)
        });
        r = s[0] / static_cast<double>(n);
        nan_probe = s[1];
    } else {
        const auto s = detail::row_sums_mt<4>(n, [&](auto lanes, std::size_t i, auto *acc) {
            const auto a = load(lanes, y + i), b = load(lanes, yhat + i);
            const auto wi = load(lanes, w + i);
            acc[0] += wi * indicator(a == b);
            acc[1] += (a - b) * 0.0;
            acc[2] += wi;
            acc[3] += indicator(wi < 0.0);
        });
        if (!(s[2] > 0.0) || std::isinf(s[2]) || s[3] > 0.0) detail::weights_failed(w, n);
        r = s[0] / s[2];
        nan_probe = s[1];
    }
    if (std::isnan(nan_probe) || std::isnan(r)) detail::raise_if_nan(y, yhat, n, w, n);
    return r;
}

// Accuracy of probabilities (same conventions as confusion_from_proba).
inline double accuracy_from_proba(const double *y, const double *P, const double *w,
                                  std::size_t n, int n_classes) {
    if (n_classes == 1) {
        const double r = detail::weighted_mean(w, n, [&](std::size_t i) {
            const int t = detail::class_code(y[i], 2, "y_true", i);
            const double q = P[i];
            if (std::isnan(q)) detail::fail_nan("y_pred", i);
            return static_cast<double>((q > 0.5) == (t == 1));
        });
        if (std::isnan(r)) detail::raise_if_nan(y, P, n, w, n);
        return r;
    }
    const Confusion c = confusion_from_proba(y, P, w, n, n_classes);
    double diag = 0.0, total = 0.0;
    for (int a = 0; a < c.n_classes; ++a)
        for (int b = 0; b < c.n_classes; ++b) {
            const double v = c.matrix[static_cast<std::size_t>(a) * c.n_classes + b];
            total += v;
            if (a == b) diag += v;
        }
    return diag / total;
}

// ---------------------------------------------------------------------------------------
// ROC AUC
// ---------------------------------------------------------------------------------------
//
// AUC is the Mann-Whitney statistic: the (weighted) share of positive/negative pairs the
// scores order correctly, ties counting one half; this equals the trapezoidal area under
// scikit-learn's ROC curve. The scores become order-preserving integers shifted to start at
// zero, with the label in the lowest bit; a radix sort (one most-significant-digit pass,
// then least-significant-digit passes inside cache-sized buckets, on two threads) orders
// them, and one branchless scan counts the pairs.

namespace detail {

inline void check_codes(const double *y, std::size_t n, int n_classes) {
    if (n_classes == 2) {
        // The common binary case: two predictable comparisons per row.
        bool ok = true;
        for (std::size_t i = 0; i < n; ++i) ok &= (y[i] == 0.0) | (y[i] == 1.0);
        if (ok) return;
    }
    for (std::size_t i = 0; i < n; ++i) class_code(y[i], n_classes, "y_true", i);
}

// Order-preserving map double -> uint64 (-0.0 and 0.0 map to the same key).
inline std::uint64_t order_key(double x) {
    if (x == 0.0) x = 0.0;
    std::uint64_t u;
    std::memcpy(&u, &x, sizeof u);
    return (u >> 63) != 0 ? ~u : (u | (std::uint64_t{1} << 63));
}

inline int bit_width(std::uint64_t x) {
    int b = 0;
    while (x != 0) {
        x >>= 1;
        ++b;
    }
    return b;
}

// Sort items. LabelledKey packs (score key - min) << 1 | is_positive, so negatives sort
// before positives of equal score. LabelledWeight adds the sample weight. SignedWeight is
// the fallback for scores whose keys span all 64 bits (no bit left for the label): the
// label is the sign bit of the weight (negatives carry -w).
struct LabelledKey {
    std::uint64_t key;
};
struct LabelledWeight {
    std::uint64_t key;
    double weight;
};
struct SignedWeight {
    std::uint64_t key;
    double weight;
};

inline std::uint64_t key_of(const LabelledKey &a) { return a.key; }
inline std::uint64_t key_of(const LabelledWeight &a) { return a.key; }
inline std::uint64_t key_of(const SignedWeight &a) { return a.key; }
inline std::uint64_t group_of(const LabelledKey &a) { return a.key >> 1; }
inline std::uint64_t group_of(const LabelledWeight &a) { return a.key >> 1; }
inline std::uint64_t group_of(const SignedWeight &a) { return a.key; }
inline bool positive_of(const LabelledKey &a) { return (a.key & 1) != 0; }
inline bool positive_of(const LabelledWeight &a) { return (a.key & 1) != 0; }
inline bool positive_of(const SignedWeight &a) { return !std::signbit(a.weight); }
inline std::uint64_t weight_of(const LabelledKey &) { return 1; }
inline double weight_of(const LabelledWeight &a) { return a.weight; }
inline double weight_of(const SignedWeight &a) { return std::fabs(a.weight); }

// Scratch memory for the sort. Large blocks are 2 MiB aligned and asked for transparent
// huge pages: a radix pass writes to hundreds of places at once, which thrashes a 4 KiB TLB.
template <class T>
class ScratchArray {
   public:
    explicit ScratchArray(std::size_t n) {
        constexpr std::size_t kHuge = std::size_t{1} << 21;
        std::size_t bytes = std::max<std::size_t>(n, 1) * sizeof(T);
        if (bytes >= kHuge) {
            bytes = (bytes + kHuge - 1) / kHuge * kHuge;
            data_ = static_cast<T *>(std::aligned_alloc(kHuge, bytes));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
            if (data_ != nullptr) madvise(data_, bytes, MADV_HUGEPAGE);
#endif
        } else {
            data_ = static_cast<T *>(std::malloc(bytes));
        }
        if (data_ == nullptr) throw std::bad_alloc();
    }
    ~ScratchArray() { std::free(data_); }
    ScratchArray(const ScratchArray &) = delete;
    ScratchArray &operator=(const ScratchArray &) = delete;
    T *get() const { return data_; }

   private:
    T *data_ = nullptr;
};

constexpr std::size_t kCacheBytes = std::size_t{1} << 20;  // items + scratch that fit in L2
constexpr int kPrefixBits = 16;

inline std::uint64_t low_mask(int bits) {
    return bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
}

// LSD radix sort of a[0..n), keys in [base, base + 2^bits), in digits of D bits; returns
// a or tmp, whichever holds the result. Digits equal for every item are skipped.
template <int D, class T>
T *lsd_sort(T *a, T *tmp, std::size_t n, std::uint64_t base, int bits) {
    constexpr std::size_t kB = std::size_t{1} << D;
    const int passes = (bits + D - 1) / D;
    std::uint32_t hist[(64 + D - 1) / D][kB];
    std::memset(hist, 0, sizeof(std::uint32_t) * kB * static_cast<std::size_t>(passes));
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t k = key_of(a[i]) - base;
        for (int p = 0; p < passes; ++p) ++hist[p][(k >> (p * D)) & (kB - 1)];
    }
    for (int p = 0; p < passes; ++p) {
        std::uint32_t *h = hist[p];
        const int shift = p * D;
        if (h[((key_of(a[0]) - base) >> shift) & (kB - 1)] == n) continue;
        std::uint32_t offset = 0;
        for (std::size_t b = 0; b < kB; ++b) {
            const std::uint32_t c = h[b];
            h[b] = offset;
            offset += c;
        }
        for (std::size_t i = 0; i < n; ++i)
            tmp[h[((key_of(a[i]) - base) >> shift) & (kB - 1)]++] = a[i];
        std::swap(a, tmp);
    }
    return a;
}

// Sorts a cache-sized range whose keys lie in [base, base + 2^bits).
template <class T>
T *sort_small(T *a, T *tmp, std::size_t n, std::uint64_t base, int bits) {
    if (n < 256) {
        std::sort(a, a + n, [](const T &x, const T &y) { return key_of(x) < key_of(y); });
        return a;
    }
    // Wider digits mean fewer passes (4 instead of 6 for 48 bits); their 4096-entry
    // histograms pay off on ranges of some size only.
    if (n >= 8192) return lsd_sort<12>(a, tmp, n, base, bits);
    return lsd_sort<8>(a, tmp, n, base, bits);
}

// Sorts a[0..n) by key with tmp[0..n) as scratch; the keys differ only in their low `bits`
// bits. Returns a or tmp, whichever holds the result. Large inputs get one MSD pass: a
// histogram of the top 16 bits groups consecutive prefixes into buckets of about a cache's
// worth of items, however skewed the scores, and each bucket is then sorted in cache.
// With `parallel`, two threads share the histogram, the scatter and the buckets.
template <class T>
T *radix_sort(T *a, T *tmp, std::size_t n, int bits, bool parallel = false) {
    if (n < 2 || bits == 0) return a;
    const std::uint64_t common = key_of(a[0]) & ~low_mask(bits);
    const std::size_t target = kCacheBytes / (2 * sizeof(T));
    if (n <= target || bits <= 2 * kPrefixBits || n >= (std::size_t{1} << 32))
        return sort_small(a, tmp, n, common, bits);
    // About 16 items per prefix, at most 2^16 prefixes: the histogram stays cheap to clear
    // and to walk for mid-sized inputs.
    const int prefix_bits = std::min(kPrefixBits, std::max(8, bit_width(n >> 4)));
    const int shift = bits - prefix_bits;
    const std::size_t n_prefixes = std::size_t{1} << prefix_bits;
    const std::uint64_t prefix_mask = n_prefixes - 1;
    auto prefix = [shift, prefix_mask](const T &x) { return (key_of(x) >> shift) & prefix_mask; };
    const std::size_t mid = n / 2;
    std::vector<std::uint32_t> count(2 * n_prefixes, 0);  // per half
    run_halves(n, mid, parallel, [&](std::size_t begin, std::size_t end, int part) {
        std::uint32_t *c = count.data() + part * n_prefixes;
        for (std::size_t i = begin; i < end; ++i) ++c[prefix(a[i])];
    });
    // bucket_of[prefix]; buckets[b] = (first prefix, first item); sentinel at the end.
    std::vector<std::uint16_t> bucket_of(n_prefixes);
    std::vector<std::pair<std::size_t, std::size_t>> buckets;
    std::vector<std::size_t> next0, next1;  // scatter cursors of each half
    std::size_t filled = 0, in_bucket = 0;
    for (std::size_t p = 0; p < n_prefixes; ++p) {
        const std::size_t c0 = count[p], c = c0 + count[n_prefixes + p];
        if (buckets.empty() || (in_bucket > 0 && in_bucket + c > target)) {
            buckets.emplace_back(p, filled);
            next0.push_back(filled);
            next1.push_back(filled);
            in_bucket = 0;
        }
        bucket_of[p] = static_cast<std::uint16_t>(buckets.size() - 1);
        next1.back() += c0;  // the second half writes after the first half's items
        in_bucket += c;
        filled += c;
    }
    buckets.emplace_back(n_prefixes, n);
    run_halves(n, mid, parallel, [&](std::size_t begin, std::size_t end, int part) {
        std::size_t *next = part == 0 ? next0.data() : next1.data();
        for (std::size_t i = begin; i < end; ++i) tmp[next[bucket_of[prefix(a[i])]]++] = a[i];
    });
    // Buckets are sorted in place (results copied back into tmp), the two threads taking
    // the buckets below and above the median item.
    const std::size_t n_buckets = buckets.size() - 1;
    std::size_t split = 0;
    while (split < n_buckets && buckets[split].second < mid) ++split;
    run_halves(n_buckets, split, parallel, [&](std::size_t first, std::size_t last, int) {
        for (std::size_t b = first; b < last; ++b) {
            const std::size_t lo = buckets[b].second, m = buckets[b + 1].second - lo;
            const std::size_t p0 = buckets[b].first, p1 = buckets[b + 1].first;
            T *r;
            if (m > target && p1 - p0 == 1) {
                // One prefix alone holds more than a cache's worth: split it again.
                r = radix_sort(tmp + lo, a + lo, m, shift);
            } else {
                const std::uint64_t base = common | (static_cast<std::uint64_t>(p0) << shift);
                const int width = bit_width((static_cast<std::uint64_t>(p1 - p0) << shift) - 1);
                r = sort_small(tmp + lo, a + lo, m, base, width);
            }
            if (r != tmp + lo) std::copy(r, r + m, tmp + lo);
        }
    });
    return tmp;
}

struct PairCount {
    double u;      // weight of correctly ordered positive/negative pairs, ties one half
    double w_pos;  // total positive weight
    double w_neg;  // total negative weight
};

// Mann-Whitney sum over sorted items: each positive counts the negative weight strictly
// below its score plus half of the negative weight tied with it. Branchless: labels follow
// no pattern, so every row does the same arithmetic with 0/1 factors instead of jumps the
// CPU would mispredict half of the time. Acc is an integer without weights (exact) and
// double with them (a finite value times 0 or 1 is exact, so the selects are too).
template <class Acc, class T>
PairCount mann_whitney(const T *a, std::size_t n) {
    Acc cum_neg = 0, cum_pos = 0, group_start = 0, u_below = 0, pos_group = 0, neg_group = 0,
        u_tied = 0;
    std::uint64_t prev = group_of(a[0]);
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t g = group_of(a[i]);
        const Acc w = static_cast<Acc>(weight_of(a[i]));
        const Acc pos = static_cast<Acc>(positive_of(a[i]));
        const Acc fresh = static_cast<Acc>(g != prev);
        prev = g;
        u_tied += fresh * (pos_group * neg_group);
        pos_group *= 1 - fresh;
        neg_group *= 1 - fresh;
        group_start = fresh * cum_neg + (1 - fresh) * group_start;
        const Acc wp = pos * w, wn = w - wp;
        u_below += wp * group_start;
        pos_group += wp;
        neg_group += wn;
        cum_pos += wp;
        cum_neg += wn;
    }
    u_tied += pos_group * neg_group;
    return PairCount{static_cast<double>(u_below) + 0.5 * static_cast<double>(u_tied),
                     static_cast<double>(cum_pos), static_cast<double>(cum_neg)};
}

// mann_whitney on two threads: the halves meet at a score boundary, so every positive of
// the upper half outranks every negative of the lower one.
template <class Acc, class T>
PairCount mann_whitney(const T *a, std::size_t n, bool parallel) {
    std::size_t mid = n / 2;
    while (mid < n && group_of(a[mid]) == group_of(a[mid - 1])) ++mid;
    if (!parallel || mid == n) return mann_whitney<Acc>(a, n);
    PairCount part[2];
    run_halves(n, mid, true, [&](std::size_t begin, std::size_t end, int k) {
        part[k] = mann_whitney<Acc>(a + begin, end - begin);
    });
    return PairCount{part[0].u + part[1].u + part[1].w_pos * part[0].w_neg,
                     part[0].w_pos + part[1].w_pos, part[0].w_neg + part[1].w_neg};
}

// Inputs large enough for a second thread to pay for its start and for the waits it adds
// on a busy machine.
constexpr std::size_t kParallelRows = std::size_t{1} << 20;

// AUC of score[i * stride] with positives where y[i] == cls, sorting the items make()
// builds from each score's key. With nonnegative_only, rows must have scores >= 0 (the
// probabilities the registry passes): make() may then spend the key's sign bit, always set,
// on the label, and there was no pass over the scores beforehand. Returns nothing when a
// score is negative or NaN there, for the caller to take the general path.
template <class T, class Acc, class Make>
std::optional<double> auc_sorted(const double *y, double cls, bool check_binary,
                                 const double *score, std::size_t stride, std::size_t n,
                                 bool nonnegative_only, Make make, const char *one_class) {
    const bool parallel = (n >= kParallelRows && may_parallel());
    ScratchArray<T> buf(n), tmp(n);
    T *const b = buf.get();
    struct Part {
        std::size_t n_pos = 0;
        bool codes = true, nonnegative = true;
        std::uint64_t lo = ~std::uint64_t{0}, hi = 0;
    } parts[2];
    run_halves(n, n / 2, parallel, [&](std::size_t begin, std::size_t end, int k) {
        Part part;
        for (std::size_t i = begin; i < end; ++i) {
            part.codes &= (y[i] == 0.0) | (y[i] == 1.0);
            const bool pos = y[i] == cls;
            const double s = score[i * stride];
            part.nonnegative &= s >= 0.0;  // false for NaN too
            b[i] = make(order_key(s), pos, i);
            const std::uint64_t key = key_of(b[i]);
            part.lo = key < part.lo ? key : part.lo;
            part.hi = key > part.hi ? key : part.hi;
            part.n_pos += static_cast<std::size_t>(pos);
        }
        parts[k] = part;
    });
    if (nonnegative_only && !(parts[0].nonnegative && parts[1].nonnegative)) return std::nullopt;
    if (check_binary && !(parts[0].codes && parts[1].codes)) check_codes(y, n, 2);
    const std::size_t total_pos = parts[0].n_pos + parts[1].n_pos;
    if (total_pos == 0 || total_pos == n) throw MetricError(one_class);
    // Every key in [lo, hi] shares the bits above the highest bit where lo and hi differ.
    const std::uint64_t lo = std::min(parts[0].lo, parts[1].lo);
    const std::uint64_t hi = std::max(parts[0].hi, parts[1].hi);
    const T *sorted = radix_sort(b, tmp.get(), n, bit_width(lo ^ hi), parallel);
    const PairCount c = mann_whitney<Acc>(sorted, n, parallel);
    if (!(c.w_pos > 0.0) || !(c.w_neg > 0.0)) throw MetricError(one_class);
    return c.u / (c.w_pos * c.w_neg);
}

// AUC of score[i * stride] for "positive = (y[i] == positive_class)". y must hold valid
// codes; with check_binary, codes other than 0 / 1 raise (checked while building keys).
inline double roc_auc_column(const double *y, const double *score, std::size_t stride,
                             const double *w, std::size_t n, int positive_class,
                             bool check_binary, const char *one_class) {
    validate_weights(w, n);
    const double cls = positive_class;
    auto label = [](bool pos) { return static_cast<std::uint64_t>(pos); };
    // Scores >= 0: order keys all have the top bit set; shifting it out leaves room for the
    // label with no pass to find the range first.
    std::optional<double> auc;
    if (w == nullptr)
        auc = auc_sorted<LabelledKey, std::uint64_t>(
            y, cls, check_binary, score, stride, n, true,
            [&](std::uint64_t k, bool pos, std::size_t) {
                return LabelledKey{(k << 1) | label(pos)};
            },
            one_class);
    else
        auc = auc_sorted<LabelledWeight, double>(
            y, cls, check_binary, score, stride, n, true,
            [&](std::uint64_t k, bool pos, std::size_t i) {
                return LabelledWeight{(k << 1) | label(pos), w[i]};
            },
            one_class);
    if (auc) return *auc;
    // General scores: find their range, then store key - min, which leaves a bit spare
    // unless the scores span nearly all doubles.
    std::uint64_t lo_part[2] = {~std::uint64_t{0}, ~std::uint64_t{0}}, hi_part[2] = {0, 0};
    bool nan_part[2] = {false, false};
    run_halves(n, n / 2, (n >= kParallelRows && may_parallel()), [&](std::size_t begin, std::size_t end, int k) {
        std::uint64_t lo = ~std::uint64_t{0}, hi = 0;
        bool nan = false;
        for (std::size_t i = begin; i < end; ++i) {
            const double s = score[i * stride];
            nan |= s != s;
            const std::uint64_t key = order_key(s);
            lo = key < lo ? key : lo;
            hi = key > hi ? key : hi;
        }
        lo_part[k] = lo;
        hi_part[k] = hi;
        nan_part[k] = nan;
    });
    if (nan_part[0] || nan_part[1]) {
        for (std::size_t i = 0; i < n; ++i)
            if (std::isnan(score[i * stride])) fail_nan("y_pred", i);
    }
    const std::uint64_t lo = std::min(lo_part[0], lo_part[1]);
    const std::uint64_t hi = std::max(hi_part[0], hi_part[1]);
    if (bit_width(hi - lo) < 64) {
        if (w == nullptr)
            auc = auc_sorted<LabelledKey, std::uint64_t>(
                y, cls, check_binary, score, stride, n, false,
                [&](std::uint64_t k, bool pos, std::size_t) {
                    return LabelledKey{((k - lo) << 1) | label(pos)};
                },
                one_class);
        else
            auc = auc_sorted<LabelledWeight, double>(
                y, cls, check_binary, score, stride, n, false,
                [&](std::uint64_t k, bool pos, std::size_t i) {
                    return LabelledWeight{((k - lo) << 1) | label(pos), w[i]};
                },
                one_class);
    } else {
        auc = auc_sorted<SignedWeight, double>(
            y, cls, check_binary, score, stride, n, false,
            [&](std::uint64_t k, bool pos, std::size_t i) {
                const double wi = w == nullptr ? 1.0 : w[i];
                return SignedWeight{k, pos ? wi : -wi};
            },
            one_class);
    }
    return *auc;
}

constexpr const char *kOneClass =
    "roc_auc is undefined when y_true holds only one class (with nonzero weight); score a "
    "sample that contains both positives and negatives.";

}  // namespace detail

// Binary ROC AUC; y holds codes 0 / 1, score is P(class 1) or any monotone score.
inline double roc_auc_binary(const double *y, const double *score, const double *w,
                             std::size_t n) {
    return detail::roc_auc_column(y, score, 1, w, n, 1, true, detail::kOneClass);
}

// Binary ROC AUC of the second column of an n x 2 probability matrix.
inline double roc_auc_two_columns(const double *y, const double *P, const double *w,
                                  std::size_t n) {
    return detail::roc_auc_column(y, P + 1, 2, w, n, 1, true, detail::kOneClass);
}

// Multiclass one-vs-rest ROC AUC, macro average (scikit-learn multi_class="ovr").
inline double roc_auc_ovr(const double *y, const double *P, const double *w, std::size_t n,
                          int n_classes) {
    detail::check_codes(y, n, n_classes);
    double total = 0.0;
    for (int k = 0; k < n_classes; ++k) {
        const std::string message =
            "roc_auc (one-vs-rest) is undefined when y_true holds only one class: class " +
            std::to_string(k) +
            " has no rows (with nonzero weight) or all rows. Score a sample with every class.";
        total += detail::roc_auc_column(y, P + k, static_cast<std::size_t>(n_classes), w, n, k,
                                        false, message.c_str());
    }
    return total / n_classes;
}

}  // namespace mlwf
