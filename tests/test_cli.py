from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest
from conftest import make_frame

from mlwf_core.cli import main


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    data = tmp / "train.csv"
    make_frame(n=300).write_csv(data)
    model = tmp / "m.mlwf"
    assert (
        main(
            [
                "fit",
                str(data),
                "--target",
                "y",
                "--time-budget",
                "3",
                "-o",
                str(model),
                "-q",
                "--n-jobs",
                "1",
            ]
        )
        == 0
    )
    return data, model


def test_fit_predict_evaluate(fitted, tmp_path, capsys):
    data, model = fitted
    out = tmp_path / "pred.parquet"
    assert main(["predict", str(model), str(data), "-o", str(out), "--keep", "id"]) == 0
    scored = pl.read_parquet(out)
    assert scored.columns == ["id", "prediction", "proba_no", "proba_yes"]
    assert scored.height == 300
    csv_out = tmp_path / "pred.csv"
    assert main(["predict", str(model), str(data), "-o", str(csv_out)]) == 0
    assert pl.read_csv(csv_out).height == 300
    capsys.readouterr()
    assert main(["evaluate", str(model), str(data)]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert 0.5 < scores["roc_auc"] <= 1.0


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["predict", "missing.mlwf", "x.csv"], "does not exist"),
        (["fit", "missing.csv", "--target", "y"], "does not exist"),
    ],
)
def test_errors_are_one_line(argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0] and "Traceback" not in err[0]


def test_bad_target_and_corrupt_model(fitted, tmp_path, capsys):
    data, model = fitted
    assert main(["fit", str(data), "--target", "nope", "-q"]) == 2
    assert "nope" in capsys.readouterr().err
    broken = tmp_path / "broken.mlwf"
    broken.write_bytes(model.read_bytes()[:100])
    assert main(["predict", str(broken), str(data)]) == 2
    assert "corrupted or truncated" in capsys.readouterr().err


def test_console_script_demo(tmp_path):
    out = tmp_path / "demo.mlwf"
    proc = subprocess.run(
        [sys.executable, "-m", "mlwf_core.cli", "demo", "--time-budget", "4", "-q", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "holdout metrics" in proc.stdout and "roc_auc" in proc.stdout
    assert out.exists()
