// Single-row latency and batch throughput of the scorer from C++ (no Python), in the style
// of a Google-benchmark loop: warm up, then time every call and report percentiles.
//
//   bench_scorer_cpp MODEL.mlwf ROWS.f32 N_ROWS [CALLS]
//
// prints one JSON line: p50 / p99 / mean nanoseconds per single-row call (clock overhead
// subtracted) and batch rows per second at 1 and 2 threads over all N_ROWS rows.
// Driven by benchmarks/bench_scorer.py.
#include <mlwf/artifact.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <vector>

using Clock = std::chrono::steady_clock;

// CPU time of the calling thread: robust to a machine shared with other work.
static double thread_cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

static double ns_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
}

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: bench_scorer_cpp MODEL.mlwf ROWS.f32 N_ROWS [CALLS]\n");
        return 2;
    }
    mlwf::Model model;
    try {
        model = mlwf::load_model(argv[1]);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_scorer_cpp: %s\n", e.what());
        return 1;
    }
    const mlwf::Forest& forest = *model.forest;
    const int64_t n = std::atoll(argv[3]);
    const int64_t calls = argc > 4 ? std::atoll(argv[4]) : 200000;
    const int64_t nf = forest.n_features();
    std::vector<float> rows(static_cast<size_t>(n * nf));
    FILE* f = std::fopen(argv[2], "rb");
    if (!f || std::fread(rows.data(), sizeof(float), rows.size(), f) != rows.size()) {
        std::fprintf(stderr, "bench_scorer_cpp: cannot read the rows\n");
        return 1;
    }
    std::fclose(f);
    std::vector<double> out(static_cast<size_t>(n * forest.n_groups()));
    double sink = 0.0;

    // clock overhead
    std::vector<double> overhead(10000);
    for (auto& o : overhead) {
        auto t0 = Clock::now();
        o = ns_since(t0);
    }
    std::sort(overhead.begin(), overhead.end());
    const double clock_ns = overhead[overhead.size() / 2];

    const int64_t warm = std::min<int64_t>(calls / 10 + 1, 20000);
    for (int64_t i = 0; i < warm; ++i) {
        forest.predict_row(rows.data() + (i % n) * nf, out.data());
        sink += out[0];
    }
    std::vector<double> times(static_cast<size_t>(calls));
    auto total0 = Clock::now();
    for (int64_t i = 0; i < calls; ++i) {
        const float* x = rows.data() + (i % n) * nf;
        auto t0 = Clock::now();
        forest.predict_row(x, out.data());
        times[static_cast<size_t>(i)] = ns_since(t0) - clock_ns;
        sink += out[0];
    }
    const double mean = ns_since(total0) / static_cast<double>(calls) - clock_ns;
    std::sort(times.begin(), times.end());
    const double p50 = times[times.size() / 2];
    const double p99 = times[times.size() * 99 / 100];

    double cpu_best = 1e300;
    for (int rep = 0; rep < 3; ++rep) {
        double c0 = thread_cpu_ns();
        forest.predict(rows.data(), n, out.data(), 1);
        cpu_best = std::min(cpu_best, thread_cpu_ns() - c0);
    }
    const double rps_cpu = static_cast<double>(n) / (cpu_best * 1e-9);
    double rps[2];
    for (int t = 1; t <= 2; ++t) {
        forest.predict(rows.data(), n, out.data(), t);  // warm-up
        double best = 1e300;
        for (int rep = 0; rep < 3; ++rep) {
            auto t0 = Clock::now();
            forest.predict(rows.data(), n, out.data(), t);
            best = std::min(best, ns_since(t0));
        }
        rps[t - 1] = static_cast<double>(n) / (best * 1e-9);
        sink += out[0];
    }
    std::printf("{\"p50_ns\": %.1f, \"p99_ns\": %.1f, \"mean_ns\": %.1f, \"rows_per_s_1\": %.0f, "
                "\"rows_per_s_2\": %.0f, \"rows_per_cpu_s_1\": %.0f, \"checksum\": %.6g}\n",
                p50, p99, mean, rps[0], rps[1], rps_cpu, sink);
    return 0;
}
