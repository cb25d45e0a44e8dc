"""The temporal comparison, in one command: five convolution families x datasets x seeds, then the table.

    python experiments/temporal/run.py                      # every model, every protocol, seeds 0,1,2
    python experiments/temporal/run.py --protocols synthetic-sequences --seeds 0 --set train.epochs=2

Each model's recipe is its YAML file beside this script. Each dataset brings its own protocol
(windows, stride, split) as dataset defaults (see `hsframe datasets info NAME`); PROTOCOLS adds a
spatially disjoint split of the real series. Every (model, protocol) pair is one `hsframe run
--seeds` (a parent MLflow run with a child per seed) in the MLflow experiment
`temporal-comparison`; the script ends by printing `hsframe compare --markdown`.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

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


def hsframe(*args: str) -> None:
    cmd = [sys.executable, "-m", "hsframe", *args]
    print("$", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--protocols", default=",".join(PROTOCOLS), help=f"some of {', '.join(PROTOCOLS)}")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--tracking-uri", default=None, help="MLflow store; default from mlflow.yml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra override for every run")
    args = parser.parse_args()
    store = ["--tracking-uri", args.tracking_uri] if args.tracking_uri else []
    extra = [a for s in args.set for a in ("--set", s)]
    unknown = set(args.protocols.split(",")) - set(PROTOCOLS)
    if unknown:
        parser.error(f"unknown protocol(s) {', '.join(sorted(unknown))}; choose from {', '.join(PROTOCOLS)}")
    for protocol in args.protocols.split(","):
        dataset, overrides = PROTOCOLS[protocol]
        for model in args.models.split(","):
            start = time.perf_counter()
            hsframe("run", "--config", str(HERE / f"{model}.yaml"), "--dataset", dataset, "--seeds", args.seeds,
                    *[a for s in overrides for a in ("--set", s)], *extra, *store)
            print(f"{model} on {protocol}: {time.perf_counter() - start:.0f} s", flush=True)
    hsframe("compare", "--experiment", EXPERIMENT, "--markdown", *store)


if __name__ == "__main__":
    main()
