"""hsframe steps its optimizers with torch's fused kernels where they exist (hsframe.device.fused_optimizer)."""
import numpy as np
import pytest
import torch
from rich.console import Console

import hsframe.training
from hsframe.config import TrainConfig
from hsframe.data.patches import PatchSource
from hsframe.device import fused_optimizer
from hsframe.progress import TrainingProgress
from hsframe.training import make_optimizer, train


def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4, 3))


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_every_optimizer_runs_fused_on_the_cpu(name):
    opt = make_optimizer(net(), TrainConfig(optimizer=name))
    assert opt.param_groups[0]["fused"] is True


def test_fused_only_where_torch_has_the_kernels():
    assert fused_optimizer([torch.zeros(2), torch.zeros(3, 3)])
    assert not fused_optimizer([torch.zeros(2, device="meta")])  # no fused kernels: torch's default
    assert not fused_optimizer([torch.zeros(2), torch.zeros(2, device="meta")])  # mixed devices
    assert not fused_optimizer([torch.zeros(2, dtype=torch.long)])


def fit(name: str, fused: bool, monkeypatch) -> torch.Tensor:
    monkeypatch.setattr(hsframe.training, "fused_optimizer", lambda params: fused)
    torch.manual_seed(0)
    feats, targets = torch.randn(3, 12, 12), (np.arange(144) % 3).astype(np.int64)
    model = net()
    cfg = TrainConfig(epochs=3, batch_size=16, optimizer=name, lr=0.01, weight_decay=1e-3, amp=False)
    train(model, PatchSource(feats, 3), targets, np.arange(0, 100), np.arange(100, 144), cfg, torch.device("cpu"),
          torch.Generator().manual_seed(0), TrainingProgress(Console(file=open("/dev/null", "w")), 3, 7))
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_fused_training_gives_the_weights_of_the_default_kernels(name, monkeypatch):
    fused, plain = fit(name, True, monkeypatch), fit(name, False, monkeypatch)
    start = torch.cat([p.detach().flatten() for p in net().parameters()])
    assert (fused - start).abs().max() > 1e-2  # it trained: the weights moved
    torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-6)
