"""The training loop: seeded, device-agnostic, keeping the weights that are best on validation OA.

``cfg`` picks the loss (:mod:`hsframe.losses`), the epoch's sample order (:mod:`hsframe.sampling`), the LR
schedule (:mod:`hsframe.schedules`) and early stopping: with ``train.early_stopping_patience = P`` training
stops after the first epoch that ends ``P`` epochs after the best one (val OA not improved for P epochs).

It can start from a saved :class:`~hsframe.checkpoint.TrainState` and hands one out after every
epoch, so that a run killed after epoch k continues at epoch k + 1 as if it had never stopped.
"""
from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn as nn

from hsframe.checkpoint import TrainState, capture_rng, restore_rng
from hsframe.config import TrainConfig
from hsframe.data.patches import SampleSource
from hsframe.device import autocast, compiled, fused_optimizer
from hsframe.distributed import World
from hsframe.errors import HsframeError
from hsframe.inference import infer_samples
from hsframe.losses import make_loss
from hsframe.progress import TrainingProgress
from hsframe.sampling import make_sampler
from hsframe.schedules import make_schedule

# How often, at most, the host reads the running loss during an epoch (the progress bar's loss, the divergence check).
CHECK_SECONDS = 2.0


class DivergedError(HsframeError):
    """The loss became NaN or Inf: training cannot go on, and its figures would mean nothing."""


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = list(model.parameters())
    fused = fused_optimizer(params) or None  # None: torch picks its default (foreach on CUDA) where fused is out
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay, fused=fused)


@dataclass
class TrainResult:
    best_val_oa: float
    best_epoch: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_epoch: int | None = None  # the epoch early stopping ended training after; None: it ran every epoch


def train(
    model: nn.Module,
    source: SampleSource,
    targets: np.ndarray,
    train_index: np.ndarray,
    val_index: np.ndarray,
    cfg: TrainConfig,
    device: torch.device,
    generator: torch.Generator,
    progress: TrainingProgress,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    eval_batch_size: int = 256,
    start: TrainState | None = None,
    on_checkpoint: Callable[[TrainState], None] | None = None,
    world: World | None = None,
) -> TrainResult:
    """Train in place; on return ``model`` holds the weights of the best validation epoch.

    ``targets``: 0-based class of every sample index (``train_index`` / ``val_index`` pick them).

    With ``cfg.micro_batch_size`` each batch is run in chunks whose losses are weighted by their
    share of the batch, so the accumulated gradient is the batch's mean-loss gradient.

    ``start``: continue after ``start.epoch`` from its weights, optimizer, RNG states and best-so-far
    (the result is the same, bit for bit on the CPU, as never having stopped). After each epoch,
    ``on_checkpoint(state)`` gets the state to save (live tensors: save or copy it there), then
    ``on_epoch(epoch, {"train_loss", "val_oa", "lr"})`` is called (``lr``: the LR the epoch trained at).

    ``world``: a data-parallel group (:mod:`hsframe.distributed`). Every rank draws the same epoch order
    and trains on its share of each global batch of ``cfg.batch_size``, its loss weighted by that share
    times the world size, so the gradient DDP averages is the single process's gradient on the global
    batch; validation is sharded and its correct counts summed. ``model`` stays the plain module.
    """
    world = world or World()
    model.to(device)
    benchmark = torch.backends.cudnn.benchmark
    if device.type == "cuda":  # fixed patch shapes: let cuDNN pick the fastest kernels once (restored on return)
        torch.backends.cudnn.benchmark = True
    try:
        return _train(model, source, targets, train_index, val_index, cfg, device, generator, progress, on_epoch,
                      eval_batch_size, start, on_checkpoint, world)
    finally:
        torch.backends.cudnn.benchmark = benchmark


def _train(model: nn.Module, source: SampleSource, targets: np.ndarray, train_index: np.ndarray, val_index: np.ndarray,
           cfg: TrainConfig, device: torch.device, generator: torch.Generator, progress: TrainingProgress,
           on_epoch: Callable[[int, dict[str, float]], None] | None, eval_batch_size: int, start: TrainState | None,
           on_checkpoint: Callable[[TrainState], None] | None, world: World) -> TrainResult:
    ddp = world.wrap(model, device)  # DDP syncs gradients in backward
    net = compiled(ddp, cfg.compile)  # what the training forward goes through
    optimizer = make_optimizer(model, cfg)
    schedule = make_schedule(optimizer, cfg)
    y_train = targets[train_index]
    loss_fn = make_loss(cfg, y_train, device)
    sampler = make_sampler(cfg)
    patience = cfg.early_stopping_patience
    y_val = targets[val_index]
    best_oa, best_epoch, best_state = -1.0, 0, None
    history: list[dict[str, float]] = []
    first, spent = 1, 0.0
    if start is not None:
        model.load_state_dict(start.model)
        optimizer.load_state_dict(start.optimizer)
        schedule.load_state_dict(start.scheduler)
        restore_rng(generator, start.rng)
        best_oa, best_epoch, best_state = start.best_val_oa, start.best_epoch, start.best_state
        history, first, spent = [dict(h) for h in start.history], start.epoch + 1, start.seconds
    stopped = _stale(first - 1, best_epoch, patience)  # a resumed run that had already stopped early
    began = time.perf_counter()
    with progress:
        if first > 1:
            progress.resumed(first - 1)
        for epoch in range(first, cfg.epochs + 1):
            if stopped:
                break
            model.train()
            losses = EpochLoss(device)
            lr = optimizer.param_groups[0]["lr"]
            order = sampler.epoch_order(y_train, generator)
            micro = cfg.micro_batch_size or cfg.batch_size
            for b, (x, y, whole, scale) in enumerate(_batches(source, train_index[order], y_train[order], cfg.batch_size, world), 1):
                optimizer.zero_grad(set_to_none=True)
                batch_loss = torch.zeros((), device=device)  # summed on the device: no host sync per chunk
                chunks = list(zip(x.split(micro), y.split(micro)))
                for c, (xs, ys) in enumerate(chunks, 1):
                    # DDP averages gradients once per step, in the last chunk's backward
                    sync = contextlib.nullcontext() if c == len(chunks) or not world.parallel else ddp.no_sync()
                    with sync:
                        with autocast(device, cfg.amp):
                            loss = loss_fn(net(xs).float(), ys) * (loss_fn.share(ys, whole) * scale)
                        loss.backward()
                    batch_loss += loss.detach()
                losses.add(b, batch_loss, len(whole))
                optimizer.step()
                progress.batch(epoch, b)
                if losses.due():
                    progress.loss(losses.check(epoch, cfg.lr))
            # Checked before validation and the checkpoint: a diverged epoch is neither validated nor saved.
            # The ranks' mean losses, each divided by the world size, sum to the global batches' mean.
            seen = len(train_index)
            total = losses.check(epoch, cfg.lr) * seen / world.size
            if world.parallel:
                world.share_buffers(model)
                mine = val_index[world.rank::world.size]
                right = float((infer_samples(model, source, mine, eval_batch_size, device, cfg.amp) == targets[mine]).sum())
                total, right = world.sum([total, right], device)
                val_oa = right / max(len(val_index), 1)
            else:
                val_oa = float((infer_samples(model, source, val_index, eval_batch_size, device, cfg.amp) == y_val).mean())
            train_loss = total / max(seen, 1)
            improved = val_oa > best_oa
            if improved:
                best_oa, best_epoch = val_oa, epoch
                best_state = copy.deepcopy(model.state_dict())
            record = {"train_loss": train_loss, "val_oa": val_oa, "lr": lr}
            history.append(record)
            schedule.step(val_oa)
            progress.epoch(epoch, train_loss, val_oa, improved)
            stopped = _stale(epoch, best_epoch, patience)
            if stopped and epoch < cfg.epochs:
                progress.stopped_early(epoch, best_epoch, best_oa)
            if on_checkpoint is not None:  # before on_epoch: a recorded epoch always has its checkpoint
                on_checkpoint(TrainState(epoch, model.state_dict(), optimizer.state_dict(), capture_rng(generator),
                                         best_oa, best_epoch, best_state, history, spent + time.perf_counter() - began,
                                         schedule.state_dict()))
            if on_epoch is not None:
                on_epoch(epoch, record)
    if best_state is not None:
        model.load_state_dict(best_state)
    done = len(history)
    return TrainResult(best_oa, best_epoch, spent + time.perf_counter() - began, history,
                       done if done < cfg.epochs else None)


class EpochLoss:
    """An epoch's training loss, summed on the device and read by the host only now and then.

    Reading a loss (``float(loss)``) waits for the device to finish every queued batch, so reading it
    per batch stalls a GPU. Here each batch's loss stays on the device, with the number of the first
    non-finite one; :meth:`check` reads them in one transfer, at most every :data:`CHECK_SECONDS` (for the
    progress bar) and at the end of the epoch, and raises :class:`DivergedError` naming that batch.
    """

    def __init__(self, device: torch.device) -> None:
        self._sum = torch.zeros((), device=device)
        self._first_bad = torch.zeros((), device=device)  # 0: none yet; batches count from 1
        self._bad_loss = torch.zeros((), device=device)
        self._count = 0
        self._checked = time.perf_counter()

    def add(self, batch: int, loss: torch.Tensor, samples: int) -> None:
        """``loss``: the 0-d mean loss of a batch of ``samples`` samples (on the device)."""
        bad = ~torch.isfinite(loss) & (self._first_bad == 0)
        self._first_bad = torch.where(bad, batch, self._first_bad)
        self._bad_loss = torch.where(bad, loss, self._bad_loss)
        self._sum += loss * samples
        self._count += samples

    def due(self) -> bool:
        return time.perf_counter() - self._checked >= CHECK_SECONDS

    def check(self, epoch: int, lr: float) -> float:
        """The mean loss per sample so far (one host sync); :class:`DivergedError` if a batch's loss was NaN or Inf."""
        self._checked = time.perf_counter()
        total, first_bad, bad_loss = torch.stack([self._sum, self._first_bad, self._bad_loss]).tolist()
        if first_bad:
            raise DivergedError(
                f"the training loss is {bad_loss} at epoch {epoch}, batch {int(first_bad)}: the run stops FAILED. Lower "
                f"train.lr (now {lr:g}), look for NaN or Inf in the input (data.nan_fill), or set train.amp=false")
        return total / max(self._count, 1)


def _batches(source: SampleSource, index: np.ndarray, targets: np.ndarray, batch_size: int,
             world: World) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]]:
    """``(x, y, whole, scale)`` per global batch of ``batch_size``: this rank's samples and targets, the
    global batch's targets, and the factor its loss share is multiplied by.

    A single process trains on the whole batch (scale 1). Rank r of N takes ``batch[r::N]`` and scales
    by N, as DDP divides the summed gradients by N; a rank left without a sample (a last batch smaller
    than N) runs one of the batch's samples with scale 0, so that every rank takes part in the step.
    """
    if not world.parallel:
        for x, y in source.batches(index, targets, batch_size):
            yield x, y, y, 1.0
        return
    for start in range(0, len(index), batch_size):
        idx, ys = index[start:start + batch_size], targets[start:start + batch_size]
        mine, scale = slice(world.rank, None, world.size), float(world.size)
        if len(idx[mine]) == 0:
            mine, scale = slice(0, 1), 0.0
        x, y = next(source.batches(idx[mine], ys[mine], batch_size))
        yield x, y, torch.as_tensor(ys, dtype=torch.long, device=y.device), scale


def _stale(epoch: int, best_epoch: int, patience: int | None) -> bool:
    """Early stopping is due after ``epoch``: val OA last improved at ``best_epoch``, ``patience`` or more epochs ago.

    The counter is ``epoch - best_epoch``, both of which the checkpoint holds: a resumed run counts on exactly."""
    return patience is not None and epoch > 0 and epoch - best_epoch >= patience
