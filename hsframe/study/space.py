"""A sweep's search space: YAML over the config's dotted keys, checked like a config, sampled by Optuna.

    train.lr: {log_float: [1.0e-4, 1.0e-2]}
    data.patch_size: {choice: [9, 15, 25]}
    train.batch_size: {int: [32, 256, 32]}     # low, high, optional step
    train:                                     # nesting works too
      weight_decay: {float: [0.0, 1.0e-3]}

Each kind is one :class:`Kind` in :data:`KINDS`; a new one is one entry there.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from hsframe.config import check_key, read_yaml_mapping
from hsframe.errors import HsframeError


@dataclass(frozen=True)
class Kind:
    """How one kind of dimension is checked and sampled. ``args``: the list given in the YAML."""

    name: str
    description: str
    check: Callable[[str, list[Any]], None]
    suggest: Callable[[Any, str, list[Any]], Any]   # (optuna trial, key, args) -> value


def _range(numeric: type, log: bool) -> Callable[[str, list[Any]], None]:
    def check(key: str, args: list[Any]) -> None:
        what = "int" if numeric is int else "float"
        if len(args) not in (2, 3) or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
            raise HsframeError(f"search space key '{key}': give [low, high] (or [low, high, step]) as numbers, got {args!r}")
        if numeric is int and not all(float(a).is_integer() for a in args):
            raise HsframeError(f"search space key '{key}': an {what} range needs whole numbers, got {args!r}; use float instead")
        low, high = args[0], args[1]
        if low > high:
            raise HsframeError(f"search space key '{key}': low {low} > high {high}; swap them")
        if log and low <= 0:
            raise HsframeError(f"search space key '{key}': a log range needs low > 0, got {low}; use {what} for a linear range")
        if len(args) == 3 and (log or args[2] <= 0):
            raise HsframeError(f"search space key '{key}': "
                               + ("a log range takes no step" if log else f"step must be > 0, got {args[2]}"))
        if not all(math.isfinite(float(a)) for a in args):
            raise HsframeError(f"search space key '{key}': bounds must be finite, got {args!r}")
    return check


def _suggest_float(log: bool) -> Callable[[Any, str, list[Any]], Any]:
    def suggest(trial: Any, key: str, args: list[Any]) -> float:
        step = args[2] if len(args) == 3 else None
        return trial.suggest_float(key, float(args[0]), float(args[1]), log=log, step=step)
    return suggest


def _suggest_int(log: bool) -> Callable[[Any, str, list[Any]], Any]:
    def suggest(trial: Any, key: str, args: list[Any]) -> int:
        step = int(args[2]) if len(args) == 3 else 1
        return trial.suggest_int(key, int(args[0]), int(args[1]), log=log, step=step)
    return suggest


def _check_choice(key: str, args: list[Any]) -> None:
    if not args:
        raise HsframeError(f"search space key '{key}': the choice list is empty; give at least one value")
    if not all(a is None or isinstance(a, (bool, int, float, str)) for a in args):
        raise HsframeError(f"search space key '{key}': choices must be numbers, strings, booleans or null, got {args!r}")
    if len({repr(a) for a in args}) != len(args):
        raise HsframeError(f"search space key '{key}': the choice list {args!r} repeats a value")


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("float", "uniform over [low, high] (optional step)", _range(float, False), _suggest_float(False)),
    Kind("log_float", "log-uniform over [low, high], low > 0", _range(float, True), _suggest_float(True)),
    Kind("int", "integers in [low, high] (optional step)", _range(int, False), _suggest_int(False)),
    Kind("log_int", "integers, log-uniform over [low, high], low > 0", _range(int, True), _suggest_int(True)),
    Kind("choice", "one of the listed values", _check_choice, lambda trial, key, args: trial.suggest_categorical(key, args)),
)}


@dataclass(frozen=True)
class Dimension:
    key: str            # the dotted config key, canonical spelling
    kind: str           # a name in KINDS
    args: tuple[Any, ...]

    def suggest(self, trial: Any) -> Any:
        return KINDS[self.kind].suggest(trial, self.key, list(self.args))

    def extremes(self) -> list[Any]:
        """Values that must all make a valid config: the bounds, or every choice."""
        return list(self.args) if self.kind == "choice" else [self.args[0], self.args[1]]

    def to_yaml(self) -> dict[str, list[Any]]:
        return {self.kind: list(self.args)}


@dataclass(frozen=True)
class SearchSpace:
    dimensions: tuple[Dimension, ...]

    @property
    def keys(self) -> list[str]:
        return [d.key for d in self.dimensions]

    def suggest(self, trial: Any) -> dict[str, Any]:
        """One trial's values, ``{dotted key: value}``."""
        return {d.key: d.suggest(trial) for d in self.dimensions}

    def to_dict(self) -> dict[str, Any]:
        return {d.key: d.to_yaml() for d in self.dimensions}


def parse_space(tree: Mapping[str, Any], source: str = "the search space", splits: Mapping[str, Any] | None = None) -> SearchSpace:
    """The dimensions of ``tree`` (nested or dotted keys, each ending in ``{kind: [args]}``), every key checked."""
    dims: list[Dimension] = []

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for name, value in node.items():
            key = f"{prefix}{name}"
            if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in KINDS:
                kind, args = next(iter(value.items()))
                canonical = check_key(key, source, splits)
                args = list(args) if isinstance(args, (list, tuple)) else [args]
                KINDS[kind].check(canonical, args)
                dims.append(Dimension(canonical, kind, tuple(args)))
            elif isinstance(value, Mapping) and value and not (set(value) & set(KINDS)):
                walk(value, f"{key}.")
            else:
                raise HsframeError(
                    f"search space key '{key}' (from {source}): give one of {', '.join(KINDS)} with a list, "
                    f"e.g. {key}: {{choice: [9, 15]}} or {key}: {{log_float: [1.0e-4, 1.0e-2]}}; got {value!r}")

    walk(tree, "")
    if not dims:
        raise HsframeError(f"{source} is empty: give at least one key, e.g. train.lr: {{log_float: [1.0e-4, 1.0e-2]}}")
    seen = [d.key for d in dims]
    repeated = sorted({k for k in seen if seen.count(k) > 1})
    if repeated:
        raise HsframeError(f"{source} names {', '.join(repeated)} twice (once dotted, once nested?); keep one")
    return SearchSpace(tuple(dims))


def load_space(path: str | Path, splits: Mapping[str, Any] | None = None) -> SearchSpace:
    return parse_space(read_yaml_mapping(path, "search space"), f"search space {path}", splits)
