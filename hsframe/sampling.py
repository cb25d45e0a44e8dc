"""Which training samples an epoch visits, in which order (``train.sampler``).

Both samplers draw from the run's generator only, so a seed fixes every epoch's order and a resumed
run (whose checkpoint holds the generator's state) draws the same orders as one never stopped. An epoch
has as many samples as the training set under either sampler.
"""
from __future__ import annotations

import numpy as np
import torch

from hsframe.config import TrainConfig


class UniformSampler:
    """Every training sample once per epoch, shuffled (the order ``SampleSource.batches(shuffle=True)`` draws)."""

    def epoch_order(self, targets: np.ndarray, generator: torch.Generator) -> np.ndarray:
        """Positions into ``targets`` (the training samples' 0-based classes) for one epoch."""
        return torch.randperm(len(targets), generator=generator).numpy()


class BalancedSampler(UniformSampler):
    """Each class present in training equally often per epoch: ``N / K`` draws each (the remainder of
    ``N`` spread over randomly chosen classes). A class goes through a fresh permutation of its samples,
    again as often as its quota needs, so a rare class repeats its samples and a common one shows a
    random subset of them."""

    def epoch_order(self, targets: np.ndarray, generator: torch.Generator) -> np.ndarray:
        targets = np.asarray(targets)
        classes = np.unique(targets)
        n, k = len(targets), len(classes)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        quota = np.full(k, n // k)
        quota[torch.randperm(k, generator=generator)[: n % k].numpy()] += 1
        drawn = []
        for c, q in zip(classes, quota):
            members = np.flatnonzero(targets == c)
            rounds = -(-int(q) // len(members))
            picks = torch.cat([torch.randperm(len(members), generator=generator) for _ in range(rounds)])[:q]
            drawn.append(members[picks.numpy()])
        order = np.concatenate(drawn)
        return order[torch.randperm(n, generator=generator).numpy()]


SAMPLERS: dict[str, type[UniformSampler]] = {"uniform": UniformSampler, "balanced": BalancedSampler}


def make_sampler(cfg: TrainConfig) -> UniformSampler:
    return SAMPLERS[cfg.sampler]()
