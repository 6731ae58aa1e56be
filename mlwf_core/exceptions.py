"""Exceptions raised by mlwf.

Every error raised on purpose derives from :class:`MlwfError`, so a caller can
catch mlwf's own failures without catching programming errors.
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "DataError",
    "MlwfError",
    "MlwfWarning",
    "NotFittedError",
    "ParameterError",
    "SchemaError",
]


class MlwfError(Exception):
    """Base class of every error mlwf raises on purpose."""


class ParameterError(MlwfError, ValueError):
    """A public function got an argument outside its documented domain."""


class DataError(MlwfError, ValueError):
    """The input data cannot be used as given (missing file, empty table, bad target...)."""


class SchemaError(DataError):
    """Prediction data does not match the columns or types the model was trained on."""


class NotFittedError(MlwfError, AttributeError):
    """A model was used before ``fit`` was called."""


class ArtifactError(MlwfError, OSError):
    """A ``.mlwf`` artifact is missing, corrupted, truncated or of an unknown version."""


class MlwfWarning(UserWarning):
    """Something in the data was changed or ignored; the message says what."""
