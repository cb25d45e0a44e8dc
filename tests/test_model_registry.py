"""The same smoke test for every registered model, whichever plugin ships it (timm-style).

A new plugin is covered as soon as it is installed: no test to write.
"""
import pytest
import torch

from hsframe.config import build_config
from hsframe.engine.fitting import EstimatorFitting, TorchFitting
from hsframe.plugins import load_plugins
from hsframe.registry import DATA_KINDS, InputSpec

PLUGINS = load_plugins()
MODELS = sorted(PLUGINS.models)
# Each kind of model is smoke-tested as it is fitted: torch modules by a gradient step, estimators by fit/predict.
TORCH = [n for n in MODELS if PLUGINS.model(n).fitting() is TorchFitting]
ESTIMATORS = [n for n in MODELS if PLUGINS.model(n).fitting() is EstimatorFitting]


def test_registry_is_not_empty():
    assert "hybridsn" in MODELS
    assert sorted(TORCH + ESTIMATORS) == MODELS, "a model whose fitting no smoke test covers"


@pytest.mark.parametrize("name", TORCH)
def test_registered_model_smoke(name, capsys):
    spec = PLUGINS.model(name)
    assert spec.data_kinds and set(spec.data_kinds) <= set(DATA_KINDS), spec.data_kinds
    cfg = build_config(PLUGINS, name)  # the model's declared defaults, validated like any config
    p = cfg.data.patch_size
    in_spec = InputSpec(channels=1, depth=cfg.data.pca_components or 200, height=p, width=p, num_classes=16)
    torch.manual_seed(0)
    model = spec.build(in_spec, **cfg.model_options)
    x = torch.randn(4, *in_spec.as_tuple())
    y = torch.arange(4)

    model.eval()
    with torch.no_grad():
        assert model(x).shape == (4, 16)

    model.train()
    before = [q.detach().clone() for q in model.parameters()]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(q).all() for q in model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters())), "one step changed no weight"

    n_params = sum(q.numel() for q in model.parameters())
    assert n_params > 0
    with capsys.disabled():
        print(f"\n  {name} ({spec.package}): {n_params:,} parameters for input {in_spec.as_tuple()}")


@pytest.mark.parametrize("name", ESTIMATORS)
def test_registered_estimator_smoke(name):
    """Every combination the run would search builds, fits a tiny labelled set and predicts every class it saw."""
    import numpy as np

    from hsframe.estimator_module import EstimatorModule

    spec = PLUGINS.model(name)
    cfg = build_config(PLUGINS, name)
    p = cfg.data.patch_size
    in_spec = InputSpec(channels=1, depth=cfg.data.pca_components or 20, height=p, width=p, num_classes=4)
    fitting = spec.fitting()(spec, in_spec, cfg.model_options)
    assert fitting.candidates, "no combination to fit"
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 10)
    x = rng.normal(size=(40, int(np.prod(in_spec.as_tuple())))).astype(np.float32) + 3 * y[:, None]  # separable
    for candidate in fitting.candidates:
        estimator = spec.create(in_spec, {**cfg.model_options, **candidate})
        estimator.fit(x, y)
        assert set(np.asarray(estimator.predict(x))) <= set(range(4))
    scores = EstimatorModule(estimator, 4)(torch.as_tensor(x).reshape(40, *in_spec.as_tuple()))
    assert scores.shape == (40, 4) and (scores.argmax(1).numpy() == estimator.predict(x)).all()
