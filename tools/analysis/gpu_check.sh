#!/usr/bin/env bash
# Measure the 9B recipe's training speed and memory on this machine's GPU(s), with random
# weights of the real shapes (nothing downloaded), under the three engines docs/training.md
# recommends, and write the results:
#   bash tools/analysis/gpu_check.sh [OUT_DIR]      (default work_dirs/gpu_check)
# Runs, each limited to 200 s (10 min in all at most; about 4-6 min expected on one
# 80-141 GB GPU; needs >= 40 GB, the model is built in fp32 on the GPU first):
#   1. ddp_bf16_ckpt  configs/mmgpt_joint.py   --amp + model.gradient_checkpointing=True
#   2. zero2          configs/mmgpt_joint_zero2.py (DeepSpeed ZeRO-2, bf16)
#   3. fsdp           configs/mmgpt_joint_fsdp.py  (FSDP, frozen bf16, bf16 autocast)
# each on all visible GPUs (NGPUS, default: all) with torchrun, 2 warm-up + STEPS (5)
# iterations of 1 VL + 1 language sequence of 512 tokens per GPU; then the memory
# estimate of the same settings for comparison. OUT_DIR/<run>.json holds each result,
# OUT_DIR/<run>.log its output, OUT_DIR/summary.json all of them. The exit status is 1
# if any run failed (the others still run).
set -uo pipefail
OUT=${1:-work_dirs/gpu_check}
STEPS=${STEPS:-5}
PYTHON=${PYTHON:-python}
NGPUS=${NGPUS:-$("$PYTHON" -c 'import torch; print(torch.cuda.device_count())')}
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
mkdir -p "$OUT"
if [ "${NGPUS:-0}" -lt 1 ]; then
    echo "gpu_check: no CUDA GPU visible; nothing measured" >&2
    exit 2
fi
export TOKENIZERS_PARALLELISM=false PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" -c 'import torch; print("GPU:", torch.cuda.get_device_name(), "x", torch.cuda.device_count())' | tee "$OUT/device.txt"

status=0
bench() {  # name config [benchmark args...]
    local name=$1 config=$2
    shift 2
    echo "== $name: $config $*"
    timeout 200 "$PYTHON" -m torch.distributed.run --nproc_per_node "$NGPUS" \
        --master_port "${PORT:-29531}" tools/analysis/benchmark_train.py "$config" \
        --launcher pytorch --random-init --steps "$STEPS" --warmup 2 \
        --json-out "$OUT/$name.json" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    if [ $rc -ne 0 ]; then
        echo "   FAILED (exit $rc), see $OUT/$name.log"; tail -5 "$OUT/$name.log"; status=1
    else
        "$PYTHON" - "$OUT/$name.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = r['memory']
print(f"   {r['tokens_per_sec']:.0f} tokens/s, {r['samples_per_sec']:.2f} samples/s, "
      f"{r['seconds_per_iter']:.3f} s/iter, MFU {r['mfu'] if r['mfu'] is None else round(r['mfu'], 3)}, "
      f"peak {m['peak_bytes'] / 1e9:.1f} GB allocated / {m['peak_reserved_bytes'] / 1e9:.1f} GB reserved")
PY
    fi
}

bench ddp_bf16_ckpt configs/mmgpt_joint.py --amp --cfg-options model.gradient_checkpointing=True
bench zero2 configs/mmgpt_joint_zero2.py
bench fsdp configs/mmgpt_joint_fsdp.py

"$PYTHON" tools/analysis/memory_estimate.py configs/mmgpt_joint.py --engine ddp --gpus 1 \
    --checkpointing --json-out "$OUT/estimate_ddp_bf16_ckpt.json" | tee "$OUT/estimates.txt"
"$PYTHON" tools/analysis/memory_estimate.py configs/mmgpt_joint.py --engine zero2 \
    --gpus "$NGPUS" --no-checkpointing --json-out "$OUT/estimate_zero2.json" | tee -a "$OUT/estimates.txt"
"$PYTHON" tools/analysis/memory_estimate.py configs/mmgpt_joint.py --engine fsdp \
    --gpus "$NGPUS" --no-checkpointing --json-out "$OUT/estimate_fsdp.json" | tee -a "$OUT/estimates.txt"

"$PYTHON" - "$OUT" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
summary = {os.path.basename(p)[:-5]: json.load(open(p))
           for p in sorted(glob.glob(os.path.join(out, '*.json'))) if not p.endswith('summary.json')}
json.dump(summary, open(os.path.join(out, 'summary.json'), 'w'), indent=2)
print('wrote', os.path.join(out, 'summary.json'))
PY
exit $status
