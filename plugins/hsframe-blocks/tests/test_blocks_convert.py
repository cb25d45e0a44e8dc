"""Dense head -> convolutional head: same logits, sliding-window equivalence, and the flatten-order trap."""
import pytest
import torch
import torch.nn as nn

from hsframe_blocks.convert import convert_dense_head, dense_to_conv, fully_convolutional
from hsframe_blocks.networks import BaselineCNN

BANDS, PATCH, K = 3, 16, 4  # feature map 2w x 2 x 2: big enough for the flatten order to matter


def _model(seed: int = 0, width: int = 8) -> BaselineCNN:
    torch.manual_seed(seed)
    return BaselineCNN(bands=BANDS, patch_size=(PATCH, PATCH), num_classes=K, width=width, hidden=32).eval()


def test_converted_model_gives_the_same_logits_on_the_training_size():
    model = _model()
    conv = dense_to_conv(model, (1, BANDS, PATCH, PATCH)).eval()
    assert not any(isinstance(m, nn.Linear) for m in conv.modules())
    first = conv[1][0]
    assert isinstance(first, nn.Conv2d) and first.kernel_size == (2, 2) and first.in_channels == 16
    assert [type(m) for m in conv[1]] == [nn.Conv2d, nn.ReLU, nn.Dropout, nn.Conv2d]
    assert conv[1][3].kernel_size == (1, 1)
    x = torch.randn(32, 1, BANDS, PATCH, PATCH)
    with torch.no_grad():
        dense, maps = model(x), conv(x)
    assert maps.shape == (32, K, 1, 1)
    assert (maps.flatten(1) - dense).abs().max() < 1e-5
    assert torch.equal(maps.flatten(1).argmax(1), dense.argmax(1))


def test_larger_input_gives_a_map_equal_to_the_dense_model_on_each_crop():
    model = _model(seed=1)
    conv = dense_to_conv(model, (1, BANDS, PATCH, PATCH)).eval()
    s = model.output_stride
    x = torch.randn(2, 1, BANDS, PATCH + 3 * s, PATCH + 2 * s)  # 28 x 24
    with torch.no_grad():
        maps = conv(x)
        assert maps.shape == (2, K, 4, 3)
        for i, j in [(0, 0), (0, 2), (1, 1), (3, 0), (3, 2)]:
            crop = x[..., i * s:i * s + PATCH, j * s:j * s + PATCH]
            assert (maps[:, :, i, j] - model(crop)).abs().max() < 1e-5


def _quadrant_task(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Class k = a bright square in quadrant k of the patch (all bands), plus noise: linearly separable."""
    y = torch.arange(n) % K
    x = 0.5 * torch.randn(n, 1, BANDS, PATCH, PATCH, generator=generator)
    for k in range(K):
        r, c = divmod(k, 2)
        x[y == k, :, :, 2 + 8 * r:6 + 8 * r, 2 + 8 * c:6 + 8 * c] += 2.0
    return x, y


def _agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.argmax(1) == b.flatten(1).argmax(1)).float().mean().item()


def test_wrong_flatten_order_scrambles_predictions_silently():
    g = torch.Generator().manual_seed(0)
    model = _model(seed=2)
    x_train, y_train = _quadrant_task(128, g)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(30):  # brief training: well under a second
        loss = nn.functional.cross_entropy(model(x_train), y_train)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x, y = _quadrant_task(400, g)
    shape = (1, BANDS, PATCH, PATCH)
    with torch.no_grad():
        dense = model(x)
        assert (dense.argmax(1) == y).float().mean() > 0.95  # the task is learned
        right = _agreement(dense, dense_to_conv(model, shape, flatten_order="chw")(x))
        # A torch-ordered layer read as if it came from Keras (h, w, C): no error, every shape fits.
        wrong = _agreement(dense, dense_to_conv(model, shape, flatten_order="hwc")(x))

        # The reverse: the same trained layer stored channels-last, as a Keras model would hold it.
        fc = model.head[1]
        c, h, w = model.feature_shape
        keras_head = nn.Sequential(nn.Flatten(), nn.Linear(fc.in_features, fc.out_features), *model.head[2:])
        keras_head[1].weight.data = fc.weight.data.view(-1, c, h, w).permute(0, 2, 3, 1).reshape(fc.out_features, -1)
        keras_head[1].bias.data = fc.bias.data.clone()
        keras_right = _agreement(dense, fully_convolutional(model.features, keras_head, (c, h, w), "hwc")(x))
        keras_naive = _agreement(dense, fully_convolutional(model.features, keras_head, (c, h, w), "chw")(x))
    print(f"agreement with the dense model: chw {right:.3f}, hwc {wrong:.3f}; "
          f"Keras-ordered: hwc {keras_right:.3f}, naive chw {keras_naive:.3f}")
    assert right == 1.0 and keras_right == 1.0
    assert wrong < 0.6 and keras_naive < 0.6  # chance is 0.25


def test_convert_dense_head_keeps_batchnorm_and_copies_weights():
    torch.manual_seed(0)
    head = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))
    head[2].running_mean.uniform_(-1, 1)
    head[2].running_var.uniform_(0.5, 2)
    head.eval()
    conv = convert_dense_head(head, (3, 2, 2)).eval()
    assert isinstance(conv[1], nn.BatchNorm2d)
    x = torch.randn(5, 3, 2, 2)
    with torch.no_grad():
        torch.testing.assert_close(conv(x).flatten(1), head(x), atol=1e-5, rtol=0)
        conv[0].weight.zero_()  # copies, not views: the dense head is untouched
    assert head[1].weight.abs().sum() > 0


@pytest.mark.parametrize("head,shape,error,match", [
    (nn.Sequential(nn.Flatten(), nn.Linear(10, 3)), (3, 2, 2), ValueError, "takes 10 inputs, but feature_shape"),
    (nn.Sequential(nn.Flatten(), nn.Linear(12, 3), nn.Softmax(1)), (3, 2, 2), TypeError, "cannot convert layer #1 \\(Softmax\\)"),
    (nn.Sequential(nn.Flatten(), nn.ReLU()), (3, 2, 2), ValueError, "holds no nn.Linear"),
    (nn.Sequential(nn.Linear(12, 3)), (3, 2), ValueError, r"feature_shape must be \(C, h, w\)"),
])
def test_conversion_errors_say_what_is_expected(head, shape, error, match):
    with pytest.raises(error, match=match):
        convert_dense_head(head, shape)


def test_dense_to_conv_needs_features_and_head():
    with pytest.raises(TypeError, match="expects a model with `features` and `head`"):
        dense_to_conv(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), (4,))
    with pytest.raises(ValueError, match="flatten_order must be 'chw'"):
        convert_dense_head(nn.Linear(12, 3), (3, 2, 2), flatten_order="whc")
