"""``hsframe run --resume RUN_ID``: a run killed after epoch k continues in the same record at epoch k + 1.

Everything is checked before the run is reopened, so a refusal changes nothing in the store: the
run must exist, must not be FINISHED, must have logged its config and must have a readable
checkpoint (see :mod:`hsframe.checkpoint`) under the checkpoint folder its config names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from hsframe.errors import HsframeError
from hsframe.recording import FINISHED, PARENT_TAG, SWEEP_TAG, Recorder

if TYPE_CHECKING:
    from hsframe.checkpoint import TrainState
    from hsframe.config import RunConfig
    from hsframe.plugins import Plugins

# Keys a resume may change: where it runs and where its checkpoint lies, not what it computes.
RESUMABLE_OVERRIDES = ("train.device", "train.checkpoint_dir")


@dataclass
class Resume:
    """A run to continue: its id, the state after its last saved epoch, and the epochs whose metrics
    the store already holds (a process killed between saving a checkpoint and logging has one fewer)."""

    run_id: str
    state: "TrainState"
    epochs_logged: list[int] = field(default_factory=list)


def resume_config(run_id: str, recorder: Recorder, plugins: "Plugins", sets: Sequence[str] = ()) -> tuple["RunConfig", Resume]:
    """The run's logged config (with ``sets`` among :data:`RESUMABLE_OVERRIDES` on top) and its checkpoint."""
    from hsframe.config import canonical_key
    from hsframe.engine.api import load_config

    for item in sets:
        key = canonical_key(item.partition("=")[0].strip())
        if key not in RESUMABLE_OVERRIDES:
            raise HsframeError(f"--resume continues run {run_id} with its logged config; '{item}' would change it. "
                               f"Only {', '.join(RESUMABLE_OVERRIDES)} may be set (--device, --set train.checkpoint_dir=...)")
    stored = recorder.stored_run(run_id)
    if stored is None:
        raise HsframeError(f"no run '{run_id}' in the tracking store {recorder.location}; "
                           f"`hsframe runs` lists the runs and their ids")
    if stored.status == FINISHED:
        raise HsframeError(f"run {run_id} is FINISHED: there is nothing to resume. Start a new run with `hsframe run`")
    if stored.tags.get(PARENT_TAG) == "parent" or stored.tags.get(SWEEP_TAG) == "parent":
        raise HsframeError(f"run {run_id} is the parent of repeated seeds or of a sweep and trains nothing itself; "
                           f"resume its unfinished child runs by their ids (`hsframe runs`)")
    if stored.config is None:
        raise HsframeError(f"run {run_id} has no logged config (artifact config/resolved_config.yaml): it stopped "
                           f"before training began, so there is nothing to resume. Start a new run with `hsframe run`")
    cfg = load_config(_as_config(stored.config), plugins=plugins, sets=list(sets))

    from hsframe.checkpoint import checkpoint_path, load_checkpoint

    if cfg.train.checkpoint_dir is None:
        raise HsframeError(f"run {run_id} ran with train.checkpoint_dir=null and saved no checkpoints; "
                           f"start a new run, or pass --set train.checkpoint_dir=DIR if its checkpoints lie in DIR")
    state = load_checkpoint(checkpoint_path(cfg.train.checkpoint_dir, run_id), run_id)
    if state.epoch > cfg.train.epochs:
        raise HsframeError(f"run {run_id}'s checkpoint is at epoch {state.epoch} but the run trains {cfg.train.epochs} "
                           f"epochs; the checkpoint belongs to another config. Start a new run with `hsframe run`")
    return cfg, Resume(run_id, state, stored.epochs_logged)


def _as_config(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise HsframeError(f"the logged config is a {type(value).__name__}, not a mapping; the run cannot be resumed")
    return value
