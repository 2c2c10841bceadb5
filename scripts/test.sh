#!/usr/bin/env bash
# Install everything into .venv and run the whole test suite with strict plugin loading.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet -r requirements/test.txt
# lpips ships the linear weights invprob-plugin-lpips reads; --no-deps: its torchvision pin would replace torch
.venv/bin/python -m pip install --quiet --no-deps "lpips>=0.1.4"
INVPROB_STRICT_PLUGINS=1 .venv/bin/python -m pytest "$@"
