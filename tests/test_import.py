from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import mlwf_core


def test_version_matches_compiled_module_and_metadata():
    from mlwf_core import _core

    assert _core.__version__ == mlwf_core.__version__
    assert importlib.metadata.version("mlwf-core") == mlwf_core.__version__


def test_import_is_light_and_fast():
    code = (
        "import sys, time; t = time.perf_counter(); import mlwf_core, mlwf_core.deploy; "
        "dt = time.perf_counter() - t; "
        "heavy = [m for m in ('optuna', 'lightgbm', 'xgboost', 'fastapi', 'uvicorn', 'sklearn') if m in sys.modules]; "
        "print(dt); print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert float(out[0]) < 0.5
    assert out[1] == "", f"import mlwf_core loaded {out[1]}"


def test_public_names_resolve():
    for name in mlwf_core.__all__:
        assert getattr(mlwf_core, name) is not None
