from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from mlwf_core.deploy._artifact import read_artifact, write_artifact
from mlwf_core.exceptions import ArtifactError


def test_roundtrip(tmp_path):
    path = write_artifact(
        tmp_path / "m.mlwf",
        {"task": "binary"},
        {"boosters/0.txt": b"tree"},
        {"values": np.arange(5.0)},
    )
    art = read_artifact(path)
    assert art.manifest["task"] == "binary" and art.manifest["format_version"] == 1
    assert art.files == {"boosters/0.txt": b"tree"}
    np.testing.assert_array_equal(art.arrays["values"], np.arange(5.0))
    assert not list(tmp_path.glob("*.tmp"))


def test_object_arrays_refused(tmp_path):
    with pytest.raises(ArtifactError, match="numeric"):
        write_artifact(tmp_path / "m.mlwf", {}, {}, {"bad": np.array([{"a": 1}], dtype=object)})
    assert not (tmp_path / "m.mlwf").exists()


def test_corrupted_truncated_and_tampered(tmp_path):
    path = write_artifact(
        tmp_path / "m.mlwf", {"task": "binary"}, {"boosters/0.txt": b"tree" * 100}
    )
    data = path.read_bytes()
    (tmp_path / "trunc.mlwf").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="corrupted or truncated"):
        read_artifact(tmp_path / "trunc.mlwf")
    (tmp_path / "junk.mlwf").write_bytes(b"not a zip at all")
    with pytest.raises(ArtifactError):
        read_artifact(tmp_path / "junk.mlwf")
    # a member changed after writing fails its checksum
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp_path / "tampered.mlwf", "w") as dst:
        for name in src.namelist():
            body = src.read(name)
            dst.writestr(name, b"other" if name == "boosters/0.txt" else body)
    with pytest.raises(ArtifactError, match="sha256"):
        read_artifact(tmp_path / "tampered.mlwf")
    with pytest.raises(ArtifactError, match="does not exist"):
        read_artifact(tmp_path / "missing.mlwf")


def test_future_format_version_refused(tmp_path):
    path = write_artifact(tmp_path / "m.mlwf", {}, {})
    with zipfile.ZipFile(path) as src:
        manifest = json.loads(src.read("manifest.json"))
    manifest["format_version"] = 99
    with zipfile.ZipFile(tmp_path / "v99.mlwf", "w") as dst:
        dst.writestr("manifest.json", json.dumps(manifest))
    with pytest.raises(ArtifactError, match="version 99"):
        read_artifact(tmp_path / "v99.mlwf")


def test_failed_write_keeps_previous_file(tmp_path):
    path = write_artifact(tmp_path / "m.mlwf", {"v": 1}, {})
    with pytest.raises(ArtifactError):
        write_artifact(path, {"v": object()}, {})
    assert read_artifact(path).manifest["v"] == 1
