#!/usr/bin/env bash
# Install invprob with its first-party plugins into .venv and run the demo recipe.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet -r requirements/demo.txt
.venv/bin/invprob run recipes/demo.yaml "$@"
