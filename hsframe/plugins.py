"""The one plugin manager: built-ins and entry-point plugins, loaded so that a broken one is survivable.

Third-party packages declare ``[project.entry-points.hsframe] NAME = "module"``. Each entry point is
loaded on its own: one that fails to import (or whose hooks raise) is recorded with its package
name and the error, and everything else still loads. ``HSFRAME_STRICT_PLUGINS=1`` makes any such
problem fatal; ``HSFRAME_DISABLE_PLUGINS=name,...`` skips plugins by entry-point or package name.
"""
from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pluggy

from hsframe import hookspecs
from hsframe.errors import HsframeError
from hsframe.registry import DatasetSpec, ModelSpec

if TYPE_CHECKING:
    from hsframe.data.io.base import FileFormat
    from hsframe.metrics import Metric
    from hsframe.splits.base import SplitMethod

ENTRY_POINT_GROUP = "hsframe"
# Built-in plugins: registered through the same hooks as third-party ones.
BUILTIN_MODULES = {
    "builtin-datasets": "hsframe.data.builtin",
    "dataset-cards": "hsframe.data.catalog",
    "builtin-splits": "hsframe.splits",
    "builtin-formats": "hsframe.data.io",
    "builtin-metrics": "hsframe.metrics",
}


@dataclass
class PluginInfo:
    name: str
    package: str
    version: str
    hooks: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    splits: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)


@dataclass
class PluginProblem:
    plugin: str
    package: str
    message: str

    def __str__(self) -> str:
        return f"plugin '{self.plugin}' (package {self.package}): {self.message}"


@dataclass
class Plugins:
    """Everything the plugins registered, and what went wrong while loading them."""

    manager: pluggy.PluginManager
    info: dict[str, PluginInfo]
    models: dict[str, ModelSpec]
    datasets: dict[str, DatasetSpec]
    problems: list[PluginProblem]
    # (registry, name) -> every item that claimed it, when more than one did
    conflicts: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    splits: dict[str, "SplitMethod"] = field(default_factory=dict)
    formats: dict[str, "FileFormat"] = field(default_factory=dict)
    metrics: dict[str, "Metric"] = field(default_factory=dict)

    def model(self, name: str) -> ModelSpec:
        return self._lookup(name, "models", "model")

    def dataset(self, name: str) -> DatasetSpec:
        return self._lookup(name, "datasets", "dataset")

    def split(self, name: str) -> "SplitMethod":
        return self._lookup(name, "splits", "split method")

    def format(self, name: str) -> "FileFormat":
        return self._lookup(name, "formats", "file format")

    def metric(self, name: str) -> "Metric":
        return self._lookup(name, "metrics", "metric")

    def claimed(self, registry: str, name: str) -> bool:
        """Whether some plugin registered ``name`` in ``registry`` (alone or in a conflict)."""
        return name in getattr(self, registry) or (registry, name) in self.conflicts

    def _lookup(self, name: str, registry: str, what: str, listing: str = "hsframe plugins") -> Any:
        table: dict[str, Any] = getattr(self, registry)
        if (registry, name) in self.conflicts:
            owners = " and ".join(f"package {s.package} (plugin '{s.plugin}')" for s in self.conflicts[registry, name])
            raise HsframeError(
                f"{what} '{name}' is registered by both {owners}; uninstall one, or skip one "
                f"with HSFRAME_DISABLE_PLUGINS=<plugin>."
            )
        if name not in table:
            available = ", ".join(sorted(table)) or "(none)"
            close = difflib.get_close_matches(name, list(table), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise HsframeError(f"unknown {what} '{name}'.{hint} Available: {available} (see `{listing}`).")
        return table[name]


def _env_list(var: str) -> set[str]:
    return {part.strip() for part in os.environ.get(var, "").split(",") if part.strip()}


def _strict() -> bool:
    return os.environ.get("HSFRAME_STRICT_PLUGINS", "").lower() in {"1", "true", "yes"}


def load_plugins(extra: dict[str, Any] | None = None) -> Plugins:
    """Build a fresh plugin manager from built-ins, installed entry points and ``extra``.

    ``extra`` maps plugin names to already-imported modules (or objects) with hook
    implementations; tests and notebooks use it to add a plugin without packaging it.
    """
    from hsframe import PLUGIN_API_VERSION, __version__

    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    disabled = _env_list("HSFRAME_DISABLE_PLUGINS")
    problems: list[PluginProblem] = []
    info: dict[str, PluginInfo] = {}

    def add(name: str, module: Any, package: str, version: str) -> None:
        api = getattr(module, "HSFRAME_PLUGIN_API", PLUGIN_API_VERSION)
        if api != PLUGIN_API_VERSION:
            print(
                f"Warning: plugin '{name}' (package {package}) was written for hsframe plugin API "
                f"{api}; this hsframe speaks API {PLUGIN_API_VERSION}. It may misbehave.",
                file=sys.stderr,
            )
        pm.register(module, name=name)
        hooks = sorted(h.name for h in pm.get_hookcallers(module) or [])
        info[name] = PluginInfo(name=name, package=package, version=version, hooks=hooks)

    import importlib

    for name, module_path in BUILTIN_MODULES.items():
        if name not in disabled:
            add(name, importlib.import_module(module_path), "hsframe", __version__)

    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        package = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        if ep.name in disabled or package in disabled or ep.name in info:
            continue
        try:
            module = ep.load()
            add(ep.name, module, package, version)
        except Exception as exc:  # a broken plugin must not take the others down
            problems.append(PluginProblem(ep.name, package, f"failed to load: {type(exc).__name__}: {exc}"))

    for name, module in (extra or {}).items():
        add(name, module, name, "local")

    tables: dict[str, dict[str, Any]] = {registry: {} for registry in REGISTRIES}
    conflicts: dict[tuple[str, str], list[Any]] = {}
    for registry, (hook, base) in REGISTRIES.items():
        _collect(pm, hook, _import(base), registry, tables[registry], info, problems, conflicts)

    plugins = Plugins(pm, info, tables["models"], tables["datasets"], problems, conflicts,
                      tables["splits"], tables["formats"], tables["metrics"])
    if problems and _strict():
        raise HsframeError(
            "plugin problems (HSFRAME_STRICT_PLUGINS is set):\n" + "\n".join(f"  - {p}" for p in problems)
        )
    return plugins


# Registry -> (its registration hook, the class every registered item is an instance of).
REGISTRIES: dict[str, tuple[str, str]] = {
    "models": ("register_models", "hsframe.registry:ModelSpec"),
    "datasets": ("register_datasets", "hsframe.registry:DatasetSpec"),
    "splits": ("register_splits", "hsframe.splits.base:SplitMethod"),
    "formats": ("register_formats", "hsframe.data.io.base:FileFormat"),
    "metrics": ("register_metrics", "hsframe.metrics:Metric"),
}


def _import(target: str) -> type:
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _collect(
    pm: pluggy.PluginManager,
    hook: str,
    kind: type,
    registry: str,
    table: dict[str, Any],
    info: dict[str, PluginInfo],
    problems: list[PluginProblem],
    conflicts: dict[tuple[str, str], list[Any]],
) -> None:
    """Call one registration hook plugin by plugin, so each item knows who registered it."""
    for impl in getattr(pm.hook, hook).get_hookimpls():
        plugin = info[impl.plugin_name]
        registered: list[Any] = []

        def register(spec: Any) -> None:
            if not isinstance(spec, kind):
                raise TypeError(f"register() takes a {kind.__name__}, got {type(spec).__name__}")
            registered.append(spec)

        try:
            impl.function(register=register)
        except Exception as exc:
            problems.append(PluginProblem(plugin.name, plugin.package, f"{hook} raised {type(exc).__name__}: {exc}"))
            continue
        for spec in registered:
            spec.plugin, spec.package, spec.version = plugin.name, plugin.package, plugin.version
            getattr(plugin, registry).append(spec.name)
            if spec.name in table or (registry, spec.name) in conflicts:
                first = conflicts.setdefault((registry, spec.name), [table.pop(spec.name)] if spec.name in table else [])
                first.append(spec)
                owners = " and ".join(f"{s.package} ('{s.plugin}')" for s in first)
                problems.append(PluginProblem(plugin.name, plugin.package, f"'{spec.name}' is registered by both {owners}"))
            else:
                table[spec.name] = spec


@lru_cache(maxsize=1)
def get_plugins() -> Plugins:
    """The process-wide plugins, loaded once."""
    return load_plugins()
