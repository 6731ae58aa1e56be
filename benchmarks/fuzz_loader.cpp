// Mutation fuzzer of the C++ .mlwf loader (not part of CI): every parser must reject a
// malformed input with an error and never crash. Build it with the sanitizers and run it
// for a few minutes on a model saved by Python:
//
//   g++ -std=c++17 -O1 -g -fsanitize=address,undefined -Icpp/include \
//       benchmarks/fuzz_loader.cpp -o fuzz_loader -pthread
//   ./fuzz_loader model.mlwf 300        # seconds
//
// Four targets, chosen in turn: the whole file (zip, inflate, CRC, JSON, sha256), the
// manifest JSON, each .npy member, and the forest arrays themselves (checksums bypassed,
// so the forest's own validation is what stands between bad data and the engines).
#include <mlwf/artifact.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

static std::mt19937_64 rng(12345);

static void mutate(std::vector<uint8_t>& b) {
    if (b.empty()) {
        b.push_back(static_cast<uint8_t>(rng()));
        return;
    }
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
        const size_t at = rng() % b.size();
        switch (rng() % 5) {
            case 0: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
            case 1: b[at] = static_cast<uint8_t>(rng()); break;
            case 2: b.resize(at); break;  // truncate
            case 3: b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), static_cast<uint8_t>(rng())); break;
            default: {  // overwrite 4 bytes with an interesting integer
                static const uint32_t vals[] = {0u, 1u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu, 0xFFFFu, 65536u};
                uint32_t v = vals[rng() % 7];
                for (int k = 0; k < 4 && at + k < b.size(); ++k) b[at + k] = static_cast<uint8_t>(v >> (8 * k));
            }
        }
        if (b.empty()) return;
    }
}

template <typename F>
static bool survives(F&& f) {
    try {
        f();
        return true;
    } catch (const std::exception&) {  // ArtifactError, ForestError, PlanError, bad_alloc
        return false;
    }
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: fuzz_loader MODEL.mlwf [SECONDS]\n");
        return 2;
    }
    const double seconds = argc > 2 ? std::atof(argv[2]) : 60.0;
    const std::vector<uint8_t> file = mlwf::read_file(argv[1]);
    const auto members = mlwf::read_zip(file);
    std::vector<std::string> npys;
    for (const auto& m : members) {
        if (m.first.size() > 4 && m.first.compare(m.first.size() - 4, 4, ".npy") == 0) npys.push_back(m.first);
    }
    const std::string tmp = std::string(argv[1]) + ".fuzz";
    const auto t0 = std::chrono::steady_clock::now();
    long iters = 0, accepted = 0;
    float row[4096] = {0};
    double out[1024];
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < seconds) {
        ++iters;
        const int target = static_cast<int>(iters % 4);
        if (target == 0) {
            std::vector<uint8_t> b = file;
            mutate(b);
            FILE* f = std::fopen(tmp.c_str(), "wb");
            if (!f) return 1;
            std::fwrite(b.data(), 1, b.size(), f);
            std::fclose(f);
            accepted += survives([&] { mlwf::load_model(tmp); });
        } else if (target == 1) {
            std::vector<uint8_t> b = members.at("manifest.json");
            mutate(b);
            accepted += survives([&] {
                mlwf::detail::JsonReader(reinterpret_cast<const char*>(b.data()), b.size()).parse();
            });
        } else if (target == 2 && !npys.empty()) {
            std::vector<uint8_t> b = members.at(npys[rng() % npys.size()]);
            mutate(b);
            accepted += survives([&] { mlwf::read_npy<double>(b, "fuzz"); });
        } else {
            // forest from mutated arrays: decode every array, mutate one, build and score
            std::map<std::string, std::vector<uint8_t>> m = members;
            if (npys.empty()) continue;
            mutate(m[npys[rng() % npys.size()]]);
            accepted += survives([&] {
                auto get_i64 = [&](const char* n) { return mlwf::read_npy<int64_t>(m.at(std::string("forest/") + n + ".npy"), n); };
                auto get_i32 = [&](const char* n) { return mlwf::read_npy<int32_t>(m.at(std::string("forest/") + n + ".npy"), n); };
                auto get_u8 = [&](const char* n) { return mlwf::read_npy<uint8_t>(m.at(std::string("forest/") + n + ".npy"), n); };
                auto get_f64 = [&](const char* n) { return mlwf::read_npy<double>(m.at(std::string("forest/") + n + ".npy"), n); };
                auto meta = get_i64("meta");
                auto base = get_f64("base");
                auto tree_ptr = get_i64("tree_ptr");
                auto tree_group = get_i32("tree_group");
                auto kind = get_u8("kind");
                auto flags = get_u8("flags");
                auto feature = get_i32("feature");
                auto threshold = get_f64("threshold");
                auto left = get_i32("left");
                auto right = get_i32("right");
                auto value = get_f64("value");
                auto cat_ptr = get_i64("cat_ptr");
                auto cat_values = get_i64("cat_values");
                const size_t n = kind.size();
                if (flags.size() != n || feature.size() != n || threshold.size() != n || left.size() != n ||
                    right.size() != n || value.size() != n) {
                    throw mlwf::ArtifactError("lengths");
                }
                mlwf::ForestArrays a;
                a.meta = meta.data(), a.n_meta = static_cast<int64_t>(meta.size());
                a.base = base.data(), a.n_base = static_cast<int64_t>(base.size());
                a.tree_ptr = tree_ptr.data(), a.n_tree_ptr = static_cast<int64_t>(tree_ptr.size());
                a.tree_group = tree_group.data(), a.n_tree_group = static_cast<int64_t>(tree_group.size());
                a.kind = kind.data(), a.flags = flags.data(), a.feature = feature.data();
                a.threshold = threshold.data(), a.left = left.data(), a.right = right.data();
                a.value = value.data(), a.n_nodes = static_cast<int64_t>(n);
                a.cat_ptr = cat_ptr.data(), a.n_cat_ptr = static_cast<int64_t>(cat_ptr.size());
                a.cat_values = cat_values.data(), a.n_cat_values = static_cast<int64_t>(cat_values.size());
                mlwf::Forest forest(a);
                if (forest.n_features() <= 4096 && forest.n_groups() <= 1024) {
                    forest.predict_row(row, out);
                    forest.predict(row, 1, out, 1);
                }
            });
        }
    }
    std::remove(tmp.c_str());
    std::printf("%ld inputs in %.0f s, %ld accepted, no crash\n", iters, seconds, accepted);
    return 0;
}
