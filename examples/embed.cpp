// Scoring a .mlwf model from C++ without Python, through the C API (cpp/include/mlwf/c_api.h).
//
//   embed MODEL.mlwf ROWS.f32 N_ROWS          score N_ROWS rows of float32 features read from
//                                            a raw row-major file; one line of outputs per row
//   embed MODEL.mlwf --record FIELD...        score one raw record; FIELD is name:n=3.5
//                                            (number), name:i=3 (integer), name:s=text
//                                            (string), name:b=1 (bool) or name:m (missing)
//
// Outputs are printed with 17 significant digits, space-separated: the probability of the
// positive class (binary), class probabilities (multiclass) or the value (regression).
#include <mlwf/c_api.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static int die(const char* what) {
    std::fprintf(stderr, "embed: %s: %s\n", what, mlwf_last_error());
    return 1;
}

static void print_row(const double* v, int64_t k) {
    for (int64_t j = 0; j < k; ++j) std::printf(j ? " %.17g" : "%.17g", v[j]);
    std::printf("\n");
}

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: embed MODEL.mlwf ROWS.f32 N_ROWS | embed MODEL.mlwf --record FIELD...\n");
        return 2;
    }
    mlwf_scorer* scorer = nullptr;
    if (mlwf_scorer_load(argv[1], &scorer) != MLWF_OK) return die("cannot load the model");
    const int64_t k = mlwf_scorer_n_outputs(scorer);
    int status = 0;
    if (std::strcmp(argv[2], "--record") == 0) {
        std::vector<std::string> names;
        std::vector<mlwf_field> fields;
        names.reserve(static_cast<size_t>(argc));
        for (int i = 3; i < argc; ++i) {
            std::string arg = argv[i];
            size_t colon = arg.find(':');
            if (colon == std::string::npos || colon + 1 >= arg.size()) {
                std::fprintf(stderr, "embed: bad field '%s'\n", argv[i]);
                mlwf_scorer_free(scorer);
                return 2;
            }
            names.push_back(arg.substr(0, colon));
            mlwf_field f{};
            const char type = arg[colon + 1];
            const char* value = argv[i] + colon + 3;  // after "x="
            if (type == 'n' || type == 'i') {
                f.type = type == 'n' ? MLWF_NUMBER : MLWF_INTEGER;
                f.number = std::strtod(value, nullptr);
            } else if (type == 's') {
                f.type = MLWF_STRING;
                f.string = value;
            } else if (type == 'b') {
                f.type = MLWF_BOOL;
                f.boolean = std::atoi(value);
            } else {
                f.type = MLWF_MISSING;
            }
            fields.push_back(f);
        }
        for (size_t i = 0; i < fields.size(); ++i) fields[i].name = names[i].c_str();
        std::vector<double> out(static_cast<size_t>(k));
        if (mlwf_scorer_predict_record(scorer, fields.data(), static_cast<int64_t>(fields.size()), out.data()) !=
            MLWF_OK) {
            status = die("cannot score the record");
        } else {
            print_row(out.data(), k);
        }
    } else {
        const int64_t n = argc > 3 ? std::atoll(argv[3]) : 0;
        const int64_t nf = mlwf_scorer_n_features(scorer);
        std::vector<float> rows(static_cast<size_t>(n * nf));
        FILE* f = std::fopen(argv[2], "rb");
        if (!f || std::fread(rows.data(), sizeof(float), rows.size(), f) != rows.size()) {
            std::fprintf(stderr, "embed: cannot read %lld rows of %lld floats from %s\n", static_cast<long long>(n),
                         static_cast<long long>(nf), argv[2]);
            if (f) std::fclose(f);
            mlwf_scorer_free(scorer);
            return 2;
        }
        std::fclose(f);
        std::vector<double> out(static_cast<size_t>(n * k));
        if (mlwf_scorer_predict_rows(scorer, rows.data(), n, nf, out.data()) != MLWF_OK) {
            status = die("cannot score the rows");
        } else {
            for (int64_t r = 0; r < n; ++r) print_row(out.data() + r * k, k);
        }
    }
    mlwf_scorer_free(scorer);
    return status;
}
