"""Per-epoch training checkpoints: what a restarted process needs to continue a run exactly.

A checkpoint is one ``torch.save`` file, ``<train.checkpoint_dir>/<run_id>/last.pt``, rewritten after
every epoch: written to a temporary file in the same folder, fsynced, then ``os.replace``d over the
old one, so a process killed at any moment leaves either the previous checkpoint or the new one,
never half of one. It holds only tensors, lists, dicts and numbers (RNG states included), so it is
read back with ``torch.load(weights_only=True)``: loading a checkpoint cannot run code.

The engine deletes a run's checkpoint folder when the run ends FINISHED (or is stopped on purpose
by ``RunStopped``, a pruned sweep trial) and keeps it when the run crashes (FAILED), is interrupted
(Ctrl-C, KILLED) or its process dies: then ``hsframe run --resume RUN_ID`` needs it.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hsframe.errors import HsframeError

FORMAT = 1
FILENAME = "last.pt"


@dataclass
class TrainState:
    """Training after ``epoch`` completed epochs (1-based; 0 = none yet).

    ``model`` / ``optimizer``: state dicts; ``best_state``: the model state dict of ``best_epoch``
    (None before any epoch); ``rng``: see :func:`capture_rng`; ``history``: one
    ``{"train_loss", "val_oa", "lr"}`` per completed epoch; ``seconds``: training time spent so far;
    ``scheduler``: the LR schedule's state dict (None without a schedule). The early-stopping counter
    is ``epoch - best_epoch``.
    The tensors of a state made by the training loop are the live ones: save (or copy) it at once.
    """

    epoch: int
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    rng: dict[str, Any]
    best_val_oa: float = -1.0
    best_epoch: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    scheduler: dict[str, Any] | None = None


def checkpoint_path(checkpoint_dir: str | Path, run_id: str) -> Path:
    """Where run ``run_id`` keeps its checkpoint (a relative ``checkpoint_dir`` is taken from the cwd)."""
    return Path(checkpoint_dir) / run_id / FILENAME


def capture_rng(generator: torch.Generator) -> dict[str, Any]:
    """Every random state training draws from, as tensors, ints and lists (``weights_only``-loadable):
    the batch-shuffling ``generator``, torch's global CPU generator (dropout), CUDA's when present,
    and numpy's and Python's global generators (for models or plugins that draw from them)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "generator": generator.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else [],
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": int(version), "state": list(internal), "gauss_next": gauss_next},
    }


def restore_rng(generator: torch.Generator, rng: dict[str, Any]) -> None:
    """Put back the states :func:`capture_rng` took."""
    generator.set_state(rng["generator"])
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    n = rng["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = rng["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss_next"]))


def save_checkpoint(path: str | Path, state: TrainState, run_id: str) -> Path:
    """Write ``state`` atomically to ``path`` (temporary file in the same folder, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "run_id": run_id, "epoch": state.epoch, "model": state.model,
               "optimizer": state.optimizer, "rng": state.rng, "best_val_oa": float(state.best_val_oa),
               "best_epoch": int(state.best_epoch), "best_state": state.best_state,
               "history": [dict(h) for h in state.history], "seconds": float(state.seconds),
               "scheduler": state.scheduler}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows: readers see the old file or the new one
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: str | Path, run_id: str) -> TrainState:
    """The state saved at ``path`` for run ``run_id``; an HsframeError when it is missing, truncated or
    corrupt, or belongs to another run."""
    path = Path(path)
    if not path.is_file():
        raise HsframeError(
            f"run {run_id} has no checkpoint at {path.resolve()}: it stopped before its first epoch ended, or "
            f"train.checkpoint_dir ('{path.parent.parent}', relative to the folder the run started in) points "
            f"elsewhere. Resume from that folder, or start a new run with `hsframe run`."
        )
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not an hsframe checkpoint of format {FORMAT}")
        state = TrainState(epoch=int(data["epoch"]), model=data["model"], optimizer=data["optimizer"], rng=data["rng"],
                           best_val_oa=float(data["best_val_oa"]), best_epoch=int(data["best_epoch"]),
                           best_state=data["best_state"], history=list(data["history"]), seconds=float(data["seconds"]),
                           scheduler=data.get("scheduler"))  # absent from checkpoints written before schedules
        saved_for = str(data["run_id"])
    except Exception as exc:  # torch raises many kinds (RuntimeError, EOFError, UnpicklingError, KeyError)
        raise HsframeError(
            f"checkpoint {path.resolve()} is truncated/corrupt ({type(exc).__name__}: {str(exc)[:200]}); "
            f"run {run_id} cannot be resumed from it. Start a new run with `hsframe run`."
        ) from None
    if saved_for != run_id:
        raise HsframeError(f"checkpoint {path.resolve()} belongs to run {saved_for}, not {run_id}; "
                           f"resume {saved_for}, or check train.checkpoint_dir")
    return state


def remove_checkpoint(path: str | Path) -> None:
    """Delete a checkpoint and its run folder, and the checkpoint folder itself once it is empty."""
    path = Path(path)
    path.unlink(missing_ok=True)
    for folder in (path.parent, path.parent.parent):
        try:
            folder.rmdir()  # only when empty: other runs' checkpoints stay
        except OSError:
            break
