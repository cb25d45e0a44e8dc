"""Is synthetic-pines solvable pixel by pixel? Spectral-only baselines beside HybridSN, same split.

    .venv/bin/python bench/spectral_baseline.py [--seed 0]

Prints the test OA of logistic regression on single-pixel spectra (raw bands and PCA features
fitted on training pixels) next to HybridSN trained by `hsframe run` with its defaults, all on
the split that `hsframe run` uses. Needs scikit-learn (installed by `make test`).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from hsframe.cli import cli
from hsframe.data.preprocess import fit_preprocessor
from hsframe.data.split import stratified_split
from hsframe.data.synthetic import synthetic_pines


def logistic_oa(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    scaler = StandardScaler().fit(train_x)
    clf = LogisticRegression(max_iter=2000).fit(scaler.transform(train_x), train_y)
    return float((clf.predict(scaler.transform(test_x)) == test_y).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    scene = synthetic_pines()
    split = stratified_split(scene.labels, scene.class_names, args.seed, train_fraction=0.1, val_fraction=0.1)
    pixels = scene.cube.reshape(-1, scene.shape[2])
    y = scene.labels.reshape(-1)
    fit = np.concatenate([split.train, split.val])  # a baseline without early stopping may use both
    rows = []
    rows.append(("logistic regression, 200 raw bands, single pixel", logistic_oa(pixels[fit], y[fit], pixels[split.test], y[split.test])))
    pre = fit_preprocessor(pixels[split.train], 15)
    feats = pre.transform(scene.cube).reshape(15, -1).T.numpy()
    rows.append(("logistic regression, 15 PCA comps, single pixel", logistic_oa(feats[fit], y[fit], feats[split.test], y[split.test])))

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "summary.json"
        t0 = time.perf_counter()
        result = CliRunner().invoke(cli, ["run", "--model", "hybridsn", "--seed", str(args.seed),
                                          "--tracking-uri", f"sqlite:///{tmp}/mlflow.db", "--summary-json", str(out)])
        if result.exit_code != 0:
            raise SystemExit(result.output)
        summary = json.loads(out.read_text())
        rows.append((f"HybridSN, hsframe run defaults ({time.perf_counter() - t0:.0f} s wall)", summary["metrics"]["test_oa"]))

    print(f"synthetic-pines, seed {args.seed}: train {len(split.train)} + val {len(split.val)}, test {len(split.test)} pixels")
    width = max(len(name) for name, _ in rows)
    for name, oa in rows:
        print(f"  {name:<{width}}  test OA {oa:.4f}")


if __name__ == "__main__":
    main()
