// Evaluation metrics of mlwf: classification (ROC AUC, log loss, confusion-matrix scores)
// and regression (MSE, RMSE, MAE, R^2), with optional sample weights.
//
// Plain C++17, no Python headers. Every kernel takes raw contiguous float64 pointers
// (sample weights may be nullptr) and throws mlwf::MetricError with a message that names
// the offending array, row and value when the data cannot be scored.
// Results match scikit-learn (sklearn.metrics, zero_division=0, force_finite=True).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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

// Weighted mean of g(i): sum w_i g(i) / sum w_i (plain mean without weights).
template <class G>
inline double weighted_mean(const double *w, std::size_t n, G g) {
    if (w == nullptr) return block_sum(n, g) / static_cast<double>(n);
    const double num = block_sum(n, [&](std::size_t i) { return w[i] * g(i); });
    const double den = block_sum(n, [&](std::size_t i) { return w[i]; });
    return num / den;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------
// Regression
// ---------------------------------------------------------------------------------------

inline double mse(const double *y, const double *p, const double *w, std::size_t n) {
    const double r = detail::weighted_mean(w, n, [&](std::size_t i) {
        const double d = y[i] - p[i];
        return d * d;
    });
    if (std::isnan(r)) detail::raise_if_nan(y, p, n, w, n);
    return r;
}

inline double rmse(const double *y, const double *p, const double *w, std::size_t n) {
    return std::sqrt(mse(y, p, w, n));
}

inline double mae(const double *y, const double *p, const double *w, std::size_t n) {
    const double r =
        detail::weighted_mean(w, n, [&](std::size_t i) { return std::fabs(y[i] - p[i]); });
    if (std::isnan(r)) detail::raise_if_nan(y, p, n, w, n);
    return r;
}

// Coefficient of determination. One read of the data: per cache-sized block a two-pass
// weighted mean and sum of squares, merged with Chan et al.'s update, so the total sum of
// squares is as accurate as scikit-learn's two-pass formula. Constant y_true gives 1.0 for
// a perfect prediction and 0.0 otherwise (scikit-learn's force_finite=True).
inline double r2(const double *y, const double *p, const double *w, std::size_t n) {
    constexpr std::size_t kBlock = 2048;
    double total_w = 0.0, mean = 0.0, m2 = 0.0, ss_res = 0.0;
    bool constant = true;
    const double y0 = y[0];
    for (std::size_t start = 0; start < n; start += kBlock) {
        const std::size_t end = std::min(n, start + kBlock);
        double bw = 0.0, bwy = 0.0, bres = 0.0;
        bool same = true;
        if (w == nullptr) {
            for (std::size_t i = start; i < end; ++i) {
                const double d = y[i] - p[i];
                bwy += y[i];
                bres += d * d;
                same &= (y[i] == y0);
            }
            bw = static_cast<double>(end - start);
        } else {
            for (std::size_t i = start; i < end; ++i) {
                const double d = y[i] - p[i];
                bw += w[i];
                bwy += w[i] * y[i];
                bres += w[i] * d * d;
                same &= (y[i] == y0);
            }
        }
        constant &= same;
        ss_res += bres;
        if (!(bw > 0.0)) continue;
        const double bmean = bwy / bw;
        double bm2 = 0.0;
        if (w == nullptr) {
            for (std::size_t i = start; i < end; ++i) {
                const double d = y[i] - bmean;
                bm2 += d * d;
            }
        } else {
            for (std::size_t i = start; i < end; ++i) {
                const double d = y[i] - bmean;
                bm2 += w[i] * d * d;
            }
        }
        if (total_w == 0.0) {
            total_w = bw;
            mean = bmean;
            m2 = bm2;
        } else {
            const double delta = bmean - mean;
            const double new_w = total_w + bw;
            mean += delta * (bw / new_w);
            m2 += bm2 + delta * delta * (total_w * bw / new_w);
            total_w = new_w;
        }
    }
    if (std::isnan(ss_res) || std::isnan(m2)) detail::raise_if_nan(y, p, n, w, n);
    if (constant || m2 == 0.0) return ss_res == 0.0 ? 1.0 : 0.0;
    return 1.0 - ss_res / m2;
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

namespace detail {
inline void check_confusion(const Confusion &c, const double *w, std::size_t n) {
    double total = 0.0;
    for (double v : c.matrix) total += v;
    if (std::isnan(total) && w != nullptr) {
        const std::size_t i = find_nan(w, n);
        if (i < n) fail_nan("sample_weight", i);
    }
}
}  // namespace detail

// From label arrays; the number of classes is 1 + the largest code seen.
inline Confusion confusion_from_labels(const double *y, const double *yhat, const double *w,
                                       std::size_t n) {
    Confusion c;
    c.resize(2);
    for (std::size_t i = 0; i < n; ++i) {
        const int t = detail::class_code(y[i], kMaxClasses, "y_true", i);
        const int p = detail::class_code(yhat[i], kMaxClasses, "y_pred", i);
        if (t >= c.n_classes || p >= c.n_classes) c.resize(std::max(t, p) + 1);
        c.add(t, p, w == nullptr ? 1.0 : w[i]);
    }
    detail::check_confusion(c, w, n);
    return c;
}

// From probabilities: n_classes == 1 means P holds P(class 1) of a binary task and the
// predicted label is p > 0.5 (what predict() does: ties go to class 0); otherwise P is
// n x n_classes and the predicted label is the first argmax of each row.
inline Confusion confusion_from_proba(const double *y, const double *P, const double *w,
                                      std::size_t n, int n_classes) {
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
                if (row[j] > best_v) {
                    best_v = row[j];
                    best = j;
                }
            }
            c.add(t, static_cast<int>(best), w == nullptr ? 1.0 : w[i]);
        }
    }
    detail::check_confusion(c, w, n);
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
    bool nan = false;
    double r;
    if (w == nullptr) {
        r = detail::block_sum(n, [&](std::size_t i) {
                nan |= std::isnan(y[i]) | std::isnan(yhat[i]);
                return y[i] == yhat[i] ? 1.0 : 0.0;
            }) /
            static_cast<double>(n);
    } else {
        r = detail::weighted_mean(w, n, [&](std::size_t i) {
            nan |= std::isnan(y[i]) | std::isnan(yhat[i]);
            return y[i] == yhat[i] ? 1.0 : 0.0;
        });
    }
    if (nan || std::isnan(r)) detail::raise_if_nan(y, yhat, n, w, n);
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
            return (q > 0.5 ? 1 : 0) == t ? 1.0 : 0.0;
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
// scikit-learn's ROC curve. The positives' and the negatives' scores are sorted apart with
// an LSD radix sort on the order-preserving integer image of the doubles, then merged once.

namespace detail {

// Order-preserving map double -> uint64 (-0.0 and 0.0 map to the same key).
inline std::uint64_t order_key(double x) {
    if (x == 0.0) x = 0.0;
    std::uint64_t u;
    std::memcpy(&u, &x, sizeof u);
    return (u >> 63) != 0 ? ~u : (u | (std::uint64_t{1} << 63));
}

struct KeyWeight {
    std::uint64_t key;
    double weight;
};

inline std::uint64_t key_of(std::uint64_t k) { return k; }
inline std::uint64_t key_of(const KeyWeight &kw) { return kw.key; }
inline double weight_of(std::uint64_t) { return 1.0; }
inline double weight_of(const KeyWeight &kw) { return kw.weight; }

constexpr int kRadixBits = 11;
constexpr int kRadixBuckets = 1 << kRadixBits;
constexpr int kRadixPasses = (64 + kRadixBits - 1) / kRadixBits;
using RadixHistogram = std::vector<std::uint32_t>;  // kRadixPasses x kRadixBuckets

inline void histogram_add(std::uint32_t *h, std::uint64_t key) {
    for (int pass = 0; pass < kRadixPasses; ++pass)
        ++h[pass * kRadixBuckets + ((key >> (pass * kRadixBits)) & (kRadixBuckets - 1))];
}

// Sorts a[0..n) ascending by key with tmp[0..n) as scratch, given the digit histograms;
// passes whose digit is the same for every element are skipped. Returns the buffer that
// holds the sorted data (a or tmp).
template <class T>
T *radix_sort(T *a, T *tmp, std::size_t n, std::uint32_t *hist) {
    if (n < 2) return a;
    for (int pass = 0; pass < kRadixPasses; ++pass) {
        std::uint32_t *h = hist + pass * kRadixBuckets;
        const int shift = pass * kRadixBits;
        const std::uint64_t first = (key_of(a[0]) >> shift) & (kRadixBuckets - 1);
        if (h[first] == n) continue;
        std::uint32_t offset = 0;
        for (int b = 0; b < kRadixBuckets; ++b) {
            const std::uint32_t c = h[b];
            h[b] = offset;
            offset += c;
        }
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint64_t d = (key_of(a[i]) >> shift) & (kRadixBuckets - 1);
            tmp[h[d]++] = a[i];
        }
        std::swap(a, tmp);
    }
    return a;
}

// Sum over positives of weight * (negative weight below + half the negative weight equal),
// both inputs sorted ascending by key.
template <class T>
double mann_whitney(const T *pos, std::size_t n_pos, const T *neg, std::size_t n_neg) {
    double below = 0.0, u = 0.0;
    std::size_t j = 0, i = 0;
    while (i < n_pos) {
        const std::uint64_t k = key_of(pos[i]);
        double wp = 0.0;
        for (; i < n_pos && key_of(pos[i]) == k; ++i) wp += weight_of(pos[i]);
        for (; j < n_neg && key_of(neg[j]) < k; ++j) below += weight_of(neg[j]);
        double equal = 0.0;
        for (std::size_t e = j; e < n_neg && key_of(neg[e]) == k; ++e)
            equal += weight_of(neg[e]);
        u += wp * (below + 0.5 * equal);
    }
    return u;
}

template <class T, class IsPositive, class Make>
double auc_impl(const double *score, std::size_t stride, std::size_t n, IsPositive is_pos,
                Make make) {
    std::unique_ptr<T[]> buf(new T[n]);
    std::unique_ptr<T[]> tmp(new T[n]);
    RadixHistogram hist(2 * kRadixPasses * kRadixBuckets, 0);
    std::uint32_t *hist_pos = hist.data();
    std::uint32_t *hist_neg = hist.data() + kRadixPasses * kRadixBuckets;
    // Positives fill the buffer from the front, negatives from the back.
    std::size_t front = 0, back = n;
    double w_pos = 0.0, w_neg = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double s = score[i * stride];
        if (std::isnan(s)) fail_nan("y_pred", i);
        const T item = make(order_key(s), i);
        if (is_pos(i)) {
            buf[front++] = item;
            histogram_add(hist_pos, key_of(item));
            w_pos += weight_of(item);
        } else {
            buf[--back] = item;
            histogram_add(hist_neg, key_of(item));
            w_neg += weight_of(item);
        }
    }
    if (std::isnan(w_pos + w_neg)) throw MetricError("sample_weight contains NaN.");
    if (front == 0 || front == n || !(w_pos > 0.0) || !(w_neg > 0.0))
        throw MetricError(
            "roc_auc is undefined when y_true holds only one class (with nonzero weight); "
            "score a sample that contains both positives and negatives.");
    const std::size_t n_pos = front, n_neg = n - front;
    const T *pos;
    const T *neg;
    if (n >= (std::size_t{1} << 18)) {
        // Large inputs: sort the two halves on two threads (they share no memory).
        const T *neg_sorted = nullptr;
        std::thread worker([&] {
            neg_sorted = radix_sort(buf.get() + n_pos, tmp.get() + n_pos, n_neg, hist_neg);
        });
        pos = radix_sort(buf.get(), tmp.get(), n_pos, hist_pos);
        worker.join();
        neg = neg_sorted;
    } else {
        pos = radix_sort(buf.get(), tmp.get(), n_pos, hist_pos);
        neg = radix_sort(buf.get() + n_pos, tmp.get() + n_pos, n_neg, hist_neg);
    }
    return mann_whitney(pos, n_pos, neg, n_neg) / (w_pos * w_neg);
}

// AUC of the scores score[i * stride] for "positive = (y[i] == positive_class)".
inline double roc_auc_column(const double *y, const double *score, std::size_t stride,
                             const double *w, std::size_t n, int positive_class) {
    auto is_pos = [&](std::size_t i) { return static_cast<int>(y[i]) == positive_class; };
    if (w == nullptr)
        return auc_impl<std::uint64_t>(score, stride, n, is_pos,
                                       [](std::uint64_t k, std::size_t) { return k; });
    return auc_impl<KeyWeight>(score, stride, n, is_pos, [&](std::uint64_t k, std::size_t i) {
        return KeyWeight{k, w[i]};
    });
}

inline void check_codes(const double *y, std::size_t n, int n_classes) {
    for (std::size_t i = 0; i < n; ++i) class_code(y[i], n_classes, "y_true", i);
}

}  // namespace detail

// Binary ROC AUC; y holds codes 0 / 1, score is P(class 1) or any monotone score.
inline double roc_auc_binary(const double *y, const double *score, const double *w,
                             std::size_t n) {
    detail::check_codes(y, n, 2);
    return detail::roc_auc_column(y, score, 1, w, n, 1);
}

// Multiclass one-vs-rest ROC AUC, macro average (scikit-learn multi_class="ovr").
inline double roc_auc_ovr(const double *y, const double *P, const double *w, std::size_t n,
                          int n_classes) {
    detail::check_codes(y, n, n_classes);
    double total = 0.0;
    for (int k = 0; k < n_classes; ++k)
        total += detail::roc_auc_column(y, P + k, static_cast<std::size_t>(n_classes), w, n, k);
    return total / n_classes;
}

}  // namespace mlwf
