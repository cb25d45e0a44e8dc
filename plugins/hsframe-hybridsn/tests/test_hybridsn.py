import pytest
import torch

from hsframe import InputSpec
from hsframe_hybridsn import build
from hsframe_hybridsn.model import HybridSN


def test_published_parameter_count():
    model = build(InputSpec(channels=1, depth=30, height=25, width=25, num_classes=16))
    assert sum(p.numel() for p in model.parameters()) == 5_122_176


def test_published_layer_shapes():
    model = HybridSN(bands=30, patch_size=(25, 25), num_classes=16).eval()
    x = torch.randn(2, 1, 30, 25, 25)
    feats = model.conv3d(x)
    assert feats.shape == (2, 32, 18, 19, 19)
    assert model.conv2d[0].in_channels == 576
    assert model.conv2d(feats.reshape(2, 576, 19, 19)).shape == (2, 64, 17, 17)
    assert model(x).shape == (2, 16)


@pytest.mark.parametrize("bands,patch,classes", [(15, 15, 16), (13, 9, 3), (30, 11, 9)])
def test_other_shapes_give_logits(bands, patch, classes):
    model = build(InputSpec(1, bands, patch, patch, classes)).eval()
    assert model(torch.randn(3, 1, bands, patch, patch)).shape == (3, classes)


@pytest.mark.parametrize("kwargs,match", [
    ({"bands": 12}, "at least 13 bands"),
    ({"patch_size": (7, 7)}, "at least 9x9"),
    ({"num_classes": 1}, "at least 2"),
])
def test_bad_shapes_say_what_is_expected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HybridSN(**kwargs)


def test_discovered_through_entry_point():
    from hsframe.plugins import load_plugins

    plugins = load_plugins()
    spec = plugins.model("hybridsn")
    assert spec.package == "hsframe-hybridsn"
    assert spec.plugin == "hybridsn"
