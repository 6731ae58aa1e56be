// Column-to-row layout: the last step of building a feature matrix.
//
// Polars and NumPy produce one contiguous array per feature; learners and the forest
// scorer want one row-major matrix. Writing each column across a large row-major block
// strides through memory once per column; writing a tile of rows for every column keeps
// the tile's rows in cache and reads every column sequentially.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace mlwf {

// Copies `n_src` columns of `rows` float values each into a row-major matrix of `width`
// columns: out[r * width + cols[s]] = src[s][r]. Column positions must be below `width`;
// the caller checks them.
inline void interleave_columns(const float *const *src, const std::int64_t *cols,
                               std::size_t n_src, std::size_t rows, float *out,
                               std::size_t width) {
    // 128 rows of a few hundred features stay in L1/L2 while every column is written.
    constexpr std::size_t kTile = 128;
    for (std::size_t r0 = 0; r0 < rows; r0 += kTile) {
        const std::size_t r1 = std::min(rows, r0 + kTile);
        for (std::size_t s = 0; s < n_src; ++s) {
            const float *in = src[s];
            float *o = out + static_cast<std::size_t>(cols[s]);
            for (std::size_t r = r0; r < r1; ++r) o[r * width] = in[r];
        }
    }
}

}  // namespace mlwf
