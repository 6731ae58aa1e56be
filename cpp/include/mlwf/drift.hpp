// Streaming drift detectors: ADWIN, Page-Hinkley, CUSUM, DDM, EDDM and KSWIN.
//
// Every detector follows the same contract, the one of river.drift:
//   bool update(double x)   feed one value; true when a drift is detected at this point.
//                           A detector that fired resets itself at the next update.
//   bool drift_detected     the result of the last update.
//   void reset()            back to the freshly constructed state.
// The state members are public so that bindings can serialise and restore them exactly;
// they are not meant to be written by other code.
//
// The arithmetic follows River (river 0.26: the Rust ADWIN, the Python Page-Hinkley, DDM,
// EDDM, CUSUM and KSWIN) operation by operation, so that on the same stream and parameters
// the detections happen at the same indices (KSWIN draws its samples with its own generator,
// so only its test matches). That needs IEEE arithmetic as written: no -ffast-math, and
// -ffp-contract=off where -march enables FMA.
//
// Calibration: calibrate_threshold() chooses the detection threshold that gives a wanted
// mean run length between false alarms, by simulating the detector on bootstrap resamples
// of a reference (in-control) stream. See the comment above it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mlwf {

enum class DriftMode : int { up = 0, down = 1, both = 2 };

inline DriftMode drift_mode_from_string(const std::string &s) {
    if (s == "up") return DriftMode::up;
    if (s == "down") return DriftMode::down;
    if (s == "both") return DriftMode::both;
    throw std::invalid_argument("mode must be 'up', 'down' or 'both'");
}

inline const char *drift_mode_name(DriftMode m) {
    switch (m) {
        case DriftMode::up: return "up";
        case DriftMode::down: return "down";
        default: return "both";
    }
}

// SplitMix64 (Steele, Lea & Flood 2014): one 64-bit word of state, trivially serialisable.
struct SplitMix64 {
    std::uint64_t state = 0;

    std::uint64_t next() {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }

    // Uniform integer in [0, n), unbiased (Lemire 2019).
    std::uint64_t below(std::uint64_t n) {
        unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
        auto low = static_cast<std::uint64_t>(m);
        if (low < n) {
            const std::uint64_t t = (0 - n) % n;
            while (low < t) {
                m = static_cast<unsigned __int128>(next()) * n;
                low = static_cast<std::uint64_t>(m);
            }
        }
        return static_cast<std::uint64_t>(m >> 64);
    }

    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

// 2^r as a double (exact for the row indices of a histogram).
struct Pow2Table {
    double v[64];
    constexpr Pow2Table() : v() {
        double p = 1.0;
        for (double &x : v) {
            x = p;
            p *= 2.0;
        }
    }
};
inline constexpr Pow2Table pow2_table{};
inline double pow2(std::size_t r) { return pow2_table.v[r]; }

// max(v, 0) as Python's max(0.0, v) (0 for NaN and -0); maxsd, because the branch that
// compilers emit for it mispredicts on every other point of a CUSUM.
inline double positive_part(double v) {
#if defined(__SSE2__)
    return _mm_cvtsd_f64(_mm_max_sd(_mm_set_sd(v), _mm_setzero_pd()));
#else
    return v > 0.0 ? v : 0.0;
#endif
}

// Feed a whole array; the indices where a drift was detected go to `out`.
template <class Detector>
void update_many(Detector &det, const double *x, std::size_t n, std::vector<std::int64_t> &out) {
    // A local copy whose address never escapes lets the compiler keep the state in registers.
    Detector local(std::move(det));
    for (std::size_t i = 0; i < n; ++i) {
        if (local.update(x[i])) out.push_back(static_cast<std::int64_t>(i));
    }
    det = std::move(local);
}

namespace drift_detail {

// Cheap filter of ADWIN's cuts. ADWIN fires at a cut when |u0/n0 - u1/n1| > sqrt(A) + B with
// A = 2 m v delta', B = 2/3 m delta', m = 1/a0 + 1/a1, a = n - min_window_length + 1. Scaled by
// n0 n1 a0 a1 (a0 + a1 = w - 2c is the same at every cut) this needs no division:
// lhs = |u0 n1 - u1 n0| a0 a1 > sqrt(k2 a0 a1 (n0 n1)^2) + k1 n0 n1, with u1 = total - u0
// (River's u1 is a running difference; err covers the gap). out[j] < 0 proves that cut j
// cannot fire; the margins (err on the difference, 1e-9 relative on the rest) dwarf rounding,
// so the exact test then sees every cut River's test could fire on. NaN (overflow) also goes
// to the exact test.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("avx2", "default")))
#endif
static void adwin_cut_bounds(const double *n0p, const double *u0p, double *out, std::size_t n,
                             double w, double total, double c, double err, double k1,
                             double k2) {
    for (std::size_t j = 0; j < n; ++j) {
        const double n0 = n0p[j], n1 = w - n0, u0 = u0p[j], u1 = total - u0;
        const double diff = std::fabs(u0 * n1 - u1 * n0) * (1.0 + 1e-12) + err;
        const double a = (n0 - c) * (n1 - c);
        const double prod = n0 * n1;
        const double bterm = k1 * prod;
        const double rest = diff * a - bterm;
        const double r1 = rest + 1e-9 * bterm;
        const double r2 = rest * rest - k2 * a * prod * prod;
        out[j] = r1 < r2 ? r1 : r2;
    }
}

// ADWIN's variance increments for m points; prev[k] is the window total before point k and
// w0 the width before the first. Same operations, in the same order, as ADWIN::add_point.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("avx2", "default")))
#endif
static void adwin_increments(const double *x, const double *prev, double w0, double *inc,
                             std::size_t m) {
    for (std::size_t k = 0; k < m; ++k) {
        const double w = w0 + static_cast<double>(static_cast<std::int32_t>(k) + 1);
        const double d = x[k] - prev[k] / (w - 1.0);
        const double v = (w - 1.0) * d * d / w;
        inc[k] = w > 1.0 ? v : 0.0;
    }
}

}  // namespace drift_detail

// ---------------------------------------------------------------------------------------------
// ADWIN (Bifet & Gavalda 2007) with the exponential histogram of ADWIN2, as in MOA and River.
//
// Row r of the histogram holds up to max_buckets + 1 buckets that summarise 2^r points each
// (their sum and their variance term); index 0 in a row is the oldest. When a row overflows its
// two oldest buckets merge into one bucket of the next row. Every `clock` points every cut
// between buckets is tested; on a significant difference of means the oldest bucket is dropped
// and the test repeats.
class ADWIN {
   public:
    double delta = 0.002;
    std::int64_t clock = 32;
    std::int64_t max_buckets = 5;
    std::int64_t min_window_length = 5;
    std::int64_t grace_period = 10;

    double total = 0.0;
    double variance = 0.0;
    double width = 0.0;
    std::int64_t tick = 0;
    std::int64_t n_detections = 0;
    bool drift_detected = false;
    // Row-major histogram: row r is a ring of max_buckets + 1 slots at r * (max_buckets + 1)
    // holding counts[r] buckets, the oldest at slot starts[r]; a ring lets the two oldest
    // buckets leave without shifting the others.
    std::vector<std::int64_t> counts;
    std::vector<std::int64_t> starts;
    std::vector<double> totals;
    std::vector<double> variances;

    ADWIN() { reset_window(); }
    ADWIN(double delta_, std::int64_t clock_, std::int64_t max_buckets_,
          std::int64_t min_window_length_, std::int64_t grace_period_)
        : delta(delta_),
          clock(clock_),
          max_buckets(max_buckets_),
          min_window_length(min_window_length_),
          grace_period(grace_period_) {
        if (!(delta > 0.0 && delta < 1.0)) throw std::invalid_argument("delta must be in (0, 1)");
        if (clock < 1) throw std::invalid_argument("clock must be >= 1");
        if (max_buckets < 2 || max_buckets > 65535)
            throw std::invalid_argument("max_buckets must be in [2, 65535]");
        if (min_window_length < 1) throw std::invalid_argument("min_window_length must be >= 1");
        if (grace_period < 0) throw std::invalid_argument("grace_period must be >= 0");
        reset_window();
    }

    void reset() {
        reset_window();
        n_detections = 0;
        drift_detected = false;
    }

    bool update(double x) {
        // River resets the whole window at the update that follows a detection.
        if (drift_detected) reset_window();
        insert(x);
        drift_detected = detect_change();
        if (drift_detected) ++n_detections;
        return drift_detected;
    }

    // update() over an array, with the running sums held in locals (see add_point).
    // update() over an array. Points are taken in blocks that end at a check point (no drift
    // can happen elsewhere): the running totals of a block are summed in order, the variance
    // increments of the whole block are computed in one vectorised pass (their two divisions
    // dominate the cost of a point), then added in order, so every result is bit-identical to
    // update() point by point.
    void update_many(const double *x, std::size_t n, std::vector<std::int64_t> &out) {
        constexpr std::size_t block = 256;
        prev_.resize(block);
        inc_.resize(block);
        double tot = total, var = variance, wid = width;
        const auto grace = static_cast<double>(grace_period);
        std::size_t i = 0;
        while (i < n) {
            if (drift_detected) {
                reset_window();
                tot = var = wid = 0.0;
                drift_detected = false;
            }
            const auto to_check = static_cast<std::size_t>(clock - phase_);
            const std::size_t m = std::min(std::min(n - i, to_check), block);
            double *prev = prev_.data(), *inc = inc_.data();
            for (std::size_t k = 0; k < m; ++k) {
                prev[k] = tot;
                tot += x[i + k];
            }
            drift_detail::adwin_increments(x + i, prev, wid, inc, m);
            for (std::size_t k = 0; k < m; ++k) {
                var += inc[k];
                add_bucket(x[i + k]);
            }
            wid += static_cast<double>(m);  // exact: integers
            tick += static_cast<std::int64_t>(m);
            phase_ += static_cast<std::int64_t>(m);
            i += m;
            if (phase_ == clock) {
                phase_ = 0;
                if (wid > grace) {
                    total = tot;
                    variance = var;
                    width = wid;
                    drift_detected = scan();
                    tot = total;
                    var = variance;
                    wid = width;
                    if (drift_detected) {
                        ++n_detections;
                        out.push_back(static_cast<std::int64_t>(i - 1));
                    }
                }
            }
        }
        total = tot;
        variance = var;
        width = wid;
    }

    std::size_t n_rows() const { return counts.size(); }
    // Slots per row: a power of two >= max_buckets + 1, so that ring positions are masks.
    std::size_t row_stride() const { return std::size_t{1} << row_shift_; }
    // Position in totals / variances of bucket k (0 = oldest) of row r.
    std::size_t slot(std::size_t r, std::int64_t k) const {
        return (r << row_shift_) + (static_cast<std::size_t>(starts[r] + k) & row_mask());
    }

    // Calibration step: the state evolves as in update() before any detection, and the
    // returned score is the largest value of s over the tested cuts such that the cut fires
    // exactly when s > -log(delta) (-inf when no test happens at this point). Scores that
    // cannot exceed `floor` may be returned as -inf.
    double observe_score(double x,
                         double floor = -std::numeric_limits<double>::infinity()) {
        const double none = -std::numeric_limits<double>::infinity();
        insert(x);
        if (!next_tick() || !(width > static_cast<double>(grace_period))) return none;
        collect_cuts();
        const double mwl = static_cast<double>(min_window_length);
        const double w = width;
        const double *n0p = n0_.data(), *u0p = u0_.data();
        std::size_t lo = 0, hi = n_cuts_;
        while (lo < hi && n0p[lo] < mwl) ++lo;
        while (hi > lo && w - n0p[hi - 1] < mwl) --hi;
        if (lo == hi) return none;
        const double vw = variance / w;
        const double offset = std::log(2.0 * std::log(w));
        // Only a score above `floor` matters to the caller: the cut bound at delta' = floor +
        // offset rules out, cheaply, the cuts whose score cannot exceed it.
        const double dp_floor = floor + offset;
        const bool filter = dp_floor > 0.0;
        if (filter) {
            const double c = mwl - 1.0;
            const double err = (1e-13 + 2.3e-16 * static_cast<double>(2 * n_cuts_ + 2)) *
                               abs_sum_ * w;
            drift_detail::adwin_cut_bounds(n0p + lo, u0p + lo, bound_.data() + lo, hi - lo, w,
                                           total, c, err, 2.0 / 3.0 * dp_floor * (w - 2.0 * c),
                                           2.0 * vw * dp_floor * (w - 2.0 * c) * (1.0 - 1e-9));
        }
        double best = none;
        double u1 = total;
        std::size_t done = 0;
        for (std::size_t j = lo; j < hi; ++j) {
            if (filter && bound_[j] < 0.0) continue;
            for (; done <= j; ++done) u1 -= t_[done];
            const double n0 = n0p[j], n1 = w - n0;
            const double dm = std::fabs(u0p[j] / n0 - u1 / n1);
            const double m = 1.0 / (n0 - mwl + 1.0) + 1.0 / (n1 - mwl + 1.0);
            // epsilon(dp) = sqrt(2 m vw dp) + 2/3 m dp = dm, solved for s = sqrt(dp)
            const double a = 2.0 / 3.0 * m, b = std::sqrt(2.0 * m * vw);
            const double s = 2.0 * dm / (b + std::sqrt(b * b + 4.0 * a * dm));
            best = std::max(best, s * s - offset);
        }
        return best;
    }

    // Set the tick counter (deserialisation).
    void restore_tick(std::int64_t t) {
        tick = t;
        phase_ = t % clock;
    }

   private:
    int row_shift_ = 3;
    std::int64_t phase_ = 0;  // tick % clock, kept to avoid a division per point

    std::size_t row_mask() const { return row_stride() - 1; }
    // Scratch for the cut scan, one entry per bucket, oldest first (not part of the state):
    // its total, and n0 / u0 / sum of |total| up to and including it. Rows above dirty_row_
    // have not changed since they were filled, so their entries are kept.
    std::vector<double> t_, n0_, u0_, abs_;
    std::size_t dirty_row_ = std::numeric_limits<std::size_t>::max();
    std::vector<double> bound_;
    std::vector<double> prev_, inc_;  // scratch of update_many
    std::size_t n_cuts_ = 0;
    double abs_sum_ = 0.0;   // sum of |bucket total|, set by collect_cuts
    double dp_width_ = 0.0;  // width at which dp_low_ = delta' was computed
    double dp_low_ = 0.0;

    // Advance the clock; true when this point is a check point.
    bool next_tick() {
        ++tick;
        if (++phase_ == clock) {
            phase_ = 0;
            return true;
        }
        return false;
    }

    void reset_window() {
        row_shift_ = 0;
        while ((std::int64_t{1} << row_shift_) < max_buckets + 1) ++row_shift_;
        total = variance = width = 0.0;
        tick = 0;
        phase_ = 0;
        counts.assign(1, 0);
        starts.assign(1, 0);
        totals.assign(row_stride(), 0.0);
        variances.assign(row_stride(), 0.0);
        dirty_row_ = std::numeric_limits<std::size_t>::max();
    }

    void push_row() {
        counts.push_back(0);
        starts.push_back(0);
        totals.resize(totals.size() + row_stride(), 0.0);
        variances.resize(variances.size() + row_stride(), 0.0);
    }

    // Drop the n oldest buckets of a row.
    void compress_row(std::size_t r, std::int64_t n) {
        starts[r] = (starts[r] + n) & static_cast<std::int64_t>(row_mask());
        counts[r] -= n;
    }

    void insert(double x) { add_point(x, total, variance, width); }

    // Insert one point. The running sums come by reference so that update_many can keep them
    // in registers: as members they would be reloaded after every store into the histogram,
    // which the compiler must assume may alias them.
    void add_point(double x, double &tot, double &var, double &wid) {
        wid += 1.0;
        double inc = 0.0;
        if (wid > 1.0) {
            const double d = x - tot / (wid - 1.0);
            inc = (wid - 1.0) * d * d / wid;
        }
        var += inc;
        tot += x;
        add_bucket(x);
    }

    // Put a point in the histogram; merge the two oldest buckets of each full row into the
    // next row.
    void add_bucket(double x) {
        const std::int64_t full = max_buckets + 1;
        const auto mask = static_cast<std::int64_t>(row_mask());
        std::int64_t *cnt = counts.data(), *st = starts.data();
        std::size_t base = 0;  // r << row_shift_
        {
            const std::size_t k = static_cast<std::size_t>((st[0] + cnt[0]) & mask);
            totals[k] = x;
            variances[k] = 0.0;
            if (++cnt[0] != full) return;
        }
        for (std::size_t r = 0;; ++r) {
            // row r is full: merge its two oldest buckets into a new bucket of row r + 1
            const double n1 = pow2(r);
            const double inv_n1 = 1.0 / n1;  // exact: n1 is a power of two
            const std::size_t k0 = base + static_cast<std::size_t>(st[r] & mask);
            const std::size_t k1 = base + static_cast<std::size_t>((st[r] + 1) & mask);
            const double t0 = totals[k0], t1 = totals[k1];
            const double mu1 = t0 * inv_n1, mu2 = t1 * inv_n1;
            const double t12 = t0 + t1;
            const double v12 =
                variances[k0] + variances[k1] + n1 * 0.5 * (mu1 - mu2) * (mu1 - mu2);
            st[r] = (st[r] + 2) & mask;
            cnt[r] -= 2;
            if (r + 1 >= counts.size()) {
                push_row();
                cnt = counts.data();
                st = starts.data();
            }
            if (r + 1 > dirty_row_) dirty_row_ = r + 1;
            base += row_stride();
            const std::size_t k = base + static_cast<std::size_t>((st[r + 1] + cnt[r + 1]) & mask);
            totals[k] = t12;
            variances[k] = v12;
            if (++cnt[r + 1] != full) return;
        }
    }

    // Remove the oldest bucket of the window.
    void delete_element() {
        const std::size_t last = counts.size() - 1;
        const double n = pow2(last);
        const double u = totals[slot(last, 0)];
        const double v = variances[slot(last, 0)];
        const double mu = u / n;
        width -= n;
        total -= u;
        const double mu_w = total / width;
        variance -= v + n * width * (mu - mu_w) * (mu - mu_w) / (n + width);
        compress_row(last, 1);
        dirty_row_ = std::numeric_limits<std::size_t>::max();  // every position moved
        if (counts[last] == 0 && last > 0) {
            counts.pop_back();
            starts.pop_back();
            totals.resize(totals.size() - row_stride());
            variances.resize(variances.size() - row_stride());
        }
    }

    // Sizes and sums of the old side W0 at every cut, oldest bucket first. The running sums
    // are accumulated in the same order as River so that they are bit-identical. Only the
    // rows that changed since the last call (the young end, as a rule) are walked again.
    void collect_cuts() {
        const std::size_t n_rows_now = counts.size();
        const std::size_t cap = n_rows_now * row_stride();
        if (n0_.size() < cap) {
            t_.resize(cap);
            n0_.resize(cap);
            u0_.resize(cap);
            abs_.resize(cap);
            bound_.resize(cap);
        }
        std::size_t top = n_rows_now - 1;  // first row to walk again
        std::size_t j = 0;                 // its first position
        if (dirty_row_ < top) {
            top = dirty_row_;
            for (std::size_t r = n_rows_now - 1; r > top; --r) j += static_cast<std::size_t>(counts[r]);
        }
        double *tp = t_.data(), *n0p = n0_.data(), *u0p = u0_.data(), *ap = abs_.data();
        double n0 = 0.0, u0 = 0.0, abs_sum = 0.0;
        if (j > 0) {
            n0 = n0p[j - 1];
            u0 = u0p[j - 1];
            abs_sum = ap[j - 1];
        }
        const auto mask = static_cast<std::int64_t>(row_mask());
        for (std::size_t r = top + 1; r-- > 0;) {
            const double size = pow2(r);
            const double *t = totals.data() + r * row_stride();
            const std::int64_t c = counts[r];
            for (std::int64_t k = 0, i = starts[r]; k < c; ++k, i = (i + 1) & mask) {
                n0 += size;
                u0 += t[i];
                abs_sum += std::fabs(t[i]);
                tp[j] = t[i];
                n0p[j] = n0;
                u0p[j] = u0;
                ap[j] = abs_sum;
                ++j;
            }
        }
        dirty_row_ = 0;
        n_cuts_ = j > 0 ? j - 1 : 0;  // no cut after the newest bucket
        // bounds |u0| <= sum |t| and |u1| <= |total| + sum |t| at every cut
        abs_sum_ = (abs_sum + std::fabs(total)) * (1.0 + 1e-9);
    }

    // River's test, evaluated exactly as River writes it.
    bool cut_fires(double n0, double n1, double u0, double u1, double dp) const {
        const double mwl = static_cast<double>(min_window_length);
        const double delta_mean = (u0 / n0) - (u1 / n1);
        const double m_recip = 1.0 / (n0 - mwl + 1.0) + 1.0 / (n1 - mwl + 1.0);
        const double epsilon =
            std::sqrt(2.0 * m_recip * (variance / width) * dp) + 2.0 / 3.0 * dp * m_recip;
        return std::fabs(delta_mean) > epsilon;
    }

    // Index of the first cut that fires, or -1. A cheap division-free bound first rules out
    // the cuts that cannot fire (with a wide margin for rounding, so the decisions are exactly
    // River's); only the remaining cuts get the exact test.
    std::int64_t first_firing_cut() {
        const std::size_t nc = n_cuts_;
        const double mwl = static_cast<double>(min_window_length);
        const double w = width;
        const double *n0p = n0_.data(), *u0p = u0_.data();
        // n0 grows and n1 = w - n0 shrinks along the cuts: the valid ones are a range
        std::size_t lo = 0, hi = nc;
        while (lo < hi && n0p[lo] < mwl) ++lo;
        while (hi > lo && w - n0p[hi - 1] < mwl) --hi;
        if (lo == hi) return -1;
        const double c = mwl - 1.0;
        // The bound uses delta' at a slightly smaller width (it grows with the width, and a
        // smaller delta' only lets more cuts through), refreshed when the width grows by 1 %,
        // to spare two logarithms per check; the exact test gets the exact delta'.
        if (!(w >= dp_width_ && w <= dp_width_ * 1.01 && dp_width_ >= 3.0)) {
            dp_width_ = w;
            dp_low_ = std::log(2.0 * std::log(w) / delta);
        }
        const double dp_low = dp_low_;
        const double two_thirds_dp = 2.0 / 3.0 * dp_low;
        const double two_vw_dp = 2.0 * (variance / w) * dp_low;
        // Rounding allowance for |u0 n1 - u1 n0|, with S >= |u0|, |u1|: 1e-13 S w for the
        // products, and S w times the error of u1 = total - u0 against River's running
        // difference (2 (cuts + 1) roundings of at most S each).
        const double slack = 1e-13 + 2.3e-16 * static_cast<double>(2 * nc + 2);
        const double err = slack * abs_sum_ * w;
        drift_detail::adwin_cut_bounds(n0p + lo, u0p + lo, bound_.data() + lo, hi - lo, w, total,
                                       c, err, two_thirds_dp * (w - 2.0 * c),
                                       two_vw_dp * (w - 2.0 * c) * (1.0 - 1e-9));
        const double *bound = bound_.data();
        const double *tp = t_.data();
        double dp = -1.0;
        double u1 = total;  // River's running difference, advanced to the cut under test
        std::size_t done = 0;
        for (std::size_t j = lo; j < hi; ++j) {
            if (bound[j] < 0.0) continue;
            if (dp < 0.0) dp = std::log(2.0 * std::log(w) / delta);
            for (; done <= j; ++done) u1 -= tp[done];
            if (cut_fires(n0p[j], w - n0p[j], u0p[j], u1, dp)) return static_cast<std::int64_t>(j);
        }
        return -1;
    }

    bool detect_change() {
        return next_tick() && width > static_cast<double>(grace_period) && scan();
    }

    // Test every cut; while one fires, drop the oldest bucket and test again.
    bool scan() {
        bool change = false;
        for (;;) {
            collect_cuts();
            if (first_firing_cut() < 0) break;
            change = true;
            if (!(width > 0.0)) break;
            delete_element();
        }
        return change;
    }
};

inline void update_many(ADWIN &det, const double *x, std::size_t n,
                        std::vector<std::int64_t> &out) {
    det.update_many(x, n, out);
}

// ---------------------------------------------------------------------------------------------
// Page-Hinkley test on the deviations from the running mean, with a forgetting factor alpha.
class PageHinkley {
   public:
    std::int64_t min_instances = 30;
    double delta = 0.005;
    double threshold = 50.0;
    double alpha = 1.0 - 0.0001;
    DriftMode mode = DriftMode::both;

    double n = 0.0;
    double mean = 0.0;
    double sum_increase = 0.0;
    double sum_decrease = 0.0;
    double min_increase = std::numeric_limits<double>::infinity();
    double max_decrease = -1.0;  // River starts it at -1, not -inf
    std::int64_t n_detections = 0;
    bool drift_detected = false;

    PageHinkley() = default;
    PageHinkley(std::int64_t min_instances_, double delta_, double threshold_, double alpha_,
                DriftMode mode_)
        : min_instances(min_instances_), delta(delta_), threshold(threshold_), alpha(alpha_),
          mode(mode_) {
        if (min_instances < 1) throw std::invalid_argument("min_instances must be >= 1");
        if (!(delta >= 0.0)) throw std::invalid_argument("delta must be >= 0");
        if (!(threshold > 0.0)) throw std::invalid_argument("threshold must be > 0");
        if (!(alpha > 0.0 && alpha <= 1.0)) throw std::invalid_argument("alpha must be in (0, 1]");
    }

    void reset_statistics() {
        n = mean = sum_increase = sum_decrease = 0.0;
        min_increase = std::numeric_limits<double>::infinity();
        max_decrease = -1.0;
    }

    void reset() {
        reset_statistics();
        n_detections = 0;
        drift_detected = false;
    }

    void observe(double x) {
        n += 1.0;
        mean += (1.0 / n) * (x - mean);
        const double dev = x - mean;
        sum_increase = alpha * sum_increase + dev - delta;
        sum_decrease = alpha * sum_decrease + dev + delta;
        if (sum_increase < min_increase) min_increase = sum_increase;
        if (sum_decrease > max_decrease) max_decrease = sum_decrease;
    }

    // The statistic compared to the threshold (-inf before min_instances points).
    double score() const {
        if (n < static_cast<double>(min_instances)) return -std::numeric_limits<double>::infinity();
        const double up = sum_increase - min_increase;
        const double down = max_decrease - sum_decrease;
        switch (mode) {
            case DriftMode::up: return up;
            case DriftMode::down: return down;
            default: return std::max(up, down);
        }
    }

    bool update(double x) {
        if (drift_detected) reset_statistics();
        observe(x);
        drift_detected = score() > threshold;
        if (drift_detected) ++n_detections;
        return drift_detected;
    }

    double observe_score(double x, double /*floor*/ = 0.0) {
        observe(x);
        return score();
    }
};

// ---------------------------------------------------------------------------------------------
// Tabular CUSUM (Page 1954) around a frozen reference mean, as river.drift.CUSUM: slack and
// threshold are multiples of the reference standard deviation, estimated over the first
// min_instances points unless given (ref_mean / ref_std, e.g. from a training profile).
class CUSUM {
   public:
    std::int64_t min_instances = 30;
    double slack = 0.5;
    double threshold = 5.0;
    DriftMode mode = DriftMode::both;
    bool fixed_reference = false;
    double ref_mean = 0.0;
    double ref_std = 0.0;

    std::int64_t n = 0;
    double w_n = 0.0;     // Welford count, mean and sum of squares of the warm-up
    double w_mean = 0.0;
    double w_s = 0.0;
    bool has_reference = false;
    double reference = 0.0;
    double sigma = 0.0;
    double sum_increase = 0.0;
    double sum_decrease = 0.0;
    std::int64_t n_detections = 0;
    bool drift_detected = false;

    CUSUM() = default;
    CUSUM(std::int64_t min_instances_, double slack_, double threshold_, DriftMode mode_,
          bool fixed_reference_, double ref_mean_, double ref_std_)
        : min_instances(min_instances_), slack(slack_), threshold(threshold_), mode(mode_),
          fixed_reference(fixed_reference_), ref_mean(ref_mean_), ref_std(ref_std_) {
        if (min_instances < 1) throw std::invalid_argument("min_instances must be >= 1");
        if (!(slack >= 0.0)) throw std::invalid_argument("slack must be >= 0");
        if (!(threshold > 0.0)) throw std::invalid_argument("threshold must be > 0");
        if (fixed_reference && !(std::isfinite(ref_mean) && ref_std >= 0.0 && std::isfinite(ref_std)))
            throw std::invalid_argument("the reference mean and std must be finite, std >= 0");
        reset_statistics();
    }

    void reset_statistics() {
        n = 0;
        w_n = w_mean = w_s = 0.0;
        sum_increase = sum_decrease = 0.0;
        has_reference = fixed_reference;
        reference = fixed_reference ? ref_mean : 0.0;
        sigma = fixed_reference ? ref_std : 0.0;
    }

    void reset() {
        reset_statistics();
        n_detections = 0;
        drift_detected = false;
    }

    // Returns false while the reference is still being estimated.
    bool observe(double x) {
        ++n;
        if (!has_reference) {
            // the warm-up statistics matter only until the reference is frozen
            const double old = w_mean;
            w_n += 1.0;
            w_mean += (1.0 / w_n) * (x - w_mean);
            w_s += 1.0 * (x - old) * (x - w_mean);
            if (n < min_instances) return false;
            has_reference = true;
            reference = w_mean;
            const double var = w_n > 1.0 ? w_s / (w_n - 1.0) : 0.0;
            sigma = std::pow(std::max(var, 0.0), 0.5);
        }
        const double k = slack * sigma;
        const double dev = x - reference;
        const double up = sum_increase + dev - k, down = sum_decrease - dev - k;
        sum_increase = positive_part(up);
        sum_decrease = positive_part(down);
        return true;
    }

    bool test() const {
        const double limit = threshold * sigma;
        switch (mode) {
            case DriftMode::up: return sum_increase > limit;
            case DriftMode::down: return sum_decrease > limit;
            default: return sum_increase > limit || sum_decrease > limit;
        }
    }

    bool update(double x) {
        if (drift_detected) reset_statistics();
        drift_detected = observe(x) && test();
        if (drift_detected) ++n_detections;
        return drift_detected;
    }

    // Sum over sigma: the test fires when it exceeds threshold.
    double observe_score(double x, double /*floor*/ = 0.0) {
        if (!observe(x)) return -std::numeric_limits<double>::infinity();
        double s = mode == DriftMode::up     ? sum_increase
                   : mode == DriftMode::down ? sum_decrease
                                             : std::max(sum_increase, sum_decrease);
        if (sigma > 0.0) return s / sigma;
        return s > 0.0 ? std::numeric_limits<double>::infinity() : 0.0;
    }
};

// ---------------------------------------------------------------------------------------------
// DDM (Gama et al. 2004) on a stream of errors (1) and successes (0).
class DDM {
   public:
    std::int64_t warm_start = 30;
    double warning_threshold = 2.0;
    double drift_threshold = 3.0;

    double n = 0.0;
    double p = 0.0;
    double p_min = 0.0;
    double s_min = 0.0;
    double ps_min = std::numeric_limits<double>::infinity();
    std::int64_t n_detections = 0;
    bool drift_detected = false;
    bool warning_detected = false;

    DDM() = default;
    DDM(std::int64_t warm_start_, double warning_threshold_, double drift_threshold_)
        : warm_start(warm_start_), warning_threshold(warning_threshold_),
          drift_threshold(drift_threshold_) {
        if (warm_start < 0) throw std::invalid_argument("warm_start must be >= 0");
        if (!(warning_threshold > 0.0)) throw std::invalid_argument("warning_threshold must be > 0");
        if (!(drift_threshold >= warning_threshold))
            throw std::invalid_argument("drift_threshold must be >= warning_threshold");
    }

    void reset_statistics() {
        n = p = 0.0;
        p_min = s_min = 0.0;
        ps_min = std::numeric_limits<double>::infinity();
        drift_detected = warning_detected = false;
    }

    void reset() {
        reset_statistics();
        n_detections = 0;
    }

    bool update(double x) {
        if (drift_detected) reset_statistics();
        n += 1.0;
        p += (1.0 / n) * (x - p);
        const double s = std::sqrt(p * (1.0 - p) / n);
        if (n > static_cast<double>(warm_start)) {
            if (p + s <= ps_min) {
                p_min = p;
                s_min = s;
                ps_min = p_min + s_min;
            }
            warning_detected = p + s > p_min + warning_threshold * s_min;
            if (p + s > p_min + drift_threshold * s_min) {
                drift_detected = true;
                warning_detected = false;
                ++n_detections;
            }
        }
        return drift_detected;
    }
};

// ---------------------------------------------------------------------------------------------
// EDDM (Baena-Garcia et al. 2006): watches the distance between consecutive errors.
class EDDM {
   public:
    std::int64_t warm_start = 30;
    double alpha = 0.95;
    double beta = 0.9;

    std::int64_t n = 0;
    std::int64_t last_error = 0;
    std::int64_t n_errors = 0;
    double d_n = 0.0;  // Welford count, mean and sum of squares of the distances
    double d_mean = 0.0;
    double d_s = 0.0;
    double p2s_max = -1.0;
    std::int64_t n_detections = 0;
    bool drift_detected = false;
    bool warning_detected = false;

    EDDM() = default;
    EDDM(std::int64_t warm_start_, double alpha_, double beta_)
        : warm_start(warm_start_), alpha(alpha_), beta(beta_) {
        if (warm_start < 0) throw std::invalid_argument("warm_start must be >= 0");
        if (!(alpha >= beta)) throw std::invalid_argument("alpha must be >= beta");
    }

    void reset_statistics() {
        n = last_error = n_errors = 0;
        d_n = d_mean = d_s = 0.0;
        p2s_max = -1.0;
        drift_detected = warning_detected = false;
    }

    void reset() {
        reset_statistics();
        n_detections = 0;
    }

    bool update(double x) {
        if (drift_detected) reset_statistics();
        ++n;
        if (x == 1.0) {
            ++n_errors;
            const double d = static_cast<double>(n - last_error);
            const double old = d_mean;
            d_n += 1.0;
            d_mean += (1.0 / d_n) * (d - d_mean);
            d_s += 1.0 * (d - old) * (d - d_mean);
            if (n > warm_start) {
                const double var = d_n > 1.0 ? d_s / (d_n - 1.0) : 0.0;
                const double p2s = d_mean + 2.0 * std::pow(var, 0.5);
                if (p2s > p2s_max) {
                    p2s_max = p2s;
                } else if (n_errors > warm_start) {
                    const double level = p2s / p2s_max;
                    if (level < beta) {
                        drift_detected = true;
                        ++n_detections;
                    } else {
                        warning_detected = level < alpha;
                    }
                }
            }
            last_error = n;
        }
        return drift_detected;
    }
};

// ---------------------------------------------------------------------------------------------
// Exact null distribution of the two-sample Kolmogorov-Smirnov statistic for two samples of
// size n: P(D >= h / n), the probability that a uniformly random interleaving of the two
// samples leaves the band |i - j| < h. Computed with path probabilities (never path counts,
// which overflow), adding up the mass that first touches the boundary.
inline double ks_2samp_sf(std::int64_t n, std::int64_t h) {
    if (h <= 0) return 1.0;
    if (h > n) return 0.0;
    const auto N = static_cast<std::size_t>(n);
    std::vector<double> cur(N + 1, 0.0), nxt(N + 1, 0.0);
    double out = 0.0;
    cur[0] = 1.0;  // cur[i] = mass at (i, j) on the anti-diagonal i + j = s
    for (std::int64_t s = 0; s < 2 * n; ++s) {
        std::fill(nxt.begin(), nxt.end(), 0.0);
        const std::int64_t lo = std::max<std::int64_t>(0, s - n), hi = std::min(s, n);
        for (std::int64_t i = lo; i <= hi; ++i) {
            const double mass = cur[static_cast<std::size_t>(i)];
            if (mass == 0.0) continue;
            const std::int64_t j = s - i;
            const double rem = static_cast<double>(2 * n - s);
            if (i < n) {
                const double pm = mass * static_cast<double>(n - i) / rem;
                if (std::llabs(i + 1 - j) >= h) out += pm;
                else nxt[static_cast<std::size_t>(i + 1)] += pm;
            }
            if (j < n) {
                const double pm = mass * static_cast<double>(n - j) / rem;
                if (std::llabs(i - j - 1) >= h) out += pm;
                else nxt[static_cast<std::size_t>(i)] += pm;
            }
        }
        std::swap(cur, nxt);
    }
    return std::min(1.0, out);
}

// KSWIN (Raab et al. 2020) as river.drift.KSWIN: when the window holds window_size points, a
// random sample of stat_size points from its older part is compared to its stat_size most
// recent points with the two-sample KS test; a drift is a p-value <= alpha with D > 0.1.
// Both samples are kept sorted incrementally, so one test costs O(window_size).
class KSWIN {
   public:
    double alpha = 0.005;
    std::int64_t window_size = 100;
    std::int64_t stat_size = 30;
    std::uint64_t seed = 0;

    std::int64_t n = 0;
    double p_value = 0.0;
    std::int64_t n_detections = 0;
    bool drift_detected = false;
    SplitMix64 rng;
    std::vector<double> window;  // ring buffer, oldest at `head` once full
    std::size_t head = 0;
    std::int64_t seq = 0;        // sequence number of the next point in the window

    KSWIN() { init(); }
    KSWIN(double alpha_, std::int64_t window_size_, std::int64_t stat_size_, std::uint64_t seed_)
        : alpha(alpha_), window_size(window_size_), stat_size(stat_size_), seed(seed_) {
        if (!(alpha >= 0.0 && alpha <= 1.0)) throw std::invalid_argument("alpha must be in [0, 1]");
        if (stat_size < 1) throw std::invalid_argument("stat_size must be >= 1");
        if (window_size <= stat_size)
            throw std::invalid_argument("window_size must be greater than stat_size");
        init();
    }

    void reset() {
        reset_window();
        rng.state = seed;
        n = 0;
        p_value = 0.0;
        n_detections = 0;
        drift_detected = false;
    }

    std::size_t size() const { return window.size(); }

    // The points of the window, oldest first.
    std::vector<double> window_values() const {
        std::vector<double> out;
        out.reserve(window.size());
        for (std::size_t i = 0; i < window.size(); ++i) out.push_back(at(i));
        return out;
    }

    // Restore a window (oldest first) and the statistics; used by deserialisation.
    void restore(const std::vector<double> &values) {
        if (values.size() > static_cast<std::size_t>(window_size))
            throw std::invalid_argument("the window holds more points than window_size");
        reset_window();
        for (double v : values) push(v);
    }

    bool update(double x) {
        // River drops the whole window at the update that follows a detection.
        if (drift_detected) reset_window();
        drift_detected = false;
        ++n;
        push(x);
        if (window.size() < static_cast<std::size_t>(window_size)) return false;
        const std::int64_t d = ks_statistic();
        p_value = pvalue(d);
        const double st = static_cast<double>(d) / static_cast<double>(stat_size);
        if (p_value <= alpha && st > 0.1) {
            drift_detected = true;
            ++n_detections;
        }
        return drift_detected;
    }

   private:
    struct Entry {
        double v;
        std::int64_t seq;
        bool operator<(const Entry &o) const { return v < o.v || (v == o.v && seq < o.seq); }
    };
    std::vector<Entry> old_sorted_;   // the window_size - stat_size oldest points, sorted
    std::vector<double> new_sorted_;  // the stat_size newest points, sorted, then +inf
    std::vector<double> sample_;
    std::vector<unsigned char> mark_;
    std::vector<double> pvalues_;     // P(D >= h / stat_size) for h = 0..stat_size

    void init() {
        pvalues_.resize(static_cast<std::size_t>(stat_size) + 1);
        for (std::int64_t h = 0; h <= stat_size; ++h)
            pvalues_[static_cast<std::size_t>(h)] = ks_2samp_sf(stat_size, h);
        reset();
    }

    double pvalue(std::int64_t d) const { return pvalues_[static_cast<std::size_t>(d)]; }

    void reset_window() {
        window.clear();
        head = 0;
        seq = 0;
        old_sorted_.clear();
        new_sorted_.assign(1, std::numeric_limits<double>::infinity());
    }

    double at(std::size_t i) const {
        return window[(head + i) % window.size()];
    }

    static void erase_value(std::vector<double> &v, double x) {
        auto it = std::lower_bound(v.begin(), v.end(), x);
        v.erase(it);
    }

    void push(double x) {
        const auto W = static_cast<std::size_t>(window_size);
        const auto S = static_cast<std::size_t>(stat_size);
        const std::size_t len = window.size();
        // The point that leaves the newest part (if full) moves to the older part.
        if (len >= S) {
            const double moving = at(len - S);
            const std::int64_t moving_seq = seq - static_cast<std::int64_t>(S);
            erase_value(new_sorted_, moving);
            if (len == W) {
                // the oldest point leaves the window
                const Entry oldest{at(0), seq - static_cast<std::int64_t>(W)};
                old_sorted_.erase(std::lower_bound(old_sorted_.begin(), old_sorted_.end(), oldest));
            }
            const Entry e{moving, moving_seq};
            old_sorted_.insert(std::upper_bound(old_sorted_.begin(), old_sorted_.end(), e), e);
        }
        new_sorted_.insert(std::upper_bound(new_sorted_.begin(), new_sorted_.end(), x), x);
        if (len < W) {
            window.push_back(x);
        } else {
            window[head] = x;
            head = (head + 1) % W;
        }
        ++seq;
    }

    // D * stat_size between a random sample of the older part and the newest part.
    std::int64_t ks_statistic() {
        const auto S = static_cast<std::size_t>(stat_size);
        const auto m = static_cast<std::size_t>(window_size - stat_size);
        // Floyd's sampling of S distinct positions out of m
        mark_.assign(m, 0);
        for (std::size_t j = m - S; j < m; ++j) {
            const auto t = static_cast<std::size_t>(rng.below(j + 1));
            mark_[mark_[t] ? j : t] = 1;
        }
        const std::int64_t first = seq - window_size;  // sequence number of position 0
        // Branch-free gathers and merge: the marks and the order of the two samples are random,
        // so branches on them would mispredict half of the time.
        sample_.resize(S + 1);
        double *a = sample_.data();
        std::size_t cnt = 0;
        for (const Entry &e : old_sorted_) {
            a[cnt] = e.v;
            cnt += mark_[static_cast<std::size_t>(e.seq - first)];
        }
        a[S] = std::numeric_limits<double>::infinity();
        const double *b = new_sorted_.data();  // ends with +inf as well
        // largest gap between the two empirical CDFs, measured once all ties of a value are in
        std::size_t i = 0, j = 0;
        std::int64_t d = 0;
        while (i + j < 2 * S) {
            const double ai = a[i], bj = b[j];
            const double v = ai < bj ? ai : bj;
            i += static_cast<std::size_t>(ai == v);
            j += static_cast<std::size_t>(bj == v);
            const double next = a[i] < b[j] ? a[i] : b[j];
            const std::int64_t gap =
                std::llabs(static_cast<std::int64_t>(i) - static_cast<std::int64_t>(j));
            d = (next > v && gap > d) ? gap : d;
        }
        return d;
    }
};

// ---------------------------------------------------------------------------------------------
// False-alarm calibration.
//
// Before its first detection a detector's state does not depend on its threshold, and it
// fires at the first point where its score (observe_score) exceeds the threshold. So one run
// per replicate with no threshold gives the run length to the first false alarm for every
// threshold at once: it is the first time the running maximum of the score exceeds it. We run
// n_replicates independent bootstrap resamples (with replacement) of the reference, each of
// `horizon` points, keep the records of the running maximum, and estimate the mean run length
// of a threshold h as the exponential maximum-likelihood estimate under censoring:
//     (sum over replicates of min(run length, horizon)) / (number of replicates that fired).
// This estimate grows with h; the returned threshold is the smallest record value whose
// estimate reaches the target.
struct CalibrationResult {
    double threshold = 0.0;
    double mean_run_length = 0.0;  // estimate at the returned threshold (inf: no alarm seen)
    std::int64_t n_alarms = 0;      // replicates that fired at the returned threshold
};

template <class Detector>
CalibrationResult calibrate_threshold(const Detector &proto, const double *ref, std::size_t n_ref,
                                      double target, std::int64_t n_replicates,
                                      std::int64_t horizon, std::uint64_t seed,
                                      unsigned n_threads = 0) {
    if (n_ref == 0) throw std::invalid_argument("the reference stream is empty");
    if (n_replicates < 1 || horizon < 1) throw std::invalid_argument("bad simulation size");
    struct Record {
        std::int64_t t;
        double v;
    };
    std::vector<std::vector<Record>> records(static_cast<std::size_t>(n_replicates));
    // Each replicate has its own generator, so the result does not depend on the threads.
    const auto simulate = [&](std::size_t r) {
        auto &rec = records[r];
        SplitMix64 rng{seed + 0xD1B54A32D192ED03ULL * (r + 1)};
        rng.state = rng.next();
        Detector det = proto;
        det.reset();
        double best = -std::numeric_limits<double>::infinity();
        for (std::int64_t t = 1; t <= horizon; ++t) {
            const double s = det.observe_score(ref[rng.below(n_ref)], best);
            if (s > best) {
                best = s;
                rec.push_back({t, s});
            }
        }
    };
    if (n_threads == 0) n_threads = std::max(1u, std::thread::hardware_concurrency());
    n_threads = static_cast<unsigned>(std::min<std::size_t>(n_threads, records.size()));
    if (n_threads <= 1) {
        for (std::size_t r = 0; r < records.size(); ++r) simulate(r);
    } else {
        std::atomic<std::size_t> next{0};
        std::exception_ptr error;
        std::mutex error_mutex;
        std::vector<std::thread> pool;
        for (unsigned i = 0; i < n_threads; ++i) {
            pool.emplace_back([&] {
                try {
                    for (std::size_t r; (r = next.fetch_add(1)) < records.size();) simulate(r);
                } catch (...) {
                    const std::lock_guard<std::mutex> lock(error_mutex);
                    if (!error) error = std::current_exception();
                    next = records.size();
                }
            });
        }
        for (auto &th : pool) th.join();
        if (error) std::rethrow_exception(error);
    }
    std::vector<double> candidates;
    for (const auto &rec : records)
        for (const Record &r : rec) candidates.push_back(r.v);
    const auto estimate = [&](double h, std::int64_t &alarms) {
        double exposure = 0.0;
        alarms = 0;
        for (const auto &rec : records) {
            // first record above h
            auto it = std::upper_bound(rec.begin(), rec.end(), h,
                                       [](double x, const Record &r) { return x < r.v; });
            if (it == rec.end()) {
                exposure += static_cast<double>(horizon);
            } else {
                exposure += static_cast<double>(it->t);
                ++alarms;
            }
        }
        return alarms == 0 ? std::numeric_limits<double>::infinity()
                           : exposure / static_cast<double>(alarms);
    };
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    // drop -inf (no test yet) so the threshold is a real number
    while (!candidates.empty() && !std::isfinite(candidates.front()) && candidates.front() < 0)
        candidates.erase(candidates.begin());
    CalibrationResult res;
    if (candidates.empty()) {
        res.threshold = 0.0;
        res.mean_run_length = std::numeric_limits<double>::infinity();
        return res;
    }
    std::size_t lo = 0, hi = candidates.size() - 1;  // estimate(candidates[hi]) is inf
    std::int64_t alarms = 0;
    if (estimate(candidates[lo], alarms) >= target) {
        hi = lo;
    } else {
        while (hi - lo > 1) {
            const std::size_t mid = lo + (hi - lo) / 2;
            if (estimate(candidates[mid], alarms) >= target) hi = mid;
            else lo = mid;
        }
    }
    res.threshold = candidates[hi];
    res.mean_run_length = estimate(res.threshold, alarms);
    res.n_alarms = alarms;
    return res;
}

}  // namespace mlwf
