"""Training progress: a live bar on a terminal, one plain line per epoch elsewhere (CI, pipes)."""
from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class TrainingProgress:
    def __init__(self, console: Console, epochs: int, batches_per_epoch: int) -> None:
        self.console = console
        self.epochs, self.batches = epochs, batches_per_epoch
        self.live = console.is_terminal
        self._start = time.perf_counter()
        self._done = 0  # epochs finished before this process started (a resumed run)
        self._progress: Progress | None = None

    def __enter__(self) -> "TrainingProgress":
        if self.live:
            self._progress = Progress(
                TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
                TextColumn("batch {task.fields[batch]}/{task.fields[batches]}"),
                BarColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("val OA {task.fields[val_oa]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                "train", total=self.epochs * self.batches, epoch=1, epochs=self.epochs,
                batch=0, batches=self.batches, loss="-", val_oa="-",
            )
        return self

    def resumed(self, epochs_done: int) -> None:
        """A resumed run: the bar starts after ``epochs_done`` epochs and the ETA counts only this process's."""
        self._done, self._start = epochs_done, time.perf_counter()
        if self._progress is not None:
            self._progress.update(self._task, advance=epochs_done * self.batches, epoch=epochs_done + 1)

    def batch(self, epoch: int, batch: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, epoch=epoch, batch=batch)

    def loss(self, loss: float) -> None:
        """The epoch's mean training loss so far (the loop reads it from the device only now and then)."""
        if self._progress is not None:
            self._progress.update(self._task, loss=f"{loss:.4f}")

    def epoch(self, epoch: int, loss: float, val_oa: float, best: bool) -> None:
        if self._progress is not None:
            self._progress.update(self._task, val_oa=f"{val_oa:.4f}{' *' if best else ''}")
            return
        elapsed = time.perf_counter() - self._start
        eta = elapsed / max(epoch - self._done, 1) * (self.epochs - epoch)
        self.console.print(
            f"epoch {epoch}/{self.epochs}  loss {loss:.4f}  val OA {val_oa:.4f}{'  (best)' if best else ''}"
            f"  elapsed {elapsed:.1f}s  ETA {eta:.1f}s",
            highlight=False,
        )

    def stopped_early(self, epoch: int, best_epoch: int, best_val_oa: float) -> None:
        """Early stopping ended training after ``epoch`` (printed above a live bar too)."""
        self.console.print(f"early stopping after epoch {epoch}/{self.epochs}: val OA has not improved since epoch "
                           f"{best_epoch} ({best_val_oa:.4f}); keeping epoch {best_epoch}'s weights", highlight=False)

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
