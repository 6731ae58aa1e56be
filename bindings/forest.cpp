// pybind11 glue for cpp/include/mlwf/forest.hpp and plan.hpp: the compiled Forest and Plan.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <mlwf/forest.hpp>
#include <mlwf/plan.hpp>

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

void bind_plan(py::module_& m);

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

    bind_plan(m);
}

}  // namespace mlwf_bind

// ------------------------------------------------------------------------- plan
namespace {

mlwf::PlanSpec plan_spec_from_dict(const py::dict& d) {
    mlwf::PlanSpec spec;
    if (!d.contains("version") || !d.contains("columns")) {
        throw mlwf::PlanError("a plan needs 'version' and 'columns'");
    }
    spec.version = d["version"].cast<int64_t>();
    for (auto item : d["columns"].cast<py::list>()) {
        py::dict c = item.cast<py::dict>();
        mlwf::OpSpec op;
        op.name = c["name"].cast<std::string>();
        op.kind = c["kind"].cast<std::string>();
        if (c.contains("levels")) {
            for (auto level : c["levels"].cast<py::list>()) op.levels.push_back(py::str(level).cast<std::string>());
        }
        spec.ops.push_back(std::move(op));
    }
    if (d.contains("ops") && !d["ops"].is_none()) {
        auto strings = [](const py::dict& o, const char* key, std::vector<std::string>& out) {
            if (!o.contains(key)) return;
            for (auto x : o[key].cast<py::list>()) out.push_back(py::str(x).cast<std::string>());
        };
        auto numbers = [](const py::dict& o, const char* key, std::vector<double>& out) {
            if (!o.contains(key)) return;
            for (auto x : o[key].cast<py::list>()) out.push_back(x.cast<double>());
        };
        auto number = [](const py::dict& o, const char* key, double& out) {
            if (o.contains(key) && !o[key].is_none()) out = o[key].cast<double>();
        };
        auto text = [](const py::dict& o, const char* key, std::string& out) {
            if (o.contains(key) && !o[key].is_none()) out = o[key].cast<std::string>();
        };
        for (auto item : d["ops"].cast<py::list>()) {
            py::dict o = item.cast<py::dict>();
            if (!o.contains("op") || !o.contains("output") || !o.contains("inputs")) {
                throw mlwf::PlanError("a plan op needs 'op', 'inputs' and 'output'");
            }
            mlwf::PlanOpSpec op;
            op.op = o["op"].cast<std::string>();
            op.output = o["output"].cast<std::string>();
            strings(o, "inputs", op.inputs);
            strings(o, "levels", op.levels);
            numbers(o, "values", op.values);
            numbers(o, "mean", op.mean);
            numbers(o, "scale", op.scale);
            numbers(o, "weights", op.weights);
            number(o, "default", op.default_value);
            number(o, "missing", op.missing_value);
            number(o, "origin", op.origin);
            number(o, "value", op.fill);
            text(o, "format", op.format);
            text(o, "part", op.part);
            text(o, "base", op.base);
            if (o.contains("bucket")) op.bucket = o["bucket"].cast<int64_t>();
            if (o.contains("n_buckets")) op.n_buckets = o["n_buckets"].cast<int64_t>();
            spec.steps.push_back(std::move(op));
        }
    }
    if (d.contains("features") && !d["features"].is_none()) {
        for (auto f : d["features"].cast<py::list>()) spec.features.push_back(f.cast<std::string>());
    }
    return spec;
}

// Column batch from Python: per plan input column None, ("f64" | "i64" | "bool", array) or
// ("str", offsets int64, chars uint8, validity uint8 | None, bit offset).
struct ColumnBatch {
    std::vector<mlwf::ColumnView> views;
    std::vector<py::object> keep;  // owners of the buffers
};

ColumnBatch columns_from_list(const mlwf::Plan& plan, const py::list& cols, int64_t n) {
    if (static_cast<int64_t>(cols.size()) != plan.n_columns()) {
        throw py::value_error("expected one entry per plan column");
    }
    ColumnBatch b;
    b.views.resize(cols.size());
    for (size_t i = 0; i < cols.size(); ++i) {
        py::object c = cols[i];
        mlwf::ColumnView& v = b.views[i];
        if (c.is_none()) continue;
        py::tuple t = c.cast<py::tuple>();
        std::string tag = t[0].cast<std::string>();
        if (tag == "f64" || tag == "i64" || tag == "bool") {
            auto arr = carray<double>::ensure(t[1]);
            if (!arr || arr.ndim() != 1 || arr.shape(0) != n) throw py::value_error("numeric column of wrong length");
            v.type = tag == "bool" ? mlwf::ColumnView::Booleans : mlwf::ColumnView::Float64;
            v.integer = tag == "i64";  // integers as float64: text ops print them without ".0"
            v.numbers = arr.data();
            b.keep.push_back(arr);
        } else if (tag == "str") {
            auto offsets = carray<int64_t>::ensure(t[1]);
            auto chars = carray<uint8_t>::ensure(t[2]);
            if (!offsets || offsets.ndim() != 1 || offsets.shape(0) != n + 1 || !chars) {
                throw py::value_error("string column offsets of wrong length");
            }
            const int64_t* o = offsets.data();
            for (int64_t r = 0; r <= n; ++r) {
                if (o[r] < 0 || o[r] > chars.shape(0) || (r > 0 && o[r] < o[r - 1])) {
                    throw py::value_error("string column offsets out of range");
                }
            }
            v.type = mlwf::ColumnView::Strings;
            v.offsets = o;
            v.chars = reinterpret_cast<const char*>(chars.data());
            b.keep.push_back(offsets);
            b.keep.push_back(chars);
            if (!t[3].is_none()) {
                auto validity = carray<uint8_t>::ensure(t[3]);
                v.validity_offset = t[4].cast<int64_t>();
                if (!validity || validity.shape(0) * 8 < v.validity_offset + n) throw py::value_error("validity too short");
                v.validity = validity.data();
                b.keep.push_back(validity);
            }
        } else {
            throw py::value_error("unknown column tag " + tag);
        }
    }
    return b;
}

// Plan + forest for raw records: dict keys are looked up with cached key objects.
struct RecordScorer {
    std::shared_ptr<mlwf::Plan> plan;
    std::shared_ptr<mlwf::Forest> forest;
    std::vector<py::object> keys;

    RecordScorer(std::shared_ptr<mlwf::Plan> p, std::shared_ptr<mlwf::Forest> f)
        : plan(std::move(p)), forest(std::move(f)) {
        if (plan->n_features() != forest->n_features()) {
            throw mlwf::PlanError("the plan makes " + std::to_string(plan->n_features()) +
                                  " features but the forest reads " + std::to_string(forest->n_features()));
        }
        for (int64_t i = 0; i < plan->n_columns(); ++i) {
            keys.push_back(py::reinterpret_steal<py::object>(PyUnicode_InternFromString(plan->column_name(i).c_str())));
        }
    }

    static mlwf::Value to_value(PyObject* o, std::vector<py::object>& holders) {
        if (o == nullptr || o == Py_None) return mlwf::Value::missing();
        if (PyBool_Check(o)) return mlwf::Value::of_bool(o == Py_True);
        if (PyFloat_Check(o)) return mlwf::Value::of_number(PyFloat_AS_DOUBLE(o));
        if (PyLong_Check(o)) {
            double v = PyLong_AsDouble(o);
            if (v == -1.0 && PyErr_Occurred()) throw py::error_already_set();
            return mlwf::Value::of_integer(v);
        }
        if (PyUnicode_Check(o)) {
            Py_ssize_t len;
            const char* s = PyUnicode_AsUTF8AndSize(o, &len);
            if (!s) throw py::error_already_set();
            return mlwf::Value::of_text(std::string_view(s, static_cast<size_t>(len)));
        }
        if (PyIndex_Check(o)) {  // NumPy integers print as integers, like Python's
            py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(o));
            if (!i) throw py::error_already_set();
            double v = PyLong_AsDouble(i.ptr());
            if (v == -1.0 && PyErr_Occurred()) throw py::error_already_set();
            return mlwf::Value::of_integer(v);
        }
        py::object f = py::reinterpret_steal<py::object>(PyNumber_Float(o));
        if (!f) {
            PyErr_Clear();
            py::str text = py::str(py::handle(o));  // other objects score by their string form
            holders.push_back(text);
            Py_ssize_t len;
            const char* s = PyUnicode_AsUTF8AndSize(text.ptr(), &len);
            return mlwf::Value::of_text(std::string_view(s, static_cast<size_t>(len)));
        }
        return mlwf::Value::of_number(PyFloat_AS_DOUBLE(f.ptr()));
    }

    void record_row(const py::dict& record, float* row) const {
        constexpr size_t kStack = 256;
        mlwf::Value stack_values[kStack];
        std::vector<mlwf::Value> heap;
        mlwf::Value* values = stack_values;
        if (keys.size() > kStack) {
            heap.resize(keys.size());
            values = heap.data();
        }
        std::vector<py::object> holders;
        for (size_t i = 0; i < keys.size(); ++i) {
            values[i] = to_value(PyDict_GetItemWithError(record.ptr(), keys[i].ptr()), holders);
            if (PyErr_Occurred()) throw py::error_already_set();
        }
        plan->transform_record(values, row);
    }

    py::object predict_record(const py::dict& record) const {
        const int64_t nf = forest->n_features();
        float stack_row[256];
        std::vector<float> heap;
        float* row = stack_row;
        if (nf > 256) {
            heap.resize(static_cast<size_t>(nf));
            row = heap.data();
        }
        record_row(record, row);
        if (forest->n_groups() == 1) {
            double o;
            forest->predict_row(row, &o);
            return py::float_(o);
        }
        carray<double> out(forest->n_groups());
        forest->predict_row(row, out.mutable_data());
        return std::move(out);
    }
};

}  // namespace

namespace mlwf_bind {

void bind_plan(py::module_& m) {
    py::register_exception<mlwf::PlanError>(m, "PlanError", PyExc_ValueError);

    py::class_<mlwf::Plan, std::shared_ptr<mlwf::Plan>>(m, "Plan")
        .def(py::init([](const py::dict& d) { return std::make_shared<mlwf::Plan>(plan_spec_from_dict(d)); }),
             py::arg("plan"), "Compile the plan dict of a model manifest.")
        .def_property_readonly("n_features", &mlwf::Plan::n_features)
        .def_property_readonly("columns",
                               [](const mlwf::Plan& p) {
                                   py::list out;
                                   for (int64_t i = 0; i < p.n_columns(); ++i) {
                                       out.append(py::make_tuple(p.column_name(i), p.column_kind_name(i)));
                                   }
                                   return out;
                               })
        .def(
            "transform_columns",
            [](const mlwf::Plan& p, const py::list& cols, int64_t n, carray<float> out) {
                ColumnBatch b = columns_from_list(p, cols, n);
                if (out.size() != n * p.n_features() || !out.writeable()) throw py::value_error("out has the wrong size");
                float* o = out.mutable_data();
                py::gil_scoped_release release;
                p.transform_columns(b.views.data(), n, o);
            },
            py::arg("columns"), py::arg("n_rows"), py::arg("out"));

    py::class_<RecordScorer>(m, "RecordScorer")
        .def(py::init<std::shared_ptr<mlwf::Plan>, std::shared_ptr<mlwf::Forest>>(), py::arg("plan"),
             py::arg("forest"))
        .def("predict_record", &RecordScorer::predict_record, py::arg("record"))
        .def(
            "transform_record",
            [](const RecordScorer& s, const py::dict& record) {
                carray<float> out(s.plan->n_features());
                s.record_row(record, out.mutable_data());
                return out;
            },
            py::arg("record"))
        .def(
            "predict_columns_into",
            [](const RecordScorer& s, const py::list& cols, int64_t n, carray<double> out, int n_threads) {
                ColumnBatch b = columns_from_list(*s.plan, cols, n);
                if (out.size() != n * s.forest->n_groups() || !out.writeable()) {
                    throw py::value_error("out has the wrong size");
                }
                double* o = out.mutable_data();
                py::gil_scoped_release release;
                std::vector<float> X(static_cast<size_t>(n * s.plan->n_features()));
                s.plan->transform_columns(b.views.data(), n, X.data());
                s.forest->predict(X.data(), n, o, n_threads);
            },
            py::arg("columns"), py::arg("n_rows"), py::arg("out"), py::arg("n_threads") = 0);
}

}  // namespace mlwf_bind
