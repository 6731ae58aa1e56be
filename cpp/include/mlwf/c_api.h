/* C API of the mlwf scorer: load a .mlwf model saved by Python and score rows or raw
 * records from C or C++ without Python. Implemented in cpp/src/c_api.cpp (library mlwf_c).
 *
 * Every function returns MLWF_OK (0) or an error code; the message of the last error on
 * the calling thread is mlwf_last_error(). A loaded scorer is immutable: any number of
 * threads may score with one handle at the same time. */
#ifndef MLWF_C_API_H_
#define MLWF_C_API_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlwf_scorer mlwf_scorer;

enum mlwf_status {
    MLWF_OK = 0,
    MLWF_ERR_ARGUMENT = 1, /* a null pointer, a wrong column count ... */
    MLWF_ERR_IO = 2,       /* the file cannot be read */
    MLWF_ERR_FORMAT = 3,   /* not a valid .mlwf (corrupted, truncated, unknown version) */
    MLWF_ERR_SCHEMA = 4,   /* a record value of the wrong type (e.g. text in a numeric column) */
    MLWF_ERR_INTERNAL = 5
};

/* MLWF_INTEGER is a number from an integer column: ops that read a number as text (a
 * categorical column of numeric codes, numbers stored as text) see "3" for it, as for an
 * integer column in training, where MLWF_NUMBER 3.0 reads "3.0" as a float column does. */
enum mlwf_value_type { MLWF_MISSING = 0, MLWF_NUMBER = 1, MLWF_STRING = 2, MLWF_BOOL = 3, MLWF_INTEGER = 4 };

/* One named raw value of a record. Fields of the model that are absent are missing. */
typedef struct mlwf_field {
    const char* name;   /* column name, NUL-terminated UTF-8 */
    int type;           /* enum mlwf_value_type */
    double number;      /* MLWF_NUMBER, MLWF_INTEGER */
    const char* string; /* MLWF_STRING, NUL-terminated UTF-8 */
    int boolean;        /* MLWF_BOOL: 0 or 1 */
} mlwf_field;

/* Loads the model at path into *out (free it with mlwf_scorer_free). */
int mlwf_scorer_load(const char* path, mlwf_scorer** out);

/* Scores n_rows rows of n_cols already-numeric features (row-major float32, NaN = missing).
 * out receives n_rows * mlwf_scorer_n_outputs() values: the probability of the positive
 * class (binary), class probabilities (multiclass) or the predicted value (regression). */
int mlwf_scorer_predict_rows(const mlwf_scorer* scorer, const float* rows, int64_t n_rows, int64_t n_cols,
                             double* out);

/* As mlwf_scorer_predict_rows, on n_threads threads (0 = all cores). */
int mlwf_scorer_predict_rows_threads(const mlwf_scorer* scorer, const float* rows, int64_t n_rows,
                                     int64_t n_cols, double* out, int n_threads);

/* Scores one raw record through the model's preprocessing (string categoricals, missing
 * fields). out receives mlwf_scorer_n_outputs() values. */
int mlwf_scorer_predict_record(const mlwf_scorer* scorer, const mlwf_field* fields, int64_t n_fields, double* out);

int64_t mlwf_scorer_n_features(const mlwf_scorer* scorer);  /* numeric columns of predict_rows */
int64_t mlwf_scorer_n_outputs(const mlwf_scorer* scorer);   /* values per row written to out */
int64_t mlwf_scorer_n_classes(const mlwf_scorer* scorer);   /* 0 for regression */
const char* mlwf_scorer_task(const mlwf_scorer* scorer);    /* "binary", "multiclass", "regression" */
const char* mlwf_scorer_class_label(const mlwf_scorer* scorer, int64_t i); /* label text, or NULL */

void mlwf_scorer_free(mlwf_scorer* scorer);

/* Message of the last error on this thread ("" if none). */
const char* mlwf_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* MLWF_C_API_H_ */
