// Tree-ensemble scoring with the exact decision rules of LightGBM and XGBoost.
//
// A Forest is compiled once from the structure-of-arrays export of
// mlwf_core/deploy/_forest.py (see ForestArrays), then immutable: any number of threads
// may score with it at the same time without locks.
//
// Every numeric split is reduced at build time to one rule on float32 inputs,
// "x <= t32 goes left, NaN goes to the default side":
//   - LightGBM compares double(x) <= t (double): t32 is t rounded toward -inf to float,
//     which gives the same answer for every float x. LightGBM also reads |x| <= 1e-35f as
//     0 (its sparse row filter); the threshold is moved out of that band accordingly.
//   - XGBoost compares x < t (float): t32 is the float just below t.
// Nodes that cannot be reduced (categorical splits, LightGBM zero-as-missing splits that
// straddle zero) are "special" and take an exact slow path.
//
// Engines: predict_row walks each tree on the caller's thread without allocating;
// predict_raw tiles rows into blocks, walks every tree over a block with several rows in
// lock-step (independent dependency chains keep the core busy), and splits blocks across
// a pool of threads that sleep on a condition variable when idle.
//
// Kernels: the scalar kernels are the reference and run everywhere. On x86-64 CPUs with
// AVX-512 (F, BW, DQ, VL; checked at run time, the build stays portable) vector kernels
// take over: shallow forests as complete trees and pointer trees 16 rows per vector in
// predict_raw, 16 trees per vector in predict_row. For pointer trees they decide the nodes
// of a tree's first levels (or of the whole tree, up to 64 leaves) for a block's rows at
// once from the rows transposed, with category codes computed once per block, and step
// (or pick the exit leaf) from the decision bits, gathering only below. They add the same leaves in the same
// order, so both give the same bits (tests/test_forest_isa.py checks it). The environment
// variable MLWF_FOREST_ISA=scalar, read when a Forest is built, keeps it on the scalar
// kernels.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(MLWF_NO_AVX512)
#include <immintrin.h>
#define MLWF_HAVE_AVX512 1
// Per-function target: the build stays portable and the kernel is chosen at run time.
#define MLWF_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#else
#define MLWF_HAVE_AVX512 0
#endif

namespace mlwf {

class ForestError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class Link : int { identity = 0, sigmoid = 1, softmax = 2, exp = 3 };

// Non-owning views of the exported arrays (names as in _forest.py); sizes are checked.
struct ForestArrays {
    const int64_t* meta = nullptr;
    int64_t n_meta = 0;
    const double* base = nullptr;
    int64_t n_base = 0;
    const int64_t* tree_ptr = nullptr;
    int64_t n_tree_ptr = 0;
    const int32_t* tree_group = nullptr;
    int64_t n_tree_group = 0;
    const uint8_t* kind = nullptr;
    const uint8_t* flags = nullptr;
    const int32_t* feature = nullptr;
    const double* threshold = nullptr;
    const int32_t* left = nullptr;
    const int32_t* right = nullptr;
    const double* value = nullptr;
    int64_t n_nodes = 0;  // length of each of the seven node arrays
    const int64_t* cat_ptr = nullptr;
    int64_t n_cat_ptr = 0;
    const int64_t* cat_values = nullptr;
    int64_t n_cat_values = 0;
    // linear trees (all null when the forest has none)
    const uint8_t* tree_linear = nullptr;
    int64_t n_tree_linear = 0;
    const int64_t* linear_ptr = nullptr;
    int64_t n_linear_ptr = 0;
    const double* linear_const = nullptr;
    int64_t n_linear_const = 0;
    const int32_t* linear_feature = nullptr;
    const double* linear_coef = nullptr;
    int64_t n_linear = 0;  // length of linear_feature and linear_coef
};

namespace detail {

// ---------------------------------------------------------------- thread pool
// Workers sleep on a condition variable; a job hands out chunks through an atomic
// counter and the calling thread works on its own job too, so a busy pool never blocks.
class ThreadPool {
public:
    static ThreadPool& instance() {
        static ThreadPool pool;
        return pool;
    }

    static int hardware_threads() {
        unsigned n = std::thread::hardware_concurrency();
        return n == 0 ? 1 : static_cast<int>(n);
    }

    // Runs fn(chunk) for chunk in [0, n_chunks) on up to n_threads threads.
    void parallel_for(int64_t n_chunks, int n_threads, const std::function<void(int64_t)>& fn) {
        if (n_threads <= 1 || n_chunks <= 1) {
            for (int64_t c = 0; c < n_chunks; ++c) fn(c);
            return;
        }
        auto job = std::make_shared<Job>();
        job->fn = &fn;
        job->n_chunks = n_chunks;
        int helpers = static_cast<int>(std::min<int64_t>(n_threads, n_chunks)) - 1;
        ensure_workers(helpers);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            for (int i = 0; i < helpers; ++i) queue_.push_back(job);
        }
        if (helpers == 1) {
            cv_.notify_one();
        } else {
            cv_.notify_all();
        }
        run(*job);
        std::unique_lock<std::mutex> lock(job->mutex);
        job->done_cv.wait(lock, [&] { return job->finished == job->n_chunks; });
        if (job->error) std::rethrow_exception(job->error);
    }

    ~ThreadPool() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto& t : workers_) t.join();
    }

private:
    struct Job {
        const std::function<void(int64_t)>* fn = nullptr;
        int64_t n_chunks = 0;
        std::atomic<int64_t> next{0};
        int64_t finished = 0;
        std::mutex mutex;
        std::condition_variable done_cv;
        std::exception_ptr error;
    };

    static void run(Job& job) {
        int64_t local = 0;
        std::exception_ptr err;
        for (;;) {
            int64_t c = job.next.fetch_add(1, std::memory_order_relaxed);
            if (c >= job.n_chunks) break;
            try {
                (*job.fn)(c);
            } catch (...) {
                err = std::current_exception();
            }
            ++local;
        }
        if (local > 0 || err) {
            std::lock_guard<std::mutex> lock(job.mutex);
            job.finished += local;
            if (err && !job.error) job.error = err;
            if (job.finished == job.n_chunks) job.done_cv.notify_all();
        }
    }

    void ensure_workers(int n) {
        std::lock_guard<std::mutex> lock(mutex_);
        while (static_cast<int>(workers_.size()) < n) {
            workers_.emplace_back([this] { loop(); });
        }
    }

    void loop() {
        for (;;) {
            std::shared_ptr<Job> job;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
                if (stop_) return;
                job = std::move(queue_.front());
                queue_.pop_front();
            }
            run(*job);
        }
    }

    ThreadPool() = default;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Job>> queue_;
    std::vector<std::thread> workers_;
    bool stop_ = false;
};

// float32 t such that (x <= t) == (double(x) <= d) for every float x.
inline float round_down_to_float(double d) {
    float f = static_cast<float>(d);
    if (static_cast<double>(f) > d) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
    return f;
}

constexpr uint32_t kDefaultLeft = 1u << 31;
constexpr uint32_t kLeaf = 1u << 30;
constexpr uint32_t kSpecial = 1u << 29;
constexpr uint32_t kCat = 1u << 28;  // LightGBM categorical split evaluated inline (vector kernel)
constexpr uint32_t kFeatureMask = kCat - 1;  // n_features < 2^28
constexpr int kCatInlineWords = 4;  // category sets below 128 evaluated inline
// LightGBM's kZeroThreshold (1e-35f) as the double it is compared as.
constexpr double kLgbZero = static_cast<double>(1e-35f);
constexpr int64_t kMaxCategory = int64_t(1) << 24;
#ifndef MLWF_ROW_LANES
#define MLWF_ROW_LANES 8
#endif
constexpr int kLanes = MLWF_ROW_LANES;  // trees walked in lock-step for one row
#ifndef MLWF_BATCH_LANES
#define MLWF_BATCH_LANES 8
#endif
#ifndef MLWF_BLOCK
#define MLWF_BLOCK 64
#endif
constexpr int kBatchLanes = MLWF_BATCH_LANES;
#ifndef MLWF_COMPLETE_LANES
#define MLWF_COMPLETE_LANES 8
#endif
constexpr int kCompleteLanes = MLWF_COMPLETE_LANES;  // rows in lock-step, complete trees  // rows walked in lock-step in the batch engine
constexpr int64_t kBlock = MLWF_BLOCK;         // rows per block in the batch engine
#ifndef MLWF_COMPLETE_MAX_DEPTH
#define MLWF_COMPLETE_MAX_DEPTH 8  // complete_kernel instantiates depths 1..8
#endif
constexpr int kCompleteMaxDepth = MLWF_COMPLETE_MAX_DEPTH;  // deepest forest laid out complete
#ifndef MLWF_TRANSPOSE_MAX_FEATURES
#define MLWF_TRANSPOSE_MAX_FEATURES 128  // vector batch kernels: rows transposed up to this width
#endif
constexpr int64_t kTransposeMaxFeatures = MLWF_TRANSPOSE_MAX_FEATURES;
#ifndef MLWF_ROW_VECTORS
#define MLWF_ROW_VECTORS 4  // vectors of 16 trees in flight in the AVX-512 row kernel
#endif
#ifndef MLWF_BY_LEAF
#define MLWF_BY_LEAF 1  // pointer_leaf for trees of at most MLWF_BY_LEAF_MAX leaves
#endif
#ifndef MLWF_BY_LEAF_MAX
#define MLWF_BY_LEAF_MAX 64  // 32 or 64
#endif
#ifndef MLWF_POINTER_VECTORS
#define MLWF_POINTER_VECTORS 4  // vectors of 16 rows in lock-step in the AVX-512 pointer kernel
#endif

// Instruction sets of the kernels. The scalar kernels are the reference and the fallback.
enum class Isa : int { scalar = 0, avx512 = 1 };

inline bool cpu_has_avx512() {
#if MLWF_HAVE_AVX512
    static const bool ok = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    }();
    return ok;
#else
    return false;
#endif
}

// The widest instruction set a Forest built now may use: what the CPU has, capped by the
// environment variable MLWF_FOREST_ISA ("auto", "avx512" or "scalar"; read at each build,
// so tests can compare the kernels bit for bit in one process).
inline Isa forest_isa() {
    const char* env = std::getenv("MLWF_FOREST_ISA");
    Isa cap = Isa::avx512;
    if (env != nullptr && *env != '\0' && std::strcmp(env, "auto") != 0) {
        if (std::strcmp(env, "scalar") == 0) {
            cap = Isa::scalar;
        } else if (std::strcmp(env, "avx512") != 0) {
            throw ForestError(std::string("MLWF_FOREST_ISA must be 'auto', 'avx512' or 'scalar'. Got '") +
                              env + "' instead.");
        }
    }
    return (cap == Isa::avx512 && cpu_has_avx512()) ? Isa::avx512 : Isa::scalar;
}

}  // namespace detail

enum NodeKind : uint8_t { kLeafNode = 0, kLgbNum = 1, kXgbNum = 2, kLgbCat = 3, kXgbCat = 4 };

class Forest {
public:
    // Compiled node: 16 bytes. Leaves loop to themselves (threshold +inf, default left)
    // so lanes that reached a leaf can keep stepping harmlessly.
    struct Node {
        float thr;       // split value, or the special-node index for special nodes
        uint32_t feat;   // feature | kDefaultLeft | kLeaf | kSpecial
        int32_t left;    // global node index
        int32_t right;
    };
    struct CNode {
        float thr;
        uint32_t feat;
    };
    struct Special {
        uint8_t kind;
        uint8_t missing_type;  // LightGBM: 0 None, 1 Zero, 2 NaN
        bool default_left;
        uint32_t n_words;      // category bitset: cat_words_[words_begin, +n_words)
        int64_t words_begin;
        double thr;            // LightGBM numeric threshold (double)
    };

    // pointer_top: per tree, its inner nodes of depth <= 4 and of the levels below decided
    // the same way (each in three runs: numeric NaN-left, numeric NaN-right, categorical),
    // their 128-bit sets (16 words, the last 12 zero) and the categorical features whose
    // codes a block computes
    struct TopNode {
        uint32_t col;  // feature (numeric) or index in top_cat_features_ (categorical)
        float thr;
        uint32_t bit;  // 1 << (slot - first slot of its level; 0 for depth <= 4)
        uint32_t set;  // categorical: index of its set in top_sets_
        uint32_t bit_hi;  // pointer_leaf of trees over 32 leaves: mask of leaves 32..63
    };
    struct TopLevel {
        int32_t first = 0;  // first slot of the level (0 for depth <= 4)
        uint32_t leaf_bits = 0;
        int64_t begin = 0;          // its nodes in top_nodes_
        int32_t n[3] = {0, 0, 0};   // NaN-left numeric, numeric, categorical
    };
    struct TopTree {
        bool ok = false;    // every node of depth <= 4 is numeric or an inline categorical
        bool deep = false;  // has inner nodes below the levels decided here
        int64_t level = 0;  // top_levels_[level, level + n_levels): depth <= 4, then 5, 6, ...
        int32_t n_levels = 0;
        // at most 64 leaves and no special node: pointer_leaf instead (its nodes' masks in
        // top_levels_[level], its leaves' slots left to right in leaf_slots_[64 t, +64))
        bool by_leaf = false;
        bool wide_leaf = false;  // over 32 leaves: two words per lane
    };

    Forest() = default;

    explicit Forest(const ForestArrays& a) { build(a); }

    int64_t n_features() const { return n_features_; }
    int64_t n_groups() const { return n_groups_; }
    int64_t n_trees() const { return static_cast<int64_t>(roots_.size()); }
    int64_t n_nodes() const { return static_cast<int64_t>(nodes_.size()); }
    Link link() const { return link_; }
    bool has_linear() const { return has_linear_; }
    int max_depth() const { return max_depth_; }

    // Raw margins of one row into out[0..n_groups): caller's thread, no allocation.
    // Trees are walked kLanes at a time in lock-step: independent chains of loads keep
    // the core busy where one walk would wait on each node in turn. Leaves add up in
    // tree order, as in the learners.
    void predict_row_raw(const float* x, double* out) const {
        for (int64_t g = 0; g < n_groups_; ++g) out[g] = 0.0;
        if (has_linear_) {
            for (int64_t t = 0; t < n_trees(); ++t) out[groups_[t]] += leaf_output(walk(roots_[t], x), x);
        }
#if MLWF_HAVE_AVX512
        else if (simd_row_) {
            row_avx512(x, out);
        }
#endif
        else if (n_special_ > 0) {
            row_lanes<true>(x, out);
        } else {
            row_lanes<false>(x, out);
        }
        for (int64_t g = 0; g < n_groups_; ++g) out[g] += base_[g];
    }

    // Predictions (after the link) of one row into out[0..n_groups).
    void predict_row(const float* x, double* out) const {
        predict_row_raw(x, out);
        apply_link(out, 1);
    }

    // Raw margins of n rows (row-major, n_features columns) into out[n * n_groups].
    void predict_raw(const float* X, int64_t n, double* out, int n_threads = 0) const {
        if (n <= 0) return;
        if (n_threads <= 0) n_threads = detail::ThreadPool::hardware_threads();
        const int64_t n_blocks = (n + detail::kBlock - 1) / detail::kBlock;
        // several blocks per chunk keeps scheduling overhead small on big inputs
        const int64_t per_chunk = std::max<int64_t>(1, n_blocks / (int64_t(n_threads) * 8));
        const int64_t n_chunks = (n_blocks + per_chunk - 1) / per_chunk;
        std::function<void(int64_t)> fn = [&](int64_t c) {
            int64_t b0 = c * per_chunk;
            int64_t b1 = std::min(n_blocks, b0 + per_chunk);
            for (int64_t b = b0; b < b1; ++b) {
                int64_t r0 = b * detail::kBlock;
                int64_t r1 = std::min(n, r0 + detail::kBlock);
                predict_block(X + r0 * n_features_, r1 - r0, out + r0 * n_groups_);
            }
        };
        detail::ThreadPool::instance().parallel_for(n_chunks, n_threads, fn);
    }

    void predict(const float* X, int64_t n, double* out, int n_threads = 0) const {
        predict_raw(X, n, out, n_threads);
        apply_link(out, n);
    }

    // Applies the link in place to n rows of n_groups raw margins.
    void apply_link(double* out, int64_t n) const {
        switch (link_) {
            case Link::identity:
                return;
            case Link::sigmoid:
                for (int64_t i = 0; i < n * n_groups_; ++i) out[i] = 1.0 / (1.0 + std::exp(-out[i]));
                return;
            case Link::exp:
                for (int64_t i = 0; i < n * n_groups_; ++i) out[i] = std::exp(out[i]);
                return;
            case Link::softmax:
                for (int64_t r = 0; r < n; ++r) {
                    double* o = out + r * n_groups_;
                    double m = o[0];
                    for (int64_t g = 1; g < n_groups_; ++g) m = std::max(m, o[g]);
                    double s = 0.0;
                    for (int64_t g = 0; g < n_groups_; ++g) {
                        o[g] = std::exp(o[g] - m);
                        s += o[g];
                    }
                    for (int64_t g = 0; g < n_groups_; ++g) o[g] /= s;
                }
                return;
        }
    }

private:
    // -------------------------------------------------------------- decisions
#if defined(__GNUC__)
    __attribute__((noinline))
#endif
    bool special_left(const Special& s, float xf) const {
        double x = static_cast<double>(xf);
        switch (s.kind) {
            case kLgbNum: {
                if (std::fabs(x) <= detail::kLgbZero) x = 0.0;
                if (std::isnan(x) && s.missing_type != 2) x = 0.0;
                if ((s.missing_type == 1 && std::fabs(x) <= detail::kLgbZero) ||
                    (s.missing_type == 2 && std::isnan(x))) {
                    return s.default_left;
                }
                return x <= s.thr;
            }
            case kLgbCat: {
                if (std::fabs(x) <= detail::kLgbZero) x = 0.0;
                if (std::isnan(x)) return false;
                // int conversion as LightGBM's static_cast<int> on x86: out of range -> INT_MIN
                if (!(x > -2147483649.0 && x < 2147483648.0)) return false;
                int c = static_cast<int>(x);
                if (c < 0) return false;
                return in_set(s, c);
            }
            case kXgbCat: {
                if (std::isnan(xf)) return s.default_left;
                if (xf < 0.0f || xf >= static_cast<float>(detail::kMaxCategory)) return true;
                return !in_set(s, static_cast<int64_t>(xf));
            }
            default:
                return false;
        }
    }

    // LightGBM categorical splits inline (the common special node); other kinds call out.
    bool special_fast(int32_t index, float v) const {
        const Special& s = specials_[static_cast<size_t>(index)];
        if (s.kind == kLgbCat) {
            // NaN and values that truncate below 0 go right; (-1, 0] truncates to category 0
            if (!(v > -1.0f) || !(v < 2147483648.0f)) return false;
            const uint32_t c = static_cast<uint32_t>(static_cast<int32_t>(v));
            const uint32_t w = c >> 5;
            return w < s.n_words && ((cat_words_[static_cast<size_t>(s.words_begin + w)] >> (c & 31)) & 1u);
        }
        return special_left(s, v);
    }

    bool in_set(const Special& s, int64_t c) const {
        int64_t w = c >> 5;
        if (w >= static_cast<int64_t>(s.n_words)) return false;
        return (cat_words_[s.words_begin + w] >> (c & 31)) & 1u;
    }

    int32_t step(const Node& nd, const float* x) const {
        float v = x[nd.feat & detail::kFeatureMask];
        bool go_left;
        if (nd.feat & detail::kSpecial) {
            go_left = special_fast(as_index(nd.thr), v);
        } else {
            go_left = (v <= nd.thr) || (std::isnan(v) && (nd.feat & detail::kDefaultLeft));
        }
        return go_left ? nd.left : nd.right;
    }

    static int32_t as_index(float thr) {
        int32_t i;
        std::memcpy(&i, &thr, sizeof i);
        return i;
    }

    int32_t walk(int32_t i, const float* x) const {
        while (!(nodes_[i].feat & detail::kLeaf)) i = step(nodes_[i], x);
        return i;
    }

    int32_t walk_fast(int32_t i, const float* x) const {
        for (;;) {
            const Node& nd = nodes_[i];
            if (nd.feat & detail::kLeaf) return i;
            float v = x[nd.feat & detail::kFeatureMask];
            bool go_left = (v <= nd.thr) || (std::isnan(v) && (nd.feat & detail::kDefaultLeft));
            i = go_left ? nd.left : nd.right;
        }
    }

    double leaf_output(int32_t leaf, const float* x) const {
        if (!has_linear_) return value_[leaf];
        int32_t k = leaf_linear_[leaf];
        if (k < 0) return value_[leaf];
        double out = linear_const_[k];
        for (int64_t j = linear_ptr_[k]; j < linear_ptr_[k + 1]; ++j) {
            double v = static_cast<double>(x[linear_feature_[j]]);
            if (std::isnan(v)) return value_[leaf];
            out += linear_coef_[j] * v;
        }
        return out;
    }

    // Recomputes the step of the lanes in `special` (bit l = lane l) by the exact rule.
    template <typename RowOf>
    void fix_specials(uint32_t special, const int32_t* idx, int32_t* next, RowOf row_of) const {
        while (special) {
            const int l = __builtin_ctz(special);
            special &= special - 1;
            const Node& nd = nodes_[static_cast<size_t>(idx[l])];
            const float v = row_of(l)[nd.feat & detail::kFeatureMask];
            next[l] = special_fast(as_index(nd.thr), v) ? nd.left : nd.right;
        }
    }

    template <bool Special>
    void row_lanes(const float* x, double* out) const {
        row_lanes_range<Special>(x, out, 0, n_trees());
    }

    template <bool Special>
    void row_lanes_range(const float* x, double* out, int64_t t0, int64_t n_trees) const {
        constexpr int L = detail::kLanes;
        const Node* nodes = nodes_.data();
        int64_t t = t0;
        int32_t idx[L];
        for (; t + L <= n_trees; t += L) {
            for (int l = 0; l < L; ++l) idx[l] = roots_[t + l];
            for (;;) {
                uint32_t active = 0, special = 0;
                int32_t next[L];
                for (int l = 0; l < L; ++l) {
                    const Node& nd = nodes[idx[l]];
                    active |= ~nd.feat & detail::kLeaf;
                    if (Special) special |= ((nd.feat >> 29) & 1u) << l;
                    const float v = x[nd.feat & detail::kFeatureMask];
                    const bool go_left = (v <= nd.thr) | ((v != v) & ((nd.feat >> 31) != 0));
                    next[l] = go_left ? nd.left : nd.right;
                }
                // special nodes are patched after the branch-free pass over all lanes
                if (Special && special) fix_specials(special, idx, next, [&](int) { return x; });
                for (int l = 0; l < L; ++l) idx[l] = next[l];
                if (!active) break;
            }
            if (n_groups_ == 1) {
                double acc = out[0];
                for (int l = 0; l < L; ++l) acc += value_[idx[l]];
                out[0] = acc;
            } else {
                for (int l = 0; l < L; ++l) out[groups_[t + l]] += value_[idx[l]];
            }
        }
        for (; t < n_trees; ++t) {
            out[groups_[t]] += value_[Special ? walk(roots_[t], x) : walk_fast(roots_[t], x)];
        }
    }

    // -------------------------------------------------------------- batch engine
    template <bool Special>
    void walk_lanes(int32_t root, const float* X, int64_t stride, int32_t* idx) const {
        for (int l = 0; l < detail::kBatchLanes; ++l) idx[l] = root;
        const Node* nodes = nodes_.data();
        for (;;) {
            uint32_t active = 0, special = 0;
            int32_t next[detail::kBatchLanes];
            for (int l = 0; l < detail::kBatchLanes; ++l) {
                const Node& nd = nodes[idx[l]];
                active |= ~nd.feat & detail::kLeaf;
                if (Special) special |= ((nd.feat >> 29) & 1u) << l;
                const float v = X[l * stride + (nd.feat & detail::kFeatureMask)];
                const bool go_left = (v <= nd.thr) | ((v != v) & ((nd.feat >> 31) != 0));
                next[l] = go_left ? nd.left : nd.right;
            }
            if (Special && special) fix_specials(special, idx, next, [&](int l) { return X + l * stride; });
            for (int l = 0; l < detail::kBatchLanes; ++l) idx[l] = next[l];
            if (!active) return;
        }
    }

    template <bool Special>
    void block_kernel(const float* X, int64_t n, double* out) const {
        const int64_t nf = n_features_;
        const int64_t K = n_groups_;
        const int64_t n_trees = this->n_trees();
        alignas(64) int32_t idx[detail::kBatchLanes];
        int64_t full = n - n % detail::kBatchLanes;
        for (int64_t t = 0; t < n_trees; ++t) {
            const int32_t root = roots_[t];
            const int64_t g = groups_[t];
            for (int64_t r = 0; r < full; r += detail::kBatchLanes) {
                walk_lanes<Special>(root, X + r * nf, nf, idx);
                for (int l = 0; l < detail::kBatchLanes; ++l) out[(r + l) * K + g] += value_[idx[l]];
            }
            for (int64_t r = full; r < n; ++r) {
                out[r * K + g] += value_[Special ? walk(root, X + r * nf) : walk_fast(root, X + r * nf)];
            }
        }
    }

    void predict_block(const float* X, int64_t n, double* out) const {
        if (has_linear_) {
            for (int64_t r = 0; r < n; ++r) predict_row_raw(X + r * n_features_, out + r * n_groups_);
            return;
        }
        for (int64_t i = 0; i < n * n_groups_; ++i) out[i] = 0.0;
        if (!complete_nodes_.empty()) {
#if MLWF_HAVE_AVX512
            if (simd_complete_) {
                if (n_special_ > 0) {
                    complete_avx512<true>(X, n, out);
                } else {
                    complete_avx512<false>(X, n, out);
                }
            } else
#endif
            if (n_special_ > 0) {
                complete_kernel<true>(X, n, out);
            } else {
                complete_kernel<false>(X, n, out);
            }
        }
#if MLWF_HAVE_AVX512
        else if (simd_pointer_) {
            pointer_avx512(X, n, out);
        }
#endif
        else if (n_special_ > 0) {
            block_kernel<true>(X, n, out);
        } else {
            block_kernel<false>(X, n, out);
        }
        for (int64_t r = 0; r < n; ++r) {
            for (int64_t g = 0; g < n_groups_; ++g) out[r * n_groups_ + g] += base_[g];
        }
    }

    // Shallow forests: every tree as a complete binary tree of depth D (8-byte nodes,
    // children of i at 2i+1 and 2i+2, no pointers), walked D steps without a branch.
    template <bool Special, int D>
    void complete_kernel_d(const float* X, int64_t n, double* out) const {
        constexpr int L = detail::kCompleteLanes;
        constexpr int64_t n_inner = (int64_t(1) << D) - 1;
        constexpr int64_t n_leaf = int64_t(1) << D;
        const int64_t nf = n_features_;
        const int64_t K = n_groups_;
        const int64_t n_trees = this->n_trees();
        const int64_t full = n - n % L;
        for (int64_t t = 0; t < n_trees; ++t) {
            const CNode* nodes = complete_nodes_.data() + t * n_inner;
            const double* leaves = complete_values_.data() + t * n_leaf;
            const int64_t g = groups_[t];
            auto step = [&](uint32_t i, const float* x) -> uint32_t {
                const CNode nd = nodes[i];
                const float v = x[nd.feat & detail::kFeatureMask];
                bool go_left;
                if (Special && (nd.feat & detail::kSpecial)) {
                    go_left = special_fast(as_index(nd.thr), v);
                } else {
                    go_left = (v <= nd.thr) | ((v != v) & ((nd.feat >> 31) != 0));
                }
                return 2 * i + 2 - static_cast<uint32_t>(go_left);
            };
            for (int64_t r = 0; r < full; r += L) {
                uint32_t idx[L] = {0};
                for (int d = 0; d < D; ++d) {
                    for (int l = 0; l < L; ++l) idx[l] = step(idx[l], X + (r + l) * nf);
                }
                for (int l = 0; l < L; ++l) out[(r + l) * K + g] += leaves[idx[l] - n_inner];
            }
            for (int64_t r = full; r < n; ++r) {
                uint32_t i = 0;
                for (int d = 0; d < D; ++d) i = step(i, X + r * nf);
                out[r * K + g] += leaves[i - n_inner];
            }
        }
    }

    template <bool Special>
    void complete_kernel(const float* X, int64_t n, double* out) const {
        switch (complete_depth_) {
            case 1: return complete_kernel_d<Special, 1>(X, n, out);
            case 2: return complete_kernel_d<Special, 2>(X, n, out);
            case 3: return complete_kernel_d<Special, 3>(X, n, out);
            case 4: return complete_kernel_d<Special, 4>(X, n, out);
            case 5: return complete_kernel_d<Special, 5>(X, n, out);
            case 6: return complete_kernel_d<Special, 6>(X, n, out);
            case 7: return complete_kernel_d<Special, 7>(X, n, out);
            default: return complete_kernel_d<Special, 8>(X, n, out);
        }
    }

#if MLWF_HAVE_AVX512
    // ---------------------------------------------------------- AVX-512 kernels
    // Complete trees, 16 rows per vector and V vectors in flight per tree. pos is the
    // node's index within its level; a level's fields come from registers (levels 0..5:
    // broadcast, permutes of one or two vectors) or gathers (deeper levels), the inputs
    // from a gather at row * n_features + feature. Leaves are gathered as doubles and
    // added in tree order, so every row sums exactly as in the scalar kernel.
    // The rows feature by feature (buf[f * n + r]) when there are few features, else null.
    const float* transpose_rows(const float* X, int64_t n, float* buf) const {
        const int64_t nf = n_features_;
        if (nf > detail::kTransposeMaxFeatures) return nullptr;
        for (int64_t r = 0; r < n; ++r) {
            for (int64_t f = 0; f < nf; ++f) buf[f * n + r] = X[r * nf + f];
        }
        return buf;
    }

    // Feature feat (flags masked off) of the 16 rows of transposed rows at col.
    MLWF_AVX512 static __m512 column(const float* col, uint32_t feat, int64_t stride) {
        return _mm512_load_ps(col + static_cast<int64_t>(feat & detail::kFeatureMask) * stride);
    }

    template <int d>
    MLWF_AVX512 static __m512i level_field(const uint32_t* a, __m512i pos) {
        constexpr int off = (1 << d) - 1;
        if constexpr (d == 0) {
            return _mm512_set1_epi32(static_cast<int>(a[0]));
        } else if constexpr (d <= 4) {
            return _mm512_permutexvar_epi32(pos, _mm512_loadu_si512(a + off));
        } else if constexpr (d == 5) {
            return _mm512_permutex2var_epi32(_mm512_loadu_si512(a + off), pos, _mm512_loadu_si512(a + off + 16));
        } else {
            return _mm512_i32gather_epi32(pos, a + off, 4);
        }
    }

    // Lanes in `sp` sit on special nodes: their decisions by the exact scalar rule.
    MLWF_AVX512 __mmask16 fix_special_lanes(__mmask16 sp, __mmask16 left, __m512 thr, __m512 x) const {
        alignas(64) float ts[16];
        alignas(64) float xs[16];
        _mm512_store_ps(ts, thr);
        _mm512_store_ps(xs, x);
        uint32_t m = sp;
        uint32_t l32 = left;
        while (m) {
            const int l = __builtin_ctz(m);
            m &= m - 1;
            const uint32_t bit = 1u << l;
            l32 = special_fast(as_index(ts[l]), xs[l]) ? (l32 | bit) : (l32 & ~bit);
        }
        return static_cast<__mmask16>(l32);
    }

    template <bool Special, int d, int D, int V>
    MLWF_AVX512 void complete_levels(const uint32_t* th, const uint32_t* fe, const float* X, int64_t vstride,
                                     __m512i lane_off, __m512i* pos, const float* xt) const {
        if constexpr (d < D) {
            const __m512i fmask = _mm512_set1_epi32(static_cast<int>(detail::kFeatureMask));
            const __m512i one = _mm512_set1_epi32(1);
            const __m512i tv_all = level_field<d>(th, pos[0]);
            const __m512i fv_all = level_field<d>(fe, pos[0]);
            for (int v = 0; v < V; ++v) {
                const __m512i fv = (d == 0 || v == 0) ? fv_all : level_field<d>(fe, pos[v]);
                const __m512 tv = _mm512_castsi512_ps((d == 0 || v == 0) ? tv_all : level_field<d>(th, pos[v]));
                __m512 x;
                if (d <= 2 && xt != nullptr) {
                    // up to four features over the vector's rows: loads from the transposed rows
                    const float* col = xt + v * 16;
                    if constexpr (d == 0) {
                        x = column(col, fe[0], 16 * V);
                    } else if constexpr (d == 1) {
                        x = _mm512_mask_blend_ps(_mm512_test_epi32_mask(pos[v], one), column(col, fe[1], 16 * V), column(col, fe[2], 16 * V));
                    } else {
                        const __mmask16 b0 = _mm512_test_epi32_mask(pos[v], one);
                        const __mmask16 b1 = _mm512_test_epi32_mask(pos[v], _mm512_set1_epi32(2));
                        x = _mm512_mask_blend_ps(b1, _mm512_mask_blend_ps(b0, column(col, fe[3], 16 * V), column(col, fe[4], 16 * V)),
                                                 _mm512_mask_blend_ps(b0, column(col, fe[5], 16 * V), column(col, fe[6], 16 * V)));
                    }
                } else {
                    const __m512i xi = _mm512_add_epi32(lane_off, _mm512_and_si512(fv, fmask));
                    x = _mm512_i32gather_ps(xi, X + v * vstride, 4);
                }
                __mmask16 left = _mm512_cmp_ps_mask(x, tv, _CMP_LE_OQ);
                const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
                left |= nan & _mm512_test_epi32_mask(fv, _mm512_set1_epi32(static_cast<int>(detail::kDefaultLeft)));
                if (Special) {
                    const __mmask16 sp = _mm512_test_epi32_mask(fv, _mm512_set1_epi32(static_cast<int>(detail::kSpecial)));
                    if (sp) left = fix_special_lanes(sp, left, tv, x);
                }
                const __m512i twice = _mm512_add_epi32(_mm512_add_epi32(pos[v], pos[v]), one);
                pos[v] = _mm512_mask_sub_epi32(twice, left, twice, one);
            }
            complete_levels<Special, d + 1, D, V>(th, fe, X, vstride, lane_off, pos, xt);
        }
    }

    // 16 * V rows starting at X; raw margins (without the base) into out.
    template <bool Special, int D, int V>
    MLWF_AVX512 void complete_rows_avx512(const float* X, double* out) const {
        constexpr int64_t n_inner = (int64_t(1) << D) - 1;
        constexpr int64_t n_leaf = int64_t(1) << D;
        const int64_t nf = n_features_;
        const int64_t K = n_groups_;
        const int64_t n_trees = this->n_trees();
        const __m512i lane_off =
            _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                               _mm512_set1_epi32(static_cast<int>(nf)));
        alignas(64) float xt_buf[detail::kTransposeMaxFeatures * 16 * V];
        const float* xt = transpose_rows(X, 16 * V, xt_buf);
        __m512d acc[V][2];
        for (int v = 0; v < V; ++v) acc[v][0] = acc[v][1] = _mm512_setzero_pd();
        for (int64_t t = 0; t < n_trees; ++t) {
            const uint32_t* th = complete_thr_.data() + t * n_inner;
            const uint32_t* fe = complete_feat_.data() + t * n_inner;
            const double* leaves = complete_values_.data() + t * n_leaf;
            __m512i pos[V];
            for (int v = 0; v < V; ++v) pos[v] = _mm512_setzero_si512();
            complete_levels<Special, 0, D, V>(th, fe, X, 16 * nf, lane_off, pos, xt);
            if (K == 1) {
                for (int v = 0; v < V; ++v) {
                    acc[v][0] = _mm512_add_pd(acc[v][0], _mm512_i32gather_pd(_mm512_castsi512_si256(pos[v]), leaves, 8));
                    acc[v][1] = _mm512_add_pd(acc[v][1],
                                              _mm512_i32gather_pd(_mm512_extracti64x4_epi64(pos[v], 1), leaves, 8));
                }
            } else {
                const int64_t g = groups_[t];
                alignas(64) int32_t p[16];
                for (int v = 0; v < V; ++v) {
                    _mm512_store_si512(p, pos[v]);
                    for (int l = 0; l < 16; ++l) out[(v * 16 + l) * K + g] += leaves[p[l]];
                }
            }
        }
        if (K == 1) {
            for (int v = 0; v < V; ++v) {
                _mm512_storeu_pd(out + v * 16, acc[v][0]);
                _mm512_storeu_pd(out + v * 16 + 8, acc[v][1]);
            }
        }
    }

    template <bool Special, int D>
    MLWF_AVX512 void complete_avx512_d(const float* X, int64_t n, double* out) const {
        constexpr int V = 4;
        const int64_t nf = n_features_;
        const int64_t K = n_groups_;
        int64_t r = 0;
        for (; r + 16 * V <= n; r += 16 * V) complete_rows_avx512<Special, D, V>(X + r * nf, out + r * K);
        for (; r + 16 <= n; r += 16) complete_rows_avx512<Special, D, 1>(X + r * nf, out + r * K);
        if (r < n) complete_kernel_d<Special, D>(X + r * nf, n - r, out + r * K);
    }

    template <bool Special>
    void complete_avx512(const float* X, int64_t n, double* out) const {
        switch (complete_depth_) {
            case 1: return complete_avx512_d<Special, 1>(X, n, out);
            case 2: return complete_avx512_d<Special, 2>(X, n, out);
            case 3: return complete_avx512_d<Special, 3>(X, n, out);
            case 4: return complete_avx512_d<Special, 4>(X, n, out);
            case 5: return complete_avx512_d<Special, 5>(X, n, out);
            case 6: return complete_avx512_d<Special, 6>(X, n, out);
            case 7: return complete_avx512_d<Special, 7>(X, n, out);
            default: return complete_avx512_d<Special, 8>(X, n, out);
        }
    }

    // Pointer trees, 16 rows per vector, V vectors in lock-step over one tree. The nodes
    // are copied by field in breadth-first order with siblings side by side (right child =
    // left child + 1), so the first 31 slots of a tree hold every node of depth <= 4 and
    // the first five steps take their fields from registers; deeper steps gather. LightGBM
    // categorical splits with categories below 128 are decided inline from a 4-word bitset
    // (kCat); the other special nodes take the exact scalar rule. When the block's rows are
    // transposed and a tree has no special node in its first five levels, pointer_top
    // replaces the steps down to the first level wider than 32 slots (decisions of all the
    // nodes there, then one shift per step); deeper lanes go on with gathers. Trees of at
    // most 64 leaves without special nodes take no steps at all (pointer_leaf).
    template <int Step>
    MLWF_AVX512 static __m512i top_field(const __m512i* tab, const uint32_t* a, __m512i rel, __m512i idx) {
        if constexpr (Step == 0) {
            (void)tab;
            (void)rel;
            (void)idx;
            return _mm512_set1_epi32(static_cast<int>(a[0]));
        } else if constexpr (Step <= 4) {
            (void)a;
            (void)idx;
            return _mm512_permutex2var_epi32(tab[0], rel, tab[1]);
        } else {
            (void)tab;
            (void)rel;
            return _mm512_i32gather_epi32(idx, a, 4);
        }
    }

    // Word (c >> 5) of the category set of top slot rel, from the tree's 128 top words in
    // eight registers (4 words per slot): four permutes and three blends, no gather.
    MLWF_AVX512 static __m512i top_word(const __m512i* tw, __m512i rel, __m512i c) {
        const __m512i i = _mm512_add_epi32(_mm512_slli_epi32(rel, 2), _mm512_srli_epi32(c, 5));
        const __mmask16 b5 = _mm512_test_epi32_mask(i, _mm512_set1_epi32(32));
        const __mmask16 b6 = _mm512_test_epi32_mask(i, _mm512_set1_epi32(64));
        const __m512i q0 = _mm512_mask_blend_epi32(b5, _mm512_permutex2var_epi32(tw[0], i, tw[1]),
                                                   _mm512_permutex2var_epi32(tw[2], i, tw[3]));
        const __m512i q1 = _mm512_mask_blend_epi32(b5, _mm512_permutex2var_epi32(tw[4], i, tw[5]),
                                                   _mm512_permutex2var_epi32(tw[6], i, tw[7]));
        return _mm512_mask_blend_epi32(b6, q0, q1);
    }

    template <bool Special, bool Cat>
    MLWF_AVX512 __mmask16 pointer_decide(__m512i fv, __m512 tv, __m512 x, const __m512i* tw = nullptr,
                                         __m512i rel = _mm512_setzero_si512()) const {
        __mmask16 left = _mm512_cmp_ps_mask(x, tv, _CMP_LE_OQ);
        const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
        left |= nan & _mm512_test_epi32_mask(fv, _mm512_set1_epi32(static_cast<int>(detail::kDefaultLeft)));
        if (Cat) {
            const __mmask16 cm = _mm512_test_epi32_mask(fv, _mm512_set1_epi32(static_cast<int>(detail::kCat)));
            if (cm) {
                // NaN and values <= -1 clamp to -1 (right), (-1, 0] truncates to 0, >= 128 is right
                const __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-1.0f)), _mm512_set1_ps(128.0f));
                const __m512i c = _mm512_cvttps_epi32(xc);
                const __mmask16 in = cm & _mm512_cmplt_epu32_mask(c, _mm512_set1_epi32(32 * detail::kCatInlineWords));
                __m512i w;
                if (tw != nullptr) {
                    w = top_word(tw, rel, c);
                } else {
                    const __m512i wi = _mm512_add_epi32(_mm512_castps_si512(tv), _mm512_srli_epi32(c, 5));
                    w = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), in, wi, vcat_words_.data(), 4);
                }
                const __m512i bit = _mm512_srlv_epi32(w, _mm512_and_si512(c, _mm512_set1_epi32(31)));
                const __mmask16 cat_left = in & _mm512_test_epi32_mask(bit, _mm512_set1_epi32(1));
                left = (left & ~cm) | cat_left;
            }
        }
        if (Special) {
            const __mmask16 sp = _mm512_test_epi32_mask(fv, _mm512_set1_epi32(static_cast<int>(detail::kSpecial)));
            if (sp) left = fix_special_lanes(sp, left, tv, x);
        }
        return left;
    }

    // One step of the V vectors that still have a lane off a leaf; clears `live` bits.
    template <bool Special, bool Cat, int V, int Step>
    MLWF_AVX512 void pointer_step(const __m512i* tf, const __m512i* tt, const __m512i* tl, const __m512i* tw,
                                  int32_t base, const float* X, int64_t vstride, __m512i lane_off, __m512i* idx,
                                  uint32_t& live, const float* xt) const {
        const __m512i fmask = _mm512_set1_epi32(static_cast<int>(detail::kFeatureMask));
        const __m512i one = _mm512_set1_epi32(1);
        const __m512i vbase = _mm512_set1_epi32(base);
        for (int v = 0; v < V; ++v) {
            if (!((live >> v) & 1u)) continue;
            const __m512i rel = _mm512_sub_epi32(idx[v], vbase);
            const __m512i fv = top_field<Step>(tf, vfeat_.data() + (Step == 0 ? base : 0), rel, idx[v]);
            if (Step > 0 && _mm512_test_epi32_mask(fv, _mm512_set1_epi32(static_cast<int>(detail::kLeaf))) ==
                                0xFFFF) {
                live &= ~(1u << v);
                continue;
            }
            const __m512 tv =
                _mm512_castsi512_ps(top_field<Step>(tt, vthr_.data() + (Step == 0 ? base : 0), rel, idx[v]));
            const __m512i lv = top_field<Step>(tl, reinterpret_cast<const uint32_t*>(vleft_.data()) + (Step == 0 ? base : 0),
                                               rel, idx[v]);
            __m512 x;
            if (Step <= 1 && xt != nullptr) {
                // one or two features over the vector's rows: loads from the transposed rows
                const float* col = xt + v * 16;
                const size_t b = static_cast<size_t>(base);
                if constexpr (Step == 0) {
                    x = _mm512_load_ps(col + (vfeat_[b] & detail::kFeatureMask) * 16 * V);
                } else {
                    x = _mm512_mask_blend_ps(_mm512_cmpeq_epi32_mask(rel, _mm512_set1_epi32(2)),
                                             _mm512_load_ps(col + (vfeat_[b + 1] & detail::kFeatureMask) * 16 * V),
                                             _mm512_load_ps(col + (vfeat_[b + 2] & detail::kFeatureMask) * 16 * V));
                }
            } else {
                const __m512i xi = _mm512_add_epi32(lane_off, _mm512_and_si512(fv, fmask));
                x = _mm512_i32gather_ps(xi, X + v * vstride, 4);
            }
            const __mmask16 left = pointer_decide<Special, Cat>(fv, tv, x, Step <= 4 ? tw : nullptr, rel);
            idx[v] = _mm512_mask_add_epi32(lv, static_cast<__mmask16>(~left), lv, one);
        }
    }

    // Steps below depth 4 on 8-byte nodes (threshold and meta in one 64-bit gather per 8
    // lanes): every vector steps until all are on leaves (a leaf loops to itself).
    template <bool Special, bool Cat, int V>
    MLWF_AVX512 void pointer_deep_packed(const float* X, int64_t vstride, __m512i lane_off, __m512i* idx) const {
        const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        const __m512i one = _mm512_set1_epi32(1);
        const __m512i rel_mask = _mm512_set1_epi32(0xFFFF);
        const __m512i feat_mask = _mm512_set1_epi32(0xFFF);
        const __m512i leaf_bit = _mm512_set1_epi32(static_cast<int>(detail::kLeaf));
        const long long* nodes = reinterpret_cast<const long long*>(vnode64_.data());
        uint32_t busy = (1u << V) - 1u;
        for (;;) {
            __m512i lo[V], hi[V];
            for (int v = 0; v < V; ++v) {
                if (!((busy >> v) & 1u)) continue;
                lo[v] = _mm512_i32gather_epi64(_mm512_castsi512_si256(idx[v]), nodes, 8);
                hi[v] = _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(idx[v], 1), nodes, 8);
            }
            for (int v = 0; v < V; ++v) {
                if (!((busy >> v) & 1u)) continue;
                const __m512i meta = _mm512_permutex2var_epi32(lo[v], odd, hi[v]);
                if (_mm512_test_epi32_mask(meta, leaf_bit) == 0xFFFF) {
                    busy &= ~(1u << v);
                    continue;
                }
                const __m512 tv = _mm512_castsi512_ps(_mm512_permutex2var_epi32(lo[v], even, hi[v]));
                const __m512i feat = _mm512_and_si512(_mm512_srli_epi32(meta, 16), feat_mask);
                const __m512 x = _mm512_i32gather_ps(_mm512_add_epi32(lane_off, feat), X + v * vstride, 4);
                const __mmask16 left = pointer_decide<Special, Cat>(meta, tv, x);
                const __m512i nxt = _mm512_add_epi32(idx[v], _mm512_and_si512(meta, rel_mask));
                idx[v] = _mm512_mask_add_epi32(nxt, static_cast<__mmask16>(~left), nxt, one);
            }
            if (!busy) return;
        }
    }

    // The first steps of tree t from the block's rows transposed, level by level (depths
    // 0..4 as one level, then each depth down to the first one that spans over 32 slots or
    // holds a special node): every inner node of a level is decided for all rows first
    // (loads and compares, no gathers; bit j of a lane's word = "slot j - first slot of
    // the level goes left"), then the lanes step by the bits. Categorical nodes test bit c of their 128-bit set held in a register, c being
    // the row's category code computed once per block (cw: c >> 5, or 15 outside [0, 128);
    // cb: c & 31).
    template <int V>
    MLWF_AVX512 void pointer_top(int64_t t, int32_t base, const __m512i* tl, const float* xt, const uint8_t* cw,
                                 const uint8_t* cb, __m512i* idx) const {
        const TopTree& tt = top_tree_[static_cast<size_t>(t)];
        const TopLevel* levels = top_levels_.data() + tt.level;
        const __m512i one = _mm512_set1_epi32(1);
        __m512i bits[V];
        for (int v = 0; v < V; ++v) bits[v] = _mm512_set1_epi32(static_cast<int>(levels[0].leaf_bits));
        top_decide<V>(top_nodes_.data() + levels[0].begin, levels[0].n, xt, cw, cb, bits);
        const __m512i vbase = _mm512_set1_epi32(base);
        for (int v = 0; v < V; ++v) idx[v] = vbase;
        for (int step = 0; step < 5; ++step) {
            for (int v = 0; v < V; ++v) {
                const __m512i rel = _mm512_sub_epi32(idx[v], vbase);
                const __mmask16 left = _mm512_test_epi32_mask(_mm512_srlv_epi32(bits[v], rel), one);
                const __m512i lv = _mm512_permutex2var_epi32(tl[0], rel, tl[1]);
                idx[v] = _mm512_mask_add_epi32(lv, static_cast<__mmask16>(~left), lv, one);
            }
        }
        for (int32_t k = 1; k < tt.n_levels; ++k) {
            // a level below: slots [first, first + 32) (bit slot - first); lanes on
            // shallower leaves stay
            const TopLevel& level = levels[k];
            for (int v = 0; v < V; ++v) bits[v] = _mm512_set1_epi32(static_cast<int>(level.leaf_bits));
            top_decide<V>(top_nodes_.data() + level.begin, level.n, xt, cw, cb, bits);
            const uint32_t* left_u = reinterpret_cast<const uint32_t*>(vleft_.data()) + base + level.first;
            const __m512i ta = _mm512_loadu_si512(left_u), tb = _mm512_loadu_si512(left_u + 16);
            const __m512i vfirst = _mm512_set1_epi32(base + level.first);
            for (int v = 0; v < V; ++v) {
                const __m512i rel = _mm512_sub_epi32(idx[v], vfirst);
                const __mmask16 on = _mm512_cmplt_epu32_mask(rel, _mm512_set1_epi32(32));
                const __mmask16 left = _mm512_test_epi32_mask(_mm512_srlv_epi32(bits[v], rel), one);
                const __m512i lv = _mm512_permutex2var_epi32(ta, rel, tb);
                idx[v] = _mm512_mask_mov_epi32(idx[v], on, _mm512_mask_add_epi32(lv, static_cast<__mmask16>(~left), lv, one));
            }
        }
    }

    // Trees of at most 64 leaves without special nodes: a lane's word (two over 32 leaves)
    // holds one bit per leaf (left to right); each node that sends the row right clears the leaves of its
    // left subtree, and the exit leaf is the lowest bit left (QuickScorer). No steps.
    // Index of the lowest set bit of each lane (nonzero): the exponent of that bit as a
    // float (exact).
    MLWF_AVX512 static __m512i lowest_bit(__m512i w) {
        const __m512i low = _mm512_and_si512(w, _mm512_sub_epi32(_mm512_setzero_si512(), w));
        return _mm512_sub_epi32(_mm512_srli_epi32(_mm512_castps_si512(_mm512_cvtepu32_ps(low)), 23),
                                _mm512_set1_epi32(127));
    }

    template <int V, bool Wide>
    MLWF_AVX512 void pointer_leaf(int64_t t, const float* xt, const uint8_t* cw, const uint8_t* cb,
                                  __m512i* idx) const {
        const TopLevel& level = top_levels_[static_cast<size_t>(top_tree_[static_cast<size_t>(t)].level)];
        __m512i bits[V], hi[V];
        for (int v = 0; v < V; ++v) bits[v] = hi[v] = _mm512_set1_epi32(-1);
        const TopNode* const e = top_nodes_.data() + level.begin;
        const TopNode* const e_nan_right = e + level.n[0];
        const TopNode* const e_cat = e_nan_right + level.n[1];
        clear_left_leaves<0, V, Wide>(e, e_nan_right, xt, cw, cb, bits, hi);
        clear_left_leaves<1, V, Wide>(e_nan_right, e_cat, xt, cw, cb, bits, hi);
        clear_left_leaves<2, V, Wide>(e_cat, e_cat + level.n[2], xt, cw, cb, bits, hi);
        const int32_t* slots = leaf_slots_.data() + 64 * t;
        const __m512i sa = _mm512_loadu_si512(slots), sb = _mm512_loadu_si512(slots + 16);
        for (int v = 0; v < V; ++v) {
            idx[v] = _mm512_permutex2var_epi32(sa, lowest_bit(bits[v]), sb);
            if (Wide) {
                // no leaf left among 0..31: the exit leaf is among 32..63
                const __mmask16 in_hi = _mm512_testn_epi32_mask(bits[v], bits[v]);
                const __m512i sc = _mm512_loadu_si512(slots + 32), sd = _mm512_loadu_si512(slots + 48);
                idx[v] = _mm512_mask_mov_epi32(idx[v], in_hi, _mm512_permutex2var_epi32(sc, lowest_bit(hi[v]), sd));
            }
        }
    }

    // Decision bits of the nodes e[0..n) (three runs, see TopTree) for V vectors of rows.
    template <int V>
    MLWF_AVX512 void top_decide(const TopNode* e, const int32_t* n, const float* xt, const uint8_t* cw,
                                const uint8_t* cb, __m512i* bits) const {
        const TopNode* const e_nan_right = e + n[0];
        const TopNode* const e_cat = e_nan_right + n[1];
        set_left_bits<0, V>(e, e_nan_right, xt, cw, cb, bits);
        set_left_bits<1, V>(e_nan_right, e_cat, xt, cw, cb, bits);
        set_left_bits<2, V>(e_cat, e_cat + n[2], xt, cw, cb, bits);
    }

    // The rows (of the 16 at offset `off` of the transposed block) that a top node sends
    // right. Run is the node's run in its level: 0 numeric sending NaN left, 1 numeric
    // sending NaN right, 2 categorical (`set` is its set; the row's category code is split
    // into a word in cw and a bit in cb, see top_codes). Numeric runs ignore `set`.
    template <int Run>
    MLWF_AVX512 static __mmask16 top_right(__m512 thr, __m512i set, const float* xt, const uint8_t* cw,
                                           const uint8_t* cb, int64_t off) {
        if constexpr (Run == 2) {
            const __m512i w = _mm512_permutexvar_epi32(
                _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(cw + off))), set);
            const __m512i b = _mm512_srlv_epi32(
                w, _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(cb + off))));
            return _mm512_testn_epi32_mask(b, _mm512_set1_epi32(1));
        } else {
            return _mm512_cmp_ps_mask(_mm512_load_ps(xt + off), thr, Run == 0 ? _CMP_GT_OQ : _CMP_NLE_UQ);
        }
    }

    // The category set of a node of run 2 (zero for the numeric runs).
    template <int Run>
    MLWF_AVX512 __m512i top_set(const TopNode* e) const {
        if constexpr (Run == 2) return _mm512_loadu_si512(top_sets_.data() + 16 * e->set);
        return _mm512_setzero_si512();
    }

    // top_decide for the nodes [e, end) of one run: sets each node's bit where it sends
    // the row left.
    template <int Run, int V>
    MLWF_AVX512 void set_left_bits(const TopNode* e, const TopNode* end, const float* xt, const uint8_t* cw,
                                   const uint8_t* cb, __m512i* bits) const {
        const int64_t stride = 16 * V;
        for (; e < end; ++e) {
            const __m512 thr = _mm512_set1_ps(e->thr);
            const __m512i set = top_set<Run>(e);
            const __m512i bit = _mm512_set1_epi32(static_cast<int>(e->bit));
            const int64_t col = e->col * stride;
            for (int v = 0; v < V; ++v) {
                const __mmask16 left = _knot_mask16(top_right<Run>(thr, set, xt, cw, cb, col + v * 16));
                bits[v] = _mm512_mask_or_epi32(bits[v], left, bits[v], bit);
            }
        }
    }

    // pointer_leaf for the nodes [e, end) of one run: clears the left subtree's leaves of
    // the rows each node sends right.
    template <int Run, int V, bool Wide>
    MLWF_AVX512 void clear_left_leaves(const TopNode* e, const TopNode* end, const float* xt,
                                       const uint8_t* cw, const uint8_t* cb, __m512i* bits,
                                       __m512i* hi) const {
        const int64_t stride = 16 * V;
        for (; e < end; ++e) {
            const __m512 thr = _mm512_set1_ps(e->thr);
            const __m512i set = top_set<Run>(e);
            const __m512i mask = _mm512_set1_epi32(static_cast<int>(e->bit));
            const __m512i mask_hi = _mm512_set1_epi32(static_cast<int>(e->bit_hi));
            const int64_t col = e->col * stride;
            for (int v = 0; v < V; ++v) {
                const __mmask16 right = top_right<Run>(thr, set, xt, cw, cb, col + v * 16);
                bits[v] = _mm512_mask_and_epi32(bits[v], right, bits[v], mask);
                if (Wide) hi[v] = _mm512_mask_and_epi32(hi[v], right, hi[v], mask_hi);
            }
        }
    }

    // Category codes of the block's rows transposed (see pointer_top), as bytes (the
    // buffers live on the stack): LightGBM's rule, NaN and values <= -1 to -1, (-1, 0] to
    // 0, 128 and above to 128; -1 and 128 select a zero word.
    template <int V>
    MLWF_AVX512 void top_codes(const float* xt, uint8_t* cw, uint8_t* cb) const {
        const int64_t stride = 16 * V;
        for (size_t k = 0; k < top_cat_features_.size(); ++k) {
            const float* col = xt + static_cast<int64_t>(top_cat_features_[k]) * stride;
            for (int v = 0; v < V; ++v) {
                const __m512 x = _mm512_load_ps(col + v * 16);
                const __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-1.0f)), _mm512_set1_ps(128.0f));
                const __m512i c = _mm512_cvttps_epi32(xc);
                _mm_store_si128(reinterpret_cast<__m128i*>(cw + static_cast<int64_t>(k) * stride + v * 16),
                                _mm512_cvtepi32_epi8(_mm512_and_si512(_mm512_srai_epi32(c, 5), _mm512_set1_epi32(15))));
                _mm_store_si128(reinterpret_cast<__m128i*>(cb + static_cast<int64_t>(k) * stride + v * 16),
                                _mm512_cvtepi32_epi8(_mm512_and_si512(c, _mm512_set1_epi32(31))));
            }
        }
    }

    // Adds the leaves of tree t reached in idx (one output: to acc, else to out).
    template <int V>
    MLWF_AVX512 void accumulate_leaves(int64_t t, const __m512i* idx, __m512d (*acc)[2], double* out) const {
        const int64_t K = n_groups_;
        if (K == 1) {
            for (int v = 0; v < V; ++v) {
                acc[v][0] = _mm512_add_pd(acc[v][0], _mm512_i32gather_pd(_mm512_castsi512_si256(idx[v]), vvalue_.data(), 8));
                acc[v][1] = _mm512_add_pd(acc[v][1],
                                          _mm512_i32gather_pd(_mm512_extracti64x4_epi64(idx[v], 1), vvalue_.data(), 8));
            }
        } else {
            const int64_t g = groups_[t];
            alignas(64) int32_t p[16];
            for (int v = 0; v < V; ++v) {
                _mm512_store_si512(p, idx[v]);
                for (int l = 0; l < 16; ++l) out[(v * 16 + l) * K + g] += vvalue_[static_cast<size_t>(p[l])];
            }
        }
    }

    template <bool Special, bool Cat, int V>
    MLWF_AVX512 void pointer_rows_avx512(const float* X, double* out) const {
        const int64_t nf = n_features_;
        const int64_t K = n_groups_;
        const int64_t n_trees = this->n_trees();
        const int64_t vstride = 16 * nf;
        const __m512i lane_off =
            _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                               _mm512_set1_epi32(static_cast<int>(nf)));
        alignas(64) float xt_buf[detail::kTransposeMaxFeatures * 16 * V];
        const float* xt = transpose_rows(X, 16 * V, xt_buf);
        alignas(64) uint8_t cw[detail::kTransposeMaxFeatures * 16 * V];
        alignas(64) uint8_t cb[detail::kTransposeMaxFeatures * 16 * V];
        const bool top = xt != nullptr && !top_tree_.empty();
        if (top) top_codes<V>(xt, cw, cb);
        __m512d acc[V][2];
        for (int v = 0; v < V; ++v) acc[v][0] = acc[v][1] = _mm512_setzero_pd();
        const uint32_t* left_u = reinterpret_cast<const uint32_t*>(vleft_.data());
        for (int64_t t = 0; t < n_trees; ++t) {
            const int32_t base = vroot_[t];
            const __m512i tl[2] = {_mm512_loadu_si512(left_u + base), _mm512_loadu_si512(left_u + base + 16)};
            __m512i idx[V];
            if (top && top_tree_[static_cast<size_t>(t)].by_leaf) {
                if (top_tree_[static_cast<size_t>(t)].wide_leaf) {
                    pointer_leaf<V, true>(t, xt, cw, cb, idx);
                } else {
                    pointer_leaf<V, false>(t, xt, cw, cb, idx);
                }
                accumulate_leaves<V>(t, idx, acc, out);
                continue;
            }
            if (top && top_tree_[static_cast<size_t>(t)].ok) {
                pointer_top<V>(t, base, tl, xt, cw, cb, idx);
                if (top_tree_[static_cast<size_t>(t)].deep) {
                    if (simd_row_) {
                        pointer_deep_packed<Special, Cat, V>(X, vstride, lane_off, idx);
                    } else {
                        const __m512i none[8] = {};
                        uint32_t live = (1u << V) - 1u;
                        while (live) pointer_step<Special, Cat, V, 5>(none, none, none, none, base, X, vstride, lane_off, idx, live, xt);
                    }
                }
                accumulate_leaves<V>(t, idx, acc, out);
                continue;
            }
            const __m512i tf[2] = {_mm512_loadu_si512(vfeat_.data() + base), _mm512_loadu_si512(vfeat_.data() + base + 16)};
            const __m512i tt[2] = {_mm512_loadu_si512(vthr_.data() + base), _mm512_loadu_si512(vthr_.data() + base + 16)};
            __m512i tw[8];
            if (Cat) {
                const uint32_t* w = vtop_words_.data() + t * 128;
                for (int i = 0; i < 8; ++i) tw[i] = _mm512_loadu_si512(w + 16 * i);
            }
            for (int v = 0; v < V; ++v) idx[v] = _mm512_set1_epi32(base);
            uint32_t live = (1u << V) - 1u;
            if (!(vfeat_[static_cast<size_t>(base)] & detail::kLeaf)) {
                pointer_step<Special, Cat, V, 0>(tf, tt, tl, tw, base, X, vstride, lane_off, idx, live, xt);
                pointer_step<Special, Cat, V, 1>(tf, tt, tl, tw, base, X, vstride, lane_off, idx, live, xt);
                pointer_step<Special, Cat, V, 2>(tf, tt, tl, tw, base, X, vstride, lane_off, idx, live, xt);
                pointer_step<Special, Cat, V, 3>(tf, tt, tl, tw, base, X, vstride, lane_off, idx, live, xt);
                pointer_step<Special, Cat, V, 4>(tf, tt, tl, tw, base, X, vstride, lane_off, idx, live, xt);
                if (!live) {
                } else if (simd_row_) {
                    pointer_deep_packed<Special, Cat, V>(X, vstride, lane_off, idx);
                } else {
                    while (live) pointer_step<Special, Cat, V, 5>(tf, tt, tl, tw, base, X, vstride, lane_off, idx, live, xt);
                }
            }
            accumulate_leaves<V>(t, idx, acc, out);
        }
        if (K == 1) {
            for (int v = 0; v < V; ++v) {
                _mm512_storeu_pd(out + v * 16, acc[v][0]);
                _mm512_storeu_pd(out + v * 16 + 8, acc[v][1]);
            }
        }
    }

    template <bool Special, bool Cat>
    MLWF_AVX512 void pointer_avx512_t(const float* X, int64_t n, double* out) const {
        constexpr int V = MLWF_POINTER_VECTORS;
        const int64_t nf = n_features_;
        const int64_t K = n_groups_;
        int64_t r = 0;
        for (; r + 16 * V <= n; r += 16 * V) pointer_rows_avx512<Special, Cat, V>(X + r * nf, out + r * K);
        for (; r + 16 <= n; r += 16) pointer_rows_avx512<Special, Cat, 1>(X + r * nf, out + r * K);
        if (r < n) {
            if (n_special_ > 0) {
                block_kernel<true>(X + r * nf, n - r, out + r * K);
            } else {
                block_kernel<false>(X + r * nf, n - r, out + r * K);
            }
        }
    }

    void pointer_avx512(const float* X, int64_t n, double* out) const {
        const bool special = n_vspecial_ > 0, cat = n_vcat_ > 0;
        if (special && cat) return pointer_avx512_t<true, true>(X, n, out);
        if (special) return pointer_avx512_t<true, false>(X, n, out);
        if (cat) return pointer_avx512_t<false, true>(X, n, out);
        return pointer_avx512_t<false, false>(X, n, out);
    }

    // One row, 16 trees per vector and V vectors in flight. Nodes are 8 bytes (see
    // build_vector_nodes): one 64-bit gather per 8 lanes brings threshold and meta
    // (flags, feature, left child relative to the root); the row's features come from
    // registers by permutes when there are at most 64 of them, else from a gather.
    // Leaves are added in tree order, as in the scalar kernel.
    template <int XMode>
    MLWF_AVX512 static __m512 row_x(const __m512* xr, const float* x, __m512i feat) {
        if constexpr (XMode == 0) {
            (void)x;
            return _mm512_permutexvar_ps(feat, xr[0]);
        } else if constexpr (XMode == 1) {
            (void)x;
            return _mm512_permutex2var_ps(xr[0], feat, xr[1]);
        } else if constexpr (XMode == 2) {
            (void)x;
            const __m512 lo = _mm512_permutex2var_ps(xr[0], feat, xr[1]);
            const __m512 hi = _mm512_permutex2var_ps(xr[2], feat, xr[3]);
            return _mm512_mask_blend_ps(_mm512_test_epi32_mask(feat, _mm512_set1_epi32(32)), lo, hi);
        } else {
            (void)xr;
            return _mm512_i32gather_ps(feat, x, 4);
        }
    }

    template <bool Special, bool Cat, int XMode, int V>
    MLWF_AVX512 void row_chunk_avx512(const __m512* xr, const float* x, int64_t t0, double* out) const {
        const int64_t n_trees = this->n_trees();
        const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        const __m512i one = _mm512_set1_epi32(1);
        const __m512i rel_mask = _mm512_set1_epi32(0xFFFF);
        const __m512i feat_mask = _mm512_set1_epi32(0xFFF);
        const __m512i leaf_bit = _mm512_set1_epi32(static_cast<int>(detail::kLeaf));
        const long long* nodes = reinterpret_cast<const long long*>(vnode64_.data());
        static_assert(sizeof(long long) == sizeof(uint64_t), "64-bit nodes");
        const long long dummy = static_cast<long long>(vnode64_[static_cast<size_t>(vdummy_)]);
        __m512i idx[V], lo[V], hi[V];
        for (int v = 0; v < V; ++v) {
            const int64_t t = t0 + 16 * v;
            const int64_t count = std::max<int64_t>(0, std::min<int64_t>(16, n_trees - t));
            const __mmask16 m = static_cast<__mmask16>((1u << count) - 1u);
            const int64_t at = count ? t : 0;
            idx[v] = _mm512_mask_loadu_epi32(_mm512_set1_epi32(vdummy_), m, vroot_.data() + at);
            // the roots' nodes are stored side by side: the first step needs no gather
            lo[v] = _mm512_mask_loadu_epi64(_mm512_set1_epi64(dummy), static_cast<__mmask8>(m), vroot64_.data() + at);
            hi[v] = _mm512_mask_loadu_epi64(_mm512_set1_epi64(dummy), static_cast<__mmask8>(m >> 8),
                                            vroot64_.data() + at + 8);
        }
        // every vector steps until all are on leaves (no branch per vector: a leaf loops to itself)
        for (;;) {
            uint32_t busy = 0;
            for (int v = 0; v < V; ++v) {
                const __m512i meta = _mm512_permutex2var_epi32(lo[v], odd, hi[v]);
                busy |= static_cast<uint32_t>(_mm512_test_epi32_mask(meta, leaf_bit) != 0xFFFF);
                const __m512 tv = _mm512_castsi512_ps(_mm512_permutex2var_epi32(lo[v], even, hi[v]));
                const __m512i feat = _mm512_and_si512(_mm512_srli_epi32(meta, 16), feat_mask);
                const __m512 xv = row_x<XMode>(xr, x, feat);
                const __mmask16 left = pointer_decide<Special, Cat>(meta, tv, xv);
                const __m512i nxt = _mm512_add_epi32(idx[v], _mm512_and_si512(meta, rel_mask));
                idx[v] = _mm512_mask_add_epi32(nxt, static_cast<__mmask16>(~left), nxt, one);
            }
            if (!busy) break;
            for (int v = 0; v < V; ++v) {
                lo[v] = _mm512_i32gather_epi64(_mm512_castsi512_si256(idx[v]), nodes, 8);
                hi[v] = _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(idx[v], 1), nodes, 8);
            }
        }
        alignas(64) double leaf[16];
        for (int v = 0; v < V; ++v) {
            const int64_t t = t0 + 16 * v;
            const int64_t count = std::max<int64_t>(0, std::min<int64_t>(16, n_trees - t));
            if (!count) break;
            _mm512_store_pd(leaf, _mm512_i32gather_pd(_mm512_castsi512_si256(idx[v]), vvalue_.data(), 8));
            _mm512_store_pd(leaf + 8, _mm512_i32gather_pd(_mm512_extracti64x4_epi64(idx[v], 1), vvalue_.data(), 8));
            if (n_groups_ == 1) {
                double acc = out[0];
                for (int64_t l = 0; l < count; ++l) acc += leaf[l];
                out[0] = acc;
            } else {
                for (int64_t l = 0; l < count; ++l) out[groups_[t + l]] += leaf[l];
            }
        }
    }

    template <bool Special, bool Cat, int XMode>
    MLWF_AVX512 void row_avx512_t(const float* x, double* out) const {
        constexpr int V = MLWF_ROW_VECTORS;
        __m512 xr[4];
        if constexpr (XMode <= 2) {
            for (int i = 0; i < 4; ++i) {
                const int64_t left = std::max<int64_t>(0, std::min<int64_t>(16, n_features_ - 16 * i));
                xr[i] = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << left) - 1u), x + (left ? 16 * i : 0));
            }
        }
        for (int64_t t = 0; t < n_trees(); t += 16 * V) row_chunk_avx512<Special, Cat, XMode, V>(xr, x, t, out);
    }

    template <bool Special, bool Cat>
    void row_avx512_x(const float* x, double* out) const {
        if (n_features_ <= 16) return row_avx512_t<Special, Cat, 0>(x, out);
        if (n_features_ <= 32) return row_avx512_t<Special, Cat, 1>(x, out);
        if (n_features_ <= 64) return row_avx512_t<Special, Cat, 2>(x, out);
        return row_avx512_t<Special, Cat, 3>(x, out);
    }

    void row_avx512(const float* x, double* out) const {
        const bool special = n_vspecial_ > 0, cat = n_vcat_ > 0;
        if (special && cat) return row_avx512_x<true, true>(x, out);
        if (special) return row_avx512_x<true, false>(x, out);
        if (cat) return row_avx512_x<false, true>(x, out);
        return row_avx512_x<false, false>(x, out);
    }
#endif

    // The vector kernel's copy of pointer trees (see pointer_rows_avx512).
    void build_vector_nodes() {
        if (isa_ != detail::Isa::avx512 || has_linear_ || n_trees() == 0 ||
            16 * n_features_ >= (int64_t(1) << 31)) {
            return;
        }
        simd_pointer_ = complete_nodes_.empty();
        const size_t n = nodes_.size();
        vfeat_.reserve(n + 32);
        vthr_.reserve(n + 32);
        vleft_.reserve(n + 32);
        vvalue_.reserve(n + 32);
        std::deque<std::pair<int32_t, int32_t>> queue;  // (compiled node, slot)
        const float inf = std::numeric_limits<float>::infinity();
        uint32_t inf_bits;
        std::memcpy(&inf_bits, &inf, sizeof inf_bits);
        auto add_slot = [&]() {
            vfeat_.push_back(0u);
            vthr_.push_back(0u);
            vleft_.push_back(0);
            vvalue_.push_back(0.0);
            return static_cast<int32_t>(vfeat_.size() - 1);
        };
        for (int64_t t = 0; t < n_trees(); ++t) {
            const int32_t root = add_slot();
            vroot_.push_back(root);
            queue.assign(1, {roots_[t], root});
            while (!queue.empty()) {
                const auto [ci, slot] = queue.front();
                queue.pop_front();
                const Node& nd = nodes_[static_cast<size_t>(ci)];
                const size_t s = static_cast<size_t>(slot);
                if (nd.feat & detail::kLeaf) {
                    vfeat_[s] = detail::kLeaf | detail::kDefaultLeft;
                    vthr_[s] = inf_bits;
                    vleft_[s] = slot;
                    vvalue_[s] = value_[static_cast<size_t>(ci)];
                    continue;
                }
                uint32_t feat = nd.feat, thr;
                std::memcpy(&thr, &nd.thr, sizeof thr);
                if (feat & detail::kSpecial) {
                    const Special& sp = specials_[static_cast<size_t>(as_index(nd.thr))];
                    if (sp.kind == kLgbCat && sp.n_words <= static_cast<uint32_t>(detail::kCatInlineWords)) {
                        feat = (feat & ~detail::kSpecial) | detail::kCat;
                        thr = static_cast<uint32_t>(vcat_words_.size());
                        for (int w = 0; w < detail::kCatInlineWords; ++w) {
                            vcat_words_.push_back(static_cast<uint32_t>(w) < sp.n_words
                                                      ? cat_words_[static_cast<size_t>(sp.words_begin + w)]
                                                      : 0u);
                        }
                        ++n_vcat_;
                    } else {
                        ++n_vspecial_;
                    }
                }
                const int32_t l = add_slot();
                add_slot();
                vfeat_[s] = feat;
                vthr_[s] = thr;
                vleft_[s] = l;
                queue.push_back({nd.left, l});
                queue.push_back({nd.right, l + 1});
            }
        }
        if (n_vcat_ > 0) {
            // category words of each tree's first 32 slots (the batch kernel's first steps)
            vtop_words_.assign(static_cast<size_t>(n_trees() * 128), 0u);
            for (int64_t t = 0; t < n_trees(); ++t) {
                const int64_t root = vroot_[static_cast<size_t>(t)];
                const int64_t end = t + 1 < n_trees() ? vroot_[static_cast<size_t>(t + 1)] : static_cast<int64_t>(vfeat_.size());
                for (int64_t r = 0; r < 32 && root + r < end; ++r) {
                    const size_t i = static_cast<size_t>(root + r);
                    if (!(vfeat_[i] & detail::kCat)) continue;
                    for (int w = 0; w < detail::kCatInlineWords; ++w) {
                        vtop_words_[static_cast<size_t>(t * 128 + r * 4 + w)] = vcat_words_[vthr_[i] + static_cast<uint32_t>(w)];
                    }
                }
            }
        }
        // a leaf for the idle lanes of the row kernel, then padding: the first steps of
        // the batch kernel load 32 slots from each root
        vdummy_ = add_slot();
        vfeat_[static_cast<size_t>(vdummy_)] = detail::kLeaf | detail::kDefaultLeft;
        vthr_[static_cast<size_t>(vdummy_)] = inf_bits;
        vleft_[static_cast<size_t>(vdummy_)] = vdummy_;
        for (int i = 0; i < 32; ++i) add_slot();
        if (vcat_words_.size() >= (size_t(1) << 31)) {
            simd_pointer_ = false;
            return;
        }
        // 8-byte nodes of the row kernel: threshold bits, then meta = flags (bits 28-31),
        // feature (bits 16-27), left child minus the node's own slot (bits 0-15; 0 at leaves)
        simd_row_ = n_features_ <= 0xFFF;
        for (size_t i = 0; i < static_cast<size_t>(vdummy_) && simd_row_; ++i) {
            simd_row_ = vleft_[i] - static_cast<int64_t>(i) <= 0xFFFF;
        }
        if (!simd_row_) return;
        vnode64_.assign(vfeat_.size(), 0u);
        for (size_t i = 0; i <= static_cast<size_t>(vdummy_); ++i) {
            const uint32_t f = vfeat_[i];
            const uint32_t rel = static_cast<uint32_t>(vleft_[i] - static_cast<int32_t>(i));
            const uint32_t meta = (f & ~detail::kFeatureMask) | ((f & detail::kFeatureMask) << 16) | rel;
            vnode64_[i] = static_cast<uint64_t>(vthr_[i]) | (static_cast<uint64_t>(meta) << 32);
        }
        for (const int32_t r : vroot_) vroot64_.push_back(static_cast<long long>(vnode64_[static_cast<size_t>(r)]));
        build_top();
    }

    // pointer_top's tables: depths 0..4 as one level (31 slots at most), then each level
    // down to the first one that spans over 32 slots or holds a special node.
    void build_top() {
        if (n_features_ > detail::kTransposeMaxFeatures) return;
        std::vector<int32_t> cat_index(static_cast<size_t>(n_features_), -1);
        std::vector<int32_t> depth, first, count;
        std::vector<char> inner, special;
        std::vector<std::vector<TopNode>> runs;
        top_tree_.assign(static_cast<size_t>(n_trees()), TopTree{});
        for (int64_t t = 0; t < n_trees(); ++t) {
            const int32_t root = vroot_[static_cast<size_t>(t)];
            const int32_t end = t + 1 < n_trees() ? vroot_[static_cast<size_t>(t + 1)] : vdummy_;
            TopTree& tt = top_tree_[static_cast<size_t>(t)];
            depth.assign(static_cast<size_t>(end - root), 0);
            // per depth: first slot, slot count, any inner node, any special node
            first.clear();
            count.clear();
            inner.clear();
            special.clear();
            for (int32_t s = root; s < end; ++s) {  // breadth-first: parents before children
                const uint32_t f = vfeat_[static_cast<size_t>(s)];
                const size_t d = static_cast<size_t>(depth[static_cast<size_t>(s - root)]);
                if (d == count.size()) {
                    first.push_back(s - root);
                    count.push_back(0);
                    inner.push_back(0);
                    special.push_back(0);
                }
                ++count[d];
                if (f & detail::kLeaf) continue;
                inner[d] = 1;
                special[d] = special[d] || (f & detail::kSpecial) != 0;
                const int32_t l = vleft_[static_cast<size_t>(s)];
                depth[static_cast<size_t>(l - root)] = depth[static_cast<size_t>(l + 1 - root)] = static_cast<int32_t>(d) + 1;
            }
            const size_t n_depths = count.size();
            if (build_by_leaf(t, root, end, cat_index)) continue;
            tt.ok = true;
            for (size_t d = 0; d <= 4 && d < n_depths; ++d) tt.ok = tt.ok && !special[d];
            if (!tt.ok) continue;
            size_t last = std::min<size_t>(4, n_depths - 1);  // deepest depth decided here
            while (last + 1 < n_depths && inner[last + 1] && !special[last + 1] && count[last + 1] <= 32) ++last;
            tt.deep = last + 1 < n_depths && inner[last + 1];
            tt.n_levels = static_cast<int32_t>(last <= 4 ? 1 : last - 3);
            tt.level = static_cast<int64_t>(top_levels_.size());
            runs.assign(static_cast<size_t>(tt.n_levels) * 3, {});
            std::vector<TopLevel> levels(static_cast<size_t>(tt.n_levels));
            for (int32_t k = 1; k < tt.n_levels; ++k) levels[static_cast<size_t>(k)].first = first[static_cast<size_t>(k) + 4];
            for (int32_t s = root; s < end; ++s) {
                const size_t d = static_cast<size_t>(depth[static_cast<size_t>(s - root)]);
                if (d > last) break;
                const size_t lv = d <= 4 ? 0 : d - 4;
                TopLevel& level = levels[lv];
                const uint32_t f = vfeat_[static_cast<size_t>(s)];
                const uint32_t bit = 1u << (s - root - level.first);
                if (f & detail::kLeaf) {
                    level.leaf_bits |= bit;
                    continue;
                }
                TopNode e{};
                e.bit = bit;
                if (f & detail::kCat) {
                    const uint32_t feat = f & detail::kFeatureMask;
                    if (cat_index[feat] < 0) {
                        cat_index[feat] = static_cast<int32_t>(top_cat_features_.size());
                        top_cat_features_.push_back(static_cast<int32_t>(feat));
                    }
                    e.col = static_cast<uint32_t>(cat_index[feat]);
                    e.set = static_cast<uint32_t>(top_sets_.size() / 16);
                    for (int w = 0; w < 16; ++w) {
                        top_sets_.push_back(w < detail::kCatInlineWords ? vcat_words_[vthr_[static_cast<size_t>(s)] + static_cast<uint32_t>(w)] : 0u);
                    }
                    runs[lv * 3 + 2].push_back(e);
                } else {
                    e.col = f & detail::kFeatureMask;
                    std::memcpy(&e.thr, &vthr_[static_cast<size_t>(s)], sizeof e.thr);
                    runs[lv * 3 + ((f & detail::kDefaultLeft) ? 0 : 1)].push_back(e);
                }
            }
            for (size_t lv = 0; lv < levels.size(); ++lv) {
                levels[lv].begin = static_cast<int64_t>(top_nodes_.size());
                for (size_t k = 0; k < 3; ++k) {
                    top_nodes_.insert(top_nodes_.end(), runs[lv * 3 + k].begin(), runs[lv * 3 + k].end());
                    levels[lv].n[k] = static_cast<int32_t>(runs[lv * 3 + k].size());
                }
                top_levels_.push_back(levels[lv]);
            }
        }
    }

    // pointer_leaf's tables of tree t when it qualifies (see TopTree::by_leaf).
    bool build_by_leaf(int64_t t, int32_t root, int32_t end, std::vector<int32_t>& cat_index) {
        if (MLWF_BY_LEAF == 0) return false;
        int32_t n_leaves = 0;
        for (int32_t s = root; s < end; ++s) {
            const uint32_t f = vfeat_[static_cast<size_t>(s)];
            if (f & detail::kSpecial) return false;
            n_leaves += (f & detail::kLeaf) ? 1 : 0;
        }
        if (n_leaves > MLWF_BY_LEAF_MAX) return false;
        leaf_slots_.resize(static_cast<size_t>(64 * n_trees()), 0);
        // leaves left to right: depth-first, left child first; each node's mask clears the
        // leaves of its left subtree
        std::vector<TopNode> runs[3];
        std::vector<std::pair<int32_t, int>> stack{{root, 0}};  // (slot, 0: enter, 1: after left)
        std::vector<int32_t> lo_of(static_cast<size_t>(end - root), 0);
        int32_t next_leaf = 0;
        while (!stack.empty()) {
            const auto [s, phase] = stack.back();
            stack.pop_back();
            const uint32_t f = vfeat_[static_cast<size_t>(s)];
            if (f & detail::kLeaf) {
                leaf_slots_[static_cast<size_t>(64 * t + next_leaf)] = s;
                ++next_leaf;
                continue;
            }
            const int32_t l = vleft_[static_cast<size_t>(s)];
            if (phase == 0) {
                lo_of[static_cast<size_t>(s - root)] = next_leaf;
                stack.push_back({s, 1});
                stack.push_back({l, 0});
                continue;
            }
            // the left subtree holds leaves [lo, next_leaf)
            const int32_t lo = lo_of[static_cast<size_t>(s - root)];
            const int32_t n_left = next_leaf - lo;  // 1..63
            const uint64_t left_bits = ((uint64_t(1) << n_left) - 1) << lo;
            TopNode e{};
            e.bit = ~static_cast<uint32_t>(left_bits);
            e.bit_hi = ~static_cast<uint32_t>(left_bits >> 32);
            if (f & detail::kCat) {
                const uint32_t feat = f & detail::kFeatureMask;
                if (cat_index[feat] < 0) {
                    cat_index[feat] = static_cast<int32_t>(top_cat_features_.size());
                    top_cat_features_.push_back(static_cast<int32_t>(feat));
                }
                e.col = static_cast<uint32_t>(cat_index[feat]);
                e.set = static_cast<uint32_t>(top_sets_.size() / 16);
                for (int w = 0; w < 16; ++w) {
                    top_sets_.push_back(w < detail::kCatInlineWords ? vcat_words_[vthr_[static_cast<size_t>(s)] + static_cast<uint32_t>(w)] : 0u);
                }
                runs[2].push_back(e);
            } else {
                e.col = f & detail::kFeatureMask;
                std::memcpy(&e.thr, &vthr_[static_cast<size_t>(s)], sizeof e.thr);
                runs[(f & detail::kDefaultLeft) ? 0 : 1].push_back(e);
            }
            stack.push_back({l + 1, 0});
        }
        TopTree& tt = top_tree_[static_cast<size_t>(t)];
        TopLevel level;
        level.begin = static_cast<int64_t>(top_nodes_.size());
        for (int k = 0; k < 3; ++k) {
            top_nodes_.insert(top_nodes_.end(), runs[k].begin(), runs[k].end());
            level.n[k] = static_cast<int32_t>(runs[k].size());
        }
        tt.by_leaf = true;
        tt.wide_leaf = n_leaves > 32;
        tt.level = static_cast<int64_t>(top_levels_.size());
        tt.n_levels = 1;
        top_levels_.push_back(level);
        return true;
    }

    void build_complete() {
        // worth it when the padded trees stay small; deep leaf-wise trees keep pointers
        if (max_depth_ > detail::kCompleteMaxDepth || max_depth_ < 1 || has_linear_) return;
        const int D = max_depth_;
        const int64_t n_inner = (int64_t(1) << D) - 1;
        const int64_t n_leaf = int64_t(1) << D;
        complete_depth_ = D;
        complete_nodes_.assign(static_cast<size_t>(n_trees() * n_inner), CNode{});
        complete_values_.assign(static_cast<size_t>(n_trees() * n_leaf), 0.0);
        std::vector<std::pair<int32_t, int64_t>> stack;  // (compiled node, complete slot)
        for (int64_t t = 0; t < n_trees(); ++t) {
            CNode* nodes = complete_nodes_.data() + t * n_inner;
            double* leaves = complete_values_.data() + t * n_leaf;
            stack.assign(1, {roots_[t], 0});
            while (!stack.empty()) {
                auto [ci, slot] = stack.back();
                stack.pop_back();
                const Node& nd = nodes_[static_cast<size_t>(ci)];
                if (slot >= n_inner) {
                    leaves[slot - n_inner] = value_[static_cast<size_t>(ci)];
                    continue;
                }
                if (nd.feat & detail::kLeaf) {
                    // a shallow leaf passes left until the last level
                    nodes[slot] = CNode{std::numeric_limits<float>::infinity(), detail::kDefaultLeft};
                    stack.push_back({ci, 2 * slot + 1});
                    continue;
                }
                nodes[slot] = CNode{nd.thr, nd.feat};
                stack.push_back({nd.left, 2 * slot + 1});
                stack.push_back({nd.right, 2 * slot + 2});
            }
        }
        // the vector kernel's copies by field, level by level within each tree (the level
        // loads read up to 32 entries past a tree: padding at the end)
        simd_complete_ = isa_ == detail::Isa::avx512 && 16 * n_features_ < (int64_t(1) << 31) &&
                         n_trees() * n_inner < (int64_t(1) << 31);
        if (simd_complete_) {
            complete_thr_.assign(complete_nodes_.size() + 32, 0u);
            complete_feat_.assign(complete_nodes_.size() + 32, 0u);
            for (size_t i = 0; i < complete_nodes_.size(); ++i) {
                std::memcpy(&complete_thr_[i], &complete_nodes_[i].thr, sizeof(float));
                complete_feat_[i] = complete_nodes_[i].feat;
            }
        }
    }

    // -------------------------------------------------------------- build
    static void check(bool ok, const std::string& what) {
        if (!ok) throw ForestError("invalid forest arrays: " + what);
    }

    void build(const ForestArrays& a) {
        isa_ = detail::forest_isa();
        check(a.meta && a.n_meta >= 5, "meta must hold 5 integers");
        check(a.meta[0] == 1, "unsupported forest format version " + std::to_string(a.meta[0]));
        n_features_ = a.meta[1];
        n_groups_ = a.meta[2];
        check(n_features_ >= 1 && n_features_ < (int64_t(1) << 28), "bad number of features");
        check(n_groups_ >= 1 && n_groups_ < (int64_t(1) << 20), "bad number of outputs");
        check(a.meta[3] >= 0 && a.meta[3] <= 3, "unknown link code");
        link_ = static_cast<Link>(a.meta[3]);
        const int64_t n_trees = a.meta[4];
        check(n_trees >= 0 && a.n_tree_ptr == n_trees + 1 && a.tree_ptr, "tree_ptr length");
        check(a.n_tree_group == n_trees && (n_trees == 0 || a.tree_group), "tree_group length");
        check(a.n_base == n_groups_ && a.base, "base length");
        check(a.n_nodes >= 0 && a.n_nodes < (int64_t(1) << 30), "too many nodes");
        check(a.tree_ptr[0] == 0 && a.tree_ptr[n_trees] == a.n_nodes, "tree_ptr bounds");
        for (int64_t t = 0; t < n_trees; ++t) {
            check(a.tree_ptr[t] < a.tree_ptr[t + 1], "tree_ptr not increasing (empty tree)");
        }
        check(a.n_nodes == 0 || (a.kind && a.flags && a.feature && a.threshold && a.left &&
                                 a.right && a.value),
              "node arrays missing");
        check(a.n_cat_ptr >= 1 && a.cat_ptr && a.cat_ptr[0] == 0 &&
                  a.cat_ptr[a.n_cat_ptr - 1] == a.n_cat_values,
              "cat_ptr bounds");
        for (int64_t i = 1; i < a.n_cat_ptr; ++i) {
            check(a.cat_ptr[i] >= a.cat_ptr[i - 1], "cat_ptr not increasing");
        }
        has_linear_ = a.tree_linear != nullptr;
        if (has_linear_) {
            check(a.n_tree_linear == n_trees, "tree_linear length");
            check(a.linear_ptr && a.n_linear_ptr == a.n_nodes + 1 && a.linear_const &&
                      a.n_linear_const == a.n_nodes,
                  "linear arrays length");
            check(a.linear_ptr[0] == 0 && a.linear_ptr[a.n_nodes] == a.n_linear, "linear_ptr");
            for (int64_t i = 0; i < a.n_nodes; ++i) {
                check(a.linear_ptr[i + 1] >= a.linear_ptr[i], "linear_ptr not increasing");
            }
            for (int64_t j = 0; j < a.n_linear; ++j) {
                check(a.linear_feature[j] >= 0 && a.linear_feature[j] < n_features_,
                      "linear feature out of range");
            }
        }
        for (int64_t g = 0; g < n_groups_; ++g) base_.push_back(a.base[g]);

        nodes_.clear();
        nodes_.reserve(static_cast<size_t>(a.n_nodes));
        value_.reserve(static_cast<size_t>(a.n_nodes));
        std::vector<int32_t> map;     // local node -> compiled index
        std::vector<int32_t> stack;   // (local node) DFS
        std::vector<int32_t> depth;
        std::vector<std::pair<int32_t, bool>> fixups;  // compiled parent, is_left
        for (int64_t t = 0; t < n_trees; ++t) {
            const int64_t b = a.tree_ptr[t], e = a.tree_ptr[t + 1];
            check(e > b, "empty tree " + std::to_string(t));
            const int64_t size = e - b;
            const int32_t g = a.tree_group[t];
            check(g >= 0 && g < n_groups_, "tree_group out of range");
            const bool linear_tree = has_linear_ && a.tree_linear[t] != 0;
            map.assign(static_cast<size_t>(size), -1);
            roots_.push_back(static_cast<int32_t>(nodes_.size()));
            groups_.push_back(g);
            // pre-order DFS: a node's left child usually sits right after it
            stack.assign(1, 0);
            depth.assign(1, 0);
            std::vector<std::pair<int32_t, int32_t>> pending;  // (compiled, local) children to patch
            while (!stack.empty()) {
                int32_t local = stack.back();
                int d = depth.back();
                stack.pop_back();
                depth.pop_back();
                check(map[local] < 0, "tree " + std::to_string(t) + " is not a tree (cycle)");
                const int64_t gi = b + local;
                const int32_t ci = static_cast<int32_t>(nodes_.size());
                map[local] = ci;
                max_depth_ = std::max(max_depth_, d);
                Node nd{};
                const uint8_t kind = a.kind[gi];
                if (kind == kLeafNode) {
                    nd.thr = std::numeric_limits<float>::infinity();
                    nd.feat = detail::kLeaf | detail::kDefaultLeft;
                    nd.left = nd.right = ci;
                    check(std::isfinite(a.value[gi]), "leaf value is not finite");
                    value_.push_back(a.value[gi]);
                    if (has_linear_) {
                        leaf_linear_.resize(static_cast<size_t>(ci) + 1, -1);
                        if (linear_tree) {
                            leaf_linear_[ci] = static_cast<int32_t>(linear_const_.size());
                            linear_const_.push_back(a.linear_const[gi]);
                            for (int64_t j = a.linear_ptr[gi]; j < a.linear_ptr[gi + 1]; ++j) {
                                linear_feature_.push_back(a.linear_feature[j]);
                                linear_coef_.push_back(a.linear_coef[j]);
                            }
                            linear_ptr_.push_back(static_cast<int64_t>(linear_feature_.size()));
                        }
                    }
                    nodes_.push_back(nd);
                    continue;
                }
                check(kind <= kXgbCat, "unknown node kind " + std::to_string(kind));
                const int32_t f = a.feature[gi];
                check(f >= 0 && f < n_features_, "split feature out of range");
                const int32_t l = a.left[gi], r = a.right[gi];
                check(l >= 0 && l < size && r >= 0 && r < size && l != r, "child out of range");
                const bool dl = (a.flags[gi] & 1) != 0;
                const int mt = (a.flags[gi] >> 1) & 3;
                const double thr = a.threshold[gi];
                check(!std::isnan(thr), "threshold is NaN");
                nd.feat = static_cast<uint32_t>(f);
                bool special = false;
                Special sp{kind, static_cast<uint8_t>(mt), dl, 0, 0, thr};
                if (kind == kXgbNum) {
                    nd.thr = std::nextafter(static_cast<float>(thr),
                                            -std::numeric_limits<float>::infinity());
                    if (dl) nd.feat |= detail::kDefaultLeft;
                } else if (kind == kLgbNum) {
                    check(mt <= 2, "unknown LightGBM missing type");
                    const float zero = static_cast<float>(detail::kLgbZero);
                    float t32 = detail::round_down_to_float(thr);
                    // inputs in [-zero, zero] are read as 0 by LightGBM
                    if (thr >= 0) {
                        t32 = std::max(t32, zero);
                    } else {
                        t32 = std::min(t32, std::nextafter(-zero, -std::numeric_limits<float>::infinity()));
                    }
                    nd.thr = t32;
                    bool nan_left = dl;
                    if (mt == 0) nan_left = 0.0 <= thr;  // NaN is read as 0
                    if (mt == 1) {
                        // zero (and NaN, read as 0) is missing: exact as one threshold only
                        // when the zero band falls on the default side anyway
                        special = !((dl && thr >= detail::kLgbZero) || (!dl && thr < -detail::kLgbZero));
                    }
                    if (nan_left) nd.feat |= detail::kDefaultLeft;
                } else {
                    special = true;
                    const int64_t k = static_cast<int64_t>(thr);
                    check(thr == static_cast<double>(k) && k >= 0 && k + 1 < a.n_cat_ptr,
                          "category set index out of range");
                    int64_t max_c = -1;
                    for (int64_t j = a.cat_ptr[k]; j < a.cat_ptr[k + 1]; ++j) {
                        check(a.cat_values[j] >= 0 && a.cat_values[j] < detail::kMaxCategory,
                              "category value out of range");
                        max_c = std::max(max_c, a.cat_values[j]);
                    }
                    sp.words_begin = static_cast<int64_t>(cat_words_.size());
                    sp.n_words = static_cast<uint32_t>((max_c + 32) / 32);
                    cat_words_.resize(cat_words_.size() + sp.n_words, 0u);
                    for (int64_t j = a.cat_ptr[k]; j < a.cat_ptr[k + 1]; ++j) {
                        int64_t c = a.cat_values[j];
                        cat_words_[sp.words_begin + (c >> 5)] |= 1u << (c & 31);
                    }
                }
                if (special) {
                    check(specials_.size() < (size_t(1) << 30), "too many special nodes");
                    int32_t si = static_cast<int32_t>(specials_.size());
                    specials_.push_back(sp);
                    std::memcpy(&nd.thr, &si, sizeof si);
                    nd.feat |= detail::kSpecial;
                    ++n_special_;
                }
                nodes_.push_back(nd);
                value_.push_back(0.0);
                pending.emplace_back(ci, l);
                pending.emplace_back(ci, ~r);
                // push right first so the left child is laid out next
                stack.push_back(r);
                depth.push_back(d + 1);
                stack.push_back(l);
                depth.push_back(d + 1);
            }
            for (auto& p : pending) {
                if (p.second >= 0) {
                    nodes_[p.first].left = map[p.second];
                } else {
                    nodes_[p.first].right = map[~p.second];
                }
            }
        }
        if (has_linear_) leaf_linear_.resize(nodes_.size(), -1);
        build_complete();
        build_vector_nodes();
    }

    int64_t n_features_ = 0;
    int64_t n_groups_ = 1;
    Link link_ = Link::identity;
    std::vector<double> base_;
    std::vector<Node> nodes_;
    std::vector<double> value_;
    std::vector<int32_t> roots_;
    std::vector<int32_t> groups_;
    std::vector<Special> specials_;
    std::vector<uint32_t> cat_words_;
    int complete_depth_ = 0;
    std::vector<CNode> complete_nodes_;  // batch engine of shallow forests (may be empty)
    std::vector<double> complete_values_;
    detail::Isa isa_ = detail::Isa::scalar;
    bool simd_complete_ = false;          // complete_avx512 in use
    std::vector<uint32_t> complete_thr_;  // complete_nodes_ by field (bits of thr, feat)
    std::vector<uint32_t> complete_feat_;
    bool simd_pointer_ = false;  // pointer_avx512 in use: the copy below
    std::vector<uint32_t> vfeat_;
    std::vector<uint32_t> vthr_;     // bits of thr; word offset (kCat); special index (kSpecial)
    std::vector<int32_t> vleft_;     // left child slot; the right child is the next slot
    std::vector<double> vvalue_;
    std::vector<int32_t> vroot_;
    std::vector<uint32_t> vcat_words_;
    std::vector<uint32_t> vtop_words_;  // per tree: 4 category words of each of its first 32 slots
    std::vector<TopNode> top_nodes_;
    std::vector<TopLevel> top_levels_;
    std::vector<int32_t> leaf_slots_;
    std::vector<TopTree> top_tree_;
    std::vector<uint32_t> top_sets_;
    std::vector<int32_t> top_cat_features_;
    int64_t n_vcat_ = 0;
    int64_t n_vspecial_ = 0;
    int32_t vdummy_ = 0;              // a leaf of value 0 (idle lanes)
    bool simd_row_ = false;           // row_avx512 in use: the 8-byte nodes below
    std::vector<uint64_t> vnode64_;
    std::vector<long long> vroot64_;  // vnode64_ of each tree's root
    int64_t n_special_ = 0;
    int max_depth_ = 0;
    bool has_linear_ = false;
    std::vector<int32_t> leaf_linear_;
    std::vector<double> linear_const_;
    std::vector<int64_t> linear_ptr_{0};
    std::vector<int32_t> linear_feature_;
    std::vector<double> linear_coef_;
};

}  // namespace mlwf
