"""Generic checks of typed option dataclasses: types from the annotations, ranges declared once.

Every ``Config`` dataclass of a method or setting, and the experiment schema itself, is checked
by the same code before any work: :func:`build` turns a mapping of user values into the dataclass
(type-checking each value against the field's annotation), and :func:`check_ranges` checks the
bounds a field declares with :func:`option`::

    @dataclass(frozen=True)
    class MyConfig:
        iters: int = option(5, ge=1)          # an int >= 1
        preset: str = option("fast", choices=("fast", "slow"))
        band: float = option(0.5, gt=0, le=1)

Errors are :class:`~harness.errors.ConfigError` naming the key (``where.field``), the bad value
and what is expected.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass
from typing import Any

from harness.errors import ConfigError

_META_KEY = "mosebench_bounds"


@dataclass(frozen=True)
class Bounds:
    """A field's allowed values: ``ge <= v``, ``gt < v``, ``v <= le``, ``v < lt``, ``v in choices``
    (``None`` values skip the numeric bounds: they mean "unset" for ``X | None`` fields)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is out of range (a phrase like ``"must be >= 1"``), else ``None``."""
        if value is None:
            return None
        if self.choices is not None and value not in self.choices:
            return "must be one of " + " | ".join(str(c) for c in self.choices)
        for op, bound, ok in (("must be >=", self.ge, lambda v, b: v >= b), ("must be >", self.gt, lambda v, b: v > b),
                              ("must be <=", self.le, lambda v, b: v <= b), ("must be <", self.lt, lambda v, b: v < b)):
            if bound is not None and isinstance(value, (int, float)) and not ok(value, bound):
                return f"{op} {bound:g}"
        return None


def option(default: Any = MISSING, *, default_factory: Any = MISSING, ge: float | None = None,
           gt: float | None = None, le: float | None = None, lt: float | None = None,
           choices: Sequence[Any] | None = None) -> Any:
    """A dataclass field with declared bounds (see the module docstring)."""
    bounds = Bounds(ge, gt, le, lt, tuple(choices) if choices is not None else None)
    return dataclasses.field(default=default, default_factory=default_factory, metadata={_META_KEY: bounds})


def bounds_of(f: dataclasses.Field) -> Bounds | None:
    return f.metadata.get(_META_KEY)


def _hints(schema: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(schema)
    except Exception:  # an annotation that does not resolve: fall back to no type check
        return {}


def _type_name(tp: Any) -> str:
    if tp is Any:
        return "any value"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _type_name(a) for a in typing.get_args(tp))
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (list, tuple, Sequence):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return f"a list of {_type_name(args[0]) if args else 'values'}"
    if origin in (dict, Mapping):
        return "a mapping"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp)))


class _Mismatch(Exception):
    pass


def coerce(value: Any, tp: Any) -> Any:
    """``value`` as type ``tp`` (int -> float and number -> str only); raises :class:`_Mismatch`."""
    if tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:  # exact kinds first, so `int | str` keeps 3 an int
            if a is not type(None):
                try:
                    return coerce(value, a)
                except _Mismatch:
                    continue
        raise _Mismatch
    if origin is typing.Literal:
        if value in typing.get_args(tp):
            return value
        raise _Mismatch
    if origin in (list, tuple, Sequence):
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise _Mismatch
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        items = [coerce(v, args[0]) for v in value] if args else list(value)
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise _Mismatch
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _Mismatch
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # `method.size=2` parses as a number; the choices check names it
        raise _Mismatch
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        if isinstance(value, Mapping):
            return build(tp, value, where="")
        raise _Mismatch
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise _Mismatch
    return value  # an annotation we cannot check (e.g. a Protocol): leave it to the constructor


def _key(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def build(schema: type, values: Mapping[str, Any], *, where: str) -> Any:
    """``schema(**values)`` after checking every value's type and range; unknown keys are errors.

    Args:
        schema: a dataclass type.
        values: user values (e.g. parsed YAML / dotlist), a subset of the fields.
        where: the key prefix users wrote (``"method.flow"``), used in messages.
    Raises:
        ConfigError: naming ``where.key``, the bad value and the expected type or range.
    """
    fields = {f.name: f for f in dataclasses.fields(schema) if f.init}
    hints = _hints(schema)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            import difflib

            close = difflib.get_close_matches(str(key), list(fields), n=1)
            did = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(f"{where or schema.__name__}: unknown option '{key}'; {did}valid: {', '.join(fields)}")
        tp = hints.get(key, Any)
        try:
            kwargs[key] = coerce(value, tp)
        except _Mismatch:
            raise ConfigError(f"{_key(where, key)}: expected {_type_name(tp)}, got {value!r} "
                              f"({type(value).__name__})") from None
        except ConfigError as exc:  # a nested dataclass: prefix its key
            raise ConfigError(f"{_key(where, key)}.{exc}") from None
    for key, value in kwargs.items():  # ranges before construction: messages name the user's key
        b = bounds_of(fields[key])
        why = b.problem(value) if b is not None else None
        if why:
            raise ConfigError(f"{_key(where, key)} {why}, got {value!r}")
    try:
        obj = schema(**kwargs)
    except ConfigError as exc:  # a cross-field check of the schema's own __post_init__
        raise ConfigError(f"{where}: {exc}" if where and not str(exc).startswith(where) else str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where or schema.__name__}: invalid options {dict(values)}: {exc}") from None
    check_ranges(obj, where=where)
    return obj


def check_ranges(obj: Any, *, where: str) -> None:
    """Check every declared :class:`Bounds` of dataclass ``obj``, recursing into nested dataclasses
    and into mappings / lists of them. Raises :class:`ConfigError` naming the first bad key."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = _key(where, f.name)
        b = bounds_of(f)
        if b is not None:
            why = b.problem(value)
            if why:
                raise ConfigError(f"{key} {why}, got {value!r}")
        if dataclasses.is_dataclass(value):
            check_ranges(value, where=key)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                check_ranges(v, where=f"{key}.{k}")
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                check_ranges(v, where=f"{key}[{i}]")
