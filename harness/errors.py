"""Errors users see. Each names the file / video / key at fault and says what to do.

The CLI turns any :class:`MosebenchError` into a one-paragraph message and exit status 2.
"""

from __future__ import annotations


class MosebenchError(Exception):
    """Base class: a problem with the user's input or environment, not a bug in mosebench."""

    exit_code = 2


class DataError(MosebenchError):
    """A dataset, ground-truth or prediction file is missing, corrupt or inconsistent."""


class ConfigError(MosebenchError):
    """An unknown or invalid configuration key or value."""


class CapabilityError(MosebenchError):
    """A method cannot run the requested setting (checked before any weights load)."""


class MissingDependencyError(MosebenchError):
    """A method's optional package is not installed."""


class UnknownMethodError(MosebenchError):
    """No method is registered under the requested name."""
