"""The ``.mlwf`` artifact: one zip container, no pickle, checksummed.

Members:

- ``manifest.json``: format and library versions, schema, task, metric, classes,
  the Plan, ensemble members, scores, seed, data fingerprint, created time,
  ``checksums`` (sha256 of every other member);
- ``boosters/<i>.txt`` / ``boosters/<i>.json``: each booster in its learner's
  native format, so Python can reload it for refits and explanations;
- ``forest/<name>.npy``: the scorer's forest as plain numeric arrays, read with
  ``allow_pickle=False``.

Writes go to a temporary file in the target directory, are flushed to disk and
renamed into place, so a crash never leaves a half-written model behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlwf_core.exceptions import ArtifactError

__all__ = ["FORMAT", "FORMAT_VERSION", "Artifact", "read_artifact", "write_artifact"]

FORMAT = "mlwf"
FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_FOREST_PREFIX = "forest/"


@dataclass
class Artifact:
    """The members of a loaded artifact.

    Attributes
    ----------
    manifest
        The parsed ``manifest.json``.
    arrays
        Forest arrays by name (``forest/<name>.npy`` without prefix and suffix).
    files
        Every other member's bytes by member name (e.g. ``"boosters/0.txt"``).
    """

    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]
    files: dict[str, bytes]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _npy_bytes(array: np.ndarray) -> bytes:
    if array.dtype.hasobject:
        raise ArtifactError("Forest arrays must be numeric; object arrays would need pickling.")
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def write_artifact(
    path: str | os.PathLike[str],
    manifest: Mapping[str, Any],
    files: Mapping[str, bytes],
    arrays: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Write an artifact atomically.

    Parameters
    ----------
    path
        Destination; ``.mlwf`` is the customary suffix.
    manifest
        JSON-able metadata; ``format``, ``format_version`` and ``checksums`` are added.
    files
        Member name -> bytes (boosters and other non-array members).
    arrays
        Forest arrays, stored as ``forest/<name>.npy``.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise ArtifactError(
            f"Cannot save the model to {str(target)!r}: it is a directory. Give a file name."
        )
    if not target.parent.exists():
        raise ArtifactError(
            f"Cannot save the model to {str(target)!r}: directory {str(target.parent)!r} does not exist."
        )
    members: dict[str, bytes] = dict(files)
    for name, array in (arrays or {}).items():
        members[f"{_FOREST_PREFIX}{name}.npy"] = _npy_bytes(np.asarray(array))
    full = dict(manifest)
    full["format"] = FORMAT
    full["format_version"] = FORMAT_VERSION
    full["checksums"] = {name: _sha256(data) for name, data in sorted(members.items())}
    try:
        manifest_bytes = json.dumps(full, indent=1, sort_keys=True, allow_nan=True).encode()
    except TypeError as exc:
        raise ArtifactError(f"The model metadata is not JSON-serialisable: {exc}") from exc

    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(_MANIFEST, manifest_bytes)
                for name, data in members.items():
                    archive.writestr(name, data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_artifact(path: str | os.PathLike[str]) -> Artifact:
    """Read and verify an artifact.

    Raises
    ------
    ArtifactError
        The file is missing, not a zip, truncated, has a member whose sha256
        does not match the manifest, or has an unknown format version.
    """
    source = Path(path).expanduser()
    if not source.is_file():
        raise ArtifactError(f"Model file {str(source)!r} does not exist.")
    try:
        with zipfile.ZipFile(source) as archive:
            names = archive.namelist()
            if _MANIFEST not in names:
                raise ArtifactError(f"{str(source)!r} is not an mlwf model: it has no {_MANIFEST}.")
            manifest = json.loads(archive.read(_MANIFEST))
            members = {name: archive.read(name) for name in names if name != _MANIFEST}
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        EOFError,
        ValueError,
        OSError,
    ) as exc:
        if isinstance(exc, ArtifactError):
            raise
        raise ArtifactError(
            f"{str(source)!r} is not a readable mlwf model (corrupted or truncated: {exc}). "
            "Save the model again."
        ) from exc
    if manifest.get("format") != FORMAT:
        raise ArtifactError(
            f"{str(source)!r} is not an mlwf model (format {manifest.get('format')!r})."
        )
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"{str(source)!r} has format version {version!r}; this mlwf reads version {FORMAT_VERSION}. "
            "Load it with the mlwf version that saved it, or retrain."
        )
    checksums = manifest.get("checksums", {})
    if set(checksums) != set(members):
        raise ArtifactError(f"{str(source)!r} is corrupted: its members do not match the manifest.")
    for name, data in members.items():
        if _sha256(data) != checksums[name]:
            raise ArtifactError(
                f"{str(source)!r} is corrupted: member {name!r} fails its sha256 check."
            )
    arrays: dict[str, np.ndarray] = {}
    files: dict[str, bytes] = {}
    for name, data in members.items():
        if name.startswith(_FOREST_PREFIX) and name.endswith(".npy"):
            key = name[len(_FOREST_PREFIX) : -len(".npy")]
            try:
                arrays[key] = np.load(io.BytesIO(data), allow_pickle=False)
            except ValueError as exc:
                raise ArtifactError(
                    f"{str(source)!r}: array {name!r} is unreadable: {exc}"
                ) from exc
        else:
            files[name] = data
    return Artifact(manifest=manifest, arrays=arrays, files=files)
