"""A model registry: immutable, content-hashed versions, movable aliases, tags and lineage.

SQLite by default (one file, nothing to run), PostgreSQL through the same DB-API code
when ``psycopg`` is installed::

    reg = Registry("registry.db")                 # or "sqlite:///registry.db", "postgresql://..."
    v = reg.register(model, "churn", tags={"owner": "ds"})
    reg.set_alias("churn", "champion", v)
    model = reg.load("churn@champion")            # or "churn@3", "churn" (latest)

A version is the artifact's bytes (stored in the database, deduplicated by sha256) plus
its lineage read from the manifest: dataset fingerprint, parent version, parameters and
cross-validated metrics. Registering the same bytes under the same name returns the
existing version. Writers take the database's write lock for the whole read-then-insert
(``BEGIN IMMEDIATE`` on SQLite, a table lock on PostgreSQL) and unique constraints back
it up, so concurrent processes never corrupt the registry or hand out a number twice.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlwf_core.exceptions import ArtifactError, DataError, MlwfError, ParameterError

__all__ = ["Registry", "add_registry_command"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS mlwf_blobs (
        sha256 TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        data {blob} NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS mlwf_versions (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        sha256 TEXT NOT NULL REFERENCES mlwf_blobs (sha256),
        created TEXT NOT NULL,
        task TEXT,
        metric TEXT,
        cv_score DOUBLE PRECISION,
        data_fingerprint TEXT,
        parent TEXT,
        lineage TEXT NOT NULL,
        PRIMARY KEY (name, version),
        UNIQUE (name, sha256)
    )""",
    """CREATE TABLE IF NOT EXISTS mlwf_aliases (
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated TEXT NOT NULL,
        PRIMARY KEY (name, alias),
        FOREIGN KEY (name, version) REFERENCES mlwf_versions (name, version)
    )""",
    """CREATE TABLE IF NOT EXISTS mlwf_tags (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (name, version, key),
        FOREIGN KEY (name, version) REFERENCES mlwf_versions (name, version)
    )""",
    """CREATE TABLE IF NOT EXISTS mlwf_events (
        time TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER,
        action TEXT NOT NULL,
        detail TEXT NOT NULL
    )""",
]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Registry:
    """A model registry in a SQLite file or a PostgreSQL database.

    Parameters
    ----------
    uri
        A file path (``"registry.db"``), ``"sqlite:///path"`` or
        ``"postgresql://user@host/db"`` (needs ``psycopg``).
    timeout
        Seconds a writer waits for the database's write lock before failing.
    create
        Create the SQLite file when it does not exist (else raise :class:`DataError`).

    Examples
    --------
    >>> reg = Registry("registry.db")                       # doctest: +SKIP
    >>> v = reg.register("churn.mlwf", "churn")             # doctest: +SKIP
    >>> reg.set_alias("churn", "champion", v)               # doctest: +SKIP
    >>> model = reg.load("churn@champion")                  # doctest: +SKIP
    """

    def __init__(
        self,
        uri: str | os.PathLike[str] = "registry.db",
        *,
        timeout: float = 60.0,
        create: bool = True,
    ) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ParameterError(
                f"The 'timeout' parameter of Registry must be a positive number. Got {timeout!r} instead."
            )
        self.uri = str(uri)
        self.timeout = float(timeout)
        text = self.uri
        if text.startswith(("postgresql://", "postgres://")):
            self.dialect = "postgresql"
        elif text.startswith("sqlite://"):
            self.dialect = "sqlite"
            text = text[len("sqlite://") :]
            # sqlite:///relative.db and sqlite:////absolute.db, as in SQLAlchemy
            text = text[1:] if text.startswith("/") else text
            self._path = Path(text).expanduser()
        elif "://" in text:
            raise ParameterError(
                "The 'uri' parameter of Registry must be a file path, sqlite:///path or "
                f"postgresql://... Got {self.uri!r} instead."
            )
        else:
            self.dialect = "sqlite"
            self._path = Path(text).expanduser()
        if self.dialect == "sqlite" and not create and not self._path.is_file():
            raise DataError(
                f"The registry {str(self._path)!r} does not exist. Register a model first "
                "(mlwf registry register MODEL NAME) or pass --db."
            )
        if self.dialect == "sqlite" and not self._path.parent.exists():
            raise ParameterError(
                f"The registry directory {str(self._path.parent)!r} does not exist; create it first."
            )
        self._conn: Any = None
        self._pid = -1
        self._lock = threading.RLock()
        with self._transaction(lock=False) as cur:
            blob = "BYTEA" if self.dialect == "postgresql" else "BLOB"
            for statement in _SCHEMA:
                cur.execute(statement.format(blob=blob))

    # ------------------------------------------------------------------ connection
    def _connect(self) -> Any:
        # a connection is never shared across a fork
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        if self.dialect == "sqlite":
            conn = sqlite3.connect(
                self._path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            try:
                conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError:
                # another process is switching the mode right now; it persists in the file
                pass
        else:
            from mlwf_core._compat import import_optional

            psycopg = import_optional("psycopg")
            conn = psycopg.connect(self.uri, autocommit=True)
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.dialect == "postgresql" else statement

    @contextmanager
    def _transaction(self, write: bool = True, lock: bool = True) -> Iterator[Any]:
        # one transaction at a time on the shared connection (a service reloads from threads)
        with self._lock:
            with self._transaction_unlocked(write, lock) as cur:
                yield cur

    @contextmanager
    def _transaction_unlocked(self, write: bool, lock: bool) -> Iterator[Any]:
        conn = self._connect()
        cur = conn.cursor()
        if self.dialect == "sqlite":
            # BEGIN IMMEDIATE takes the write lock up front: no two writers read the
            # same "next version" number
            cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        else:
            cur.execute("BEGIN")
            if write:
                cur.execute(f"SET LOCAL lock_timeout = '{int(self.timeout * 1000)}ms'")
                if lock:
                    cur.execute("LOCK TABLE mlwf_versions IN SHARE ROW EXCLUSIVE MODE")
        try:
            yield _Cursor(cur, self._sql)
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()

    def close(self) -> None:
        """Close the database connection (reopened on next use)."""
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry({self.uri!r})"

    # ------------------------------------------------------------------ writing
    def register(
        self,
        model: Any,
        name: str,
        *,
        tags: Mapping[str, Any] | None = None,
        parent: str | int | None = None,
    ) -> int:
        """Add a model as the next version of ``name``.

        Parameters
        ----------
        model
            A fitted :class:`~mlwf_core.AutoModel` or the path of a ``.mlwf`` artifact.
        name
            Model name: letters, digits, ``_``, ``-``, ``.``.
        tags
            Key -> value labels of this version (values stored as text).
        parent
            The version this one descends from: ``"name@version"``, ``"name@alias"`` or
            a version number of ``name``. Defaults to the parent recorded in the model.

        Returns
        -------
        int
            The version number (1, 2, ...). The same artifact bytes registered again
            under the same name return the existing version; its tags are updated.
        """
        _check_name(name)
        data = _artifact_bytes(model)
        manifest = _manifest_of(data)
        digest = hashlib.sha256(data).hexdigest()
        parent_ref = self._parent_ref(name, parent, manifest)
        lineage = {
            "data_fingerprint": manifest.get("data_fingerprint"),
            "parent": parent_ref,
            "params": [
                {"learner": e.get("learner"), "weight": e.get("weight"), "params": e.get("params")}
                for e in manifest.get("ensemble", [])
            ],
            "metrics": manifest.get("cv_scores", {}),
            "test_metrics": manifest.get("test_scores"),
            "seed": manifest.get("seed"),
            "mlwf_version": manifest.get("mlwf_version"),
            "created": manifest.get("created"),
            "sha256": digest,
        }
        cv_score = manifest.get("cv_score")
        if not isinstance(cv_score, (int, float)) or cv_score != cv_score:
            cv_score = None
        for attempt in range(5):
            try:
                with self._transaction() as cur:
                    cur.execute(
                        "SELECT version FROM mlwf_versions WHERE name = ? AND sha256 = ?",
                        (name, digest),
                    )
                    row = cur.fetchone()
                    if row is not None:
                        version = int(row[0])
                        self._write_tags(cur, name, version, tags)
                        return version
                    cur.execute("SELECT 1 FROM mlwf_blobs WHERE sha256 = ?", (digest,))
                    if cur.fetchone() is None:
                        cur.execute(
                            "INSERT INTO mlwf_blobs (sha256, size, data) VALUES (?, ?, ?)",
                            (digest, len(data), data),
                        )
                    cur.execute(
                        "SELECT COALESCE(MAX(version), 0) FROM mlwf_versions WHERE name = ?",
                        (name,),
                    )
                    version = int(cur.fetchone()[0]) + 1
                    cur.execute(
                        "INSERT INTO mlwf_versions (name, version, sha256, created, task, metric, "
                        "cv_score, data_fingerprint, parent, lineage) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            name,
                            version,
                            digest,
                            _now(),
                            manifest.get("task"),
                            manifest.get("metric"),
                            cv_score,
                            manifest.get("data_fingerprint"),
                            parent_ref,
                            json.dumps(lineage, default=str),
                        ),
                    )
                    self._write_tags(cur, name, version, tags)
                    self._event(
                        cur, name, version, "register", {"sha256": digest, "size": len(data)}
                    )
                    return version
            except Exception as exc:
                # a unique constraint lost to a concurrent writer (PostgreSQL without a
                # table lock): read again and retry
                if not _is_integrity_error(exc) or attempt == 4:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def _parent_ref(
        self, name: str, parent: str | int | None, manifest: Mapping[str, Any]
    ) -> str | None:
        if parent is None:
            recorded = (manifest.get("lineage") or {}).get("parent")
            if isinstance(recorded, Mapping):
                recorded = recorded.get("ref") or recorded.get("version")
            return str(recorded) if recorded else None
        if isinstance(parent, int) and not isinstance(parent, bool):
            parent = f"{name}@{parent}"
        if not isinstance(parent, str):
            raise ParameterError(
                "The 'parent' parameter of Registry.register must be 'name@version', 'name@alias' "
                f"or a version number. Got {parent!r} instead."
            )
        pname, pversion = self.resolve(parent)
        return f"{pname}@{pversion}"

    def _write_tags(
        self, cur: Any, name: str, version: int, tags: Mapping[str, Any] | None
    ) -> None:
        if not tags:
            return
        if not isinstance(tags, Mapping):
            raise ParameterError(
                f"The 'tags' parameter must be a mapping of str to values. Got {type(tags).__name__} instead."
            )
        for key, value in tags.items():
            if not isinstance(key, str) or not key:
                raise ParameterError(f"Tag keys must be non-empty strings. Got {key!r} instead.")
            cur.execute(
                "DELETE FROM mlwf_tags WHERE name = ? AND version = ? AND key = ?",
                (name, version, key),
            )
            cur.execute(
                "INSERT INTO mlwf_tags (name, version, key, value) VALUES (?, ?, ?, ?)",
                (name, version, key, str(value)),
            )

    def _event(self, cur: Any, name: str, version: int | None, action: str, detail: Any) -> None:
        cur.execute(
            "INSERT INTO mlwf_events (time, name, version, action, detail) VALUES (?, ?, ?, ?, ?)",
            (_now(), name, version, action, json.dumps(detail, default=str)),
        )

    def set_alias(self, name: str, alias: str, version: int | str) -> int:
        """Point ``name@alias`` (e.g. ``champion``) at a version; aliases can move.

        Parameters
        ----------
        version
            A version number, or a reference such as ``"challenger"`` / ``"name@challenger"``.

        Returns
        -------
        int
            The version the alias now points at.
        """
        _check_name(name)
        if (
            not isinstance(alias, str)
            or not _ALIAS.match(alias)
            or alias == "latest"
            or alias.isdigit()
        ):
            raise ParameterError(
                "The 'alias' parameter of Registry.set_alias must start with a letter and hold "
                f"letters, digits, '_' or '-' (not 'latest'). Got {alias!r} instead."
            )
        ref = (
            f"{name}@{version}"
            if isinstance(version, int) or "@" not in str(version)
            else str(version)
        )
        vname, number = self.resolve(ref)
        if vname != name:
            raise ParameterError(
                f"An alias of {name!r} must point at a version of {name!r}, not {ref!r}."
            )
        with self._transaction() as cur:
            cur.execute(
                "SELECT version FROM mlwf_aliases WHERE name = ? AND alias = ?", (name, alias)
            )
            row = cur.fetchone()
            cur.execute("DELETE FROM mlwf_aliases WHERE name = ? AND alias = ?", (name, alias))
            cur.execute(
                "INSERT INTO mlwf_aliases (name, alias, version, updated) VALUES (?, ?, ?, ?)",
                (name, alias, number, _now()),
            )
            self._event(
                cur, name, number, "alias", {"alias": alias, "from": int(row[0]) if row else None}
            )
        return number

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias (the version stays)."""
        with self._transaction() as cur:
            cur.execute("DELETE FROM mlwf_aliases WHERE name = ? AND alias = ?", (name, alias))
            self._event(cur, name, None, "delete_alias", {"alias": alias})

    def set_tag(self, ref: str, key: str, value: Any) -> None:
        """Set one tag of a version (tags are labels; the artifact stays immutable)."""
        name, version = self.resolve(ref)
        with self._transaction() as cur:
            self._write_tags(cur, name, version, {key: value})
            self._event(cur, name, version, "tag", {key: str(value)})

    # ------------------------------------------------------------------ reading
    def resolve(self, ref: str) -> tuple[str, int]:
        """``"name@alias"``, ``"name@3"``, ``"name@latest"`` or ``"name"`` -> (name, version).

        Raises
        ------
        DataError
            The name, version or alias is unknown.
        """
        if not isinstance(ref, str) or not ref:
            raise ParameterError(
                f"A model reference must be 'name@alias' or 'name@version'. Got {ref!r} instead."
            )
        name, _, tail = ref.partition("@")
        _check_name(name)
        with self._transaction(write=False) as cur:
            if tail in ("", "latest"):
                cur.execute("SELECT MAX(version) FROM mlwf_versions WHERE name = ?", (name,))
                row = cur.fetchone()
                if row is None or row[0] is None:
                    raise DataError(
                        f"The registry has no model named {name!r}. Known: {self._names(cur)}."
                    )
                return name, int(row[0])
            if tail.isdigit():
                cur.execute(
                    "SELECT version FROM mlwf_versions WHERE name = ? AND version = ?",
                    (name, int(tail)),
                )
                row = cur.fetchone()
                if row is None:
                    raise DataError(
                        f"Model {name!r} has no version {tail} (versions: {self._versions(cur, name)})."
                    )
                return name, int(row[0])
            cur.execute(
                "SELECT version FROM mlwf_aliases WHERE name = ? AND alias = ?", (name, tail)
            )
            row = cur.fetchone()
            if row is None:
                cur.execute("SELECT alias FROM mlwf_aliases WHERE name = ? ORDER BY alias", (name,))
                known = [r[0] for r in cur.fetchall()]
                raise DataError(f"Model {name!r} has no alias {tail!r} (aliases: {known}).")
            return name, int(row[0])

    def _names(self, cur: Any) -> list[str]:
        cur.execute("SELECT DISTINCT name FROM mlwf_versions ORDER BY name")
        return [r[0] for r in cur.fetchall()]

    def _versions(self, cur: Any, name: str) -> list[int]:
        cur.execute("SELECT version FROM mlwf_versions WHERE name = ? ORDER BY version", (name,))
        return [int(r[0]) for r in cur.fetchall()]

    def artifact_bytes(self, ref: str) -> bytes:
        """The artifact of a version, as registered (checked against its sha256)."""
        name, version = self.resolve(ref)
        with self._transaction(write=False) as cur:
            cur.execute(
                "SELECT b.sha256, b.data FROM mlwf_versions v JOIN mlwf_blobs b ON b.sha256 = v.sha256 "
                "WHERE v.name = ? AND v.version = ?",
                (name, version),
            )
            digest, data = cur.fetchone()
        data = bytes(data)
        if hashlib.sha256(data).hexdigest() != digest:
            raise ArtifactError(
                f"{name}@{version} is corrupted in the registry: its sha256 does not match."
            )
        return data

    def fetch(self, ref: str, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the artifact of a version to ``path`` (default: a cache file) and return it."""
        name, version = self.resolve(ref)
        data = self.artifact_bytes(f"{name}@{version}")
        if path is None:
            digest = hashlib.sha256(data).hexdigest()[:16]
            cache = Path(tempfile.gettempdir()) / "mlwf-registry-cache"
            cache.mkdir(exist_ok=True)
            target = cache / f"{name}-{version}-{digest}.mlwf"
            if target.is_file() and target.stat().st_size == len(data):
                return target
        else:
            target = Path(path).expanduser()
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def load(self, ref: str) -> Any:
        """Load a version as an :class:`~mlwf_core.AutoModel` (``"name@champion"``, ``"name@3"``)."""
        from mlwf_core.automl import AutoModel

        return AutoModel.load(self.fetch(ref))

    def load_scorer(self, ref: str, n_threads: int | None = None) -> Any:
        """Load a version as a compiled :class:`~mlwf_core.deploy.Scorer`."""
        from mlwf_core.deploy._scorer import Scorer

        return Scorer.load(self.fetch(ref), n_threads=n_threads)

    def show(self, ref: str) -> dict[str, Any]:
        """Everything known about a version: hash, size, lineage, tags and aliases."""
        name, version = self.resolve(ref)
        with self._transaction(write=False) as cur:
            cur.execute(
                "SELECT v.sha256, v.created, v.task, v.metric, v.cv_score, v.data_fingerprint, "
                "v.parent, v.lineage, b.size FROM mlwf_versions v JOIN mlwf_blobs b ON b.sha256 = v.sha256 "
                "WHERE v.name = ? AND v.version = ?",
                (name, version),
            )
            sha, created, task, metric, cv_score, fingerprint, parent, lineage, size = (
                cur.fetchone()
            )
            cur.execute(
                "SELECT key, value FROM mlwf_tags WHERE name = ? AND version = ? ORDER BY key",
                (name, version),
            )
            tags = {k: v for k, v in cur.fetchall()}
            cur.execute(
                "SELECT alias FROM mlwf_aliases WHERE name = ? AND version = ? ORDER BY alias",
                (name, version),
            )
            aliases = [r[0] for r in cur.fetchall()]
        return {
            "name": name,
            "version": version,
            "ref": f"{name}@{version}",
            "sha256": sha,
            "size": int(size),
            "created": created,
            "task": task,
            "metric": metric,
            "cv_score": cv_score,
            "data_fingerprint": fingerprint,
            "parent": parent,
            "aliases": aliases,
            "tags": tags,
            "lineage": json.loads(lineage),
        }

    def list(self, name: str | None = None) -> list[dict[str, Any]]:
        """Versions (of one model or all), oldest first, with aliases and tags."""
        where, args = ("WHERE v.name = ?", (name,)) if name else ("", ())
        with self._transaction(write=False) as cur:
            cur.execute(
                "SELECT v.name, v.version, v.sha256, v.created, v.task, v.metric, v.cv_score, v.parent "
                f"FROM mlwf_versions v {where} ORDER BY v.name, v.version",
                args,
            )
            rows = cur.fetchall()
            cur.execute("SELECT name, version, alias FROM mlwf_aliases ORDER BY alias")
            aliases: dict[tuple[str, int], list[str]] = {}
            for n, v, a in cur.fetchall():
                aliases.setdefault((n, int(v)), []).append(a)
            cur.execute("SELECT name, version, key, value FROM mlwf_tags ORDER BY key")
            tags: dict[tuple[str, int], dict[str, str]] = {}
            for n, v, k, val in cur.fetchall():
                tags.setdefault((n, int(v)), {})[k] = val
        return [
            {
                "name": n,
                "version": int(v),
                "sha256": sha,
                "created": created,
                "task": task,
                "metric": metric,
                "cv_score": cv,
                "parent": parent,
                "aliases": aliases.get((n, int(v)), []),
                "tags": tags.get((n, int(v)), {}),
            }
            for n, v, sha, created, task, metric, cv, parent in rows
        ]

    def aliases(self, name: str) -> dict[str, int]:
        """Alias -> version of a model."""
        with self._transaction(write=False) as cur:
            cur.execute(
                "SELECT alias, version FROM mlwf_aliases WHERE name = ? ORDER BY alias", (name,)
            )
            return {a: int(v) for a, v in cur.fetchall()}

    def history(self, name: str | None = None) -> list[dict[str, Any]]:
        """The audit trail: registrations, alias moves and tag changes, oldest first."""
        where, args = ("WHERE name = ?", (name,)) if name else ("", ())
        with self._transaction(write=False) as cur:
            cur.execute(
                f"SELECT time, name, version, action, detail FROM mlwf_events {where} ORDER BY time",
                args,
            )
            return [
                {"time": t, "name": n, "version": v, "action": a, "detail": json.loads(d)}
                for t, n, v, a, d in cur.fetchall()
            ]

    def lineage(self, ref: str) -> list[dict[str, Any]]:
        """The chain of versions from ``ref`` back through its parents (``ref`` first)."""
        chain = []
        seen = set()
        current: str | None = ref
        while current and current not in seen:
            seen.add(current)
            try:
                info = self.show(current)
            except DataError:
                break
            chain.append(info)
            current = info["parent"]
        return chain


class _Cursor:
    """A DB-API cursor that writes ``?`` placeholders in the dialect's style."""

    def __init__(self, cur: Any, sql: Any) -> None:
        self._cur = cur
        self._sql = sql

    def execute(self, statement: str, args: tuple[Any, ...] = ()) -> None:
        self._cur.execute(self._sql(statement), args)

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()


def _is_integrity_error(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.IntegrityError) or type(exc).__name__ in (
        "IntegrityError",
        "UniqueViolation",
    )


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ParameterError(
            "A model name must start with a letter or digit and hold letters, digits, '_', '-' "
            f"or '.' (at most 128). Got {name!r} instead."
        )


def _artifact_bytes(model: Any) -> bytes:
    if isinstance(model, (str, os.PathLike)):
        path = Path(model).expanduser()
        if not path.is_file():
            raise ArtifactError(f"Model file {str(path)!r} does not exist.")
        return path.read_bytes()
    if hasattr(model, "save") and hasattr(model, "members_"):
        with tempfile.TemporaryDirectory(prefix="mlwf-register-") as tmp:
            path = model.save(Path(tmp) / "model.mlwf")
            return Path(path).read_bytes()
    raise ParameterError(
        "The 'model' parameter of Registry.register must be a fitted AutoModel or the path of "
        f"a .mlwf artifact. Got {type(model).__name__} instead."
    )


def _manifest_of(data: bytes) -> dict[str, Any]:
    from mlwf_core.deploy._artifact import read_artifact

    # verify the whole artifact (checksums, format) before it becomes a version
    with tempfile.TemporaryDirectory(prefix="mlwf-register-") as tmp:
        path = Path(tmp) / "model.mlwf"
        path.write_bytes(data)
        return read_artifact(path).manifest


# ---------------------------------------------------------------------- CLI
def add_registry_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``mlwf registry list|show|register|alias|load`` to the CLI."""
    parser = subparsers.add_parser("registry", help="list, inspect and promote registered models")
    parser.add_argument(
        "--db",
        default=os.environ.get("MLWF_REGISTRY", "registry.db"),
        help="registry path or URI (default: $MLWF_REGISTRY or registry.db)",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    lst = actions.add_parser("list", help="versions, aliases and scores")
    lst.add_argument("name", nargs="?", default=None)
    show = actions.add_parser("show", help="one version's lineage, tags and hash (JSON)")
    show.add_argument("ref", help="name@version, name@alias or name")
    reg = actions.add_parser("register", help="add a .mlwf artifact as a new version")
    reg.add_argument("model", help=".mlwf artifact")
    reg.add_argument("name")
    reg.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    reg.add_argument("--parent", default=None, help="name@version it descends from")
    reg.add_argument("--alias", default=None, help="also point this alias at the new version")
    alias = actions.add_parser("alias", help="point name@ALIAS at a version")
    alias.add_argument("name")
    alias.add_argument("alias")
    alias.add_argument("version", help="version number or another alias")
    load = actions.add_parser("load", help="write a version's artifact to a file")
    load.add_argument("ref")
    load.add_argument("-o", "--output", required=True, help="destination .mlwf file")
    parser.set_defaults(handler=_cmd_registry)
    return parser


def _cmd_registry(args: argparse.Namespace) -> int:
    registry = Registry(args.db, create=args.action == "register")
    try:
        if args.action == "list":
            rows = registry.list(args.name)
            if not rows:
                print("no registered models")
                return 0
            print(
                f"{'name':<24} {'ver':>4} {'task':<11} {'metric':<9} {'cv_score':>10}  {'aliases':<20} sha256"
            )
            for r in rows:
                score = f"{r['cv_score']:.5g}" if r["cv_score"] is not None else "-"
                print(
                    f"{r['name']:<24} {r['version']:>4} {r['task'] or '-':<11} {r['metric'] or '-':<9} "
                    f"{score:>10}  {','.join(r['aliases']) or '-':<20} {r['sha256'][:12]}"
                )
        elif args.action == "show":
            print(json.dumps(registry.show(args.ref), indent=2, default=str))
        elif args.action == "register":
            tags = {}
            for item in args.tag:
                key, sep, value = item.partition("=")
                if not sep or not key:
                    raise MlwfError(f"--tag must be KEY=VALUE. Got {item!r}.")
                tags[key] = value
            version = registry.register(args.model, args.name, tags=tags, parent=args.parent)
            if args.alias:
                registry.set_alias(args.name, args.alias, version)
            print(f"registered {args.name}@{version}")
        elif args.action == "alias":
            version: int | str = int(args.version) if args.version.isdigit() else args.version
            number = registry.set_alias(args.name, args.alias, version)
            print(f"{args.name}@{args.alias} -> {number}")
        elif args.action == "load":
            path = registry.fetch(args.ref, args.output)
            name, version = registry.resolve(args.ref)
            print(f"wrote {name}@{version} to {path}")
    finally:
        registry.close()
    return 0
