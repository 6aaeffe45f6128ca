"""Settings of every tool: one dataclass per tool, one source for its options.

Each field is declared with :func:`option`, which carries the field's help text; the command line is built
from those fields (:func:`add_arguments`) and read back into the dataclass (:func:`from_args`), so a flag's
meaning is written once. Validation lives in ``__post_init__`` and raises :class:`~dcgan.errors.UserError`,
so the Python API refuses a bad value with the same message as the command line. Flags name fields with
dashes (``start_seed`` -> ``--start-seed``); messages name them the same way, since most users meet them there.

This package imports no torch, so ``dcgan --help`` and settings validation stay fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from dcgan.errors import UserError

S = TypeVar("S", bound="Settings")


def option(default: Any, help: str, *, metavar: str | None = None, choices: tuple[str, ...] | None = None,
           flag: str | None = None, parse: Callable[[str], Any] | None = None) -> Any:
    """Declare a settings field with its help text (and, optionally, its flag name, metavar, choices or parser)."""
    meta = {"help": help, "metavar": metavar, "choices": choices, "flag": flag, "parse": parse}
    if isinstance(default, list | dict | set):
        raise TypeError("use a tuple (or None) as the default of a settings field")
    return dataclasses.field(default=default, metadata=meta)


def flag_name(name: str) -> str:
    """Return the command-line spelling of a settings field (``start_seed`` -> ``--start-seed``)."""
    return "--" + name.replace("_", "-")


def check(ok: bool, message: str) -> None:
    """Raise UserError(message) unless ``ok``: the one-line form every settings check takes."""
    if not ok:
        raise UserError(message)


@dataclasses.dataclass(frozen=True)
class Settings:
    """Base of every tool's settings: a frozen dataclass built from keywords, flags or another instance."""

    @classmethod
    def build(cls: type[S], settings: S | None = None, **overrides: Any) -> S:
        """Return ``settings`` (or the defaults) with ``overrides`` applied; unknown names are a clear error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise UserError(f"{cls.__name__} has no setting {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if settings is not None and not isinstance(settings, cls):
            raise UserError(f"expected {cls.__name__}, got {type(settings).__name__}")
        return dataclasses.replace(settings, **overrides) if settings is not None else cls(**overrides)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain JSON-ready data (tuples as lists): what results.json records."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def normalise(self, name: str, value: Any) -> None:
        """Replace a field's value in ``__post_init__`` (the dataclass is frozen once built)."""
        object.__setattr__(self, name, value)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _base_type(annotation: Any) -> tuple[Any, bool]:
    """Return (the non-None type of an annotation, whether None is allowed)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), len(args) < len(typing.get_args(annotation))
    return annotation, False


def _default_text(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def add_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = (), dest_prefix: str = "",
                  suppress: bool = False) -> None:
    """Add one flag per :func:`option` field of the dataclass ``cls`` (help from the field, the default appended).

    ``dest_prefix`` names the destinations (``'train.'`` gives ``train.lr``); with ``suppress`` an unset flag
    stays out of the namespace, so a caller can tell what the user gave (``dcgan train --resume`` needs that).
    """
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or "help" not in f.metadata:
            continue
        meta = f.metadata
        kind, _ = _base_type(hints[f.name])
        help_text = meta["help"].replace("%", "%%")  # argparse formats help with %
        dest = dest_prefix + f.name
        flag = meta["flag"] or flag_name(f.name)
        default = argparse.SUPPRESS if suppress else f.default
        if kind is bool:  # off by default: --name; on by default: --name / --no-name
            action = argparse.BooleanOptionalAction if f.default else "store_true"
            parser.add_argument(flag, dest=dest, action=action, default=default, help=f"{help_text} (default: {'on' if f.default else 'off'})")
            continue
        if f.default is not None and "default:" not in help_text:
            help_text = f"{help_text} (default: {_default_text(f.default)})"
        parse = meta["parse"] or (kind if kind in (int, float) else str)
        metavar = meta["metavar"] or (None if meta["choices"] else f.name.upper())
        parser.add_argument(flag, dest=dest, type=parse, default=default, metavar=metavar, choices=meta["choices"], help=help_text)


def from_args(cls: type[S], args: argparse.Namespace) -> S:
    """Return ``cls`` built from the parsed flags that :func:`add_arguments` added (validation included)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    return cls(**values)
