"""`hsframe predict`: a logged run's model applied to a whole scene (the one meaning of "predict")."""
from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from hsframe.cli.common import Command, plugins_reporting_problems
from hsframe.map_files import MAP_FORMATS


@click.command(cls=Command)
@click.option("--run", "run_id", required=True, help="MLflow run id of a finished `hsframe run`.")
@click.option("--dataset", "-d", required=True, help="Registered dataset name, or a cube file.")
@click.option("--labels", type=click.Path(dir_okay=False), help="Label-map file to show beside the prediction.")
@click.option("--out", "out", type=click.Path(), metavar="DIR|FILE",
              help="Output folder (PNG map with legend + .npy), or a map file: map.tif (GeoTIFF) or map.hdr/map.img (ENVI "
                   "classification), at the scene's transform and CRS. Default: predictions/<run id>/<dataset>.")
@click.option("--format", "fmt", type=click.Choice(sorted(MAP_FORMATS)),
              help="Also write a georeferenced classification_map file of this type into the --out folder.")
@click.option("--probabilities", is_flag=True,
              help="Also write each class's softmax probability as float32 bands, in <map>_probabilities beside the map file.")
@click.option("--log", "log_to_run", is_flag=True, help="Also log the map to the run's artifacts (predictions/<dataset>/).")
@click.option("--tracking-uri", help="MLflow tracking store; default from mlflow.yml or MLFLOW_TRACKING_URI.")
def predict(run_id, dataset, labels, out, fmt, probabilities, log_to_run, tracking_uri) -> None:
    """Classify every pixel of a scene with a logged run's model: PNG map and .npy array, and/or a GeoTIFF / ENVI map."""
    from hsframe.predict import MapTarget, predict_run
    from hsframe.tracking import load_settings

    console = Console()
    target = MapTarget.from_options(out, fmt, probabilities, Path("predictions") / run_id / Path(dataset).name)
    target.check()
    result = predict_run(run_id, dataset, labels, target, plugins_reporting_problems(), load_settings(uri=tracking_uri),
                         console, log_to_run)
    console.print(f"Predicted {result.dataset} with run {result.run_id} ({result.how}); pixels per class: {result.counts}", highlight=False)
    for f in result.files:
        console.print(f"wrote {f}", highlight=False)
    if log_to_run:
        console.print(f"logged to run {result.run_id} under predictions/{result.dataset}/", highlight=False)
