#!/usr/bin/env bash
# The GPU check: run once on a CUDA machine, in the repository root; about 7 minutes.
#   1. the CUDA tests (tests/test_gpu_path.py; they skip without a GPU),
#   2. benchmarks/throughput.py at 64x64 and 128x128 (reference loop vs ours in fp32, bf16, bf16 without
#      the CUDA graph, fp16; the GPU's busy share from the profiler),
#   3. a 2-minute 64x64 training on procedural rooms (the recipe of docs/performance.md), stopped by
#      SIGINT as a user's Ctrl-C would, then a 64-sample grid from its latest.pt,
# and prints one summary. Needs torch with CUDA, pytest, and the toolkit's other dependencies; the
# package is used from src/ (no install). Results go to $OUT (default /tmp/gpu_check).
#
#     bash benchmarks/gpu_check.sh            # PYTHON=... to choose the interpreter
#     ROUNDS=1 TRAIN_SECONDS=20 bash benchmarks/gpu_check.sh   # a one-minute smoke run of the same steps
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/gpu_check}
ROUNDS=${ROUNDS:-3}
TRAIN_SECONDS=${TRAIN_SECONDS:-120}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
start=$(date +%s)
say() { echo "== $(( $(date +%s) - start ))s: $*"; }

say "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0), 'bf16', torch.cuda.is_bf16_supported())" || exit 1
git rev-parse --short HEAD 2>/dev/null || true

say "CUDA tests"
timeout 240 "$PY" -m pytest -q -p no:cacheprovider tests/test_gpu_path.py 2>&1 | tee "$OUT/tests.txt"
tests_rc=${PIPESTATUS[0]}

for size in 64 128; do
  say "throughput ${size}x${size}"
  timeout 150 "$PY" benchmarks/throughput.py --device cuda --size "$size" --batch 128 --width 64 --rounds "$ROUNDS" \
      --steps $(( size == 64 ? 200 : 100 )) --warmup 20 --export 256 --json "$OUT/throughput_$size.json" 2>&1 | tee "$OUT/throughput_$size.txt"
done

say "${TRAIN_SECONDS}-second 64x64 training on rooms"
rm -rf /tmp/gpu_check_runs
timeout -s INT "$TRAIN_SECONDS" "$PY" -m dcgan.cli train --data rooms --image-size 64 --batch-size 128 --epochs 1000 --sample-every 10 \
    --snapshot-every 1000 --log-every 100 --out /tmp/gpu_check_runs --name gpu 2>&1 | tr '\r' '\n' | grep -v '^ *[0-9]*%|' | tail -n 15
run=$(ls -d /tmp/gpu_check_runs/*-gpu 2>/dev/null | tail -n 1)
if [ -n "$run" ]; then
  "$PY" -m dcgan.cli sample "$run" --seeds 0-63 --out /tmp/gpu_check_sample 2>&1 | tail -n 2
  cp /tmp/gpu_check_sample/*.png "$OUT/rooms_64_grid.png" 2>/dev/null
  cp "$run/log.txt" "$OUT/train_log.txt" 2>/dev/null
  cp "$run/metrics.jsonl" "$OUT/train_metrics.jsonl" 2>/dev/null
fi

say "summary"
"$PY" - "$OUT" "$tests_rc" "$TRAIN_SECONDS" <<'EOF'
import json, sys
from pathlib import Path
out, tests_rc, seconds = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
print(f"CUDA tests: {'passed' if tests_rc == 0 else f'FAILED (exit {tests_rc})'}")
for size in (64, 128):
    path = out / f"throughput_{size}.json"
    if not path.exists():
        print(f"{size}x{size}: no throughput result"); continue
    c = json.loads(path.read_text())["comparison"]
    busy = c.get("gpu_busy_share", {})
    parts = [f"reference {c['reference_images_per_sec']:.0f} img/s (busy {busy.get('reference', float('nan')):.0%})"]
    for name, value in c.items():
        if isinstance(value, dict) and "images_per_sec" in value:
            parts.append(f"{name} {value['images_per_sec']:.0f} img/s = {value['median_ratio']:.2f}x (busy {busy.get(name, float('nan')):.0%})")
    print(f"{size}x{size} batch 128: " + "; ".join(parts))
metrics = out / "train_metrics.jsonl"
if metrics.exists():
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    rates = [r["images_per_sec"] for r in rows if "images_per_sec" in r]
    last = [r for r in rows if "loss_d" in r][-1] if rows else {}
    print(f"training: {last.get('epoch', '?')} epochs ({rows[-1].get('step', '?') if rows else '?'} steps) within the {seconds} s budget (data rendering included), "
          f"median {sorted(rates)[len(rates) // 2] if rates else float('nan'):.0f} img/s; last D(x) {last.get('d_real', '?')}, D(G(z)) {last.get('d_fake', '?')}")
print("grid:", out / "rooms_64_grid.png" if (out / "rooms_64_grid.png").exists() else "none")
EOF
say "done"
