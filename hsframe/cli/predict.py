"""`hsframe predict`: a logged run's model applied to a whole scene (the one meaning of "predict")."""
from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from hsframe.cli.common import Command, plugins_reporting_problems
from hsframe.output_paths import check_output


@click.command(cls=Command)
@click.option("--run", "run_id", required=True, help="MLflow run id of a finished `hsframe run`.")
@click.option("--dataset", "-d", required=True, help="Registered dataset name, or a cube file.")
@click.option("--labels", type=click.Path(dir_okay=False), help="Label-map file to show beside the prediction.")
@click.option("--out", "out_dir", type=click.Path(), metavar="DIR", help="Output folder. Default: predictions/<run id>/<dataset>.")
@click.option("--log", "log_to_run", is_flag=True, help="Also log the map to the run's artifacts (predictions/<dataset>/).")
@click.option("--tracking-uri", help="MLflow tracking store; default from mlflow.yml or MLFLOW_TRACKING_URI.")
def predict(run_id, dataset, labels, out_dir, log_to_run, tracking_uri) -> None:
    """Classify every pixel of a scene with a logged run's model: PNG map with legend and .npy array."""
    from hsframe.predict import predict_run
    from hsframe.tracking import load_settings

    console = Console()
    out_dir = out_dir or str(Path("predictions") / run_id / Path(dataset).name)
    check_output("--out", out_dir, folder=True)
    result = predict_run(run_id, dataset, labels, out_dir, plugins_reporting_problems(), load_settings(uri=tracking_uri),
                         console, log_to_run)
    console.print(f"Predicted {result.dataset} with run {result.run_id} ({result.how}); pixels per class: {result.counts}", highlight=False)
    for f in result.files:
        console.print(f"wrote {f}", highlight=False)
    if log_to_run:
        console.print(f"logged to run {result.run_id} under predictions/{result.dataset}/", highlight=False)
