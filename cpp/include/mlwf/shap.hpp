// Path-dependent TreeSHAP on the structure-of-arrays forest of forest.hpp.
//
// Algorithm 2 of Lundberg et al. (2020), "From local explanations to global understanding
// with explainable AI for trees": exact Shapley values of each tree's output where a
// feature outside the coalition follows both children, weighted by the training cover
// (the share of training rows, or of hessian, that went each way). Per-node cover comes
// from the learners (LightGBM internal_count / leaf_count, XGBoost sum_hessian), as their
// own TreeSHAP reads it, so the values match LightGBM pred_contrib and XGBoost
// pred_contribs.
//
// The row a feature is "in the coalition" for follows the forest's own decision rule
// (missing values to the default side, LightGBM's zero band and missing types, category
// sets), which is what both learners do. Values are linear in the leaf values, so a
// weighted ensemble (leaves already scaled by the member weights) explains as the
// weighted sum of its members, and the contributions of a row plus the expected value
// add up to the raw margin.
//
// Output layout of one row: n_groups blocks of n_features + 1 doubles; the last entry of
// a block is the expected value (base margin plus each tree's cover-weighted mean leaf).
#pragma once

#include <mlwf/forest.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mlwf {

class TreeShap {
public:
    // `cover` holds one value per node of `a` (same order as the node arrays).
    TreeShap(const ForestArrays& a, const double* cover, int64_t n_cover) { build(a, cover, n_cover); }

    int64_t n_features() const { return n_features_; }
    int64_t n_groups() const { return n_groups_; }
    int64_t n_trees() const { return static_cast<int64_t>(roots_.size()); }
    int max_depth() const { return max_depth_; }
    // Doubles per row of output: n_groups * (n_features + 1).
    int64_t row_width() const { return n_groups_ * (n_features_ + 1); }
    // Expected value (the base of the contributions) of each output group.
    const std::vector<double>& expected_value() const { return expected_; }

    // Contributions of one row into out[row_width()], on the caller's thread.
    void explain_row(const float* x, double* out) const {
        std::vector<PathElement> path(path_capacity());
        explain_row(x, out, path.data());
    }

    // Contributions of n rows (row-major, n_features columns) into out[n * row_width()].
    void explain(const float* X, int64_t n, double* out, int n_threads = 0) const {
        if (n <= 0) return;
        if (n_threads <= 0) n_threads = detail::ThreadPool::hardware_threads();
        // rows are expensive (every leaf of every tree): small chunks balance the threads
        const int64_t per_chunk = std::max<int64_t>(1, std::min<int64_t>(64, n / (int64_t(n_threads) * 4)));
        const int64_t n_chunks = (n + per_chunk - 1) / per_chunk;
        const int64_t w = row_width();
        std::function<void(int64_t)> fn = [&](int64_t c) {
            std::vector<PathElement> path(path_capacity());
            const int64_t r1 = std::min(n, (c + 1) * per_chunk);
            for (int64_t r = c * per_chunk; r < r1; ++r) {
                explain_row(X + r * n_features_, out + r * w, path.data());
            }
        };
        detail::ThreadPool::instance().parallel_for(n_chunks, n_threads, fn);
    }

private:
    struct PathElement {
        int32_t feature;
        double zero_fraction;  // share of cover that reaches here without the feature
        double one_fraction;   // 1 when the row's own value leads here, else 0
        double pweight;        // permutation weight
    };

    struct Node {
        int32_t left = -1;  // global index; -1 for leaves
        int32_t right = -1;
        int32_t feature = -1;
        uint8_t kind = kLeafNode;
        uint8_t missing_type = 0;
        bool default_left = false;
        double thr = 0.0;       // numeric threshold (double, as stored)
        float thr32 = 0.0f;     // XGBoost threshold (float)
        double cover = 0.0;
        double value = 0.0;
        int64_t words_begin = 0;  // category bitset
        int64_t n_words = 0;
    };

    // 1 / k for k in [0, max_depth + 3), so that the path loops multiply instead of divide
    void build_inverses() {
        inv_.assign(static_cast<size_t>(max_depth_) + 4, 0.0);
        for (size_t k = 1; k < inv_.size(); ++k) inv_[k] = 1.0 / static_cast<double>(k);
    }

    size_t path_capacity() const {
        const size_t d = static_cast<size_t>(max_depth_) + 2;
        return d * (d + 1) / 2;
    }

    void explain_row(const float* x, double* out, PathElement* path) const {
        const int64_t stride = n_features_ + 1;
        std::fill(out, out + row_width(), 0.0);
        for (size_t t = 0; t < roots_.size(); ++t) {
            const int32_t root = roots_[t];
            if (nodes_[root].left < 0) continue;  // a single leaf only moves the expected value
            double* phi = out + groups_[t] * stride;
            recurse(x, phi, root, 0, path, 1.0, 1.0, -1);
        }
        for (int64_t g = 0; g < n_groups_; ++g) out[g * stride + n_features_] += expected_[g];
    }

    // ------------------------------------------------------------ decisions (as forest.hpp)
    bool in_set(const Node& nd, int64_t c) const {
        const int64_t w = c >> 5;
        if (w >= nd.n_words) return false;
        return (cat_words_[nd.words_begin + w] >> (c & 31)) & 1u;
    }

    bool goes_left(const Node& nd, float xf) const {
        switch (nd.kind) {
            case kXgbNum:
                if (std::isnan(xf)) return nd.default_left;
                return xf < nd.thr32;
            case kLgbNum: {
                double x = static_cast<double>(xf);
                // LightGBM's row parser reads |x| <= 1e-35 as 0
                if (std::fabs(x) <= detail::kLgbZero) x = 0.0;
                if (std::isnan(x) && nd.missing_type != 2) x = 0.0;
                if ((nd.missing_type == 1 && std::fabs(x) <= detail::kLgbZero) ||
                    (nd.missing_type == 2 && std::isnan(x))) {
                    return nd.default_left;
                }
                return x <= nd.thr;
            }
            case kLgbCat: {
                double x = static_cast<double>(xf);
                if (std::fabs(x) <= detail::kLgbZero) x = 0.0;
                if (std::isnan(x)) return false;
                if (!(x > -2147483649.0 && x < 2147483648.0)) return false;
                const int c = static_cast<int>(x);
                if (c < 0) return false;
                return in_set(nd, c);
            }
            case kXgbCat:
                if (std::isnan(xf)) return nd.default_left;
                if (xf < 0.0f || xf >= static_cast<float>(detail::kMaxCategory)) return true;
                return !in_set(nd, static_cast<int64_t>(xf));
            default:
                return false;
        }
    }

    // ------------------------------------------------------------ TreeSHAP
    static void extend_path(PathElement* path, int depth, double zero_fraction, double one_fraction,
                            int32_t feature) {
        path[depth] = PathElement{feature, zero_fraction, one_fraction, depth == 0 ? 1.0 : 0.0};
        const double inv = 1.0 / static_cast<double>(depth + 1);
        for (int i = depth - 1; i >= 0; --i) {
            path[i + 1].pweight += one_fraction * path[i].pweight * (i + 1) * inv;
            path[i].pweight = zero_fraction * path[i].pweight * (depth - i) * inv;
        }
    }

    static void unwind_path(PathElement* path, int depth, int index) {
        const double one_fraction = path[index].one_fraction;
        const double zero_fraction = path[index].zero_fraction;
        double next_one_portion = path[depth].pweight;
        for (int i = depth - 1; i >= 0; --i) {
            if (one_fraction != 0.0) {
                const double tmp = path[i].pweight;
                path[i].pweight = next_one_portion * (depth + 1) / ((i + 1) * one_fraction);
                next_one_portion = tmp - path[i].pweight * zero_fraction * (depth - i) / (depth + 1);
            } else {
                path[i].pweight = path[i].pweight * (depth + 1) / (zero_fraction * (depth - i));
            }
        }
        for (int i = index; i < depth; ++i) {
            path[i].feature = path[i + 1].feature;
            path[i].zero_fraction = path[i + 1].zero_fraction;
            path[i].one_fraction = path[i + 1].one_fraction;
        }
    }

    // Total permutation weight of the path with element `index` taken out. one_fraction is
    // 0 or 1 (the row goes one way), which keeps divisions out of the loops: the hot
    // spot of the algorithm, run for every element of the path at every leaf.
    double unwound_path_sum(const PathElement* path, int depth, int index) const {
        const double zero_fraction = path[index].zero_fraction;
        const double* inv = inv_.data();
        const double top = static_cast<double>(depth + 1);
        double total = 0.0;
        if (path[index].one_fraction != 0.0) {
            const double z = zero_fraction * inv[depth + 1];
            double next_one_portion = path[depth].pweight;
            for (int i = depth - 1; i >= 0; --i) {
                const double tmp = next_one_portion * top * inv[i + 1];
                total += tmp;
                next_one_portion = path[i].pweight - tmp * z * (depth - i);
            }
        } else if (zero_fraction != 0.0) {
            const double z = top / zero_fraction;
            for (int i = depth - 1; i >= 0; --i) total += path[i].pweight * z * inv[depth - i];
        }
        return total;
    }

    void recurse(const float* x, double* phi, int32_t node, int depth, PathElement* parent_path,
                 double parent_zero_fraction, double parent_one_fraction, int32_t parent_feature) const {
        // each level works on its own copy of the path, laid out after its parent's
        PathElement* path = parent_path + depth + 1;
        std::copy(parent_path, parent_path + depth + 1, path);
        extend_path(path, depth, parent_zero_fraction, parent_one_fraction, parent_feature);
        const Node& nd = nodes_[node];
        if (nd.left < 0) {
            for (int i = 1; i <= depth; ++i) {
                const double w = unwound_path_sum(path, depth, i);
                const PathElement& el = path[i];
                phi[el.feature] += w * (el.one_fraction - el.zero_fraction) * nd.value;
            }
            return;
        }
        const bool left = goes_left(nd, x[nd.feature]);
        const int32_t hot = left ? nd.left : nd.right;
        const int32_t cold = left ? nd.right : nd.left;
        const double w = nd.cover;
        // a node no training row reached (zero cover) splits its weight evenly
        const double hot_zero = w > 0.0 ? nodes_[hot].cover / w : 0.5;
        const double cold_zero = w > 0.0 ? nodes_[cold].cover / w : 0.5;
        double incoming_zero = 1.0;
        double incoming_one = 1.0;
        // a feature seen higher on the path: undo that split and redo it here
        int index = 0;
        for (; index <= depth; ++index) {
            if (path[index].feature == nd.feature) break;
        }
        if (index != depth + 1) {
            incoming_zero = path[index].zero_fraction;
            incoming_one = path[index].one_fraction;
            unwind_path(path, depth, index);
            depth -= 1;
        }
        recurse(x, phi, hot, depth + 1, path, hot_zero * incoming_zero, incoming_one, nd.feature);
        recurse(x, phi, cold, depth + 1, path, cold_zero * incoming_zero, 0.0, nd.feature);
    }

    // Cover-weighted mean leaf value below `node`, with the same ratios as the recursion.
    double mean_value(int32_t node) const {
        const Node& nd = nodes_[node];
        if (nd.left < 0) return nd.value;
        const double w = nd.cover;
        const double l = w > 0.0 ? nodes_[nd.left].cover / w : 0.5;
        const double r = w > 0.0 ? nodes_[nd.right].cover / w : 0.5;
        return l * mean_value(nd.left) + r * mean_value(nd.right);
    }

    // ------------------------------------------------------------ build
    static void check(bool ok, const std::string& what) {
        if (!ok) throw ForestError("invalid forest arrays: " + what);
    }

    void build(const ForestArrays& a, const double* cover, int64_t n_cover) {
        check(a.meta && a.n_meta >= 5, "meta must hold 5 integers");
        check(a.meta[0] == 1, "unsupported forest format version " + std::to_string(a.meta[0]));
        n_features_ = a.meta[1];
        n_groups_ = a.meta[2];
        check(n_features_ >= 1 && n_features_ < (int64_t(1) << 28), "bad number of features");
        check(n_groups_ >= 1 && n_groups_ < (int64_t(1) << 20), "bad number of outputs");
        const int64_t n_trees = a.meta[4];
        check(n_trees >= 0 && a.n_tree_ptr == n_trees + 1 && a.tree_ptr, "tree_ptr length");
        check(a.n_tree_group == n_trees && (n_trees == 0 || a.tree_group), "tree_group length");
        check(a.n_base == n_groups_ && a.base, "base length");
        check(a.n_nodes >= 0 && a.n_nodes < (int64_t(1) << 30), "too many nodes");
        check(a.tree_ptr[0] == 0 && a.tree_ptr[n_trees] == a.n_nodes, "tree_ptr bounds");
        check(a.n_nodes == 0 || (a.kind && a.flags && a.feature && a.threshold && a.left && a.right && a.value),
              "node arrays missing");
        check(cover != nullptr && n_cover == a.n_nodes, "cover must hold one value per node");
        check(a.n_cat_ptr >= 1 && a.cat_ptr && a.cat_ptr[0] == 0 && a.cat_ptr[a.n_cat_ptr - 1] == a.n_cat_values,
              "cat_ptr bounds");
        if (a.tree_linear != nullptr) {
            for (int64_t t = 0; t < a.n_tree_linear; ++t) {
                check(a.tree_linear[t] == 0, "TreeSHAP does not explain linear trees");
            }
        }
        expected_.assign(a.base, a.base + n_groups_);
        nodes_.assign(static_cast<size_t>(a.n_nodes), Node{});
        std::vector<int> depth(static_cast<size_t>(a.n_nodes), -1);
        std::vector<int32_t> stack;
        for (int64_t t = 0; t < n_trees; ++t) {
            const int64_t b = a.tree_ptr[t], e = a.tree_ptr[t + 1];
            check(e > b, "empty tree " + std::to_string(t));
            const int64_t size = e - b;
            const int32_t g = a.tree_group[t];
            check(g >= 0 && g < n_groups_, "tree_group out of range");
            roots_.push_back(static_cast<int32_t>(b));
            groups_.push_back(g);
            stack.assign(1, static_cast<int32_t>(b));
            depth[static_cast<size_t>(b)] = 0;
            while (!stack.empty()) {
                const int32_t gi = stack.back();
                stack.pop_back();
                Node& nd = nodes_[static_cast<size_t>(gi)];
                const int d = depth[static_cast<size_t>(gi)];
                max_depth_ = std::max(max_depth_, d);
                check(std::isfinite(cover[gi]) && cover[gi] >= 0.0, "cover must be finite and non-negative");
                nd.cover = cover[gi];
                nd.kind = a.kind[gi];
                if (nd.kind == kLeafNode) {
                    check(std::isfinite(a.value[gi]), "leaf value is not finite");
                    nd.value = a.value[gi];
                    continue;
                }
                check(nd.kind <= kXgbCat, "unknown node kind " + std::to_string(nd.kind));
                nd.feature = a.feature[gi];
                check(nd.feature >= 0 && nd.feature < n_features_, "split feature out of range");
                const int32_t l = a.left[gi], r = a.right[gi];
                check(l >= 0 && l < size && r >= 0 && r < size && l != r, "child out of range");
                nd.left = static_cast<int32_t>(b + l);
                nd.right = static_cast<int32_t>(b + r);
                nd.default_left = (a.flags[gi] & 1) != 0;
                nd.missing_type = static_cast<uint8_t>((a.flags[gi] >> 1) & 3);
                nd.thr = a.threshold[gi];
                check(!std::isnan(nd.thr), "threshold is NaN");
                nd.thr32 = static_cast<float>(nd.thr);
                if (nd.kind == kLgbCat || nd.kind == kXgbCat) {
                    const int64_t k = static_cast<int64_t>(nd.thr);
                    check(nd.thr == static_cast<double>(k) && k >= 0 && k + 1 < a.n_cat_ptr,
                          "category set index out of range");
                    int64_t max_c = -1;
                    for (int64_t j = a.cat_ptr[k]; j < a.cat_ptr[k + 1]; ++j) {
                        check(a.cat_values[j] >= 0 && a.cat_values[j] < detail::kMaxCategory,
                              "category value out of range");
                        max_c = std::max(max_c, a.cat_values[j]);
                    }
                    nd.words_begin = static_cast<int64_t>(cat_words_.size());
                    nd.n_words = (max_c + 32) / 32;
                    cat_words_.resize(cat_words_.size() + static_cast<size_t>(nd.n_words), 0u);
                    for (int64_t j = a.cat_ptr[k]; j < a.cat_ptr[k + 1]; ++j) {
                        const int64_t c = a.cat_values[j];
                        cat_words_[static_cast<size_t>(nd.words_begin + (c >> 5))] |= 1u << (c & 31);
                    }
                }
                for (int32_t child : {nd.left, nd.right}) {
                    check(depth[static_cast<size_t>(child)] < 0, "tree " + std::to_string(t) + " is not a tree");
                    depth[static_cast<size_t>(child)] = d + 1;
                    stack.push_back(child);
                }
            }
            expected_[static_cast<size_t>(g)] += mean_value(static_cast<int32_t>(b));
        }
        build_inverses();
    }

    int64_t n_features_ = 0;
    int64_t n_groups_ = 1;
    int max_depth_ = 0;
    std::vector<Node> nodes_;
    std::vector<int32_t> roots_;
    std::vector<int32_t> groups_;
    std::vector<uint32_t> cat_words_;
    std::vector<double> expected_;
    std::vector<double> inv_;
};

}  // namespace mlwf
