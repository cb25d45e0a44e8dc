"""The one plugin manager: built-ins and entry-point plugins, loaded so that a broken one is survivable.

Third-party packages declare ``[project.entry-points.hsframe] NAME = "module"``. Each entry point is
loaded on its own: one that fails to import, or whose hooks raise (any exception, ``sys.exit()`` included;
only Ctrl-C goes through), is recorded with its package name and the error, and everything else still
loads. A name two packages claim is never silently given to one of them: an entry-point name declared
by two distributions loads neither, and a model / dataset / split / format / metric name registered by
two plugins is refused (a built-in of the core's own stays); either way the error names both
distributions and how to remove one.
``HSFRAME_STRICT_PLUGINS=1`` makes any such problem fatal; ``HSFRAME_DISABLE_PLUGINS=name,...`` skips
plugins by entry-point or package name.
"""
from __future__ import annotations

import difflib
import os
import re
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
# Distributions that ship with hsframe (the core and its repository's plugins/). When one of them and
# another package claim the same name, the other package is the one named as the one to remove.
FIRST_PARTY = frozenset({"hsframe", "hsframe-hybridsn", "hsframe-blocks", "hsframe-volumetric", "hsframe-zoo"})


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
    # entry-point name declared by several distributions -> why none of them was loaded
    refused: dict[str, str] = field(default_factory=dict)
    splits: dict[str, "SplitMethod"] = field(default_factory=dict)
    formats: dict[str, "FileFormat"] = field(default_factory=dict)
    metrics: dict[str, "Metric"] = field(default_factory=dict)

    def model(self, name: str) -> ModelSpec:
        return self._lookup(name, "models")

    def dataset(self, name: str) -> DatasetSpec:
        return self._lookup(name, "datasets")

    def split(self, name: str) -> "SplitMethod":
        return self._lookup(name, "splits")

    def format(self, name: str) -> "FileFormat":
        return self._lookup(name, "formats")

    def metric(self, name: str) -> "Metric":
        return self._lookup(name, "metrics")

    def claimed(self, registry: str, name: str) -> bool:
        """Whether some plugin registered ``name`` in ``registry`` (alone, in a conflict, or as a refused plugin)."""
        return name in getattr(self, registry) or (registry, name) in self.conflicts or name in self.refused

    def _lookup(self, name: str, registry: str, listing: str = "hsframe plugins") -> Any:
        table: dict[str, Any] = getattr(self, registry)
        what = REGISTRIES[registry].noun
        if (registry, name) in self.conflicts:
            raise HsframeError(_collision(what, name, self.conflicts[registry, name]))
        if name not in table:
            if name in self.refused:  # e.g. model 'hybridsn' of the plugin 'hybridsn' that two packages declare
                raise HsframeError(f"{what} '{name}' is unavailable: {self.refused[name]}")
            available = ", ".join(sorted(table)) or "(none)"
            close = difflib.get_close_matches(name, list(table), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            failed = f" {len(self.problems)} plugin problem(s) are listed by `hsframe plugins`." if self.problems else ""
            raise HsframeError(f"unknown {what} '{name}'.{hint} Available: {available} (see `{listing}`).{failed}")
        return table[name]


@dataclass(frozen=True)
class Owner:
    """Who claims a name: plugin (entry-point) name, distribution and its version."""

    plugin: str
    package: str
    version: str


def _canonical(package: str) -> str:
    return re.sub(r"[-_.]+", "-", package).lower()


def _suspects(owners: list[Any]) -> list[Any]:
    """The owners to suggest removing: those not shipped with hsframe (all of them when every one is)."""
    third_party = [o for o in owners if _canonical(o.package) not in FIRST_PARTY]
    return third_party or [o for o in owners if _canonical(o.package) != "hsframe"] or owners


def _collision(what: str, name: str, owners: list[Any], claim: str = "registered", outcome: str = "it is not used") -> str:
    """One line: who claims ``name`` and how to keep only one of them (by distribution name)."""
    suspects = _suspects(owners)
    owners = sorted(owners, key=lambda o: o in suspects)  # the legitimate one first, the one to remove after
    packages = list(dict.fromkeys(f"{o.package} {o.version}" for o in owners))
    if len(packages) > 1:
        who = f"both {' and '.join(packages)}" if len(packages) == 2 else ", ".join(packages)
    else:
        who = f"{packages[0]} more than once (plugins {', '.join(repr(o.plugin) for o in owners)})"
    removable = list(dict.fromkeys(o.package for o in suspects))
    uninstall = " or ".join(f"pip uninstall {p}" for p in removable)
    disable = " or ".join(f"HSFRAME_DISABLE_PLUGINS={p}" for p in removable)
    return f"{what} '{name}' is {claim} by {who}; {outcome}. Uninstall one ({uninstall}) or disable it with {disable}."


def _failure(exc: BaseException) -> str:
    """``SystemExit: 3`` or ``ImportError: no module named x``; says so when a plugin called sys.exit()."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text + (" (the plugin called sys.exit())" if isinstance(exc, SystemExit) else "")


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

    # Entry points by name: a name that two distributions declare is refused, whichever sorts first.
    declared: dict[str, list[tuple[metadata.EntryPoint, Owner]]] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        owner = Owner(ep.name, ep.dist.name if ep.dist else "?", ep.dist.version if ep.dist else "?")
        if ep.name in disabled or owner.package in disabled or _canonical(owner.package) in disabled:
            continue
        declared.setdefault(ep.name, []).append((ep, owner))
    refused: dict[str, str] = {}
    for name in sorted(declared):
        claims = declared[name]
        owners = [owner for _, owner in claims]
        declared_by = "declared (entry point group 'hsframe')"
        if name in info:  # a built-in's name: hsframe's own stays, the package's plugin is not loaded
            owners.insert(0, Owner(name, "hsframe", __version__))
            problems.append(PluginProblem(name, owners[1].package, _collision(
                "plugin", name, owners, declared_by, "hsframe's built-in is kept, the other is not loaded")))
            continue
        if len(owners) > 1:
            refused[name] = _collision("plugin", name, owners, declared_by, "none of them is loaded")
            problems.append(PluginProblem(name, _suspects(owners)[0].package, refused[name]))
            continue
        [(ep, owner)] = claims
        try:
            add(name, ep.load(), owner.package, owner.version)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit and the like too: a hostile plugin must not take the others down
            if pm.get_plugin(name) is not None:  # registered, then failed: keep none of it
                pm.unregister(name=name)
            info.pop(name, None)
            problems.append(PluginProblem(name, owner.package, f"failed to load: {_failure(exc)}"))

    for name, module in (extra or {}).items():
        add(name, module, name, "local")

    tables: dict[str, dict[str, Any]] = {registry: {} for registry in REGISTRIES}
    conflicts: dict[tuple[str, str], list[Any]] = {}
    for registry, kind in REGISTRIES.items():
        _collect(pm, kind, registry, tables[registry], info, problems, conflicts)

    plugins = Plugins(pm, info, tables["models"], tables["datasets"], problems, conflicts, refused,
                      tables["splits"], tables["formats"], tables["metrics"])
    if problems and _strict():
        raise HsframeError(
            "plugin problems (HSFRAME_STRICT_PLUGINS is set):\n" + "\n".join(f"  - {p}" for p in problems)
        )
    return plugins


@dataclass(frozen=True)
class Registry:
    """One kind of registered item: its registration hook, the class every item is an instance of
    (``module:Class``, imported when the plugins load) and what messages call one item."""

    hook: str
    base: str
    noun: str


REGISTRIES: dict[str, Registry] = {
    "models": Registry("register_models", "hsframe.registry:ModelSpec", "model"),
    "datasets": Registry("register_datasets", "hsframe.registry:DatasetSpec", "dataset"),
    "splits": Registry("register_splits", "hsframe.splits.base:SplitMethod", "split method"),
    "formats": Registry("register_formats", "hsframe.data.io.base:FileFormat", "file format"),
    "metrics": Registry("register_metrics", "hsframe.metrics:Metric", "metric"),
}


def _import(target: str) -> type:
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _collect(
    pm: pluggy.PluginManager,
    what: Registry,
    registry: str,
    table: dict[str, Any],
    info: dict[str, PluginInfo],
    problems: list[PluginProblem],
    conflicts: dict[tuple[str, str], list[Any]],
) -> None:
    """Call one registration hook plugin by plugin, so each item knows who registered it.

    A name claimed more than once goes to ``conflicts`` instead of ``table``: no claimant wins, except the
    core's own built-in, which a plugin can never replace (the clash is still listed as a problem).
    """
    hook, kind = what.hook, _import(what.base)
    claims: dict[str, list[Any]] = {}
    for impl in getattr(pm.hook, hook).get_hookimpls():
        plugin = info[impl.plugin_name]
        registered: list[Any] = []

        def register(spec: Any) -> None:
            if not isinstance(spec, kind):
                raise TypeError(f"register() takes a {kind.__name__}, got {type(spec).__name__}")
            registered.append(spec)

        try:
            impl.function(register=register)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit included: the other plugins' registrations go on
            problems.append(PluginProblem(plugin.name, plugin.package, f"{hook} raised {_failure(exc)}"))
            continue
        for spec in registered:
            spec.plugin, spec.package, spec.version = plugin.name, plugin.package, plugin.version
            getattr(plugin, registry).append(spec.name)
            claims.setdefault(spec.name, []).append(spec)
    for name, specs in claims.items():
        if len(specs) == 1:
            table[name] = specs[0]
            continue
        suspect = _suspects(specs)[0]  # the problem is listed under the package to remove, not the legitimate one
        core = [spec for spec in specs if spec.package == "hsframe"]
        if len(core) == 1:  # the core's own (metric 'oa', split 'random') stays: one stray package must not disable it
            table[name] = core[0]
            problems.append(PluginProblem(suspect.plugin, suspect.package,
                                          _collision(what.noun, name, specs, outcome="hsframe's own is used")))
            continue
        conflicts[registry, name] = specs
        problems.append(PluginProblem(suspect.plugin, suspect.package, _collision(what.noun, name, specs)))


@lru_cache(maxsize=1)
def get_plugins() -> Plugins:
    """The process-wide plugins, loaded once."""
    return load_plugins()
