// pybind11 glue for cpp/include/mlwf/forest.hpp and plan.hpp: the compiled Forest and Plan.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <mlwf/forest.hpp>

#include <memory>
#include <string>
#include <vector>

namespace py = pybind11;

namespace {

template <typename T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <typename T>
struct Held {
    carray<T> arr;
    const T* ptr = nullptr;
    int64_t size = 0;
};

template <typename T>
Held<T> take(const py::dict& d, const char* name, bool required) {
    Held<T> h;
    if (!d.contains(name)) {
        if (required) throw mlwf::ForestError(std::string("invalid forest arrays: missing '") + name + "'");
        return h;
    }
    h.arr = carray<T>::ensure(d[name]);
    if (!h.arr) throw mlwf::ForestError(std::string("invalid forest arrays: '") + name + "' is not numeric");
    if (h.arr.ndim() != 1) throw mlwf::ForestError(std::string("invalid forest arrays: '") + name + "' must be 1-D");
    h.ptr = h.arr.data();
    h.size = h.arr.shape(0);
    return h;
}

std::shared_ptr<mlwf::Forest> forest_from_dict(const py::dict& d) {
    auto meta = take<int64_t>(d, "meta", true);
    auto base = take<double>(d, "base", true);
    auto tree_ptr = take<int64_t>(d, "tree_ptr", true);
    auto tree_group = take<int32_t>(d, "tree_group", true);
    auto kind = take<uint8_t>(d, "kind", true);
    auto flags = take<uint8_t>(d, "flags", true);
    auto feature = take<int32_t>(d, "feature", true);
    auto threshold = take<double>(d, "threshold", true);
    auto left = take<int32_t>(d, "left", true);
    auto right = take<int32_t>(d, "right", true);
    auto value = take<double>(d, "value", true);
    auto cat_ptr = take<int64_t>(d, "cat_ptr", true);
    auto cat_values = take<int64_t>(d, "cat_values", true);
    auto tree_linear = take<uint8_t>(d, "tree_linear", false);
    auto linear_ptr = take<int64_t>(d, "linear_ptr", false);
    auto linear_const = take<double>(d, "linear_const", false);
    auto linear_feature = take<int32_t>(d, "linear_feature", false);
    auto linear_coef = take<double>(d, "linear_coef", false);
    const int64_t n = kind.size;
    for (int64_t s : {flags.size, feature.size, threshold.size, left.size, right.size, value.size}) {
        if (s != n) throw mlwf::ForestError("invalid forest arrays: node arrays differ in length");
    }
    if (linear_feature.size != linear_coef.size) {
        throw mlwf::ForestError("invalid forest arrays: linear_feature and linear_coef differ in length");
    }
    mlwf::ForestArrays a;
    a.meta = meta.ptr;
    a.n_meta = meta.size;
    a.base = base.ptr;
    a.n_base = base.size;
    a.tree_ptr = tree_ptr.ptr;
    a.n_tree_ptr = tree_ptr.size;
    a.tree_group = tree_group.ptr;
    a.n_tree_group = tree_group.size;
    a.kind = kind.ptr;
    a.flags = flags.ptr;
    a.feature = feature.ptr;
    a.threshold = threshold.ptr;
    a.left = left.ptr;
    a.right = right.ptr;
    a.value = value.ptr;
    a.n_nodes = n;
    a.cat_ptr = cat_ptr.ptr;
    a.n_cat_ptr = cat_ptr.size;
    a.cat_values = cat_values.ptr;
    a.n_cat_values = cat_values.size;
    if (tree_linear.ptr || d.contains("tree_linear")) {
        a.tree_linear = tree_linear.ptr ? tree_linear.ptr : reinterpret_cast<const uint8_t*>("");
        a.n_tree_linear = tree_linear.size;
        a.linear_ptr = linear_ptr.ptr;
        a.n_linear_ptr = linear_ptr.size;
        a.linear_const = linear_const.ptr;
        a.n_linear_const = linear_const.size;
        a.linear_feature = linear_feature.ptr;
        a.linear_coef = linear_coef.ptr;
        a.n_linear = linear_feature.size;
    }
    return std::make_shared<mlwf::Forest>(a);
}

const float* check_matrix(const carray<float>& X, const mlwf::Forest& f) {
    if (X.ndim() != 2) throw py::value_error("X must be a 2-D array");
    if (X.shape(1) != f.n_features()) {
        throw py::value_error("X has " + std::to_string(X.shape(1)) + " columns but the forest expects " +
                              std::to_string(f.n_features()));
    }
    return X.data();
}

double* check_out(carray<double>& out, int64_t n, int64_t k) {
    if (out.size() != n * k) throw py::value_error("out has the wrong size");
    if (!out.writeable()) throw py::value_error("out must be writeable");
    return out.mutable_data();
}

const float* check_row(const carray<float>& x, const mlwf::Forest& f) {
    if (x.ndim() != 1 || x.shape(0) != f.n_features()) {
        throw py::value_error("x must be a 1-D array of " + std::to_string(f.n_features()) + " values");
    }
    return x.data();
}

}  // namespace

namespace mlwf_bind {

void bind_forest(py::module_& m) {
    py::register_exception<mlwf::ForestError>(m, "ForestError", PyExc_ValueError);

    py::class_<mlwf::Forest, std::shared_ptr<mlwf::Forest>>(m, "Forest")
        .def(py::init(&forest_from_dict), py::arg("arrays"),
             "Compile a forest from the arrays of mlwf_core.deploy._forest.forest_arrays.")
        .def_property_readonly("n_features", &mlwf::Forest::n_features)
        .def_property_readonly("n_groups", &mlwf::Forest::n_groups)
        .def_property_readonly("n_trees", &mlwf::Forest::n_trees)
        .def_property_readonly("n_nodes", &mlwf::Forest::n_nodes)
        .def_property_readonly("max_depth", &mlwf::Forest::max_depth)
        .def_property_readonly("link", [](const mlwf::Forest& f) { return static_cast<int>(f.link()); })
        .def(
            "predict_raw_into",
            [](const mlwf::Forest& f, const carray<float>& X, carray<double> out, int n_threads) {
                const float* x = check_matrix(X, f);
                const int64_t n = X.shape(0);
                double* o = check_out(out, n, f.n_groups());
                py::gil_scoped_release release;
                f.predict_raw(x, n, o, n_threads);
            },
            py::arg("X"), py::arg("out"), py::arg("n_threads") = 0)
        .def(
            "predict_into",
            [](const mlwf::Forest& f, const carray<float>& X, carray<double> out, int n_threads) {
                const float* x = check_matrix(X, f);
                const int64_t n = X.shape(0);
                double* o = check_out(out, n, f.n_groups());
                py::gil_scoped_release release;
                f.predict(x, n, o, n_threads);
            },
            py::arg("X"), py::arg("out"), py::arg("n_threads") = 0)
        .def(
            "predict_row",
            [](const mlwf::Forest& f, const carray<float>& x) -> py::object {
                const float* p = check_row(x, f);
                if (f.n_groups() == 1) {
                    double o;
                    f.predict_row(p, &o);
                    return py::float_(o);
                }
                carray<double> out(f.n_groups());
                f.predict_row(p, out.mutable_data());
                return std::move(out);
            },
            py::arg("x"), "Prediction of one row: a float, or an array of class probabilities.")
        .def(
            "predict_row_raw",
            [](const mlwf::Forest& f, const carray<float>& x) -> py::object {
                const float* p = check_row(x, f);
                if (f.n_groups() == 1) {
                    double o;
                    f.predict_row_raw(p, &o);
                    return py::float_(o);
                }
                carray<double> out(f.n_groups());
                f.predict_row_raw(p, out.mutable_data());
                return std::move(out);
            },
            py::arg("x"));

}

}  // namespace mlwf_bind
