#!/usr/bin/env bash
# Runs the OptGen ILGPU benchmark and PyTorch's fused Adam on this machine's GPU, then prints the comparison.
# Run from the published folder (docs/gpu-benchmark.md):  ./run.sh [sizes, default 16M,256M]
set -euo pipefail
cd "$(dirname "$0")"
sizes="${1:-16M,256M}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
status=0
# --check compares the device backend with the CPU engine first; a failure (exit 5) skips OptGen's timings.
./OptGen.Bench.Gpu --device cuda --sizes "$sizes" --tensors 200 --json optgen-gpu.json --check || status=$?
python3 torch_adam.py --sizes "$sizes" --tensors 200 --json torch-adam.json || status=$?
echo
if [ -f optgen-gpu.json ] && [ -f torch-adam.json ]; then
  python3 torch_adam.py --compare optgen-gpu.json torch-adam.json
fi
exit "$status"
