#!/usr/bin/env bash
# Every GPU measurement of issue 8 in one command, for a session that has a GPU (imports no Qt; needs torch
# and timm, which the lent machines' python3 has):
#   1. ViT-B/16 @224, bf16 autocast, batch 256: ours vs timm (train + inference), MFU against the measured
#      bf16 matmul peak, peak memory (eager);
#   2. MAE pretraining step vs supervised step of the same encoder, mask 0.75: ViT-B/16 (FLOPs predict 1.8x
#      with the paper's 8x512 decoder) and ViT-L/16 (FLOPs predict 3.0x, the paper's setting);
#   3. an image folder of 50,000 small PNGs: our resident pipeline against timm's create_loader (issue 16, item 5:
#      target ours/timm >= 1.2 images/s), vit_micro_patch4_32, batch 128: each at its tool's default precision
#      (ours bf16, timm's train.py fp32), then like against like (both bf16);
#   4. 1. again under torch.compile (last: compiling takes minutes).
# About 6-8 minutes on an H100. Run from anywhere:   bash benchmarks/gpu_checks.sh   (PYTHON=... to pick python)
# Logs go to $OUT (set on the lent machine) or benchmarks/gpu_logs/; copy the tables into benchmarks/RESULTS.md
# with the card's name from machine.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
LOGS=${OUT:-benchmarks/gpu_logs}
mkdir -p "$LOGS"

run() {  # run NAME ARGS...: print, run and log one measurement; a failure is logged and the next one runs
    local name=$1; shift
    echo "== $name: $PY $*" | tee "$LOGS/$name.txt"
    "$PY" "$@" 2>&1 | tee -a "$LOGS/$name.txt" || echo "== $name FAILED" | tee -a "$LOGS/$name.txt"
}

{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; uptime; } | tee "$LOGS/machine.txt"
"$PY" -c "import torch, timm; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'timm', timm.__version__)" \
    | tee -a "$LOGS/machine.txt"

run vit_b16_eager   benchmarks/throughput.py --device cuda --models vit_base_patch16_224 --batch 256 --reps 10 --steps 10 --warmup 5
run mae_b16         benchmarks/throughput.py --device cuda --models '' --mae mae_vit_base_patch16 --batch 256 --reps 7 --steps 5 --warmup 3
run mae_l16         benchmarks/throughput.py --device cuda --models '' --mae mae_vit_large_patch16 --batch 128 --reps 5 --steps 5 --warmup 3
run folder_speed    benchmarks/folder_speed.py --device cuda --images 50000 --batch 128 --reps 7 --steps 50 --warmup 20
run folder_bf16     benchmarks/folder_speed.py --device cuda --images 50000 --batch 128 --reps 7 --steps 50 --warmup 20 --timm-precision bf16
run vit_b16_compile benchmarks/throughput.py --device cuda --models vit_base_patch16_224 --batch 256 --reps 10 --steps 10 --warmup 5 --compile
