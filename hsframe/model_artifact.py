"""A run's trained model in the tracking store, pickle-free: ``model/weights.safetensors`` + ``model/spec.json``.

The weights are the state dict in safetensors (tensors only: reading them runs no code); ``spec.json``
says how to rebuild the architecture: the model's name, the plugin package and version that built it,
its ``model_options``, the input spec and data kind, the hsframe and torch versions. Loading rebuilds
the model through the *installed* plugin and fills in the weights (:func:`load_model`). Nothing read
from a store is ever unpickled: a run logged by an older hsframe (a pickled MLflow model) is refused.

:class:`RunFiles` reads a run's artifacts one by one; a missing or unreadable one is one line naming it.
"""
from __future__ import annotations

import contextlib
import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

from hsframe.errors import HsframeError, one_line
from hsframe.registry import InputSpec

if TYPE_CHECKING:
    import torch

    from hsframe.plugins import Plugins
    from hsframe.registry import ModelSpec

FOLDER = "model"
WEIGHTS = f"{FOLDER}/weights.safetensors"
SPEC = f"{FOLDER}/spec.json"
FORMAT = "hsframe-model/1"
# What MLflow's own model flavor leaves (hsframe before the safetensors format): pickles only.
LEGACY = f"{FOLDER}/MLmodel"

T = TypeVar("T")


@dataclass(frozen=True)
class ModelCard:
    """``model/spec.json``: everything needed to rebuild the trained architecture, besides its weights."""

    model: str
    package: str
    version: str
    input: InputSpec
    data_kind: str
    hsframe_version: str
    torch_version: str
    model_options: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT

    @classmethod
    def of(cls, spec: "ModelSpec", input_spec: InputSpec, options: dict[str, Any], data_kind: str) -> "ModelCard":
        import torch

        from hsframe import __version__

        return cls(spec.name, spec.package, spec.version, input_spec, data_kind, __version__, torch.__version__.split("+")[0],
                   dict(options))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelCard":
        """The card of a ``spec.json``; ValueError saying what is wrong with it."""
        raw = json.loads(text)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError(f"not an hsframe model spec (format {raw.get('format') if isinstance(raw, dict) else None!r}, "
                             f"expected {FORMAT!r})")
        strings = ("model", "package", "version", "data_kind", "hsframe_version", "torch_version")
        bad = [k for k in strings if not isinstance(raw.get(k), str)]
        shape = raw.get("input")
        sizes = ("channels", "depth", "height", "width", "num_classes")
        if not (isinstance(shape, dict) and set(shape) == set(sizes)
                and all(isinstance(shape[k], int) and not isinstance(shape[k], bool) and shape[k] > 0 for k in sizes)):
            bad.append("input")
        if not isinstance(raw.get("model_options"), dict):
            bad.append("model_options")
        if bad:
            raise ValueError(f"missing or malformed field(s) {', '.join(bad)}")
        return cls(**{**{k: raw[k] for k in strings}, "input": InputSpec(**shape), "model_options": raw["model_options"]})


def write_model(model: "torch.nn.Module", card: ModelCard, folder: str | Path) -> list[Path]:
    """``weights.safetensors`` and ``spec.json`` of ``model`` in ``folder``; the two files."""
    from safetensors.torch import save_model

    folder = Path(folder)
    weights, spec = folder / Path(WEIGHTS).name, folder / Path(SPEC).name
    save_model(model, str(weights), metadata={"format": FORMAT})  # drops duplicate names of tied tensors
    spec.write_text(card.to_json())
    return [weights, spec]


class RunFiles:
    """A recorded run's artifacts, downloaded one at a time into ``folder``.

    ``read(path, reader)`` turns whatever goes wrong while reading into one line that names the artifact.
    """

    def __init__(self, client: Any, run: Any, folder: Path) -> None:
        self.client, self.run, self.folder = client, run, folder

    @property
    def run_id(self) -> str:
        return self.run.info.run_id

    def names(self, folder: str) -> set[str]:
        """The artifact paths directly under ``folder`` (MLflow 3 lists a run's logged models there too)."""
        try:
            return {a.path for a in self.client.list_artifacts(self.run_id, folder)}
        except Exception:  # an unreadable listing is an absent folder; the read that needs it says which file
            return set()

    def path(self, path: str) -> Path:
        from hsframe.recording.mlflow_recorder import no_progress_bar

        try:
            with no_progress_bar():
                return Path(self.client.download_artifacts(self.run_id, path, str(self.folder)))
        except Exception:
            raise HsframeError(f"run '{self.run_id}' ({self.run.info.status}) has no artifact {path}; only a run that "
                               "FINISHED under this hsframe version has everything a prediction needs") from None

    def read(self, path: str, reader: Callable[[Path], T]) -> T:
        local = self.path(path)
        try:
            return reader(local)
        except HsframeError:
            raise
        except Exception as exc:
            detail = one_line(exc, 200)
            raise HsframeError(f"run '{self.run_id}': artifact {path} is unreadable ({type(exc).__name__}: {detail}); "
                               "it was damaged or changed after the run; retrain the run") from None


@contextlib.contextmanager
def run_files(run_id: str, tracking_uri: str) -> Iterator[RunFiles]:
    """The run ``run_id`` of the store at ``tracking_uri``, its artifacts read into a folder removed afterwards."""
    import mlflow

    from hsframe.stores import display_uri, require_store

    shown = display_uri(tracking_uri)
    require_store(tracking_uri)  # fails at once where MLflow would create an empty store or retry for minutes
    client = mlflow.MlflowClient(tracking_uri)
    try:
        client.search_experiments(max_results=1)
    except Exception as exc:
        text = one_line(exc)
        raise HsframeError(f"cannot reach the tracking store {shown}: {type(exc).__name__}: {text}") from None
    try:
        run = client.get_run(run_id)
    except Exception:
        raise HsframeError(f"no run '{run_id}' in the tracking store {shown}; "
                           f"list runs with `hsframe compare --tracking-uri {shown}` or `hsframe ui`") from None
    with tempfile.TemporaryDirectory() as tmp:
        yield RunFiles(client, run, Path(tmp))


def read_model(files: RunFiles, plugins: "Plugins") -> tuple["torch.nn.Module", ModelCard]:
    """The run's model rebuilt by the installed plugin and filled with what the run stored (CPU, eval mode), and its card.

    How it is read depends on the kind of model (``spec.fitting().read``): a torch module's weights, an estimator's skops file.
    """
    run_id = files.run_id
    logged = files.names(FOLDER)
    if SPEC not in logged:
        if LEGACY in logged:
            raise HsframeError(f"run '{run_id}' was logged by an older hsframe: its model ({LEGACY} and data/) is a pickled "
                               "MLflow model, and hsframe never unpickles from the store (a tampered pickle runs code); "
                               "retrain the run with this version")
        raise HsframeError(f"run '{run_id}' ({files.run.info.status}) has no logged model ({SPEC}); "
                           "a run that FAILED or was KILLED before the end logs none")
    card = files.read(SPEC, lambda p: ModelCard.from_json(p.read_text()))
    if not plugins.claimed("models", card.model):
        raise HsframeError(f"run '{run_id}' needs model '{card.model}' from {card.package} {card.version}, which is not installed; "
                           f"pip install '{card.package}=={card.version}'")
    spec = plugins.model(card.model)
    fitting = spec.fitting()
    if fitting.artifact not in logged:
        raise HsframeError(f"run '{run_id}' has {SPEC} but no {fitting.artifact}, which model '{card.model}' stores; "
                           "the run's artifacts were changed after the run; retrain the run")
    return fitting.read(files, spec, card), card


def load_weights(model: "torch.nn.Module", path: Path, card: ModelCard, spec: "ModelSpec", run_id: str) -> None:
    """The weights file into ``model``; a file that does not fit the rebuilt architecture is one line saying why."""
    from safetensors.torch import load_file, load_model

    try:
        load_model(model, str(path), strict=True)  # a damaged file raises SafetensorError: unreadable, to the caller
    except RuntimeError:
        own, tensors = model.state_dict(), load_file(str(path))
        diff = ([f"{k} missing" for k in own if k not in tensors] + [f"{k} unexpected" for k in tensors if k not in own]
                + [f"{k} is {tuple(tensors[k].shape)} in the file, {tuple(own[k].shape)} built"
                   for k in own if k in tensors and tensors[k].shape != own[k].shape])
        shown = "; ".join(diff[:3]) + (f"; {len(diff) - 3} more" if len(diff) > 3 else "")
        built = f"{spec.package} {spec.version}"
        if spec.version != card.version or spec.package != card.package:
            why = f"it was trained with {card.package} {card.version}; pip install '{card.package}=={card.version}'"
        else:
            why = (f"the same version trained it, so {WEIGHTS} was changed after the run "
                   "(or the plugin's code changed without a new version)")
        raise HsframeError(f"the weights of run '{run_id}' do not fit model '{card.model}' as {built} builds it "
                           f"({shown}): {why}") from None


def load_model(run_id: str, tracking_uri: str | None = None, plugins: "Plugins | None" = None) -> "torch.nn.Module":
    """The model of run ``run_id``, rebuilt by its installed plugin with what the run stored (CPU, eval mode).

    A torch model comes back as itself; an estimator model (:class:`hsframe.registry.EstimatorSpec`) as an
    :class:`hsframe.estimator_module.EstimatorModule` (``.estimator`` is the fitted estimator).
    """
    from hsframe.tracking import load_settings

    if plugins is None:
        from hsframe.plugins import get_plugins

        plugins = get_plugins()
    with run_files(run_id, load_settings(uri=tracking_uri).tracking_uri) as files:
        return read_model(files, plugins)[0]
