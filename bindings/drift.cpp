// pybind11 glue for cpp/include/mlwf/drift.hpp.
//
// Each detector is bound as a class of mlwf_core._core; mlwf_core/drift.py subclasses them
// to add validation and documentation, so that `update` stays one bound call.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "mlwf/drift.hpp"

namespace py = pybind11;

namespace {

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

[[noreturn]] void raise_mlwf(const char *cls, const std::string &msg) {
    py::object exc = py::module_::import("mlwf_core.exceptions").attr(cls);
    PyErr_SetString(exc.ptr(), msg.c_str());
    throw py::error_already_set();
}

std::string repr_double(double x) { return py::repr(py::float_(x)).cast<std::string>(); }

// JSON has no infinities: non-finite numbers travel as the strings "inf", "-inf", "nan".
py::object enc(double x) {
    if (std::isfinite(x)) return py::float_(x);
    if (std::isnan(x)) return py::str("nan");
    return py::str(x > 0 ? "inf" : "-inf");
}

double dec(py::handle h) {
    if (py::isinstance<py::str>(h)) {
        const auto s = h.cast<std::string>();
        if (s == "inf") return std::numeric_limits<double>::infinity();
        if (s == "-inf") return -std::numeric_limits<double>::infinity();
        if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
        throw py::value_error("unknown number encoding '" + s + "'");
    }
    return h.cast<double>();
}

double getd(const py::dict &d, const char *k) { return dec(d[k]); }
std::int64_t geti(const py::dict &d, const char *k) { return d[k].cast<std::int64_t>(); }
bool getb(const py::dict &d, const char *k) { return d[k].cast<bool>(); }

// Numeric detectors take finite values; binary ones take 0 or 1.
struct Finite {
    static bool ok(double x) { return std::isfinite(x); }
    static constexpr const char *what = "a finite number";
};
struct Binary {
    static bool ok(double x) { return x == 0.0 || x == 1.0; }
    static constexpr const char *what = "0 or 1 (1 marks an error)";
};

template <class Check>
[[noreturn]] void bad_value(const char *name, double x, std::ptrdiff_t index) {
    std::string where = index < 0 ? "" : " at index " + std::to_string(index);
    raise_mlwf("DataError", std::string("The value passed to ") + name + ".update" +
                                (index < 0 ? "" : "_many") + " must be " + Check::what +
                                ". Got " + repr_double(x) + where +
                                " instead. Drop or impute such values before monitoring.");
}

// `update` is the per-item hot path, called from Python once per point. It is a METH_O
// method written against the C API: pybind11's generic dispatcher (overload resolution,
// argument loaders, the call record) costs more than the detector update itself.
template <class D, class Check>
PyObject *fast_update(PyObject *self, PyObject *arg) {
    auto *inst = reinterpret_cast<py::detail::instance *>(self);
    py::detail::value_and_holder vh = inst->get_value_and_holder();
    if (!vh.holder_constructed()) {
        PyErr_SetString(PyExc_TypeError, "the detector's __init__ was not called");
        return nullptr;
    }
    const double x = PyFloat_AsDouble(arg);
    if (x == -1.0 && PyErr_Occurred()) return nullptr;
    if (!Check::ok(x)) {
        try {
            bad_value<Check>(Py_TYPE(self)->tp_name, x, -1);
        } catch (py::error_already_set &e) {
            e.restore();
            return nullptr;
        }
    }
    bool fired;
    try {
        fired = vh.value_ptr<D>()->update(x);
    } catch (const std::bad_alloc &) {
        return PyErr_NoMemory();
    }
    if (fired) Py_RETURN_TRUE;
    Py_RETURN_FALSE;
}

template <class D, class Check>
void def_stream(py::class_<D> &cls, const char *name) {
    static PyMethodDef update_def = {
        "update", reinterpret_cast<PyCFunction>(&fast_update<D, Check>), METH_O,
        "update(x)\n--\n\nFeed one value; True when a drift is detected at this point."};
    PyObject *descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject *>(cls.ptr()), &update_def);
    if (descr == nullptr) throw py::error_already_set();
    py::setattr(cls, "update", py::reinterpret_steal<py::object>(descr));
    cls.def(
        "update_many",
        [name](D &d, const DoubleArray &x) {
            if (x.ndim() != 1) {
                raise_mlwf("DataError", std::string("The 'x' parameter of ") + name +
                                            ".update_many must be a 1-D array. Got an array "
                                            "with " +
                                            std::to_string(x.ndim()) + " dimensions instead.");
            }
            const double *p = x.data();
            const auto n = static_cast<std::size_t>(x.shape(0));
            std::vector<std::int64_t> idx;
            std::ptrdiff_t bad = -1;
            {
                py::gil_scoped_release release;
                // validate everything first so a bad batch leaves the detector untouched
                for (std::size_t i = 0; i < n; ++i) {
                    if (!Check::ok(p[i])) {
                        bad = static_cast<std::ptrdiff_t>(i);
                        break;
                    }
                }
                if (bad < 0) mlwf::update_many(d, p, n, idx);
            }
            if (bad >= 0) bad_value<Check>(name, p[bad], bad);
            return py::array_t<std::int64_t>(static_cast<py::ssize_t>(idx.size()), idx.data());
        },
        py::arg("x"),
        "Feed an array in order; returns the int64 indices where a drift was detected.");
    cls.def_property_readonly(
        "drift_detected", [](const D &d) { return d.drift_detected; },
        "Whether the last update detected a drift.");
    cls.def_property_readonly(
        "n_detections", [](const D &d) { return d.n_detections; },
        "Number of drifts detected since construction or the last reset().");
    cls.def("reset", &D::reset, "Return to the freshly constructed state.");
}

template <class D>
py::tuple calibrate(const D &proto, const DoubleArray &ref, double target, std::int64_t n_rep,
                    std::int64_t horizon, std::uint64_t seed) {
    if (ref.ndim() != 1) throw py::value_error("the reference must be 1-D");
    const double *p = ref.data();
    const auto n = static_cast<std::size_t>(ref.shape(0));
    mlwf::CalibrationResult res;
    {
        py::gil_scoped_release release;
        res = mlwf::calibrate_threshold(proto, p, n, target, n_rep, horizon, seed);
    }
    return py::make_tuple(res.threshold, res.mean_run_length, res.n_alarms);
}

void bind_adwin(py::module_ &m) {
    using mlwf::ADWIN;
    py::class_<ADWIN> c(m, "ADWIN", "Compiled ADWIN detector (see mlwf_core.drift.ADWIN).");
    c.def(py::init<double, std::int64_t, std::int64_t, std::int64_t, std::int64_t>(),
          py::arg("delta") = 0.002, py::arg("clock") = 32, py::arg("max_buckets") = 5,
          py::arg("min_window_length") = 5, py::arg("grace_period") = 10);
    def_stream<ADWIN, Finite>(c, "ADWIN");
    c.def_property_readonly("delta", [](const ADWIN &d) { return d.delta; });
    c.def_property_readonly("clock", [](const ADWIN &d) { return d.clock; });
    c.def_property_readonly("max_buckets", [](const ADWIN &d) { return d.max_buckets; });
    c.def_property_readonly("min_window_length",
                            [](const ADWIN &d) { return d.min_window_length; });
    c.def_property_readonly("grace_period", [](const ADWIN &d) { return d.grace_period; });
    c.def_property_readonly(
        "width", [](const ADWIN &d) { return d.width; }, "Number of points in the window.");
    c.def_property_readonly(
        "total", [](const ADWIN &d) { return d.total; }, "Sum of the points in the window.");
    c.def_property_readonly(
        "variance", [](const ADWIN &d) { return d.variance; },
        "Sum of squared deviations from the mean over the window (as River's ADWIN.variance).");
    c.def_property_readonly(
        "estimation", [](const ADWIN &d) { return d.width > 0 ? d.total / d.width : 0.0; },
        "Mean of the window.");
    c.def("_get_state", [](const ADWIN &d) {
        py::dict s;
        s["total"] = enc(d.total);
        s["variance"] = enc(d.variance);
        s["width"] = enc(d.width);
        s["tick"] = d.tick;
        s["n_detections"] = d.n_detections;
        s["drift_detected"] = d.drift_detected;
        py::list totals, variances;
        for (std::size_t r = 0; r < d.n_rows(); ++r) {
            py::list t, v;
            for (std::int64_t k = 0; k < d.counts[r]; ++k) {
                t.append(enc(d.totals[d.slot(r, k)]));
                v.append(enc(d.variances[d.slot(r, k)]));
            }
            totals.append(t);
            variances.append(v);
        }
        s["bucket_totals"] = totals;
        s["bucket_variances"] = variances;
        return s;
    });
    c.def("_set_state", [](ADWIN &d, const py::dict &s) {
        const auto totals = s["bucket_totals"].cast<py::list>();
        const auto variances = s["bucket_variances"].cast<py::list>();
        if (totals.empty() || totals.size() != variances.size())
            throw py::value_error("bucket_totals and bucket_variances must be equally long rows");
        ADWIN fresh(d.delta, d.clock, d.max_buckets, d.min_window_length, d.grace_period);
        fresh.counts.assign(totals.size(), 0);
        fresh.starts.assign(totals.size(), 0);
        fresh.totals.assign(totals.size() * fresh.row_stride(), 0.0);
        fresh.variances.assign(totals.size() * fresh.row_stride(), 0.0);
        for (std::size_t r = 0; r < totals.size(); ++r) {
            const auto t = totals[r].cast<py::list>();
            const auto v = variances[r].cast<py::list>();
            if (t.size() != v.size() || t.size() > static_cast<std::size_t>(fresh.max_buckets) + 1)
                throw py::value_error("a histogram row has the wrong number of buckets");
            for (std::size_t k = 0; k < t.size(); ++k) {
                fresh.totals[r * fresh.row_stride() + k] = dec(t[k]);
                fresh.variances[r * fresh.row_stride() + k] = dec(v[k]);
            }
            fresh.counts[r] = static_cast<std::int64_t>(t.size());
        }
        fresh.total = getd(s, "total");
        fresh.variance = getd(s, "variance");
        fresh.width = getd(s, "width");
        fresh.restore_tick(geti(s, "tick"));
        fresh.n_detections = geti(s, "n_detections");
        fresh.drift_detected = getb(s, "drift_detected");
        d = std::move(fresh);
    });
    m.def("_calibrate_adwin", &calibrate<ADWIN>, py::arg("proto"), py::arg("reference"),
          py::arg("target"), py::arg("n_replicates"), py::arg("horizon"), py::arg("seed"));
}

void bind_page_hinkley(py::module_ &m) {
    using mlwf::PageHinkley;
    py::class_<PageHinkley> c(m, "PageHinkley",
                              "Compiled Page-Hinkley detector (see mlwf_core.drift.PageHinkley).");
    c.def(py::init([](std::int64_t min_instances, double delta, double threshold, double alpha,
                      const std::string &mode) {
              return PageHinkley(min_instances, delta, threshold, alpha,
                                 mlwf::drift_mode_from_string(mode));
          }),
          py::arg("min_instances") = 30, py::arg("delta") = 0.005, py::arg("threshold") = 50.0,
          py::arg("alpha") = 1.0 - 0.0001, py::arg("mode") = "both");
    def_stream<PageHinkley, Finite>(c, "PageHinkley");
    c.def_property_readonly("min_instances", [](const PageHinkley &d) { return d.min_instances; });
    c.def_property_readonly("delta", [](const PageHinkley &d) { return d.delta; });
    c.def_property_readonly("threshold", [](const PageHinkley &d) { return d.threshold; });
    c.def_property_readonly("alpha", [](const PageHinkley &d) { return d.alpha; });
    c.def_property_readonly("mode",
                            [](const PageHinkley &d) { return mlwf::drift_mode_name(d.mode); });
    c.def_property_readonly(
        "statistic", [](const PageHinkley &d) { return d.score(); },
        "The test statistic compared to the threshold (-inf before min_instances points).");
    c.def("_get_state", [](const PageHinkley &d) {
        py::dict s;
        s["n"] = enc(d.n);
        s["mean"] = enc(d.mean);
        s["sum_increase"] = enc(d.sum_increase);
        s["sum_decrease"] = enc(d.sum_decrease);
        s["min_increase"] = enc(d.min_increase);
        s["max_decrease"] = enc(d.max_decrease);
        s["n_detections"] = d.n_detections;
        s["drift_detected"] = d.drift_detected;
        return s;
    });
    c.def("_set_state", [](PageHinkley &d, const py::dict &s) {
        PageHinkley f = d;
        f.n = getd(s, "n");
        f.mean = getd(s, "mean");
        f.sum_increase = getd(s, "sum_increase");
        f.sum_decrease = getd(s, "sum_decrease");
        f.min_increase = getd(s, "min_increase");
        f.max_decrease = getd(s, "max_decrease");
        f.n_detections = geti(s, "n_detections");
        f.drift_detected = getb(s, "drift_detected");
        d = f;
    });
    m.def("_calibrate_page_hinkley", &calibrate<PageHinkley>, py::arg("proto"),
          py::arg("reference"), py::arg("target"), py::arg("n_replicates"), py::arg("horizon"),
          py::arg("seed"));
}

void bind_cusum(py::module_ &m) {
    using mlwf::CUSUM;
    py::class_<CUSUM> c(m, "CUSUM", "Compiled CUSUM detector (see mlwf_core.drift.CUSUM).");
    c.def(py::init([](std::int64_t min_instances, double slack, double threshold,
                      const std::string &mode, py::object mean, py::object std) {
              const bool fixed = !mean.is_none();
              return CUSUM(min_instances, slack, threshold, mlwf::drift_mode_from_string(mode),
                           fixed, fixed ? mean.cast<double>() : 0.0,
                           fixed ? std.cast<double>() : 0.0);
          }),
          py::arg("min_instances") = 30, py::arg("slack") = 0.5, py::arg("threshold") = 5.0,
          py::arg("mode") = "both", py::arg("mean") = py::none(), py::arg("std") = py::none());
    def_stream<CUSUM, Finite>(c, "CUSUM");
    c.def_property_readonly("min_instances", [](const CUSUM &d) { return d.min_instances; });
    c.def_property_readonly("slack", [](const CUSUM &d) { return d.slack; });
    c.def_property_readonly("threshold", [](const CUSUM &d) { return d.threshold; });
    c.def_property_readonly("mode", [](const CUSUM &d) { return mlwf::drift_mode_name(d.mode); });
    c.def_property_readonly("mean", [](const CUSUM &d) -> py::object {
        return d.fixed_reference ? py::object(py::float_(d.ref_mean)) : py::object(py::none());
    });
    c.def_property_readonly("std", [](const CUSUM &d) -> py::object {
        return d.fixed_reference ? py::object(py::float_(d.ref_std)) : py::object(py::none());
    });
    c.def_property_readonly(
        "reference", [](const CUSUM &d) -> py::object {
            return d.has_reference ? py::object(py::float_(d.reference)) : py::object(py::none());
        },
        "The in-control mean in use (None while it is being estimated).");
    c.def_property_readonly(
        "sigma", [](const CUSUM &d) -> py::object {
            return d.has_reference ? py::object(py::float_(d.sigma)) : py::object(py::none());
        },
        "The in-control standard deviation in use (None while it is being estimated).");
    c.def("_get_state", [](const CUSUM &d) {
        py::dict s;
        s["n"] = d.n;
        s["w_n"] = enc(d.w_n);
        s["w_mean"] = enc(d.w_mean);
        s["w_s"] = enc(d.w_s);
        s["has_reference"] = d.has_reference;
        s["reference"] = enc(d.reference);
        s["sigma"] = enc(d.sigma);
        s["sum_increase"] = enc(d.sum_increase);
        s["sum_decrease"] = enc(d.sum_decrease);
        s["n_detections"] = d.n_detections;
        s["drift_detected"] = d.drift_detected;
        return s;
    });
    c.def("_set_state", [](CUSUM &d, const py::dict &s) {
        CUSUM f = d;
        f.n = geti(s, "n");
        f.w_n = getd(s, "w_n");
        f.w_mean = getd(s, "w_mean");
        f.w_s = getd(s, "w_s");
        f.has_reference = getb(s, "has_reference");
        f.reference = getd(s, "reference");
        f.sigma = getd(s, "sigma");
        f.sum_increase = getd(s, "sum_increase");
        f.sum_decrease = getd(s, "sum_decrease");
        f.n_detections = geti(s, "n_detections");
        f.drift_detected = getb(s, "drift_detected");
        d = f;
    });
    m.def("_calibrate_cusum", &calibrate<CUSUM>, py::arg("proto"), py::arg("reference"),
          py::arg("target"), py::arg("n_replicates"), py::arg("horizon"), py::arg("seed"));
}

void bind_ddm(py::module_ &m) {
    using mlwf::DDM;
    py::class_<DDM> c(m, "DDM", "Compiled DDM detector (see mlwf_core.drift.DDM).");
    c.def(py::init<std::int64_t, double, double>(), py::arg("warm_start") = 30,
          py::arg("warning_threshold") = 2.0, py::arg("drift_threshold") = 3.0);
    def_stream<DDM, Binary>(c, "DDM");
    c.def_property_readonly("warm_start", [](const DDM &d) { return d.warm_start; });
    c.def_property_readonly("warning_threshold", [](const DDM &d) { return d.warning_threshold; });
    c.def_property_readonly("drift_threshold", [](const DDM &d) { return d.drift_threshold; });
    c.def_property_readonly(
        "warning_detected", [](const DDM &d) { return d.warning_detected; },
        "Whether the last update is in the warning zone.");
    c.def_property_readonly(
        "error_rate", [](const DDM &d) { return d.p; }, "Running error rate.");
    c.def("_get_state", [](const DDM &d) {
        py::dict s;
        s["n"] = enc(d.n);
        s["p"] = enc(d.p);
        s["p_min"] = enc(d.p_min);
        s["s_min"] = enc(d.s_min);
        s["ps_min"] = enc(d.ps_min);
        s["n_detections"] = d.n_detections;
        s["drift_detected"] = d.drift_detected;
        s["warning_detected"] = d.warning_detected;
        return s;
    });
    c.def("_set_state", [](DDM &d, const py::dict &s) {
        DDM f = d;
        f.n = getd(s, "n");
        f.p = getd(s, "p");
        f.p_min = getd(s, "p_min");
        f.s_min = getd(s, "s_min");
        f.ps_min = getd(s, "ps_min");
        f.n_detections = geti(s, "n_detections");
        f.drift_detected = getb(s, "drift_detected");
        f.warning_detected = getb(s, "warning_detected");
        d = f;
    });
}

void bind_eddm(py::module_ &m) {
    using mlwf::EDDM;
    py::class_<EDDM> c(m, "EDDM", "Compiled EDDM detector (see mlwf_core.drift.EDDM).");
    c.def(py::init<std::int64_t, double, double>(), py::arg("warm_start") = 30,
          py::arg("alpha") = 0.95, py::arg("beta") = 0.9);
    def_stream<EDDM, Binary>(c, "EDDM");
    c.def_property_readonly("warm_start", [](const EDDM &d) { return d.warm_start; });
    c.def_property_readonly("alpha", [](const EDDM &d) { return d.alpha; });
    c.def_property_readonly("beta", [](const EDDM &d) { return d.beta; });
    c.def_property_readonly(
        "warning_detected", [](const EDDM &d) { return d.warning_detected; },
        "Whether the last update is in the warning zone.");
    c.def("_get_state", [](const EDDM &d) {
        py::dict s;
        s["n"] = d.n;
        s["last_error"] = d.last_error;
        s["n_errors"] = d.n_errors;
        s["d_n"] = enc(d.d_n);
        s["d_mean"] = enc(d.d_mean);
        s["d_s"] = enc(d.d_s);
        s["p2s_max"] = enc(d.p2s_max);
        s["n_detections"] = d.n_detections;
        s["drift_detected"] = d.drift_detected;
        s["warning_detected"] = d.warning_detected;
        return s;
    });
    c.def("_set_state", [](EDDM &d, const py::dict &s) {
        EDDM f = d;
        f.n = geti(s, "n");
        f.last_error = geti(s, "last_error");
        f.n_errors = geti(s, "n_errors");
        f.d_n = getd(s, "d_n");
        f.d_mean = getd(s, "d_mean");
        f.d_s = getd(s, "d_s");
        f.p2s_max = getd(s, "p2s_max");
        f.n_detections = geti(s, "n_detections");
        f.drift_detected = getb(s, "drift_detected");
        f.warning_detected = getb(s, "warning_detected");
        d = f;
    });
}

void bind_kswin(py::module_ &m) {
    using mlwf::KSWIN;
    py::class_<KSWIN> c(m, "KSWIN", "Compiled KSWIN detector (see mlwf_core.drift.KSWIN).");
    c.def(py::init<double, std::int64_t, std::int64_t, std::uint64_t>(), py::arg("alpha") = 0.005,
          py::arg("window_size") = 100, py::arg("stat_size") = 30, py::arg("seed") = 0);
    def_stream<KSWIN, Finite>(c, "KSWIN");
    c.def_property_readonly("alpha", [](const KSWIN &d) { return d.alpha; });
    c.def_property_readonly("window_size", [](const KSWIN &d) { return d.window_size; });
    c.def_property_readonly("stat_size", [](const KSWIN &d) { return d.stat_size; });
    c.def_property_readonly("seed", [](const KSWIN &d) { return d.seed; });
    c.def_property_readonly(
        "p_value", [](const KSWIN &d) { return d.p_value; }, "p-value of the last KS test.");
    c.def_property_readonly(
        "window", [](const KSWIN &d) { return d.window_values(); },
        "The points of the window, oldest first.");
    c.def("_get_state", [](const KSWIN &d) {
        py::dict s;
        s["n"] = d.n;
        s["p_value"] = enc(d.p_value);
        s["n_detections"] = d.n_detections;
        s["drift_detected"] = d.drift_detected;
        s["rng_state"] = d.rng.state;
        py::list w;
        for (double v : d.window_values()) w.append(enc(v));
        s["window"] = w;
        return s;
    });
    c.def("_set_state", [](KSWIN &d, const py::dict &s) {
        KSWIN f = d;
        std::vector<double> w;
        for (auto v : s["window"].cast<py::list>()) w.push_back(dec(v));
        f.restore(w);
        f.n = geti(s, "n");
        f.p_value = getd(s, "p_value");
        f.n_detections = geti(s, "n_detections");
        f.drift_detected = getb(s, "drift_detected");
        f.rng.state = s["rng_state"].cast<std::uint64_t>();
        d = f;
    });
    m.def("_ks_2samp_sf", &mlwf::ks_2samp_sf, py::arg("n"), py::arg("h"),
          "P(D >= h / n) for the two-sample KS statistic of two samples of size n.");
}

}  // namespace

namespace mlwf_bind {
void bind_drift(py::module_ &m) {
    bind_adwin(m);
    bind_page_hinkley(m);
    bind_cusum(m);
    bind_ddm(m);
    bind_eddm(m);
    bind_kswin(m);
}
}  // namespace mlwf_bind
