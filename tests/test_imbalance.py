"""Imbalance-aware training: class-weighted and focal losses, the balanced sampler, LR schedules, early stopping."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from rich.console import Console

import hsframe
from hsframe import training
from hsframe.checkpoint import TrainState, load_checkpoint, save_checkpoint
from hsframe.config import TrainConfig
from hsframe.data.patches import PatchSource
from hsframe.errors import HsframeError
from hsframe.losses import FocalLoss, WeightedCrossEntropy, class_weights, make_loss
from hsframe.progress import TrainingProgress
from hsframe.sampling import BalancedSampler, UniformSampler
from hsframe.training import train

CPU = torch.device("cpu")
TRAIN, VAL = np.arange(0, 100), np.arange(100, 200)


# --- losses -------------------------------------------------------------------------------------

def test_class_weights_are_inverse_frequencies_with_mean_one():
    w = class_weights(np.array([10, 30, 60, 0]))
    # 1/n = 0.1, 1/30, 1/60 (mean 0.05 over the three present classes); an absent class weighs 0
    np.testing.assert_allclose(w, [2.0, 2 / 3, 1 / 3, 0.0])
    np.testing.assert_allclose(class_weights(np.array([5, 5, 5])), [1.0, 1.0, 1.0])


def test_weighted_cross_entropy_is_torchs_and_takes_the_training_counts():
    logits, y = torch.randn(40, 3, generator=torch.Generator().manual_seed(0)), torch.arange(40) % 3
    w = np.array([2.0, 0.5, 1.0])
    ours = WeightedCrossEntropy(w, CPU)(logits, y)
    assert torch.allclose(ours, torch.nn.CrossEntropyLoss(weight=torch.tensor(w, dtype=torch.float32))(logits, y))
    assert not torch.allclose(ours, F.cross_entropy(logits, y))
    loss = make_loss(TrainConfig(loss="weighted_cross_entropy"), np.array([0] * 60 + [1] * 30 + [2] * 10), CPU)
    np.testing.assert_allclose(loss.weights.numpy(), class_weights(np.array([60, 30, 10])), rtol=1e-6)


def test_focal_with_gamma_0_is_cross_entropy():
    logits, y = torch.randn(50, 4, generator=torch.Generator().manual_seed(1)), torch.arange(50) % 4
    assert torch.allclose(FocalLoss(np.ones(4), CPU, gamma=0)(logits, y), F.cross_entropy(logits, y))
    w = np.array([3.0, 1.0, 0.5, 0.5])
    assert torch.allclose(FocalLoss(w, CPU, gamma=0)(logits, y), WeightedCrossEntropy(w, CPU)(logits, y))
    # gamma > 0 discounts every sample by (1 - p)^gamma < 1
    assert FocalLoss(np.ones(4), CPU, gamma=2)(logits, y) < F.cross_entropy(logits, y)
    assert make_loss(TrainConfig(loss="focal", focal_gamma=0.5), np.arange(8) % 4, CPU).gamma == 0.5


def _problem(imbalanced: bool = True):
    torch.manual_seed(0)
    feats = torch.randn(4, 15, 15, generator=torch.Generator().manual_seed(0))
    i = np.arange(225)
    targets = np.where(i % 10 == 0, 2, np.where(i % 4 == 0, 1, 0)) if imbalanced else i % 3
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 3))
    return PatchSource(feats, 3), targets.astype(np.int64), model


def _fit(epochs: int = 2, keep: dict | None = None, start: TrainState | None = None, save_to: Path | None = None,
         **options) -> tuple[torch.nn.Module, training.TrainResult, str]:
    """Train the small problem; ``keep`` gets every epoch's weights, ``save_to`` / epoch<N>.pt its checkpoints."""
    source, targets, model = _problem()

    def on_epoch(epoch: int, record: dict[str, float]) -> None:
        if keep is not None:
            keep[epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    cfg = TrainConfig(epochs=epochs, batch_size=32, lr=0.1, amp=False, **options)
    out = io.StringIO()
    result = train(model, source, targets, TRAIN, VAL, cfg, CPU, torch.Generator().manual_seed(0),
                   TrainingProgress(Console(file=out, width=200), epochs, 4), on_epoch, start=start,
                   on_checkpoint=(lambda state: save_checkpoint(save_to / f"epoch{state.epoch}.pt", state, "r1")) if save_to else None)
    return model, result, out.getvalue()


def _weights(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("loss", ["weighted_cross_entropy", "focal"])
def test_weighted_losses_micro_batch_to_the_same_update(loss):
    """Chunks are weighted by their share of the batch's class weights, not of its sample count."""
    full = _weights(_fit(loss=loss)[0])
    assert torch.allclose(_weights(_fit(loss=loss, micro_batch_size=5)[0]), full, atol=1e-6)
    assert not torch.allclose(_weights(_fit()[0]), full, atol=1e-4)  # and the weighting changes training


# --- sampler ------------------------------------------------------------------------------------

def test_balanced_sampler_draws_each_class_equally_seeded():
    targets = np.array([0] * 900 + [1] * 90 + [2] * 10)
    order = BalancedSampler().epoch_order(targets, torch.Generator().manual_seed(3))
    assert len(order) == 1000  # the epoch is as long as the training set
    assert sorted(np.bincount(targets[order]).tolist()) == [333, 333, 334]
    assert set(order[targets[order] == 2]) == set(range(990, 1000))  # the rare class repeats all of its samples
    assert len(set(order[targets[order] == 0])) == 333  # the common one shows a subset, each once
    again = BalancedSampler().epoch_order(targets, torch.Generator().manual_seed(3))
    other = BalancedSampler().epoch_order(targets, torch.Generator().manual_seed(4))
    assert np.array_equal(order, again) and not np.array_equal(order, other)


def test_uniform_sampler_draws_what_shuffled_batches_drew():
    """The default keeps the order (and so the results) of runs trained before samplers existed."""
    targets = np.arange(50) % 3
    order = UniformSampler().epoch_order(targets, torch.Generator().manual_seed(5))
    assert np.array_equal(order, torch.randperm(50, generator=torch.Generator().manual_seed(5)).numpy())


class _Counting(PatchSource):
    """Remembers which samples each batch asked for."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.asked: list[int] = []

    def samples(self, flat_index):
        self.asked.extend(torch.as_tensor(flat_index).tolist())
        return super().samples(flat_index)


def test_training_with_the_balanced_sampler_sees_every_class_equally():
    _, targets, model = _problem()
    counting = _Counting(torch.randn(4, 15, 15), 3)
    cfg = TrainConfig(epochs=1, batch_size=32, lr=0.1, amp=False, sampler="balanced")
    train(model, counting, targets, TRAIN, VAL, cfg, CPU, torch.Generator().manual_seed(0),
          TrainingProgress(Console(quiet=True), 1, 4))
    seen = np.bincount(targets[counting.asked[:len(TRAIN)]], minlength=3)  # the rest are the validation batches
    assert np.bincount(targets[TRAIN]).tolist() == [70, 20, 10] and sorted(seen.tolist()) == [33, 33, 34]


# --- schedules and early stopping -----------------------------------------------------------------

def test_cosine_lr_falls_from_lr_to_min_lr_at_the_last_epoch():
    _, result, _ = _fit(epochs=5, scheduler="cosine", min_lr=0.001)
    lrs = [h["lr"] for h in result.history]
    assert lrs[0] == pytest.approx(0.1) and lrs[-1] == pytest.approx(0.001)
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    assert [h["lr"] for h in _fit(epochs=3)[1].history] == [0.1, 0.1, 0.1]  # scheduler none


@pytest.fixture
def scripted_val(monkeypatch):
    """Validation OA follows a script: the first round(oa * 100) of the 100 validation samples are right."""
    def script(*oas: float) -> None:
        it = iter(oas)

        def infer(model, source, index, batch_size, device, amp):
            _, targets, _ = _problem()
            y = targets[index]
            right = round(next(it) * len(y))
            return np.concatenate([y[:right], (y[right:] + 1) % 3])

        monkeypatch.setattr(training, "infer_samples", infer)
    return script


def test_plateau_lowers_the_lr_after_a_flat_val_oa(scripted_val):
    scripted_val(0.5, 0.6, 0.6, 0.6, 0.6, 0.6)
    _, result, _ = _fit(epochs=6, scheduler="plateau", plateau_patience=1, plateau_factor=0.5)
    # epoch 4 is the second without a better val OA (> patience 1): epoch 5 trains at half the LR
    assert [h["lr"] for h in result.history] == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05])


def test_early_stopping_stops_patience_epochs_after_the_best_and_keeps_its_weights(scripted_val):
    weights: dict[int, dict[str, torch.Tensor]] = {}
    scripted_val(0.5, 0.7, 0.6, 0.7, 0.65, 0.9)
    model, result, out = _fit(epochs=6, keep=weights, early_stopping_patience=3)
    assert (result.best_epoch, result.best_val_oa, result.stopped_epoch) == (2, 0.7, 5)
    assert sorted(weights) == [1, 2, 3, 4, 5] and len(result.history) == 5  # epoch 6 (which would have been better) never ran
    assert "early stopping after epoch 5/6: val OA has not improved since epoch 2 (0.7000)" in out
    assert all(torch.equal(v, weights[2][k]) for k, v in model.state_dict().items())  # epoch 2's weights
    assert not all(torch.equal(v, weights[5][k]) for k, v in model.state_dict().items())

    scripted_val(0.5, 0.7, 0.6, 0.7, 0.65, 0.9)
    _, result, out = _fit(epochs=6)  # off by default
    assert (result.best_epoch, result.stopped_epoch, len(result.history)) == (6, None, 6) and "early stopping" not in out


def test_early_stopping_and_plateau_resume_where_they_were(scripted_val, tmp_path):
    options = {"epochs": 6, "early_stopping_patience": 3, "scheduler": "plateau", "plateau_patience": 1, "plateau_factor": 0.5}
    scripted_val(0.5, 0.7, 0.6, 0.7, 0.65, 0.9)
    model, full, _ = _fit(save_to=tmp_path, **options)
    assert full.stopped_epoch == 5 and [h["lr"] for h in full.history] == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05])

    state = load_checkpoint(tmp_path / "epoch3.pt", "r1")  # weights_only: the plateau state loads too
    assert state.scheduler["num_bad_epochs"] == 1 and state.epoch - state.best_epoch == 1
    scripted_val(0.7, 0.65, 0.9)  # epochs 4, 5 and (were it reached) 6
    resumed, part, out = _fit(start=state, **options)
    assert part.history == full.history and part.stopped_epoch == 5 and "early stopping after epoch 5/6" in out
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in resumed.state_dict().items())

    scripted_val()  # resumed after the epoch it stopped at: nothing left to train
    resumed, part, _ = _fit(start=load_checkpoint(tmp_path / "epoch5.pt", "r1"), **options)
    assert part.history == full.history and (part.best_epoch, part.stopped_epoch) == (2, 5)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in resumed.state_dict().items())


# --- config ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, value, message", [
    ("train.loss", "dice", "config key 'train.loss': Input should be 'cross_entropy', 'weighted_cross_entropy' or 'focal' (got 'dice')"),
    ("train.sampler", "oversample", "config key 'train.sampler': Input should be 'uniform' or 'balanced' (got 'oversample')"),
    ("train.scheduler", "step", "config key 'train.scheduler': Input should be 'none', 'cosine' or 'plateau' (got 'step')"),
    ("train.early_stopping_patience", 0, "config key 'train.early_stopping_patience': Input should be greater than or equal to 1"),
])
def test_bad_training_options_are_one_line(key, value, message):
    with pytest.raises(HsframeError) as info:
        hsframe.load_config(sets=[f"{key}={value}"])
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_a_run_records_the_epoch_early_stopping_ended_it():
    """With a learning rate too small to change any prediction, val OA never improves after epoch 1."""
    import hsframe
    from hsframe.recording import MemoryRecorder

    rec = MemoryRecorder()
    cfg = {"model": "hybridsn", "data": {"patch_size": 9, "pca_components": 13}, "eval": {"full_map": False},
           "train": {"epochs": 5, "lr": 1e-12, "early_stopping_patience": 1}}
    summary = hsframe.run(cfg, recorder=rec, quiet=True)
    metrics = rec.runs[summary.run_id].metrics
    assert metrics["stopped_epoch"][-1][1] == 2 and [step for step, _ in metrics["val_oa"]] == [1, 2]
