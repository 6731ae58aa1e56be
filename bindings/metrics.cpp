// pybind11 glue for cpp/include/mlwf/metrics.hpp: check shapes, take pointers, release the
// GIL, call the kernel. mlwf::MetricError becomes mlwf_core.exceptions.DataError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <tuple>

#include "mlwf/metrics.hpp"

namespace py = pybind11;

namespace {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;
using OptArray = std::optional<Array>;

// Rows of a 1-D array (or of a 2-D array's first axis), with a clear error otherwise.
std::size_t rows_of(const Array &a, const char *name, bool allow_2d) {
    if (a.ndim() == 1 || (allow_2d && a.ndim() == 2)) return static_cast<std::size_t>(a.shape(0));
    throw py::value_error(std::string(name) + " must be a " + (allow_2d ? "1-D or 2-D" : "1-D") +
                          " array; got " + std::to_string(a.ndim()) + " dimensions.");
}

struct Inputs {
    const double *y;
    const double *p;
    const double *w;
    std::size_t n;
    int n_columns;  // 1 for a 1-D y_pred
};

Inputs check(const Array &y, const Array &p, const OptArray &w, bool allow_2d) {
    const std::size_t n = rows_of(y, "y_true", false);
    const std::size_t np = rows_of(p, "y_pred", allow_2d);
    if (np != n)
        throw mlwf::MetricError("y_true has " + std::to_string(n) + " rows but y_pred has " +
                                std::to_string(np) + "; pass arrays of the same length.");
    if (n == 0) throw mlwf::MetricError("y_true is empty; a metric needs at least one row.");
    const double *wp = nullptr;
    if (w) {
        if (rows_of(*w, "sample_weight", false) != n)
            throw mlwf::MetricError("sample_weight has " + std::to_string(w->shape(0)) +
                                    " rows but y_true has " + std::to_string(n) +
                                    "; pass one weight per row.");
        wp = w->data();
    }
    const int k = p.ndim() == 2 ? static_cast<int>(p.shape(1)) : 1;
    if (p.ndim() == 2 && k < 2)
        throw mlwf::MetricError("y_pred must have at least 2 columns (one per class); got " +
                                std::to_string(k) + ".");
    return Inputs{y.data(), p.data(), wp, n, k};
}

mlwf::Average parse_average(const std::string &average) {
    if (average == "binary") return mlwf::Average::Binary;
    if (average == "macro") return mlwf::Average::Macro;
    if (average == "weighted") return mlwf::Average::Weighted;
    throw py::value_error("The 'average' parameter must be one of 'binary', 'macro', "
                          "'weighted'. Got '" +
                          average + "' instead.");
}

py::tuple confusion_to_python(const mlwf::Confusion &c) {
    const py::ssize_t k = c.n_classes;
    py::array_t<double> matrix({k, k});
    std::copy(c.matrix.begin(), c.matrix.end(), matrix.mutable_data());
    py::array_t<bool> present(k);
    for (py::ssize_t i = 0; i < k; ++i) present.mutable_data()[i] = c.present[i] != 0;
    return py::make_tuple(matrix, present);
}

mlwf::Confusion confusion_from_python(const Array &matrix, const py::array_t<bool> &present) {
    if (matrix.ndim() != 2 || matrix.shape(0) != matrix.shape(1) || present.ndim() != 1 ||
        present.shape(0) != matrix.shape(0))
        throw py::value_error("confusion must be a square matrix and a matching 1-D mask.");
    mlwf::Confusion c;
    c.n_classes = static_cast<int>(matrix.shape(0));
    c.matrix.assign(matrix.data(), matrix.data() + matrix.size());
    c.present.resize(static_cast<std::size_t>(c.n_classes));
    for (int i = 0; i < c.n_classes; ++i) c.present[i] = present.data()[i] ? 1 : 0;
    return c;
}

using Kernel = double (*)(const double *, const double *, const double *, std::size_t);

// Binds a 1-D regression-style kernel f(y, p, w, n).
void def_1d(py::module_ &m, const char *name, Kernel f, const char *doc) {
    m.def(
        name,
        [f](const Array &y, const Array &p, const OptArray &w) {
            const Inputs in = check(y, p, w, false);
            py::gil_scoped_release release;
            return f(in.y, in.p, in.w, in.n);
        },
        py::arg("y_true"), py::arg("y_pred"), py::arg("sample_weight") = py::none(), doc);
}

}  // namespace

namespace mlwf_bind {

void bind_metrics(py::module_ &m) {
    m.def(
        "set_metric_threads",
        [](int n) { mlwf::detail::thread_limit().store(n < 1 ? 1 : n, std::memory_order_relaxed); },
        py::arg("n"), "Most threads a metric kernel may use (the fit sets it from n_jobs).");
    m.def("get_metric_threads", [] { return mlwf::detail::thread_limit().load(std::memory_order_relaxed); });
    py::register_local_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const mlwf::MetricError &e) {
            py::object cls = py::module_::import("mlwf_core.exceptions").attr("DataError");
            PyErr_SetString(cls.ptr(), e.what());
        }
    });

    def_1d(m, "mse", &mlwf::mse, "Mean squared error.");
    def_1d(m, "rmse", &mlwf::rmse, "Root mean squared error.");
    def_1d(m, "mae", &mlwf::mae, "Mean absolute error.");
    def_1d(m, "r2", &mlwf::r2, "Coefficient of determination (force_finite like scikit-learn).");
    def_1d(m, "accuracy", &mlwf::accuracy_from_labels, "Accuracy of predicted labels.");

    m.def(
        "roc_auc",
        [](const Array &y, const Array &p, const OptArray &w) {
            const Inputs in = check(y, p, w, true);
            py::gil_scoped_release release;
            if (in.n_columns == 1) return mlwf::roc_auc_binary(in.y, in.p, in.w, in.n);
            if (in.n_columns == 2) {
                // Two probability columns of a binary task: score by P(class 1).
                return mlwf::roc_auc_two_columns(in.y, in.p, in.w, in.n);
            }
            return mlwf::roc_auc_ovr(in.y, in.p, in.w, in.n, in.n_columns);
        },
        py::arg("y_true"), py::arg("y_score"), py::arg("sample_weight") = py::none(),
        "ROC AUC: binary for 1-D scores (or 2 columns), one-vs-rest macro for K > 2 columns.");

    m.def(
        "log_loss",
        [](const Array &y, const Array &p, const OptArray &w, double eps) {
            const Inputs in = check(y, p, w, true);
            py::gil_scoped_release release;
            if (in.n_columns == 1) return mlwf::log_loss_binary(in.y, in.p, in.w, in.n, eps);
            return mlwf::log_loss_multiclass(in.y, in.p, in.w, in.n, in.n_columns, eps);
        },
        py::arg("y_true"), py::arg("proba"), py::arg("sample_weight") = py::none(),
        py::arg("eps") = 2.220446049250313e-16,
        "Log loss of probabilities clipped to [eps, 1-eps].");

    m.def(
        "accuracy_proba",
        [](const Array &y, const Array &p, const OptArray &w) {
            const Inputs in = check(y, p, w, true);
            py::gil_scoped_release release;
            return mlwf::accuracy_from_proba(in.y, in.p, in.w, in.n, in.n_columns);
        },
        py::arg("y_true"), py::arg("proba"), py::arg("sample_weight") = py::none(),
        "Accuracy of the labels implied by probabilities (p > 0.5, or row argmax).");

    m.def(
        "confusion_matrix",
        [](const Array &y, const Array &p, const OptArray &w) {
            const Inputs in = check(y, p, w, false);
            mlwf::Confusion c;
            {
                py::gil_scoped_release release;
                c = mlwf::confusion_from_labels(in.y, in.p, in.w, in.n);
            }
            return confusion_to_python(c);
        },
        py::arg("y_true"), py::arg("y_pred"), py::arg("sample_weight") = py::none(),
        "(matrix, present): weighted confusion matrix of label codes (row = true) and the mask "
        "of classes seen in y_true or y_pred.");

    m.def(
        "confusion_matrix_proba",
        [](const Array &y, const Array &p, const OptArray &w) {
            const Inputs in = check(y, p, w, true);
            mlwf::Confusion c;
            {
                py::gil_scoped_release release;
                c = mlwf::confusion_from_proba(in.y, in.p, in.w, in.n, in.n_columns);
            }
            return confusion_to_python(c);
        },
        py::arg("y_true"), py::arg("proba"), py::arg("sample_weight") = py::none(),
        "confusion_matrix of the labels implied by probabilities (p > 0.5, or row argmax).");

    m.def(
        "precision_recall_f1",
        [](const Array &matrix, const py::array_t<bool> &present, const std::string &average) {
            const mlwf::Average avg = parse_average(average);
            const mlwf::Confusion c = confusion_from_python(matrix, present);
            const mlwf::PrecisionRecallF1 s = mlwf::precision_recall_f1(c, avg);
            return std::make_tuple(s.precision, s.recall, s.f1);
        },
        py::arg("matrix"), py::arg("present"), py::arg("average"),
        "(precision, recall, f1) from a confusion matrix, zero_division=0.");
}

}  // namespace mlwf_bind
