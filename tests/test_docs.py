"""docs/plugins.md stays true: its hook reference is generated from hsframe/hookspecs.py, and the
names it promises (commands, metrics, spec fields, environment variables) exist in the code."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from hsframe import EstimatorSpec, InputSpec, ModelSpec
from hsframe.errors import HsframeError
from hsframe.scaffold import (
    DOCS_PATH,
    HOOKS_END,
    HOOKS_START,
    REGENERATE_COMMAND,
    _hookspecs,
    docs_hook_section,
    hook_reference_markdown,
    main,
    write_docs,
)

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "plugins.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_hook_reference_matches_hookspecs(doc):
    assert docs_hook_section(doc) == hook_reference_markdown(), (
        f"docs/plugins.md's hook reference is out of date with hsframe/hookspecs.py; "
        f"regenerate it with `{REGENERATE_COMMAND}` (from the repository root) and commit the result."
    )


def test_generator_covers_every_hook_with_its_signature_and_docstring():
    text = hook_reference_markdown()
    from hsframe import hookspecs

    names = [name for name, _ in _hookspecs()]
    assert names == ["register_models", "register_datasets", "register_splits", "register_formats", "register_metrics",
                     "run_started", "epoch_finished", "run_finished"]
    for name in names:
        func = getattr(hookspecs, name)
        assert f"### `{name}`" in text
        first_line = func.__doc__.strip().splitlines()[0].replace("``", "`")
        assert first_line in text
    # Annotations appear as written, not quoted by inspect.
    assert "def run_started(run_id: str, config: dict[str, Any]) -> None:" in text
    assert "'" not in "".join(line for line in text.splitlines() if line.startswith("def "))


def test_docs_path_is_the_repository_file():
    assert DOCS_PATH == DOC


def test_write_docs_and_check_repair_a_stale_copy(tmp_path, doc):
    stale = tmp_path / "plugins.md"
    stale.write_text(doc.replace("Register model architectures.", "An outdated description."))
    assert main(["--check", str(stale)]) == 1
    assert write_docs(stale) is True
    assert stale.read_text() == doc
    assert main(["--check", str(stale)]) == 0
    assert write_docs(stale) is False  # idempotent


def test_missing_markers_say_how_to_fix(tmp_path):
    broken = tmp_path / "plugins.md"
    broken.write_text("# no markers here\n")
    with pytest.raises(HsframeError, match="hooks:start"):
        write_docs(broken)
    assert main(["--check", str(broken)]) == 2


def test_module_entry_point_checks_the_real_doc():
    out = subprocess.run([sys.executable, "-m", "hsframe.scaffold", "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_markers_appear_once(doc):
    assert doc.count(HOOKS_START) == 1 and doc.count(HOOKS_END) == 1


@pytest.mark.parametrize("text", [
    "hsframe plugin new", "--force", "pip install -e", "pytest", "hsframe plugins --json",
    "hsframe run --model", "--set model_options.", "register_splits", "register_metrics", "register_formats",
    "mlflow ui --backend-store-uri sqlite:///mlflow.db", "Compare",
    "python -m build", "twine upload", "[project.entry-points.hsframe]",
    "HSFRAME_PLUGIN_API", "HSFRAME_STRICT_PLUGINS", "HSFRAME_DISABLE_PLUGINS",
])
def test_guide_covers_every_step(doc, text):
    assert text in doc


def test_metric_names_in_the_guide_are_the_ones_runs_log(doc):
    from hsframe.plugins import get_plugins
    from hsframe.tasks import TASKS

    everything = [m.key for m in get_plugins().metrics.values()]
    sources = "".join((REPO / "hsframe" / f).read_text() for f in ("evaluation.py", "training.py"))
    for metric in ("test_oa", "test_aa", "test_kappa", "test_macro_f1", "test_weighted_f1", "val_oa", "train_loss"):
        assert f"`{metric}" in doc, metric
        assert metric in everything or f'"{metric}' in sources, f"{metric} is documented but no longer logged"
    # every per-class family any task logs, and its mean where it has one
    for task in {t for served in TASKS.values() for t in served}:
        for score in task.class_scores:
            assert f"`{score.family}NN_name`" in doc, score.family
            assert not score.mean or f"`{score.mean_key}`" in doc, score.mean_key


def test_spec_fields_in_the_guide_are_the_real_ones(doc):
    for field in dataclasses.fields(InputSpec):
        assert f"`{field.name}`" in doc, field.name
    for field in dataclasses.fields(ModelSpec):
        assert f"`{field.name}`" in doc, field.name
    for field in set(dataclasses.fields(EstimatorSpec)) - set(dataclasses.fields(ModelSpec)):
        assert f"| `{field.name}` |" in doc, field.name


def test_env_variables_in_the_guide_are_read_by_the_plugin_loader():
    source = (REPO / "hsframe" / "plugins.py").read_text()
    assert "HSFRAME_STRICT_PLUGINS" in source and "HSFRAME_DISABLE_PLUGINS" in source
