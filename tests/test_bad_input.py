"""Bad input, every kind in one table: one line `Error: ...`, exit 2, no traceback, no run left behind.

Each case is an `hsframe` command line whose inputs a fixture writes into tmp_path in their real formats.
Every case fails before any training; the few that need a run id or a deleted experiment share one
store made once per module (SHARED). To add a kind of bad input, add a Case to CASES.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from click.testing import CliRunner

from hsframe.cli import cli

# Fast settings for the small cube below, so a case that reaches the recorder costs a second.
SMALL = ["--set", "data.patch_size=9", "--set", "data.pca_components=13", "--set", "train.epochs=1"]
SURROGATE = os.fsdecode(b"\xff\xfe.npy")  # a file name that is not UTF-8, as Python holds it: '\udcff\udcfe.npy'
ENV = {
    "COLUMNS": "400",  # rich does not wrap the one line
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # predict's artifact download bar is not an error line
    "HSFRAME_DEBUG": "",
}


# --------------------------------------------------------------------------- input files, real formats


def cube(tmp: Path, name: str | bytes = "cube.npy") -> None:
    rng = np.random.default_rng(0)
    with open(os.path.join(os.fsencode(tmp), os.fsencode(name)), "wb") as fh:  # bytes: the name may be no UTF-8
        np.save(fh, rng.random((20, 20, 30), dtype=np.float32))
    np.save(tmp / "labels.npy", rng.integers(0, 4, (20, 20)))


def binary(tmp: Path, name: str = "config.yaml") -> None:
    (tmp / name).write_bytes(bytes(range(256)) * 4)  # an image, a model, anything but UTF-8 text


def text(name: str, content: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / name).write_text(content)


def truncated_tiff(tmp: Path) -> None:
    import tifffile

    cube(tmp)
    tifffile.imwrite(tmp / "whole.tif", np.zeros((30, 20, 20), np.float32))
    data = (tmp / "whole.tif").read_bytes()
    (tmp / "cube.tif").write_bytes(data[: len(data) // 2])  # tifffile warns (through logging), then fails


def folder(name: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / name).mkdir()


def file(name: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / name).write_text("not a folder")


def nothing(tmp: Path) -> None:
    pass


def both(*makers: Callable[[Path], None]) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        for m in makers:
            m(tmp)
    return make


def labels_with_ids(ids: list[int], side: int = 20) -> Callable[[Path], None]:
    """A 30-band cube and a label map whose classes carry ``ids`` (cycled over the pixels)."""
    def make(tmp: Path) -> None:
        rng = np.random.default_rng(0)
        np.save(tmp / "cube.npy", rng.random((side, side, 30), dtype=np.float32))
        np.save(tmp / "labels.npy", np.resize(np.asarray(ids, np.int64), (side, side)))
    return make


def envi(data_type: int) -> Callable[[Path], None]:
    """An ENVI cube (BSQ, float32 payload) whose header says ``data_type``."""
    def make(tmp: Path) -> None:
        cube(tmp)
        np.zeros((30, 20, 20), np.float32).tofile(tmp / "cube.img")
        (tmp / "cube.hdr").write_text(f"ENVI\nsamples = 20\nlines = 20\nbands = 30\nheader offset = 0\nfile type = ENVI Standard\n"
                                      f"data type = {data_type}\ninterleave = bsq\nbyte order = 0\n")
    return make


def half_migrated_store(tmp: Path) -> None:
    """A store whose tables exist but whose schema revision was never recorded (parallel unlocked starts left such)."""
    import sqlite3

    from hsframe.stores import prepare_store

    prepare_store(f"sqlite:///{tmp / 'old.db'}")
    with sqlite3.connect(tmp / "old.db") as conn:
        conn.execute("DELETE FROM alembic_version")


@dataclass(frozen=True)
class Case:
    """``argv`` is formatted with {tmp} (the case's folder), {store} (a fresh SQLite store there), and
    {shared} / {run} / {deleted}: SHARED's store, its one run's id and the name of its deleted experiment.
    ``message``: a regular expression the one error line matches."""

    id: str
    argv: list[str]
    message: str
    make: Callable[[Path], None] = nothing
    env: dict[str, str] = field(default_factory=dict)


CASES = [
    # --- config and other YAML inputs
    Case("config-binary", ["run", "--config", "{tmp}/config.yaml", "--tracking-uri", "{store}"],
         r"config file \S+config.yaml is not UTF-8 text \(byte 0x80 at offset 128\)", binary),
    Case("config-yaml-syntax", ["run", "--config", "{tmp}/c.yaml", "--tracking-uri", "{store}"],
         r"is not valid YAML: line 2, column 1: expected ',' or '\]'", text("c.yaml", "train: [1, 2\n")),
    Case("config-not-a-mapping", ["run", "--config", "{tmp}/c.yaml", "--tracking-uri", "{store}"],
         "must hold a mapping of keys, got list", text("c.yaml", "- a\n- b\n")),
    Case("config-python-tag", ["run", "--config", "{tmp}/c.yaml", "--tracking-uri", "{store}"],
         "is not valid YAML: line 1, column 4: could not determine a constructor",
         text("c.yaml", "a: !!python/object/apply:os.system [ls]\n")),
    Case("config-missing", ["run", "--config", "{tmp}/none.yaml", "--tracking-uri", "{store}"], "config file not found"),
    Case("train-loss-unknown", ["run", "--set", "train.loss=dice", "--tracking-uri", "{store}"],
         r"config key 'train.loss': Input should be 'cross_entropy', 'weighted_cross_entropy' or 'focal' \(got 'dice'\)"),
    Case("mlflow-yml-binary", ["compare"], r"tracking settings mlflow.yml is not UTF-8 text", lambda tmp: binary(tmp, "mlflow.yml")),
    Case("sweep-space-binary", ["sweep", "--space", "{tmp}/config.yaml", "--trials", "1", "--tracking-uri", "{store}"],
         "search space .* is not UTF-8 text", binary),
    Case("sweep-space-unknown-key", ["sweep", "--space", "{tmp}/s.yaml", "--trials", "1", "--tracking-uri", "{store}"],
         r"Did you mean 'train.lr'\?", text("s.yaml", "train.lrr: {log_float: [1.0e-4, 1.0e-2]}\n")),
    # --- names and paths that are not UTF-8 (MLflow would fail on them once the run records)
    Case("dataset-not-utf8", ["run", "--dataset", f"{{tmp}}/{SURROGATE}", "--labels", "{tmp}/labels.npy", "--tracking-uri", "{store}"],
         r"--dataset \$'\S+/\\xff\\xfe.npy' is not UTF-8 text .* mv \$'", lambda tmp: cube(tmp, b"\xff\xfe.npy")),
    Case("labels-not-utf8", ["run", "--dataset", "{tmp}/cube.npy", "--labels", f"{{tmp}}/{SURROGATE}", "--tracking-uri", "{store}"],
         r"--labels \$'\S+\\xff\\xfe.npy' is not UTF-8 text", lambda tmp: cube(tmp, b"\xff\xfe.npy")),
    Case("config-not-utf8", ["run", "--config", os.fsdecode(b"{tmp}/\xff.yaml"), "--tracking-uri", "{store}"],
         r"--config \$'\S+/\\xff.yaml' is not UTF-8 text", lambda tmp: (tmp / os.fsdecode(b"\xff.yaml")).write_text("seed: 1\n")),
    Case("set-not-utf8", ["run", "--set", os.fsdecode(b"data.dataset=\xff"), "--tracking-uri", "{store}"],
         r"--set \$'data.dataset=\\xff' is not UTF-8 text"),
    Case("predict-dataset-not-utf8", ["predict", "--run", "{run}", "--dataset", SURROGATE, "--tracking-uri", "{shared}"],
         r"--dataset \$'\\xff\\xfe.npy' is not UTF-8 text"),
    # --- output paths, checked before any work
    Case("run-summary-missing-folder", ["run", "--summary-json", "{tmp}/nodir/out.json", "--tracking-uri", "{store}"],
         r"--summary-json \S+/nodir/out.json: folder \S+/nodir does not exist; create it first"),
    Case("run-summary-is-folder", ["run", "--summary-json", "{tmp}/out", "--tracking-uri", "{store}"],
         r"--summary-json \S+/out is a folder; give a file path", folder("out")),
    Case("run-summary-under-a-file", ["run", "--summary-json", "{tmp}/f.txt/out.json", "--tracking-uri", "{store}"],
         r"--summary-json \S+: \S+/f.txt is a file, not a folder", file("f.txt")),
    Case("sweep-summary-missing-folder", ["sweep", "--space", "{tmp}/s.yaml", "--trials", "1", "--summary-json", "{tmp}/no/s.json",
                                          "--tracking-uri", "{store}"], "--summary-json .* does not exist",
         text("s.yaml", "train.lr: {float: [0.001, 0.01]}\n")),
    Case("sweep-best-config-is-folder", ["sweep", "--space", "{tmp}/s.yaml", "--trials", "1", "--best-config", "{tmp}/out",
                                         "--tracking-uri", "{store}"], "--best-config .* is a folder",
         both(folder("out"), text("s.yaml", "train.lr: {float: [0.001, 0.01]}\n"))),
    Case("checkpoint-dir-is-file", ["run", "--set", "train.checkpoint_dir={tmp}/f.txt", "--tracking-uri", "{store}"],
         r"train.checkpoint_dir \S+/f.txt is a file", file("f.txt")),
    Case("compare-csv-missing-folder", ["compare", "--csv", "{tmp}/nodir/t.csv", "--tracking-uri", "{store}"],
         "--csv .*/nodir/t.csv: folder .* does not exist"),
    Case("compare-plot-unknown-type", ["compare", "--plot", "{tmp}/bars.txt", "--tracking-uri", "{store}"],
         r"--plot \S+/bars.txt: the name's suffix chooses the file type; end it with one of .*\.png"),
    Case("compare-plot-is-folder", ["compare", "--plot", "{tmp}/out", "--tracking-uri", "{store}"], "--plot .* is a folder", folder("out")),
    Case("predict-out-is-file", ["predict", "--run", "{run}", "--dataset", "synthetic-pines", "--out", "{tmp}/f.txt",
                                 "--tracking-uri", "{shared}"], r"--out \S+/f.txt is a file; --out takes a folder", file("f.txt")),
    Case("predict-out-under-a-file", ["predict", "--run", "{run}", "--dataset", "synthetic-pines", "--out", "{tmp}/f.txt/a/b",
                                      "--tracking-uri", "{shared}"], "f.txt is a file, so the folder cannot be created", file("f.txt")),
    # --- the tracking store and its experiments
    Case("deleted-experiment", ["run", "--dataset", "{tmp}/cube.npy", "--labels", "{tmp}/labels.npy", *SMALL,
                                "--set", "experiment={deleted}", "--tracking-uri", "{shared}"],
         r"experiment '\w+' \(id \d+\) was deleted .* mlflow experiments restore --experiment-id \d+` or choose another name", cube),
    Case("store-missing-folder", ["run", "--tracking-uri", "sqlite:///{tmp}/missing/dir/mlflow.db"], "does not exist"),
    Case("store-is-a-folder", ["run", "--tracking-uri", "sqlite:///{tmp}/adir.db"], "cannot open tracking store", folder("adir.db")),
    Case("store-under-a-file", ["run", "--tracking-uri", "sqlite:///{tmp}/f.txt/mlflow.db"], "does not exist", file("f.txt")),
    Case("store-file-store", ["run", "--tracking-uri", "{tmp}/mlruns"], "deprecated"),
    Case("compare-missing-store", ["compare", "--tracking-uri", "sqlite:///{tmp}/none.db"], "no tracking store at"),
    Case("runs-missing-store", ["runs", "--tracking-uri", "sqlite:///{tmp}/none.db"], "no tracking store"),
    Case("ui-missing-store", ["ui", "--tracking-uri", "sqlite:///{tmp}/none.db"], "no tracking store"),
    Case("runs-cleanup-yes-and-dry-run", ["runs", "cleanup", "--yes", "--dry-run", "--tracking-uri", "{shared}"], "contradict"),
    Case("resume-unknown-run", ["run", "--resume", "0123456789abcdef", "--tracking-uri", "{shared}"], "no run '0123456789abcdef'"),
    # --- the logged run predict reads
    Case("predict-unknown-run", ["predict", "--run", "0123456789abcdef", "--dataset", "synthetic-pines", "--tracking-uri", "{shared}"],
         "no run '0123456789abcdef'"),
    # The preprocessor's format belongs to hsframe/predict.py: whatever it becomes, a tampered file is one line.
    Case("predict-tampered-preprocessor", ["predict", "--run", "{run}", "--dataset", "synthetic-pines", "--out", "{tmp}/out",
                                           "--tracking-uri", "{shared}"], "preprocess/preprocessor.safetensors"),
    # --- models, datasets and config values
    Case("unknown-model", ["run", "--model", "hybridsm", "--tracking-uri", "{store}"], r"unknown model 'hybridsm'.*Did you mean 'hybridsn'"),
    Case("unknown-dataset", ["run", "--dataset", "nowhere", "--tracking-uri", "{store}"], "unknown dataset 'nowhere'"),
    Case("patch-too-large", ["run", "--dataset", "{tmp}/cube.npy", "--labels", "{tmp}/labels.npy", "--set", "data.patch_size=25",
                             "--set", "data.pca_components=13", "--tracking-uri", "{store}"], "patch", cube),
    Case("more-components-than-bands", ["run", "--dataset", "{tmp}/cube.npy", "--labels", "{tmp}/labels.npy",
                                        "--set", "data.pca_components=31", "--tracking-uri", "{store}"], "more than the 30 bands", cube),
    Case("bad-set-value", ["run", "--set", "train.epochs=many", "--tracking-uri", "{store}"],
         r"config key 'train.epochs': Input should be a valid integer.*\(got 'many'\)"),
    Case("set-without-value", ["run", "--set", "train.epochs", "--tracking-uri", "{store}"], "--set expects key=value"),
    Case("unknown-key", ["run", "--set", "train.epoch=3", "--tracking-uri", "{store}"], r"Did you mean 'train.epochs'"),
    Case("train-fraction-out-of-range", ["run", "--set", "split.train_fraction=1.5", "--tracking-uri", "{store}"], "split.train_fraction"),
    Case("bad-seeds", ["run", "--seeds", "0,x", "--tracking-uri", "{store}"], "--seeds takes integers separated by commas"),
    Case("strict-labels", ["run", "--dataset", "{tmp}/cube.npy", "--labels", "{tmp}/labels.npy", "--strict-labels", *SMALL,
                           "--tracking-uri", "{store}"], r"1000", labels_with_ids([1, 2, 1000])),
    Case("too-many-classes", ["run", "--dataset", "{tmp}/cube.npy", "--labels", "{tmp}/labels.npy", *SMALL, "--tracking-uri", "{store}"],
         r"1,?00[0-9].*1,?000", labels_with_ids(list(range(1, 1005)), side=110)),
    Case("too-few-pixels-per-class", ["run", "--dataset", "{tmp}/cube.npy", "--labels", "{tmp}/labels.npy", *SMALL,
                                      "--tracking-uri", "{store}"], r"\b50 classes\b.*\b400\b|\b400\b.*\b50 classes\b",
         labels_with_ids(list(range(1, 51)))),
    Case("nan-fill-not-finite", ["run", "--set", "data.nan_fill=.nan", "--tracking-uri", "{store}"], r"data.nan_fill.*finite"),
    Case("envi-data-type-99", ["run", "--dataset", "{tmp}/cube.hdr", "--labels", "{tmp}/labels.npy", *SMALL, "--tracking-uri", "{store}"],
         r"cube.hdr.*data type.*99", envi(99)),
    Case("store-half-migrated", ["run", "--tracking-uri", "sqlite:///{tmp}/old.db"], r"old.db.*sqlite3 ", half_migrated_store),
    Case("truncated-tiff", ["run", "--dataset", "{tmp}/cube.tif", "--labels", "{tmp}/labels.npy", "--tracking-uri", "{store}"],
         r"could not read \S+cube.tif as a \(Geo\)TIFF file: .*\(warning: .*invalid page offset", truncated_tiff),
    # --- the other commands
    Case("inspect-bad-input", ["inspect", "--model", "hybridsn", "--input", "1,30,25"], "four positive integers C,D,H,W"),
    Case("inspect-unknown-model", ["inspect", "--model", "hybridsm", "--input", "1,30,25,25"], "unknown model 'hybridsm'"),
    Case("inspect-non-model-option", ["inspect", "--model", "hybridsn", "--input", "1,30,25,25", "--set", "train.epochs=3"],
         "only takes model options"),
    Case("equivalence-unknown-model", ["equivalence", "hybridsm", "hybridsn"], "unknown model 'hybridsm'"),
    Case("equivalence-too-few-bands", ["equivalence", "hybridsn", "hybridsn"], "HybridSN needs at least 13 bands"),
    Case("equivalence-bad-option", ["equivalence", "hybridsn", "hybridsn", "--option", "nope"], "--option takes KEY=VALUE"),
    Case("datasets-info-unknown", ["datasets", "info", "indian_pine"], r"unknown dataset 'indian_pine'.*Did you mean 'indian_pines'\?"),
    Case("plugin-new-bad-name", ["plugin", "new", "My Net", "--dir", "{tmp}/x"], "invalid plugin name 'My Net'"),
    Case("plugin-new-dir-is-file", ["plugin", "new", "mynet", "--dir", "{tmp}/f.txt"], "exists and is not a folder", file("f.txt")),
]


# --------------------------------------------------------------------------- the shared store


@dataclass(frozen=True)
class Shared:
    uri: str
    run: str
    deleted: str


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Shared:
    """One store: a run whose preprocessor file is garbage (as tampered), and a deleted experiment."""
    import mlflow

    root = tmp_path_factory.mktemp("shared")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    exp = client.create_experiment("hsframe", artifact_location=(root / "artifacts").as_uri())
    run = client.create_run(exp, run_name="tampered")
    files = root / "files"
    (files / "config").mkdir(parents=True)
    (files / "preprocess").mkdir()
    (files / "config" / "resolved_config.yaml").write_text("model: hybridsn\ndata: {patch_size: 9}\n")
    (files / "preprocess" / "preprocessor.safetensors").write_bytes(b"\xff" * 64)
    (files / "preprocess" / "scene.json").write_text('{"dataset": "x", "class_names": ["a", "b"], "palette": [[0, 0, 0], [9, 9, 9]]}')
    # A sound model, so that predict gets as far as the tampered preprocessor.
    from hsframe.model_artifact import FOLDER, ModelCard, write_model
    from hsframe.plugins import get_plugins
    from hsframe.registry import InputSpec

    spec, input_spec = get_plugins().model("hybridsn"), InputSpec(1, 13, 9, 9, 2)
    (files / FOLDER).mkdir()
    write_model(spec.create(input_spec), ModelCard.of(spec, input_spec, {}, "hsi"), files / FOLDER)
    client.log_artifacts(run.info.run_id, str(files))
    client.set_terminated(run.info.run_id, "FINISHED")
    client.delete_experiment(client.create_experiment("gone", artifact_location=(root / "gone").as_uri()))
    return Shared(uri, run.info.run_id, "gone")


def all_runs(uri: str) -> list[str]:
    """Every run in the store, those of deleted experiments and deleted runs too."""
    import mlflow
    from mlflow.entities import ViewType

    client = mlflow.MlflowClient(uri)
    exps = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    return [r.info.run_id for r in client.search_runs(exps, run_view_type=ViewType.ALL)] if exps else []


def invoke(argv: list[str], env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, argv, env={**ENV, **(env or {})})


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_and_no_run(case: Case, shared: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # ./mlflow.yml, ./checkpoints, ./predictions: the case's own
    case.make(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    argv = [a.format(tmp=tmp_path, store=store, shared=shared.uri, run=shared.run, deleted=shared.deleted) for a in case.argv]
    before = all_runs(shared.uri)

    result = invoke(argv, case.env)

    lines = error_lines(result)
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert re.search(case.message, lines[0]), lines[0]
    assert "Traceback" not in result.output and "marked FAILED" not in result.output
    assert all_runs(shared.uri) == before
    assert not (tmp_path / "mlflow.db").exists() or all_runs(store) == []


def test_the_table_counts_every_kind_once():
    ids = [c.id for c in CASES]
    assert len(set(ids)) == len(ids), "two cases share an id"
    commands = {c.argv[0] for c in CASES}
    print(f"\n{len(CASES)} kinds of bad input over {len(commands)} commands: {', '.join(sorted(commands))}")
    assert commands >= {"run", "sweep", "predict", "compare", "runs", "ui", "inspect", "equivalence", "datasets", "plugin"}


def test_hsframe_debug_shows_the_traceback(tmp_path: Path):
    binary(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for argv, raised in ((["run", "--config", str(tmp_path / "config.yaml"), "--tracking-uri", store], "UnicodeDecodeError"),
                         (["inspect", "--model", "hybridsm", "--input", "1,30,25,25"], "HsframeError")):
        quiet = invoke(argv)
        debug = invoke(argv, {"HSFRAME_DEBUG": "1"})
        assert quiet.exit_code == debug.exit_code == 2
        assert "Traceback" not in quiet.stderr
        assert "Traceback (most recent call last)" in debug.stderr and raised in debug.stderr, debug.stderr
        assert error_lines(debug)[-1] == error_lines(quiet)[0]  # the same one line ends it


def test_a_crash_before_any_run_says_nothing_was_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug before the recorder")

    monkeypatch.setattr("hsframe.engine.api.run", broken)
    result = invoke(["run", "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"])
    assert result.exit_code == 1
    assert "RuntimeError: a bug before the recorder" in result.stderr and "Traceback" in result.stderr
    assert "before an MLflow run was opened; nothing was recorded" in result.stderr
    assert "marked FAILED" not in result.stderr


def test_reading_warnings_are_folded_into_the_error_or_shown_after_success(caplog: pytest.LogCaptureFixture):
    import logging
    import warnings

    from hsframe.errors import HsframeError, folded_warnings, held_warnings

    with pytest.raises(HsframeError, match=r"^bad file \(warning: UserWarning: odd header; tag 7 invalid\)$"):
        with folded_warnings():
            warnings.warn("odd header", stacklevel=1)
            logging.getLogger("tifffile").warning("tag 7 invalid")
            raise HsframeError("bad file")
    with pytest.raises(ValueError) as info, folded_warnings():
        warnings.warn("odd header", stacklevel=1)
        raise ValueError("x")
    assert held_warnings(info.value) == ["UserWarning: odd header"]
    with pytest.warns(UserWarning, match="shown"), caplog.at_level(logging.WARNING):
        with folded_warnings():
            warnings.warn("shown", stacklevel=1)
            logging.getLogger("tifffile").warning("logged")
    assert "logged" in caplog.text


@pytest.mark.parametrize("exc, code, words", [(RuntimeError("boom in forward"), 1, "The run crashed: MLflow run {id} was marked FAILED"),
                                              (KeyboardInterrupt(), 130, "Interrupted (Ctrl-C): MLflow run {id} was marked KILLED")])
def test_a_run_that_was_opened_is_named_with_how_it_ended(store, monkeypatch, exc, code, words):
    from conftest import FAST, runs_of
    from test_run import _plugin_with_forward

    from hsframe.plugins import load_plugins

    plugins = load_plugins(extra={"exploding": _plugin_with_forward(exc)})
    monkeypatch.setattr("hsframe.plugins.get_plugins", lambda: plugins)
    result = invoke(["run", "--plugin", "exploding", *FAST, "--tracking-uri", store])
    [run] = runs_of(store)
    assert result.exit_code == code
    assert words.format(id=run.info.run_id) in " ".join(result.stderr.split()), result.stderr
