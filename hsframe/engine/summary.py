"""What a run (or a set of repeated runs) gives back: plain data for the CLI, the API and tests."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class RunSummary:
    """One finished run: its id, what ran on what, the resolved config and the test figures.

    ``metrics`` holds ``test_<metric>`` for every registered metric, ``test_class_<score>/NN_name`` per
    class and extras such as ``test_oa_pixel_vote``; ``per_class`` one row per class.
    """

    run_id: str
    model: str
    package: str
    version: str
    dataset: str
    config: dict[str, Any]
    metrics: dict[str, float]
    per_class: list[dict[str, Any]]
    counts: dict[str, int]
    device: str
    seconds: float
    tracking_uri: str
    ui_command: str
    unit: str = "pixels"
    best_epoch: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)


@dataclass
class SeedsSummary:
    """Repeated runs: one child run per seed under a parent run holding mean and sample std."""

    parent_run_id: str
    runs: list[RunSummary]
    mean: dict[str, float]
    std: dict[str, float]

    def to_json(self) -> str:
        return json.dumps({"parent_run_id": self.parent_run_id, "mean": self.mean, "std": self.std,
                           "runs": [asdict(r) for r in self.runs]}, indent=2, default=str)
