// C++ unit tests of the scorer's parts that Python cannot reach directly: the inflater,
// CRC-32, SHA-256, the JSON and .npy readers, the zip reader on garbage, the plan and a
// hand-built forest. Run by ctest (cmake -DMLWF_BUILD_CPP=ON).
#include <mlwf/artifact.hpp>
#include <mlwf/c_api.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

static int g_failures = 0;
#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            std::fprintf(stderr, "%s:%d: CHECK(%s)\n", __FILE__, __LINE__, #cond); \
            ++g_failures;                                                  \
        }                                                                  \
    } while (0)

template <typename F>
static bool throws_artifact_error(F&& f) {
    try {
        f();
    } catch (const mlwf::ArtifactError&) {
        return true;
    }
    return false;
}

static void test_checksums() {
    const std::string abc = "abc";
    CHECK(mlwf::detail::sha256_hex(reinterpret_cast<const uint8_t*>(abc.data()), abc.size()) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const std::string empty;
    CHECK(mlwf::detail::sha256_hex(reinterpret_cast<const uint8_t*>(empty.data()), 0) ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const std::string digits = "123456789";
    CHECK(mlwf::detail::crc32(reinterpret_cast<const uint8_t*>(digits.data()), digits.size()) == 0xCBF43926u);
    // 56 bytes: the padding spills into a second block
    const std::string two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK(mlwf::detail::sha256_hex(reinterpret_cast<const uint8_t*>(two.data()), two.size()) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_inflate() {
    const std::vector<uint8_t> deflated = {203, 205, 41, 79, 83, 200, 133, 19, 197, 201, 249, 69,
                                           169, 69,  48, 42, 119, 84, 114, 84, 146, 176, 36,  0};
    std::string expect;
    for (int i = 0; i < 20; ++i) expect += "mlwf mlwf mlwf scorer scorer ";
    auto out = mlwf::detail::Inflater(deflated.data(), deflated.size(), expect.size()).run();
    CHECK(std::string(out.begin(), out.end()) == expect);
    // a limit below the real size is an error, not an overflow
    CHECK(throws_artifact_error([&] { mlwf::detail::Inflater(deflated.data(), deflated.size(), 10).run(); }));
    // truncated and random streams fail cleanly
    for (size_t cut = 0; cut < deflated.size(); ++cut) {
        try {
            mlwf::detail::Inflater(deflated.data(), cut, expect.size()).run();
        } catch (const mlwf::ArtifactError&) {
        }
    }
    std::mt19937 rng(0);
    for (int trial = 0; trial < 2000; ++trial) {
        std::vector<uint8_t> junk(1 + rng() % 64);
        for (auto& b : junk) b = static_cast<uint8_t>(rng());
        try {
            mlwf::detail::Inflater(junk.data(), junk.size(), 4096).run();
        } catch (const mlwf::ArtifactError&) {
        }
    }
}

static void test_json() {
    const std::string text =
        R"({"a": [1, 2.5, -3e2, true, false, null, NaN, -Infinity], "b": {"c": "x\"\u00e9\ud83d\ude00"}, "d": []})";
    mlwf::Json j = mlwf::detail::JsonReader(text.data(), text.size()).parse();
    const mlwf::Json* a = j.get("a");
    CHECK(a && a->items.size() == 8);
    CHECK(a->items[0].integer && a->items[0].number == 1);
    CHECK(!a->items[1].integer && a->items[1].number == 2.5);
    CHECK(a->items[2].number == -300);
    CHECK(a->items[3].boolean && a->items[5].type == mlwf::Json::Null);
    CHECK(std::isnan(a->items[6].number) && a->items[7].number < 0 && std::isinf(a->items[7].number));
    CHECK(j.get("b")->get("c")->text == "x\"\xc3\xa9\xf0\x9f\x98\x80");
    for (const char* bad : {"{", "[1,", "{\"a\" 1}", "\"abc", "[1 2]", "tru", "{\"a\":1}x"}) {
        std::string s = bad;
        CHECK(throws_artifact_error([&] { mlwf::detail::JsonReader(s.data(), s.size()).parse(); }));
    }
    std::string deep(1000, '[');
    CHECK(throws_artifact_error([&] { mlwf::detail::JsonReader(deep.data(), deep.size()).parse(); }));
}

static std::vector<uint8_t> npy(const std::string& descr, const std::string& shape, const std::vector<uint8_t>& data) {
    std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    while ((10 + header.size() + 1) % 64) header += ' ';
    header += '\n';
    std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<uint8_t>(header.size() & 0xFF),
                                static_cast<uint8_t>(header.size() >> 8)};
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

static void test_npy() {
    auto a = npy("<i4", "(2,)", {1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF});
    auto v = mlwf::read_npy<int64_t>(a, "x");
    CHECK(v.size() == 2 && v[0] == 1 && v[1] == -1);
    CHECK(throws_artifact_error([&] { mlwf::read_npy<int64_t>(npy("<i4", "(3,)", {1, 0, 0, 0}), "x"); }));
    CHECK(throws_artifact_error([&] { mlwf::read_npy<int64_t>(npy("<U4", "(1,)", {1, 0, 0, 0}), "x"); }));
    CHECK(throws_artifact_error([&] { mlwf::read_npy<int64_t>(std::vector<uint8_t>(5, 0), "x"); }));
}

static void test_zip_garbage() {
    std::mt19937 rng(1);
    for (int trial = 0; trial < 500; ++trial) {
        std::vector<uint8_t> junk(rng() % 300);
        for (auto& b : junk) b = static_cast<uint8_t>(rng());
        if (junk.size() > 30 && trial % 2) {  // plant an end-of-central-directory record
            size_t at = junk.size() - 22;
            junk[at] = 0x50, junk[at + 1] = 0x4b, junk[at + 2] = 5, junk[at + 3] = 6;
        }
        try {  // garbage may parse as an empty archive; it must never crash
            mlwf::read_zip(junk);
        } catch (const mlwf::ArtifactError&) {
        }
    }
    CHECK(throws_artifact_error([] { mlwf::read_zip(std::vector<uint8_t>(10, 0)); }));
    mlwf_scorer* s = nullptr;
    CHECK(mlwf_scorer_load("/nonexistent/model.mlwf", &s) == MLWF_ERR_IO && s == nullptr);
    CHECK(std::string(mlwf_last_error()).find("cannot open") != std::string::npos);
}

static void test_plan() {
    mlwf::PlanSpec spec;
    spec.ops = {{"n", "numeric", {}}, {"c", "categorical", {"a", "b", "3"}}, {"f", "boolean", {}}};
    spec.features = {"c", "n", "f"};
    mlwf::Plan plan(spec);
    mlwf::Value v[3] = {mlwf::Value::of_text(" 2.5 "), mlwf::Value::of_integer(3), mlwf::Value::of_text("Yes")};
    float out[3];
    plan.transform_record(v, out);
    CHECK(out[0] == 2.0f && out[1] == 2.5f && out[2] == 1.0f);
    mlwf::Value w[3] = {mlwf::Value::missing(), mlwf::Value::of_text("z"), mlwf::Value::of_text("maybe")};
    plan.transform_record(w, out);
    CHECK(std::isnan(out[0]) && std::isnan(out[1]) && std::isnan(out[2]));
    mlwf::Value bad[3] = {mlwf::Value::of_text("abc"), mlwf::Value::missing(), mlwf::Value::missing()};
    bool threw = false;
    try {
        plan.transform_record(bad, out);
    } catch (const mlwf::PlanError&) {
        threw = true;
    }
    CHECK(threw);
    spec.ops[0].kind = "ratio";
    threw = false;
    try {
        mlwf::Plan p2(spec);
    } catch (const mlwf::PlanError& e) {
        threw = std::string(e.what()).find("ratio") != std::string::npos;
    }
    CHECK(threw);
}

static void test_forest() {
    // one LightGBM stump on feature 0 (x <= 0.5 left, NaN missing type, default right) and
    // one XGBoost stump on feature 1 (x < 2 left, NaN default left)
    int64_t meta[5] = {1, 2, 1, 1, 2};
    double base[1] = {0.25};
    int64_t tree_ptr[3] = {0, 3, 6};
    int32_t group[2] = {0, 0};
    uint8_t kind[6] = {1, 0, 0, 2, 0, 0};
    uint8_t flags[6] = {2 << 1, 0, 0, 1, 0, 0};
    int32_t feature[6] = {0, -1, -1, 1, -1, -1};
    double thr[6] = {0.5, 0, 0, 2.0, 0, 0};
    int32_t left[6] = {1, -1, -1, 1, -1, -1};
    int32_t right[6] = {2, -1, -1, 2, -1, -1};
    double value[6] = {0, 1.0, 2.0, 0, 10.0, 20.0};
    int64_t cat_ptr[1] = {0};
    mlwf::ForestArrays a;
    a.meta = meta, a.n_meta = 5, a.base = base, a.n_base = 1, a.tree_ptr = tree_ptr, a.n_tree_ptr = 3;
    a.tree_group = group, a.n_tree_group = 2, a.kind = kind, a.flags = flags, a.feature = feature;
    a.threshold = thr, a.left = left, a.right = right, a.value = value, a.n_nodes = 6;
    a.cat_ptr = cat_ptr, a.n_cat_ptr = 1, a.cat_values = nullptr, a.n_cat_values = 0;
    mlwf::Forest f(a);
    const float nan = std::nanf("");
    const float rows[5][2] = {{0.5f, 2.0f}, {0.50001f, 1.9999f}, {nan, nan}, {-1.0f, 2.0f}, {1e-40f, -5.0f}};
    const double expect[5] = {0.25 + 1 + 20, 0.25 + 2 + 10, 0.25 + 2 + 10, 0.25 + 1 + 20, 0.25 + 1 + 10};
    for (int r = 0; r < 5; ++r) {
        double o;
        f.predict_row_raw(rows[r], &o);
        CHECK(o == expect[r]);
    }
    std::vector<float> many;
    for (int rep = 0; rep < 100; ++rep) {
        for (auto& row : rows) many.insert(many.end(), row, row + 2);
    }
    std::vector<double> out(500);
    f.predict_raw(many.data(), 500, out.data(), 2);
    for (int i = 0; i < 500; ++i) CHECK(out[static_cast<size_t>(i)] == expect[i % 5]);
    left[0] = 0;  // a cycle must be refused
    bool threw = false;
    try {
        mlwf::Forest g(a);
    } catch (const mlwf::ForestError&) {
        threw = true;
    }
    CHECK(threw);
}

int main() {
    test_checksums();
    test_inflate();
    test_json();
    test_npy();
    test_zip_garbage();
    test_plan();
    test_forest();
    if (g_failures) {
        std::fprintf(stderr, "%d check(s) failed\n", g_failures);
        return 1;
    }
    std::printf("all C++ scorer checks passed\n");
    return 0;
}
