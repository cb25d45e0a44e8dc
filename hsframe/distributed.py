"""Data-parallel training on torch.distributed: the process group torchrun starts, and what each rank does.

``hsframe run --nproc-per-node N`` (or ``torchrun --nproc-per-node N -m hsframe run ...``) starts N
processes; torchrun gives each ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``. Every rank loads the same
data, splits it with the same seed and builds the same model; then:

- each epoch draws one order of the training samples (the same on every rank, from the run's seeded
  generator) and cuts it into global batches of ``train.batch_size``; rank r trains on its share of
  each global batch (``batch[r::N]``), and DDP averages the gradients (NCCL on CUDA, gloo on CPU);
  each rank's loss is weighted by its share of the global batch, so a step is the single-process step
  on the same global batch (:func:`hsframe.training.train`);
- validation is sharded the same way and its correct counts summed over ranks;
- only rank 0 records (one MLflow run, tagged ``world_size``), writes checkpoints, computes the test
  metrics and the map; the other ranks record into memory and stop after training.

A rank that fails ends with an error; torchrun then stops every other rank.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

from hsframe.errors import HsframeError

# How long a rank waits for the others at the rendezvous and in each collective before it fails.
TIMEOUT_S = int(os.environ.get("HSFRAME_DIST_TIMEOUT", "300"))


@dataclass(frozen=True)
class World:
    """Where this process stands in the data-parallel group: ``size`` 1 is a plain single-process run."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one that records, checkpoints, evaluates on test and maps."""
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.size > 1

    @classmethod
    def from_env(cls) -> "World":
        """The group torchrun describes in the environment (``WORLD_SIZE`` > 1), else a single process."""
        try:
            size = int(os.environ.get("WORLD_SIZE", "1"))
            rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
        except ValueError:
            raise HsframeError("WORLD_SIZE, RANK and LOCAL_RANK must be integers (set by torchrun); "
                               "start a distributed run with hsframe run --nproc-per-node N") from None
        return cls(rank, size, local) if size > 1 else cls()

    def device(self, device: Any) -> Any:
        """The rank's own GPU on CUDA (``cuda:LOCAL_RANK``); other devices unchanged."""
        import torch

        if self.parallel and device.type == "cuda":
            if self.local_rank >= torch.cuda.device_count():
                raise HsframeError(f"rank {self.rank} has LOCAL_RANK {self.local_rank} but this machine has "
                                   f"{torch.cuda.device_count()} GPU(s); use --nproc-per-node {torch.cuda.device_count()} or fewer")
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return device

    def join(self, device: Any) -> None:
        """Join the process group (NCCL on CUDA, gloo elsewhere) if this is a parallel run and it is not joined yet."""
        import torch.distributed as dist

        if not self.parallel or dist.is_initialized():
            return
        global _JOINED
        backend = "nccl" if device.type == "cuda" else "gloo"
        try:
            dist.init_process_group(backend, timeout=datetime.timedelta(seconds=TIMEOUT_S))
            _JOINED = True
        except Exception as exc:
            raise HsframeError(f"rank {self.rank} of {self.size} could not join the {backend} process group at "
                               f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')} within "
                               f"{TIMEOUT_S} s (HSFRAME_DIST_TIMEOUT): {type(exc).__name__}: {exc}") from None

    def wrap(self, model: Any, device: Any) -> Any:
        """``model`` in DistributedDataParallel for a parallel run (the module itself otherwise)."""
        if not self.parallel:
            return model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def share_buffers(self, model: Any) -> None:
        """Rank 0's buffers (BatchNorm running statistics) on every rank, so that sharded validation
        evaluates one model: each rank's forward passes updated its own copy since DDP last synced them."""
        if not self.parallel:
            return
        import torch.distributed as dist

        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)

    def sum(self, values: list[float], device: Any) -> list[float]:
        """Each value summed over every rank (as is on a single process)."""
        if not self.parallel:
            return values
        import torch
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return t.tolist()


# Whether World.join started the process group: hsframe leaves only a group it joined, never its caller's.
_JOINED = False


def leave() -> None:
    """Leave the process group hsframe joined (end of a distributed command); a group the caller made is kept."""
    global _JOINED
    import torch.distributed as dist

    if _JOINED and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _JOINED = False


# `hsframe run`'s own options for starting a parallel run; the ranks get every other argument as given.
LAUNCH_OPTIONS = ("--nproc-per-node", "--nnodes", "--rdzv-endpoint")


def launch(nproc: int, nnodes: int, endpoint: str | None, argv: list[str], device: str | None = None) -> int:
    """Start ``hsframe <argv>`` on ``nproc`` ranks per node through torchrun; the exit code of the group.

    One node: ``torchrun --standalone``. Several: every node runs the same command with ``--nnodes``
    and the same ``--rdzv-endpoint HOST:PORT`` (c10d rendezvous), as torchrun documents.
    """
    import subprocess
    import sys

    import torch

    if nnodes > 1 and not endpoint:
        raise HsframeError(f"--nnodes {nnodes} needs --rdzv-endpoint HOST:PORT, the same on every node (a host all nodes reach)")
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    on_cpu = (device or "auto").startswith("cpu")
    if gpus and not on_cpu and nproc > gpus:
        raise HsframeError(f"--nproc-per-node {nproc} is more than this machine's {gpus} GPU(s); use --nproc-per-node {gpus} "
                           "or fewer (or --device cpu for gloo processes on the CPU)")
    if nnodes > 1:
        reach(str(endpoint))
    rest = strip_options(argv, LAUNCH_OPTIONS)
    where = (["--standalone"] if nnodes == 1 and not endpoint else
             ["--nnodes", str(nnodes), "--rdzv-backend", "c10d", "--rdzv-endpoint", str(endpoint), "--rdzv-id", "hsframe"])
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc), *where, "-m", "hsframe", *rest]
    return wait_forwarding(subprocess.Popen(command))


def wait_forwarding(launcher: Any) -> int:
    """Wait for torchrun (a ``Popen``), passing on SIGTERM and SIGHUP; its exit code.

    torchrun starts every rank in a session of its own, so killing torchrun would leave the ranks
    training; told to stop, it stops them (SIGTERM, then SIGKILL after 30 s) and each run ends KILLED.
    Ctrl-C reaches torchrun from the terminal, as it shares this process group, so here it is ignored.
    """
    import signal

    def forward(signum: int, frame: Any) -> None:
        launcher.send_signal(signum)

    handlers = {signal.SIGTERM: forward, signal.SIGHUP: forward, signal.SIGINT: signal.SIG_IGN}
    before = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        return launcher.wait()
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def reach(endpoint: str) -> None:
    """Wait up to ``TIMEOUT_S`` for the rendezvous ``HOST:PORT`` to accept a connection, on a node that does not host it.

    torchrun decides the same way whether this node hosts the rendezvous (its address is this machine's) and
    opens it there; elsewhere it would fail after 60 s with a long traceback, so a node that cannot reach it
    fails here in one line, before torchrun starts.
    """
    import socket
    import time

    from torch.distributed.elastic.rendezvous.utils import _matches_machine_hostname, parse_rendezvous_endpoint

    try:
        host, port = parse_rendezvous_endpoint(endpoint, default_port=29400)
    except ValueError:
        raise HsframeError(f"--rdzv-endpoint '{endpoint}' is not HOST:PORT (e.g. node0.example:29400)") from None
    if _matches_machine_hostname(host):
        return
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            with socket.create_connection((host, port), timeout=max(1.0, min(5.0, deadline - time.monotonic()))):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise HsframeError(f"this node could not reach the rendezvous {endpoint} within {TIMEOUT_S} s (HSFRAME_DIST_TIMEOUT): "
                                   f"{exc}; start the node at {host} first, or check --rdzv-endpoint and the firewall") from None
            time.sleep(0.5)


def strip_options(argv: list[str], names: tuple[str, ...]) -> list[str]:
    """``argv`` without the options ``names`` and their values (``--name VALUE`` or ``--name=VALUE``)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in names:
            skip = True
        elif not any(arg.startswith(f"{name}=") for name in names):
            out.append(arg)
    return out
