"""One rule for names that become path components (videos, run ids, cells, config names).

A video name from a meta.json, a ``run_id`` from the command line or a folder name is joined onto
a trusted folder (``pred_dir / video``, ``results/runs/<exp>/<run_id>``); a name like ``..``,
``a/b`` or ``/abs`` would escape it (a zip entry ``../00000.png``, a run written anywhere). Every
such name goes through :func:`check_name` before it is used as a path.
"""

from __future__ import annotations

from harness.errors import ConfigError, MosebenchError

_SEPARATORS = ("/", "\\")


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be one path component, else ``None``."""
    if not isinstance(name, str):
        return f"is a {type(name).__name__}, not a string"
    if not name:
        return "is empty"
    if "\x00" in name:
        return "contains a NUL character"
    if any(sep in name for sep in _SEPARATORS):
        return "contains a path separator"
    if name in (".", ".."):
        return "is a relative path ('.' or '..')"
    return None


def check_name(name: object, *, what: str, fix: str = "rename it",
               error: type[MosebenchError] = ConfigError) -> str:
    """Return ``name`` if it is one plain path component; else raise ``error`` naming ``what``.

    Refused: empty, NUL, ``/`` or ``\\`` (so no absolute paths), ``.`` and ``..``.
    """
    why = name_problem(name)
    if why:
        raise error(f"{what} {name!r} {why}: it becomes a folder name, so it must be one plain name "
                    f"(no '/', '\\', '..', not empty); {fix}")
    return name  # type: ignore[return-value]
