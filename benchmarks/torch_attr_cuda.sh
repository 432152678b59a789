#!/usr/bin/env bash
# The torch attribution benchmark on a CUDA GPU (same models, batches and references).
# Run from the repository root on a machine with a GPU, torch (CUDA build), captum and zennit:
#   bash benchmarks/torch_attr_cuda.sh
# zennit: `pip install zennit --no-deps` suffices when torchvision is absent.
set -euo pipefail
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device')"
PYTHONPATH="${PYTHONPATH:-}:$(pwd)/src" python benchmarks/torch_attr.py --device cuda --threads 0 --repeats "${REPEATS:-10}"
