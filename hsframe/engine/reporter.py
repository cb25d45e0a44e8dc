"""What a run tells the person at the terminal: one object, so the engine never prints directly."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from hsframe.progress import TrainingProgress
    from hsframe.registry import ModelSpec
    from hsframe.tasks import Task


class Reporter:
    """Console output of runs; ``Reporter(Console(quiet=True))`` (or ``quiet=True``) says nothing."""

    def __init__(self, console: Console | None = None, quiet: bool = False) -> None:
        self.console = console or Console(quiet=quiet)

    def started(self, spec: "ModelSpec", task: "Task", device: Any, counts: dict[str, int], leakage: dict[str, Any]) -> None:
        self.console.print(
            f"[bold]{spec.name}[/] ({spec.package} {spec.version}) on [bold]{task.name}[/] {task.describe()}, "
            f"device {device}; split {counts}", highlight=False, soft_wrap=True)
        unit = leakage["unit"]
        fitted = f"training {unit} only" if not leakage["features_saw_test"] else "the whole image (LEAKING)"
        self.console.print(f"leakage: {leakage['test_in_train_window']:.1%} of test {unit} lie inside a training patch "
                           f"window; features fitted on {fitted}", highlight=False, soft_wrap=True)

    def notices(self, lines: list[str]) -> None:
        """What the data's task says the person should know (a label renumbering, a warning), once per loaded dataset."""
        for line in lines:
            style = "yellow" if line.startswith("warning") else ""
            self.console.print(line, style=style, highlight=False, soft_wrap=True, markup=False)

    def resuming(self, run_id: str, epoch: int, epochs: int) -> None:
        self.console.print(f"resuming run {run_id} after epoch {epoch}/{epochs}", highlight=False)

    def seed(self, seed: int) -> None:
        self.console.rule(f"seed {seed}")

    def candidate(self, options: dict[str, Any], val_oa: float, best: bool, seconds: float) -> None:
        """One estimator fitted for one combination of searched options (``hsframe.engine.fitting``)."""
        shown = "".join(f" {k}={v}" for k, v in options.items())
        self.console.print(f"fit{shown}: val OA {val_oa:.4f}{'  (best)' if best else ''}  {seconds:.1f}s", highlight=False)

    def progress(self, epochs: int, batches_per_epoch: int) -> "TrainingProgress":
        from hsframe.progress import TrainingProgress

        return TrainingProgress(self.console, epochs, batches_per_epoch)
