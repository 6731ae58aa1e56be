// pybind11 glue for cpp/include/mlwf/shap.hpp: TreeSHAP contributions on the forest arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <mlwf/shap.hpp>

#include <memory>
#include <string>
#include <vector>

namespace py = pybind11;

namespace {

template <typename T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// Keeps every array alive while the explainer is built from raw pointers.
struct Arrays {
    std::vector<py::object> keep;

    template <typename T>
    const T* take(const py::dict& d, const char* name, int64_t* size, bool required = true) {
        if (!d.contains(name)) {
            if (required) throw mlwf::ForestError(std::string("invalid forest arrays: missing '") + name + "'");
            *size = 0;
            return nullptr;
        }
        auto arr = carray<T>::ensure(d[name]);
        if (!arr) throw mlwf::ForestError(std::string("invalid forest arrays: '") + name + "' is not numeric");
        if (arr.ndim() != 1) throw mlwf::ForestError(std::string("invalid forest arrays: '") + name + "' must be 1-D");
        *size = arr.shape(0);
        keep.push_back(arr);
        return arr.data();
    }
};

std::shared_ptr<mlwf::TreeShap> tree_shap_from_dict(const py::dict& d) {
    Arrays h;
    mlwf::ForestArrays a;
    a.meta = h.take<int64_t>(d, "meta", &a.n_meta);
    a.base = h.take<double>(d, "base", &a.n_base);
    a.tree_ptr = h.take<int64_t>(d, "tree_ptr", &a.n_tree_ptr);
    a.tree_group = h.take<int32_t>(d, "tree_group", &a.n_tree_group);
    int64_t sizes[8];
    a.kind = h.take<uint8_t>(d, "kind", &sizes[0]);
    a.flags = h.take<uint8_t>(d, "flags", &sizes[1]);
    a.feature = h.take<int32_t>(d, "feature", &sizes[2]);
    a.threshold = h.take<double>(d, "threshold", &sizes[3]);
    a.left = h.take<int32_t>(d, "left", &sizes[4]);
    a.right = h.take<int32_t>(d, "right", &sizes[5]);
    a.value = h.take<double>(d, "value", &sizes[6]);
    if (!d.contains("cover")) {
        throw mlwf::ForestError(
            "invalid forest arrays: missing 'cover' (per-node training cover, needed by TreeSHAP; "
            "arrays exported before it was added must be exported again from the boosters)");
    }
    int64_t n_cover = 0;
    const double* cover = h.take<double>(d, "cover", &n_cover);
    a.n_nodes = sizes[0];
    for (int i = 1; i < 7; ++i) {
        if (sizes[i] != a.n_nodes) throw mlwf::ForestError("invalid forest arrays: node arrays differ in length");
    }
    a.cat_ptr = h.take<int64_t>(d, "cat_ptr", &a.n_cat_ptr);
    a.cat_values = h.take<int64_t>(d, "cat_values", &a.n_cat_values);
    a.tree_linear = h.take<uint8_t>(d, "tree_linear", &a.n_tree_linear, false);
    return std::make_shared<mlwf::TreeShap>(a, cover, n_cover);
}

const float* check_matrix(const carray<float>& X, const mlwf::TreeShap& s) {
    if (X.ndim() != 2) throw py::value_error("X must be a 2-D array");
    if (X.shape(1) != s.n_features()) {
        throw py::value_error("X has " + std::to_string(X.shape(1)) + " columns but the forest expects " +
                              std::to_string(s.n_features()));
    }
    return X.data();
}

}  // namespace

namespace mlwf_bind {

void bind_shap(py::module_& m) {
    py::class_<mlwf::TreeShap, std::shared_ptr<mlwf::TreeShap>>(m, "TreeShap")
        .def(py::init(&tree_shap_from_dict), py::arg("arrays"),
             "Path-dependent TreeSHAP on the arrays of mlwf_core.deploy._forest.forest_arrays "
             "(which must hold 'cover').")
        .def_property_readonly("n_features", &mlwf::TreeShap::n_features)
        .def_property_readonly("n_groups", &mlwf::TreeShap::n_groups)
        .def_property_readonly("n_trees", &mlwf::TreeShap::n_trees)
        .def_property_readonly("max_depth", &mlwf::TreeShap::max_depth)
        .def_property_readonly("expected_value",
                               [](const mlwf::TreeShap& s) {
                                   const auto& e = s.expected_value();
                                   carray<double> out(static_cast<py::ssize_t>(e.size()));
                                   std::copy(e.begin(), e.end(), out.mutable_data());
                                   return out;
                               })
        .def(
            "explain_into",
            [](const mlwf::TreeShap& s, const carray<float>& X, carray<double> out, int n_threads) {
                const float* x = check_matrix(X, s);
                const int64_t n = X.shape(0);
                if (out.size() != n * s.row_width()) throw py::value_error("out has the wrong size");
                if (!out.writeable()) throw py::value_error("out must be writeable");
                double* o = out.mutable_data();
                py::gil_scoped_release release;
                s.explain(x, n, o, n_threads);
            },
            py::arg("X"), py::arg("out"), py::arg("n_threads") = 0,
            "Contributions of n rows into out (n, n_groups, n_features + 1); the last column "
            "is the expected value.")
        .def(
            "explain_row",
            [](const mlwf::TreeShap& s, const carray<float>& x) {
                if (x.ndim() != 1 || x.shape(0) != s.n_features()) {
                    throw py::value_error("x must be a 1-D array of " + std::to_string(s.n_features()) + " values");
                }
                carray<double> out({static_cast<py::ssize_t>(s.n_groups()), static_cast<py::ssize_t>(s.n_features() + 1)});
                double* o = out.mutable_data();
                const float* p = x.data();
                {
                    py::gil_scoped_release release;
                    s.explain_row(p, o);
                }
                return out;
            },
            py::arg("x"), "Contributions of one row, shape (n_groups, n_features + 1), on the caller's thread.");
}

}  // namespace mlwf_bind
