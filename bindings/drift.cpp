// pybind11 glue for cpp/include/mlwf/drift.hpp.
#include <pybind11/pybind11.h>

namespace mlwf_bind {
void bind_drift(pybind11::module_ &m) { (void)m; }
}  // namespace mlwf_bind
