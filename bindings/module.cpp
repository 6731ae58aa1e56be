// mlwf_core._core: the one compiled Python module of mlwf.
// Glue lives in bindings/ only, one translation unit per C++ header family;
// the headers in cpp/include/mlwf know nothing about Python.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace mlwf_bind {
void bind_metrics(py::module_ &m);
void bind_forest(py::module_ &m);
void bind_drift(py::module_ &m);
void bind_shap(py::module_ &m);
void bind_columns(py::module_ &m);
}  // namespace mlwf_bind

PYBIND11_MODULE(_core, m) {
    m.doc() = "Compiled kernels of mlwf (metrics, forest scoring, drift detection).";
    m.attr("__version__") = MLWF_VERSION;
    mlwf_bind::bind_metrics(m);
    mlwf_bind::bind_forest(m);
    mlwf_bind::bind_drift(m);
    mlwf_bind::bind_shap(m);
    mlwf_bind::bind_columns(m);
}
