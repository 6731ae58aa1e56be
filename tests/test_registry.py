"""The model registry: versions, aliases, tags, lineage, concurrent writers, CLI."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import make_frame

import mlwf_core as mw
from mlwf_core.cli import main
from mlwf_core.deploy._artifact import read_artifact, write_artifact
from mlwf_core.exceptions import ArtifactError, DataError, MlwfWarning, ParameterError
from mlwf_core.registry import Registry


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry")
    frame = make_frame(n=300, seed=2)
    with warnings.catch_warnings():
        # on a busy machine two seconds may not cross-validate anything; the model is valid
        warnings.simplefilter("ignore", MlwfWarning)
        model = mw.fit_auto(frame, "y", time_budget=2, n_jobs=1, verbose=0)
    return model, model.save(tmp / "m.mlwf"), frame


def variant(path, target, **changes):
    """Another valid artifact (different bytes) of the same model."""
    art = read_artifact(path)
    manifest = {
        k: v for k, v in art.manifest.items() if k not in ("format", "format_version", "checksums")
    }
    manifest.update(changes)
    return write_artifact(target, manifest, art.files, art.arrays)


def test_register_versions_aliases_and_load(fitted, tmp_path):
    model, path, frame = fitted
    reg = Registry(tmp_path / "reg.db")
    v1 = reg.register(path, "churn", tags={"owner": "ds", "stage": "dev"})
    assert v1 == 1
    # content-hashed: the same bytes are the same version
    assert reg.register(path, "churn") == 1
    v2 = reg.register(variant(path, tmp_path / "b.mlwf", seed=5), "churn", parent=v1)
    assert v2 == 2
    assert reg.register(model, "other") == 1  # an in-memory model is saved, then stored
    assert reg.set_alias("churn", "champion", v1) == 1
    assert reg.set_alias("churn", "challenger", "churn@2") == 2
    assert reg.resolve("churn@champion") == ("churn", 1)
    assert reg.resolve("churn") == ("churn", 2) == reg.resolve("churn@latest")
    # aliases move
    assert reg.set_alias("churn", "champion", "challenger") == 2
    assert reg.aliases("churn") == {"challenger": 2, "champion": 2}
    loaded = reg.load("churn@1")
    np.testing.assert_allclose(loaded.predict_proba(frame), model.predict_proba(frame))
    assert reg.artifact_bytes("churn@1") == path.read_bytes()
    out = reg.fetch("churn@1", tmp_path / "copy.mlwf")
    assert hashlib.sha256(out.read_bytes()).hexdigest() == reg.show("churn@1")["sha256"]
    rows = reg.list()
    assert [(r["name"], r["version"]) for r in rows] == [("churn", 1), ("churn", 2), ("other", 1)]
    assert rows[0]["tags"] == {"owner": "ds", "stage": "dev"}
    assert rows[1]["aliases"] == ["challenger", "champion"]
    reg.set_tag("churn@1", "stage", "archived")
    assert reg.show("churn@1")["tags"]["stage"] == "archived"
    actions = [e["action"] for e in reg.history("churn")]
    assert actions.count("register") == 2 and actions.count("alias") == 3 and "tag" in actions
    reg.delete_alias("churn", "challenger")
    with pytest.raises(DataError, match="no alias 'challenger'"):
        reg.resolve("churn@challenger")


def test_lineage(fitted, tmp_path):
    model, path, _ = fitted
    reg = Registry(f"sqlite:///{tmp_path / 'lin.db'}")
    v1 = reg.register(path, "m")
    v2 = reg.register(variant(path, tmp_path / "2.mlwf", seed=2), "m", parent="m@1")
    v3 = reg.register(variant(path, tmp_path / "3.mlwf", seed=3), "m", parent=v2)
    info = reg.show("m@3")
    assert info["parent"] == "m@2" and info["data_fingerprint"] == model.fingerprint_
    lineage = info["lineage"]
    assert lineage["data_fingerprint"] == model.fingerprint_
    assert lineage["metrics"] == pytest.approx(model.cv_scores_, nan_ok=True)
    assert [p["learner"] for p in lineage["params"]] == [m.learner for m in model.members_]
    assert lineage["params"][0]["params"] == json.loads(json.dumps(model.members_[0].params))
    assert [v["version"] for v in reg.lineage("m@3")] == [v3, v2, v1]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda r, p: r.register(p, "bad name"), ParameterError, "model name"),
        (lambda r, p: r.register(p.parent / "nope.mlwf", "m"), ArtifactError, "does not exist"),
        (lambda r, p: r.register(42, "m"), ParameterError, "AutoModel or the path"),
        (lambda r, p: r.resolve("m@7"), DataError, "no version 7"),
        (lambda r, p: r.resolve("ghost"), DataError, "no model named 'ghost'"),
        (lambda r, p: r.set_alias("m", "latest", 1), ParameterError, "alias"),
        (lambda r, p: r.set_alias("m", "champion", 9), DataError, "no version 9"),
        (lambda r, p: r.register(p, "m", parent="m@5"), DataError, "no version 5"),
        (lambda r, p: r.register(p, "m", tags=["a"]), ParameterError, "tags"),
    ],
)
def test_errors(fitted, tmp_path, call, error, match):
    _, path, _ = fitted
    reg = Registry(tmp_path / "e.db")
    reg.register(path, "m")
    with pytest.raises(error, match=match):
        call(reg, path)


def test_corrupted_artifacts_are_refused(fitted, tmp_path):
    _, path, _ = fitted
    broken = tmp_path / "broken.mlwf"
    broken.write_bytes(path.read_bytes()[:200])
    reg = Registry(tmp_path / "c.db")
    with pytest.raises(ArtifactError):
        reg.register(broken, "m")
    assert reg.list() == []
    reg.register(path, "m")
    # bytes tampered with inside the database are detected on load
    with sqlite3.connect(tmp_path / "c.db") as conn:
        conn.execute("UPDATE mlwf_blobs SET data = ?", (b"garbage",))
    with pytest.raises(ArtifactError, match="corrupted"):
        reg.load("m@1")
    with pytest.raises(ParameterError, match="uri"):
        Registry("mysql://x")


def race(uri: str, path, tmp_path, n_proc: int = 4, per_proc: int = 5) -> None:
    """Processes register at once into ``uri``: no lost, duplicated or corrupted version."""
    files = []
    for p in range(n_proc):
        for i in range(per_proc):
            files.append(str(variant(path, tmp_path / f"v{p}_{i}.mlwf", seed=100 * p + i)))
    # every process also registers one artifact all the others register too
    shared = str(variant(path, tmp_path / "shared.mlwf", seed=999))
    Registry(uri).close()
    script = textwrap.dedent(
        """
        import json, sys
        from mlwf_core.registry import Registry
        reg = Registry(sys.argv[1], timeout=120)
        out = {}
        for path in json.loads(sys.argv[2]):
            out[path] = reg.register(path, "race", tags={"writer": sys.argv[3]})
            reg.set_alias("race", "latest-by-" + sys.argv[3], out[path])
        print(json.dumps(out))
        """
    )
    procs = []
    for p in range(n_proc):
        mine = files[p * per_proc : (p + 1) * per_proc]
        mine.insert(p % per_proc, shared)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", script, uri, json.dumps(mine), str(p)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = {}
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        for k, v in json.loads(out).items():
            results.setdefault(k, set()).add(v)
    # the shared artifact got one version, whoever won the race
    assert len(results[shared]) == 1
    versions = {path: vs.pop() for path, vs in results.items()}
    assert sorted(versions.values()) == list(range(1, n_proc * per_proc + 2))
    reg = Registry(uri)
    for file, version in versions.items():
        assert reg.artifact_bytes(f"race@{version}") == Path(file).read_bytes()
    assert len(reg.aliases("race")) == n_proc
    reg.close()


def test_concurrent_writers(fitted, tmp_path):
    _, path, _ = fitted
    db = tmp_path / "conc.db"
    race(str(db), path, tmp_path)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_registry_cli(fitted, tmp_path, capsys):
    _, path, _ = fitted
    db = str(tmp_path / "cli.db")
    assert (
        main(
            [
                "registry",
                "--db",
                db,
                "register",
                str(path),
                "churn",
                "--tag",
                "team=a",
                "--alias",
                "champion",
            ]
        )
        == 0
    )
    assert "churn@1" in capsys.readouterr().out
    variant_path = variant(path, tmp_path / "v2.mlwf", seed=9)
    assert (
        main(
            ["registry", "--db", db, "register", str(variant_path), "churn", "--parent", "churn@1"]
        )
        == 0
    )
    assert main(["registry", "--db", db, "alias", "churn", "challenger", "2"]) == 0
    capsys.readouterr()
    assert main(["registry", "--db", db, "list"]) == 0
    listing = capsys.readouterr().out
    assert "champion" in listing and "challenger" in listing and "churn" in listing
    assert main(["registry", "--db", db, "show", "churn@challenger"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == 2 and shown["parent"] == "churn@1"
    out = tmp_path / "out.mlwf"
    assert main(["registry", "--db", db, "load", "churn@champion", "-o", str(out)]) == 0
    assert out.read_bytes() == path.read_bytes()
    capsys.readouterr()
    assert main(["registry", "--db", db, "show", "churn@gold"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no alias 'gold'" in err[0]
    missing = tmp_path / "missing.db"
    assert main(["registry", "--db", str(missing), "list"]) == 2
    assert "does not exist" in capsys.readouterr().err and not missing.exists()


def test_postgresql(fitted, tmp_path):
    """The same registry on PostgreSQL (set MLWF_TEST_POSTGRES=postgresql://... to run)."""
    import os

    uri = os.environ.get("MLWF_TEST_POSTGRES")
    if not uri:
        pytest.skip("set MLWF_TEST_POSTGRES to a scratch PostgreSQL database to run")
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(uri, autocommit=True) as conn:
        for table in ("mlwf_tags", "mlwf_aliases", "mlwf_events", "mlwf_versions", "mlwf_blobs"):
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    _, path, frame = fitted
    reg = Registry(uri)
    assert reg.register(path, "pg", tags={"k": "v"}) == 1
    assert reg.register(path, "pg") == 1
    assert reg.register(variant(path, tmp_path / "2.mlwf", seed=1), "pg", parent=1) == 2
    reg.set_alias("pg", "champion", 2)
    assert reg.resolve("pg@champion") == ("pg", 2)
    assert reg.artifact_bytes("pg@1") == path.read_bytes()
    assert reg.show("pg@2")["parent"] == "pg@1"
    reg.close()
    race(uri, path, tmp_path, n_proc=3, per_proc=3)
