// pybind11 glue for the column kernels of the Python plan: the columns of a feature matrix
// written into its row-major block (cpp/include/mlwf/layout.hpp), and text dates parsed
// as the C++ plan parses them (cpp/include/mlwf/plan_ops.hpp). Both run without the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mlwf/layout.hpp"
#include "mlwf/plan_ops.hpp"

namespace py = pybind11;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

void interleave_columns(py::array out, const std::vector<std::int64_t> &cols,
                        const std::vector<FloatArray> &sources) {
    // `out` is written in place, so it is taken as is: a converted copy would be lost.
    if (!out.dtype().is(py::dtype::of<float>()) || out.ndim() != 2 ||
        !(out.flags() & py::array::c_style) || !out.writeable())
        throw py::value_error("out must be a writable C-contiguous 2-D float32 array.");
    if (cols.size() != sources.size())
        throw py::value_error("cols has " + std::to_string(cols.size()) + " entries but " +
                              std::to_string(sources.size()) + " sources were given.");
    const auto rows = static_cast<std::size_t>(out.shape(0));
    const auto width = static_cast<std::size_t>(out.shape(1));
    std::vector<const float *> ptrs;
    ptrs.reserve(sources.size());
    for (std::size_t s = 0; s < sources.size(); ++s) {
        if (cols[s] < 0 || static_cast<std::size_t>(cols[s]) >= width)
            throw py::value_error("column position " + std::to_string(cols[s]) +
                                  " is outside a matrix of " + std::to_string(width) +
                                  " columns.");
        if (sources[s].ndim() != 1 || static_cast<std::size_t>(sources[s].shape(0)) != rows)
            throw py::value_error("source " + std::to_string(s) + " must be a 1-D array of " +
                                  std::to_string(rows) + " values.");
        ptrs.push_back(sources[s].data());
    }
    float *dst = static_cast<float *>(out.mutable_data());
    py::gil_scoped_release release;
    mlwf::interleave_columns(ptrs.data(), cols.data(), ptrs.size(), rows, dst, width);
}

// A writable C-contiguous 1-D array of T and n values, taken as is (outputs).
template <typename T>
T *output(py::array &a, std::size_t n, const char *name) {
    if (!a.dtype().is(py::dtype::of<T>()) || a.ndim() != 1 ||
        !(a.flags() & py::array::c_style) || !a.writeable() ||
        static_cast<std::size_t>(a.shape(0)) != n)
        throw py::value_error(std::string(name) + " must be a writable C-contiguous 1-D array of " +
                              std::to_string(n) + " values of the right type.");
    return static_cast<T *>(a.mutable_data());
}

// Arrow string buffers of n values, checked: offsets rise within the data bytes.
struct TextColumn {
    const std::int64_t *offsets;
    const char *data;
    const std::uint8_t *valid;
    std::size_t n;
};

TextColumn text_column(
    const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> &offsets,
    const py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast> &data,
    const std::optional<py::array_t<bool, py::array::c_style | py::array::forcecast>> &valid) {
    if (offsets.ndim() != 1 || offsets.shape(0) < 1)
        throw py::value_error("offsets must be a 1-D array of n + 1 values.");
    const auto n = static_cast<std::size_t>(offsets.shape(0) - 1);
    const std::int64_t *off = offsets.data();
    const auto n_bytes = static_cast<std::int64_t>(data.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (off[i] < 0 || off[i] > off[i + 1] || off[i + 1] > n_bytes)
            throw py::value_error("offsets are not increasing within the " +
                                  std::to_string(n_bytes) + " data bytes at value " +
                                  std::to_string(i) + ".");
    }
    const std::uint8_t *ok_in = nullptr;
    if (valid) {
        if (valid->ndim() != 1 || static_cast<std::size_t>(valid->shape(0)) != n)
            throw py::value_error("valid must be a 1-D array of " + std::to_string(n) + " values.");
        ok_in = reinterpret_cast<const std::uint8_t *>(valid->data());
    }
    return {off, reinterpret_cast<const char *>(data.data()), ok_in, n};
}

mlwf::DateFormat date_format_of(const std::string &format) {
    if (format != "iso" && format != "dmy" && format != "mdy")
        throw py::value_error("format must be 'iso', 'dmy' or 'mdy'; got '" + format + "'.");
    return mlwf::date_format(format);
}

void date_parts_into(
    const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> &offsets,
    const py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast> &data,
    const std::optional<py::array_t<bool, py::array::c_style | py::array::forcecast>> &valid,
    const std::string &format, const std::vector<std::int64_t> &parts,
    const std::vector<double> &origins, const std::vector<std::int64_t> &cols, py::array out) {
    const TextColumn text = text_column(offsets, data, valid);
    const mlwf::DateFormat fmt = date_format_of(format);
    if (!out.dtype().is(py::dtype::of<float>()) || out.ndim() != 2 ||
        !(out.flags() & py::array::c_style) || !out.writeable() ||
        static_cast<std::size_t>(out.shape(0)) != text.n)
        throw py::value_error("out must be a writable C-contiguous 2-D float32 array of " +
                              std::to_string(text.n) + " rows.");
    const auto width = static_cast<std::int64_t>(out.shape(1));
    if (parts.size() != origins.size() || parts.size() != cols.size())
        throw py::value_error("parts, origins and cols must have the same length.");
    std::vector<mlwf::DatePart> kinds;
    for (std::size_t k = 0; k < parts.size(); ++k) {
        if (parts[k] < 0 || parts[k] > 5)
            throw py::value_error("part codes run from 0 (year) to 5 (elapsed days); got " +
                                  std::to_string(parts[k]) + ".");
        if (cols[k] < 0 || cols[k] >= width)
            throw py::value_error("column position " + std::to_string(cols[k]) +
                                  " is outside a matrix of " + std::to_string(width) +
                                  " columns.");
        kinds.push_back(static_cast<mlwf::DatePart>(parts[k]));
    }
    float *dst = static_cast<float *>(out.mutable_data());
    py::gil_scoped_release release;
    mlwf::date_parts_column(text.offsets, text.data, text.valid, text.n, fmt, kinds.data(),
                            origins.data(), cols.data(), kinds.size(), dst,
                            static_cast<std::size_t>(width));
}

void parse_datetime_into(
    const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> &offsets,
    const py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast> &data,
    const std::optional<py::array_t<bool, py::array::c_style | py::array::forcecast>> &valid,
    const std::string &format, py::array out_us, py::array out_ok) {
    const TextColumn text = text_column(offsets, data, valid);
    const mlwf::DateFormat fmt = date_format_of(format);
    auto *us = output<std::int64_t>(out_us, text.n, "out_us");
    auto *ok = reinterpret_cast<std::uint8_t *>(output<bool>(out_ok, text.n, "out_ok"));
    py::gil_scoped_release release;
    mlwf::parse_datetime_column(text.offsets, text.data, text.valid, text.n, fmt, us, ok);
}

}  // namespace

namespace mlwf_bind {

void bind_columns(py::module_ &m) {
    m.def("interleave_columns", &interleave_columns, py::arg("out"), py::arg("cols"),
          py::arg("sources"),
          "Write 1-D float32 columns into a row-major float32 matrix in place: "
          "out[:, cols[s]] = sources[s]. Runs without the GIL.");
    m.def("parse_datetime_into", &parse_datetime_into, py::arg("offsets"), py::arg("data"),
          py::arg("valid"), py::arg("format"), py::arg("out_us"), py::arg("out_ok"),
          "Parse text dates held as Arrow offsets (int64) and bytes, as the C++ plan does: "
          "microseconds since 1970-01-01 into out_us (int64) and whether each value parsed "
          "into out_ok (bool). format is 'iso', 'dmy' or 'mdy'. Runs without the GIL.");
    m.def("date_parts_into", &date_parts_into, py::arg("offsets"), py::arg("data"),
          py::arg("valid"), py::arg("format"), py::arg("parts"), py::arg("origins"),
          py::arg("cols"), py::arg("out"),
          "Date parts of text dates (Arrow offsets and bytes) written into columns of a "
          "row-major float32 matrix: out[:, cols[k]] = part parts[k] (0 year, 1 month, 2 day, "
          "3 ISO weekday, 4 hour, 5 days since 1970-01-01 minus origins[k]); NaN where a value "
          "is missing or does not parse. Each value is parsed once. Runs without the GIL.");
}

}  // namespace mlwf_bind
