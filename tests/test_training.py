import traceback

import numpy as np
import pytest
import torch
from rich.console import Console

from hsframe.config import TrainConfig
from hsframe.data.patches import PatchSource
from hsframe.device import autocast, select_device
from hsframe.errors import HsframeError
from hsframe.progress import TrainingProgress
from hsframe.training import train


def tiny_problem():
    torch.manual_seed(0)
    feats = torch.randn(4, 12, 12)
    targets = (np.arange(144) % 3).astype(np.int64)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 3 * 3, 3))
    return PatchSource(feats, 3), targets, model


def fit(micro: int | None) -> torch.Tensor:
    source, targets, model = tiny_problem()
    cfg = TrainConfig(epochs=2, batch_size=32, micro_batch_size=micro, lr=0.1, amp=False)
    console = Console(file=open("/dev/null", "w"))
    train(model, source, targets, np.arange(0, 100), np.arange(100, 144), cfg, torch.device("cpu"),
          torch.Generator().manual_seed(0), TrainingProgress(console, 2, 4))
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_micro_batches_give_the_same_update():
    full = fit(None)
    assert torch.allclose(fit(8), full, atol=1e-6)
    assert torch.allclose(fit(5), full, atol=1e-6)  # uneven chunks are weighted by their size
    assert not torch.allclose(fit(None), fit(None) + 1)  # sanity: the comparison can fail


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert select_device("auto").type in {"cpu", "mps"}
        with pytest.raises(HsframeError, match="no CUDA GPU"):
            select_device("cuda")
    with pytest.raises(HsframeError, match="not a device"):
        select_device("tpu9")


def test_bf16_autocast_only_on_cuda():
    import contextlib

    assert isinstance(autocast(torch.device("cpu"), True), contextlib.nullcontext)
    assert isinstance(autocast(torch.device("cuda"), False), contextlib.nullcontext)
    ctx = autocast(torch.device("cuda"), True)
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16


def test_a_non_finite_loss_stops_training_in_its_epoch_naming_epoch_and_batch():
    """A loss that turns NaN (here: from the 5th training batch on) must not train on and finish."""
    from hsframe.training import DivergedError

    class NanFrom(torch.nn.Module):
        def __init__(self, call: int) -> None:
            super().__init__()
            self.call, self.calls = call, 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls += self.training
            return x * float("nan") if self.training and self.calls >= self.call else x

    torch.manual_seed(0)
    source, targets = PatchSource(torch.randn(4, 12, 12), 3), (np.arange(144) % 3).astype(np.int64)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 3 * 3, 3), NanFrom(5))
    saved, epochs = [], []
    cfg = TrainConfig(epochs=3, batch_size=16, lr=0.1, amp=False)  # 9 batches per epoch
    with pytest.raises(DivergedError) as info:
        train(model, source, targets, np.arange(0, 144), np.arange(0, 144), cfg, torch.device("cpu"),
              torch.Generator().manual_seed(0), TrainingProgress(Console(quiet=True), 3, 9),
              on_epoch=lambda e, r: epochs.append(e), on_checkpoint=saved.append)
    assert "the training loss is nan at epoch 1, batch 5" in str(info.value) and "train.lr" in str(info.value)
    assert isinstance(info.value, HsframeError)  # one line and exit 2 from the CLI; the run ends FAILED
    assert saved == [] and epochs == []  # the diverged epoch was neither validated, recorded nor checkpointed


def test_training_reads_the_loss_from_the_device_once_per_epoch_not_per_batch(monkeypatch):
    """A host sync per batch stalls a GPU: the loop must keep losses on the device (the issue's GPU-ready loop)."""
    from torch.overrides import TorchFunctionMode

    import hsframe.training

    monkeypatch.setattr(hsframe.training, "CHECK_SECONDS", 1e9)  # no progress-bar reads during the epoch
    reads: list[str] = []

    class CountReads(TorchFunctionMode):
        """Device-to-host reads made by hsframe's code (the optimizer's CPU-side step counters are not on the device)."""

        def __torch_function__(self, func, types, args=(), kwargs=None):
            if getattr(func, "__name__", "") in {"item", "__float__", "__bool__", "__int__", "tolist", "cpu", "numpy"}:
                callers = [frame.filename for frame in traceback.extract_stack()]
                if not any("torch/optim" in caller for caller in callers):
                    reads.append(func.__name__)
            return func(*args, **(kwargs or {}))

    torch.manual_seed(0)
    source, targets = PatchSource(torch.randn(4, 12, 12), 3), (np.arange(144) % 3).astype(np.int64)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 3 * 3, 3))
    cfg = TrainConfig(epochs=2, batch_size=8, lr=0.1, amp=False)  # 14 training batches per epoch
    with CountReads():
        train(model, source, targets, np.arange(0, 112), np.arange(112, 144), cfg, torch.device("cpu"),
              torch.Generator().manual_seed(0), TrainingProgress(Console(quiet=True), 2, 14))
    assert len(reads) <= 2 * 4, reads  # per epoch: the loss check and the validation pass's result, not one per batch


def test_train_compile_trains_through_torch_compile(monkeypatch):
    """The wiring of train.compile, with torch.compile's eager backend (inductor takes minutes on a small CPU)."""
    import hsframe.device

    monkeypatch.setattr(hsframe.device, "COMPILE_BACKEND", "eager")
    seen = []
    real = torch.compile
    monkeypatch.setattr(torch, "compile", lambda m, **kw: seen.append(kw) or real(m, **kw))
    torch.manual_seed(0)
    source, targets = PatchSource(torch.randn(4, 8, 8), 3), (np.arange(64) % 2).astype(np.int64)
    results = []
    for flag in (False, True):
        torch.manual_seed(1)
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 3 * 3, 2))
        cfg = TrainConfig(epochs=2, batch_size=16, lr=0.1, amp=False, compile=flag)
        train(model, source, targets, np.arange(48), np.arange(48, 64), cfg, torch.device("cpu"), torch.Generator().manual_seed(0),
              TrainingProgress(Console(quiet=True), 2, 3))
        results.append([p.detach().clone() for p in model.parameters()])
    assert seen == [{"backend": "eager"}]  # only the compiled run went through torch.compile
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*results))  # and trained the same module's weights


def test_train_compile_is_refused_where_nothing_can_compile(monkeypatch):
    import shutil

    from hsframe.device import check_compiler

    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(HsframeError, match=r"train.compile needs a C\+\+ compiler .* set train.compile=false"):
        check_compiler(torch.device("cpu"))
    with pytest.raises(HsframeError, match="inductor support for mps"):
        check_compiler(torch.device("mps"))
