#!/usr/bin/env bash
# Runs the OptGen ILGPU benchmark and PyTorch's fused Adam on this machine's GPU, then prints the comparison.
# Run from the published folder (docs/gpu-benchmark.md):  ./run.sh [sizes, default 16M,256M]
set -euo pipefail
cd "$(dirname "$0")"
sizes="${1:-16M,256M}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
./OptGen.Bench.Gpu --device cuda --sizes "$sizes" --json optgen-gpu.json
python3 torch_adam.py --sizes "$sizes" --json torch-adam.json
echo
python3 torch_adam.py --compare optgen-gpu.json torch-adam.json
