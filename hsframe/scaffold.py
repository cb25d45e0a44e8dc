"""Scaffold new model plugins (``hsframe plugin new NAME``) and generate the hook reference of docs/plugins.md.

Everything here is standard library plus ``hsframe`` itself: ``hsframe plugin new`` must start fast,
so torch and mlflow are never imported. The generated package's files are kept as string templates
in this module (rather than data files) so they ship with hsframe without any packaging setup.

Regenerate the hook reference in docs/plugins.md after changing hsframe/hookspecs.py::

    python -m hsframe.scaffold --write-docs
"""
from __future__ import annotations

import argparse
import inspect
import keyword
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

from hsframe.errors import HsframeError

# A plugin name: lowercase letters and digits, words joined by single '_' or '-'.
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$")
MAX_NAME_LENGTH = 40

DOCS_PATH = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
HOOKS_START = "<!-- hooks:start -->"
HOOKS_END = "<!-- hooks:end -->"
REGENERATE_COMMAND = "python -m hsframe.scaffold --write-docs"


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PluginNames:
    """Every name derived from the one the user typed."""

    name: str  # model and entry-point name: `hsframe run --model NAME`
    package: str  # distribution name on PyPI: hsframe-NAME
    module: str  # import name: hsframe_NAME
    class_name: str  # the nn.Module class in model.py
    test_file: str  # tests/test_<name>.py, unique per plugin so several plugins' tests can run together


def plugin_names(name: str) -> PluginNames:
    """Validate ``name`` and derive the package, module, class and test-file names from it.

    Raises:
        HsframeError: when the name cannot be a plugin, entry-point and module name.
    """
    if not isinstance(name, str) or not name:
        raise HsframeError("a plugin name is required, e.g. `hsframe plugin new mynet`.")
    if name.startswith("hsframe-") or name.startswith("hsframe_"):
        raise HsframeError(
            f"plugin name '{name}' already starts with 'hsframe': the package is named hsframe-NAME for you. "
            f"Try `hsframe plugin new {name[len('hsframe-'):] or 'mynet'}`."
        )
    if not NAME_RE.match(name):
        suggestion = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-_")
        suggestion = re.sub(r"^[0-9_-]+", "", suggestion)
        hint = f" Did you mean '{suggestion}'?" if suggestion and NAME_RE.match(suggestion) else ""
        raise HsframeError(
            f"invalid plugin name '{name}': use lowercase letters and digits, starting with a letter, "
            f"words joined by single '-' or '_' (e.g. 'mynet', 'spectral-former').{hint}"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise HsframeError(f"plugin name '{name}' is {len(name)} characters long; keep it to {MAX_NAME_LENGTH} or fewer.")
    snake = name.replace("-", "_")
    camel = "".join(part.capitalize() for part in snake.split("_"))
    # "Net" suffix: keeps the class from shadowing hsframe names (name 'input_spec' -> InputSpecNet).
    class_name = camel if camel.endswith("Net") else f"{camel}Net"
    assert class_name.isidentifier() and not keyword.iskeyword(class_name)
    return PluginNames(
        name=name,
        package=f"hsframe-{name}",
        module=f"hsframe_{snake}",
        class_name=class_name,
        test_file=f"tests/test_{snake}.py",
    )


def _name_taken_by(names: PluginNames, target: Path) -> str | None:
    """The installed package that already owns entry point ``names.name``, unless it is this very
    scaffold installed in editable mode from ``target`` (re-scaffolding that with --force is fine).

    Two entry points with the same name would shadow each other, so refuse early. Only metadata is
    read: nothing is imported.
    """
    from hsframe.plugins import BUILTIN_MODULES, ENTRY_POINT_GROUP

    if names.name in BUILTIN_MODULES:
        return "hsframe (built-in)"
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name != names.name:
            continue
        if ep.dist is None:
            return "?"
        if _editable_location(ep.dist) != target.resolve():
            return ep.dist.name
    return None


def _editable_location(dist: metadata.Distribution) -> Path | None:
    """The source folder of an editable (``pip install -e``) install, from PEP 610's direct_url.json."""
    import json
    from urllib.parse import unquote, urlparse

    try:
        info = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        return None
    url = urlparse(info.get("url", ""))
    if url.scheme != "file" or not info.get("dir_info", {}).get("editable"):
        return None
    return Path(unquote(url.path)).resolve()


# --------------------------------------------------------------------------------------------
# Templates. Placeholders are {{name}}, {{package}}, {{module}}, {{class_name}}, {{api}},
# {{hsframe_version}}, {{test_file}}; everything else is copied verbatim.
# --------------------------------------------------------------------------------------------

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{{package}}"
version = "0.1.0"
description = "{{class_name}}: a compact 3-D CNN for hyperspectral patch classification, as an hsframe plugin"
readme = "README.md"
requires-python = ">=3.10"
# Add a license before publishing, e.g.: license = "MIT"
# torch is deliberately unpinned: the environment hsframe runs in decides the torch build (CPU or CUDA).
dependencies = ["hsframe>={{hsframe_version}}", "torch>=2.1"]

[project.optional-dependencies]
test = ["pytest>=8"]

# How hsframe finds the plugin: entry point NAME = "module with the hook implementations".
[project.entry-points.hsframe]
{{name}} = "{{module}}"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

INIT = '''\
"""hsframe plugin '{{name}}': {{class_name}}, a compact 3-D CNN for hyperspectral patches.

hsframe finds this module through the entry point in pyproject.toml
(``[project.entry-points.hsframe] {{name}} = "{{module}}"``) and calls its hooks. Torch is imported
only inside ``build``, so ``hsframe --help`` and ``hsframe plugins`` stay fast however many
plugins are installed.
"""
from __future__ import annotations

from typing import Any, Callable

from hsframe import InputSpec, ModelSpec, hookimpl

# The hsframe plugin API this code was written for; hsframe warns when it speaks another one.
HSFRAME_PLUGIN_API = {{api}}

# Dotted config keys this model prefers. They sit above hsframe's defaults and below --preset,
# the YAML file and --set. Small patches and few epochs keep a CPU run to a minute or two.
DEFAULTS: dict[str, Any] = {
    "data.patch_size": 11,
    "data.pca_components": 15,
    "train.epochs": 10,
    "train.batch_size": 64,
    "train.optimizer": "adam",
    "train.lr": 0.003,
}


def build(spec: InputSpec, width: int = 16, dropout: float = 0.2):
    """Build the network for one input shape.

    Args:
        spec: the shape of one sample, ``(C, D, H, W)``, and the number of classes.
        width: channels of the first convolution block (``--set model_options.width=32``).
        dropout: dropout rate before the classifier (``--set model_options.dropout=0.5``).

    Returns:
        A ``torch.nn.Module`` mapping ``(N, C, D, H, W)`` to ``(N, num_classes)`` logits.
    """
    from {{module}}.model import {{class_name}}  # torch is imported here, when a run builds the model

    return {{class_name}}(in_channels=spec.channels, num_classes=spec.num_classes, width=width, dropout=dropout)


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    """Offer the model to ``hsframe run --model {{name}}``."""
    register(
        ModelSpec(
            name="{{name}}",
            build=build,
            defaults=DEFAULTS,
            data_kinds=("hsi",),
            description="{{class_name}}: two Conv3d blocks, global average pooling, linear classifier",
        )
    )
'''

MODEL = '''\
"""The {{class_name}} network: a small spectral-spatial 3-D CNN that trains in minutes on a CPU."""
from __future__ import annotations

import torch
import torch.nn as nn


class {{class_name}}(nn.Module):
    """Two 3-D convolution blocks, global average pooling and a linear classifier.

    The 3-D kernels look at neighbouring bands and neighbouring pixels together. Padding keeps H and
    W, a spectral stride of 2 in each block quarters D (which keeps it fast on a CPU), and global
    average pooling makes the network accept any patch size and any number of bands (or PCA
    components).

    Args:
        in_channels: C of the input (1 for an hsframe hyperspectral patch).
        num_classes: K, the number of output logits; at least 2.
        width: channels of the first block; the second block has ``2 * width``.
        dropout: dropout rate before the classifier.

    Shapes::

        input    (N, C, D, H, W)
        block 1  (N, width, ceil(D/2), H, W)        Conv3d 7x3x3, spectral stride 2, BatchNorm, ReLU
        block 2  (N, 2*width, ceil(D/4), H, W)      Conv3d 3x3x3, spectral stride 2, BatchNorm, ReLU
        pool     (N, 2*width)                       mean over D, H and W
        output   (N, K) logits                      Dropout, Linear (no softmax: hsframe uses cross-entropy)
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 16, width: int = 16, dropout: float = 0.2) -> None:
        super().__init__()
        in_channels, num_classes, width, dropout = int(in_channels), int(num_classes), int(width), float(dropout)
        if in_channels < 1:
            raise ValueError(f"in_channels must be at least 1; got {in_channels}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2; got {num_classes}")
        if width < 1:
            raise ValueError(f"width must be at least 1 (try --set model_options.width=16); got {width}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1) (try --set model_options.dropout=0.2); got {dropout}")
        self.features = nn.Sequential(
            nn.Conv3d(in_channels, width, kernel_size=(7, 3, 3), stride=(2, 1, 1), padding=(3, 1, 1), bias=False),
            nn.BatchNorm3d(width),
            nn.ReLU(inplace=True),
            nn.Conv3d(width, 2 * width, kernel_size=(3, 3, 3), stride=(2, 1, 1), padding=(1, 1, 1), bias=False),
            nn.BatchNorm3d(2 * width),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, H, W)`` -> ``(N, K)`` logits."""
        features = self.features(x)  # (N, 2*width, ceil(D/4), H, W)
        pooled = features.mean(dim=(2, 3, 4))  # (N, 2*width): global average pooling
        return self.classifier(pooled)
'''

TESTS = '''\
"""Tests of the {{name}} plugin: the model contract, training, and discovery through the entry point.

Run them with `pytest` in the package folder after `pip install -e .`.
"""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import hsframe
from hsframe import InputSpec
from {{module}} import DEFAULTS, HSFRAME_PLUGIN_API, build
from {{module}}.model import {{class_name}}

# The shape of the plugin's default run: one channel, 15 PCA components, 11x11 patches, 16 classes.
SPEC = InputSpec(channels=1, depth=15, height=11, width=11, num_classes=16)


@pytest.mark.parametrize("depth,patch,classes", [(15, 11, 16), (13, 9, 3), (30, 25, 9), (1, 1, 2)])
def test_forward_maps_a_batch_to_logits(depth, patch, classes):
    model = build(InputSpec(1, depth, patch, patch, classes)).eval()
    with torch.no_grad():
        out = model(torch.randn(4, 1, depth, patch, patch))
    assert out.shape == (4, classes)
    assert torch.isfinite(out).all()


def test_one_training_step_updates_every_parameter():
    torch.manual_seed(0)
    model = build(SPEC).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(8, *SPEC.as_tuple())
    y = torch.randint(0, SPEC.num_classes, (8,))
    before = [p.detach().clone() for p in model.parameters()]
    loss = torch.nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    for p, old in zip(model.parameters(), before):
        assert p.grad is not None and torch.isfinite(p.grad).all()
        assert not torch.equal(p.detach(), old)


def test_it_can_fit_a_small_batch():
    # A model that cannot overfit 16 samples has a bug (wrong shapes, detached graph, ...).
    torch.manual_seed(0)
    spec = InputSpec(channels=1, depth=8, height=5, width=5, num_classes=4)  # small: keeps the test fast
    model = build(spec, width=8, dropout=0.0).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(16, *spec.as_tuple())
    y = torch.arange(16) % 4
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_options_reach_the_model():
    model = build(SPEC, width=8, dropout=0.5)
    assert isinstance(model, {{class_name}})
    assert model.classifier[1].in_features == 16
    assert model.classifier[0].p == 0.5


@pytest.mark.parametrize("kwargs,match", [
    ({"num_classes": 1}, "num_classes must be at least 2"),
    ({"width": 0}, "width must be at least 1"),
    ({"dropout": 1.0}, "dropout must be in"),
])
def test_bad_options_say_what_is_expected(kwargs, match):
    # hsframe turns a ValueError from build() into one readable message.
    with pytest.raises(ValueError, match=match):
        {{class_name}}(**kwargs)


def test_defaults_are_dotted_config_keys():
    assert DEFAULTS and all("." in key for key in DEFAULTS)


def test_written_for_this_hsframe_plugin_api():
    assert HSFRAME_PLUGIN_API == hsframe.PLUGIN_API_VERSION


def test_importing_the_plugin_does_not_import_torch():
    # hsframe imports every plugin to list them; torch must wait until build().
    code = "import sys, {{module}}; assert 'torch' not in sys.modules, 'torch imported at module level'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_discovered_through_the_entry_point():
    from hsframe.plugins import load_plugins

    plugins = load_plugins()
    spec = plugins.model("{{name}}")
    assert spec.package == "{{package}}"
    assert spec.plugin == "{{name}}"
    assert spec.build is build
    assert not [p for p in plugins.problems if p.package == "{{package}}"]
'''

README = '''\
# {{package}}

`{{class_name}}`, a compact 3-D CNN for hyperspectral patch classification, as an hsframe
model plugin: `hsframe run --model {{name}}`. Generated by `hsframe plugin new {{name}}`.

Architecture for an `(N, C, D, H, W)` batch and K classes: Conv3d 7x3x3 (`width` channels),
BatchNorm, ReLU -> Conv3d 3x3x3 (`2*width` channels), BatchNorm, ReLU (both with spectral stride 2)
-> global average pooling -> Dropout -> Linear to K logits. Any patch size and band count works.

Options (`--set model_options.NAME=VALUE`): `width` (default 16), `dropout` (default 0.2).
Defaults it declares (dotted config keys): `data.patch_size=11`, `data.pca_components=15`,
`train.epochs=10`, `train.batch_size=64`, `train.optimizer=adam`, `train.lr=0.003`.

## Install

```bash
pip install -e .                 # in this folder; registers the `hsframe` entry point `{{name}}`
```

## Test

```bash
pytest                           # model contract, a training step, discovery through the entry point
```

## List

```bash
hsframe plugins                  # `{{name}}` appears with package {{package}}
hsframe plugins --json           # the same, machine-readable, with load errors if any
```

## Run

```bash
hsframe run --model {{name}}                                    # the defaults above
hsframe run --model {{name}} --set model_options.width=32 --set train.epochs=20
hsframe run --model {{name}} --seeds 0,1,2                      # mean and std over seeds
```

## Compare

```bash
hsframe run --model hybridsn                                   # a baseline on the same split
mlflow ui --backend-store-uri sqlite:///mlflow.db               # then open http://127.0.0.1:5000
```

Select the runs in the experiment `hsframe` and press *Compare*: every model logs the same
metric names (`test_oa`, `test_aa`, `test_kappa`, `test_class_acc/NN_name`, `val_oa` per epoch),
so the runs line up side by side.

## Publish

```bash
python -m pip install build twine
python -m build                  # dist/{{module}}-0.1.0.tar.gz and the wheel
python -m twine upload dist/*    # then anyone can `pip install {{package}}`
```

See hsframe's `docs/plugins.md` for the hook reference and the model contract.
'''

GITIGNORE = '''\
__pycache__/
*.egg-info/
build/
dist/
.pytest_cache/
mlflow.db
mlartifacts/
'''

# Relative path -> template. The test file name depends on the plugin name (see PluginNames).
TEMPLATES: dict[str, str] = {
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    ".gitignore": GITIGNORE,
    "src/{{module}}/__init__.py": INIT,
    "src/{{module}}/model.py": MODEL,
    "{{test_file}}": TESTS,
}


def render(template: str, names: PluginNames) -> str:
    """Fill the ``{{placeholder}}`` slots of one template."""
    from hsframe import PLUGIN_API_VERSION, __version__

    values = {
        "name": names.name,
        "package": names.package,
        "module": names.module,
        "class_name": names.class_name,
        "test_file": names.test_file,
        "api": str(PLUGIN_API_VERSION),
        "hsframe_version": __version__,
    }
    text = template
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    if "{{" in text:  # a typo in a template must not reach a user's package
        raise AssertionError(f"unfilled placeholder in template: {text[text.index('{{'):][:40]}")
    return text


# --------------------------------------------------------------------------------------------
# Writing a package
# --------------------------------------------------------------------------------------------


@dataclass
class ScaffoldResult:
    """What ``scaffold_plugin`` wrote."""

    names: PluginNames
    directory: Path
    files: list[Path] = field(default_factory=list)

    def next_steps(self) -> list[tuple[str, str]]:
        """(command, why) pairs to print after scaffolding."""
        import shlex

        try:  # shorter and copy-pasteable from where the user stands
            shown = self.directory.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            shown = self.directory
        where = shlex.quote(str(shown))
        return [
            (f"pip install -e {where}", "registers the entry point; edit the code in place afterwards"),
            (f"pytest {where}", "the package's own tests: contract, training step, discovery"),
            ("hsframe plugins", f"'{self.names.name}' is listed (add --json for machine-readable output)"),
            (f"hsframe run --model {self.names.name}", "train and evaluate it, recorded in MLflow"),
            ("mlflow ui --backend-store-uri sqlite:///mlflow.db", "compare it with other plugins' runs"),
        ]


def scaffold_plugin(name: str, directory: str | Path | None = None, force: bool = False) -> ScaffoldResult:
    """Write a new plugin package for model ``name`` into ``directory`` (default ``./hsframe-NAME``).

    Args:
        name: model and entry-point name, e.g. ``mynet`` or ``spectral-former``.
        directory: folder to create; it may exist if empty.
        force: write into a non-empty folder, overwriting the generated files (other files are kept).

    Raises:
        HsframeError: bad name, name already used by an installed plugin, a non-empty folder without
            ``force``, or a path that cannot be written.
    """
    names = plugin_names(name)
    target = Path(directory) if directory is not None else Path.cwd() / names.package
    owner = _name_taken_by(names, target)
    if owner is not None:
        raise HsframeError(
            f"the plugin name '{names.name}' is already used by the installed package {owner}; "
            f"choose another name (see `hsframe plugins`)."
        )
    if target.exists() and not target.is_dir():
        raise HsframeError(f"{target} exists and is not a folder; pass another --dir.")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise HsframeError(
            f"{target} is not empty; pass --force to overwrite the generated files there (other files "
            f"are kept), or choose another folder with --dir."
        )
    planned = {render(rel, names): render(template, names) for rel, template in TEMPLATES.items()}
    # Check every path before writing any, so a clash leaves no half-written package behind.
    for rel in planned:
        path = target / rel
        blockers = [path] if path.is_dir() else []
        blockers += [target / p for p in Path(rel).parents if (target / p).exists() and not (target / p).is_dir()]
        if blockers:
            raise HsframeError(f"{blockers[0]} is in the way of the generated file {rel}; move it and try again.")
    result = ScaffoldResult(names=names, directory=target)
    try:
        for rel, text in planned.items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            result.files.append(path)
    except OSError as exc:
        raise HsframeError(f"cannot write the plugin package to {target}: {exc.strerror or exc}; "
                           f"check the folder's permissions or choose another --dir.") from None
    return result


# --------------------------------------------------------------------------------------------
# Hook reference for docs/plugins.md
# --------------------------------------------------------------------------------------------


def _hookspecs() -> list[tuple[str, Callable]]:
    """The hook specifications in hsframe/hookspecs.py, in source order."""
    from hsframe import hookspecs

    marker = f"{hookspecs.hookspec.project_name}_spec"
    return [(n, f) for n, f in vars(hookspecs).items() if inspect.isfunction(f) and hasattr(f, marker)]


def _signature(func: Callable) -> str:
    """``name(arg: type, ...) -> type`` with the annotations as written (they are strings under
    ``from __future__ import annotations``; ``str(signature)`` would quote them)."""
    def ann(a: object) -> str:
        return a if isinstance(a, str) else inspect.formatannotation(a)

    sig = inspect.signature(func)
    params = ", ".join(
        p.name if p.annotation is inspect.Parameter.empty else f"{p.name}: {ann(p.annotation)}"
        for p in sig.parameters.values()
    )
    ret = "" if sig.return_annotation is inspect.Signature.empty else f" -> {ann(sig.return_annotation)}"
    return f"{func.__name__}({params}){ret}"


def hook_reference_markdown() -> str:
    """The hook reference, in Markdown, generated from hsframe/hookspecs.py (signatures and docstrings).

    docs/plugins.md holds this text between the hooks markers; tests/test_docs.py checks that it is
    current.
    """
    from hsframe import hookspecs

    marker = f"{hookspecs.hookspec.project_name}_spec"
    lines = [
        f"<!-- Generated from hsframe/hookspecs.py by `{REGENERATE_COMMAND}`; do not edit by hand. -->",
        "",
        "Every hook takes keyword arguments only; implement any subset of them, decorated with",
        "`@hookimpl` (`from hsframe import hookimpl`), in the module your entry point names.",
        "",
    ]
    for name, func in _hookspecs():
        options = getattr(func, marker) or {}
        flags = [flag for flag in ("firstresult", "historic") if options.get(flag)]
        doc = inspect.cleandoc(func.__doc__ or "(undocumented)").replace("``", "`")
        lines += [f"### `{name}`", "", "```python", "@hookimpl", f"def {_signature(func)}:", "    ...", "```", ""]
        if flags:
            lines += [f"Hook options: {', '.join(flags)}.", ""]
        lines += [doc, ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def docs_hook_section(text: str) -> str:
    """The text between the hooks markers of docs/plugins.md (exclusive, without surrounding newlines)."""
    if HOOKS_START not in text or HOOKS_END not in text:
        raise HsframeError(f"docs/plugins.md lacks the markers {HOOKS_START} and {HOOKS_END}; put them back "
                           f"around the hook reference and run `{REGENERATE_COMMAND}`.")
    start = text.index(HOOKS_START) + len(HOOKS_START)
    end = text.index(HOOKS_END, start)
    return text[start:end].strip("\n") + "\n"


def write_docs(path: Path = DOCS_PATH) -> bool:
    """Replace the hook reference in ``path`` with the current one; True when the file changed."""
    text = path.read_text(encoding="utf-8")
    docs_hook_section(text)  # raises when the markers are missing
    start = text.index(HOOKS_START) + len(HOOKS_START)
    end = text.index(HOOKS_END, start)
    new = text[:start] + "\n" + hook_reference_markdown() + text[end:]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str] | None = None) -> int:
    """``python -m hsframe.scaffold --write-docs | --check [PATH]``."""
    parser = argparse.ArgumentParser(prog="python -m hsframe.scaffold", description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write-docs", action="store_true", help="regenerate the hook reference in docs/plugins.md")
    group.add_argument("--check", action="store_true", help="exit 1 when docs/plugins.md's hook reference is stale")
    group.add_argument("--print-hooks", action="store_true", help="print the generated hook reference")
    parser.add_argument("path", nargs="?", type=Path, default=DOCS_PATH, help=f"default: {DOCS_PATH}")
    args = parser.parse_args(argv)
    if args.print_hooks:
        sys.stdout.write(hook_reference_markdown())
        return 0
    if not args.path.is_file():
        print(f"Error: {args.path} not found; pass the path of docs/plugins.md.", file=sys.stderr)
        return 2
    try:
        if args.write_docs:
            changed = write_docs(args.path)
            print(f"{args.path}: hook reference {'updated' if changed else 'already current'}.")
            return 0
        current = docs_hook_section(args.path.read_text(encoding="utf-8")) == hook_reference_markdown()
    except HsframeError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.path}: hook reference {'is current' if current else f'is stale; run `{REGENERATE_COMMAND}`'}.")
    return 0 if current else 1


if __name__ == "__main__":
    sys.exit(main())
