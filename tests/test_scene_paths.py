"""Every registered patch model serves full-scene maps through an exact ``scene_forward``, or is on
docs/plugins.md's list of models without one (with the reason): a new model is either checked here
pixel by pixel or a visible, documented decision."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from hsframe.config import build_config
from hsframe.inference import has_scene_forward, patch_logits, scene_logits
from hsframe.plugins import load_plugins
from hsframe.registry import InputSpec

PLUGINS = load_plugins()
DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
TOL = 1e-4  # max abs logit difference: the same sums, in another order
CLASSES = 5


def documented_without_scene_path() -> list[str]:
    """Model names in docs/plugins.md's table between the no-scene-path markers."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- no-scene-path:start -->")[1].split("<!-- no-scene-path:end -->")[0]
    return re.findall(r"^\| `([a-z0-9_]+)` \|", block, flags=re.M)


# Torch patch models only: an estimator (spec.fitting().per_layer False) has no layers to slide.
TORCH_MODELS = sorted(name for name, spec in PLUGINS.models.items() if spec.fitting().per_layer)
WITHOUT = documented_without_scene_path()
WITH = [name for name in TORCH_MODELS if name not in WITHOUT]


def _build(name: str, patch_extra: int = 0) -> tuple[nn.Module, int, int]:
    """The model at its declared defaults (patch larger by ``patch_extra``), random BatchNorm statistics, eval mode."""
    cfg = build_config(PLUGINS, name)
    p = cfg.data.patch_size + patch_extra
    bands = cfg.data.pca_components or 30  # raw bands: enough for every spectral kernel (he_m3dcnn takes 23+)
    torch.manual_seed(0)
    model = PLUGINS.model(name).build(InputSpec(channels=1, depth=bands, height=p, width=p, num_classes=CLASSES),
                                      **cfg.model_options)
    for m in model.modules():  # identity statistics would hide a BatchNorm the scene path forgot
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return model.eval(), p, bands


def test_lists_are_well_formed():
    assert WITHOUT == sorted(set(WITHOUT)), "keep docs/plugins.md's no-scene-path table sorted, one row per model"
    assert "hybridsn" in WITH and "svm_rbf" not in TORCH_MODELS


@pytest.mark.parametrize("name", WITH)
@pytest.mark.parametrize("patch_extra", [0, 2])  # the default patch, and one whose poolings round differently
def test_scene_forward_equals_forward_at_every_pixel(name, patch_extra):
    model, p, bands = _build(name, patch_extra)
    assert has_scene_forward(model), (
        f"{name} has no scene_forward: give it an exact one (hsframe.sliding) or add it, with the reason, "
        "to the no-scene-path table in docs/plugins.md")
    h, w = 4, 5
    features = torch.randn(bands, h, w, generator=torch.Generator().manual_seed(1))
    ref = patch_logits(model, features, p, "zero")  # forward on every pixel's patch
    got = scene_logits(model, features, p, "zero", tile=3)  # scene_forward on 4 uneven tiles, stitched
    assert got.shape == (CLASSES, h, w)
    assert (got - ref).abs().max().item() <= TOL


def test_models_without_scene_path_are_the_documented_ones():
    without = [name for name in TORCH_MODELS if not has_scene_forward(_build(name)[0])]
    assert without == [name for name in WITHOUT if name in PLUGINS.models], (
        "docs/plugins.md's no-scene-path table must list exactly the registered models without scene_forward")
