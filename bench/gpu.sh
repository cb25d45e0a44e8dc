#!/usr/bin/env bash
# One GPU check, one table (issue #12): meant for one H200 in under 8 minutes; runs on the CPU too (smaller).
#
#   bash bench/gpu.sh                 # the device hsframe picks (cuda when there is one)
#   EPOCHS=2 SAMPLES=1024 bash bench/gpu.sh    # the CPU path: the same steps, shorter
#
# 1. The paper recipe end to end: `hsframe run --preset paper` (HybridSN, 25x25x30, 30% of the
#    Indian Pines-sized embedded scene, 100 epochs, batch 256), wall seconds of the whole command.
# 2. Training samples/s with bf16 autocast and torch.compile each on and off (bench/train_modes.py).
# 3. bench/throughput.py on the device: training against the common recipe, full-scene pixels/s (scene_forward
#    against patch by patch), and its split, which times channels-last-3d against contiguous (issue #12 asks for it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python
EPOCHS=${EPOCHS:-100}
SAMPLES=${SAMPLES:-6307}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

"$PY" - <<'PY'
import torch
print("device:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu", "| torch", torch.__version__)
PY

start=$(date +%s.%N)
"$PY" -m hsframe run --model hybridsn --preset paper --set train.epochs="$EPOCHS" --set train.checkpoint_dir=null \
    --tracking-uri "sqlite:///$OUT/mlflow.db" --summary-json "$OUT/summary.json" > "$OUT/run.log" 2>&1 \
    || { tail -20 "$OUT/run.log"; exit 1; }
end=$(date +%s.%N)
"$PY" - "$OUT/summary.json" "$start" "$end" "$EPOCHS" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
wall = float(sys.argv[3]) - float(sys.argv[2])
m = s["metrics"]
print(f"\n1. paper recipe, {sys.argv[4]} epochs: {wall:.1f} s wall (whole command), test OA {m['test_oa']:.4f}, kappa {m['test_kappa']:.4f}")
PY
echo
echo "2. training samples/s (HybridSN 25x25x30, batch 256, $SAMPLES samples per timed epoch)"
"$PY" bench/train_modes.py --samples "$SAMPLES"
echo
echo "3. hsframe against the common recipe: training samples/s, full-scene pixels/s, the data/model split, channels-last-3d"
"$PY" bench/throughput.py --models hybridsn,conv3d --batches 20 --repeats 3
