"""Learning-rate schedules (``train.scheduler``), stepped once after every epoch.

- ``none``: ``train.lr`` throughout.
- ``cosine``: :class:`torch.optim.lr_scheduler.CosineAnnealingLR` with ``T_max = train.epochs - 1``
  and ``eta_min = train.min_lr``: epoch 1 trains at ``train.lr``, and the LR falls along a half cosine
  to ``train.min_lr``, which the last epoch trains at.
- ``plateau``: :class:`torch.optim.lr_scheduler.ReduceLROnPlateau` on the validation OA (mode max):
  the LR is multiplied by ``train.plateau_factor`` once val OA has not improved for
  ``train.plateau_patience`` epochs, down to ``train.min_lr``.

The state (:meth:`state_dict`) goes into the training checkpoint, so a resumed run continues the schedule.
"""
from __future__ import annotations

from typing import Any

import torch

from hsframe.config import TrainConfig


class Schedule:
    """No schedule: the optimizer's LR never changes."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> None:
        self.optimizer = optimizer

    def step(self, val_oa: float) -> None:
        """Called after each epoch with its validation OA."""

    def state_dict(self) -> dict[str, Any] | None:
        return None

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        pass


class CosineSchedule(Schedule):
    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> None:
        super().__init__(optimizer, cfg)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(cfg.epochs - 1, 1), eta_min=cfg.min_lr)

    def step(self, val_oa: float) -> None:
        self.scheduler.step()

    def state_dict(self) -> dict[str, Any] | None:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state is not None:
            self.scheduler.load_state_dict(state)


class PlateauSchedule(CosineSchedule):
    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> None:
        Schedule.__init__(self, optimizer, cfg)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=cfg.plateau_factor, patience=cfg.plateau_patience, min_lr=cfg.min_lr)

    def step(self, val_oa: float) -> None:
        self.scheduler.step(val_oa)


SCHEDULES: dict[str, type[Schedule]] = {"none": Schedule, "cosine": CosineSchedule, "plateau": PlateauSchedule}


def make_schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> Schedule:
    return SCHEDULES[cfg.scheduler](optimizer, cfg)
