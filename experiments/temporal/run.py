"""The temporal comparison, in one command: five convolution families x datasets x seeds, then the table.

    python experiments/temporal/run.py                      # every model, every protocol, seeds 0,1,2
    python experiments/temporal/run.py --protocols synthetic-sequences --seeds 0 --set train.epochs=2

Each model's recipe is its YAML file beside this script. Each dataset brings its own protocol
(windows, stride, split) as dataset defaults (see `hsframe datasets info NAME`); PROTOCOLS adds a
spatially disjoint split of the real series. Every (model, protocol) pair is one `hsframe.run(...,
seeds=...)` (a parent MLflow run with a child per seed) in the MLflow experiment
`temporal-comparison`; the script ends by printing the `hsframe compare --markdown` table.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import hsframe
from hsframe.errors import HsframeError

HERE = Path(__file__).resolve().parent
MODELS = ("td_conv2d", "conv3d_133", "r2plus1d", "orthoplane", "conv3d")
# name -> (dataset, overrides). The real series twice: its default stratified pixel split, whose
# test pixels sit inside training windows, and 10x10 px blocks with a 4 px margin (no leakage).
PROTOCOLS: dict[str, tuple[str, list[str]]] = {
    "synthetic-sequences": ("synthetic-sequences", []),
    "eolearn-ndvi": ("eolearn-ndvi", []),
    "eolearn-ndvi-blocks": ("eolearn-ndvi", ["split.method=blocks", "split.block_size=10", "split.train_fraction=0.3"]),
}
EXPERIMENT = "temporal-comparison"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--protocols", default=",".join(PROTOCOLS), help=f"some of {', '.join(PROTOCOLS)}")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--tracking-uri", default=None, help="MLflow store; default from mlflow.yml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra override for every run")
    args = parser.parse_args()
    unknown = set(args.protocols.split(",")) - set(PROTOCOLS)
    if unknown:
        parser.error(f"unknown protocol(s) {', '.join(sorted(unknown))}; choose from {', '.join(PROTOCOLS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    try:
        for protocol in args.protocols.split(","):
            dataset, overrides = PROTOCOLS[protocol]
            for model in args.models.split(","):
                start = time.perf_counter()
                summary = hsframe.run(HERE / f"{model}.yaml", seeds=seeds, tracking_uri=args.tracking_uri,
                                      sets=[f"data.dataset={dataset}", *overrides, *args.set])
                print(f"{model} on {protocol}: test OA {summary.mean['test_oa']:.4f} ± {summary.std['test_oa']:.4f}, "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
        print_table(args.tracking_uri)
    except HsframeError as exc:
        sys.exit(f"error: {exc}")


def print_table(tracking_uri: str | None) -> None:
    from hsframe.compare import compare_runs, to_markdown
    from hsframe.tracking import load_settings

    print(to_markdown(compare_runs(load_settings(uri=tracking_uri).tracking_uri, EXPERIMENT)), end="")


if __name__ == "__main__":
    main()
