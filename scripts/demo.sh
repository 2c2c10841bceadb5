#!/usr/bin/env bash
# Install invprob with its first-party plugins into .venv and run the demo recipe.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet -r requirements/demo.txt
# lpips ships the LPIPS linear weights; --no-deps because its torchvision pin would replace torch
.venv/bin/python -m pip install --quiet --no-deps "lpips>=0.1.4"
.venv/bin/invprob run recipes/demo.yaml "$@"
