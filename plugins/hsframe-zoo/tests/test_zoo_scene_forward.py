"""scene_forward (fully convolutional whole-scene inference) equals forward on every pixel's patch."""
import pytest
import torch

import hsframe_zoo
from hsframe import InputSpec
from hsframe.data.patches import PatchSource
from hsframe.inference import has_scene_forward

TOL = 1e-4  # max abs logit difference: the same sums, in another order
WITH_SCENE_FORWARD = ["hu_cnn1d", "hamida_3dcnn", "li_3dcnn", "lee_contextual", "mou_rnn"]


def _at_defaults(model: hsframe_zoo.ZooModel):
    d = model.all_defaults()
    p = d["data.patch_size"]
    options = {k.split(".", 1)[1]: v for k, v in d.items() if k.startswith("model_options.")}
    return model.build(InputSpec(1, d["data.pca_components"] or 200, p, p, 4), **options)


def test_which_models_have_scene_forward():
    have = sorted(name for name, m in hsframe_zoo.MODELS.items() if has_scene_forward(_at_defaults(m)))
    assert have == sorted(WITH_SCENE_FORWARD)  # README's list


@pytest.mark.parametrize("name", WITH_SCENE_FORWARD)
@pytest.mark.parametrize("bands,p,h,w", [(24, 5, 6, 7), (30, 9, 5, 6), (23, 7, 1, 6)])
def test_scene_forward_equals_forward_at_every_pixel(name, bands, p, h, w):
    torch.manual_seed(0)
    model = hsframe_zoo.MODELS[name].build(InputSpec(1, bands, p, p, 5)).eval()
    features = torch.randn(bands, h, w)
    source = PatchSource(features, p, "zero" if min(h, w) <= p // 2 else "reflect")
    with torch.no_grad():
        dense = model(source.patches(torch.arange(h * w)))  # (H*W, K), patch by patch
        scene = model.scene_forward(source.padded[None, None])  # (1, K, H, W)
    assert scene.shape == (1, 5, h, w)
    got = scene[0].permute(1, 2, 0).reshape(h * w, 5)
    assert (got - dense).abs().max().item() <= TOL
