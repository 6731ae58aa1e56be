// Implementation of cpp/include/mlwf/c_api.h over the header-only core.
#include <mlwf/artifact.hpp>
#include <mlwf/c_api.h>

#include <new>
#include <string>
#include <vector>

struct mlwf_scorer {
    mlwf::Model model;
};

namespace {

thread_local std::string g_last_error;

int fail(int code, const std::string& message) {
    g_last_error = message;
    return code;
}

template <typename F>
int guarded(F&& f) {
    try {
        g_last_error.clear();
        return f();
    } catch (const mlwf::ArtifactError& e) {
        std::string m = e.what();
        bool io = m.rfind("cannot open", 0) == 0 || m.rfind("cannot read", 0) == 0;
        return fail(io ? MLWF_ERR_IO : MLWF_ERR_FORMAT, m);
    } catch (const mlwf::PlanError& e) {
        return fail(MLWF_ERR_SCHEMA, e.what());
    } catch (const std::bad_alloc&) {
        return fail(MLWF_ERR_INTERNAL, "out of memory");
    } catch (const std::exception& e) {
        return fail(MLWF_ERR_INTERNAL, e.what());
    }
}

}  // namespace

extern "C" {

int mlwf_scorer_load(const char* path, mlwf_scorer** out) {
    if (!path || !out) return fail(MLWF_ERR_ARGUMENT, "mlwf_scorer_load: path and out must not be NULL");
    *out = nullptr;
    return guarded([&]() -> int {
        auto* s = new mlwf_scorer{mlwf::load_model(path)};
        *out = s;
        return MLWF_OK;
    });
}

int mlwf_scorer_predict_rows_threads(const mlwf_scorer* s, const float* rows, int64_t n_rows, int64_t n_cols,
                                     double* out, int n_threads) {
    if (!s || (!rows && n_rows > 0) || (!out && n_rows > 0) || n_rows < 0) {
        return fail(MLWF_ERR_ARGUMENT, "mlwf_scorer_predict_rows: NULL pointer or negative row count");
    }
    if (n_cols != s->model.forest->n_features()) {
        return fail(MLWF_ERR_ARGUMENT, "mlwf_scorer_predict_rows: the model reads " +
                                           std::to_string(s->model.forest->n_features()) + " columns, got " +
                                           std::to_string(n_cols));
    }
    return guarded([&]() -> int {
        s->model.forest->predict(rows, n_rows, out, n_threads);
        return MLWF_OK;
    });
}

int mlwf_scorer_predict_rows(const mlwf_scorer* s, const float* rows, int64_t n_rows, int64_t n_cols, double* out) {
    return mlwf_scorer_predict_rows_threads(s, rows, n_rows, n_cols, out, 0);
}

int mlwf_scorer_predict_record(const mlwf_scorer* s, const mlwf_field* fields, int64_t n_fields, double* out) {
    if (!s || !out || (!fields && n_fields > 0) || n_fields < 0) {
        return fail(MLWF_ERR_ARGUMENT, "mlwf_scorer_predict_record: NULL pointer or negative field count");
    }
    return guarded([&]() -> int {
        const mlwf::Plan& plan = *s->model.plan;
        std::vector<mlwf::Value> values(static_cast<size_t>(plan.n_columns()));
        for (int64_t i = 0; i < n_fields; ++i) {
            const mlwf_field& f = fields[i];
            if (!f.name) return fail(MLWF_ERR_ARGUMENT, "mlwf_scorer_predict_record: a field has no name");
            int64_t c = plan.column_index(f.name);
            if (c < 0) continue;  // fields the model does not use are ignored
            mlwf::Value& v = values[static_cast<size_t>(c)];
            switch (f.type) {
                case MLWF_MISSING:
                    v = mlwf::Value::missing();
                    break;
                case MLWF_NUMBER:
                    v = mlwf::Value::of_number(f.number);
                    break;
                case MLWF_INTEGER:
                    v = mlwf::Value::of_integer(f.number);
                    break;
                case MLWF_STRING:
                    v = f.string ? mlwf::Value::of_text(f.string) : mlwf::Value::missing();
                    break;
                case MLWF_BOOL:
                    v = mlwf::Value::of_bool(f.boolean != 0);
                    break;
                default:
                    return fail(MLWF_ERR_ARGUMENT, std::string("mlwf_scorer_predict_record: field '") + f.name +
                                                       "' has an unknown type");
            }
        }
        std::vector<float> row(static_cast<size_t>(plan.n_features()));
        plan.transform_record(values.data(), row.data());
        s->model.forest->predict_row(row.data(), out);
        return MLWF_OK;
    });
}

int64_t mlwf_scorer_n_features(const mlwf_scorer* s) { return s ? s->model.forest->n_features() : 0; }
int64_t mlwf_scorer_n_outputs(const mlwf_scorer* s) { return s ? s->model.forest->n_groups() : 0; }
int64_t mlwf_scorer_n_classes(const mlwf_scorer* s) {
    return s ? static_cast<int64_t>(s->model.classes.size()) : 0;
}
const char* mlwf_scorer_task(const mlwf_scorer* s) { return s ? s->model.task.c_str() : ""; }
const char* mlwf_scorer_class_label(const mlwf_scorer* s, int64_t i) {
    if (!s || i < 0 || i >= static_cast<int64_t>(s->model.classes.size())) return nullptr;
    return s->model.classes[static_cast<size_t>(i)].c_str();
}

void mlwf_scorer_free(mlwf_scorer* s) { delete s; }

const char* mlwf_last_error(void) { return g_last_error.c_str(); }

}  // extern "C"
