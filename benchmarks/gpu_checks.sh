#!/usr/bin/env bash
# Every GPU measurement of issue 8 in one command, for a session that has a GPU (imports no Qt):
#   ViT-B/16 @224, bf16 autocast, batch 256: ours vs timm (train + inference), MFU against the measured
#   bf16 matmul peak, peak memory; eager, then torch.compile; then the MAE pretraining step speed-up.
# Run from anywhere:   bash benchmarks/gpu_checks.sh          (PYTHON=... to pick the interpreter)
# Logs go to $OUT (set on the lent machine) or benchmarks/gpu_logs/; paste them into benchmarks/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python}
LOGS=${OUT:-benchmarks/gpu_logs}
mkdir -p "$LOGS"

run() {  # run NAME ARGS...: print, run and log one measurement
    local name=$1; shift
    echo "== $name: $*" | tee "$LOGS/$name.txt"
    "$PY" "$@" 2>&1 | tee -a "$LOGS/$name.txt"
}

{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; uptime; } | tee "$LOGS/machine.txt"
"$PY" -c "import torch, timm; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'timm', timm.__version__)" | tee -a "$LOGS/machine.txt"

B16="--models vit_base_patch16_224 --batch 256 --device cuda"
run vit_b16_eager   benchmarks/throughput.py $B16 --reps 10 --steps 10 --warmup 5
run vit_b16_compile benchmarks/throughput.py $B16 --reps 10 --steps 10 --warmup 5 --compile
