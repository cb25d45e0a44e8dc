"""The model-zoo comparison, in one command: every zoo model x two protocols x seeds, then the table.

    python experiments/zoo/run.py                                   # every model, both protocols (seeds 0,1,2 / 0)
    python experiments/zoo/run.py --models ssftt,hu_cnn1d --protocols embedded --seeds 0 --set train.epochs=2

Each model's recipe is its YAML file beside this script (the model's declared defaults, a per-model
epoch budget, no full-scene map). PROTOCOLS gives the data: the embedded scene, and the real Samson
scene under a spatially disjoint block split. A model whose YAML is here but which is not installed
(e.g. a zoo without the scikit-learn estimators) is reported and skipped. Every (model, protocol) pair
is one `hsframe.run(..., seeds=...)` (a parent MLflow run with a child per seed) in the MLflow
experiment `zoo-comparison`; the script ends by printing the `hsframe compare --markdown` table.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import hsframe
from hsframe.errors import HsframeError

HERE = Path(__file__).resolve().parent
MODELS = ("hu_cnn1d", "hamida_3dcnn", "li_3dcnn", "chen_3dcnn", "he_m3dcnn", "lee_contextual", "luo_hsicnn", "sharma_hscnn",
          "mou_rnn", "spectralformer", "ssftt", "svm_rbf", "random_forest")
# name -> (dataset, overrides, default seeds). Samson (95x95 px): 24x24 px blocks, 30% of each class's
# pixels on the training side, and a 6 px margin dropped around the test pixels: no training patch of up
# to 13x13 px holds a test pixel (leakage 0), and seeds 0, 1 and 2 each keep every class in train,
# validation and test. Samson runs seed 0 by default, to keep the study within the CPU budget.
PROTOCOLS: dict[str, tuple[str, list[str], list[int]]] = {
    "embedded": ("synthetic-pines", [], [0, 1, 2]),
    "samson-blocks": ("samson", ["split.method=blocks", "split.block_size=24", "split.margin=6", "split.train_fraction=0.3"], [0]),
}
EXPERIMENT = "zoo-comparison"


def installed(models: Iterable[str], registered: Iterable[str]) -> tuple[list[str], list[str]]:
    """The requested models split into (installed, not installed), each in the requested order."""
    known = set(registered)
    models = list(models)
    return [m for m in models if m in known], [m for m in models if m not in known]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--protocols", default=",".join(PROTOCOLS), help=f"some of {', '.join(PROTOCOLS)}")
    parser.add_argument("--seeds", default=None, help="seeds for every protocol, e.g. 0,1,2; default: embedded 0,1,2, samson-blocks 0")
    parser.add_argument("--tracking-uri", default=None, help="MLflow store; default from mlflow.yml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra override for every run")
    args = parser.parse_args(argv)
    protocols, models = args.protocols.split(","), args.models.split(",")
    unknown = set(protocols) - set(PROTOCOLS)
    if unknown:
        parser.error(f"unknown protocol(s) {', '.join(sorted(unknown))}; choose from {', '.join(PROTOCOLS)}")
    no_config = [m for m in models if not (HERE / f"{m}.yaml").is_file()]
    if no_config:
        parser.error(f"no config for model(s) {', '.join(no_config)} in {HERE}; choose from {', '.join(MODELS)}")
    seeds = None if args.seeds is None else [int(s) for s in args.seeds.split(",")]
    try:
        models = runnable(models, protocols)
        for protocol in protocols:
            dataset, overrides, default_seeds = PROTOCOLS[protocol]
            for model in models:
                start = time.perf_counter()
                summary = hsframe.run(HERE / f"{model}.yaml", seeds=seeds or default_seeds, tracking_uri=args.tracking_uri,
                                      sets=[f"data.dataset={dataset}", *overrides, *args.set])
                print(f"{model} on {protocol}: test OA {summary.mean['test_oa']:.4f} ± {summary.std['test_oa']:.4f}, "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
        print_table(args.tracking_uri)
    except HsframeError as exc:  # bad input or missing data: one line, exit 2 (as the hsframe CLI)
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


def runnable(models: list[str], protocols: list[str]) -> list[str]:
    """The installed models among ``models``, after checking, before any run, that each protocol's data is there."""
    from hsframe.data.catalog import get_card, is_downloaded, load_cards, missing_files, missing_message
    from hsframe.plugins import get_plugins

    cards = load_cards()
    for protocol in protocols:
        name = PROTOCOLS[protocol][0]
        if name in cards and not is_downloaded(cards[name]):
            card = get_card(name, cards)
            raise HsframeError(f"protocol {protocol}: {missing_message(card, missing_files(card))}")
    run, skipped = installed(models, get_plugins().models)
    for model in skipped:
        print(f"{model}: not installed, skipped (`hsframe plugins` lists the installed models)", flush=True)
    if not run:
        raise HsframeError(f"none of the models {', '.join(models)} is installed; `hsframe plugins` lists the installed models")
    return run


def print_table(tracking_uri: str | None) -> None:
    from hsframe.compare import compare_runs, to_markdown
    from hsframe.tracking import load_settings

    print(to_markdown(compare_runs(load_settings(uri=tracking_uri).tracking_uri, EXPERIMENT)), end="")


if __name__ == "__main__":
    main()
