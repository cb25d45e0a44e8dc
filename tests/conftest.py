from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"

# A fast HybridSN configuration for end-to-end tests (smallest sizes the architecture accepts).
FAST = ["--set", "train.epochs=4", "--set", "data.patch_size=9", "--set", "data.pca_components=13",
        "--set", "train.batch_size=32"]


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def runs_of(uri: str) -> list:
    import mlflow

    client = mlflow.MlflowClient(uri)
    exps = client.search_experiments()
    return client.search_runs([e.experiment_id for e in exps]) if exps else []


def make_dist(root: Path, package: str, plugin: str, module_source: str, version: str = "0.1.0") -> None:
    """Write an importable module plus a ``*.dist-info`` with an ``hsframe`` entry point into ``root``.

    That is what pip leaves in site-packages, so ``importlib.metadata`` discovers it exactly as it
    discovers an installed third-party plugin, once ``root`` is on ``sys.path``.
    """
    module = package.replace("-", "_")
    (root / f"{module}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{module}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[hsframe]\n{plugin} = {module}\n")


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    yield root
    for name in [m for m in sys.modules if m.startswith("fake_")]:
        del sys.modules[name]
